/**
 * The table write path. Every change goes to the changelog topic; the store
 * is updated only once the append is acknowledged (then its offset is known),
 * in group commits: all changes acked since the last commit of a partition
 * are applied with one {@linkcode Store.apply} (data and offset in one LMDB
 * transaction). Until then an in-memory overlay answers reads, so a table
 * reads its own writes.
 *
 * With `held` (exactly-once), acked changes wait for {@linkcode
 * ChangelogWriter.release} (called once the transaction that carries
 * them committed): an aborted transaction never reaches the store.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { errorLine, PartitionRevokedError, StateError } from "../errors.ts";
import type { ProduceRecord, RecordMetadata } from "../transport/transport.ts";
import type { Store, StoreOp } from "./store.ts";

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
  /** Append through the app's batching producer. */
  produce(record: ProduceRecord): Promise<RecordMetadata>;
  /** Stop the app: a change could not be made durable. */
  crash(error: Error): void;
}

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

interface PendingWrite {
  readonly id: string;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  readonly seq: number;
  /**
   * Where the append landed, once acked. Read at apply time, not at the ack:
   * a `local://` transaction acks with offset -1 and sets the offset when it
   * commits (held mode applies only after that).
   */
  meta: RecordMetadata | undefined;
}

/** Changelog offset of a write, -1 while not known. */
function offsetOf(w: PendingWrite): number {
  return w.meta?.offset ?? -1;
}

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
  /** Per partition, writes in the order they were produced (= offset order). */
  readonly #queues = new Map<number, PendingWrite[]>();
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #draining: Promise<void> | undefined;
  #waiters: Array<() => void> = [];
  #failure: Error | undefined;
  #applied = 0;
  readonly #held: boolean;
  #released = 0;

  /**
   * Create a writer.
   *
   * @param table Table name (for messages).
   * @param topic Changelog topic.
   * @param store The open store.
   * @param host Producer, logger and crash.
   * @param held Apply acked changes only up to the last {@linkcode release}.
   */
  constructor(
    table: string,
    topic: string,
    store: Store,
    host: ChangelogHost,
    held = false,
  ) {
    this.#held = held;
    this.#table = table;
    this.#topic = topic;
    this.#store = store;
    this.#host = host;
  }

  /** Changes written and not yet applied to the store. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** Changes applied to the store through this writer. */
  get applied(): number {
    return this.#applied;
  }

  /**
   * Write one change: into the overlay now, to the changelog, and to the
   * store once acked.
   *
   * @param partition Changelog partition (the current event's).
   * @param key Encoded key.
   * @param value Encoded value, or `null` to delete.
   * @throws {StateError} When an earlier changelog append failed.
   */
  write(partition: number, key: Uint8Array, value: Uint8Array | null): void {
    if (this.#failure !== undefined) {
      throw new StateError(
        `Cannot write to table "${this.#table}": an earlier changelog append to "${this.#topic}" failed: ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
    const seq = ++this.#seq;
    const id = keyId(key);
    const w: PendingWrite = { id, key, value, seq, meta: undefined };
    this.overlay.set(id, { partition, key, value, seq });
    let q = this.#queues.get(partition);
    if (q === undefined) this.#queues.set(partition, q = []);
    q.push(w);
    this.#host.produce({ topic: this.#topic, partition, key, value }).then(
      (meta) => {
        w.meta = meta;
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
      this.#forget(p, (w) => w.seq > this.#released);
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
    this.#wake();
  }

  /** Let every change written so far reach the store once acked (held mode). */
  release(): void {
    this.#released = this.#seq;
    if (this.#hasAcked()) this.#schedule();
  }

  /**
   * Resolve once every change written before this call is acked and applied
   * to the store (held mode: every released change; unreleased ones wait).
   *
   * @throws {StateError} When a changelog append failed (the changes are not durable).
   */
  async flush(): Promise<void> {
    const target = this.#held ? this.#released : this.#seq;
    while (!this.#doneThrough(target)) {
      this.#throwIfFailed();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#throwIfFailed();
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

  #doneThrough(seq: number): boolean {
    for (const q of this.#queues.values()) {
      if (q.length > 0 && q[0]!.seq <= seq) return false;
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
    return offsetOf(w) >= 0 && (!this.#held || w.seq <= this.#released);
  }

  #hasAcked(): boolean {
    for (const q of this.#queues.values()) {
      if (q.length > 0 && this.#ready(q[0]!)) return true;
    }
    return false;
  }

  async #drain(): Promise<void> {
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
        await this.#store.apply(partition, ops, last);
      }
      this.#applied += batch.length;
      for (const w of batch) {
        if (this.overlay.get(w.id)?.seq === w.seq) this.overlay.delete(w.id);
      }
    }
  }
}
