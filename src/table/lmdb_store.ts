/**
 * The `lmdb://` table store (npm `lmdb`, a Node-API addon: needs FFI, which
 * `-A` grants). One LMDB environment per table, a directory at
 * `{tabledir}/{table}.lmdb`, or `{PATH}/{table}.lmdb` for `lmdb://PATH`
 * (`lmdb:///abs/dir` or `lmdb://relative/dir`). Inside it, one named
 * database per partition (`p{n}`: raw key bytes -> raw value bytes) and one
 * (`offsets`) holding the last changelog offset applied per partition.
 *
 * `apply` writes a batch and its offset in one LMDB transaction (`applyMany`
 * several partitions' batches and offsets in one), so after any
 * crash the stored offset and the data agree. Commits are not fsynced one by
 * one (a killed process loses nothing that was committed; a machine crash may
 * lose the last commits, never consistency); `close()` waits for the flush.
 *
 * @module
 */

import { open as openLmdb, TransactionFlags } from "lmdb";
import { resolve } from "node:path";
import { ClosedError, ConfigError } from "../errors.ts";
import { privateDir, privateFiles } from "../util/private_files.ts";
import {
  assertOffsetForward,
  assertStoreKey,
  MAX_STORE_KEY_BYTES,
} from "./memory_store.ts";
import type { Store, StoreBatch, StoreOp, StoreOptions } from "./store.ts";

type RootDb = ReturnType<typeof openLmdb>;
type Db = ReturnType<RootDb["openDB"]>;

/**
 * `transactionSync` flags: abortable, committed before returning, without
 * waiting for the disk flush. Chosen over `await env.transaction(() =>
 * put(...))` because a throw inside that async form does NOT abort: writes
 * made before the throw are committed (checked with lmdb 3.5.6), which would
 * break "data and offset together". Speed: with random keys the sync form
 * was as fast or faster in every alternating round (bench/store_bench.ts);
 * with sequential keys the async form sometimes won (2 busy shared cores).
 */
const TXN_FLAGS = TransactionFlags.ABORTABLE |
  TransactionFlags.SYNCHRONOUS_COMMIT |
  TransactionFlags.NO_SYNC_FLUSH;

/** Named databases per environment; bounds the number of partitions (one is for offsets). */
const MAX_DBS = 1024;

const OFFSETS_DB = "offsets";

/** One environment shared by every LmdbStore of this process on one path. */
interface SharedEnv {
  readonly env: RootDb;
  readonly offsets: Db;
  readonly data: Map<number, Db>;
  refs: number;
}

const environments = new Map<string, SharedEnv>();

/**
 * The environment directory for a store URL.
 *
 * @param url `lmdb://`, `lmdb:///abs/dir` or `lmdb://relative/dir`.
 * @param options Table name and default table directory.
 * @returns The absolute path of the table's environment directory.
 */
export function lmdbPath(url: string, options: StoreOptions): string {
  if (!url.startsWith("lmdb://")) {
    throw new ConfigError(
      `Invalid setting "store": "${url}"; expected lmdb://[path]`,
    );
  }
  // Parsed by hand: new URL("lmdb://data/x") would read "data" as a host.
  const rest = url.slice("lmdb://".length);
  const dir = rest === "" ? options.tabledir : rest;
  return resolve(dir, `${options.table}.lmdb`);
}

function acquire(path: string): SharedEnv {
  const existing = environments.get(path);
  if (existing !== undefined) {
    existing.refs++;
    return existing;
  }
  privateDir(path);
  privateFiles(`${path}/data.mdb`, `${path}/lock.mdb`);
  const env = openLmdb({
    path,
    maxDbs: MAX_DBS,
    keyEncoding: "binary",
    noSubdir: false,
  });
  // Processes killed while reading leave stale reader slots behind.
  env.readerCheck();
  const offsets = env.openDB({
    name: OFFSETS_DB,
    keyEncoding: "uint32",
    encoding: "ordered-binary",
  });
  const shared: SharedEnv = { env, offsets, data: new Map(), refs: 1 };
  // The root database lists the named databases ("p3" + NUL terminator).
  for (const name of env.getKeys()) {
    const m = /^p(\d+)\0?$/.exec(new TextDecoder().decode(name as Uint8Array));
    if (m !== null) openPartition(shared, Number(m[1]));
  }
  environments.set(path, shared);
  return shared;
}

async function release(path: string, shared: SharedEnv): Promise<boolean> {
  shared.refs--;
  if (shared.refs > 0) return false;
  environments.delete(path);
  await shared.env.flushed;
  await shared.env.close();
  return true;
}

function openPartition(shared: SharedEnv, partition: number): Db {
  let db = shared.data.get(partition);
  if (db === undefined) {
    db = shared.env.openDB({
      name: `p${partition}`,
      keyEncoding: "binary",
      encoding: "binary",
    });
    shared.data.set(partition, db);
  }
  return db;
}

