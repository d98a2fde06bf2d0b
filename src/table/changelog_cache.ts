/**
 * The changelog record cache: between two commits a table keeps only the
 * last change per key and partition, and appends those at the commit (as
 * Kafka Streams' record cache does), so a key updated many times costs one
 * changelog record per commit.
 *
 * @module
 */
import type { SendBinding, SendTarget } from "../producer/producer.ts";
import type { Change } from "./changelog_change.ts";

/** Default byte bound of the record cache (Kafka Streams' default too). */
export const CACHE_MAX_BYTES = 10 * 1024 * 1024;

/** Hands changes of one partition to the producer. */
export type AppendChanges = (
  partition: number,
  changes: Change[],
  binding: SendBinding | undefined,
) => void;

/** Changes of one partition waiting in the record cache. */
interface CachedPartition {
  /** Last change per key id, in order of first change within the window. */
  readonly changes: Map<string, Change>;
  /** Where the changes go (exactly-once: the partition's transaction). */
  binding: SendBinding | undefined;
}

const NO_RELEASE = () => {};

/** The last change per key and partition, until {@linkcode RecordCache.stage}. */
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
    for (const c of this.#parts.values()) n += c.changes.size;
    return n;
  }

  /**
   * Keep `change` as the last one of its key.
   *
   * @param id Key id of the change.
   * @param change The change.
   * @param bound Whether `target` was chosen (exactly-once).
   * @param target The transaction the change belongs to: a change bound to
   *   another target than the partition's cached ones stages those first.
   */
  put(
    id: string,
    change: Change,
    bound: boolean,
    target: SendTarget | undefined,
  ): void {
    const partition = change.partition;
    let c = this.#parts.get(partition);
    if (c === undefined) {
      c = { changes: new Map(), binding: undefined };
      this.#parts.set(partition, c);
    }
    if (bound && (c.binding === undefined || c.binding.target !== target)) {
      if (c.changes.size > 0) this.#stagePartition(partition, c);
      c.binding = { target, release: NO_RELEASE };
    }
    const old = c.changes.get(id);
    if (old !== undefined) this.#bytes -= old.size;
    c.changes.set(id, change);
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
    const changes: Change[] = [];
    for (const e of c.changes.values()) {
      this.#bytes -= e.size;
      changes.push(e);
    }
    c.changes.clear();
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
    for (const [id, e] of c.changes) {
      this.#bytes -= e.size;
      dropped(id, e);
    }
    return true;
  }
}
