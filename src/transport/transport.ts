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
import type { RawHeaders, TP } from "../types.ts";

/**
 * A record read from a partition.
 *
 * @example Records read outside any group
 * ```ts
 * import type { TransportRecord } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
 * await transport.start();
 * try {
 *   await transport.createTopic({ name: "log", partitions: 1 });
 *   const value = new TextEncoder().encode("hi");
 *   await transport.send([{ topic: "log", partition: 0, key: null, value }]);
 *   const records: TransportRecord[] = await transport.read(
 *     { topic: "log", partition: 0 },
 *     0,
 *     10,
 *   );
 *   assert.equal(records[0]?.offset, 0);
 * } finally {
 *   await transport.stop();
 * }
 * ```
 */
export interface TransportRecord {
  /** Topic the record was read from. */
  readonly topic: string;
  /** Partition the record was read from. */
  readonly partition: number;
  /** Offset of the record in its partition. */
  readonly offset: number;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` (a tombstone). */
  readonly value: Uint8Array | null;
  /** Headers. */
  readonly headers: RawHeaders;
  /** Timestamp in milliseconds since the epoch. */
  readonly timestamp: number;
}

/**
 * A record to append. The partition is always chosen by the caller.
 *
 * @example What every produced record passes
 * ```ts
 * import type { ProduceRecord } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("produce-record");
 * const sizes: number[] = [];
 * app.onProduceMessage.connect((_app, record: ProduceRecord) => {
 *   sizes.push(record.value?.length ?? 0);
 * });
 * ```
 */
export interface ProduceRecord {
  /** Topic to append to. */
  readonly topic: string;
  /** Partition to append to. */
  readonly partition: number;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` (a tombstone). */
  readonly value: Uint8Array | null;
  /** Headers. */
  readonly headers?: RawHeaders;
  /** Timestamp in milliseconds; the driver uses the current time when absent. */
  readonly timestamp?: number;
}

/**
 * Where an appended record landed.
 *
 * @example Where a sent record landed
 * ```ts
 * import type { RecordMetadata } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("metadata");
 * const words = app.topic("words", { valueType: "string" });
 * await app.start();
 * try {
 *   const meta: RecordMetadata = await words.send({ value: "hello" });
 *   assert.equal(meta.topic, "words");
 *   assert.equal(meta.offset, 0);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export interface RecordMetadata {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Offset given to the record. */
  readonly offset: number;
  /** Timestamp in milliseconds. */
  readonly timestamp: number;
}

/**
 * How a topic should be created.
 *
 * @example How a topic is created
 * ```ts
 * import type { TopicSpec } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("spec");
 * const events = app.topic("events", { partitions: 3, retention: "7d" });
 * const spec: TopicSpec = events.spec();
 * assert.equal(spec.partitions, 3);
 * assert.equal(spec.retentionMs, 7 * 24 * 3600 * 1000);
 * ```
 */
export interface TopicSpec {
  /** Topic name. */
  readonly name: string;
  /** Number of partitions. */
  readonly partitions: number;
  /** Replication factor (Kafka only). */
  readonly replicas?: number;
  /** Retention in milliseconds; unset keeps records forever (or the broker default). */
  readonly retentionMs?: number;
  /** Keep only the latest value per key. */
  readonly compacting?: boolean;
  /** Delete old records by retention (with `compacting`: compact and delete). */
  readonly deleting?: boolean;
  /** Extra broker-specific topic configuration. */
  readonly config?: Readonly<Record<string, string>>;
  /** Whether the app owns the topic (internal topics are created with this spec). */
  readonly internal?: boolean;
}

/**
 * An offset to commit: `offset` is the offset of the next record to read.
 *
 * @example Committing what a consumer read
 * ```ts
 * import type { CommitOffset, RebalanceListener } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
 * await transport.start();
 * const listener: RebalanceListener = {
 *   onPartitionsAssigned: async () => {},
 *   onPartitionsRevoked: async () => {},
 * };
 * const consumer = transport.createConsumer({ groupId: "g", listener });
 * try {
 *   await consumer.subscribe(["t"]);
 *   const next: CommitOffset = { topic: "t", partition: 0, offset: 0 };
 *   await consumer.commit([next]);
 *   const committed = await consumer.committed([{ topic: "t", partition: 0 }]);
 *   assert.equal(committed.size, 1);
 * } finally {
 *   await consumer.close();
 *   await transport.stop();
 * }
 * ```
 */
export interface CommitOffset extends TP {
  /** Next offset to read. */
  readonly offset: number;
}

/**
 * Called by a consumer when its partitions change.
 *
 * @example Logging assignments
 * ```ts
 * import type { RebalanceListener, TP } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const held: TP[] = [];
 * const listener: RebalanceListener = {
 *   async onPartitionsAssigned(assigned) {
 *     held.push(...assigned);
 *   },
 *   async onPartitionsRevoked() {},
 * };
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 2 });
 * await transport.start();
 * const consumer = transport.createConsumer({ groupId: "g", listener });
 * try {
 *   await consumer.subscribe(["orders"]);
 *   assert.equal(held.length, 2);
 * } finally {
 *   await consumer.close();
 *   await transport.stop();
 * }
 * ```
 */
