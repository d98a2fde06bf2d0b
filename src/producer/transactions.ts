/**
 * Exactly-once processing (`processingGuarantee: "exactly_once"`, on
 * `kafka://` and `local://`):
 * one transactional producer per assigned source partition number, with
 * the transactional id `{appId}-eos-{partition}`. Everything an event of
 * partition P produces (sends, table changelog writes, replies) goes into
 * P's open transaction, and P's offsets commit inside it, so outputs,
 * table changes and progress become visible together or not at all.
 *
 * Why per partition: kafkajs commits offsets in a transaction without the
 * group generation (TxnOffsetCommit v1, no KIP-447), so only a
 * transactional id tied to the partition fences a zombie: when partition P
 * moves, its new owner initialises `{appId}-eos-P`, which aborts whatever
 * the old owner left open and refuses its later writes. (On `local://` the
 * group claim already lets one process commit; its transactions stage in
 * memory and commit in one LMDB write transaction each.)
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { actorContext } from "../delivery/actor_context.ts";
import type { Event } from "../delivery/event.ts";
import {
  ConfigError,
  errorLine,
  PartitionRevokedError,
  StateError,
} from "../errors.ts";
import type { SendTarget } from "./producer.ts";
import type {
  CommitOffset,
  ProduceRecord,
  TransactionalProducer,
  Transport,
} from "../transport/transport.ts";
import { type TP, tpKey } from "../util/types.ts";

interface Open {
  readonly partition: number;
  readonly tx: TransactionalProducer;
  readonly target: SendTarget;
  /**
   * Sends, commits and the close of this transaction, in order: a send
   * that arrives while a commit runs waits for the next transaction
   * instead of finding none open.
   */
  chain: Promise<unknown>;
  /** Whether anything was sent in the current transaction. */
  dirty: boolean;
  /** Sends bound to this transaction that have not reached the producer yet. */
  holds: number;
  /** Woken when `holds` drops to 0. */
  idle: (() => void)[];
  /** Revoked: later sends are refused. */
  closed: boolean;
  /**
   * A send into the current transaction failed: it must not commit (its
   * events' offsets would commit without that output).
   */
  failed: unknown;
  /** Steps queued or running on `chain` (for the stall report). */
  steps: Step[];
}

/** A step on a transaction's chain: what, when queued, when it started. */
interface Step {
  readonly what: string;
  readonly queued: number;
  started?: number;
}

/** Transactions per source partition number. */
export class TransactionManager {
  readonly #transport: Transport;
  readonly #appId: string;
  readonly #log: Logger;
  readonly #open = new Map<number, Open>();
  /** Whether events of a topic are transactional (the consumed ones). */
  readonly #consumes: (topic: string) => boolean;
  /** Whether an event belongs to the current assignment of its partition. */
  readonly #current: (event: Event) => boolean;
  /** How long one step (a send, a commit, the close) may run: see the constructor. */
  readonly #stepLimitMs: number;
  /** Per source partition (`tpKey`), the highest offset a transaction of this process committed. */
  readonly #committed = new Map<string, number>();

  /**
   * @param transport A transport that supports transactions.
   * @param appId The app id (group id and transactional id prefix).
   * @param log Logger.
   * @param consumes Whether the app's consumer reads a topic.
   * @param current Whether an event belongs to the current assignment of
   *   its partition (not one still in hand from before a revocation).
   * @param stepLimitMs How long a step of a transaction (a send, a commit,
   *   the close) may run before it counts as stuck: the transaction is then
   *   failed (logged with what every transaction is doing) so that the next
   *   commit restarts it from the committed offsets, instead of the
   *   partition stalling without end.
   * @throws {ConfigError} When the transport has no transactions.
   */
  constructor(
    transport: Transport,
    appId: string,
    log: Logger,
    consumes: (topic: string) => boolean,
    current: (event: Event) => boolean = () => true,
    stepLimitMs = 120_000,
  ) {
    if (transport.createTransactionalProducer === undefined) {
      throw new ConfigError(
        `processingGuarantee "exactly_once" needs a broker with transactions (kafka:// or local://), but broker "${transport.url}" (${transport.driver}) has none; use "at_least_once"`,
      );
    }
    this.#transport = transport;
    this.#appId = appId;
    this.#log = log;
    this.#consumes = consumes;
    this.#current = current;
    this.#stepLimitMs = stepLimitMs;
  }

  /**
   * The highest offset of `tp` a transaction of this process committed
   * (the broker acknowledged its commit), or undefined. A broker that
   * acknowledged a commit can still fail to apply its offsets to the group
   * while its records are committed (Kafka after a kill -9 of a single
   * broker can skip the commit marker of `__consumer_offsets`): the group
   * then reports an older offset than the one committed with the records.
   */
  committedOffset(tp: TP): number | undefined {
    return this.#committed.get(tpKey(tp));
  }

