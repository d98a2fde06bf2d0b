/**
 * Table recovery: replay changelog partitions into the store, from the
 * offset after the one the store last applied up to the high-water mark, in
 * batches (one store transaction per batch, carrying the batch's last
 * offset). And standby following: keep replaying new changelog records of
 * partitions this worker does not own, so taking them over is quick.
 *
 * Recovery never hangs: it reads until the high-water mark it saw at the
 * start, and stops early when a read returns nothing (an empty partition,
 * compacted gaps at the end, records removed by retention).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Transport, TransportRecord } from "../transport/transport.ts";
import type { Store, StoreOp } from "./store.ts";
import { MAX_STORE_KEY_BYTES } from "./memory_store.ts";
import { type GenerationFence, generationOf } from "./changelog_generation.ts";

/**
 * Totals of the recoveries a table ran.
 *
 * @example How much a table replayed
 * ```ts
 * import type { RecoveryStats } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("recovery-stats");
 * const counts = app.table<string, number>("counts", { default: () => 0 });
 * await app.start();
 * try {
 *   const stats: RecoveryStats = counts.recoveryStats;
 *   assert.equal(stats.skipped, 0);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export interface RecoveryStats {
  /** Changelog records replayed. */
  records: number;
  /** Seconds spent replaying. */
  seconds: number;
  /** Partition replays run (active and standby). */
  partitions: number;
  /** Changelog records skipped because their key cannot be stored (each logged). */
  skipped: number;
  /** The recovery running now, if any (for the dashboard). */
  current?: RecoveryProgress | undefined;
}

/**
 * Progress of one table's recovery, as the log and the dashboard show it.
 *
 * @example Printing a running recovery
 * ```ts
 * import type { RecoveryProgress } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * function describe(p: RecoveryProgress): string {
 *   const eta = p.etaSeconds === undefined ? "?" : `${Math.round(p.etaSeconds)}s`;
 *   return `${p.kind}: ${p.done}/${p.total} (${eta} left)`;
 * }
 * const app = testApp("recovery-progress");
 * const counts = app.table("counts", { default: () => 0 });
 * const current = counts.recoveryStats.current;
 * console.log(current === undefined ? "idle" : describe(current));
 * ```
 */
export interface RecoveryProgress {
  /** `"active"` or `"standby"` partitions. */
  readonly kind: "active" | "standby";
  /** Changelog records replayed so far. */
  done: number;
  /** Records to replay: from the stored offsets to the high-water marks. */
  readonly total: number;
  /** Records per second so far. */
  rate: number;
  /** Seconds left at that rate (`undefined` before the first batch). */
  etaSeconds: number | undefined;
  /** When it started (ms since the epoch). */
  readonly startedAt: number;
}

/** Milliseconds between progress lines in the log. */
export const PROGRESS_INTERVAL_MS = 1500;

/** What one recovery needs. */
export interface RecoveryOptions {
  /** Table name (for logs). */
  readonly table: string;
  /** Changelog topic. */
  readonly topic: string;
  /** Where records are read. */
  readonly transport: Transport;
  /** Where they are applied. */
  readonly store: Store;
  /** Records per read and per store transaction. */
  readonly bufferSize: number;
  /** Logger for progress and the summary. */
  readonly log: Logger;
  /** Called for every record replayed (after its batch is applied). */
  readonly onRecord?: (record: TransportRecord) => unknown;
  /** Stops between batches when aborted. */
  readonly signal?: AbortSignal;
  /** Called for a record skipped because its key cannot be stored. */
  readonly onSkip?: (record: TransportRecord) => void;
  /** Called after every batch with the records replayed in it. */
  readonly onBatch?: (records: number) => void;
  /**
   * Standby following: whether the partition is still followed. Checked
   * after every wait on the broker and before anything is applied or
   * dropped: a partition promoted to active meanwhile is written by this
   * worker's own table, and a replay that started earlier must not touch it.
   */
  readonly keep?: (partition: number) => boolean;
  /**
   * Leaves out records a writer appended after it stopped being the
   * partition's owner (see `changelog_generation.ts`); without it every
   * record is applied.
   */
  readonly fence?: GenerationFence;
  /** Called for every record the fence left out (after its batch is applied). */
  readonly onStale?: (record: TransportRecord) => void;
}

