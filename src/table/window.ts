/**
 * Windowing math for windowed tables, as in Faust: which windows a timestamp
 * falls into, which window is current, when a window is stale. Pure: no
 * I/O, no clock. How a `(key, window)` pair is laid out as store key bytes
 * is in `window_key.ts`.
 *
 * Times are seconds as floats (event timestamps, like Faust). A window that
 * starts at `start` and is `size` long has `end = start + size - 0.1`
 * (Faust's convention: the end is inside the window, the next one starts at
 * `start + size`).
 *
 * @example Counting page views per minute
 * ```ts
 * import { TumblingWindow } from "./window.ts";
 * const w = new TumblingWindow(60, 3600);
 * w.ranges(125); // [{ start: 120, end: 179.9 }]
 * ```
 *
 * @module
 */

/** Gap between a window's end and the start of the next one, in seconds. */
export const WINDOW_END_GAP = 0.1;

/**
 * A window: `[start, end]` in seconds, both inclusive.
 *
 * @example The window an event falls into
 * ```ts
 * import { TumblingWindow, type WindowRange } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const minute = new TumblingWindow(60);
 * const range: WindowRange = minute.current(125);
 * assert.deepEqual(range, { start: 120, end: 179.9 });
 * ```
 */
export interface WindowRange {
  /** First second of the window. */
  readonly start: number;
  /** Last second of the window: `start + size - 0.1` for fixed-size windows. */
  readonly end: number;
}

/**
 * The range of a window of `size` seconds starting at `start`.
 *
 * @param start First second.
 * @param size Length in seconds.
 * @returns `{ start, end: start + size - 0.1 }`.
 */
export function windowRangeFromStart(start: number, size: number): WindowRange {
  return { start, end: start + size - WINDOW_END_GAP };
}

/**
 * A kind of window (tumbling, hopping, sliding).
 *
 * @example Windows of any kind
 * ```ts
 * import { HoppingWindow, SlidingWindow, type Window } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const windows: Window[] = [new HoppingWindow(60, 30), new SlidingWindow(5, 5)];
 * const counts = windows.map((w) => w.ranges(100).length);
 * assert.deepEqual(counts, [2, 1]);
 * ```
 */
