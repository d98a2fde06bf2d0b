/**
 * The records a transport reads and writes, the topics it creates and the
 * offsets a group commits: the data half of the transport interface
 * (`transport.ts`).
 *
 * @module
 */
import type { RawHeaders, TP } from "../util/types.ts";

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
 * A record handed to a hook (`onProduceMessage`) may be an object of the
 * library whose fields are getters (a table's changelog record is the
 * table change itself): read its fields by name; a spread (`{ ...record }`)
 * leaves such fields out.
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