  /** Partition numbers with an open transaction. */
  get partitions(): number[] {
    return [...this.#open.keys()].sort((a, b) => a - b);
  }

  /**
   * Where a record sent now goes: the transaction of the current event's
   * partition. An event of a consumed topic whose partition has no
   * transaction here (revoked while the event was in hand) gets a target
   * that refuses the send: writing it outside a transaction would make it
   * visible although the event's offset never commits. So does an event
   * from before the partition was revoked and assigned here again (or its
   * transaction restarted): the partition's new transaction commits
   * offsets from which that event is read and processed again.
   */
  route(): SendTarget | undefined {
    const event = actorContext()?.event;
    if (event === undefined || event.offset < 0) return undefined;
    if (!this.#consumes(event.topic)) return undefined;
    if (!this.#current(event)) return refusing(event.partition);
    return this.#open.get(event.partition)?.target ??
      refusing(event.partition);
  }

  /** Resolves once every send bound to a transaction has reached the producer. */
  async handedOver(): Promise<void> {
    for (const open of this.#open.values()) {
      while (open.holds > 0) {
        await new Promise<void>((resolve) => open.idle.push(resolve));
      }
    }
  }

  /** Open a transaction for each new partition number (fencing older owners). */
  async assign(partitions: Iterable<number>): Promise<void> {
    for (const p of new Set(partitions)) {
      if (this.#open.has(p)) continue;
      const id = `${this.#appId}-eos-${p}`;
      const tx = await this.#transport.createTransactionalProducer!(id);
      await tx.begin();
      const open: Open = {
        partition: p,
        tx,
        chain: Promise.resolve(),
        dirty: false,
        holds: 0,
        idle: [],
        closed: false,
        failed: undefined,
        steps: [],
        target: {
          send: (records: readonly ProduceRecord[]) => {
            if (open.closed) return refusing(p).send(records);
            // A step of this transaction got stuck: it never commits, and
            // another call into its producer would run beside the stuck one.
            if (open.failed instanceof TransactionStalledError) {
              return Promise.reject(open.failed);
            }
            open.dirty = true;
            return this.#step(
              open,
              `send of ${records.length} records`,
              () => tx.send(records),
            ).catch((e) => {
              open.failed ??= e;
              // Another worker initialised this partition's transactional
              // id: it owns the partition now, and our transaction is dead.
              if (fenced(e)) {
                throw new PartitionRevokedError(
                  `Cannot send exactly once for an event of partition ${p}: another worker took the partition over (transactional id "${id}" fenced); it processes the event again`,
                  { cause: e },
                );
              }
              if (e instanceof PartitionRevokedError) throw e;
              // Any other failure (e.g. the broker unreachable for longer
              // than the client retries): the transaction never commits
              // (`failed` above) and restarts from the committed offsets, so
              // the events are processed again; what they wrote is not lost.
              throw new TransactionFailedError(
                `Cannot send exactly once for an event of partition ${p}: the send into its transaction failed (${
                  errorLine(e)
                }); the transaction does not commit, and its events are processed again from the committed offset when it restarts`,
                { cause: e },
              );
            });
          },
          hold: () => {
            open.holds++;
            let released = false;
            return () => {
              if (released) return;
              released = true;
              if (--open.holds === 0) {
                for (const w of open.idle.splice(0)) w();
              }
            };
          },
        },
      };
      this.#open.set(p, open);
      this.#log.debug("Opened transactional producer {id}", { id });
    }
  }

  /** Run `fn` after everything queued on the transaction; a failure does not block later steps. */
  #step<T>(open: Open, what: string, fn: () => Promise<T>): Promise<T> {
    const step: Step = { what, queued: performance.now() };
    open.steps.push(step);
    const run = open.chain.then(() => {
      step.started = performance.now();
      return this.#bounded(open, what, fn());
    }).finally(() => {
      const i = open.steps.indexOf(step);
      if (i >= 0) open.steps.splice(i, 1);
    });
    open.chain = run.catch(() => {});
    return run;
  }

  /**
   * `running`, or a {@linkcode TransactionStalledError} once it has run for
   * the step limit: the transaction is marked failed (it never commits; the
   * next commit restarts every transaction from the committed offsets) and
   * the chain goes on. What the stuck call does later is ignored.
   */
  #bounded<T>(open: Open, what: string, running: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TransactionStalledError(
          `Transaction of partition ${open.partition}: ${what} has not completed after ${
            this.#stepLimitMs / 1000
          } s; the transaction is abandoned (it never commits) and restarted from the committed offsets`,
        );
        open.failed ??= error;
        this.#log.error("{error}; transactions: {state}", {
          error: error.message,
          state: this.describe(),
        });
        reject(error);
      }, this.#stepLimitMs);
    });
    running.catch(() => {});
    return Promise.race([running, stalled]).finally(() => clearTimeout(timer));
  }

  /**
   * What each open transaction is doing, for a stall report: sends not yet
   * handed to the producer, the steps queued or running on it (with their
   * age) and the producer's own state.
   */
  describe(): string {
    const now = performance.now();
    const age = (t: number) => `${((now - t) / 1000).toFixed(1)} s`;
    const parts: string[] = [];
    for (const open of this.#open.values()) {
      const steps = open.steps.map((s) =>
        s.started === undefined
          ? `${s.what} queued ${age(s.queued)}`
          : `${s.what} running ${age(s.started)}`
      );
      parts.push(
        `partition ${open.partition}: ${open.holds} sends not handed over, ${
          open.dirty ? "dirty" : "clean"
        }${open.failed === undefined ? "" : ", failed"}${
          open.closed ? ", closed" : ""
        }, steps [${steps.join("; ")}], producer ${
          open.tx.describe?.() ?? "?"
        }`,
      );
    }
    return parts.length === 0 ? "no open transactions" : parts.join(" | ");
  }

  /**
   * Commit, per partition number, the offsets given (all topics of that
   * number) and what was sent, then open the next transaction. Callers
   * flush the producer first so every send has reached its transaction.
   *
   * @param groupId Consumer group of the offsets.
   * @param offsets Next offsets to read.
   */
  async commit(
    groupId: string,
    offsets: readonly CommitOffset[],
  ): Promise<void> {
    const byPartition = new Map<number, CommitOffset[]>();
    for (const o of offsets) {
      let list = byPartition.get(o.partition);
      if (list === undefined) byPartition.set(o.partition, list = []);
      list.push(o);
    }
    for (const p of byPartition.keys()) {
      if (!this.#open.has(p)) {
        throw new ConfigError(
          `Cannot commit offsets of partition ${p} exactly once: this worker has no transaction for it`,
        );
      }
    }
    // The partitions' commits run side by side: on `local://` they land in
    // one LMDB write transaction and one flush (lmdb-js batches the
    // transactions queued together), on Kafka each producer commits its own.
    // Each stays atomic for its partition (its offsets and its records).
    const commits: Promise<void>[] = [];
    let failure: unknown;
    for (const open of this.#open.values()) {
      const mine = byPartition.get(open.partition) ?? [];
      if (mine.length === 0 && !open.dirty) continue;
      if (open.failed !== undefined) {
        failure = new StateError(
          `Cannot commit the transaction of partition ${open.partition}: a send into it failed (${
            errorLine(open.failed)
          })`,
          { cause: open.failed },
        );
        break;
      }
      commits.push(this.#step(open, "commit", async () => {
        if (mine.length > 0) await open.tx.sendOffsets(groupId, mine);
        await open.tx.commit();
        for (const o of mine) {
          const k = tpKey(o);
          this.#committed.set(
            k,
            Math.max(this.#committed.get(k) ?? -1, o.offset),
          );
        }
        this.#log.debug(
          "Committed transaction of partition {p}: offsets {offsets}, dirty {dirty}",
          {
            p: open.partition,
            offsets: mine.map((o) => `${o.topic}[${o.partition}]@${o.offset}`)
              .join(","),
            dirty: open.dirty,
          },
        );
        open.dirty = false;
        await open.tx.begin();
      }));
    }
    // Settle every commit started before reporting the first failure.
    for (const r of await Promise.allSettled(commits)) {
      if (r.status === "rejected") failure ??= r.reason;
    }
    if (failure !== undefined) throw failure;
  }

  /** Close the producers of partitions that left (their open transactions abort). */
  async revoke(partitions: Iterable<number>): Promise<void> {
    for (const p of new Set(partitions)) {
      const open = this.#open.get(p);
      if (open === undefined) continue;
      this.#open.delete(p);
      open.closed = true;
      await this.#step(open, "close", () => open.tx.close()).catch((e) => {
        // Logged by #bounded; the next owner's producer fences this one.
        if (!(e instanceof TransactionStalledError)) throw e;
      });
    }
  }

  /** Close every producer. */
  async close(): Promise<void> {
    await this.revoke([...this.#open.keys()]);
  }
}

/**
 * A step of a transaction did not complete within the step limit. Like a
 * revocation for what the events of that transaction produced: it never
 * commits, and the events are processed again (here, after the restart).
 */
class TransactionStalledError extends PartitionRevokedError {
  constructor(message: string) {
    super(message);
    this.name = "TransactionStalledError";
  }
}

/**
 * A send into a transaction failed: like a revocation for what the events
 * of that transaction produced (it never commits; they are processed
 * again after the restart).
 */
class TransactionFailedError extends PartitionRevokedError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransactionFailedError";
  }
}

/** Whether kafkajs failed because a newer producer fenced this one. */
function fenced(e: unknown): boolean {
  for (let err = e, depth = 0; err != null && depth < 10; depth++) {
    const type = (err as { type?: unknown }).type;
    if (
      type === "INVALID_PRODUCER_EPOCH" || type === "PRODUCER_FENCED" ||
      type === "INVALID_TXN_STATE"
    ) {
      return true;
    }
    err = (err as { cause?: unknown }).cause;
  }
  return false;
}

/** A target for events of partition `p` after it left this worker. */
function refusing(p: number): SendTarget {
  return {
    send: () =>
      Promise.reject(
        new PartitionRevokedError(
          `Cannot send exactly once for an event of partition ${p}: the partition was revoked from this worker, or its transaction restarted, while the event was in hand (its offset is not committed with this output; the event is processed again from the committed offset)`,
        ),
      ),
  };
}
