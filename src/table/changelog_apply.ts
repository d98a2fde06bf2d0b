/**
 * The store half of the table write path: changes handed to the producer
 * wait here, per changelog partition in append order, until acked; then
 * group commits apply all acked changes (every partition) in one store
 * transaction, data and offsets together. With `held` (exactly-once) an
 * acked change waits also for its release (its transaction committed).
 *
 * @module
 */
import type { RecordMetadata } from "../transport/transport.ts";
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
  meta: RecordMetadata | undefined;
}

/** What the applier reports to its writer. */
export interface ApplierHooks {
  /** These writes reached the store. */
  applied(done: readonly PendingWrite[]): void;
  /** A store transaction failed. */
  fail(error: unknown): void;
  /** Something was applied or forgotten (flushes re-check). */
  wake(): void;
}

/** Changelog offset of a write, -1 while not known. */
function offsetOf(w: PendingWrite): number {
  return w.meta?.offset ?? -1;
}

/** Applies acked changes to the store in group commits. */
export class StoreApplier {
  /** Per partition, appends in the order they were produced (= offset order). */
  readonly #queues = new Map<number, PendingWrite[]>();
  readonly #store: Store;
  readonly #held: boolean;
  readonly #hooks: ApplierHooks;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #draining: Promise<void> | undefined;
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
    for (const q of this.#queues.values()) n += q.length;
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
    let q = this.#queues.get(partition);
    if (q === undefined) this.#queues.set(partition, q = []);
    q.push(w);
  }

  /** An append was acked: group-commit soon. */
  acked(): void {
    this.#schedule();
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
    const gone = q.filter(match);
    if (gone.length > 0) {
      this.#queues.set(partition, q.filter((w) => !match(w)));
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
      if (q.length > 0 && q[0]!.aseq <= aseq) return false;
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
    if (this.#timer !== undefined || this.#draining !== undefined) return;
    // One group commit per turn of the event loop: acks of one producer
    // batch all land in it.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draining = this.#drain().catch((error) => this.#hooks.fail(error))
        .finally(() => {
          this.#draining = undefined;
          this.#hooks.wake();
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
