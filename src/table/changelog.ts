/**
 * The table write path. Every change goes to the changelog topic; the store
 * is updated only once the append is acknowledged (then its offset is known),
 * in group commits: all changes acked since the last commit are applied in
 * one store transaction (data and offsets together, every partition at
 * once). Until then an in-memory overlay answers reads, so a table reads
 * its own writes.
 *
 * With the record cache (`tableChangelogCache`, on by default) a change is
 * not appended at once: the writer keeps the last change per key and
 * partition and appends them when the app commits ({@linkcode
 * ChangelogWriter.stage}, called before the producer flushes and the
 * offsets commit), when the cache holds more than its byte bound, or at a
 * flush. A key updated many times between two commits costs one changelog
 * record, as with Kafka Streams' record cache.
 *
 * With `held` (exactly-once), acked changes wait for {@linkcode
 * ChangelogWriter.release} (called once the transaction that carries
 * them committed): an aborted transaction never reaches the store.
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
 * any {@linkcode ChangelogWriter.flush} (and so any offset commit) returns.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { errorLine, PartitionRevokedError, StateError } from "../errors.ts";
import type { InFlight } from "../inflight.ts";
import type { SendBinding, SendCounter } from "../producer.ts";
import type {
  ProduceRecord,
  RecordMetadata,
  Transport,
} from "../transport/transport.ts";
import type { Store, StoreBatch, StoreOp } from "./store.ts";

/**
 * What the writer needs from the app.
 *
 * @example What a changelog writer sees of its app
 * ```ts
 * import type { ChangelogHost } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * // The app is the host; nothing else implements it.
 * const host: ChangelogHost = testApp("changelog-host");
 * console.log(typeof host.produce);
 * ```
 */
export interface ChangelogHost {
  /** Logger. */
  readonly log: Logger;
  /**
   * Append through the app's batching producer; `binding` (from
   * {@linkcode ChangelogHost.bindSend}) says where the record goes.
   */
  produce(
    record: ProduceRecord,
    binding?: SendBinding,
    counter?: SendCounter,
  ): Promise<RecordMetadata>;
  /**
   * Sends in progress (the app's): changelog appends count in it, so the
   * consumer holds delivery while too many wait for the broker, as for
   * topic sends. Without it appends are not counted.
   */
  readonly sends?: InFlight;
  /**
   * Where a record sent now would go (exactly-once: the transaction of the
   * current event's partition). The cache asks when a change is made and
   * appends to that target later.
   */
  bindSend?(): SendBinding;
  /** Stop the app: a change could not be made durable. */
  crash(error: Error): void;
  /** Reads records another worker appended (at-least-once repair); without it no repair is made. */
  readonly transport?: Pick<Transport, "read">;
}

/** How long a repair keeps retrying the read of foreign records before the app stops. */
const REPAIR_LIMIT_MS = 90_000;

/** A change not yet applied to the store. */
export interface OverlayEntry {
  /** Changelog partition the change was written to. */
  readonly partition: number;
  /** Encoded key. */
  readonly key: Uint8Array;
  /** Encoded value, or `null` for a delete. */
  readonly value: Uint8Array | null;
  /** Write sequence number (to tell a newer write of the same key). */
  readonly seq: number;
}

/** Encodes the value of a deferred write ({@linkcode ChangelogWriter.writeDeferred}). */
export type Encoder = (value: unknown) => Uint8Array;

/**
 * A change; its value may be encoded only when first needed (a change the
 * record cache replaces before the commit is never encoded).
 */
class Change implements OverlayEntry {
  readonly partition: number;
  readonly key: Uint8Array;
  readonly seq: number;
  #bytes: Uint8Array | null | undefined;
  #decoded: unknown;
  #encode: Encoder | undefined;

  constructor(
    partition: number,
    key: Uint8Array,
    seq: number,
    bytes: Uint8Array | null | undefined,
    decoded: unknown,
    encode: Encoder | undefined,
  ) {
    this.partition = partition;
    this.key = key;
    this.seq = seq;
    this.#bytes = bytes;
    this.#decoded = decoded;
    this.#encode = encode;
  }

  get value(): Uint8Array | null {
    if (this.#bytes === undefined) {
      this.#bytes = this.#encode!(this.#decoded);
      this.#decoded = undefined;
      this.#encode = undefined;
    }
    return this.#bytes;
  }

