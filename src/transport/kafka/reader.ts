/**
 * `Transport.read()` for Kafka: reads one partition from an offset outside
 * any consumer group (changelog recovery, standbys).
 *
 * kafkajs has no public "assign" consumer, and a throwaway consumer group
 * per read would cost a group join (hundreds of ms to seconds) each time.
 * So this sends Fetch requests itself, through the kafkajs cluster object
 * that every kafkajs client builds internally (`Kafka`'s private
 * `createCluster`, kafkajs 2.2.x, pinned in deno.json). Cost per `read()`:
 * one Fetch round trip to the partition leader (`maxWaitTime` 0), plus one
 * metadata request the first time a topic is read. Records fetched beyond
 * `maxRecords` are kept for the next sequential read of that partition.
 * If a kafkajs upgrade removes that internal, the constructor throws a
 * `FaustError` saying so (and tests/kafka/ fail).
 *
 * Records are filtered as a Kafka consumer does: offsets below the one asked
 * for (inside compressed batches), control records (transaction markers) and,
 * with `read_committed`, records of aborted transactions. The end of the
 * partition is the high-water mark (`read_uncommitted`) or the last stable
 * offset (`read_committed`).
 *
 * @module
 */
import type { Kafka, KafkaMessage } from "kafkajs";
import { FaustError } from "../../errors.ts";
import { type TP, tpKey, tpString } from "../../util/types.ts";
import type { TransportRecord } from "../transport.ts";
import { abortedRecords } from "./aborted_patch.ts";
import { fromMessage } from "./records.ts";

type RawMessage = KafkaMessage & {
  readonly isControlRecord?: boolean;
  readonly batchContext?: {
    readonly producerId: string;
    readonly inTransaction: boolean;
  };
};

interface FetchedPartition {
  readonly partition: number;
  readonly highWatermark: string;
  readonly lastStableOffset?: string;
  readonly abortedTransactions?: {
    readonly producerId: string;
    readonly firstOffset: string;
  }[];
  readonly messages: RawMessage[];
}

interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: {
      topic: string;
      partitions: {
        partition: number;
        fetchOffset: string;
        maxBytes: number;
      }[];
    }[];
  }): Promise<
    { responses: { topicName: string; partitions: FetchedPartition[] }[] }
  >;
}

interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(
    topic: string,
    partitions: number[],
  ): Record<string, number[]>;
  findBroker(options: { nodeId: string }): Promise<InternalBroker>;
}

type CreateCluster = (
  options: { isolationLevel: number; allowAutoTopicCreation: boolean },
) => InternalCluster;

interface Ahead {
  /** Offset the cached records were fetched from. */
  readonly from: number;
  /** Next offset to fetch after them. */
  readonly next: number;
  readonly records: TransportRecord[];
}

const RETRIABLE = new Set([
  "NOT_LEADER_FOR_PARTITION",
  "NOT_LEADER_OR_FOLLOWER",
  "LEADER_NOT_AVAILABLE",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "FENCED_LEADER_EPOCH",
  "KafkaJSBrokerNotFound",
  "KafkaJSConnectionError",
]);

/** Drop aborted-transaction records, as Kafka's Java consumer does. */
function dropAborted(
  messages: RawMessage[],
  aborted: FetchedPartition["abortedTransactions"],
): RawMessage[] {
  const drop = abortedRecords(messages, aborted);
  return drop.size === 0 ? messages : messages.filter((m) => !drop.has(m));
}

/** Reads partitions by offset with plain Fetch requests (no group). */
export class PartitionReader {
  #cluster: InternalCluster;
  #readCommitted: boolean;
  #maxBytes: number;
  #lowWatermark: (tp: TP) => Promise<number>;
  #topics = new Set<string>();
  #ahead = new Map<string, Ahead>();
  #connected: Promise<void> | undefined;

