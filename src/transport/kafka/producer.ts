/**
 * Appending records with kafkajs: one `sendBatch` per call (records grouped
 * per topic, partitions chosen by the caller), per-record offsets computed
 * from each partition's base offset, and optional lingering that merges
 * concurrent `send()` calls into one produce request.
 *
 * @module
 */
import type {
  CompressionTypes,
  Message,
  Producer,
  RecordMetadata as KafkaRecordMetadata,
} from "kafkajs";
import { tpKey } from "../../types.ts";
import type { ProduceRecord, RecordMetadata } from "../transport.ts";
import { toMessage } from "./records.ts";

/** Something kafkajs can `sendBatch` on: a producer or a transaction. */
export interface BatchSender {
  /** kafkajs `sendBatch`. */
  sendBatch: Producer["sendBatch"];
}

/**
 * Send records in one `sendBatch` and return where each landed, in input
 * order. Kafka gives one base offset per partition; record `k` of a
 * partition (in input order) got `base + k`. With `acks: 0` the broker
 * answers nothing and offsets are `-1`.
 *
 * @param sender Producer or transaction.
 * @param records Records to append.
 * @param options Acks and compression.
 * @returns Metadata per record, in input order.
 */
export async function sendRecords(
  sender: BatchSender,
  records: readonly ProduceRecord[],
  options: { acks: -1 | 0 | 1; compression: CompressionTypes },
): Promise<RecordMetadata[]> {
  if (records.length === 0) return [];
  const now = Date.now();
  const byTopic = new Map<string, Message[]>();
  const stamps: number[] = [];
  for (const r of records) {
    const ts = r.timestamp ?? now;
    stamps.push(ts);
    let list = byTopic.get(r.topic);
    if (list === undefined) byTopic.set(r.topic, list = []);
    list.push(toMessage(r, ts));
  }
  const result: KafkaRecordMetadata[] = await sender.sendBatch({
    acks: options.acks,
    compression: options.compression,
    topicMessages: [...byTopic].map(([topic, messages]) => ({
      topic,
      messages,
    })),
  });
  const base = new Map<string, { next: number; appendTime: number }>();
  for (const m of result) {
    const appendTime = Number(m.logAppendTime ?? "-1");
    base.set(tpKey({ topic: m.topicName, partition: m.partition }), {
      next: m.baseOffset === undefined ? -1 : Number(m.baseOffset),
      appendTime,
    });
  }
  return records.map((r, i) => {
    const b = base.get(tpKey(r));
    let offset = -1;
    let timestamp = stamps[i]!;
    if (b !== undefined && b.next >= 0) {
      offset = b.next++;
      if (b.appendTime >= 0) timestamp = b.appendTime;
    }
    return { topic: r.topic, partition: r.partition, offset, timestamp };
  });
}

interface Pending {
  readonly records: readonly ProduceRecord[];
  readonly resolve: (m: RecordMetadata[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Merges `send()` calls made within `lingerMs` into one `sendBatch`
 * (Kafka's `linger.ms`; kafkajs itself sends every call at once).
 */
export class LingeringSender {
  #send: (records: readonly ProduceRecord[]) => Promise<RecordMetadata[]>;
  #lingerMs: number;
  #pending: Pending[] = [];
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param send The function that sends one merged batch.
   * @param lingerMs How long the first record of a batch waits for others.
   */
  constructor(
    send: (records: readonly ProduceRecord[]) => Promise<RecordMetadata[]>,
    lingerMs: number,
  ) {
    this.#send = send;
    this.#lingerMs = lingerMs;
  }

  /** Queue records; resolves when their batch is acknowledged. */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    if (this.#lingerMs <= 0) return this.#send(records);
    return new Promise((resolve, reject) => {
      this.#pending.push({ records, resolve, reject });
      this.#count += records.length;
      if (this.#count >= 10_000) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#lingerMs);
    });
  }

  /** Send what is queued now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#count = 0;
    if (batch.length === 0) return;
    this.#send(batch.flatMap((p) => p.records)).then((meta) => {
      let at = 0;
      for (const p of batch) {
        p.resolve(meta.slice(at, at + p.records.length));
        at += p.records.length;
      }
    }, (e) => {
      for (const p of batch) p.reject(e);
    });
  }
}
