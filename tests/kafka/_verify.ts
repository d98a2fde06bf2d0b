/**
 * An independent verifier for the Kafka tests: reads topics and the group's
 * committed offsets with kafkajs directly (its own client, not the code under
 * test), with `read_committed` or `read_uncommitted`, and tells for each
 * data record whether it was written inside a transaction.
 */
import { Kafka, logLevel } from "kafkajs";
import { BROKER } from "./_helpers.ts";

/** A data record as the verifier read it. */
export interface Read {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  /** Written by a transactional producer (inside a transaction). */
  inTransaction: boolean;
  /** Producer id and epoch of the batch (which transaction wrote it). */
  producer: string;
}

function client(): Kafka {
  return new Kafka({
    clientId: "verifier",
    brokers: [BROKER],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
}

/**
 * Every data record of `topic`, read with a fresh group (nothing committed).
 * With `readCommitted`: up to the last stable offset now, records of aborted
 * transactions left out. Without: until nothing new came for 2 s (the
 * admin client only tells the last stable offset).
 *
 * @param topic Topic.
 * @param readCommitted Isolation level.
 * @param ms Bound.
 */
export async function readAll(
  topic: string,
  readCommitted: boolean,
  ms = 60_000,
): Promise<Read[]> {
  const kafka = client();
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, number>();
  try {
    for (const o of await admin.fetchTopicOffsets(topic)) {
      ends.set(o.partition, Number(o.high));
    }
  } finally {
    await admin.disconnect();
  }
  const out: Read[] = [];
  const reached = new Map<number, number>();
  const done = () =>
    readCommitted &&
    [...ends].every(([p, end]) => end === 0 || (reached.get(p) ?? 0) >= end);
  if (readCommitted && done()) return out;
  const consumer = kafka.consumer({
    groupId: `verifier-${crypto.randomUUID()}`,
    readUncommitted: !readCommitted,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let progress = Date.now();
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const bc = (m as unknown as {
            batchContext?: {
              inTransaction?: boolean;
              producerId?: string;
              producerEpoch?: number;
            };
          }).batchContext;
          out.push({
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key === null ? null : m.key.toString(),
            value: m.value === null ? null : m.value.toString(),
            inTransaction: bc?.inTransaction === true,
            producer: `${bc?.producerId}/${bc?.producerEpoch}`,
          });
        }
        // lastOffset() counts control records (transaction markers) too.
        reached.set(batch.partition, Number(batch.lastOffset()) + 1);
        progress = Date.now();
      },
    });
    const deadline = Date.now() + ms;
    // A log that ends with a transaction marker may never produce a batch:
    // after a while without progress the read is complete.
    const idleMs = readCommitted ? 3000 : 2000;
    while (!done() && Date.now() - progress < idleMs) {
      if (Date.now() > deadline) {
        throw new Error(
          `Verifier: reading ${topic} did not reach ${
            JSON.stringify([...ends])
          } within ${ms} ms (at ${JSON.stringify([...reached])})`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Committed offsets of `groupId` for `topic`, by partition (absent: none). */
export async function committedOffsets(
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const admin = client().admin();
  await admin.connect();
  try {
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, number>();
    for (const t of res) {
      for (const p of t.partitions) {
        if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset));
      }
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Watches a group's committed offsets of a topic (every `everyMs`) and
 * records every time one moved backwards.
 */
export class OffsetWatch {
  readonly backwards: string[] = [];
  readonly #last = new Map<number, number>();
  #stop = false;
  #loop: Promise<void>;

  constructor(groupId: string, topic: string, everyMs = 250) {
    const admin = client().admin();
    this.#loop = (async () => {
      await admin.connect();
      try {
        while (!this.#stop) {
          try {
            const res = await admin.fetchOffsets({ groupId, topics: [topic] });
            for (const t of res) {
              for (const p of t.partitions) {
                const o = Number(p.offset);
                const before = this.#last.get(p.partition);
                if (before !== undefined && o >= 0 && o < before) {
                  this.backwards.push(
                    `${topic}[${p.partition}] ${before} -> ${o}`,
                  );
                }
                if (o >= 0) this.#last.set(p.partition, o);
              }
            }
          } catch {
            // The broker may be down on purpose; try again.
          }
          await new Promise((r) => setTimeout(r, everyMs));
        }
      } finally {
        await admin.disconnect().catch(() => {});
      }
    })();
  }

  /** Stop watching. */
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }
}
