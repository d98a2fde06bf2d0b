/**
 * The transport interface: what the stream layer needs from a message broker.
 * Drivers (`memory://`, `local://`, `kafka://`) implement it; nothing above
 * this layer knows which one is in use.
 *
 * Offsets follow Kafka's conventions: a record's offset is its position in
 * its partition, a partition's high-water mark is the offset the next record
 * will get, and a committed offset is the offset of the next record to read.
 *
 * @module
 */
import type { TP } from "../util/types.ts";
import type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  TransportRecord,
} from "./records.ts";
import type { Consumer, ConsumerOptions } from "./consumer_api.ts";

export type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  TransportRecord,
} from "./records.ts";
export type {
  Consumer,
  ConsumerOptions,
  GroupMember,
  RebalanceListener,
} from "./consumer_api.ts";

/**
 * Transactions, for `processingGuarantee: "exactly_once"` (`kafka://`, `local://`).
 *
 * @example Sending records atomically
 * ```ts
 * import type { ProduceRecord, TransactionalProducer } from "@faust/faust";
 *
 * // Append `records` all or none (exactly-once drivers: kafka://, local://).
 * async function sendAll(
 *   producer: TransactionalProducer,
 *   records: readonly ProduceRecord[],
 * ): Promise<void> {
 *   await producer.begin();
 *   try {
 *     await producer.send(records);
 *     await producer.commit();
 *   } catch (error) {
 *     await producer.abort();
 *     throw error;
 *   }
 * }
 * console.log(typeof sendAll);
 * ```
 */
export interface TransactionalProducer {
  /** Start a transaction. */
  begin(): Promise<void>;
  /**
   * Append within the transaction. Drivers that place records only at the
   * commit (`local://`) resolve with offset -1 and set the offsets of these
   * same metadata objects when the transaction commits.
   */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]>;
  /** Commit consumer offsets within the transaction. */
  sendOffsets(groupId: string, offsets: readonly CommitOffset[]): Promise<void>;
  /** Commit the transaction. */
  commit(): Promise<void>;
  /** Abort the transaction. */
  abort(): Promise<void>;
  /** Disconnect; an open transaction is aborted first. Idempotent. */
  close(): Promise<void>;
  /** What the producer is doing now, for a stall report (one line). */
  describe?(): string;
}

/**
 * A message broker driver.
 *
 * @example The app's broker
 * ```ts
 * import type { Transport } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("transport");
 * app.topic("orders", { partitions: 2 });
 * await app.start();
 * try {
 *   const transport: Transport = app.transport;
 *   assert.equal(transport.driver, "memory");
 *   assert.equal(await transport.partitionCount("orders"), 2);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export interface Transport {
  /** Driver name, e.g. `"memory"`. */
  readonly driver: string;
  /** The URL it was created from. */
  readonly url: string;
  /**
   * Records waiting for the broker's acknowledgement beyond which more gain
   * this driver no throughput (they only wait in memory); absent: no bound
   * of the driver's own. Delivery to agents that send without awaiting
   * pauses at the smaller of this and max(1000, 4 x `streamBufferMaxsize`)
   * records in flight.
   */
  readonly sendWindow?: number;
  /** Connect or open files. */
  start(): Promise<void>;
  /** Flush, disconnect, close files, release locks. Idempotent. */
  stop(): Promise<void>;
  /**
   * Create a topic if missing. An existing topic with another partition
   * count is a `ConfigError` naming both counts.
   */
  createTopic(spec: TopicSpec): Promise<void>;
  /** Partition count of a topic, or `undefined` when it does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  /** Delete a topic (used for reply topics). Missing topics are ignored. */
  deleteTopic(topic: string): Promise<void>;
  /**
   * Append records; resolves once the broker acknowledged them. A topic that
   * does not exist is created with `defaultPartitions` (as Kafka's
   * auto-create does).
   */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]>;
  /** Offset the next record of the partition will get. */
  highWatermark(tp: TP): Promise<number>;
  /** Oldest offset still present in the partition. */
  lowWatermark(tp: TP): Promise<number>;
  /**
   * Read up to `maxRecords` records of one partition from `offset`, outside
   * any group (changelog recovery and standbys). Skips gaps. Resolves with
   * an empty list at the end of the partition.
   */
  read(tp: TP, offset: number, maxRecords: number): Promise<TransportRecord[]>;
  /** Create the group consumer. */
  createConsumer(options: ConsumerOptions): Consumer;
  /** A transactional producer, when the driver supports transactions. */
  createTransactionalProducer?(
    transactionalId: string,
  ): Promise<TransactionalProducer>;
}

/**
 * Options every driver factory receives.
 *
 * @example Creating a driver by hand
 * ```ts
 * import type { TransportOptions } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const options: TransportOptions = {
 *   defaultPartitions: 4,
 *   datadir: "data",
 *   clientId: "example",
 * };
 * const transport = new MemoryTransport("memory://", options);
 * await transport.start();
 * try {
 *   await transport.send([{ topic: "new", partition: 0, key: null, value: null }]);
 *   assert.equal(await transport.partitionCount("new"), 4);
 * } finally {
 *   await transport.stop();
 * }
 * ```
 */
export interface TransportOptions {
  /** Partitions for auto-created topics. */
  readonly defaultPartitions: number;
  /** Data directory of the app (for `local://` without a path). */
  readonly datadir: string;
  /** Client id. */
  readonly clientId: string;
  /** Extra driver settings (Kafka: acks, linger, credentials...). */
  readonly extra?: Readonly<Record<string, unknown>>;
}
