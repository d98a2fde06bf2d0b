/**
 * The two ports of a running app, as everything below the app sees it:
 * {@linkcode RuntimePort} (settings, logging, counters, the transport,
 * sending, partition counts, subscriptions, registration, the crash) and
 * {@linkcode RpcPort} (requests to agents and their replies). The runtime
 * (`runtime.ts`) implements both for one app. Neither names a topic or an
 * agent, so topics, channels, streams, agents, tables and jobs depend on
 * these types and not on each other or on the app. Each layer reads the
 * part it needs (`Pick<RuntimePort, ...>`).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { TableLike } from "../app/registrations.ts";
import type { Event, EventInit, Mutable } from "../delivery/event.ts";
import type { AsyncQueue } from "../delivery/queue.ts";
import type { InFlight } from "../producer/inflight.ts";
import type {
  BatchListener,
  SendBinding,
  SendCounter,
} from "../producer/producer.ts";
import type { Monitor } from "../sensors/monitor.ts";
import type { Settings } from "../settings/settings.ts";
import type {
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  Transport,
  TransportRecord,
} from "../transport/transport.ts";

/** A topic description with subscribed streams, as the consumer reads it. */
export interface SubscribedTopic {
  /** Topic name. */
  readonly name: string;
  /** Declared options the consumer reads (an internal topic is declared when subscribed). */
  readonly options: { readonly internal?: boolean };
  /** The subscribed stream buffers. */
  readonly queues: readonly AsyncQueue<Event<unknown, unknown>>[];
  /** Decode a record into an event's fields. */
  decode(record: TransportRecord): EventInit<unknown, unknown>;
  /**
   * Decode a record into `into` (reused from record to record: an event
   * copies it) and return it.
   */
  decodeInto(
    record: TransportRecord,
    into: Mutable<EventInit<unknown, unknown>>,
  ): EventInit<unknown, unknown>;
  /** The topic as the broker should create it. */
  spec(): TopicSpec;
}

/** Requests to agents and their replies. */
export interface RpcPort {
  /** Send `value` back if `event` is a request (an `ask`). */
  reply(event: Event, value: unknown): Promise<void>;
  /**
   * Send a request through `send` (given the reply headers to add) and wait
   * for the reply, at most `timeout` seconds (the send included). `target`
   * names what is asked, for the log.
   */
  ask(
    target: string,
    send: (headers: Record<string, string>) => Promise<unknown>,
    timeout?: number,
  ): Promise<unknown>;
}

/** The app as seen from below. */
export interface RuntimePort {
  /** Resolved settings. */
  readonly conf: Settings;
  /** Logger for the `faust` category. */
  readonly log: Logger;
  /** Counters and sensors. */
  readonly monitor: Monitor;
  /** The transport (throws before start). */
  readonly transport: Transport;
  /** Topic sends in progress (from the call until acknowledged or failed). */
  readonly sends: InFlight;
  /** Requests to agents and their replies. */
  readonly rpc: RpcPort;
  /** Stop the app because of `error`. */
  crash(error: Error): void;
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
   * Append encoded records of one topic as one producer item with one
   * outcome told to `listener` (see `produce` for `binding` and `counter`).
   */
  produceBatch(
    records: readonly ProduceRecord[],
    binding: SendBinding | undefined,
    counter: SendCounter | undefined,
    listener: BatchListener,
  ): void;
  /**
   * Bind a send to where records of the caller go now (exactly-once: the
   * transaction of the current event). Call synchronously when the send is
   * called; release the binding once the record was handed to `produce`.
   */
  bindSend(): SendBinding;
  /** Partition count of a topic, creating it when the app declares it. */
  partitionsOf(topic: string): Promise<number>;
  /** Partition count of a topic if already known (no I/O), else `undefined`. */
  knownPartitions(topic: string): number | undefined;
  /** A topic has a new subscribed stream: consume it. */
  subscribed(topic: SubscribedTopic): void;
  /** Register a table (its changelog is created and recovered with the app). */
  registerTable(table: TableLike): void;
  /** Whether this worker is the leader. */
  isLeader(): boolean;
}
