/**
 * Retention and compaction of the `local://` broker's topic logs.
 *
 * - Retention (`retentionMs`, for topics that are not compacting, or that
 *   are compacting and `deleting`): records are removed from the start of a
 *   partition while their timestamp is older than `now - retentionMs`; the
 *   first newer record stops it (as Kafka deletes whole old segments), so the
 *   low watermark only moves up.
 * - Compaction (`compacting: true`): for each key only the record with the
 *   highest offset survives; a surviving tombstone (null value) is removed
 *   once its timestamp is older than `tombstoneDelayMs`. Records with a null
 *   key are kept. Offsets are never reused: survivors keep theirs, so gaps
 *   appear.
 *
 * Work is chunked: scans read a page of chunks per event-loop turn and
 * rewrites commit at most {@linkcode CHUNKS_PER_TXN} chunks per write
 * transaction, so producers in other processes get LMDB's single write
 * lock between them.
 *
 * @module
 */
import { type ChunkEntry, chunkKey, rewriteChunk, scanChunk } from "./codec.ts";
import type { BrokerEnv, TopicMeta } from "./env.ts";
import { highWatermark } from "./log.ts";

/** Chunks rewritten per write transaction. */
export const CHUNKS_PER_TXN = 64;
const SCAN_PAGE = 256;

/** What one maintenance run removed. */
export interface MaintenanceReport {
  /** Records removed by retention. */
  retained: number;
  /** Older values removed by compaction. */
  compacted: number;
  /** Tombstones removed after their delay. */
  tombstones: number;
}

/** Settings of a maintenance run. */
export interface MaintenanceOptions {
  /** How long a tombstone survives compaction, in milliseconds. */
  readonly tombstoneDelayMs: number;
  /** Current time in milliseconds (defaults to `Date.now()`). */
  readonly now?: number;
}

// tp id -> high-water mark at the last compaction that left nothing to do later.
const compactedAt = new WeakMap<BrokerEnv, Map<number, number>>();

function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Read chunk keys and values page by page, yielding to the event loop between pages. */
async function* scan(
  env: BrokerEnv,
  tpId: number,
  endOffset: number,
): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
  let start = chunkKey(tpId, 0);
  const end = chunkKey(tpId, endOffset);
  for (;;) {
    const page = [...env.records.getRange({ start, end, limit: SCAN_PAGE })];
    yield* page;
    if (page.length < SCAN_PAGE) return;
    const last = page[page.length - 1]!.key;
    start = new Uint8Array(last.byteLength + 1);
    start.set(last);
    await turn();
  }
}

/** Apply per-chunk filters in write transactions of {@linkcode CHUNKS_PER_TXN} chunks. */
async function rewrite(
  env: BrokerEnv,
  keys: readonly Uint8Array[],
  keep: (e: ChunkEntry) => boolean,
): Promise<number> {
  let removed = 0;
  for (let i = 0; i < keys.length; i += CHUNKS_PER_TXN) {
    const slice = keys.slice(i, i + CHUNKS_PER_TXN);
    removed += await env.root.transaction(() => {
      let n = 0;
      for (const key of slice) {
        const value = env.records.get(key);
        if (value === undefined) continue;
        const entries = scanChunk(value);
        const kept = entries.filter(keep);
        n += entries.length - kept.length;
        if (kept.length === 0) env.records.removeSync(key);
        else if (kept.length < entries.length) {
          env.records.putSync(key, rewriteChunk(value, kept));
        }
      }
      return n;
    });
    await turn();
  }
  return removed;
}

async function applyRetention(
  env: BrokerEnv,
  tpId: number,
  cutoff: number,
): Promise<number> {
  const keys: Uint8Array[] = [];
  let boundary = Infinity;
  for await (const { key, value } of scan(env, tpId, Number.MAX_SAFE_INTEGER)) {
    const entries = scanChunk(value);
    const young = entries.find((e) => e.timestamp >= cutoff);
    if (young !== undefined) boundary = young.offset;
    if (young === undefined || young !== entries[0]) keys.push(key);
    if (young !== undefined) break;
  }
  return await rewrite(env, keys, (e) => e.offset >= boundary);
}

function keyString(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i += 4096) {
    s += String.fromCharCode(...key.subarray(i, i + 4096));
  }
  return s;
}

interface Latest {
  offset: number;
  tombstone: boolean;
  timestamp: number;
}

async function applyCompaction(
  env: BrokerEnv,
  tpId: number,
  now: number,
  tombstoneDelayMs: number,
  report: MaintenanceReport,
): Promise<void> {
  const done = compactedAt.get(env) ?? new Map<number, number>();
  compactedAt.set(env, done);
  const hw = highWatermark(env, tpId);
  if (done.get(tpId) === hw) return;
  const latest = new Map<string, Latest>();
  const keys: Uint8Array[] = [];
  let obsolete = 0;
  for await (const { key, value } of scan(env, tpId, hw)) {
    keys.push(key);
    for (const e of scanChunk(value)) {
      if (e.key === null) continue;
      const k = keyString(e.key);
      if (latest.has(k)) obsolete++;
      latest.set(k, {
        offset: e.offset,
        tombstone: e.tombstone,
        timestamp: e.timestamp,
      });
    }
  }
  let pendingTombstones = false;
  let expired = 0;
  for (const l of latest.values()) {
    if (!l.tombstone) continue;
    if (l.timestamp + tombstoneDelayMs <= now) expired++;
    else pendingTombstones = true;
  }
  if (obsolete > 0 || expired > 0) {
    let tombstones = 0;
    const removed = await rewrite(env, keys, (e) => {
      if (e.key === null) return true;
      const l = latest.get(keyString(e.key));
      if (l === undefined || e.offset !== l.offset) {
        return e.offset > (l?.offset ?? -1);
      }
      if (l.tombstone && l.timestamp + tombstoneDelayMs <= now) {
        tombstones++;
        return false;
      }
      return true;
    });
    report.tombstones += tombstones;
    report.compacted += removed - tombstones;
  }
  if (pendingTombstones) done.delete(tpId);
  else done.set(tpId, hw);
}

/**
 * Run retention and compaction over every topic of the broker once.
 *
 * @param env Broker environment.
 * @param options Tombstone delay and clock.
 * @returns How many records were removed, by cause.
 */
export async function runMaintenance(
  env: BrokerEnv,
  options: MaintenanceOptions,
): Promise<MaintenanceReport> {
  const report: MaintenanceReport = {
    retained: 0,
    compacted: 0,
    tombstones: 0,
  };
  const now = options.now ?? Date.now();
  const topics: [string, TopicMeta][] = [];
  for (const { key, value } of env.topics.getRange({})) {
    topics.push([key, value]);
  }
  for (const [, meta] of topics) {
    for (let p = 0; p < meta.partitions; p++) {
      const tpId = meta.base + p;
      if (
        meta.retentionMs !== undefined &&
        (meta.compacting !== true || meta.deleting === true)
      ) {
        report.retained += await applyRetention(
          env,
          tpId,
          now - meta.retentionMs,
        );
      }
      if (meta.compacting === true) {
        await applyCompaction(env, tpId, now, options.tombstoneDelayMs, report);
      }
    }
  }
  return report;
}