export interface Window {
  /**
   * How long, in seconds, a window is kept after it closes (relative to the
   * latest timestamp seen); `undefined` keeps windows forever.
   */
  readonly expires: number | undefined;
  /**
   * Every window that contains `timestamp`, by ascending start.
   *
   * @param timestamp Event time in seconds.
   */
  ranges(timestamp: number): WindowRange[];
  /**
   * The latest-starting window that contains `timestamp`.
   *
   * @param timestamp Event time in seconds.
   */
  current(timestamp: number): WindowRange;
  /**
   * The window that was current `d` seconds before `timestamp`.
   *
   * @param timestamp Event time in seconds.
   * @param d Seconds to go back.
   */
  delta(timestamp: number, d: number): WindowRange;
  /**
   * The earliest-starting window that contains `timestamp`.
   *
   * @param timestamp Event time in seconds.
   */
  earliest(timestamp: number): WindowRange;
  /**
   * Cut-off for expiry: a window whose end is at or before this is stale.
   *
   * @param latestTimestamp Latest event time seen, in seconds.
   * @returns The cut-off, or `undefined` when windows never expire.
   */
  staleBefore(latestTimestamp: number): number | undefined;
  /**
   * Whether `range` has expired: `range.end <= staleBefore(latestTimestamp)`.
   * Never true when {@linkcode Window.expires} is undefined.
   *
   * @param range A window of this kind.
   * @param latestTimestamp Latest event time seen, in seconds.
   */
  stale(range: WindowRange, latestTimestamp: number): boolean;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Invalid window ${name}: ${value}; expected a number of seconds > 0`,
    );
  }
  return value;
}

function checkExpires(expires: number | undefined): number | undefined {
  if (expires === undefined) return undefined;
  if (!Number.isFinite(expires) || expires <= 0) {
    throw new RangeError(
      `Invalid window expires: ${expires}; expected seconds > 0, or omit it to keep windows forever`,
    );
  }
  return expires;
}

function isStale(
  window: Window,
  range: WindowRange,
  latestTimestamp: number,
): boolean {
  const cutoff = window.staleBefore(latestTimestamp);
  return cutoff !== undefined && range.end <= cutoff;
}

/**
 * Fixed-size windows that start every `step` seconds and overlap when
 * `step < size`. Windows are aligned on multiples of `step` (from time 0):
 * a timestamp `t` falls in the window starting at `k * step` when
 * `k * step <= t < k * step + size`.
 *
 * Same results as Faust when `size` is a multiple of `step`. Faust computes
 * the first start as `floor(t / step) * step - size + step` and then steps
 * with integer-truncated values, which goes off the `step` grid (and breaks
 * for fractional steps) otherwise; here starts are always `k * step`.
 *
 * @example Overlapping windows
 * ```ts
 * import { HoppingWindow } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * // One minute long, a new one every 30 seconds: each time is in two windows.
 * const w = new HoppingWindow(60, 30);
 * assert.deepEqual(w.ranges(100).map((r) => r.start), [60, 90]);
 * ```
 */
export class HoppingWindow implements Window {
  /** Window length in seconds. */
  readonly size: number;
  /** Seconds between the starts of consecutive windows. */
  readonly step: number;
  /** Seconds a closed window is kept, or `undefined` for ever. */
  readonly expires: number | undefined;

  /**
   * Create a hopping window.
   *
   * @param size Window length in seconds (> 0).
   * @param step Seconds between window starts (0 < step <= size).
   * @param expires Seconds a window is kept after it closes; omit to keep all.
   */
  constructor(size: number, step: number, expires?: number) {
    this.size = positive("size", size);
    this.step = positive("step", step);
    if (step > size) {
      throw new RangeError(
        `Invalid hopping window: step ${step} is larger than size ${size}; expected 0 < step <= size`,
      );
    }
    this.expires = checkExpires(expires);
  }

  /**
   * Every window containing `timestamp`, by ascending start.
   *
   * @param timestamp Event time in seconds.
   * @returns `ceil(size / step)` windows or one fewer.
   */
  ranges(timestamp: number): WindowRange[] {
    const out: WindowRange[] = [];
    for (
      let k = this.#firstIndex(timestamp);
      k <= this.#lastIndex(timestamp);
      k++
    ) {
      out.push(windowRangeFromStart(k * this.step, this.size));
    }
    return out;
  }

  /**
   * The latest-starting window containing `timestamp`.
   *
   * @param timestamp Event time in seconds.
   * @returns The window starting at `floor(timestamp / step) * step`.
   */
  current(timestamp: number): WindowRange {
    return windowRangeFromStart(
      this.#lastIndex(timestamp) * this.step,
      this.size,
    );
  }

  /**
   * The window current `d` seconds before `timestamp`.
   *
   * @param timestamp Event time in seconds.
   * @param d Seconds to go back.
   * @returns `current(timestamp - d)`.
   */
  delta(timestamp: number, d: number): WindowRange {
    return this.current(timestamp - d);
  }

  /**
   * The earliest-starting window containing `timestamp`.
   *
   * @param timestamp Event time in seconds.
   * @returns The first of {@linkcode HoppingWindow.ranges}.
   */
  earliest(timestamp: number): WindowRange {
    return windowRangeFromStart(
      this.#firstIndex(timestamp) * this.step,
      this.size,
    );
  }

  /**
   * Faust's cut-off: the start of the window current at
   * `latestTimestamp - expires`. So a window is dropped once the window
   * `expires` seconds back from the latest event starts after it ended.
   *
   * @param latestTimestamp Latest event time seen, in seconds.
   * @returns The cut-off, or `undefined` when windows never expire.
   */
  staleBefore(latestTimestamp: number): number | undefined {
    if (this.expires === undefined) return undefined;
    return this.current(latestTimestamp - this.expires).start;
  }

  /**
   * Whether `range` has expired (`range.end <= staleBefore(latest)`).
   *
   * @param range A window of this kind.
   * @param latestTimestamp Latest event time seen, in seconds.
   * @returns `true` when the window can be deleted.
   */
  stale(range: WindowRange, latestTimestamp: number): boolean {
    return isStale(this, range, latestTimestamp);
  }

  #lastIndex(timestamp: number): number {
    return Math.floor(timestamp / this.step);
  }

  #firstIndex(timestamp: number): number {
    // Smallest k with k * step + size > timestamp.
    let k = Math.floor((timestamp - this.size) / this.step) + 1;
    // Guard against float rounding at exact boundaries.
    while (k * this.step + this.size <= timestamp) k++;
    while ((k - 1) * this.step + this.size > timestamp) k--;
    return k;
  }
}

/**
 * Fixed-size, non-overlapping, gap-less windows: a hopping window with `step = size`.
 *
 * @example Fixed windows that do not overlap
 * ```ts
 * import { TumblingWindow } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const hourly = new TumblingWindow(3600, 24 * 3600); // kept a day after closing
 * assert.equal(hourly.ranges(7300).length, 1);
 * assert.equal(hourly.current(7300).start, 7200);
 * ```
 */
export class TumblingWindow extends HoppingWindow {
  /**
   * Create a tumbling window.
   *
   * @param size Window length in seconds (> 0).
   * @param expires Seconds a window is kept after it closes; omit to keep all.
   */
  constructor(size: number, expires?: number) {
    super(size, size, expires);
  }
}

/**
 * One window per event: `[timestamp - before, timestamp + after]` (Faust's
 * sliding window; not aligned to any grid).
 *
 * @example A window around each event
 * ```ts
 * import { SlidingWindow } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const around = new SlidingWindow(10, 5); // 10 s before to 5 s after
 * assert.deepEqual(around.current(100), { start: 90, end: 105 });
 * ```
 */
export class SlidingWindow implements Window {
  /** Seconds before the event included in its window. */
  readonly before: number;
  /** Seconds after the event included in its window. */
  readonly after: number;
  /** Seconds a window is kept, or `undefined` for ever. */
  readonly expires: number | undefined;

  /**
   * Create a sliding window.
   *
   * @param before Seconds before the event (>= 0).
   * @param after Seconds after the event (>= 0).
   * @param expires Seconds a window is kept; omit to keep all.
   */
  constructor(before: number, after: number, expires?: number) {
    for (const [name, v] of [["before", before], ["after", after]] as const) {
      if (!Number.isFinite(v) || v < 0) {
        throw new RangeError(
          `Invalid sliding window ${name}: ${v}; expected seconds >= 0`,
        );
      }
    }
    this.before = before;
    this.after = after;
    this.expires = checkExpires(expires);
  }

  /**
   * The one window of `timestamp`.
   *
   * @param timestamp Event time in seconds.
   * @returns `[current(timestamp)]`.
   */
  ranges(timestamp: number): WindowRange[] {
    return [this.current(timestamp)];
  }

  /**
   * The window of `timestamp`.
   *
   * @param timestamp Event time in seconds.
   * @returns `[timestamp - before, timestamp + after]`.
   */
  current(timestamp: number): WindowRange {
    return { start: timestamp - this.before, end: timestamp + this.after };
  }

  /**
   * The window of `timestamp - d`.
   *
   * @param timestamp Event time in seconds.
   * @param d Seconds to go back.
   * @returns `current(timestamp - d)`.
   */
  delta(timestamp: number, d: number): WindowRange {
    return this.current(timestamp - d);
  }

  /**
   * The window of `timestamp` (there is only one).
   *
   * @param timestamp Event time in seconds.
   * @returns `current(timestamp)`.
   */
  earliest(timestamp: number): WindowRange {
    return this.current(timestamp);
  }

  /**
   * Faust's cut-off for sliding windows: `latestTimestamp - expires`.
   *
   * @param latestTimestamp Latest event time seen, in seconds.
   * @returns The cut-off, or `undefined` when windows never expire.
   */
  staleBefore(latestTimestamp: number): number | undefined {
    return this.expires === undefined
      ? undefined
      : latestTimestamp - this.expires;
  }

  /**
   * Whether `range` has expired (`range.end <= staleBefore(latest)`).
   *
   * @param range A window of this kind.
   * @param latestTimestamp Latest event time seen, in seconds.
   * @returns `true` when the window can be deleted.
   */
  stale(range: WindowRange, latestTimestamp: number): boolean {
    return isStale(this, range, latestTimestamp);
  }
}
