/**
 * Tables: Map-like state kept in a store (`memory://`, `lmdb://`) and made
 * durable by a changelog topic, `{appId}-{table}-changelog`. Reads work
 * anywhere; writes only while an agent (concurrency 1) processes an event,
 * on the changelog partition of that event. On assignment a table replays
 * its changelog partitions before the app delivers events again.
 *
 * @module
 */
import { actorContext } from "../delivery/actor_context.ts";
import { type Duration, toSeconds } from "../util/duration.ts";
import { StateError } from "../errors.ts";
import { keyId } from "./changelog_change.ts";
import type { SendSerde } from "../models/serde.ts";
import { Slab } from "../util/slab.ts";
import { Collection } from "./collection.ts";
import { HoppingWindow, SlidingWindow, TumblingWindow } from "./window.ts";
import {
  WindowedTable,
  type WindowOptions,
  windowSeconds,
} from "./windowed.ts";
import type { WindowRange } from "./window.ts";
import { windowKey } from "./window_key.ts";

export { Collection } from "./collection.ts";
export type {
  ChangelogEvent,
  TableHost,
  TableOptions,
  TableWindowing,
} from "./api.ts";

/** Marks a cached entry whose value is known as bytes only. */
const UNDECODED: unique symbol = Symbol("undecoded");

/**
 * Keys (strings and numbers) whose encoding this table remembers, at most:
 * two generations of half as many each; when the newer one is full, the
 * older is forgotten whole (a key used again meanwhile moved to the newer).
 * Forgetting one oldest key at a time cost a scan over a `Map`'s deleted
 * slots per new key: with a million distinct keys, a third of the CPU.
 */
export const KEY_CACHE_SIZE = 50_000;

/**
 * What a table remembers about one key: its encoding, and the key's value
 * as the current event's partition sees it, while valid.
 */
interface KeyEntry {
  /** Encoded key. */
  readonly kb: Uint8Array;
  /** `keyId(kb)`. */
  readonly id: string;
  /**
   * Changelog partition whose value `value`/`bytes` is (-1: none). Valid
   * for reads from events of that partition only, while `gen` is the
   * table's generation.
   */
  partition: number;
  /** The table's cache generation when the value was cached. */
  gen: number;
  /** The decoded value (a primitive), or UNDECODED: decode `bytes`. */
  value: unknown;
  /** Encoded value written by this table (only with UNDECODED). */
  bytes: Uint8Array | undefined;
  /** Windowed tables: the key's windows used last, oldest first. */
  windows?: WindowEntry[];
}

/** What a windowed table remembers about one window of a key. */
interface WindowEntry extends KeyEntry {
  /** Window start (s). */
  readonly start: number;
  /** Window end (s). */
  readonly end: number;
}

/**
 * Windows remembered per key of a windowed table: the newest few (a
 * tumbling window uses one at a time; an update touching more windows
 * than this, e.g. a hopping window of many steps, reads them uncached).
 */
export const WINDOWS_PER_KEY = 4;

function newWindowEntry(kb: Uint8Array, range: WindowRange): WindowEntry {
  const wk = windowKey(kb, range);
  return {
    kb: wk,
    id: keyId(wk),
    partition: -1,
    gen: 0,
    value: undefined,
    bytes: undefined,
    start: range.start,
    end: range.end,
  };
}

/**
 * For the built-in value types whose codec is known, whether reading back
 * what `set(key, v)` wrote gives `v` itself, so a write can be cached
 * without decoding it. `undefined`: unknown (decode on the next read).
 */
function roundTripCheck(
  valueType: unknown,
  serializer: unknown,
): ((v: unknown) => boolean) | undefined {
  const json = serializer === undefined || serializer === "json";
  // JSON keeps finite numbers exactly except -0 (written "0").
  const number = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) && !Object.is(v, -0);
  if (valueType === "number" && json) return number;
  if (valueType === "string") {
    // JSON escapes lone surrogates and restores them; raw UTF-8 replaces them.
    if (serializer === "json") return (v) => typeof v === "string";
    if (serializer === undefined || serializer === "raw") {
      return (v) => typeof v === "string" && v.isWellFormed();
    }
  }
  if (valueType === "json" && json) {
    return (v) =>
      v === null || typeof v === "boolean" || typeof v === "string" ||
      number(v);
  }
  return undefined;
}

