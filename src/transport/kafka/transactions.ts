/**
 * Kafka transactions for `processingGuarantee: "exactly_once"`.
 *
 * kafkajs commits offsets in a transaction with TxnOffsetCommit v0/v1, which
 * carries no group generation or member id (KIP-447 fencing needs v3): fencing
 * of zombie producers relies on the transactional id alone, so the app should
 * use one transactional id per input partition (as Kafka Streams' EOS v1
 * and Faust do).
 *
 * @module
 */
import type { CompressionTypes, Producer, Transaction } from "kafkajs";
import { StateError } from "../../errors.ts";
import type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TransactionalProducer,
} from "../transport.ts";
import { isGroupUnavailable, retryWhileUnreachable } from "./errors.ts";
import { sendRecords } from "./producer.ts";

/** A kafkajs transactional producer behind our interface. */
export class KafkaTransactionalProducer implements TransactionalProducer {
  #producer: Producer;
  #id: string;
  #compression: CompressionTypes;
  #timeoutMs: number | undefined;
  #tx: Transaction | undefined;
  #closed = false;
  /** Calls into kafkajs in progress, with when each started (stall report). */
  readonly #calls = new Map<number, { what: string; since: number }>();
  #callSeq = 0;

  /**
   * @param producer A connected kafkajs producer created with `transactionalId`.
   * @param transactionalId Its transactional id (for messages).
   * @param compression Compression of sent batches.
   * @param timeoutMs Produce request timeout (`producerRequestTimeout`).
   */
  constructor(
    producer: Producer,
    transactionalId: string,
    compression: CompressionTypes,
    timeoutMs?: number,
  ) {
    this.#producer = producer;
    this.#id = transactionalId;
    this.#compression = compression;
    this.#timeoutMs = timeoutMs;
  }

  /** Run a kafkajs call, recorded while it runs. */
  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const n = ++this.#callSeq;
    this.#calls.set(n, { what, since: performance.now() });
    try {
      return await fn();
    } finally {
      this.#calls.delete(n);
    }
  }

  /** What the producer is doing now, for a stall report. */
  describe(): string {
    const now = performance.now();
    const calls = [...this.#calls.values()].map((c) =>
      `${c.what} for ${((now - c.since) / 1000).toFixed(1)} s`
    );
    return `"${this.#id}" (${
      this.#closed
        ? "closed"
        : this.#tx === undefined
        ? "no transaction"
        : this.#tx.isActive()
        ? "transaction active"
        : "transaction not active"
    }; kafkajs calls in progress: ${
      calls.length === 0 ? "none" : calls.join(", ")
    })`;
  }

  #current(what: string): Transaction {
    if (this.#tx === undefined) {
      throw new StateError(
        `Cannot ${what}: transactional producer "${this.#id}" has no open transaction; call begin()`,
      );
    }
    return this.#tx;
  }

  /** Start a transaction. */
  async begin(): Promise<void> {
    if (this.#tx !== undefined) {
      throw new StateError(
        `Cannot begin: transactional producer "${this.#id}" already has an open transaction`,
      );
    }
    // The first begin initialises the transactional id (fencing older
    // producers): wait out a broker that is restarting, and its transaction
    // coordinator while it loads (kafkajs gives up after about 8 s).
    this.#tx = await this.#call(
      "begin",
      () =>
        retryWhileUnreachable(
          () => this.#producer.transaction(),
          90_000,
          isGroupUnavailable,
        ),
    );
  }

  /** Append within the transaction (acks are always -1). */
  async send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    const tx = this.#current("send");
    return await this.#call(
      `send of ${records.length} records`,
      () =>
        retryWhileUnreachable(() =>
          sendRecords(tx, records, {
            acks: -1,
            compression: this.#compression,
            ...(this.#timeoutMs === undefined
              ? {}
              : { timeoutMs: this.#timeoutMs }),
          })
        ),
    );
  }

  /** Commit consumer offsets (next offset to read) within the transaction. */
  async sendOffsets(
    groupId: string,
    offsets: readonly CommitOffset[],
  ): Promise<void> {
    const tx = this.#current("sendOffsets");
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const o of offsets) {
      let list = byTopic.get(o.topic);
      if (list === undefined) byTopic.set(o.topic, list = []);
      list.push({ partition: o.partition, offset: String(o.offset) });
    }
    await this.#call("sendOffsets", () =>
      tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [...byTopic].map(([topic, partitions]) => ({
          topic,
          partitions,
        })),
      }));
  }

  /** Commit the transaction. */
  async commit(): Promise<void> {
    const tx = this.#current("commit");
    this.#tx = undefined;
    await this.#call("commit", () => tx.commit());
  }

  /** Abort the transaction. */
  async abort(): Promise<void> {
    const tx = this.#current("abort");
    this.#tx = undefined;
    await this.#call("abort", () => tx.abort());
  }

  /** Disconnect; an open transaction is aborted first. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tx !== undefined) await this.abort().catch(() => {});
    await this.#call("disconnect", () => this.#producer.disconnect());
  }
}
