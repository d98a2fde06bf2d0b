/**
 * The app's producer: records sent within one turn of the event loop (or
 * within `producerLinger`) go to the transport as one batch, which on
 * `local://` is one LMDB transaction and on Kafka one produce request.
 *
 * @module
 */
import type {
  ProduceRecord,
  RecordMetadata,
  Transport,
} from "./transport/transport.ts";
import { ClosedError, FaustError } from "./errors.ts";
import type { Monitor } from "./monitor.ts";

/**
 * Where a batch goes instead of the transport (an open Kafka transaction).
 *
 * @example A target that records what it is given
 * ```ts
 * import type { ProduceRecord, SendTarget } from "@faust/faust";
 *
 * const sent: ProduceRecord[] = [];
 * const target: SendTarget = {
 *   send: async (records) =>
 *     records.map((r, i) => {
 *       sent.push(r);
 *       return { topic: r.topic, partition: r.partition, offset: i, timestamp: 0 };
 *     }),
 * };
 * await target.send([{ topic: "t", partition: 0, key: null, value: null }]);
 * console.log(sent.length); // 1
 * ```
 */
export interface SendTarget {
  /** Append records. */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]>;
  /**
   * A record bound to this target has not reached the producer yet (its
   * send is still awaiting the topic's partition count): the target must
   * not commit until the returned function was called.
   */
  hold?(): () => void;
}

/**
 * The target a send was bound to when it was called (exactly-once: the
 * transaction of the event in hand at that moment, even if the send
 * reaches the producer after the actor moved on).
 *
 * @example A plain send has no target
 * ```ts
 * import type { SendBinding } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("binding");
 * const binding: SendBinding = app.bindSend();
 * assert.equal(binding.target, undefined); // at-least-once: no transaction
 * binding.release();
 * ```
 */
export interface SendBinding {
  /** The target, or `undefined` for a plain send. */
  readonly target: SendTarget | undefined;
  /** Call once the record was handed to the producer, or will not be sent. */
  release(): void;
}

/**
 * Picks, at `send()` time, the transaction a record belongs to (exactly-once:
 * the one of the current event's partition), or `undefined` for a plain send.
 */
export type SendRouter = () => SendTarget | undefined;

interface Pending {
  readonly record: ProduceRecord;
  readonly target: SendTarget | undefined;
  readonly resolve: (m: RecordMetadata) => void;
  readonly reject: (e: unknown) => void;
  readonly t0: number;
}

const MAX_BATCH = 10_000;

const encoder = new TextEncoder();

/** Bytes of a record's key, value and headers (names and values). */
function recordBytes(record: ProduceRecord): number {
  let n = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    n += encoder.encode(name).length + value.length;
  }
  return n;
}

/** Batches records for a transport. */
export class Producer {
  readonly #transport: Transport;
  readonly #lingerMs: number;
  readonly #monitor: Monitor;
  #pending: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;
  #router: SendRouter | undefined;
  readonly #maxRecordBytes: number;

  /**
   * Create a producer over `transport`; records larger than
   * `maxRecordBytes` (key, value and headers) are refused.
   */
  constructor(
    transport: Transport,
    lingerSeconds: number,
    monitor: Monitor,
    maxRecordBytes = Infinity,
  ) {
    this.#transport = transport;
    this.#lingerMs = Math.round(lingerSeconds * 1000);
    this.#monitor = monitor;
    this.#maxRecordBytes = maxRecordBytes;
  }

  /** Route records sent from now on (exactly-once transactions); `undefined` turns routing off. */
  setRouter(router: SendRouter | undefined): void {
    this.#router = router;
  }

  /**
   * Bind a send to the target the router picks now (call synchronously
   * where the send is called); pass the binding to {@linkcode send}.
   */
  bind(): SendBinding {
    const target = this.#router?.();
    const release = target?.hold?.();
    return { target, release: release ?? (() => {}) };
  }

  /**
   * Queue a record; resolves once the broker acknowledged it.
   *
   * @param record The record.
   * @param binding Where it goes, chosen when the send was called
   *   ({@linkcode bind}); without one the router picks now.
   */
  send(record: ProduceRecord, binding?: SendBinding): Promise<RecordMetadata> {
    if (this.#closed) {
      return Promise.reject(
        new ClosedError(
          `Cannot send to topic "${record.topic}": the producer is closed`,
        ),
      );
    }
    const size = recordBytes(record);
    if (size > this.#maxRecordBytes) {
      // Refused here, on every broker, rather than by Kafka only (after a
      // local:// development run accepted it).
      this.#monitor.count("sendErrors");
      return Promise.reject(
        new FaustError(
          `Cannot send to topic "${record.topic}": the record is ${size} bytes (key, value and headers), more than producerMaxRequestSize (${this.#maxRecordBytes})`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({
        record,
        target: binding !== undefined ? binding.target : this.#router?.(),
        resolve,
        reject,
        t0: performance.now(),
      });
      if (this.#pending.length >= MAX_BATCH) this.#flushNow();
      else this.#timer ??= setTimeout(() => this.#flushNow(), this.#lingerMs);
    });
  }

  #flushNow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const all = this.#pending;
    this.#pending = [];
    const byTarget = new Map<SendTarget | undefined, Pending[]>();
    for (const b of all) {
      let list = byTarget.get(b.target);
      if (list === undefined) byTarget.set(b.target, list = []);
      list.push(b);
    }
    for (const [target, batch] of byTarget) this.#sendBatch(target, batch);
  }

  #sendBatch(target: SendTarget | undefined, batch: Pending[]): void {
    const records = batch.map((b) => b.record);
    const sent = target === undefined
      ? this.#transport.send(records)
      : target.send(records);
    const p = sent.then(
      (metas) => {
        const now = performance.now();
        batch.forEach((b, i) => {
          this.#monitor.messageOut(b.record.topic, now - b.t0);
          b.resolve(metas[i]!);
        });
      },
      (error) => {
        this.#monitor.count("sendErrors", batch.length);
        for (const b of batch) {
          for (const s of this.#monitor.sensors) {
            s.onSendError?.(b.record.topic, error);
          }
          b.reject(error);
        }
      },
    ).finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  /** Send everything queued and wait for every in-flight batch. */
  async flush(): Promise<void> {
    this.#flushNow();
    while (this.#inflight.size > 0) {
      await Promise.allSettled([...this.#inflight]);
    }
  }

  /** Flush, then refuse further sends. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
