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
