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
import { actorContext } from "./context.ts";
import { ConfigError } from "./errors.ts";
import type { SendTarget } from "./producer.ts";
import type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TransactionalProducer,
  Transport,
} from "./transport/transport.ts";

interface Open {
  readonly tx: TransactionalProducer;
  readonly target: SendTarget;
  /** Sends of this transaction in flight, in order. */
  chain: Promise<unknown>;
  /** Whether anything was sent in the current transaction. */
  dirty: boolean;
}

/** Transactions per source partition number. */
export class TransactionManager {
  readonly #transport: Transport;
  readonly #appId: string;
  readonly #log: Logger;
  readonly #open = new Map<number, Open>();
  /** Whether events of a topic are transactional (the consumed ones). */
  readonly #consumes: (topic: string) => boolean;

  /**
   * @param transport A transport that supports transactions.
   * @param appId The app id (group id and transactional id prefix).
   * @param log Logger.
   * @param consumes Whether the app's consumer reads a topic.
   * @throws {ConfigError} When the transport has no transactions.
   */
  constructor(
    transport: Transport,
    appId: string,
    log: Logger,
    consumes: (topic: string) => boolean,
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
  }

  /** Partition numbers with an open transaction. */
  get partitions(): number[] {
    return [...this.#open.keys()].sort((a, b) => a - b);
  }

  /** Where a record sent now goes: the transaction of the current event's partition. */
  route(): SendTarget | undefined {
    const event = actorContext()?.event;
    if (event === undefined || event.offset < 0) return undefined;
    if (!this.#consumes(event.topic)) return undefined;
    return this.#open.get(event.partition)?.target;
  }

  /** Open a transaction for each new partition number (fencing older owners). */
  async assign(partitions: Iterable<number>): Promise<void> {
    for (const p of new Set(partitions)) {
      if (this.#open.has(p)) continue;
      const id = `${this.#appId}-eos-${p}`;
      const tx = await this.#transport.createTransactionalProducer!(id);
      await tx.begin();
      const open: Open = {
        tx,
        chain: Promise.resolve(),
        dirty: false,
        target: {
          send: (records: readonly ProduceRecord[]) => {
            open.dirty = true;
            const sent: Promise<RecordMetadata[]> = open.chain.then(() =>
              tx.send(records)
            );
            open.chain = sent.catch(() => {});
            return sent;
          },
        },
      };
      this.#open.set(p, open);
      this.#log.debug("Opened transactional producer {id}", { id });
    }
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
    for (const [p, open] of this.#open) {
      const mine = byPartition.get(p) ?? [];
      if (mine.length === 0 && !open.dirty) continue;
      await open.chain;
      if (mine.length > 0) await open.tx.sendOffsets(groupId, mine);
      await open.tx.commit();
      open.dirty = false;
      await open.tx.begin();
    }
    for (const p of byPartition.keys()) {
      if (!this.#open.has(p)) {
        throw new ConfigError(
          `Cannot commit offsets of partition ${p} exactly once: this worker has no transaction for it`,
        );
      }
    }
  }

  /** Close the producers of partitions that left (their open transactions abort). */
  async revoke(partitions: Iterable<number>): Promise<void> {
    for (const p of new Set(partitions)) {
      const open = this.#open.get(p);
      if (open === undefined) continue;
      this.#open.delete(p);
      await open.chain;
      await open.tx.close();
    }
  }

  /** Close every producer. */
  async close(): Promise<void> {
    await this.revoke([...this.#open.keys()]);
  }
}
