/**
 * Transactions of the `local://` broker, for `processingGuarantee:
 * "exactly_once"`.
 *
 * Every topic of a broker lives in one LMDB environment, so a transaction
 * needs no log markers: its records and consumer offsets wait in memory and
 * {@linkcode LocalTransactionalProducer.commit} writes them in ONE LMDB
 * write transaction (flushed to disk unless `sync=false`). Until then nothing
 * of it is in the log, so no reader sees uncommitted records; a process that
 * dies (even by `kill -9`) leaves nothing behind, and a commit interrupted by
 * a crash is either whole or absent (LMDB's atomic commit).
 *
 * Fencing: the group claim (claim.ts) lets one process consume a group, and
 * only that process commits the group's offsets; a dead owner's open
 * transactions died with its memory. No transactional id has to be fenced.
 *
 * Offsets: a record gets its offset only when the transaction commits (other
 * processes may append to the same partitions meanwhile). `send` resolves at
 * once, so an agent that awaits a send does not wait for the commit (which
 * itself waits for that agent); its metadata carries offset -1 until the
 * commit, which then sets the offset of those same metadata objects.
 *
 * @module
 */
import { ConfigError, StateError } from "../../errors.ts";
import { tpString } from "../../util/types.ts";
import type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TransactionalProducer,
} from "../transport.ts";
import type { BrokerEnv } from "./env.ts";
import { append, getTopic } from "./log.ts";

/** Metadata whose offset the commit fills in. */
interface Placeholder {
  readonly topic: string;
  readonly partition: number;
  offset: number;
  readonly timestamp: number;
}

/** What a local transactional producer needs from its transport. */
export interface LocalTransactionContext {
  /** Shared environment. */
  readonly env: BrokerEnv;
  /** Broker URL, for messages. */
  readonly url: string;
  /** Partitions of auto-created topics. */
  readonly defaultPartitions: number;
  /** Whether the transport is still open (a stopped one cannot commit). */
  readonly check: (what: string) => void;
}

/** A transaction on the `local://` broker: staged in memory, committed in one LMDB transaction. */
export class LocalTransactionalProducer implements TransactionalProducer {
  readonly #ctx: LocalTransactionContext;
  readonly #id: string;
  #open = false;
  #closed = false;
  #records: ProduceRecord[] = [];
  #metas: Placeholder[] = [];
  /** Offsets per group, then per topic-partition (a later sendOffsets wins). */
  #offsets = new Map<string, Map<string, CommitOffset>>();

  /**
   * @param ctx Environment and settings of the transport.
   * @param transactionalId Its id (for messages).
   */
  constructor(ctx: LocalTransactionContext, transactionalId: string) {
    this.#ctx = ctx;
    this.#id = transactionalId;
  }

  #current(what: string): void {
    if (this.#closed) {
      throw new StateError(
        `Cannot ${what}: transactional producer "${this.#id}" on ${this.#ctx.url} is closed`,
      );
    }
    if (!this.#open) {
      throw new StateError(
        `Cannot ${what}: transactional producer "${this.#id}" has no open transaction; call begin()`,
      );
    }
  }

  /** Start a transaction. */
  begin(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new StateError(
          `Cannot begin: transactional producer "${this.#id}" on ${this.#ctx.url} is closed`,
        ),
      );
    }
    if (this.#open) {
      return Promise.reject(
        new StateError(
          `Cannot begin: transactional producer "${this.#id}" already has an open transaction`,
        ),
      );
    }
    this.#open = true;
    return Promise.resolve();
  }

  /**
   * Stage records in the transaction. Resolves at once with metadata whose
   * offset is -1; the commit sets the offsets of these objects.
   */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    try {
      this.#current("send");
      this.#validate(records);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = Date.now();
    const out: Placeholder[] = [];
    for (const r of records) {
      const timestamp = r.timestamp ?? now;
      this.#records.push(
        r.timestamp === undefined ? withTimestamp(r, timestamp) : r,
      );
      const meta: Placeholder = {
        topic: r.topic,
        partition: r.partition,
        offset: -1,
        timestamp,
      };
      this.#metas.push(meta);
      out.push(meta);
    }
    return Promise.resolve(out);
  }

  /**
   * Refuse a record for a partition its topic does not have now, as a plain
   * send would: found only at the commit, it would fail the whole
   * transaction (and crash the worker on every retry).
   */
  #validate(records: readonly ProduceRecord[]): void {
    const counts = new Map<string, number>();
    for (const r of records) {
      let n = counts.get(r.topic);
      if (n === undefined) {
        const { env } = this.#ctx;
        let meta = getTopic(env, r.topic);
        if (meta === undefined) {
          // Another process may have created it since our read snapshot.
          env.root.resetReadTxn();
          meta = getTopic(env, r.topic);
        }
        n = meta?.partitions ?? this.#ctx.defaultPartitions;
        counts.set(r.topic, n);
      }
      if (
        !Number.isInteger(r.partition) || r.partition < 0 || r.partition >= n
      ) {
        throw new ConfigError(
          `Cannot send to partition ${r.partition} of topic "${r.topic}": ` +
            `the topic has ${n} partitions (0 to ${n - 1})`,
        );
      }
    }
  }

  /** Stage consumer offsets (next offset to read) in the transaction. */
  sendOffsets(
    groupId: string,
    offsets: readonly CommitOffset[],
  ): Promise<void> {
    try {
      this.#current("sendOffsets");
      for (const o of offsets) {
        if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
          throw new RangeError(
            `Cannot commit offset ${o.offset} for ${
              tpString(o)
            } in transaction "${this.#id}": expected an integer >= 0`,
          );
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    let group = this.#offsets.get(groupId);
    if (group === undefined) this.#offsets.set(groupId, group = new Map());
    for (const o of offsets) group.set(tpString(o), o);
    return Promise.resolve();
  }

  /**
   * Write the staged records and offsets in one LMDB write transaction,
   * then set the offsets of the metadata `send` returned. On failure
   * nothing was written and the transaction is closed (as aborted).
   */
  async commit(): Promise<void> {
    this.#current("commit");
    this.#ctx.check("commit a transaction");
    const records = this.#records;
    const metas = this.#metas;
    const offsets = this.#offsets;
    this.#reset();
    const { env } = this.#ctx;
    const placed = await append(
      env,
      records,
      this.#ctx.defaultPartitions,
      () => {
        for (const [group, byTp] of offsets) {
          for (const o of byTp.values()) {
            env.groups.putSync([group, o.topic, o.partition], o.offset);
          }
        }
      },
    );
    placed.forEach((m, i) => metas[i]!.offset = m.offset);
  }

  /** Drop the staged records and offsets. */
  abort(): Promise<void> {
    try {
      this.#current("abort");
    } catch (error) {
      return Promise.reject(error);
    }
    this.#reset();
    return Promise.resolve();
  }

  #reset(): void {
    this.#open = false;
    this.#records = [];
    this.#metas = [];
    this.#offsets = new Map();
  }

  /** Close; an open transaction is dropped. Idempotent. */
  close(): Promise<void> {
    this.#reset();
    this.#closed = true;
    return Promise.resolve();
  }
}

/**
 * `r` with `timestamp`, its fields read one by one: a record may be an
 * object whose fields are getters (a table change is its own changelog
 * record), which a spread would leave out.
 */
function withTimestamp(r: ProduceRecord, timestamp: number): ProduceRecord {
  const { topic, partition, key, value, headers } = r;
  return headers === undefined
    ? { topic, partition, key, value, timestamp }
    : { topic, partition, key, value, headers, timestamp };
}
