/**
 * Windowed tables: a table whose values are kept per time window. Each
 * `(key, window)` pair is one store key ({@linkcode windowKey}); `get(key)`
 * returns a {@linkcode WindowSet} that reads the window of a point in time.
 *
 * Time: event timestamps are milliseconds, windows are seconds (as Faust).
 * Expired windows are deleted every `tableCleanupInterval` (tombstones in
 * the changelog) and `onWindowClose(key, value)` is called. The clock used
 * for expiry is the wall clock with `relativeToNow()`; otherwise the latest
 * event time seen on the partition, advanced by the wall-clock time passed
 * since, so windows also close when no later event arrives
 * (faust-streaming#250).
 *
 * @module
 */
import { currentEvent } from "../delivery/actor_context.ts";
import { type Duration, toSeconds } from "../util/duration.ts";
import { StateError } from "../errors.ts";
import type { Event } from "../delivery/event.ts";
import type { FieldDescriptor } from "../models.ts";
import { keyId } from "./changelog_change.ts";
import type { Table } from "./table.ts";
import type { Window, WindowRange } from "./window.ts";
import { fieldSeconds, streamTime, type TimeOf } from "./window_time.ts";
import {
  parseWindowKey,
  WINDOW_KEY_OVERHEAD,
  windowKey,
} from "./window_key.ts";

/**
 * Options of `tumbling()`, `hopping()` and `sliding()`.
 *
 * @example Windows kept for an hour
 * ```ts
 * import type { WindowOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: WindowOptions<string, number> = {
 *   expires: "1h",
 *   onWindowClose: (page, views) => console.log(`${page}: ${views}`),
 * };
 * const app = testApp("window-options");
 * const views = app.table<string, number>("views", { default: () => 0 })
 *   .tumbling("1m", options);
 * console.log(views.window.expires); // 3600
 * ```
 */
export interface WindowOptions<K, V> {
  /** Keep a window this long after it closes (seconds or `"1h"`); omit to keep windows forever. */
  readonly expires?: Duration;
  /** Allow `keys()`, `items()` and `entries()` (a scan of the table). @default the table's `keyIndex` */
  readonly keyIndex?: boolean;
  /** Called with key and value when an expired window is removed. @default the table's `onWindowClose` */
  readonly onWindowClose?: (key: K, value: V) => unknown;
}

/** Convert a window option to seconds (`undefined` stays undefined). */
export function windowSeconds(
  value: Duration | undefined,
  what: string,
): number | undefined {
  return value === undefined ? undefined : toSeconds(value, what);
}

