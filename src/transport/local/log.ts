/**
 * Topic logs of the `local://` broker: topic metadata, appends (one LMDB
 * write transaction per `send` call), reads and watermarks.
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import type {
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  TransportRecord,
} from "../transport.ts";
import {
  chunkKey,
  decodeChunk,
  encodeChunks,
  firstOffset,
  setChunkBase,
} from "./codec.ts";
import type { BrokerEnv, TopicMeta } from "./env.ts";

/**
 * Metadata of a topic.
 *
 * @param env Broker environment.
 * @param name Topic name.
 * @returns The stored metadata, or `undefined` when the topic does not exist.
 */
export function getTopic(env: BrokerEnv, name: string): TopicMeta | undefined {
  return env.topics.get(name);
}

function mismatch(name: string, existing: number, wanted: number): ConfigError {
  return new ConfigError(
    `Topic "${name}" already exists with ${existing} partitions, but ${wanted} were declared; ` +
      `declare partitions: ${existing} or delete the topic (local:// cannot change a partition count)`,
  );
}

function validatePartitions(name: string, partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 100_000) {
    throw new ConfigError(
      `Invalid partition count for topic "${name}": ${partitions}; expected an integer from 1 to 100000`,
    );
  }
}

/** Store a new topic; must run inside a write transaction. */
function insertTopic(
  env: BrokerEnv,
  name: string,
  spec: Omit<TopicSpec, "name">,
): TopicMeta {
  validatePartitions(name, spec.partitions);
  const base = env.seq.get("tp") ?? 0;
  const meta: TopicMeta = {
    partitions: spec.partitions,
    base,
    created: Date.now(),
    ...(spec.compacting === undefined ? {} : { compacting: spec.compacting }),
    ...(spec.deleting === undefined ? {} : { deleting: spec.deleting }),
    ...(spec.retentionMs === undefined
      ? {}
      : { retentionMs: spec.retentionMs }),
  };
  env.seq.putSync("tp", base + spec.partitions);
  env.topics.putSync(name, meta);
  return meta;
}

/**
 * Create a topic if missing (Kafka semantics: an existing topic keeps its config).
 *
 * @param env Broker environment.
 * @param spec Topic spec.
 * @throws {ConfigError} When the topic exists with another partition count.
 */
export async function createTopic(
  env: BrokerEnv,
  spec: TopicSpec,
): Promise<void> {
  validatePartitions(spec.name, spec.partitions);
  const existing = getTopic(env, spec.name);
  if (existing !== undefined) {
    if (existing.partitions !== spec.partitions) {
      throw mismatch(spec.name, existing.partitions, spec.partitions);
    }
    return;
  }
  const found = await env.root.transaction(() => {
    const current = getTopic(env, spec.name);
    if (current !== undefined) return current;
    insertTopic(env, spec.name, spec);
    return undefined;
  });
  if (found !== undefined && found.partitions !== spec.partitions) {
    throw mismatch(spec.name, found.partitions, spec.partitions);
  }
}

/**
 * Delete a topic's metadata and records. Missing topics are ignored.
 *
 * @param env Broker environment.
 * @param name Topic name.
 */
export async function deleteTopic(env: BrokerEnv, name: string): Promise<void> {
  const meta = await env.root.transaction(() => {
    const current = getTopic(env, name);
    if (current !== undefined) env.topics.removeSync(name);
    return current;
  });
  if (meta === undefined) return;
  // Ids are never reused, so records left by an interrupted delete are inert.
  for (let p = 0; p < meta.partitions; p++) {
    const tpId = meta.base + p;
    let keys: Uint8Array[];
    do {
      keys = [
        ...env.records.getKeys({
          start: chunkKey(tpId, 0),
          end: chunkKey(tpId + 1, 0),
          limit: 256,
        }),
      ];
      await env.root.transaction(() => {
        for (const key of keys) env.records.removeSync(key);
        if (keys.length < 256) env.marks.removeSync(tpId);
      });
    } while (keys.length === 256);
  }
}

interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly indexes: number[];
  readonly records: ProduceRecord[];
}

function groupByPartition(records: readonly ProduceRecord[]): PartitionBatch[] {
  // Topic -> partition -> batch, without a string key per record.
  const byTopic = new Map<string, Map<number, PartitionBatch>>();
  const out: PartitionBatch[] = [];
  let last: PartitionBatch | undefined;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    let batch = last !== undefined && last.partition === r.partition &&
        last.topic === r.topic
      ? last
      : undefined;
    if (batch === undefined) {
      let partitions = byTopic.get(r.topic);
      if (partitions === undefined) {
        byTopic.set(r.topic, partitions = new Map());
      }
      batch = partitions.get(r.partition);
      if (batch === undefined) {
        batch = {
          topic: r.topic,
          partition: r.partition,
          indexes: [],
          records: [],
        };
        partitions.set(r.partition, batch);
        out.push(batch);
      }
    }
    batch.indexes.push(i);
    batch.records.push(r);
    last = batch;
  }
  return out;
}

