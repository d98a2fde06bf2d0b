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

/** Where a batch goes instead of the transport (an open Kafka transaction). */
export interface SendTarget {
  /** Append records. */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]>;
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

  /** Queue a record; resolves once the broker acknowledged it. */
  send(record: ProduceRecord): Promise<RecordMetadata> {
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
        target: this.#router?.(),
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