/** A Uint8Array view of a Node Buffer (same memory, plain prototype). */
function view(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A {@linkcode Store} on LMDB. Environments are shared per path within a
 * process and reference-counted: the last `close()` closes the environment.
 * {@linkcode LmdbStore.reset} clears the table and removes its files when no
 * other store of this process has them open; the store is then closed.
 */
export class LmdbStore implements Store {
  /** Driver name. */
  readonly driver = "lmdb";
  #table: string;
  #path: string;
  #shared: SharedEnv | undefined;

  /**
   * Create a store; nothing is opened until {@linkcode LmdbStore.open}.
   *
   * @param url `lmdb://[path]`.
   * @param options Table name and default table directory.
   */
  constructor(url: string, options: StoreOptions) {
    this.#table = options.table;
    this.#path = lmdbPath(url, options);
  }

  /** Absolute path of the environment directory. */
  get path(): string {
    return this.#path;
  }

  /** Open (or share) the environment. */
  open(): Promise<void> {
    if (this.#shared === undefined) this.#shared = acquire(this.#path);
    return Promise.resolve();
  }

  /** Flush and close; the environment closes with its last user. Idempotent. */
  async close(): Promise<void> {
    const shared = this.#shared;
    if (shared === undefined) return;
    this.#shared = undefined;
    await release(this.#path, shared);
  }

  /**
   * Value of `key` in `partition` (synchronous read).
   *
   * @param partition Partition number.
   * @param key Encoded key.
   * @returns The value bytes, or `undefined` when absent.
   */
  get(partition: number, key: Uint8Array): Uint8Array | undefined {
    const db = this.#open().data.get(partition);
    // LMDB rejects such keys outright; they can never be stored.
    if (
      db === undefined || key.length === 0 || key.length > MAX_STORE_KEY_BYTES
    ) return undefined;
    const value = db.get(key) as Uint8Array | undefined;
    return value === undefined ? undefined : view(value);
  }

  /**
   * Apply `ops` and record `offset` in one LMDB transaction.
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
   * Apply several partitions' batches and record their offsets, all in one
   * LMDB transaction.
   *
   * @param batches Per partition: puts and deletes, and the changelog
   *   offset of the last op (never below the stored one).
   */
  applyMany(batches: readonly StoreBatch[]): Promise<void> {
    try {
      const shared = this.#open();
      const dbs: Db[] = [];
      for (const { partition, ops, offset } of batches) {
        assertOffsetForward(
          this.#table,
          partition,
          offset,
          this.persistedOffset(partition),
        );
        for (const op of ops) assertStoreKey(this.#table, op.key);
        // Created outside the write transaction: opening nests a transaction.
        dbs.push(openPartition(shared, partition));
      }
      shared.env.transactionSync(() => {
        batches.forEach(({ partition, ops, offset }, i) => {
          // Checked again inside: the transaction is the authority.
          assertOffsetForward(
            this.#table,
            partition,
            offset,
            shared.offsets.get(partition) as number | undefined,
          );
          const db = dbs[i]!;
          for (const op of ops) {
            if (op.value === null) db.removeSync(op.key);
            else db.putSync(op.key, op.value);
          }
          shared.offsets.putSync(partition, offset);
        });
      }, TXN_FLAGS);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Last offset applied to `partition`.
   *
   * @param partition Partition number.
   * @returns The offset, or `undefined` when none was applied.
   */
  persistedOffset(partition: number): number | undefined {
    return this.#open().offsets.get(partition) as number | undefined;
  }

  /**
   * Entries of one partition in key byte order, read lazily from one snapshot.
   *
   * @param partition Partition number.
   * @returns `[key, value]` pairs.
   */
  entries(partition: number): Iterable<[Uint8Array, Uint8Array]> {
    const db = this.#open().data.get(partition);
    if (db === undefined) return [];
    return db.getRange().map(({ key, value }) =>
      [view(key as Uint8Array), view(value as Uint8Array)] as [
        Uint8Array,
        Uint8Array,
      ]
    );
  }

  /**
   * Number of keys in one partition.
   *
   * @param partition Partition number.
   * @returns The key count.
   */
  count(partition: number): number {
    const db = this.#open().data.get(partition);
    return db === undefined ? 0 : db.getCount();
  }

  /**
   * Partitions that hold data or an offset, ascending.
   *
   * @returns Partition numbers.
   */
  partitions(): number[] {
    const shared = this.#open();
    const all = new Set<number>();
    for (const p of shared.offsets.getKeys()) all.add(p as number);
    for (const [p, db] of shared.data) {
      if (!all.has(p) && db.getCount() > 0) all.add(p);
    }
    return [...all].sort((a, b) => a - b);
  }

  /**
   * Forget a partition's data and offset, in one transaction.
   *
   * @param partition Partition number.
   */
  dropPartition(partition: number): Promise<void> {
    try {
      const shared = this.#open();
      const db = shared.data.get(partition);
      shared.env.transactionSync(() => {
        db?.clearSync();
        shared.offsets.removeSync(partition);
      }, TXN_FLAGS);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Delete the table: its data, offsets and, when no other store of this
   * process uses the environment, its files. Leaves this store closed.
   */
  async reset(): Promise<void> {
    if (this.#shared === undefined) {
      // Not open here: the files can go unless another store holds them.
      if (environments.has(this.#path)) await this.open();
      else return await removeFiles(this.#path);
    }
    const shared = this.#open();
    shared.env.transactionSync(() => {
      for (const db of shared.data.values()) db.clearSync();
      shared.offsets.clearSync();
    }, TXN_FLAGS);
    this.#shared = undefined;
    if (await release(this.#path, shared)) await removeFiles(this.#path);
  }

  #open(): SharedEnv {
    const shared = this.#shared;
    if (shared === undefined) {
      throw new ClosedError(
        `Table store "${this.#path}" of table "${this.#table}" is closed`,
      );
    }
    return shared;
  }
}

async function removeFiles(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
