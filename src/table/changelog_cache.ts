/**
 * The changelog record cache: between two commits a table keeps only the
 * last change per key and partition, and appends those at the commit (as
 * Kafka Streams' record cache does), so a key updated many times costs one
 * changelog record per commit.
 *
 * @module
 */
import type { SendBinding, SendTarget } from "../producer/producer.ts";
import type { Change, Encoder } from "./changelog_change.ts";

/** Default byte bound of the record cache (Kafka Streams' default too). */
export const CACHE_MAX_BYTES = 10 * 1024 * 1024;

/** Hands changes of one partition to the producer. */
export type AppendChanges = (
  partition: number,
  changes: Change[],
  binding: SendBinding | undefined,
) => void;

/** Changes of one partition waiting in the record cache (one stage window). */
interface CachedPartition {
  /**
   * The last change per key, in order of the key's first change within the
   * window; a change's `slot` is its index here.
   */
  readonly changes: Change[];
  /** Where the changes go (exactly-once: the partition's transaction). */
  binding: SendBinding | undefined;
  /**
   * Whether a key may be here twice: it was written from another partition
   * in between, so the key's latest change was not this window's (rare;
   * the stage then keeps the last change of each key).
   */
  dupes: boolean;
}

const NO_RELEASE = () => {};

/**
 * The last change per key and partition, until {@linkcode RecordCache.stage}.
 * A change replaces the cached one of its key in place when the key's
 * latest change (`prev`, the writer's overlay entry) waits in the same
 * partition's window: one array slot per key, no Map of its own.
 */
export class RecordCache {
  readonly #parts = new Map<number, CachedPartition>();
  readonly #maxBytes: number;
  readonly #append: AppendChanges;
  #bytes = 0;

  /**
   * Create a cache.
   *
   * @param maxBytes Bytes of keys and values above which everything is staged early.
   * @param append Hands a change to the producer (at stage time).
   */
  constructor(maxBytes: number, append: AppendChanges) {
    this.#maxBytes = maxBytes;
    this.#append = append;
  }

  /** Changes cached. */
  get size(): number {
    let n = 0;
    for (const c of this.#parts.values()) n += c.changes.length;
    return n;
  }

  /**
   * Keep `change` as the last one of its key.
   *
   * @param change The change.
   * @param prev The key's latest change before it (the overlay's), if any.
   * @param bound Whether `target` was chosen (exactly-once).
   * @param target The transaction the change belongs to: a change bound to
   *   another target than the partition's cached ones stages those first.
   */
  put(
    change: Change,
    prev: Change | undefined,
    bound: boolean,
    target: SendTarget | undefined,
  ): void {
    const partition = change.partition;
    let c = this.#parts.get(partition);
    if (c === undefined) {
      c = { changes: [], binding: undefined, dupes: false };
      this.#parts.set(partition, c);
    }
    if (bound && (c.binding === undefined || c.binding.target !== target)) {
      if (c.changes.length > 0) {
        this.#stagePartition(partition, c);
        c = { changes: [], binding: undefined, dupes: false };
        this.#parts.set(partition, c);
      }
      c.binding = { target, release: NO_RELEASE };
    }
    if (prev !== undefined && prev.cachedIn === c) {
      // The key's latest change waits here: replace it in place.
      this.#bytes -= prev.size;
      prev.cachedIn = undefined;
      change.slot = prev.slot;
      c.changes[prev.slot] = change;
    } else {
      // A latest change cached for another partition may hide an older one
      // of this key here.
      if (prev?.cachedIn !== undefined) c.dupes = true;
      change.slot = c.changes.length;
      c.changes.push(change);
    }
    change.cachedIn = c;
    this.#bytes += change.size;
    if (this.#bytes > this.#maxBytes) this.stage();
  }

  /**
   * Whether `prev`, the key's latest change, waits unstaged in
   * `partition`'s window and a write bound to `target` goes where that
   * window goes (exactly-once: the same transaction): then a later write
   * of the key can {@linkcode RecordCache.rewrite} it.
   */
  holds(
    prev: Change,
    partition: number,
    bound: boolean,
    target: SendTarget | undefined,
  ): boolean {
    // Staged already (the common case when keys repeat less often than
    // the commits come): no lookup.
    if (prev.cachedIn === undefined) return false;
    const c = this.#parts.get(partition);
    if (c === undefined || prev.cachedIn !== c) return false;
    return !bound || (c.binding !== undefined && c.binding.target === target);
  }

  /** Give `change`, which the cache {@linkcode RecordCache.holds}, a later write's value. */
  rewrite(
    change: Change,
    seq: number,
    bytes: Uint8Array | null | undefined,
    decoded: unknown,
    encode: Encoder | undefined,
  ): void {
    this.#bytes -= change.size;
    change.rewrite(seq, bytes, decoded, encode);
    this.#bytes += change.size;
    if (this.#bytes > this.#maxBytes) this.stage();
  }

  /** Hand every cached change to the producer (one record per key and partition). */
  stage(): void {
    if (this.#parts.size === 0) return;
    for (const [partition, c] of this.#parts) {
      this.#stagePartition(partition, c);
    }
    this.#parts.clear();
    this.#bytes = 0;
  }

  #stagePartition(partition: number, c: CachedPartition): void {
    let changes = c.changes;
    for (const e of changes) {
      this.#bytes -= e.size;
      e.cachedIn = undefined;
    }
    if (c.dupes) changes = lastPerKey(changes);
    this.#append(partition, changes, c.binding);
  }

  /**
   * Drop the cached changes of `partition` without appending them.
   *
   * @param partition Changelog partition.
   * @param dropped Called for each dropped change.
   * @returns Whether anything was cached for it.
   */
  discard(
    partition: number,
    dropped: (id: string, change: Change) => void,
  ): boolean {
    const c = this.#parts.get(partition);
    if (c === undefined) return false;
    this.#parts.delete(partition);
    for (const e of c.changes) {
      this.#bytes -= e.size;
      e.cachedIn = undefined;
      dropped(e.id, e);
    }
    return true;
  }
}

/** The last change of each key, each where the key's first one was. */
function lastPerKey(changes: readonly Change[]): Change[] {
  const at = new Map<string, number>();
  const out: Change[] = [];
  for (const e of changes) {
    const i = at.get(e.id);
    if (i === undefined) {
      at.set(e.id, out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}
