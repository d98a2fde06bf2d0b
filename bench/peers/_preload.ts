/**
 * Kafka side of the harness (kafkajs admin and producer): create topics,
 * pre-load the input topic with the protocol's records (murmur2
 * partitioning as Kafka's default partitioner), read high-water marks.
 *
 * @module
 */
import { type Admin, Kafka, logLevel, type Message } from "kafkajs";
import { partitionForKey } from "../../src/producer/partitioner.ts";
import { summarizeWindows, WINDOW_MS, type WindowSummary } from "./_args.ts";

/** Keys of the protocol's data (`k0` .. `k9999`). */
export const KEYS = 10_000;
/** Partitions of the input and output topics. */
export const PARTITIONS = 4;

/** A kafkajs client and its connected admin. */
export interface KafkaAdmin {
  /** The client. */
  readonly kafka: Kafka;
  /** Connected admin client. */
  readonly admin: Admin;
}

/**
 * Connect an admin client to `bootstrap`.
 *
 * @param bootstrap `host:port`.
 * @returns Client and admin.
 */
export async function connectAdmin(bootstrap: string): Promise<KafkaAdmin> {
  const kafka = new Kafka({
    clientId: "faust-bench-harness",
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
  });
  const admin = kafka.admin();
  await admin.connect();
  return { kafka, admin };
}

/**
 * Create a topic with `partitions` partitions (waits for leaders).
 *
 * @param admin Admin client.
 * @param name Topic name.
 * @param partitions Partition count.
 */
export async function createTopic(
  admin: Admin,
  name: string,
  partitions = PARTITIONS,
): Promise<void> {
  // A loaded broker may answer the leader wait with a transient metadata
  // error ("does not host this topic-partition"): retry, bounded.
  for (let attempt = 1;; attempt++) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{
          topic: name,
          numPartitions: partitions,
          replicationFactor: 1,
        }],
      });
      const meta = await admin.fetchTopicMetadata({ topics: [name] });
      const parts = meta.topics[0]?.partitions ?? [];
      if (parts.length === partitions && parts.every((p) => p.leader >= 0)) {
        return;
      }
      throw new Error(`topic ${name}: ${parts.length} partitions with leaders`);
    } catch (e) {
      if (attempt >= 10) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/**
 * The protocol's record `i`: key `k<i%K>`, JSON value `{id, word, n}`.
 *
 * @param i Record number.
 * @param keys K, distinct keys of the data set.
 * @returns Key and value strings.
 */
export function record(
  i: number,
  keys: number = KEYS,
): { key: string; value: string } {
  const word = `k${i % keys}`;
  return { key: word, value: JSON.stringify({ id: i, word, n: i % 100 }) };
}

/** Event time between consecutive records: 60,000 records per 1-minute window. */
export const EVENT_STEP_MS = 1;

/**
 * Event-time base for `n` records: a whole minute far enough in the past
 * that the last record is older than now (brokers keep it; no window is in
 * the future).
 *
 * @param n Records.
 * @returns Milliseconds since the epoch, a multiple of {@linkcode WINDOW_MS}.
 */
export function eventTimeBase(n: number): number {
  const start = Date.now() - n * EVENT_STEP_MS - 2 * WINDOW_MS;
  return Math.floor(start / WINDOW_MS) * WINDOW_MS;
}

/**
 * Expected `window` result: per-key sums of `n` in 1-minute tumbling
 * windows of the record timestamps `t0 + i * EVENT_STEP_MS`.
 *
 * @param n Records.
 * @param t0 Event-time base ({@linkcode eventTimeBase}).
 * @param keys K.
 * @returns The summary every peer must report.
 */
export function expectedWindows(
  n: number,
  t0: number,
  keys: number = KEYS,
): WindowSummary {
  const sums = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const start = Math.floor((t0 + i * EVENT_STEP_MS) / WINDOW_MS) * WINDOW_MS;
    const k = `k${i % keys}\u0000${start}`;
    sums.set(k, (sums.get(k) ?? 0) + (i % 100));
  }
  return summarizeWindows(
    [...sums].map(([k, v]) => {
      const [word, start] = k.split("\u0000");
      return [word!, Number(start), v] as const;
    }),
  );
}

/** Data set options of a pre-load. */
export interface DataSet {
  /** K, distinct keys (default {@linkcode KEYS}). */
  readonly keys?: number;
  /** Event-time base: record `i` gets timestamp `t0 + i * EVENT_STEP_MS`; omitted: the broker's time. */
  readonly t0?: number;
}

/**
 * Pre-load `n` protocol records into `topic` (created here).
 *
 * @param kafka Client.
 * @param admin Admin client.
 * @param topic Input topic.
 * @param n Records.
 * @param data Keys and timestamps.
 * @returns Seconds it took.
 */
export async function preload(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  n: number,
  data: DataSet = {},
): Promise<number> {
  await createTopic(admin, topic);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const enc = new TextEncoder();
  const t0 = performance.now();
  try {
    const batch = 10_000;
    for (let start = 0; start < n; start += batch) {
      const messages: Message[] = [];
      for (let i = start; i < Math.min(n, start + batch); i++) {
        const { key, value } = record(i, data.keys);
        const partition = partitionForKey(enc.encode(key), PARTITIONS);
        messages.push({
          key,
          value,
          partition,
          ...(data.t0 !== undefined
            ? { timestamp: String(data.t0 + i * EVENT_STEP_MS) }
            : {}),
        });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
  const loaded = await highWaterSum(admin, topic);
  if (loaded !== n) {
    throw new Error(`pre-load of ${topic}: ${loaded} records, expected ${n}`);
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Sum of the high-water marks of every partition of `topic`.
 *
 * @param admin Admin client.
 * @param topic Topic.
 * @returns Records appended to it (no deletion in these runs).
 */
export async function highWaterSum(
  admin: Admin,
  topic: string,
): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((s, o) => s + Number(o.high), 0);
}

/**
 * Records in the changelog topics of an app: topics named `{appId}...`
 * that contain "changelog" (Faust: `{id}-{table}-changelog`, Kafka Streams:
 * `{id}-{store}-changelog`, ours as Faust).
 *
 * @param admin Admin client.
 * @param appId App / application id.
 * @returns Sum of their high-water marks, or `undefined` when none exists.
 */
export async function changelogRecords(
  admin: Admin,
  appId: string,
): Promise<number | undefined> {
  const topics = (await admin.listTopics()).filter((t) =>
    t.startsWith(appId) && t.includes("changelog")
  );
  if (topics.length === 0) return undefined;
  let sum = 0;
  for (const t of topics) sum += await highWaterSum(admin, t);
  return sum;
}

/**
 * Expected `count` result for `n` records of the protocol's data.
 *
 * @param n Records.
 * @param k K, distinct keys of the data set.
 * @returns keys, total, min, max.
 */
export function expectedCount(
  n: number,
  k: number = KEYS,
): { keys: number; total: number; min: number; max: number } {
  const keys = Math.min(n, k);
  return {
    keys,
    total: n,
    min: n >= k ? Math.floor(n / k) : 1,
    max: n >= k ? Math.ceil(n / k) : 1,
  };
}
