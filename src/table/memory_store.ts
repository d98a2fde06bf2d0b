/**
 * The `memory://` table store: everything lives in Maps and is lost when the
 * process ends. Used by tests and apps that rebuild their tables from the
 * changelog on every start.
 *
 * @module
 */

import { ClosedError, StateError } from "../errors.ts";
import type { Store, StoreBatch, StoreOp, StoreOptions } from "./store.ts";
// One char per byte: equal for equal bytes, and string order is byte order
// (the key order a store iterates in).
import { keyId as byteString } from "./changelog_change.ts";

/**
 * Longest key accepted, in bytes. LMDB's limit; the memory store enforces it
 * too so that an app tested on `memory://` does not fail later on `lmdb://`.
 */
export const MAX_STORE_KEY_BYTES = 1978;

/**
 * Throw when `key` cannot be stored (empty, or longer than
 * {@linkcode MAX_STORE_KEY_BYTES}).
 *
 * @param table Table name, for the message.
 * @param key Encoded key.
 */
export function assertStoreKey(table: string, key: Uint8Array): void {
  if (key.length === 0 || key.length > MAX_STORE_KEY_BYTES) {
    throw new RangeError(
      `Table "${table}": key of ${key.length} bytes cannot be stored; keys must be 1 to ${MAX_STORE_KEY_BYTES} bytes`,
    );
  }
}

/**
 * Throw when `offset` would move a partition's stored offset backwards.
 *
 * @param table Table name, for the message.
 * @param partition Partition number.
 * @param offset Offset being applied.
 * @param stored Offset stored now, if any.
 */
export function assertOffsetForward(
  table: string,
  partition: number,
  offset: number,
  stored: number | undefined,
): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(
      `Table "${table}" partition ${partition}: offset ${offset} is not a non-negative integer`,
    );
  }
  if (stored !== undefined && offset < stored) {
    throw new StateError(
      `Table "${table}" partition ${partition}: offset ${offset} is below the stored offset ${stored}; offsets never go backwards`,
    );
  }
}

/** Compare two byte-strings by code unit (JS `<` on strings does exactly that). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One partition's data: byte-string of the key -> [key bytes, value bytes]. */
type PartitionData = Map<string, [Uint8Array, Uint8Array]>;

/**
 * A {@linkcode Store} kept in memory. Keys are compared by their bytes.
 * Stored keys and values are copies, so callers may reuse their buffers.
 * After {@linkcode MemoryStore.reset} the store is empty and closed, like
 * the LMDB store; `open()` makes it usable again.
 */
export class MemoryStore implements Store {
  /** Driver name. */
  readonly driver = "memory";
  #table: string;
  #data = new Map<number, PartitionData>();
  #offsets = new Map<number, number>();
  #open = false;

  /**
   * Create an empty store.
   *
   * @param options Table name (the directory is not used).
   */
  constructor(options: StoreOptions) {
    this.#table = options.table;
  }

  /** Open the store (nothing to load). */
  open(): Promise<void> {
    this.#open = true;
    return Promise.resolve();
  }

  /** Close the store. The data stays in this object. Idempotent. */
  close(): Promise<void> {
    this.#open = false;
    return Promise.resolve();
  }

  /**
   * Value of `key` in `partition`.
   *
   * @param partition Partition number.
   * @param key Encoded key.
   * @returns The value bytes, or `undefined` when absent.
   */
  get(partition: number, key: Uint8Array): Uint8Array | undefined {
    this.#assertOpen();
    return this.#data.get(partition)?.get(byteString(key))?.[1];
  }

  /**
   * Apply `ops` and record `offset`, all or nothing.
   *
   * @param partition Partition number.
   * @param ops Puts and deletes, applied in order.
   * @param offset Changelog offset of the last op; never below the stored one.
   */
  apply(
    partition: number,
    ops: readonly StoreOp[],
    offset: number,
  ): Promise<void> {
    return this.applyMany([{ partition, ops, offset }]);
  }

  /**
   * Apply several partitions' batches, all or nothing.
   *
   * @param batches Per partition: puts and deletes, and the changelog
   *   offset of the last op (never below the stored one).
   */
  applyMany(batches: readonly StoreBatch[]): Promise<void> {
    try {
      this.#assertOpen();
      // Validate everything first so that a bad batch changes nothing.
      for (const { partition, ops, offset } of batches) {
        assertOffsetForward(
          this.#table,
          partition,
          offset,
          this.#offsets.get(partition),
        );
        for (const op of ops) assertStoreKey(this.#table, op.key);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    for (const { partition, ops, offset } of batches) {
      let data = this.#data.get(partition);
      if (data === undefined) {
        data = new Map();
        this.#data.set(partition, data);
      }
      for (const op of ops) {
        const k = byteString(op.key);
        if (op.value === null) data.delete(k);
        else data.set(k, [op.key.slice(), op.value.slice()]);
      }
      this.#offsets.set(partition, offset);
    }
    return Promise.resolve();
  }

  /**
   * Last offset applied to `partition`.
   *
   * @param partition Partition number.
   * @returns The offset, or `undefined` when none was applied.
   */
  persistedOffset(partition: number): number | undefined {
    this.#assertOpen();
    return this.#offsets.get(partition);
  }

  /**
   * Entries of one partition in key byte order (a snapshot).
   *
   * @param partition Partition number.
   * @returns `[key, value]` pairs.
   */
  entries(partition: number): Iterable<[Uint8Array, Uint8Array]> {
    this.#assertOpen();
    const data = this.#data.get(partition);
    if (data === undefined) return [];
    const keys = [...data.keys()].sort(compareStrings);
    return keys.map((k) => data.get(k)!);
  }

  /**
   * Number of keys in one partition.
   *
   * @param partition Partition number.
   * @returns The key count.
   */
  count(partition: number): number {
    this.#assertOpen();
    return this.#data.get(partition)?.size ?? 0;
  }

  /**
   * Partitions that hold data or an offset, ascending.
   *
   * @returns Partition numbers.
   */
  partitions(): number[] {
    this.#assertOpen();
    const all = new Set(this.#offsets.keys());
    for (const [p, data] of this.#data) if (data.size > 0) all.add(p);
    return [...all].sort((a, b) => a - b);
  }

  /**
   * Forget a partition's data and offset.
   *
   * @param partition Partition number.
   */
  dropPartition(partition: number): Promise<void> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#data.delete(partition);
    this.#offsets.delete(partition);
    return Promise.resolve();
  }

  /** Delete everything and leave the store closed. */
  reset(): Promise<void> {
    this.#data.clear();
    this.#offsets.clear();
    this.#open = false;
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (!this.#open) {
      throw new ClosedError(
        `Table store "memory://" of table "${this.#table}" is closed`,
      );
    }
  }
}