/**
 * Apply changelog records to `partition`, skipping those at or below the
 * stored offset (already applied by the table's own write path). A record
 * whose key the store cannot hold (empty, or longer than
 * {@linkcode MAX_STORE_KEY_BYTES}) is skipped and handed to `onSkip`:
 * recovery never dies on a record already in a changelog.
 *
 * @param store The store.
 * @param partition Changelog partition.
 * @param records Records of that partition, in offset order.
 * @param onSkip Called for each record skipped for its key.
 * @param stale Whether a record is left out (a late writer's, see
 *   `changelog_generation.ts`); asked once per record above the stored
 *   offset, in offset order.
 * @returns How many records were applied.
 */
export async function applyRecords(
  store: Store,
  partition: number,
  records: readonly TransportRecord[],
  onSkip?: (record: TransportRecord) => void,
  stale?: (record: TransportRecord) => boolean,
): Promise<number> {
  const last = records[records.length - 1];
  if (last === undefined) return 0;
  const persisted = store.persistedOffset(partition) ?? -1;
  if (last.offset <= persisted) return 0;
  const ops: StoreOp[] = [];
  let n = 0;
  for (const r of records) {
    if (r.offset <= persisted) continue;
    n++;
    // A record without a key cannot be a table change; skip it.
    if (r.key === null) continue;
    if (stale?.(r) === true) continue;
    if (r.key.length === 0 || r.key.length > MAX_STORE_KEY_BYTES) {
      onSkip?.(r);
      continue;
    }
    ops.push({ key: r.key, value: r.value });
  }
  await store.apply(partition, ops, last.offset);
  return n;
}

/**
 * Where replay of `partition` starts: after the stored offset, but never
 * below the low-water mark. A stored offset at or above the high-water mark
 * means the changelog was recreated: the partition is dropped and rebuilt.
 */
async function startOffset(
  o: RecoveryOptions,
  partition: number,
): Promise<{ start: number; end: number }> {
  const tp = { topic: o.topic, partition };
  const [low, end] = await Promise.all([
    o.transport.lowWatermark(tp),
    o.transport.highWatermark(tp),
  ]);
  const persisted = o.store.persistedOffset(partition);
  if (o.keep?.(partition) === false) return { start: end, end };
  if (persisted !== undefined && persisted >= end) {
    o.log.warn(
      "Table {table} partition {partition}: stored offset {persisted} is not below the changelog high-water mark {end}; the changelog was recreated, rebuilding the partition from it",
      { table: o.table, partition, persisted, end },
    );
    await o.store.dropPartition(partition);
    o.fence?.forget(partition);
    return { start: low, end };
  }
  if (
    o.fence !== undefined && !o.fence.knows(partition) &&
    persisted !== undefined && persisted >= low
  ) {
    // Applied before this process started: the stored offset's record
    // tells the generation reached there.
    const [r] = await o.transport.read(tp, persisted, 1);
    o.fence.saw(partition, generationOf(r?.headers));
  }
  return {
    start: Math.max(low, persisted === undefined ? 0 : persisted + 1),
    end,
  };
}

/**
 * Replay one changelog partition from the stored offset to the high-water
 * mark seen at the start.
 *
 * @param o Options.
 * @param partition Changelog partition.
 * @returns Records replayed.
 */
export async function recoverPartition(
  o: RecoveryOptions,
  partition: number,
): Promise<number> {
  return await replay(o, partition, await startOffset(o, partition));
}

