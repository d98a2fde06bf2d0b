/**
 * Tables: Map-like state kept in a store (`memory://`, `lmdb://`) and made
 * durable by a changelog topic, `{appId}-{table}-changelog`. Reads work
 * anywhere; writes only while an agent (concurrency 1) processes an event,
 * on the changelog partition of that event. On assignment a table replays
 * its changelog partitions before the app delivers events again.
 *
 * @module
 */
import { type Duration, toSeconds } from "../duration.ts";
import { StateError } from "../errors.ts";
import { Collection } from "./collection.ts";
import { HoppingWindow, SlidingWindow, TumblingWindow } from "./window.ts";
import {
  WindowedTable,
  type WindowOptions,
  windowSeconds,
} from "./windowed.ts";

export { Collection } from "./collection.ts";
export type {
  ChangelogEvent,
  TableHost,
  TableOptions,
  TableWindowing,
} from "./api.ts";

/**
 * A Map-like table.
 *
 * @typeParam K Key type.
 * @typeParam V Value type.
 *
 * @example Counting words
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("word-count");
 * const words = app.topic("words", { keyType: "string", valueType: "string" });
 * const counts = app.table<string, number>("counts", { default: () => 0 });
 * app.agent(words, async (stream) => {
 *   for await (const word of stream) counts.set(word, counts.get(word) + 1);
 * }, { name: "count" });
 * await app.start();
 * try {
 *   for (const word of ["a", "b", "a"]) await words.send({ key: word, value: word });
 *   await waitFor(() => counts.get("a") === 2, 5000, "two a's");
 *   assert.equal(counts.get("b"), 1);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Table<K = unknown, V = unknown> extends Collection<K, V> {
  /** Number of keys held (active and standby partitions). */
  override get size(): number {
    this.#assertPlain("size");
    return this.rawCount();
  }

  // ------------------------------------------------------------ Map API

  /**
   * Value of `key`. Never writes: a missing key returns `default()`.
   *
   * @param key The key.
   * @returns The value, or `default()` when missing.
   * @throws {KeyError} When the key is missing and there is no default.
   */
  get(key: K): V {
    this.#assertPlain("get");
    const v = this.rawGet(this.keySerde.encode(key));
    if (v !== undefined) return this.valueSerde.decode(v);
    return this.missing(key);
  }

  /**
   * Set `key` to `value`: written to the changelog on the current event's partition.
   *
   * @param key The key.
   * @param value The value.
   * @returns The table.
   * @throws {StateError} Outside event processing or from an agent with concurrency > 1.
   */
  set(key: K, value: V): this {
    this.#assertPlain("set");
    const p = this.writePartition("set a key of");
    this.rawWrite(p, this.keySerde.encode(key), this.valueSerde.encode(value));
    return this;
  }

  /**
   * Whether `key` has a value.
   *
   * @param key The key.
   * @returns `true` when stored.
   */
  has(key: K): boolean {
    this.#assertPlain("has");
    return this.rawGet(this.keySerde.encode(key)) !== undefined;
  }

  /**
   * Delete `key` (a tombstone in the changelog).
   *
   * @param key The key.
   * @returns `true` when the key existed.
   * @throws {StateError} Outside event processing or from an agent with concurrency > 1.
   */
  delete(key: K): boolean {
    this.#assertPlain("delete");
    const p = this.writePartition("delete a key of");
    const kb = this.keySerde.encode(key);
    if (this.rawGet(kb) === undefined) return false;
    this.rawWrite(p, kb, null);
    return true;
  }

  /** Keys, decoded. */
  *keys(): IterableIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  /** Values, decoded. */
  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  /** `[key, value]` pairs, decoded (store order within a partition). */
  *entries(): IterableIterator<[K, V]> {
    this.#assertPlain("entries");
    for (const [k, v] of this.rawEntries()) {
      yield [this.keySerde.decode(k), this.valueSerde.decode(v)];
    }
  }

  /** Same as {@linkcode Table.entries}. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  // ------------------------------------------------------------ windowing

  /**
   * Make this table windowed with fixed, non-overlapping windows.
   *
   * @param size Window length (seconds or `"1m"`).
   * @param options `expires`, `keyIndex`, `onWindowClose`.
   * @returns The windowed view (use it instead of this table).
   */
  tumbling(
    size: Duration,
    options: WindowOptions<K, V> = {},
  ): WindowedTable<K, V> {
    const w = new TumblingWindow(
      toSeconds(size, "window size"),
      windowSeconds(options.expires, "window expires"),
    );
    return new WindowedTable(this, w, options);
  }

  /**
   * Make this table windowed with overlapping windows of `size` starting every `step`.
   *
   * @param size Window length.
   * @param step Time between window starts.
   * @param options `expires`, `keyIndex`, `onWindowClose`.
   * @returns The windowed view.
   */
  hopping(
    size: Duration,
    step: Duration,
    options: WindowOptions<K, V> = {},
  ): WindowedTable<K, V> {
    const w = new HoppingWindow(
      toSeconds(size, "window size"),
      toSeconds(step, "window step"),
      windowSeconds(options.expires, "window expires"),
    );
    return new WindowedTable(this, w, options);
  }

  /**
   * Make this table windowed with one window per event: `[t - before, t + after]`.
   *
   * @param before Time before the event.
   * @param after Time after the event.
   * @param options `expires`, `keyIndex`, `onWindowClose`.
   * @returns The windowed view.
   */
  sliding(
    before: Duration,
    after: Duration,
    options: WindowOptions<K, V> = {},
  ): WindowedTable<K, V> {
    const w = new SlidingWindow(
      toSeconds(before, "window before"),
      toSeconds(after, "window after"),
      windowSeconds(options.expires, "window expires"),
    );
    return new WindowedTable(this, w, options);
  }

  #assertPlain(what: string): void {
    if (this.windowed) {
      throw new StateError(
        `Cannot call ${what}() on windowed table "${this.name}" directly: use the WindowedTable returned by tumbling()/hopping()/sliding()`,
      );
    }
  }
}