  /** Bytes counted against the cache bound (an estimate while not encoded). */
  get size(): number {
    return this.key.length +
      (this.#bytes === undefined
        ? DEFERRED_VALUE_BYTES
        : (this.#bytes?.length ?? 0)) +
      ENTRY_OVERHEAD;
  }
}

/** Size assumed for a value not encoded yet (deferred writes hold primitives). */
const DEFERRED_VALUE_BYTES = 16;

/** How a {@linkcode ChangelogWriter} batches and applies. */
export interface ChangelogWriterOptions {
  /** Apply acked changes only up to the last {@linkcode ChangelogWriter.release} (exactly-once). */
  readonly held?: boolean;
  /** Keep the last change per key until {@linkcode ChangelogWriter.stage} (the record cache). */
  readonly cache?: boolean;
  /** Bytes of cached keys and values above which the cache is appended early. @default 10 MiB */
  readonly cacheMaxBytes?: number;
}

/** Default byte bound of the record cache (Kafka Streams' default too). */
export const CACHE_MAX_BYTES = 10 * 1024 * 1024;

/** Bytes counted per cached change on top of its key and value (the objects holding it). */
const ENTRY_OVERHEAD = 64;

interface PendingWrite {
  readonly id: string;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  /** Write sequence number of the change (the overlay's). */
  readonly seq: number;
  /** Append sequence number: the order changes were handed to the producer. */
  readonly aseq: number;
  /**
   * Where the append landed, once acked. Read at apply time, not at the ack:
   * a `local://` transaction acks with offset -1 and sets the offset when it
   * commits (held mode applies only after that).
   */
  meta: RecordMetadata | undefined;
}

/** Changes of one partition waiting in the record cache. */
interface CachedPartition {
  /** Last change per key id, in order of first change within the window. */
  readonly changes: Map<string, Change>;
  /** Where the changes go (exactly-once: the partition's transaction). */
  binding: SendBinding | undefined;
}

/** Changelog offset of a write, -1 while not known. */
function offsetOf(w: PendingWrite): number {
  return w.meta?.offset ?? -1;
}

function sizeOf(e: Change): number {
  return e.size;
}

const NO_RELEASE = () => {};

/**
 * A string identity for key bytes (one char per byte), usable as a Map key.
 *
 * @param bytes Encoded key.
 * @returns A string equal for equal bytes.
 */
export function keyId(bytes: Uint8Array): string {
  if (bytes.length <= 4096) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, i + 4096) as unknown as number[],
    );
  }
  return s;
}

/**
 * Writes table changes to the changelog and applies acked ones to the store.
 */
export class ChangelogWriter {
  /** Changes not yet in the store, by {@linkcode keyId}. */
  readonly overlay: Map<string, OverlayEntry> = new Map();
  readonly #table: string;
  readonly #topic: string;
  readonly #store: Store;
  readonly #host: ChangelogHost;
  /** Per partition, appends in the order they were produced (= offset order). */
  readonly #queues = new Map<number, PendingWrite[]>();
  /** The record cache, per partition (only with `cache`). */
  readonly #cache = new Map<number, CachedPartition>();
  readonly #caching: boolean;
  readonly #cacheMaxBytes: number;
  #cacheBytes = 0;
  #seq = 0;
  /** Last append sequence number handed out. */
  #aseq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #draining: Promise<void> | undefined;
  #waiters: Array<() => void> = [];
  #failure: Error | undefined;
  #applied = 0;
  readonly #held: boolean;
  /** Held mode: appends up to this append sequence number may reach the store. */
  #released = 0;
  /** Called when changes are dropped unapplied (reads of them must not be served from caches). */
  onDiscard: (() => void) | undefined;
  /** Per partition, the highest changelog offset known to hold this writer's data (own ack or store). */
  readonly #known = new Map<number, number>();
  /** Repairs of foreign appends under way. */
  #repairs = 0;
  /** Append sequence number after the last repair's appends (flush waits for them). */
  #repairedSeq = 0;
  /** Changelog records found appended by another worker, and re-covered. */
  foreign = 0;