/** Values returned from the cache as they are: nothing a caller can mutate. */
function immutable(v: unknown): boolean {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

/**
 * A Map-like table.
 *
 * Reads are served from a cache when they can be answered exactly: string
 * and number keys remember their encoding, and a key read or written
 * while processing an event of partition P remembers its value for later
 * reads from events of P, until the key is written again or the data may
 * change behind the table's back (recovery, assignment, revocation,
 * discarded exactly-once changes, close). Primitive values are returned as
 * cached; objects are decoded afresh for every read, so mutating a value
 * read never changes the table.
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
  #keys = new Map<unknown, KeyEntry>();
  /** The previous generation of `#keys` (see KEY_CACHE_SIZE). */
  #olderKeys = new Map<unknown, KeyEntry>();
  /**
   * The key used last and its entry: a read-modify-write (`set(k,
   * get(k) + 1)`) finds the entry of its second call without a lookup.
   */
  #lastKey: unknown = undefined;
  #lastEntry: KeyEntry | undefined = undefined;
  #gen = 0;
  readonly #found = { partition: -1 };
  readonly #roundTrips = roundTripCheck(
    this.options.valueType,
    this.options.valueSerializer,
  );
  /**
   * Values of deferred writes are encoded at a commit and kept until the
   * store applied them, all about as long: into a slab of their own
   * instead of a buffer each (the stores copy what they keep).
   */
  readonly #slab = new Slab();
  readonly #encodeValue = (v: unknown): Uint8Array => {
    const serde = this.valueSerde as Partial<SendSerde<V>>;
    return serde.encodeShortLived !== undefined
      ? serde.encodeShortLived(v as V, this.#slab)
      : this.valueSerde.encode(v as V);
  };

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
    const p = actorContext()?.event?.partition ?? -1;
    const e = this.#entry(key);
    if (p >= 0 && e.partition === p && e.gen === this.#gen) {
      this.noteOp("get");
      return this.#cachedValue(e) as V;
    }
    const v = this.rawFind(e.kb, e.id, p, this.#found);
    if (v === undefined) return this.missing(key);
    const d = this.valueSerde.decode(v);
    if (this.#found.partition >= 0 && immutable(d)) {
      e.partition = p;
      e.gen = this.#gen;
      e.value = d;
      e.bytes = undefined;
    }
    return d;
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
    this.#write(p, this.#entry(key), value);
    return this;
  }

  /** Write `value` to `e`'s key on partition `p` and remember it for reads from `p`. */
  #write(p: number, e: KeyEntry, value: unknown): void {
    if (this.#roundTrips?.(value) === true) {
      // A primitive the codec encodes without fail and reads back as is:
      // encoded only when appended (once per commit with the record cache).
      this.rawWriteDeferred(p, e.kb, value, this.#encodeValue, e.id);
      e.partition = p;
      e.gen = this.#gen;
      e.value = value;
      e.bytes = undefined;
    } else {
      const vb = this.valueSerde.encode(value as V);
      this.rawWrite(p, e.kb, vb, e.id);
      e.partition = p;
      e.gen = this.#gen;
      // Decoded on the next read: the codec decides what a read returns.
      e.value = UNDECODED;
      e.bytes = vb;
    }
  }

  /**
   * @internal For windowed tables: replace the value of `key` in each of
   * `ranges` with `fn(old)` (`old`: the window's value or `default()`),
   * written to partition `p`. A window's value read or written from `p` is
   * remembered for the next update from `p`, as {@linkcode Table.get} does.
   */
  updateWindows(
    key: K,
    ranges: readonly WindowRange[],
    p: number,
    fn: (old: V) => V,
  ): void {
    const e = this.#entry(key);
    for (const range of ranges) {
      const w = this.#windowEntry(e, range, ranges.length);
      let old: V;
      if (w.partition === p && w.gen === this.#gen) {
        this.noteOp("get");
        old = this.#cachedValue(w) as V;
      } else {
        const v = this.rawFind(w.kb, w.id, p);
        old = v === undefined ? this.missing(key) : this.valueSerde.decode(v);
      }
      this.#write(p, w, fn(old));
    }
  }

  /**
   * @internal For windowed tables: delete `key` from each of `ranges` (a
   * tombstone on partition `p` where a value exists).
   */
  deleteWindows(key: K, ranges: readonly WindowRange[], p: number): void {
    const e = this.#entry(key);
    for (const range of ranges) {
      const w = this.#windowEntry(e, range, ranges.length);
      // Absence is not cached (see delete()).
      w.partition = -1;
      w.value = undefined;
      w.bytes = undefined;
      if (this.rawGet(w.kb, w.id) !== undefined) {
        this.rawWrite(p, w.kb, null, w.id);
      }
    }
  }

  /**
   * The entry of one window of `e`'s key, remembered among its newest
   * {@linkcode WINDOWS_PER_KEY}; made afresh when an update touches more
   * windows (`count`) than that.
   */
  #windowEntry(e: KeyEntry, range: WindowRange, count: number): WindowEntry {
    if (count > WINDOWS_PER_KEY) return newWindowEntry(e.kb, range);
    const ws = e.windows ??= [];
    for (const w of ws) {
      if (w.start === range.start && w.end === range.end) return w;
    }
    const w = newWindowEntry(e.kb, range);
    if (ws.length >= WINDOWS_PER_KEY) ws.shift();
    ws.push(w);
    return w;
  }

  /**
   * Whether `key` has a value.
   *
   * @param key The key.
   * @returns `true` when stored.
   */
  has(key: K): boolean {
    this.#assertPlain("has");
    const e = this.#entry(key);
    const p = actorContext()?.event?.partition ?? -1;
    if (p >= 0 && e.partition === p && e.gen === this.#gen) {
      this.noteOp("get");
      return true;
    }
    return this.rawGet(e.kb, e.id) !== undefined;
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
    const e = this.#entry(key);
    if (this.rawGet(e.kb, e.id) === undefined) return false;
    this.rawWrite(p, e.kb, null, e.id);
    // Absence is not cached: once applied, reads may find the key in
    // another partition's store.
    e.partition = -1;
    e.value = undefined;
    e.bytes = undefined;
    return true;
  }

  /** @internal Forget every cached value (encoded keys stay: they never change). */
  override dropCaches(): void {
    this.#gen++;
  }

  #cachedValue(e: KeyEntry): unknown {
    if (e.value !== UNDECODED) return e.value;
    const d = this.valueSerde.decode(e.bytes!);
    if (immutable(d)) {
      e.value = d;
      e.bytes = undefined;
    }
    return d;
  }

  /** The entry of `key`: remembered for strings and numbers, made afresh for others. */
  #entry(key: K): KeyEntry {
    // Strings and numbers only (`===` is equality of the key for them; NaN
    // never matches, and is looked up as before).
    if (key === this.#lastKey && this.#lastEntry !== undefined) {
      return this.#lastEntry;
    }
    const t = typeof key;
    const cacheable = t === "string" || t === "number";
    if (cacheable) {
      let e = this.#keys.get(key);
      if (e === undefined) {
        e = this.#olderKeys.get(key);
        if (e !== undefined) this.#remember(key, e);
      }
      if (e !== undefined) {
        this.#lastKey = key;
        this.#lastEntry = e;
        return e;
      }
    }
    const kb = this.keySerde.encode(key);
    const e: KeyEntry = {
      kb,
      id: keyId(kb),
      partition: -1,
      gen: 0,
      value: undefined,
      bytes: undefined,
    };
    if (cacheable) {
      this.#remember(key, e);
      this.#lastKey = key;
      this.#lastEntry = e;
    }
    return e;
  }

  #remember(key: unknown, e: KeyEntry): void {
    if (this.#keys.size >= KEY_CACHE_SIZE / 2) {
      this.#olderKeys = this.#keys;
      this.#keys = new Map();
    }
    this.#keys.set(key, e);
  }

  /**
   * @internal `keySerde.encode(key)`, remembered for string and number keys
   * (windowed tables encode the same keys event after event).
   */
  encodeKey(key: K): Uint8Array {
    return this.#entry(key).kb;
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
