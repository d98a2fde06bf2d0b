/**
 * The records kafkajs pushed (`eachBatch`) waiting for our pull-based
 * `poll()`: one chunk per fetched batch, handed out in fetch order, with
 * the records of paused partitions kept but hidden (and not counted against
 * the buffer limit). Two wait lists connect the two sides: `poll()` waits for
 * data, a batch waits for space. A chunk may keep the fetched messages as
 * they came and turn each into a record only when it is taken: records made
 * at push time all outlive V8's young-generation collections while they
 * wait (they are moved to the old generation, which grows to several times
 * the live data before it is collected), records made at take time are
 * short-lived.
 *
 * @module
 */
import type { TransportRecord } from "../records.ts";

interface Chunk {
  readonly key: string;
  readonly records: readonly unknown[];
  readonly convert: ((item: unknown) => TransportRecord) | undefined;
  at: number;
}

/** Buffered records of a group consumer, by partition key (`tpKey`). */
export class FetchBuffer {
  #chunks: Chunk[] = [];
  readonly #paused = new Set<string>();
  #dataWaiters: (() => void)[] = [];
  #spaceWaiters: (() => void)[] = [];

  /** Whether the partition is paused (its records hidden). */
  isPaused(key: string): boolean {
    return this.#paused.has(key);
  }

  /** Hide the records of these partitions (they stop counting: a batch may go on). */
  pause(keys: readonly string[]): void {
    for (const k of keys) this.#paused.add(k);
    this.#wake(this.#spaceWaiters);
  }

  /** Show the records of these partitions again. */
  resume(keys: readonly string[]): void {
    for (const k of keys) this.#paused.delete(k);
    this.#wake(this.#dataWaiters);
  }

  /**
   * Append a fetched batch of one partition: records, or items that
   * `convert` turns into records when they are taken.
   */
  push(key: string, records: readonly TransportRecord[]): void;
  push<M>(
    key: string,
    items: readonly M[],
    convert: (item: M) => TransportRecord,
  ): void;
  push(
    key: string,
    records: readonly unknown[],
    convert?: (item: never) => TransportRecord,
  ): void {
    if (records.length === 0) return;
    this.#chunks.push({
      key,
      records,
      convert: convert as ((item: unknown) => TransportRecord) | undefined,
      at: 0,
    });
    this.#wake(this.#dataWaiters);
  }

  /** Take up to `max` records of unpaused partitions, in fetch order. */
  take(max: number): TransportRecord[] {
    const out: TransportRecord[] = [];
    for (let i = 0; i < this.#chunks.length && out.length < max; i++) {
      const c = this.#chunks[i]!;
      if (this.#paused.has(c.key)) continue;
      const n = Math.min(max - out.length, c.records.length - c.at);
      const convert = c.convert;
      if (convert === undefined) {
        for (let j = 0; j < n; j++) {
          out.push(c.records[c.at + j] as TransportRecord);
        }
      } else {
        for (let j = 0; j < n; j++) out.push(convert(c.records[c.at + j]));
      }
      c.at += n;
    }
    if (out.length > 0) {
      this.#chunks = this.#chunks.filter((c) => c.at < c.records.length);
      this.#wake(this.#spaceWaiters);
    }
    return out;
  }

  /** Records of unpaused partitions not taken yet. */
  active(): number {
    let n = 0;
    for (const c of this.#chunks) {
      if (!this.#paused.has(c.key)) n += c.records.length - c.at;
    }
    return n;
  }

  /** Drop the records of the partitions `match` selects. */
  drop(match: (key: string) => boolean): void {
    this.#chunks = this.#chunks.filter((c) => !match(c.key));
    this.#wake(this.#spaceWaiters);
  }

  /**
   * Wait until records may be there (a push or resume), `ms` passed, or
   * `signal` aborted; never rejects.
   */
  waitForData(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#wait(this.#dataWaiters, ms, signal);
  }

  /** Wait until space may be there (a take, drop or pause) or `ms` passed. */
  waitForSpace(ms: number): Promise<void> {
    return this.#wait(this.#spaceWaiters, ms);
  }

  /** Wake every waiter (the consumer closes or changes). */
  wakeAll(): void {
    this.#wake(this.#dataWaiters);
    this.#wake(this.#spaceWaiters);
  }

  /** Wake the `poll()` side (e.g. to report a failure). */
  wakeData(): void {
    this.#wake(this.#dataWaiters);
  }

  #wait(
    list: (() => void)[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      list.push(done);
    });
  }

  #wake(list: (() => void)[]): void {
    for (const f of list.splice(0)) f();
  }
}
