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
import type {
  ProduceRecord,
  RecordMetadata,
  Transport,
} from "../transport/transport.ts";
import type { Store, StoreOp } from "./store.ts";

/** What the writer needs from the app. */
export interface ChangelogHost {
  /** Logger. */
  readonly log: Logger;
  /** Append through the app's batching producer. */
  produce(record: ProduceRecord): Promise<RecordMetadata>;
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
  /** Per partition, the highest changelog offset known to hold this writer's data (own ack or store). */
  readonly #known = new Map<number, number>();
  /** Repairs of foreign appends under way. */
  #repairs = 0;
  /** Write sequence number after the last repair's writes (flush waits for them). */
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
    let target = this.#held ? this.#released : this.#seq;
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
      this.#repairedSeq = this.#seq;
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
