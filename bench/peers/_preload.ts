/**
 * Kafka side of the harness (kafkajs admin and producer): create topics,
 * pre-load the input topic with the protocol's records (murmur2
 * partitioning as Kafka's default partitioner), read high-water marks.
 *
 * @module
 */
import { type Admin, Kafka, logLevel, type Message } from "kafkajs";
import { partitionForKey } from "../../src/partitioner.ts";

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
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }],
  });
}

/**
 * The protocol's record `i`: key `k<i%K>`, JSON value `{id, word, n}`.
 *
 * @param i Record number.
 * @returns Key and value strings.
 */
export function record(i: number): { key: string; value: string } {
  const word = `k${i % KEYS}`;
  return { key: word, value: JSON.stringify({ id: i, word, n: i % 100 }) };
}

/**
 * Pre-load `n` protocol records into `topic` (created here).
 *
 * @param kafka Client.
 * @param admin Admin client.
 * @param topic Input topic.
 * @param n Records.
 * @returns Seconds it took.
 */
export async function preload(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  n: number,
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
        const { key, value } = record(i);
        const partition = partitionForKey(enc.encode(key), PARTITIONS);
        messages.push({ key, value, partition });
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
 * @returns keys, total, min, max.
 */
export function expectedCount(
  n: number,
): { keys: number; total: number; min: number; max: number } {
  const keys = Math.min(n, KEYS);
  return {
    keys,
    total: n,
    min: n >= KEYS ? Math.floor(n / KEYS) : 1,
    max: n >= KEYS ? Math.ceil(n / KEYS) : 1,
  };
}