  /**
   * Create a writer.
   *
   * @param table Table name (for messages).
   * @param topic Changelog topic.
   * @param store The open store.
   * @param host Producer, logger and crash.
   * @param options Held (exactly-once) mode and the record cache.
   */
  constructor(
    table: string,
    topic: string,
    store: Store,
    host: ChangelogHost,
    options: ChangelogWriterOptions = {},
  ) {
    this.#held = options.held ?? false;
    this.#caching = options.cache ?? false;
    this.#cacheMaxBytes = options.cacheMaxBytes ?? CACHE_MAX_BYTES;
    this.#table = table;
    this.#topic = topic;
    this.#store = store;
    this.#host = host;
  }

  /** Changes written and not yet applied to the store (cached ones included). */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    for (const c of this.#cache.values()) n += c.changes.size;
    return n;
  }

  /** Changes applied to the store through this writer. */
  get applied(): number {
    return this.#applied;
  }

  /**
   * Write one change: into the overlay now, to the changelog (now, or at
   * the next {@linkcode stage} with the cache), and to the store once acked.
   *
   * @param partition Changelog partition (the current event's).
   * @param key Encoded key.
   * @param value Encoded value, or `null` to delete.
   * @param id `keyId(key)` when the caller has it.
   * @throws {StateError} When an earlier changelog append failed.
   */
  write(
    partition: number,
    key: Uint8Array,
    value: Uint8Array | null,
    id: string = keyId(key),
  ): void {
    this.#write(partition, key, id, value, undefined, undefined);
  }

  /**
   * {@linkcode write} with the value encoded only when needed: when the
   * change is appended (with the record cache: at the commit, unless a
   * later change of the key replaced it) or read as bytes. For values whose
   * encoding cannot fail and that cannot change after the call (the table
   * passes primitives it checked).
   *
   * @param partition Changelog partition (the current event's).
   * @param key Encoded key.
   * @param value The value, not encoded.
   * @param encode Encodes it.
   * @param id `keyId(key)` when the caller has it.
   */
  writeDeferred(
    partition: number,
    key: Uint8Array,
    value: unknown,
    encode: Encoder,
    id: string = keyId(key),
  ): void {
    this.#write(partition, key, id, undefined, value, encode);
  }

