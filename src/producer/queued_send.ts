/**
 * A record queued in the producer, and the caller's handle on its outcome
 * (a promise made only when asked for).
 *
 * @module
 */
import type { ProduceRecord, RecordMetadata } from "../transport/transport.ts";

/**
 * Where a batch goes instead of the transport (an open Kafka transaction).
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
 * Something counting sends in progress (the app's `sends`).
 */
export interface SendCounter {
  /** One send ended (acknowledged or failed). */
  end(): void;
}

/**
 * Call a `whenDone` listener; a throw surfaces as an uncaught error (as in
 * a promise callback) instead of stopping the producer's loop over a batch.
 */
function notify<T>(fn: (v: T) => void, v: T): void {
  try {
    fn(v);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

const PENDING = 0;
const SENT = 1;
const FAILED = 2;

/**
 * A record queued in the producer, and the caller's handle on its outcome.
 * It is a promise for the record's metadata that makes a real promise only
 * when someone asks for the outcome (`await`, `then`, `catch`, `finally`):
 * a send nobody awaits costs no promise. A failed send nobody asked about
 * becomes a rejected promise nobody handles, as an unawaited `async` send
 * would.
 */
export class QueuedSend implements Promise<RecordMetadata> {
  /** The record. */
  readonly record: ProduceRecord;
  /** Where it goes (`undefined`: the transport). */
  readonly target: SendTarget | undefined;
  /**
   * When it was queued (`performance.now()`; the producer reads the clock
   * once per event-loop turn, so sends of one turn share it).
   */
  readonly t0: number;
  readonly #counter: SendCounter | undefined;
  #state = PENDING;
  #outcome: unknown;
  #promise: Promise<RecordMetadata> | undefined;
  #resolve: ((m: RecordMetadata) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;
  #onSent: ((m: RecordMetadata) => void) | undefined;
  #onFailed: ((e: unknown) => void) | undefined;

  /** @internal Made by the producer. */
  constructor(
    record: ProduceRecord,
    target: SendTarget | undefined,
    counter: SendCounter | undefined,
    t0: number = performance.now(),
  ) {
    this.record = record;
    this.target = target;
    this.#counter = counter;
    this.t0 = t0;
  }

  /** @internal A send refused before it was queued. */
  static failed(
    record: ProduceRecord,
    error: unknown,
    counter?: SendCounter,
  ): QueuedSend {
    const s = new QueuedSend(record, undefined, counter);
    s.fail(error);
    return s;
  }

  /** "Promise", as for a promise. */
  get [Symbol.toStringTag](): string {
    return "Promise";
  }

  #materialize(): Promise<RecordMetadata> {
    if (this.#promise !== undefined) return this.#promise;
    if (this.#state === SENT) {
      this.#promise = Promise.resolve(this.#outcome as RecordMetadata);
    } else if (this.#state === FAILED) {
      this.#promise = Promise.reject(this.#outcome);
    } else {
      this.#promise = new Promise<RecordMetadata>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    }
    return this.#promise;
  }

  /** As `Promise.prototype.then`. */
  then<T1 = RecordMetadata, T2 = never>(
    onfulfilled?: ((value: RecordMetadata) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#materialize().then(onfulfilled, onrejected);
  }

  /** As `Promise.prototype.catch`. */
  catch<T = never>(
    onrejected?: ((reason: unknown) => T | PromiseLike<T>) | null,
  ): Promise<RecordMetadata | T> {
    return this.#materialize().catch(onrejected);
  }

  /** As `Promise.prototype.finally`. */
  finally(onfinally?: (() => void) | null): Promise<RecordMetadata> {
    return this.#materialize().finally(onfinally);
  }

  /**
   * @internal Call `onSent` or `onFailed` with the outcome, synchronously
   * when it is known (right away if it already is), without a promise (a
   * table's changelog appends: one per change at a commit).
   */
  whenDone(
    onSent: (m: RecordMetadata) => void,
    onFailed: (e: unknown) => void,
  ): void {
    if (this.#state === SENT) onSent(this.#outcome as RecordMetadata);
    else if (this.#state === FAILED) onFailed(this.#outcome);
    else {
      this.#onSent = onSent;
      this.#onFailed = onFailed;
    }
  }

  /** @internal The broker acknowledged the record. */
  succeed(meta: RecordMetadata): void {
    if (this.#state !== PENDING) return;
    this.#state = SENT;
    this.#outcome = meta;
    this.#counter?.end();
    this.#resolve?.(meta);
    const onSent = this.#onSent;
    if (onSent !== undefined) {
      this.#onSent = this.#onFailed = undefined;
      notify(onSent, meta);
    }
  }

  /** @internal The record was refused or lost. */
  fail(error: unknown): void {
    if (this.#state !== PENDING) return;
    this.#state = FAILED;
    this.#outcome = error;
    this.#counter?.end();
    const onFailed = this.#onFailed;
    if (onFailed !== undefined) {
      this.#onSent = this.#onFailed = undefined;
      notify(onFailed, error);
      if (this.#reject !== undefined) this.#reject(error);
      return;
    }
    if (this.#reject !== undefined) this.#reject(error);
    // Nobody asked yet: a rejected promise nobody handles, as an async
    // send's would be (the process reports it instead of losing it).
    else this.#materialize();
  }
}

/** Told the outcome of a {@linkcode QueuedBatch}. */
export interface BatchListener {
  /** Acknowledged: `metas[from + i]` is where `records[i]` landed. */
  sent(metas: readonly RecordMetadata[], from: number): void;
  /** Refused or lost, every record of the batch. */
  failed(error: unknown): void;
}

/**
 * Records of one topic queued in the producer as one item (a table's
 * changelog appends at a commit): one outcome for all, told to one
 * listener, without a promise, a handle or a clock reading per record.
 */
export class QueuedBatch {
  /** The records, all of one topic. */
  readonly records: readonly ProduceRecord[];
  /** Where they go (`undefined`: the transport). */
  readonly target: SendTarget | undefined;
  /** When they were queued (`performance.now()`). */
  readonly t0: number;
  readonly #counter: SendCounter | undefined;
  #listener: BatchListener | undefined;

  /** @internal Made by the producer. */
  constructor(
    records: readonly ProduceRecord[],
    target: SendTarget | undefined,
    counter: SendCounter | undefined,
    listener: BatchListener,
  ) {
    this.records = records;
    this.target = target;
    this.#counter = counter;
    this.#listener = listener;
    this.t0 = performance.now();
  }

  /** @internal The broker acknowledged the records (`metas[from..]`). */
  succeed(metas: readonly RecordMetadata[], from: number): void {
    const listener = this.#take();
    if (listener === undefined) return;
    try {
      listener.sent(metas, from);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** @internal The records were refused or lost. */
  fail(error: unknown): void {
    const listener = this.#take();
    if (listener === undefined) return;
    try {
      listener.failed(error);
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown;
      });
    }
  }

  /** The listener, once; the counter ends for every record. */
  #take(): BatchListener | undefined {
    const listener = this.#listener;
    if (listener === undefined) return undefined;
    this.#listener = undefined;
    const counter = this.#counter;
    if (counter !== undefined) {
      for (let i = 0; i < this.records.length; i++) counter.end();
    }
    return listener;
  }
}
