/**
 * The store half of the table write path: changes handed to the producer
 * wait here, per changelog partition in append order, until acked; then
 * group commits apply all acked changes (every partition) in one store
 * transaction, data and offsets together. With `held` (exactly-once) an
 * acked change waits also for its release (its transaction committed).
 *
 * A group commit runs when a flush waits for it, when
 * {@linkcode APPLY_BATCH} changes were acked since the last one, or
 * {@linkcode APPLY_DELAY_MS} after the first ack, whichever comes first,
 * and writes the last change of each key only. The store may lag the
 * changelog (reads are served from the writer's overlay meanwhile, and a
 * restart replays the changelog from the store's offset): an offset commit
 * needs the changelog records acknowledged ({@linkcode
 * StoreApplier.ackedThrough}), not the store written. With Faust's default
 * `brokerCommitEvery` (10,000) and the record cache, every commit appends
 * each changed key once; applying each commit's changes at once cost one
 * store write per key and commit (measured on local://, 10,000 keys: about
 * 1.5-2 µs each, more than the rest of the count per event).
 *
 * @module
 */
import type { Landed } from "./changelog_change.ts";
import type { Store, StoreBatch, StoreOp } from "./store.ts";

/** A change handed to the producer and not yet in the store. */
export interface PendingWrite {
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
  meta: Landed | undefined;
}

/** What the applier reports to its writer. */
export interface ApplierHooks {
  /**
   * These writes reached the store (the last of each key: the others were
   * superseded by them).
   */
  applied(done: readonly PendingWrite[]): void;
  /** A store transaction failed. */
  fail(error: unknown): void;
  /** Something was applied or forgotten (flushes re-check). */
  wake(): void;
}

/**
 * Acked changes that make a group commit run without waiting for its delay.
 * A group commit writes each key once, however often it changed: fewer of
 * them, fewer store writes. With the default `brokerCommitEvery` (10,000)
 * a commit appends about one record per event when keys repeat less often
 * than every 10,000 events (then the record cache merges nothing), so at
 * 50,000 the count of 10,000 keys on local:// ran four group commits of
 * 10,000 writes per 200,000 events; now about one a second (its delay).
 */
export const APPLY_BATCH = 200_000;

/** Longest wait (ms) of an acked change for its group commit, unless a flush asks sooner. */
export const APPLY_DELAY_MS = 1000;

/** A partition's waiting changes. */
interface Queue {
  /** In the order they were produced (= offset order). */
  writes: PendingWrite[];
  /** How many from the start are known to be acked. */
  acked: number;
}

/** Changelog offset of a write, -1 while not known. */
function offsetOf(w: PendingWrite): number {
  return w.meta?.offset ?? -1;
}

/** Applies acked changes to the store in group commits. */
export class StoreApplier {
  /** Per partition, appends in the order they were produced (= offset order). */
  readonly #queues = new Map<number, Queue>();
  readonly #store: Store;
  readonly #held: boolean;
  readonly #hooks: ApplierHooks;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether `#timer` runs the group commit at once (not after its delay). */
  #timerSoon = false;
  #draining: Promise<void> | undefined;
  /** Acks since the last group commit began. */
  #acks = 0;
  /** A flush waits for the changes up to this append sequence number (0: none). */
  #urgentThrough = 0;
  #applied = 0;
  /** Held mode: appends up to this append sequence number may reach the store. */
  #released = 0;

  /**
   * Create an applier.
   *
   * @param store The open store.
   * @param held Apply only released changes (exactly-once).
   * @param hooks Reports to the writer.
   */
  constructor(store: Store, held: boolean, hooks: ApplierHooks) {
    this.#store = store;
    this.#held = held;
    this.#hooks = hooks;
  }

  /** Changes waiting for their ack, release or group commit. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.writes.length;
    return n;
  }

  /** Changes applied to the store. */
  get applied(): number {
    return this.#applied;
  }

  /** Held mode: the append sequence number released last. */
  get released(): number {
    return this.#released;
  }

  /**
   * A change was handed to the producer (in offset order per partition).
   *
   * @param partition Changelog partition.
   * @param w The change; its `meta` is set on the ack, then call {@linkcode acked}.
   */
  push(partition: number, w: PendingWrite): void {
    this.#queue(partition).writes.push(w);
  }

  /**
   * {@linkcode push} for several changes of one partition, in order.
   *
   * @param partition Changelog partition.
   * @param ws The changes.
   */
  pushAll(partition: number, ws: readonly PendingWrite[]): void {
    const writes = this.#queue(partition).writes;
    for (const w of ws) writes.push(w);
  }