export interface RebalanceListener {
  /** Partitions are being taken away; commit and stop their streams before resolving. */
  onPartitionsRevoked(revoked: readonly TP[]): Promise<void>;
  /**
   * Partitions were given. `standbys` are partitions of subscribed topics
   * that another member owns but this member should follow (table standbys);
   * drivers without a group protocol pass an empty list.
   */
  onPartitionsAssigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void>;
}

/**
 * Options for {@linkcode Transport.createConsumer}.
 *
 * @example Reading from the start of a new group
 * ```ts
 * import type { ConsumerOptions } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 *
 * const options: ConsumerOptions = {
 *   groupId: "reports",
 *   autoOffsetReset: "earliest",
 *   listener: {
 *     onPartitionsAssigned: async () => {},
 *     onPartitionsRevoked: async () => {},
 *   },
 * };
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
 * await transport.start();
 * const consumer = transport.createConsumer(options);
 * await consumer.close();
 * await transport.stop();
 * ```
 */
export interface ConsumerOptions {
  /** Consumer group id (the app id). */
  readonly groupId: string;
  /** Receives assignment changes. */
  readonly listener: RebalanceListener;
  /** Where to start when the group has no committed offset. */
  readonly autoOffsetReset?: "earliest" | "latest";
  /** Extra data a group member publishes to the others (e.g. its web URL). */
  readonly memberMetadata?: Readonly<Record<string, string>>;
  /**
   * Called on the member that computed a group assignment (Kafka: the
   * group leader) with every member's metadata and partitions, so the app
   * can publish who owns what (table routing).
   */
  readonly onGroupAssignment?: (members: readonly GroupMember[]) => void;
  /**
   * The group is used once, by this consumer only (an `ask` client's reply
   * group): what the broker keeps for it may be removed when it closes.
   */
  readonly ephemeral?: boolean;
}

/**
 * One member of a group assignment, as {@linkcode ConsumerOptions.onGroupAssignment} sees it.
 *
 * @example Publishing who owns what
 * ```ts
 * import type { ConsumerOptions, GroupMember } from "@faust/faust";
 *
 * const owners = new Map<string, string>();
 * const onGroupAssignment = (members: readonly GroupMember[]) => {
 *   for (const m of members) {
 *     for (const tp of m.active) {
 *       owners.set(`${tp.topic}[${tp.partition}]`, m.meta.web ?? "?");
 *     }
 *   }
 * };
 * const options: Partial<ConsumerOptions> = {
 *   memberMetadata: { web: "http://127.0.0.1:6066" },
 *   onGroupAssignment,
 * };
 * console.log(options.memberMetadata);
 * ```
 */
export interface GroupMember {
  /** What the member published in {@linkcode ConsumerOptions.memberMetadata}. */
  readonly meta: Readonly<Record<string, string>>;
  /** Partitions it owns. */
  readonly active: readonly TP[];
  /** Partitions it follows as standby. */
  readonly standby: readonly TP[];
}

/**
 * A group-managed consumer. One per app.
 *
 * @example Polling a topic
 * ```ts
 * import type { Consumer } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
 * await transport.start();
 * const value = new TextEncoder().encode("hi");
 * await transport.send([{ topic: "t", partition: 0, key: null, value }]);
 * const consumer: Consumer = transport.createConsumer({
 *   groupId: "g",
 *   autoOffsetReset: "earliest",
 *   listener: {
 *     onPartitionsAssigned: async () => {},
 *     onPartitionsRevoked: async () => {},
 *   },
 * });
 * try {
 *   await consumer.subscribe(["t"]);
 *   const records = await consumer.poll(10, 1000);
 *   assert.equal(records.length, 1);
 * } finally {
 *   await consumer.close();
 *   await transport.stop();
 * }
 * ```
 */
export interface Consumer {
  /**
   * Set the full list of topics to consume. Calling it again with another
   * list rebalances: partitions of removed topics are revoked, new ones
   * assigned. The listener is called before this resolves.
   */
  subscribe(topics: readonly string[]): Promise<void>;
  /**
   * Wait for records from assigned, not paused partitions. Resolves with at
   * most `maxRecords` records (in offset order within each partition), or an
   * empty list after `timeoutMs` or when `signal` aborts. Never throws on
   * abort.
   */
  poll(
    maxRecords: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportRecord[]>;
  /** Commit offsets for the group. Only partitions currently assigned may be committed. */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** The group's committed offsets (next offset to read) for these partitions; absent when none. */
  committed(tps: readonly TP[]): Promise<Map<string, number>>;
  /** Move the read position of an assigned partition. */
  seek(tp: TP, offset: number): void;
  /** Stop returning records from these partitions until resumed. */
  pause(tps: readonly TP[]): void;
  /** Resume paused partitions. */
  resume(tps: readonly TP[]): void;
  /** Currently assigned partitions. */
  assignment(): TP[];
  /** Leave the group and release resources. Revokes nothing further. */
  close(): Promise<void>;
}

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
