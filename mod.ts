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
export { Agent, type AgentFn, type AgentOptions, AgentTestContext, type AskMessage, type Sink } from "./src/agent.ts";
export { Channel, type ChannelOptions, type SendMessage } from "./src/channel.ts";
export { Topic, type TopicOptions } from "./src/topic.ts";
export { type GroupByOptions, Stream } from "./src/stream.ts";
export { Event } from "./src/event.ts";
export { currentEvent } from "./src/context.ts";
export { Service, sleep } from "./src/service.ts";
export { type SupervisorStrategy } from "./src/supervisor.ts";
export { AsyncSignal, SyncSignal } from "./src/signals.ts";
export { Monitor, type PartitionStats, type Sensor } from "./src/monitor.ts";
export { type Job, type TimerOptions } from "./src/timer.ts";
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
export { type Codec, codecs } from "./src/codecs.ts";
export { type BrokerCredentials, type Settings, type SettingsInput } from "./src/settings.ts";
export { type Duration } from "./src/duration.ts";
export { ClosedError, ConfigError, DecodeError, FaustError, KeyError, LockError, StateError } from "./src/errors.ts";
export { type HeadersInput, type RawHeaders, type TP } from "./src/types.ts";
export type {
  CommandContext,
  CommandOption,
  CommandOptions,
  PageHandler,
  View,
} from "./src/app_types.ts";
export type { RecordMetadata } from "./src/transport/transport.ts";
export { VERSION } from "./src/version.ts";
