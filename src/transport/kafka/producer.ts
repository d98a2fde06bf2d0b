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
import { tpKey } from "../../util/types.ts";
import type { ProduceRecord, RecordMetadata } from "../transport.ts";
import { toMessage } from "./records.ts";

/** Something kafkajs can `sendBatch` on: a producer or a transaction. */
export interface BatchSender {
  /** kafkajs `sendBatch`. */
  sendBatch: Producer["sendBatch"];
}

const arrayReduce = Array.prototype.reduce;

/**
 * `messages`, with a `reduce` that groups them per partition in one pass
 * when kafkajs asks for that grouping.
 *
 * kafkajs 2.2 groups a topic's messages per partition with
 * `messages.reduce((result, m) => Object.assign(result, {[p]: [...result[p],
 * m]}), {})` (`producer/groupMessagesPerPartition.js`): it copies the
 * partition's list once per message, quadratic in the batch. At the ~7,000
 * records of one of our produce requests that copying was about a third of
 * the CPU and most of the garbage of a forwarding agent (profile of
 * `bench/peers.ts --workloads forward`). This `reduce` runs the callback on
 * the first message as an ordinary reduce would; if that call did exactly
 * the grouping (the initial empty object came back holding that one
 * message under its partition) and every message names its partition (we
 * always pick it, and kafkajs' partitioner returns it then), the rest are
 * appended to their partition's list directly. Any other callback goes on
 * as the ordinary reduce.
 */