  #queue(partition: number): Queue {
    let q = this.#queues.get(partition);
    if (q === undefined) {
      this.#queues.set(partition, q = { writes: [], acked: 0 });
    }
    return q;
  }

  /**
   * Appends were acked (their `meta` set): group-commit in time.
   *
   * @param count How many.
   */
  acked(count = 1): void {
    this.#acks += count;
    this.#schedule();
  }

  /**
   * Whether every change up to append sequence number `aseq` was acked or
   * left the queues (its changelog record is durable; it may still wait
   * for the store).
   *
   * @param aseq Append sequence number.
   * @returns `true` when none of them waits for its ack.
   */
  ackedThrough(aseq: number): boolean {
    for (const q of this.#queues.values()) {
      const ws = q.writes;
      let i = q.acked;
      while (i < ws.length && ws[i]!.meta !== undefined) i++;
      q.acked = i;
      if (i < ws.length && ws[i]!.aseq <= aseq) return false;
    }
    return true;
  }

  /**
   * A flush waits for the changes up to `aseq`: group-commit them as soon
   * as they are acked (and released), without the delay.
   *
   * @param aseq Append sequence number.
   */
  urge(aseq: number): void {
    if (aseq <= this.#urgentThrough || this.doneThrough(aseq)) return;
    this.#urgentThrough = aseq;
    if (this.#hasAcked()) this.#schedule();
  }

  /**
   * Let every change up to append sequence number `aseq` reach the store
   * once acked (held mode).
   *
   * @param aseq Append sequence number.
   */
  release(aseq: number): void {
    this.#released = aseq;
    if (this.#hasAcked()) this.#schedule();
  }

  /**
   * Drop the waiting changes of `partition` that `match`.
   *
   * @param partition Changelog partition.
   * @param match Which to drop.
   * @returns The dropped changes.
   */
  forget(
    partition: number,
    match: (w: PendingWrite) => boolean,
  ): PendingWrite[] {
    const q = this.#queues.get(partition);
    if (q === undefined) return [];
    const gone = q.writes.filter(match);
    if (gone.length > 0) {
      q.writes = q.writes.filter((w) => !match(w));
      q.acked = 0;
    }
    return gone;
  }

  /**
   * Whether every change up to append sequence number `aseq` left the queues.
   *
   * @param aseq Append sequence number.
   * @returns `true` when none is waiting.
   */
  doneThrough(aseq: number): boolean {
    for (const q of this.#queues.values()) {
      if (q.writes.length > 0 && q.writes[0]!.aseq <= aseq) return false;
    }
    return true;
  }

  /** Wait for a group commit under way and cancel the timer. */
  async close(): Promise<void> {
    await this.#draining;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    // A group commit under way schedules the next one when it ends.
    if (this.#draining !== undefined) return;
    const soon = this.#urgentThrough > 0 || this.#acks >= APPLY_BATCH;
    if (this.#timer !== undefined) {
      if (this.#timerSoon || !soon) return;
      clearTimeout(this.#timer);
    }
    this.#timerSoon = soon;
    // At the soonest in a later turn of the event loop: the acks of one
    // producer batch all land in one group commit.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#acks = 0;
      this.#draining = this.#drain().catch((error) => this.#hooks.fail(error))
        .finally(() => {
          this.#draining = undefined;
          if (this.doneThrough(this.#urgentThrough)) this.#urgentThrough = 0;
          this.#hooks.wake();
          if (this.#hasAcked()) this.#schedule();
        });
    }, soon ? 0 : APPLY_DELAY_MS);
  }

  #ready(w: PendingWrite): boolean {
    return offsetOf(w) >= 0 && (!this.#held || w.aseq <= this.#released);
  }

  #hasAcked(): boolean {
    for (const q of this.#queues.values()) {
      if (q.writes.length > 0 && this.#ready(q.writes[0]!)) return true;
    }
    return false;
  }

  async #drain(): Promise<void> {
    const batches: StoreBatch[] = [];
    /** The last change of each key per partition: the others were superseded. */
    const done: PendingWrite[] = [];
    let drained = 0;
    for (const [partition, q] of this.#queues) {
      const ws = q.writes;
      let n = 0;
      while (n < ws.length && this.#ready(ws[n]!)) n++;
      if (n === 0) continue;
      let batch = ws;
      if (n === ws.length) q.writes = [];
      else batch = ws.splice(0, n);
      q.acked = Math.max(0, q.acked - n);
      drained += n;
      const persisted = this.#store.persistedOffset(partition) ?? -1;
      // The last change of each key only (the batch may span several
      // commits); a standby follower may already have applied some. The
      // highest offset, not the last: on `local://` a plain send (a write
      // from outside any event) lands before the records of a transaction
      // written earlier but committed later.
      const ops: StoreOp[] = [];
      const seen = new Set<string>();
      let last = -1;
      for (let i = n - 1; i >= 0; i--) {
        const w = batch[i]!;
        const offset = offsetOf(w);
        if (offset > last) last = offset;
        if (seen.has(w.id)) continue;
        seen.add(w.id);
        done.push(w);
        if (offset > persisted) ops.push({ key: w.key, value: w.value });
      }
      if (last > persisted) {
        ops.reverse();
        batches.push({ partition, ops, offset: last });
      }
    }
    // Every partition's batch in one store transaction.
    if (batches.length > 0) await applyBatches(this.#store, batches);
    this.#applied += drained;
    this.#hooks.applied(done);
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
