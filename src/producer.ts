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
import { ClosedError } from "./errors.ts";
import type { Monitor } from "./monitor.ts";

interface Pending {
  readonly record: ProduceRecord;
  readonly resolve: (m: RecordMetadata) => void;
  readonly reject: (e: unknown) => void;
  readonly t0: number;
}

const MAX_BATCH = 10_000;

/** Batches records for a transport. */
export class Producer {
  readonly #transport: Transport;
  readonly #lingerMs: number;
  readonly #monitor: Monitor;
  #pending: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;

  /** Create a producer over `transport`. */
  constructor(transport: Transport, lingerSeconds: number, monitor: Monitor) {
    this.#transport = transport;
    this.#lingerMs = Math.round(lingerSeconds * 1000);
    this.#monitor = monitor;
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
    return new Promise((resolve, reject) => {
      this.#pending.push({ record, resolve, reject, t0: performance.now() });
      if (this.#pending.length >= MAX_BATCH) this.#flushNow();
      else this.#timer ??= setTimeout(() => this.#flushNow(), this.#lingerMs);
    });
  }

  #flushNow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const p = this.#transport.send(batch.map((b) => b.record)).then(
      (metas) => {
        const now = performance.now();
        batch.forEach((b, i) => {
          this.#monitor.messageOut(b.record.topic, now - b.t0);
          b.resolve(metas[i]!);
        });
      },
      (error) => {
        this.#monitor.count("sendErrors", batch.length);
        for (const b of batch) b.reject(error);
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