function groupable(messages: Message[]): Message[] {
  Object.defineProperty(messages, "reduce", {
    value: function reduce(
      this: Message[],
      ...args: Parameters<Message[]["reduce"]>
    ): unknown {
      const [fn, init] = args as unknown as [
        (acc: unknown, m: Message, i: number, all: Message[]) => unknown,
        unknown,
      ];
      if (
        args.length !== 2 || this.length === 0 || typeof init !== "object" ||
        init === null || Object.getPrototypeOf(init) !== Object.prototype ||
        Object.keys(init).length !== 0
      ) {
        return (arrayReduce as (...a: unknown[]) => unknown).apply(this, args);
      }
      const first = this[0]!;
      let acc = fn(init, first, 0, this);
      const groups = acc as Record<string, unknown>;
      const own = groups[String(first.partition)];
      if (
        acc === init && typeof first.partition === "number" &&
        Object.keys(groups).length === 1 && Array.isArray(own) &&
        own.length === 1 && own[0] === first &&
        this.every((m) => typeof m.partition === "number")
      ) {
        for (let i = 1; i < this.length; i++) {
          const m = this[i]!;
          ((groups[m.partition!] ??= []) as Message[]).push(m);
        }
        return groups;
      }
      for (let i = 1; i < this.length; i++) acc = fn(acc, this[i]!, i, this);
      return acc;
    },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return messages;
}

/**
 * Send records in one `sendBatch` and return where each landed, in input
 * order. Kafka gives one base offset per partition; record `k` of a
 * partition (in input order) got `base + k`. With `acks: 0` the broker
 * answers nothing and offsets are `-1`.
 *
 * @param sender Producer or transaction.
 * @param records Records to append.
 * @param options Acks, compression and the produce request's timeout (ms; kafkajs' default when absent).
 * @returns Metadata per record, in input order.
 */
export async function sendRecords(
  sender: BatchSender,
  records: readonly ProduceRecord[],
  options: {
    acks: -1 | 0 | 1;
    compression: CompressionTypes;
    timeoutMs?: number;
  },
): Promise<RecordMetadata[]> {
  if (records.length === 0) return [];
  if (records.length > MAX_RECORDS || payloadBytes(records) > MAX_BYTES) {
    // One request of them all could hold a record batch larger than the
    // broker accepts (MESSAGE_TOO_LARGE: it crashed a worker whose commit
    // appended a changelog record for each of 1,000,000 keys). In order,
    // one request after the other.
    const out: RecordMetadata[] = [];
    for (const chunk of chunks(records)) {
      for (const m of await sendRecords(sender, chunk, options)) out.push(m);
    }
    return out;
  }
  const now = Date.now();
  const byTopic = new Map<string, Message[]>();
  const stamps: number[] = [];
  for (const r of records) {
    const ts = r.timestamp ?? now;
    stamps.push(ts);
    let list = byTopic.get(r.topic);
    if (list === undefined) byTopic.set(r.topic, list = groupable([]));
    list.push(toMessage(r, ts));
  }
  const result: KafkaRecordMetadata[] = await sender.sendBatch({
    acks: options.acks,
    compression: options.compression,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
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
  readonly bytes: number;
  readonly resolve: (m: RecordMetadata[]) => void;
  readonly reject: (e: unknown) => void;
}

/** Records per produce request at most (`sendRecords` splits a larger call). */
const MAX_RECORDS = 10_000;
/** Payload bytes per produce request at most (the broker's default limit is 1 MB per batch). */
const MAX_BYTES = 512 * 1024;

/**
 * Records in flight (sent, not yet acknowledged) beyond which a producer on
 * this transport gains no throughput: one produce request leaves at a time,
 * and the records queued behind it only wait in memory. Each one waiting
 * (its bytes, its kafkajs message, the sender's promise) outlives V8's
 * young-generation collections and is moved to the old generation, which
 * grows to several times the live data before it is collected; the 16,384
 * of the general bound (4 x `streamBufferMaxsize`) cost about 40 MB of peak
 * RSS in a forwarding agent, with the same events/s at 2,048
 * (bench/RESULTS.md, kafka://, Session 7).
 */
export const SEND_WINDOW = 2048;

function recordBytes(r: ProduceRecord): number {
  return (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0) + 16;
}

function payloadBytes(records: readonly ProduceRecord[]): number {
  let n = 0;
  for (const r of records) n += recordBytes(r);
  return n;
}

/** `records` in consecutive runs of at most MAX_RECORDS records and MAX_BYTES bytes (or one record). */
export function chunks(
  records: readonly ProduceRecord[],
): ProduceRecord[][] {
  const out: ProduceRecord[][] = [];
  let from = 0;
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const b = recordBytes(records[i]!);
    if (i > from && (i - from >= MAX_RECORDS || size + b > MAX_BYTES)) {
      out.push(records.slice(from, i));
      from = i;
      size = 0;
    }
    size += b;
  }
  if (from < records.length) out.push(records.slice(from));
  return out;
}

/**
 * The transport's one producer pipe: `send()` calls are appended in call
 * order, with one produce request in flight at a time (records queued
 * meanwhile leave together in the next request, up to {@linkcode MAX_RECORDS}
 * records / {@linkcode MAX_BYTES} bytes). kafkajs lets concurrent `sendBatch`
 * calls overtake each other (measured: 20 concurrent calls, call 19 stored
 * before call 18), which would reorder a table's changelog against its
 * writes; one request at a time keeps the log in call order, and batching
 * keeps the throughput. `lingerMs` (Kafka's `linger.ms`) also holds the
 * first record of an idle pipe that long for others to join it.
 */
export class LingeringSender {
  #send: (records: readonly ProduceRecord[]) => Promise<RecordMetadata[]>;
  #lingerMs: number;
  #pending: Pending[] = [];
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inflight: Promise<void> | undefined;

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
    return new Promise((resolve, reject) => {
      this.#pending.push({
        records,
        bytes: payloadBytes(records),
        resolve,
        reject,
      });
      this.#count += records.length;
      if (this.#inflight !== undefined) return; // leaves when it completes
      if (this.#lingerMs <= 0 || this.#count >= MAX_RECORDS) this.#next();
      else this.#timer ??= setTimeout(() => this.#next(), this.#lingerMs);
    });
  }

  /** Send what is queued now (the rest of the pipe follows in order). */
  flush(): void {
    if (this.#inflight === undefined) this.#next();
  }

  /** Send everything queued and wait until every request completed. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#inflight !== undefined) await this.#inflight;
  }

  #next(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    let n = 0;
    let records = 0;
    let bytes = 0;
    while (n < this.#pending.length) {
      const p = this.#pending[n]!;
      if (
        n > 0 && (records + p.records.length > MAX_RECORDS ||
          bytes + p.bytes > MAX_BYTES)
      ) break;
      records += p.records.length;
      bytes += p.bytes;
      n++;
    }
    const batch = this.#pending.splice(0, n);
    this.#count -= records;
    const all = batch.length === 1
      ? batch[0]!.records
      : batch.flatMap((p) => p.records);
    this.#inflight = this.#send(all).then((meta) => {
      let at = 0;
      for (const p of batch) {
        p.resolve(meta.slice(at, at + p.records.length));
        at += p.records.length;
      }
    }, (e) => {
      for (const p of batch) p.reject(e);
    }).finally(() => {
      this.#inflight = undefined;
      if (this.#pending.length > 0) this.#next();
    });
  }
}
