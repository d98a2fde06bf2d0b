/**
 * Faust for Deno: stream processing in TypeScript. Agents iterate over
 * streams of events from topics, keep state in tables that survive
 * restarts, and serve web pages, timers and CLI commands, all from one
 * {@linkcode App}.
 *
 * @example An agent that doubles numbers
 * ```ts
 * import { App } from "@faust/faust";
 *
 * const app = new App("doubler", { broker: "memory://", store: "memory://" });
 * const double = app.agent(undefined, async function* (stream) {
 *   for await (const n of stream) yield n * 2;
 * }, { name: "double", valueType: "number" });
 *
 * await app.start();
 * console.log(await double.ask({ value: 21 })); // 42
 * await app.stop();
 * ```
 *
 * @module
 */
export { App, type AppOptions } from "./src/app.ts";
export type { AppRegistry } from "./src/app/registry.ts";
export type { TableRegistry } from "./src/app/tables.ts";
export {
  Agent,
  type AgentFn,
  type AgentOptions,
  type AskMessage,
  type Sink,
} from "./src/agent.ts";
export { AgentTestContext } from "./src/testing/agent_test_context.ts";
export {
  Channel,
  type ChannelOptions,
  type SendMessage,
} from "./src/channel.ts";
export { Topic, type TopicOptions } from "./src/topic.ts";
export { type GroupByOptions, Stream } from "./src/stream.ts";
export { Event } from "./src/delivery/event.ts";
export { currentEvent } from "./src/delivery/actor_context.ts";
export { Service, sleep } from "./src/service.ts";
export {
  Supervisor,
  type SupervisorDecision,
  type SupervisorOptions,
  type SupervisorStrategy,
} from "./src/service/supervisor.ts";
export {
  type AsyncHandler,
  AsyncSignal,
  type SyncHandler,
  SyncSignal,
} from "./src/service/signals.ts";
export {
  type LatencyStats,
  Monitor,
  type PartitionStats,
  type Sensor,
} from "./src/sensors/monitor.ts";
export {
  type AnyRecordType,
  type FieldDescriptor,
  type Infer,
  Record,
  type RecordOptions,
  type RecordType,
  type Serde,
  type TypeSpec,
} from "./src/models.ts";
export { type Codec, type CodecRegistry, codecs } from "./src/codecs.ts";
export {
  type BrokerCredentials,
  type LogLevel,
  type Settings,
  type SettingsInput,
  type WebCorsOptions,
} from "./src/settings/settings.ts";
export { type Duration } from "./src/util/duration.ts";
export {
  ClosedError,
  ConfigError,
  DecodeError,
  FaustError,
  KeyError,
  LockError,
  PartitionRevokedError,
  StateError,
  TableKeyError,
} from "./src/errors.ts";
export {
  type HeadersInput,
  type RawHeaders,
  type TP,
} from "./src/util/types.ts";
export type {
  CommandContext,
  CommandOption,
  CommandOptions,
  CommandRegistration,
  PageHandler,
  PageRegistration,
  SettingsDraft,
  TableLike,
  View,
} from "./src/app/registrations.ts";
export type {
  CommitOffset,
  Consumer,
  ConsumerOptions,
  GroupMember,
  ProduceRecord,
  RebalanceListener,
  RecordMetadata,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportOptions,
  TransportRecord,
} from "./src/transport/transport.ts";
export type { GroupRouting, MemberRoute } from "./src/rpc/routing.ts";
export type { TableRouteOptions } from "./src/web/table_route.ts";
export { type Job, type TimerOptions } from "./src/service/timer.ts";
export { VERSION } from "./src/util/version.ts";
export {
  type ChangelogEvent,
  Collection,
  Table,
  type TableOptions,
  type TableWindowing,
} from "./src/table/table.ts";
export { GlobalTable } from "./src/table/global_table.ts";
export { SetTable, type SetTableOptions } from "./src/table/set_table.ts";
export {
  WindowedTable,
  type WindowOptions,
  WindowSet,
} from "./src/table/windowed.ts";
export type {
  TableKey,
  TableValue,
  TypedTableOptions,
} from "./src/table/api.ts";
export type { RecoveryProgress, RecoveryStats } from "./src/table/recovery.ts";
export {
  HoppingWindow,
  SlidingWindow,
  TumblingWindow,
  type Window,
  type WindowRange,
} from "./src/table/window.ts";
export type {
  Store,
  StoreBatch,
  StoreOp,
  StoreOptions,
} from "./src/table/store.ts";
export { Worker, type WorkerOptions } from "./src/worker.ts";
