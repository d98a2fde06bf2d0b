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
} from "../transport/transport.ts";
import { setImmediate } from "node:timers";
import { ClosedError, FaustError } from "../errors.ts";
import type { Monitor } from "../sensors/monitor.ts";

/**
 * The target a send was bound to when it was called (exactly-once: the
 * transaction of the event in hand at that moment, even if the send
 * reaches the producer after the actor moved on).
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

export {
  type BatchListener,
  QueuedBatch,
  QueuedSend,
  type SendCounter,
  type SendTarget,
} from "./queued_send.ts";
import {
  type BatchListener,
  QueuedBatch,
  QueuedSend,
  type SendCounter,
  type SendTarget,
} from "./queued_send.ts";

const MAX_BATCH = 10_000;

const NO_RELEASE = (): void => {};

const encoder = new TextEncoder();

/** Bytes of a record's key, value and headers (names and values). */
function recordBytes(record: ProduceRecord): number {
  let n = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const headers = record.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      n += encoder.encode(name).length + headers[name]!.length;
    }
  }
  return n;
}

/** What a lane queues: one record, or several with one outcome. */
type Queued = QueuedSend | QueuedBatch;

/** Records queued for one destination, behind at most one batch in flight. */
interface Lane {
  queue: Queued[];
  /** Records in `queue`. */
  records: number;
  /** The batch in flight (settles after its outcome was handed out). */
  busy: Promise<void> | undefined;
}

/**
 * Batches records for a transport. Records leave as one batch per
 * destination (the transport, or an exactly-once transaction) at the end of
 * the current event-loop turn (or after `producerLinger`); while a batch is
 * in flight, records for its destination queue behind it and leave together
 * once it completes (a group commit: on `local://` one LMDB transaction and
 * flush for all of them, however many callers await their sends).
 */
export class Producer {
  readonly #transport: Transport;
  readonly #lingerMs: number;
  readonly #monitor: Monitor;
  /** Records for the transport. */
  readonly #direct: Lane = { queue: [], records: 0, busy: undefined };
  /** Records for transaction targets (exactly-once), per target. */
  readonly #lanes = new Map<SendTarget, Lane>();
  #scheduled = false;
  #now = -1;
  #timer: ReturnType<typeof setTimeout> | undefined;
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

  /** Whether sends are routed (exactly-once): a send must bind where it is called. */
  get routed(): boolean {
    return this.#router !== undefined;
  }

  /** Where a record sent now goes (the router's pick; `undefined`: the transport). */
  route(): SendTarget | undefined {
    return this.#router?.();
  }

  /**
   * Bind a send to the target the router picks now (call synchronously
   * where the send is called); pass the binding to {@linkcode send}.
   */
  bind(): SendBinding {
    const target = this.#router?.();
    const release = target?.hold?.();
    return { target, release: release ?? NO_RELEASE };
  }

  /**
   * Queue a record; resolves once the broker acknowledged it.
   *
   * @param record The record.
   * @param binding Where it goes, chosen when the send was called
   *   ({@linkcode bind}); without one the router picks now.
   */
  send(record: ProduceRecord, binding?: SendBinding): Promise<RecordMetadata> {
    return this.enqueue(
      record,
      binding !== undefined ? binding.target : this.#router?.(),
    );
  }

  /**
   * Queue a record for `target` without making a promise: the returned
   * handle makes one only when awaited.
   *
   * @param record The record.
   * @param target Where it goes ({@linkcode route} at the time of the send).
   * @param counter Told once the record was acknowledged or failed.
   * @returns The caller's handle on the outcome.
   */
  enqueue(
    record: ProduceRecord,
    target: SendTarget | undefined,
    counter?: SendCounter,
  ): QueuedSend {
    if (this.#closed) {
      return QueuedSend.failed(
        record,
        new ClosedError(
          `Cannot send to topic "${record.topic}": the producer is closed`,
        ),
        counter,
      );
    }
    const refused = this.#tooLarge(record);
    if (refused !== undefined) {
      return QueuedSend.failed(record, refused, counter);
    }
    const queued = new QueuedSend(record, target, counter, this.#clock());
    this.#queue(queued, 1, target);
    return queued;
  }

  /**
   * Queue records of one topic as one item with one outcome, told to
   * `listener` (no promise, handle or clock reading per record: a table's
   * changelog appends at a commit).
   *
   * @param records The records, all of one topic.
   * @param target Where they go ({@linkcode route} at the time of the send).
   * @param counter Told once per record when the outcome is known.
   * @param listener Told the outcome.
   */
  enqueueBatch(
    records: readonly ProduceRecord[],
    target: SendTarget | undefined,
    counter: SendCounter | undefined,
    listener: BatchListener,
  ): void {
    const queued = new QueuedBatch(records, target, counter, listener);
    if (this.#closed) {
      queued.fail(
        new ClosedError(
          `Cannot send to topic "${records[0]?.topic}": the producer is closed`,
        ),
      );
      return;
    }
    for (const r of records) {
      const refused = this.#tooLarge(r);
      if (refused !== undefined) {
        queued.fail(refused);
        return;
      }
    }
    this.#queue(queued, records.length, target);
  }

  /** Refuse a record larger than `producerMaxRequestSize`. */
  #tooLarge(record: ProduceRecord): Error | undefined {
    if (this.#maxRecordBytes === Infinity) return undefined;
    const size = recordBytes(record);
    if (size <= this.#maxRecordBytes) return undefined;
    // Refused here, on every broker, rather than by Kafka only (after a
    // local:// development run accepted it).
    this.#monitor.count("sendErrors");
    return new FaustError(
      `Cannot send to topic "${record.topic}": the record is ${size} bytes (key, value and headers), more than producerMaxRequestSize (${this.#maxRecordBytes})`,
    );
  }

  #queue(
    queued: Queued,
    records: number,
    target: SendTarget | undefined,
  ): void {
    let lane = this.#direct;
    if (target !== undefined) {
      lane = this.#lanes.get(target) ??
        { queue: [], records: 0, busy: undefined };
      if (lane.queue.length === 0) this.#lanes.set(target, lane);
    }
    lane.queue.push(queued);
    lane.records += records;
    // Behind a batch in flight: leaves when it completes.
    if (lane.busy !== undefined) return;
    if (lane.records >= MAX_BATCH) {
      this.#start(lane, target);
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#lingerMs > 0) {
        this.#timer = setTimeout(this.#flushNow, this.#lingerMs);
      } else {
        // Not setTimeout(0): nested timers are clamped to 4 ms, which would
        // bound an agent awaiting each send to ~250 sends/s.
        setImmediate(this.#flushNow);
      }
    }
  }

  /**
   * `performance.now()` read once per event-loop turn: a send's queue time
   * (its latency's start) without a clock reading per record. Sends of one
   * turn share the reading; none can leave before the turn ends anyway.
   */
  #clock(): number {
    if (this.#now < 0) {
      this.#now = performance.now();
      setImmediate(this.#resetClock);
    }
    return this.#now;
  }

  readonly #resetClock = (): void => {
    this.#now = -1;
  };