  /**
   * @param kafka The kafkajs client whose cluster internals are used.
   * @param options Isolation, bytes per fetch, and how to find a partition's low watermark.
   */
  constructor(
    kafka: Kafka,
    options: {
      readCommitted: boolean;
      maxBytes: number;
      lowWatermark: (tp: TP) => Promise<number>;
    },
  ) {
    const sym = Object.getOwnPropertySymbols(kafka).find((s) =>
      s.description === "private:Kafka:createCluster"
    );
    const create = sym === undefined
      ? undefined
      : (kafka as unknown as Record<symbol, unknown>)[sym];
    if (typeof create !== "function") {
      throw new FaustError(
        "kafkajs internals changed: Kafka has no private createCluster; Transport.read() needs kafkajs 2.2.x",
      );
    }
    this.#cluster = (create as CreateCluster)({
      isolationLevel: options.readCommitted ? 1 : 0,
      allowAutoTopicCreation: false,
    });
    this.#readCommitted = options.readCommitted;
    this.#maxBytes = options.maxBytes;
    this.#lowWatermark = options.lowWatermark;
  }

  /** Disconnect from the brokers. */
  async close(): Promise<void> {
    this.#ahead.clear();
    if (this.#connected !== undefined) {
      this.#connected = undefined;
      await this.#cluster.disconnect();
    }
  }

  /**
   * Read up to `maxRecords` records of `tp` from `offset`; empty at the end.
   *
   * @param tp The partition.
   * @param offset First offset wanted.
   * @param maxRecords Most records to return.
   * @returns Records in offset order; gaps skipped.
   */
  async read(
    tp: TP,
    offset: number,
    maxRecords: number,
  ): Promise<TransportRecord[]> {
    const key = tpKey(tp);
    let position = offset;
    const ahead = this.#ahead.get(key);
    this.#ahead.delete(key);
    if (ahead !== undefined && offset >= ahead.from && offset < ahead.next) {
      const rest = ahead.records.filter((r) => r.offset >= offset);
      if (rest.length > 0) {
        return this.#take(key, ahead.from, ahead.next, rest, maxRecords);
      }
      position = ahead.next;
    }
    // Each round moves `position` past the records it fetched; the broker
    // may answer with fewer batches than there are, so fetch again while
    // below the end and below `maxRecords`. At most 50 rounds per read.
    const out: TransportRecord[] = [];
    for (let round = 0; round < 50; round++) {
      let fetched: FetchedPartition;
      try {
        fetched = await this.#fetch(tp, position);
      } catch (e) {
        const type = (e as { type?: string; name?: string }).type ??
          (e as Error).name;
        if (type === "OFFSET_OUT_OF_RANGE") {
          const low = await this.#lowWatermark(tp);
          if (position < low) {
            position = low;
            continue;
          }
          return out;
        }
        if (RETRIABLE.has(type) && round < 49) {
          await new Promise((r) =>
            setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(round, 5)))
          );
          await this.#cluster.refreshMetadata().catch(() => {});
          continue;
        }
        throw e;
      }
      const within = fetched.messages.filter((m) =>
        Number(m.offset) >= position
      );
      if (within.length === 0) return out;
      const next = Number(within[within.length - 1]!.offset) + 1;
      const visible = (this.#readCommitted
        ? dropAborted(within, fetched.abortedTransactions)
        : within)
        .filter((m) =>
          m.isControlRecord !== true
        )
        .map((m) => fromMessage(tp.topic, tp.partition, m));
      out.push(...visible);
      const lso = Number(fetched.lastStableOffset ?? -1);
      const end = this.#readCommitted && lso >= 0
        ? lso
        : Number(fetched.highWatermark);
      if (out.length >= maxRecords || next >= end) {
        return this.#take(
          key,
          offset,
          next,
          out,
          maxRecords,
        );
      }
      position = next;
    }
    if (out.length > 0) {
      return this.#take(key, offset, position, out, maxRecords);
    }
    throw new FaustError(
      `Cannot read ${
        tpString(tp)
      } at offset ${offset}: no progress after 50 fetches`,
    );
  }

  #take(
    key: string,
    from: number,
    next: number,
    records: TransportRecord[],
    max: number,
  ): TransportRecord[] {
    if (records.length <= max) return records;
    this.#ahead.set(key, { from, next, records: records.slice(max) });
    return records.slice(0, max);
  }

  async #fetch(tp: TP, position: number): Promise<FetchedPartition> {
    this.#connected ??= this.#cluster.connect();
    await this.#connected;
    if (!this.#topics.has(tp.topic)) {
      await this.#cluster.addTargetTopic(tp.topic);
      this.#topics.add(tp.topic);
    }
    const leaders = this.#cluster.findLeaderForPartitions(tp.topic, [
      tp.partition,
    ]);
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) {
      throw Object.assign(new FaustError(`No leader for ${tpString(tp)}`), {
        type: "LEADER_NOT_AVAILABLE",
      });
    }
    const broker = await this.#cluster.findBroker({ nodeId });
    const { responses } = await broker.fetch({
      replicaId: -1,
      isolationLevel: this.#readCommitted ? 1 : 0,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: this.#maxBytes,
      topics: [{
        topic: tp.topic,
        partitions: [{
          partition: tp.partition,
          fetchOffset: String(position),
          maxBytes: this.#maxBytes,
        }],
      }],
    });
    const part = responses.find((r) => r.topicName === tp.topic)?.partitions
      .find((p) => p.partition === tp.partition);
    if (part === undefined) {
      throw new FaustError(
        `Fetch of ${tpString(tp)} returned no data for the partition`,
      );
    }
    return part;
  }
}
