/**
 * The read half of the at-least-once repair: which keys another worker
 * appended to a changelog partition between two of this writer's own
 * appends (the writer then appends its own values of them again).
 *
 * At-least-once has no fencing: a worker that lost its partitions without
 * knowing yet (expelled from the group during a broker outage or a long
 * stall) may still append to a changelog partition after its new owner
 * recovered it. Those records carry the old owner's values; left last in
 * the changelog, the next recovery would start from them while the
 * committed offsets are the new owner's, and counts would end below the
 * truth. So the writer checks where its own appends land: records between
 * two of its own (or between the recovered end and its first) are someone
 * else's, and it appends its own current values of their keys again, before
 * any `ChangelogWriter.flush` (and so any offset commit) returns.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Transport } from "../transport/transport.ts";
import { keyId } from "./changelog_change.ts";
import { generationOf } from "./changelog_generation.ts";

/** How long a repair keeps retrying the read of foreign records before the app stops. */
const REPAIR_LIMIT_MS = 90_000;

/** Foreign records found in a changelog range. */
export interface ForeignKeys {
  /** Keyed records read in the range. */
  readonly records: number;
  /** Their distinct keys, by key id. */
  readonly keys: Map<string, Uint8Array>;
  /** The highest group generation they were stamped with, if any. */
  readonly generation: number | undefined;
}

/**
 * Read the records in `[from, to)` of a changelog partition, retrying a
 * failed read with back-off for up to 90 s.
 *
 * @param transport Reads the changelog.
 * @param topic Changelog topic.
 * @param partition Changelog partition.
 * @param from First offset.
 * @param to Offset after the last.
 * @returns The keyed records' count, keys and highest generation.
 * @throws The read's error once the retry bound is spent.
 */
export async function readForeignKeys(
  transport: Pick<Transport, "read">,
  topic: string,
  partition: number,
  from: number,
  to: number,
): Promise<ForeignKeys> {
  const keys = new Map<string, Uint8Array>();
  let records = 0;
  let generation: number | undefined;
  let at = from;
  const deadline = Date.now() + REPAIR_LIMIT_MS;
  for (let wait = 500; at < to;) {
    let batch;
    try {
      batch = await transport.read(
        { topic, partition },
        at,
        Math.min(1000, to - at),
      );
    } catch (error) {
      if (Date.now() + wait > deadline) throw error;
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(5000, wait * 2);
      continue;
    }
    const last = batch[batch.length - 1];
    if (last === undefined) break;
    for (const r of batch) {
      if (r.offset >= to || r.key === null) continue;
      records++;
      keys.set(keyId(r.key), r.key);
      const g = generationOf(r.headers);
      if (g !== undefined && (generation === undefined || g > generation)) {
        generation = g;
      }
    }
    at = last.offset + 1;
  }
  return { records, keys, generation };
}

/** What a {@linkcode ForeignRepair} needs from its changelog writer. */
export interface RepairHost {
  /** Table name (for messages). */
  readonly table: string;
  /** Changelog topic. */
  readonly topic: string;
  readonly log: Logger;
  /** Reads the changelog; without one, nothing is checked. */
  readonly transport: Pick<Transport, "read"> | undefined;
  /** The highest changelog offset the store holds for `partition`. */
  persistedOffset(partition: number): number | undefined;
  /** The generation this worker stamps on `partition` now, if any. */
  stamp(partition: number): number | undefined;
  /** Append this worker's current values of `keys` of `partition` again. */
  rewrite(partition: number, keys: ReadonlyMap<string, Uint8Array>): void;
  /** A repair failed for good: the table's changes are not durable. */
  fail(error: unknown): void;
  /** A repair ended (its appends, if any, were handed over). */
  ended(): void;
}

/**
 * Where this writer's own appends landed per changelog partition, and the
 * repairs of what others appended in between (see the module comment).
 */
export class ForeignRepair {
  readonly #host: RepairHost;
  /** Per partition, the highest changelog offset known to hold this writer's data (own ack or store). */
  readonly #known = new Map<number, number>();
  /** Repairs under way (a flush waits for them). */
  running = 0;
  /** Changelog records found appended by another worker, and re-covered. */
  foreign = 0;

  /** Over the writer `host`. */
  constructor(host: RepairHost) {
    this.#host = host;
  }

  /** Partitions were revoked: their next owner appends there now. */
  forget(partitions: Iterable<number>): void {
    for (const p of partitions) this.#known.delete(p);
  }

  /**
   * An own append landed at `offset`: if records lie between it and the
   * last offset known to be this writer's (or recovered), another worker
   * wrote them; repair.
   */
  landed(partition: number, offset: number): void {
    if (offset < 0 || this.#host.transport === undefined) return;
    const own = this.#known.get(partition) ?? -1;
    // Right after this writer's last known record: nothing in between, and
    // no store read (one per acked change at a commit otherwise).
    if (offset <= own + 1) {
      if (offset > own) this.#known.set(partition, offset);
      return;
    }
    const known = Math.max(own, this.#host.persistedOffset(partition) ?? -1);
    this.#known.set(partition, Math.max(known, offset));
    if (offset > known + 1) this.#repair(partition, known + 1, offset);
  }

  /** Append this writer's current values of the keys found in `[from, to)` again. */
  #repair(partition: number, from: number, to: number): void {
    const host = this.#host;
    this.running++;
    const run = async () => {
      const { records, keys, generation } = await readForeignKeys(
        host.transport!,
        host.topic,
        partition,
        from,
        to,
      );
      if (keys.size === 0) return;
      const own = host.stamp(partition);
      const where = {
        table: host.table,
        records,
        topic: host.topic,
        partition,
        from,
        to: to - 1,
      };
      if (generation !== undefined && own !== undefined && generation > own) {
        // A newer owner wrote them: this worker lost the partition without
        // knowing yet. Its values are the stale ones; replays leave its
        // records out, and appending them again would only add more.
        host.log.warn(
          "Table {table}: {records} records at {topic}[{partition}] offsets {from} to {to} come from a newer owner (group generation {generation}, this worker's {own}): this worker lost the partition and does not append its values again",
          { ...where, generation, own },
        );
        return;
      }
      this.foreign += records;
      host.log.warn(
        "Table {table}: {records} records at {topic}[{partition}] offsets {from} to {to} were not appended by this worker (another worker that lost the partition without knowing yet, or a retried append); appending this worker's values of their {keys} keys again",
        { ...where, keys: keys.size },
      );
      host.rewrite(partition, keys);
    };
    run().catch((error) => host.fail(error)).finally(() => {
      this.running--;
      host.ended();
    });
  }
}

const DECODER = new TextDecoder();

/**
 * Debug: where an own append landed, with its key and value as text (cut
 * short), so a changelog can be traced back to the workers that wrote it.
 */
export function logAppend(
  host: Pick<RepairHost, "table" | "topic" | "log">,
  partition: number,
  offset: number,
  key: Uint8Array,
  value: Uint8Array | null,
  generation: number | undefined,
): void {
  const text = (b: Uint8Array | null) =>
    b === null ? "null" : DECODER.decode(b.subarray(0, 40));
  host.log.debug(
    "Table {table}: appended {topic}[{partition}]@{offset} {key}={value} (generation {generation})",
    {
      table: host.table,
      topic: host.topic,
      partition,
      offset,
      key: text(key),
      value: text(value),
      generation: generation ?? "none",
    },
  );
}