  #write(
    partition: number,
    key: Uint8Array,
    id: string,
    bytes: Uint8Array | null | undefined,
    decoded: unknown,
    encode: Encoder | undefined,
  ): void {
    if (this.#failure !== undefined) {
      throw new StateError(
        `Cannot write to table "${this.#table}": an earlier changelog append to "${this.#topic}" failed: ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
    const e = new Change(partition, key, ++this.#seq, bytes, decoded, encode);
    this.overlay.set(id, e);
    if (!this.#caching) {
      this.#append(partition, id, e, undefined);
      return;
    }
    let c = this.#cache.get(partition);
    if (c === undefined) {
      c = { changes: new Map(), binding: undefined };
      this.#cache.set(partition, c);
    }
    if (this.#held && this.#host.bindSend !== undefined) {
      // The transaction is chosen now, in the event's context; the append
      // happens at stage(), which the commit runs before it commits.
      const b = this.#host.bindSend();
      b.release();
      if (c.binding === undefined || c.binding.target !== b.target) {
        if (c.changes.size > 0) this.#stagePartition(partition, c);
        c.binding = { target: b.target, release: NO_RELEASE };
      }
    }
    const old = c.changes.get(id);
    if (old !== undefined) this.#cacheBytes -= sizeOf(old);
    c.changes.set(id, e);
    this.#cacheBytes += sizeOf(e);
    if (this.#cacheBytes > this.#cacheMaxBytes) this.stage();
  }

  /**
   * Hand every cached change to the producer (one record per key and
   * partition). The commit calls it before flushing the producer, so the
   * changes of every event it commits are appended (and, exactly-once, in
   * the transaction that commits the offsets).
   */
  stage(): void {
    if (this.#cache.size === 0) return;
    for (const [partition, c] of this.#cache) {
      this.#stagePartition(partition, c);
    }
    this.#cache.clear();
    this.#cacheBytes = 0;
  }

  #stagePartition(partition: number, c: CachedPartition): void {
    for (const [id, e] of c.changes) {
      this.#cacheBytes -= sizeOf(e);
      this.#append(partition, id, e, c.binding);
    }
    c.changes.clear();
  }

  #append(
    partition: number,
    id: string,
    e: Change,
    binding: SendBinding | undefined,
  ): void {
    const value = e.value;
    const w: PendingWrite = {
      id,
      key: e.key,
      value,
      seq: e.seq,
      aseq: ++this.#aseq,
      meta: undefined,
    };
    let q = this.#queues.get(partition);
    if (q === undefined) this.#queues.set(partition, q = []);
    q.push(w);
    // Counted until acked: without that, a table written faster than the
    // broker acknowledges (record cache off) queued every pending append
    // in memory (766 MB peak for 200k updates on kafka://).
    const sends = this.#host.sends;
    sends?.begin();
    this.#host.produce(
      { topic: this.#topic, partition, key: e.key, value },
      binding,
      sends,
    ).then(
      (meta) => {
        w.meta = meta;
        if (!this.#held) this.#checkForeign(partition, meta.offset);
        this.#schedule();
      },
      (error) => {
        // Exactly-once, partition gone while its event was in hand: the
        // change belongs to a transaction that never commits here (the new
        // owner redoes it). Forget it instead of failing the table.
        if (this.#held && error instanceof PartitionRevokedError) {
          this.#forget(partition, (x) => x === w);
        } else this.#fail(error);
      },
    );
  }

  /**
   * Exactly-once: drop the changes of `partitions` that no commit released
   * (their transaction was aborted when the partitions were revoked), so
   * neither reads nor a later release see them.
   */
  discardUnreleased(partitions: Iterable<number>): void {
    if (!this.#held) return;
    for (const p of partitions) {
      const c = this.#cache.get(p);
      if (c !== undefined) {
        this.#cache.delete(p);
        for (const [id, e] of c.changes) {
          this.#cacheBytes -= sizeOf(e);
          if (this.overlay.get(id)?.seq === e.seq) this.overlay.delete(id);
        }
        this.onDiscard?.();
      }
      this.#forget(p, (w) => w.aseq > this.#released);
    }
  }

  #forget(partition: number, match: (w: PendingWrite) => boolean): void {
    const q = this.#queues.get(partition);
    if (q === undefined) return;
    const gone = q.filter(match);
    if (gone.length === 0) return;
    this.#queues.set(partition, q.filter((w) => !match(w)));
    for (const w of gone) {
      if (this.overlay.get(w.id)?.seq === w.seq) this.overlay.delete(w.id);
    }
    this.onDiscard?.();
    this.#wake();
  }

  /** Let every change appended so far reach the store once acked (held mode). */
  release(): void {
    this.#released = this.#aseq;
    if (this.#hasAcked()) this.#schedule();
  }

  /**
   * Append what is cached, then resolve once every change appended before
   * this call is acked and applied to the store (held mode: every released
   * change; unreleased ones wait).
   *
   * @throws {StateError} When a changelog append failed (the changes are not durable).
   */
  async flush(): Promise<void> {
    if (this.#failure === undefined) this.stage();
    let target = this.#held ? this.#released : this.#aseq;
    while (this.#repairs > 0 || !this.#doneThrough(target)) {
      this.#throwIfFailed();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      // A repair started meanwhile belongs to the changes flushed here.
      if (!this.#held) target = Math.max(target, this.#repairedSeq);
    }
    this.#throwIfFailed();
  }

  /**
   * Partitions were revoked: forget where this writer's appends to them
   * stood (their next owner appends there now).
   *
   * @param partitions Changelog partitions.
   */
  forgetPartitions(partitions: Iterable<number>): void {
    for (const p of partitions) this.#known.delete(p);
  }

  /**
   * An own append landed at `offset`: if records lie between it and the
   * last offset known to be this writer's (or recovered), another worker
   * wrote them; repair.
   */
  #checkForeign(partition: number, offset: number): void {
    if (offset < 0 || this.#host.transport === undefined) return;
    const known = Math.max(
      this.#known.get(partition) ?? -1,
      this.#store.persistedOffset(partition) ?? -1,
    );
    this.#known.set(partition, Math.max(known, offset));
    if (offset > known + 1) this.#repair(partition, known + 1, offset);
  }

  /** Append this writer's current values of the keys found in `[from, to)` again. */
  #repair(partition: number, from: number, to: number): void {
    const transport = this.#host.transport!;
    this.#repairs++;
    const run = async () => {
      const keys = new Map<string, Uint8Array>();
      let records = 0;
      let at = from;
      const deadline = Date.now() + REPAIR_LIMIT_MS;
      for (let wait = 500; at < to;) {
        let batch;
        try {
          batch = await transport.read(
            { topic: this.#topic, partition },
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
        }
        at = last.offset + 1;
      }
      if (keys.size === 0) return;
      this.foreign += records;
      this.#host.log.warn(
        "Table {table}: {records} records at {topic}[{partition}] offsets {from} to {to} were not appended by this worker (another worker that lost the partition without knowing yet, or a retried append); appending this worker's values of their {keys} keys again",
        {
          table: this.#table,
          records,
          topic: this.#topic,
          partition,
          from,
          to: to - 1,
          keys: keys.size,
        },
      );
      for (const [id, key] of keys) {
        const pending = this.overlay.get(id);
        const value = pending !== undefined && pending.partition === partition
          ? pending.value
          : this.#store.get(partition, key) ?? null;
        this.write(partition, key, value);
      }
    };
    run().catch((error) => this.#fail(error)).finally(() => {
      this.#repairs--;
      // With the record cache the repair's writes wait in the cache: append
      // them now, so the flush that waits for this repair covers them.
      if (this.#failure === undefined) this.stage();
      this.#repairedSeq = this.#aseq;
      this.#wake();
    });
  }

  /** Flush (when nothing failed) and cancel the timer. */
  async close(): Promise<void> {
    if (this.#failure === undefined) await this.flush();
    await this.#draining;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) {
      throw new StateError(
        `Table "${this.#table}": a changelog append to "${this.#topic}" failed, changes are not durable: ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
  }

  #doneThrough(aseq: number): boolean {
    for (const q of this.#queues.values()) {
      if (q.length > 0 && q[0]!.aseq <= aseq) return false;
    }
    return true;
  }

  #fail(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.#failure === undefined) {
      this.#failure = err;
      this.#host.log.error(
        "Table {table}: changelog append to {topic} failed: {error}",
        { table: this.#table, topic: this.#topic, error: errorLine(err) },
      );
      this.#host.crash(err);
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#draining !== undefined) return;
    // One group commit per turn of the event loop: acks of one producer
    // batch all land in it.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draining = this.#drain().catch((error) => this.#fail(error))
        .finally(() => {
          this.#draining = undefined;
          this.#wake();
          if (this.#hasAcked()) this.#schedule();
        });
    }, 0);
  }

  #ready(w: PendingWrite): boolean {
    return offsetOf(w) >= 0 && (!this.#held || w.aseq <= this.#released);
  }

  #hasAcked(): boolean {
    for (const q of this.#queues.values()) {
      if (q.length > 0 && this.#ready(q[0]!)) return true;
    }
    return false;
  }

  async #drain(): Promise<void> {
    const batches: StoreBatch[] = [];
    const done: PendingWrite[] = [];
    for (const [partition, q] of this.#queues) {
      let n = 0;
      while (n < q.length && this.#ready(q[n]!)) n++;
      if (n === 0) continue;
      const batch = q.splice(0, n);
      const persisted = this.#store.persistedOffset(partition) ?? -1;
      // The highest, not the last: on `local://` a plain send (a write from
      // outside any event) lands before the records of a transaction
      // written earlier but committed later.
      let last = -1;
      for (const w of batch) last = Math.max(last, offsetOf(w));
      if (last > persisted) {
        // A standby follower may already have applied some of them.
        const ops: StoreOp[] = [];
        for (const w of batch) {
          if (offsetOf(w) > persisted) {
            ops.push({ key: w.key, value: w.value });
          }
        }
        batches.push({ partition, ops, offset: last });
      }
      for (const w of batch) done.push(w);
    }
    // Every partition's batch in one store transaction.
    if (batches.length > 0) await applyBatches(this.#store, batches);
    this.#applied += done.length;
    for (const w of done) {
      if (this.overlay.get(w.id)?.seq === w.seq) this.overlay.delete(w.id);
    }
  }
}

/**
 * Apply several partitions' batches: in one store transaction when the
 * store can ({@linkcode Store.applyMany}), else one by one.
 *
 * @param store The store.
 * @param batches One batch per partition.
 */
export async function applyBatches(
  store: Store,
  batches: readonly StoreBatch[],
): Promise<void> {
  if (store.applyMany !== undefined) return await store.applyMany(batches);
  for (const b of batches) await store.apply(b.partition, b.ops, b.offset);
}