/**
 * Append records in one write transaction; unknown topics are created with
 * `defaultPartitions` partitions.
 *
 * @param env Broker environment.
 * @param records Records to append.
 * @param defaultPartitions Partition count for auto-created topics.
 * @param also Further writes of the same transaction, run after the appends
 *   (a local transaction's consumer offsets); it must not throw.
 * @returns Where each record landed, in input order.
 * @throws {ConfigError} When a record names a partition the topic does not have.
 */
export async function append(
  env: BrokerEnv,
  records: readonly ProduceRecord[],
  defaultPartitions: number,
  also?: () => void,
): Promise<RecordMetadata[]> {
  if (records.length === 0 && also === undefined) return [];
  const now = Date.now();
  const timestamps = records.map((r) => r.timestamp ?? now);
  const batches = groupByPartition(records).map((b) => ({
    ...b,
    chunks: encodeChunks(b.records, b.indexes.map((i) => timestamps[i]!)),
  }));
  const out = new Array<RecordMetadata>(records.length);
  await env.root.transaction(() => {
    // Validate everything before the first write: lmdb-js commits what an
    // async transaction callback wrote even when it throws.
    const metas = new Map<string, TopicMeta | undefined>();
    for (const b of batches) {
      if (!metas.has(b.topic)) metas.set(b.topic, getTopic(env, b.topic));
      const partitions = metas.get(b.topic)?.partitions ?? defaultPartitions;
      if (
        !Number.isInteger(b.partition) || b.partition < 0 ||
        b.partition >= partitions
      ) {
        throw new ConfigError(
          `Cannot send to partition ${b.partition} of topic "${b.topic}": ` +
            `the topic has ${partitions} partitions (0 to ${partitions - 1})`,
        );
      }
    }
    for (const [name, meta] of metas) {
      if (meta === undefined) {
        metas.set(
          name,
          insertTopic(env, name, { partitions: defaultPartitions }),
        );
      }
    }
    for (const b of batches) {
      const tpId = metas.get(b.topic)!.base + b.partition;
      let hw = env.marks.get(tpId) ?? 0;
      for (const chunk of b.chunks) {
        setChunkBase(chunk.bytes, hw);
        env.records.putSync(chunkKey(tpId, hw + chunk.lastDelta), chunk.bytes);
        hw += chunk.count;
      }
      const first = hw - b.indexes.length;
      for (let i = 0; i < b.indexes.length; i++) {
        const index = b.indexes[i]!;
        out[index] = {
          topic: b.topic,
          partition: b.partition,
          offset: first + i,
          timestamp: timestamps[index]!,
        };
      }
      env.marks.putSync(tpId, hw);
    }
    also?.();
  });
  if (records.length > 0) env.doorbell.ring();
  return out;
}

/**
 * Read records of one partition from `from` (gaps skipped) into `out`.
 *
 * @param env Broker environment.
 * @param tpId Partition id.
 * @param topic Topic name (copied into the records).
 * @param partition Partition number (copied into the records).
 * @param from First offset wanted.
 * @param max Stop once `out` holds this many records.
 * @param out Receives the records.
 * @returns Offset of the last record added, or -1 when none was.
 */
export function readInto(
  env: BrokerEnv,
  tpId: number,
  topic: string,
  partition: number,
  from: number,
  max: number,
  out: TransportRecord[],
): number {
  let last = -1;
  if (out.length >= max) return last;
  const range = env.records.getRange({
    start: chunkKey(tpId, from),
    end: chunkKey(tpId + 1, 0),
  });
  for (const { value } of range) {
    const l = decodeChunk(value, topic, partition, from, max, out);
    if (l >= 0) last = l;
    if (out.length >= max) break;
  }
  return last;
}

/**
 * Offset the next record of a partition will get.
 *
 * @param env Broker environment.
 * @param tpId Partition id.
 * @returns The high-water mark (0 for an empty partition).
 */
export function highWatermark(env: BrokerEnv, tpId: number): number {
  return env.marks.get(tpId) ?? 0;
}

/**
 * Oldest offset still present (the high-water mark when the partition is empty).
 *
 * @param env Broker environment.
 * @param tpId Partition id.
 * @returns The low watermark.
 */
export function lowWatermark(env: BrokerEnv, tpId: number): number {
  const range = env.records.getRange({
    start: chunkKey(tpId, 0),
    end: chunkKey(tpId + 1, 0),
    limit: 1,
  });
  for (const { value } of range) {
    const first = firstOffset(value);
    if (first !== undefined) return first;
  }
  return highWatermark(env, tpId);
}
