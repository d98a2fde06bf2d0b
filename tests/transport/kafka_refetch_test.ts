import assert from "node:assert/strict";
import { BufferedPositions } from "../../src/transport/kafka/refetch.ts";

const batch = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ offset: String(from + i) }));

Deno.test("BufferedPositions.admit() skips offsets below the last buffered one, until forget()", () => {
  const p = new BufferedPositions();
  assert.equal(p.admit("a", batch(0, 5)).messages.length, 5);
  // The same batch fetched again, overlapping the next one.
  const again = p.admit("a", batch(3, 8));
  assert.deepEqual(again.messages.map((m) => m.offset), ["5", "6", "7"]);
  assert.equal(again.skipped, 2);
  assert.equal(again.below, 5);
  assert.equal(p.admit("a", batch(0, 8)).messages.length, 0);
  // Other partitions are their own.
  assert.equal(p.admit("b", batch(0, 2)).messages.length, 2);
  // A seek back: anything may come next.
  p.forget("a");
  assert.equal(p.admit("a", batch(2, 4)).skipped, 0);
  p.clear();
  assert.equal(p.admit("b", batch(0, 1)).skipped, 0);
});