/**
 * A table with values per time window.
 *
 * @typeParam K Key type.
 * @typeParam V Value type (per window).
 *
 * @example Page views per minute
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("windowed");
 * const visits = app.topic("visits", { valueType: "string" });
 * const views = app.table<string, number>("views", { default: () => 0 })
 *   .tumbling(60, { expires: "1h" });
 * const seen: number[] = [];
 * app.agent(visits, async (stream) => {
 *   for await (const page of stream) {
 *     views.update(page, (n) => n + 1);
 *     seen.push(views.get(page).current()); // this minute, by the event's time
 *   }
 * }, { name: "views" });
 * await app.start();
 * try {
 *   await visits.send({ value: "/home" });
 *   await waitFor(() => seen.length === 1, 5000, "the visit");
 *   assert.equal(seen[0], 1);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class WindowedTable<K, V> {
  /** The underlying table (holds the window keys). */
  readonly table: Table<K, V>;
  /** The kind of window. */
  readonly window: Window;
  readonly #keyIndex: boolean;
  readonly #onWindowClose: ((key: K, value: V) => unknown) | undefined;
  #timeOf: TimeOf;
  #relativeToNow = false;
  /** Per partition: latest event time (s) written and the wall time (s) it was seen. */
  readonly #latest = new Map<number, { ts: number; seenAt: number }>();

  /**
   * Make `table` windowed. Use `table.tumbling()`, `.hopping()` or `.sliding()`.
   *
   * @param table The table.
   * @param window The window.
   * @param options Key index and `onWindowClose`.
   */
  constructor(
    table: Table<K, V>,
    window: Window,
    options: WindowOptions<K, V> = {},
  ) {
    this.table = table;
    this.window = window;
    this.#keyIndex = options.keyIndex ?? table.options.keyIndex ?? false;
    this.#onWindowClose = options.onWindowClose ?? table.options.onWindowClose;
    this.#timeOf = streamTime(table.name);
    table.setWindowing({
      expires: window.expires,
      cleanup: () => this.cleanup(),
    });
  }

  /** Windows follow event timestamps (the default). */
  relativeToStream(): this {
    this.#timeOf = streamTime(this.table.name);
    this.#relativeToNow = false;
    return this;
  }

  /** Windows follow the wall clock. */
  relativeToNow(): this {
    this.#timeOf = () => Date.now() / 1000;
    this.#relativeToNow = true;
    return this;
  }

  /**
   * Windows follow a field of the event's value (seconds, a Date or a date string).
   *
   * @param field A Record field, e.g. `Model.fields.createdAt`.
   */
  relativeToField(field: FieldDescriptor): this {
    const stream = streamTime(this.table.name);
    this.#timeOf = (event) => {
      stream(event);
      return fieldSeconds(field.get(event!.value), field.qualifiedName);
    };
    this.#relativeToNow = false;
    return this;
  }

  /**
   * The time (seconds) the table's time reference gives for `event`.
   *
   * @param event An event (default: the current one).
   */
  timeOf(event: Event | undefined = currentEvent()): number {
    return this.#timeOf(event);
  }

  /**
   * The windows of `key`.
   *
   * @param key The key.
   * @returns A WindowSet bound to the current event.
   */
  get(key: K): WindowSet<K, V> {
    return new WindowSet(key, this, currentEvent());
  }

  /**
   * Set `key` to `value` in every window containing the current time reference.
   *
   * @param key The key.
   * @param value The value.
   * @returns This table.
   * @throws {StateError} Outside event processing or from an agent with concurrency > 1.
   */
  set(key: K, value: V): this {
    return this.update(key, () => value);
  }

  /**
   * Replace the value of `key` in every window containing the current time
   * reference with `fn(old)` (`old` is the window's value or `default()`):
   * `counts.update(k, (n) => n + 1)` counts per window, also for hopping windows.
   *
   * @param key The key.
   * @param fn New value from the old one.
   * @returns This table.
   * @throws {StateError} Outside event processing or from an agent with concurrency > 1.
   */
  update(key: K, fn: (old: V) => V): this {
    const t = this.table;
    const p = t.writePartition("set a key of");
    const ts = this.timeOf();
    t.checkKey(t.encodeKey(key), WINDOW_KEY_OVERHEAD, "window key");
    t.updateWindows(key, this.window.ranges(ts), p, fn);
    this.#seen(p, ts);
    return this;
  }

  /**
   * Delete `key` from every window containing the current time reference.
   *
   * @param key The key.
   * @returns This table.
   */
  delete(key: K): this {
    const t = this.table;
    const p = t.writePartition("delete a key of");
    t.deleteWindows(key, this.window.ranges(this.timeOf()), p);
    return this;
  }

  /**
   * @internal Value of `key` in `range`, or `default()` / KeyError.
   */
  valueAt(key: K, range: WindowRange): V {
    const t = this.table;
    const v = t.rawGet(windowKey(t.encodeKey(key), range));
    return v === undefined ? t.missing(key) : t.valueSerde.decode(v);
  }

  /** Keys with at least one window (needs `keyIndex: true`). */
  *keys(): IterableIterator<K> {
    this.#assertKeyIndex("keys");
    const seen = new Set<string>();
    for (const [kb] of this.table.rawEntries()) {
      const { key } = parseWindowKey(kb);
      const id = keyId(key);
      if (seen.has(id)) continue;
      seen.add(id);
      yield this.table.keySerde.decode(key);
    }
  }

  /** `[key, WindowSet]` pairs (needs `keyIndex: true`). */
  *items(): IterableIterator<[K, WindowSet<K, V>]> {
    for (const k of this.keys()) yield [k, this.get(k)];
  }

  /** Every stored window: `[key, range, value]` (needs `keyIndex: true`). */
  *windows(): IterableIterator<[K, WindowRange, V]> {
    this.#assertKeyIndex("windows");
    const t = this.table;
    for (const [kb, vb] of t.rawEntries()) {
      const { key, range } = parseWindowKey(kb);
      yield [t.keySerde.decode(key), range, t.valueSerde.decode(vb)];
    }
  }

  /**
   * @internal Delete expired windows (tombstones) and call `onWindowClose`.
   * Run by the table's `tick()`.
   */
  async cleanup(): Promise<void> {
    if (this.window.expires === undefined) return;
    const t = this.table;
    const now = Date.now() / 1000;
    const entries = [...t.rawEntries()].map(([kb, vb, p]) => ({
      ...parseWindowKey(kb),
      kb,
      vb,
      p,
    }));
    // After a restart no event was seen yet: start from the newest window stored.
    for (const e of entries) {
      const l = this.#latest.get(e.p);
      if (l === undefined || (l.seenAt === -1 && e.range.start > l.ts)) {
        this.#latest.set(e.p, { ts: e.range.start, seenAt: -1 });
      }
    }
    for (const l of this.#latest.values()) if (l.seenAt === -1) l.seenAt = now;
    for (const e of entries) {
      const clock = this.#clock(e.p, now);
      if (clock === undefined || !this.window.stale(e.range, clock)) continue;
      t.rawWrite(e.p, e.kb, null);
      // The window's remembered value is stale now (and agents may run
      // while onWindowClose is awaited).
      t.dropCaches();
      if (this.#onWindowClose !== undefined) {
        await this.#onWindowClose(
          t.keySerde.decode(e.key),
          t.valueSerde.decode(e.vb),
        );
      }
    }
  }

  #clock(partition: number, now: number): number | undefined {
    if (this.#relativeToNow) return now;
    const l = this.#latest.get(partition);
    return l === undefined ? undefined : l.ts + (now - l.seenAt);
  }

  #seen(partition: number, ts: number): void {
    const now = Date.now() / 1000;
    const l = this.#latest.get(partition);
    if (l === undefined || ts >= l.ts + (now - l.seenAt) || l.seenAt === -1) {
      this.#latest.set(partition, { ts, seenAt: now });
    }
  }

  #assertKeyIndex(what: string): void {
    if (!this.#keyIndex) {
      throw new StateError(
        `Cannot call ${what}() on windowed table "${this.table.name}": create it with the option keyIndex: true`,
      );
    }
  }
}

