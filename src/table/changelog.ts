/**
 * The table write path. Every change goes to the changelog topic; the store
 * is updated only once the append is acknowledged (then its offset is known),
 * in group commits: changes acked meanwhile are applied in one store
 * transaction (data and offsets together, every partition at once; see
 * `changelog_apply.ts` for when). Until then an in-memory overlay answers
 * reads, so a table reads its own writes. An offset commit waits for the
 * changelog ({@linkcode ChangelogWriter.durable}), not for the store.
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
 * At-least-once: the writer re-appends its values of keys another worker
 * appended in between its own records (see `changelog_repair.ts`).
 *
 * @module
 */
import { errorLine, StateError } from "../errors.ts";
import type { SendBinding } from "../producer/producer.ts";
import type { Store } from "./store.ts";
import { type PendingWrite, StoreApplier } from "./changelog_apply.ts";
import { appendChanges, type AppendContext } from "./changelog_append.ts";
import { Change, type Encoder, keyId } from "./changelog_change.ts";
import { CACHE_MAX_BYTES, RecordCache } from "./changelog_cache.ts";
import { ForeignRepair } from "./changelog_repair.ts";
import type { GenerationFence } from "./changelog_generation.ts";

import type {
  ChangelogHost,
  ChangelogWriterOptions,
} from "./changelog_host.ts";
export type { ChangelogHost, ChangelogWriterOptions };

/**
 * Writes table changes to the changelog and applies acked ones to the store.
 */
