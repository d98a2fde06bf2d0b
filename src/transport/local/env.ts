/**
 * The `local://` broker's LMDB environment: one per path per process,
 * reference-counted, so every transport of the process on one path shares
 * the same open environment and doorbell.
 *
 * Databases of `{path}/broker.lmdb`:
 * - `records`: chunk key (tp id u32 + last offset u64) -> chunk bytes (codec.ts)
 * - `topics`: topic name -> {@linkcode TopicMeta}
 * - `marks`: tp id (u32) -> high-water mark
 * - `groups`: [groupId, topic, partition] -> committed offset
 * - `seq`: "tp" -> next free tp id (ids are never reused)
 *
 * @module
 */
import { type Database, open, type RootDatabase } from "lmdb";
import { Doorbell } from "./doorbell.ts";
import { privateDir, privateFiles } from "../../util/private_files.ts";

/** What the broker stores about a topic. */
export interface TopicMeta {
  /** Partition count. */
  readonly partitions: number;
  /** Id of partition 0; partition p has id `base + p`. */
  readonly base: number;
  /** Keep only the latest value per key. */
  readonly compacting?: boolean;
  /** Delete by retention even when compacting. */
  readonly deleting?: boolean;
  /** Retention in milliseconds. */
  readonly retentionMs?: number;
  /** Creation time, ms since the epoch. */
  readonly created: number;
}

/** An open broker environment shared inside the process. */
export interface BrokerEnv {
  /** Broker directory. */
  readonly path: string;
  /** The LMDB root. */
  readonly root: RootDatabase;
  /** Record chunks. */
  readonly records: Database<Uint8Array, Uint8Array>;
  /** Topic metadata. */
  readonly topics: Database<TopicMeta, string>;
  /** High-water marks by tp id. */
  readonly marks: Database<number, number>;
  /** Committed offsets. */
  readonly groups: Database<number, [string, string, number]>;
  /** Counters. */
  readonly seq: Database<number, string>;
  /** Cross-process wake-ups. */
  readonly doorbell: Doorbell;
}

interface Entry {
  env: BrokerEnv;
  refs: number;
}

const opened = new Map<string, Entry>();

/**
 * Open (or share) the environment of a broker directory.
 *
 * @param path Absolute broker directory; created when missing.
 * @param sync Flush at each commit (the first opener of a path in the process decides).
 * @returns The shared environment; give it back with {@linkcode releaseEnv}.
 */
export function acquireEnv(path: string, sync = true): BrokerEnv {
  const entry = opened.get(path);
  if (entry !== undefined) {
    entry.refs++;
    return entry.env;
  }
  privateDir(path);
  privateDir(`${path}/groups`);
  privateFiles(`${path}/broker.lmdb`, `${path}/broker.lmdb-lock`);
  const root = open({
    path: `${path}/broker.lmdb`,
    noSubdir: true,
    maxDbs: 8,
    noSync: !sync,
    // Off, because with it a process killed by kill -9 can crash the other,
    // healthy processes of the broker. lmdb-js's `overlappingSync` (its
    // default) commits without fsync and then fsyncs under a second robust
    // mutex shared through the lock file (the "sync mutex"). A process killed
    // while holding it (during its fsync) leaves it owner-dead. The next
    // process that locks it while its own write transaction is still open
    // (lmdb-js does that for a commit whose dirty pages times the number of
    // transactions since its last sync exceed 500: typically a producer that
    // writes now and then next to a busy worker) gets EOWNERDEAD, and LMDB's
    // dead-owner recovery, written for the writer mutex, reads "a write
    // transaction of mine is open" as "the dead owner was this process": it
    // marks the environment fatal and returns MDB_PANIC ("Update of meta page
    // failed or environment had fatal error", then "Commit failed"). Every
    // later transaction of that process fails. Without overlappingSync each
    // commit fsyncs inside the writer mutex, whose dead-owner recovery runs
    // before a transaction is open and is safe.
    // tests/transport/local/kill_test.ts kills a busy writer inside its
    // commit (holding the sync mutex, when one is used) and checks that the
    // other process keeps writing.
    overlappingSync: false,
  });
  // Readers of killed processes would pin old pages forever.
  root.readerCheck();
  const env: BrokerEnv = {
    path,
    root,
    records: root.openDB<Uint8Array, Uint8Array>({
      name: "records",
      encoding: "binary",
      keyEncoding: "binary",
    }),
    topics: root.openDB<TopicMeta, string>({ name: "topics" }),
    marks: root.openDB<number, number>({
      name: "marks",
      keyEncoding: "uint32",
    }),
    groups: root.openDB<number, [string, string, number]>({ name: "groups" }),
    seq: root.openDB<number, string>({ name: "seq" }),
    doorbell: new Doorbell(`${path}/doorbell`, lastTxnId(root)),
  };
  opened.set(path, { env, refs: 1 });
  return env;
}

/**
 * The last committed transaction id of an environment, read from its meta
 * pages (so commits of other processes count), or `undefined` when this
 * lmdb-js does not expose it (its native environment's `info()`).
 */
function lastTxnId(root: RootDatabase): (() => number) | undefined {
  const native = (root as unknown as { env?: { info?: () => unknown } }).env;
  if (typeof native?.info !== "function") return undefined;
  const info = native.info.bind(native);
  const probe = (info() as { lastTxnId?: unknown }).lastTxnId;
  if (typeof probe !== "number") return undefined;
  return () => {
    try {
      return (info() as { lastTxnId: number }).lastTxnId;
    } catch {
      return NaN; // Closed: equal to nothing, so a file event still wakes.
    }
  };
}

/**
 * Give back an environment; the last release closes it and its doorbell.
 *
 * @param env An environment from {@linkcode acquireEnv}.
 */
export async function releaseEnv(env: BrokerEnv): Promise<void> {
  const entry = opened.get(env.path);
  if (entry === undefined || entry.env !== env) return;
  if (--entry.refs > 0) return;
  opened.delete(env.path);
  await env.doorbell.close();
  await env.root.close();
  // lmdb-js renews its read transaction with a 0 ms timer; let it run.
  await new Promise((resolve) => setTimeout(resolve, 0));
}
