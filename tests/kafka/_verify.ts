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
  /** The writer's group generation stamped on an at-least-once changelog record (`faust-generation`). */
  generation?: number;
}

function client(): Kafka {
  return new Kafka({
    clientId: "verifier",
    brokers: [BROKER],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
}

/** A fetched record as kafkajs hands it over inside a batch (markers included). */
interface RawRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
  headers?: Record<string, Buffer | Buffer[] | undefined>;
  batchContext?: {
    inTransaction?: boolean;
    producerId?: string;
    producerEpoch?: number;
  };
}

/**
 * Every data record of `topic`, read with a fresh group (nothing committed)
 * and `read_uncommitted`. With `readCommitted`, a transactional record is
 * kept only once the marker its producer wrote next says COMMIT (an ABORT
 * marker drops it, no marker yet leaves it out): decided here from the log
 * itself, not by the client's read_committed filter (kafkajs 2.2.4's lets
 * aborted records through when aborts came in another order than the
 * transactions began). Reads until every partition reached the end the
 * admin client tells (the last stable offset) with no transaction left
 * undecided, or until nothing new came for 2-3 s.
 *
 * @param topic Topic.
 * @param readCommitted Only records of committed transactions (and non-transactional ones).
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
  /** Per partition and producer id, transactional records waiting for their marker. */
  const undecided = new Map<number, Map<string, Read[]>>();
  const done = () =>
    readCommitted &&
    [...ends].every(([p, end]) =>
      end === 0 ||
      ((reached.get(p) ?? 0) >= end &&
        [...(undecided.get(p)?.values() ?? [])].every((l) => l.length === 0))
    );
  if (readCommitted && done()) return out;
  const consumer = kafka.consumer({
    groupId: `verifier-${crypto.randomUUID()}`,
    readUncommitted: true,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let progress = Date.now();
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let waiting = undecided.get(batch.partition);
        if (waiting === undefined) {
          undecided.set(batch.partition, waiting = new Map());
        }
        const raw = (batch as unknown as { messagesWithinOffset: RawRecord[] })
          .messagesWithinOffset;
        for (const m of raw) {
          const bc = m.batchContext;
          const producerId = String(bc?.producerId);
          if (m.isControlRecord === true) {
            // Control record key: version (int16), type (int16: 0 abort, 1 commit).
            const commit = m.key !== null && m.key.length >= 4 &&
              m.key.readInt16BE(2) === 1;
            const list = waiting.get(producerId) ?? [];
            waiting.delete(producerId);
            if (commit) out.push(...list);
            continue;
          }
          const r: Read = {
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key === null ? null : m.key.toString(),
            value: m.value === null ? null : m.value.toString(),
            inTransaction: bc?.inTransaction === true,
            producer: `${bc?.producerId}/${bc?.producerEpoch}`,
          };
          const stamp = m.headers?.["faust-generation"];
          if (stamp !== undefined) {
            r.generation = Number(
              (Array.isArray(stamp) ? stamp[0]! : stamp).toString(),
            );
          }
          if (readCommitted && r.inTransaction) {
            let list = waiting.get(producerId);
            if (list === undefined) waiting.set(producerId, list = []);
            list.push(r);
          } else {
            out.push(r);
          }
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
  out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return out;
}

/** End offsets (high watermarks) of `topic`, by partition. */
export async function endOffsets(topic: string): Promise<Map<number, number>> {
  const admin = client().admin();
  await admin.connect();
  try {
    const out = new Map<number, number>();
    for (const o of await admin.fetchTopicOffsets(topic)) {
      out.set(o.partition, Number(o.high));
    }
    return out;
  } finally {
    await admin.disconnect();
  }
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
