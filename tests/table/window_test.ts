import assert from "node:assert/strict";
import {
  HoppingWindow,
  SlidingWindow,
  TumblingWindow,
  type WindowRange,
} from "../../src/table/window.ts";

/** Compare ranges with a tolerance for float rounding of `end`. */
function near(actual: WindowRange[], expected: [number, number][]): void {
  assert.equal(actual.length, expected.length, JSON.stringify(actual));
  actual.forEach((r, i) => {
    assert.ok(
      Math.abs(r.start - expected[i]![0]) < 1e-9,
      `start ${r.start} != ${expected[i]![0]}`,
    );
    assert.ok(
      Math.abs(r.end - expected[i]![1]) < 1e-9,
      `end ${r.end} != ${expected[i]![1]}`,
    );
  });
}

Deno.test("TumblingWindow.ranges() gives the one window containing the timestamp", () => {
  const w = new TumblingWindow(10);
  near(w.ranges(0), [[0, 9.9]]);
  near(w.ranges(9.95), [[0, 9.9]]); // after the nominal end, before the next start
  near(w.ranges(10), [[10, 19.9]]);
  near(w.ranges(1_700_000_123.5), [[1_700_000_120, 1_700_000_129.9]]);
  near(w.ranges(-3), [[-10, -0.1]]);
  near([w.current(25)], [[20, 29.9]]);
  near([w.earliest(25)], [[20, 29.9]]);
  near([new TumblingWindow(0.5).current(1.26)], [[1, 1.4]]);
});

Deno.test("HoppingWindow.ranges() gives every window containing the timestamp", () => {
  const w = new HoppingWindow(10, 5);
  near(w.ranges(6), [[0, 9.9], [5, 14.9]]); // Faust's own test case
  near(w.ranges(10), [[5, 14.9], [10, 19.9]]);
  near(w.ranges(3), [[-5, 4.9], [0, 9.9]]);
  near(new HoppingWindow(60, 20).ranges(130), [[80, 139.9], [100, 159.9], [
    120,
    179.9,
  ]]);
  // size not a multiple of step: starts stay on the step grid
  near(new HoppingWindow(10, 3).ranges(7), [[0, 9.9], [3, 12.9], [6, 15.9]]);
  near(new HoppingWindow(10, 3).ranges(10), [[3, 12.9], [6, 15.9], [9, 18.9]]);
  // fractional step
  near(new HoppingWindow(1, 0.25).ranges(2.3), [[1.5, 2.4], [1.75, 2.65], [
    2,
    2.9,
  ], [2.25, 3.15]]);
});

Deno.test("HoppingWindow.current() is the latest-starting range; earliest() the first", () => {
  const w = new HoppingWindow(57, 23);
  const ranges = w.ranges(456);
  assert.deepEqual(w.current(456), ranges.at(-1));
  assert.deepEqual(w.earliest(456), ranges[0]);
  near([w.current(456)], [[437, 493.9]]); // floor(456 / 23) * 23 = 437
  for (const r of ranges) assert.ok(r.start <= 456 && 456 < r.start + 57);
});

Deno.test("Window.delta() is the window current d seconds earlier", () => {
  near([new TumblingWindow(10).delta(25, 10)], [[10, 19.9]]);
  near([new TumblingWindow(10).delta(25, 30)], [[-10, -0.1]]);
  near([new HoppingWindow(10, 5).delta(26, 5)], [[20, 29.9]]);
  near([new SlidingWindow(2, 3).delta(100, 10)], [[88, 93]]);
});

Deno.test("SlidingWindow.ranges() is [ts - before, ts + after]", () => {
  const w = new SlidingWindow(5, 2, 60);
  near(w.ranges(100), [[95, 102]]);
  near([w.current(100.5)], [[95.5, 102.5]]);
  near([w.earliest(100)], [[95, 102]]);
});

Deno.test("Window.stale() follows Faust's cut-offs", () => {
  const tumbling = new TumblingWindow(10, 10);
  const first = tumbling.current(5); // [0, 9.9]
  // cut-off = start of the window current at latest - expires
  assert.equal(tumbling.staleBefore(19.95), 0);
  assert.equal(tumbling.stale(first, 19.95), false);
  assert.equal(tumbling.staleBefore(20), 10);
  assert.equal(tumbling.stale(first, 20), true);
  assert.equal(tumbling.stale(tumbling.current(15), 20), false);
  assert.equal(tumbling.stale(tumbling.current(15), 30), true);

  const hopping = new HoppingWindow(10, 5, 20);
  assert.equal(hopping.staleBefore(32), 10);
  assert.equal(hopping.stale({ start: 0, end: 9.9 }, 32), true);
  assert.equal(hopping.stale({ start: 5, end: 14.9 }, 32), false);

  const sliding = new SlidingWindow(5, 5, 30);
  assert.equal(sliding.staleBefore(100), 70);
  assert.equal(sliding.stale({ start: 60, end: 70 }, 100), true);
  assert.equal(sliding.stale({ start: 60, end: 70.5 }, 100), false);

  const forever = new TumblingWindow(10);
  assert.equal(forever.expires, undefined);
  assert.equal(forever.staleBefore(1e12), undefined);
  assert.equal(forever.stale({ start: 0, end: 9.9 }, 1e12), false);
});

Deno.test("Window constructors reject bad sizes with clear messages", () => {
  assert.throws(() => new TumblingWindow(0), /Invalid window size: 0/);
  assert.throws(
    () => new HoppingWindow(10, 20),
    /step 20 is larger than size 10/,
  );
  assert.throws(() => new HoppingWindow(10, Number.NaN), /Invalid window step/);
  assert.throws(() => new TumblingWindow(10, -1), /Invalid window expires: -1/);
  assert.throws(
    () => new SlidingWindow(-1, 1),
    /Invalid sliding window before/,
  );
});