  readonly #flushNow = (): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#scheduled = false;
    this.#start(this.#direct, undefined);
    for (const [target, lane] of this.#lanes) this.#start(lane, target);
  };

  /** Send what a lane holds unless a batch of it is in flight. */
  #start(lane: Lane, target: SendTarget | undefined): void {
    if (lane.busy !== undefined) return;
    if (lane.queue.length === 0) {
      if (target !== undefined) this.#lanes.delete(target);
      return;
    }
    const batch = lane.queue;
    const count = lane.records;
    lane.queue = [];
    lane.records = 0;
    const next = (): void => {
      lane.busy = undefined;
      this.#start(lane, target);
    };
    // A throwing sensor must not wedge the lane; its error still surfaces.
    lane.busy = this.#sendBatch(target, batch, count).then(next, (error) => {
      next();
      throw error;
    });
  }

  #sendBatch(
    target: SendTarget | undefined,
    batch: Queued[],
    count: number,
  ): Promise<void> {
    const records = new Array<ProduceRecord>(count);
    let k = 0;
    for (const b of batch) {
      if (b instanceof QueuedSend) records[k++] = b.record;
      else for (const r of b.records) records[k++] = r;
    }
    let sent: Promise<RecordMetadata[]>;
    try {
      sent = target === undefined
        ? this.#transport.send(records)
        : target.send(records);
    } catch (error) {
      sent = Promise.reject(error);
    }
    const p: Promise<void> = sent.then(
      (metas) => {
        const now = performance.now();
        const monitor = this.#monitor;
        const sensors = monitor.sensors;
        // Counters once per run of one topic, not per record.
        let topic = "";
        let n = 0;
        let sum = 0;
        let max = 0;
        let at = 0;
        for (let i = 0; i < batch.length; i++) {
          const b = batch[i]!;
          const ms = now - b.t0;
          const single = b instanceof QueuedSend;
          const t = single ? b.record.topic : b.records[0]!.topic;
          const size = single ? 1 : b.records.length;
          if (t !== topic) {
            if (n > 0) monitor.messagesOut(topic, n, sum, max);
            topic = t;
            n = sum = max = 0;
          }
          n += size;
          sum += ms * size;
          if (ms > max) max = ms;
          if (sensors.size > 0) {
            for (let j = 0; j < size; j++) {
              for (const s of sensors) s.onSendCompleted?.(topic, ms);
            }
          }
          if (single) b.succeed(metas[at]!);
          else b.succeed(metas, at);
          at += size;
        }
        if (n > 0) monitor.messagesOut(topic, n, sum, max);
      },
      (error) => {
        this.#monitor.count("sendErrors", count);
        for (const b of batch) {
          const sensors = this.#monitor.sensors;
          if (sensors.size > 0) {
            const rs = b instanceof QueuedSend ? [b.record] : b.records;
            for (const r of rs) {
              for (const s of sensors) s.onSendError?.(r.topic, error);
            }
          }
          b.fail(error);
        }
      },
    );
    return p;
  }

  /** Send everything queued and wait for every in-flight batch. */
  async flush(): Promise<void> {
    for (;;) {
      this.#flushNow();
      const busy: Promise<void>[] = [];
      for (const lane of [this.#direct, ...this.#lanes.values()]) {
        if (lane.busy !== undefined) busy.push(lane.busy);
      }
      if (busy.length === 0) return;
      // Each turn waits for a batch in flight: no busy loop.
      await Promise.all(busy);
    }
  }

  /** Flush, then refuse further sends. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
