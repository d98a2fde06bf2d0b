/**
 * The table store interface. A store keeps, per partition, encoded keys and
 * values plus the offset of the last changelog record applied to that
 * partition. `apply` writes a batch and its offset atomically, so the stored
 * offset never points past data that is missing nor lags data that is there.
 *
 * @module
 */

/** One change: `value === null` deletes the key. */
export interface StoreOp {
  /** Encoded key. */
  readonly key: Uint8Array;
  /** Encoded value, or `null` to delete. */
  readonly value: Uint8Array | null;
}

/** The changes of one partition and the changelog offset they bring it to. */
export interface StoreBatch {
  /** Partition number. */
  readonly partition: number;
  /** Puts and deletes, applied in order. */
  readonly ops: readonly StoreOp[];
  /** Changelog offset of the last op; never below the stored one. */
  readonly offset: number;
}

/** A table store driver (`memory://`, `lmdb://`). */
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

/** Options every store factory receives. */
export interface StoreOptions {
  /** Table name. */
  readonly table: string;
  /** Directory for table files: `{datadir}/v{version}/tables`. */
  readonly tabledir: string;
}
