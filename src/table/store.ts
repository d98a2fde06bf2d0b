/**
 * The table store interface. A store keeps, per partition, encoded keys and
 * values plus the offset of the last changelog record applied to that
 * partition. `apply` writes a batch and its offset atomically, so the stored
 * offset never points past data that is missing nor lags data that is there.
 *
 * @module
 */

/**
 * One change: `value === null` deletes the key.
 *
 * @example A change to apply
 * ```ts
 * import type { StoreOp } from "@faust/faust";
 *
 * const encode = (s: string) => new TextEncoder().encode(s);
 * const ops: StoreOp[] = [
 *   { key: encode("a"), value: encode("1") },
 *   { key: encode("b"), value: null }, // deletes "b"
 * ];
 * console.log(ops.length);
 * ```
 */
export interface StoreOp {
  /** Encoded key. */
  readonly key: Uint8Array;
  /** Encoded value, or `null` to delete. */
  readonly value: Uint8Array | null;
}

/**
 * The changes of one partition and the changelog offset they bring it to.
 *
 * @example Two partitions written in one atomic step
 * ```ts
 * import type { Store, StoreBatch } from "@faust/faust";
 *
 * const encode = (s: string) => new TextEncoder().encode(s);
 * const batches: StoreBatch[] = [
 *   { partition: 0, ops: [{ key: encode("a"), value: encode("1") }], offset: 41 },
 *   { partition: 1, ops: [{ key: encode("b"), value: null }], offset: 7 },
 * ];
 * // Stores without applyMany() take the batches one by one.
 * async function write(store: Store): Promise<void> {
 *   if (store.applyMany !== undefined) return await store.applyMany(batches);
 *   for (const b of batches) await store.apply(b.partition, b.ops, b.offset);
 * }
 * console.log(typeof write);
 * ```
 */
export interface StoreBatch {
  /** Partition number. */
  readonly partition: number;
  /** Puts and deletes, applied in order. */
  readonly ops: readonly StoreOp[];
  /** Changelog offset of the last op; never below the stored one. */
  readonly offset: number;
}

/**
 * A table store driver (`memory://`, `lmdb://`).
 *
 * @example Reading any store driver
 * ```ts
 * import type { Store } from "@faust/faust";
 *
 * // Keys of one partition, as text.
 * function keysOf(store: Store, partition: number): string[] {
 *   const decoder = new TextDecoder();
 *   return [...store.entries(partition)].map(([key]) => decoder.decode(key));
 * }
 * console.log(typeof keysOf);
 * ```
 */
export interface Store {
  /** Driver name, e.g. `"lmdb"`. */
  readonly driver: string;
  /** Open files. Called once before any other method. */
  open(): Promise<void>;
  /** Flush and close. Idempotent. */
  close(): Promise<void>;
  /** Value of `key` in `partition`, or `undefined`. */
  get(partition: number, key: Uint8Array): Uint8Array | undefined;
  /**
   * Apply `ops` to `partition` and record `offset` as the last changelog
   * offset applied there, in one atomic write. `offset` never goes
   * backwards: a lower offset than the stored one is a programming error.
   */
  apply(
    partition: number,
    ops: readonly StoreOp[],
    offset: number,
  ): Promise<void>;
  /**
   * Apply several partitions' batches, each as {@linkcode Store.apply}
   * would, all in one atomic write: either every batch and offset is
   * stored or none. Optional: without it they are applied one by one.
   */
  applyMany?(batches: readonly StoreBatch[]): Promise<void>;
  /** Last changelog offset applied to `partition`, or `undefined` when none. */
  persistedOffset(partition: number): number | undefined;
  /** Entries of one partition, in key byte order. */
  entries(partition: number): Iterable<[Uint8Array, Uint8Array]>;
  /** Number of keys in one partition. */
  count(partition: number): number;
  /** Partitions that hold data or an offset. */
  partitions(): number[];
  /** Forget a partition: its data and its offset. */
  dropPartition(partition: number): Promise<void>;
  /** Delete everything, files included (the `reset` command). */
  reset(): Promise<void>;
}

/**
 * Options every store factory receives.
 *
 * @example Where a table's files go
 * ```ts
 * import type { StoreOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("store-options");
 * const options: StoreOptions = { table: "counts", tabledir: app.conf.tabledir };
 * console.log(`${options.tabledir}/${options.table}`);
 * ```
 */
export interface StoreOptions {
  /** Table name. */
  readonly table: string;
  /** Directory for table files: `{datadir}/v{version}/tables`. */
  readonly tabledir: string;
}
