/**
 * What channels, topics, streams and agents need from their app, as an
 * interface so that those layers do not import the app (imports point down).
 *
 * @module
 */
import type { InFlight } from "../producer/inflight.ts";
import type { Logger } from "@logtape/logtape";
import type { Settings } from "../settings/settings.ts";
import type { RecordMetadata, TopicSpec } from "../transport/transport.ts";
import type { ProduceRecord } from "../transport/transport.ts";
import type { Topic, TopicOptions } from "../topic.ts";
import type { Monitor } from "../sensors/monitor.ts";
import type { AgentHost } from "../agent/host.ts";
import type { SendBinding, SendCounter } from "../producer/producer.ts";

/**
 * The app as seen from below: the runtime (`runtime/runtime.ts`) implements
 * it for the app.
 */
export interface AppHost extends AgentHost {
  /** Resolved settings. */
  readonly conf: Settings;
  /** Logger for the `faust` category. */
  readonly log: Logger;
  /** Counters. */
  readonly monitor: Monitor;
  /**
   * Append an encoded record (batched by the producer), to the target
   * `binding` names when given (else where the router sends records now).
   * `counter` is ended once the record was acknowledged or failed.
   */
  produce(
    record: ProduceRecord,
    binding?: SendBinding,
    counter?: SendCounter,
  ): Promise<RecordMetadata>;
  /**
   * Bind a send to where records of the caller go now (exactly-once: the
   * transaction of the current event). Call synchronously when the send is
   * called; release the binding once the record was handed to `produce`.
   */
  bindSend(): SendBinding;
  /** Topic sends in progress (from the call until acknowledged or failed). */
  readonly sends: InFlight;
  /** Partition count of a topic, creating it when the app declares it. */
  partitionsOf(topic: string): Promise<number>;
  /** Partition count of a topic if already known (no I/O), else `undefined`. */
  knownPartitions(topic: string): number | undefined;
  /** Declare a topic with the broker now if the app is running (else at start). */
  declare(spec: TopicSpec): Promise<void>;
  /** A topic has a new subscribed stream: consume it. */
  subscribed(topic: Topic<unknown, unknown>): void;
  /** Create a topic description (used by `groupBy` for repartition topics). */
  makeTopic<K, V>(name: string, options: TopicOptions): Topic<K, V>;
  /** Whether the app is running (started and not stopping). */
  readonly running: boolean;
}