/**
 * The windows of one key, read at a point in time.
 *
 * @typeParam K Key type.
 * @typeParam V Value type.
 *
 * @example Now, current and earlier windows of a key
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("window-set");
 * const payments = app.topic("payments", { keyType: "string", valueType: "number" });
 * const sums = app.table<string, number>("sums", { default: () => 0 })
 *   .hopping(60, 10);
 * const current: number[] = [];
 * app.agent(payments, async (stream) => {
 *   for await (const [account, amount] of stream.items()) {
 *     sums.update(account, (s) => s + amount);
 *     current.push(sums.get(account).current());
 *   }
 * }, { name: "sums" });
 * await app.start();
 * try {
 *   await payments.send({ key: "acc-1", value: 5 });
 *   await waitFor(() => current.length === 1, 5000, "the payment");
 *   assert.equal(current[0], 5);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class WindowSet<K, V> {
  /** The key. */
  readonly key: K;
  /** The table. */
  readonly table: WindowedTable<K, V>;
  /** The event current when the set was made, if any. */
  readonly event: Event | undefined;

  /**
   * Use `windowedTable.get(key)`.
   *
   * @param key The key.
   * @param table The windowed table.
   * @param event The current event, if any.
   */
  constructor(key: K, table: WindowedTable<K, V>, event: Event | undefined) {
    this.key = key;
    this.table = table;
    this.event = event;
  }

  /**
   * Value in the window current at the table's time reference
   * (`relativeToStream/Now/Field`) for `event`.
   *
   * @param event Default: the event current when the set was made.
   * @returns The value, or `default()`.
   * @throws {KeyError} When missing and the table has no default.
   */
  value(event?: Event): V {
    const ts = this.table.timeOf(event ?? this.event);
    return this.table.valueAt(this.key, this.table.window.current(ts));
  }

  /**
   * Value in the window current at the event's own timestamp (stream time).
   *
   * @param event Default: the event current when the set was made.
   * @returns The value, or `default()`.
   */
  current(event?: Event): V {
    const ts = streamTime(this.table.table.name)(event ?? this.event);
    return this.table.valueAt(this.key, this.table.window.current(ts));
  }

  /**
   * Value in the window current now (wall clock).
   *
   * @returns The value, or `default()`.
   */
  now(): V {
    return this.table.valueAt(
      this.key,
      this.table.window.current(Date.now() / 1000),
    );
  }

  /**
   * Value in the window that was current `d` before the event's timestamp.
   *
   * @param d Seconds (or `"1m"`) back.
   * @param event Default: the event current when the set was made.
   * @returns The value, or `default()`.
   */
  delta(d: Duration, event?: Event): V {
    const ts = streamTime(this.table.table.name)(event ?? this.event);
    return this.table.valueAt(
      this.key,
      this.table.window.delta(ts, toSeconds(d, "delta")),
    );
  }
}