async function replay(
  o: RecoveryOptions,
  partition: number,
  { start, end }: { start: number; end: number },
): Promise<number> {
  const tp = { topic: o.topic, partition };
  let offset = start;
  let records = 0;
  let lastLog = performance.now();
  if (start < end) {
    o.log.debug(
      "Table {table} partition {partition}: replaying changelog offsets {start} to {end}",
      { table: o.table, partition, start, end },
    );
  }
  while (offset < end && o.signal?.aborted !== true) {
    const batch = await o.transport.read(
      tp,
      offset,
      Math.min(o.bufferSize, end - offset),
    );
    const last = batch[batch.length - 1];
    if (last === undefined) break; // trimmed or compacted away: nothing more
    if (o.keep?.(partition) === false) break;
    const skipped = new Set<TransportRecord>();
    const stale: TransportRecord[] = [];
    const fence = o.fence;
    const applied = await applyRecords(
      o.store,
      partition,
      batch,
      (r) => {
        skipped.add(r);
        o.onSkip?.(r);
      },
      fence === undefined ? undefined : (r) => {
        if (!fence.stale(partition, r.headers)) return false;
        skipped.add(r);
        stale.push(r);
        return true;
      },
    );
    if (stale.length > 0) {
      o.log.warn(
        "Table {table}: left out {count} records of {topic}[{partition}] between offsets {first} and {last}: appended by a worker of an older group generation after a newer owner's records (it had lost the partition)",
        {
          table: o.table,
          count: stale.length,
          topic: o.topic,
          partition,
          first: stale[0]!.offset,
          last: stale[stale.length - 1]!.offset,
        },
      );
      for (const r of stale) o.onStale?.(r);
    }
    records += applied;
    o.onBatch?.(last.offset + 1 - offset);
    if (o.onRecord !== undefined) {
      for (const r of batch) {
        if (skipped.has(r)) continue;
        try {
          await o.onRecord(r);
        } catch (error) {
          // The record is in the store; a failing callback must not stop recovery.
          o.log.error(
            "Table {table}: onChangelogEvent raised for {topic}[{partition}]@{offset}: {error}",
            {
              table: o.table,
              topic: r.topic,
              partition: r.partition,
              offset: r.offset,
              error,
            },
          );
        }
      }
    }
    offset = last.offset + 1;
    if (o.onBatch === undefined && performance.now() - lastLog > 5000) {
      // Standby rounds: no table-wide progress line, so one per partition.
      lastLog = performance.now();
      o.log.info(
        "Recovering table {table} partition {partition}: offset {offset} of {end} ({remaining} remaining)",
        { table: o.table, partition, offset, end, remaining: end - offset },
      );
    }
  }
  return records;
}

function progressLine(o: RecoveryOptions, p: RecoveryProgress): void {
  o.log.info(
    "Recovering table {table} ({kind}): {done} of {total} records ({percent}%), {rate} records/s, ETA {eta}s",
    {
      table: o.table,
      kind: p.kind,
      done: p.done,
      total: p.total,
      percent: p.total > 0 ? Math.floor((p.done * 100) / p.total) : 100,
      rate: Math.round(p.rate),
      eta: p.etaSeconds === undefined ? NaN : Math.ceil(p.etaSeconds),
    },
  );
}

/**
 * Replay several partitions, log a summary, and add to `stats`.
 *
 * @param o Options.
 * @param partitions Changelog partitions.
 * @param stats Totals to add to.
 * @param kind `"active"` or `"standby"` (for the log).
 */
export async function recoverPartitions(
  o: RecoveryOptions,
  partitions: readonly number[],
  stats: RecoveryStats,
  kind: "active" | "standby",
): Promise<void> {
  if (partitions.length === 0) return;
  const t0 = performance.now();
  const ranges = [];
  for (const p of partitions) ranges.push(await startOffset(o, p));
  const total = ranges.reduce((n, r) => n + Math.max(0, r.end - r.start), 0);
  const progress: RecoveryProgress = {
    kind,
    done: 0,
    total,
    rate: 0,
    etaSeconds: undefined,
    startedAt: Date.now(),
  };
  stats.current = progress;
  let lastLine = performance.now();
  const onBatch = (n: number) => {
    progress.done += n;
    const now = performance.now();
    const elapsed = (now - t0) / 1000;
    progress.rate = elapsed > 0 ? progress.done / elapsed : 0;
    progress.etaSeconds = progress.rate > 0
      ? Math.max(0, progress.total - progress.done) / progress.rate
      : undefined;
    if (now - lastLine >= PROGRESS_INTERVAL_MS) {
      lastLine = now;
      progressLine(o, progress);
    }
  };
  if (total > 0) {
    o.log.debug(
      "Table {table}: recovering {total} changelog records of {count} {kind} partitions",
      { table: o.table, total, count: partitions.length, kind },
    );
  }
  let records = 0;
  try {
    for (const [i, p] of partitions.entries()) {
      records += await replay({ ...o, onBatch }, p, ranges[i]!);
    }
  } finally {
    stats.current = undefined;
  }
  const seconds = (performance.now() - t0) / 1000;
  stats.records += records;
  stats.seconds += seconds;
  stats.partitions += partitions.length;
  o.log.info(
    "Table {table} recovered {records} changelog records of {count} {kind} partitions in {seconds}s",
    {
      table: o.table,
      records,
      count: partitions.length,
      kind,
      seconds: Number(seconds.toFixed(3)),
    },
  );
}