export class ChangelogWriter {
  /** Changes not yet in the store, by {@linkcode keyId}. */
  readonly overlay: Map<string, Change> = new Map();
  readonly #table: string;
  readonly #topic: string;
  readonly #store: Store;
  readonly #host: ChangelogHost;
  /** Appends waiting for their ack and the group commit to the store. */
  readonly #applier: StoreApplier;
  /** The record cache (only with `cache`). */
  readonly #cache: RecordCache | undefined;
  #seq = 0;
  /** Last append sequence number handed out. */
  #aseq = 0;
  #waiters: Array<() => void> = [];
  #failure: Error | undefined;
  readonly #held: boolean;
  /** Called when changes are dropped unapplied (reads of them must not be served from caches). */
  onDiscard: (() => void) | undefined;
  /** At-least-once: repairs of records other workers appended in between. */
  readonly #repair: ForeignRepair;
  /** Append sequence number after the last repair's appends (flush waits for them). */
  #repairedSeq = 0;
  /** Whether every append is logged (debug level). */
  readonly #debug: boolean;
  readonly #fence: GenerationFence | undefined;
  readonly #appender: AppendContext;

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
    this.#applier = new StoreApplier(store, this.#held, {
      applied: (done) => {
        for (const w of done) {
          if (this.overlay.get(w.id)?.seq === w.seq) this.overlay.delete(w.id);
        }
      },
      fail: (error) => this.#fail(error),
      wake: () => this.#wake(),
    });
    if (options.cache ?? false) {
      this.#cache = new RecordCache(
        options.cacheMaxBytes ?? CACHE_MAX_BYTES,
        (partition, changes, binding) =>
          this.#append(partition, changes, binding),
      );
    }
    this.#table = table;
    this.#topic = topic;
    this.#store = store;
    this.#host = host;
    this.#fence = options.fence;
    this.#repair = new ForeignRepair({
      table,
      topic,
      log: host.log,
      transport: host.transport,
      persistedOffset: (p) => store.persistedOffset(p),
      stamp: (p) => this.#stamp(p),
      rewrite: (p, keys) => this.#rewrite(p, keys),
      fail: (error) => this.#fail(error),
      ended: () => {
        // With the record cache the repair's writes wait in the cache: append
        // them now, so the flush that waits for this repair covers them.
        if (this.#failure === undefined) this.stage();
        this.#repairedSeq = this.#aseq;
        this.#wake();
      },
    });
    // Hosts in tests may hand a bare logger without `isEnabledFor`.
    this.#debug = host.log.isEnabledFor?.("debug") ?? false;
    this.#appender = this.#appendContext();
  }

  /** Changelog records found appended by another worker, and re-covered. */
  get foreign(): number {
    return this.#repair.foreign;
  }

  /** Changes written and not yet applied to the store (cached ones included). */
  get pending(): number {
    return this.#applier.pending + (this.#cache?.size ?? 0);
  }

  /** Changes applied to the store through this writer. */
  get applied(): number {
    return this.#applier.applied;
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
    const prev = this.overlay.get(id);
    let bound = false;
    let target;
    if (this.#cache !== undefined && this.#held && this.#host.bindSend) {
      // The transaction is chosen now, in the event's context; the append
      // happens at stage(), which the commit runs before it commits.
      const b = this.#host.bindSend();
      b.release();
      bound = true;
      target = b.target;
    }
    if (
      prev !== undefined && this.#cache?.holds(prev, partition, bound, target)
    ) {
      this.#cache.rewrite(prev, ++this.#seq, bytes, decoded, encode);
      return;
    }
    const e = new Change(
      this.#topic,
      partition,
      key,
      id,
      ++this.#seq,
      bytes,
      decoded,
      encode,
    );
    this.overlay.set(id, e);
    if (this.#cache === undefined) this.#append(partition, [e], undefined);
    else this.#cache.put(e, prev, bound, target);
  }

  /**
   * Hand every cached change to the producer (one record per key and
   * partition). The commit calls it before flushing the producer, so the
   * changes of every event it commits are appended (and, exactly-once, in
   * the transaction that commits the offsets).
   */
  stage(): void {
    this.#cache?.stage();
  }

  #append(
    partition: number,
    changes: Change[],
    binding: SendBinding | undefined,
  ): void {
    appendChanges(this.#appender, partition, changes, binding);
  }

  /** What the append path reads and calls of this writer. */
  #appendContext(): AppendContext {
    return {
      table: this.#table,
      topic: this.#topic,
      held: this.#held,
      debug: this.#debug,
      host: this.#host,
      push: (partition, changes) => {
        for (const e of changes) e.aseq = ++this.#aseq;
        this.#applier.pushAll(partition, changes);
      },
      stamp: (partition) => this.#stamp(partition),
      saw: (partition, generation) => this.#fence?.saw(partition, generation),
      landed: (partition, offset) => this.#repair.landed(partition, offset),
      acked: (count) => {
        this.#applier.acked(count);
        this.#wakeSoon();
      },
      forget: (partition, match) => this.#forget(partition, match),
      fail: (error) => this.#fail(error),
    };
  }

  /**
   * Exactly-once: drop the changes of `partitions` that no commit released
   * (their transaction was aborted when the partitions were revoked), so
   * neither reads nor a later release see them.
   */
  discardUnreleased(partitions: Iterable<number>): void {
    if (!this.#held) return;
    for (const p of partitions) {
      const dropped = this.#cache?.discard(p, (id, e) => {
        if (this.overlay.get(id)?.seq === e.seq) this.overlay.delete(id);
      });
      if (dropped === true) this.onDiscard?.();
      const released = this.#applier.released;
      this.#forget(p, (w) => w.aseq > released);
    }
  }

  #forget(partition: number, match: (w: PendingWrite) => boolean): void {
    const gone = this.#applier.forget(partition, match);
    if (gone.length === 0) return;
    for (const w of gone) {
      if (this.overlay.get(w.id)?.seq === w.seq) this.overlay.delete(w.id);
    }
    this.onDiscard?.();
    this.#wake();
  }

  /** Let every change appended so far reach the store once acked (held mode). */
  release(): void {
    this.#applier.release(this.#aseq);
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
    let target = this.#held ? this.#applier.released : this.#aseq;
    this.#applier.urge(target);
    while (this.#repair.running > 0 || !this.#applier.doneThrough(target)) {
      this.#throwIfFailed();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      // A repair started meanwhile belongs to the changes flushed here.
      if (!this.#held) target = Math.max(target, this.#repairedSeq);
      this.#applier.urge(target);
    }
    this.#throwIfFailed();
  }

  /**
   * Append what is cached, then resolve once every change appended before
   * this call is acknowledged by the broker: what an offset commit needs
   * (the changelog holds the changes; the store follows in a later group
   * commit, and a restart replays what it lacks). Exactly-once (held mode):
   * as {@linkcode flush}.
   *
   * @throws {StateError} When a changelog append failed (the changes are not durable).
   */
  async durable(): Promise<void> {
    if (this.#held) return await this.flush();
    if (this.#failure === undefined) this.stage();
    let target = this.#aseq;
    while (this.#repair.running > 0 || !this.#applier.ackedThrough(target)) {
      this.#throwIfFailed();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      // A repair started meanwhile belongs to the changes committed here.
      target = Math.max(target, this.#repairedSeq);
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
    this.#repair.forget(partitions);
  }

  /**
   * Append this writer's current values of `keys` of `partition` again
   * (its records of them must be the changelog's last): a replay found
   * records of a worker that was no longer the owner after this table's
   * own data.
   *
   * @param partition Changelog partition (active here).
   * @param keys Encoded keys by key id.
   */
  reappend(partition: number, keys: ReadonlyMap<string, Uint8Array>): void {
    if (this.#failure !== undefined || keys.size === 0) return;
    this.#host.log.warn(
      "Table {table}: the replay of {topic}[{partition}] left out records of {keys} keys appended by a worker that was no longer the owner; appending this worker's values of them again",
      {
        table: this.#table,
        topic: this.#topic,
        partition,
        keys: keys.size,
      },
    );
    this.#rewrite(partition, keys);
    this.stage();
  }

  /** The generation this worker stamps on `partition` now, if any. */
  #stamp(partition: number): number | undefined {
    const g = this.#host.generation?.();
    if (g === undefined || this.#fence === undefined) return g;
    return this.#fence.stamp(partition, g);
  }

  #rewrite(partition: number, keys: ReadonlyMap<string, Uint8Array>): void {
    for (const [id, key] of keys) {
      const pending = this.overlay.get(id);
      const value = pending !== undefined && pending.partition === partition
        ? pending.value
        : this.#store.get(partition, key) ?? null;
      this.write(partition, key, value);
    }
  }

  /** Flush (when nothing failed) and cancel the timer. */
  async close(): Promise<void> {
    if (this.#failure === undefined) await this.flush();
    await this.#applier.close();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) {
      throw new StateError(
        `Table "${this.#table}": a changelog append to "${this.#topic}" failed, changes are not durable: ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
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

  #wakeQueued = false;

  /** Wake the waiters once the acks of this producer batch are all in. */
  #wakeSoon(): void {
    if (this.#waiters.length === 0 || this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(() => {
      this.#wakeQueued = false;
      this.#wake();
    });
  }
}
