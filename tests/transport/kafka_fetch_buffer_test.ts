/**
 * Unit tests of the kafka:// consumer's fetch buffer: fetch order, paused
 * partitions hidden and not counted, and the two wait lists.
 */
import assert from "node:assert/strict";
import { FetchBuffer } from "../../src/transport/kafka/fetch_buffer.ts";
import type { TransportRecord } from "../../src/transport/records.ts";

function records(
  partition: number,
  from: number,
  n: number,
): TransportRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    topic: "t",
    partition,
    offset: from + i,
    key: null,
    value: null,
    headers: {},
    timestamp: 0,
  }));
}

const offsets = (rs: TransportRecord[]) =>
  rs.map((r) => `${r.partition}@${r.offset}`);

Deno.test("FetchBuffer.take() hands records out in fetch order, across chunks, at most max", () => {
  const b = new FetchBuffer();
  b.push("t[0]", records(0, 0, 3));
  b.push("t[1]", records(1, 10, 2));
  b.push("t[0]", []);
  assert.equal(b.active(), 5);
  assert.deepEqual(offsets(b.take(4)), ["0@0", "0@1", "0@2", "1@10"]);
  assert.equal(b.active(), 1);
  assert.deepEqual(offsets(b.take(4)), ["1@11"]);
  assert.deepEqual(b.take(4), []);
});

Deno.test("FetchBuffer hides and does not count the records of paused partitions until resumed", () => {
  const b = new FetchBuffer();
  b.push("t[0]", records(0, 0, 2));
  b.push("t[1]", records(1, 0, 2));
  b.pause(["t[0]"]);
  assert.equal(b.isPaused("t[0]"), true);
  assert.equal(b.active(), 2);
  assert.deepEqual(offsets(b.take(10)), ["1@0", "1@1"]);
  b.resume(["t[0]"]);
  assert.deepEqual(offsets(b.take(10)), ["0@0", "0@1"]);
});

Deno.test("FetchBuffer.drop() removes the selected partitions' records only", () => {
  const b = new FetchBuffer();
  b.push("t[0]", records(0, 0, 2));
  b.push("t[1]", records(1, 0, 2));
  b.drop((key) => key === "t[0]");
  assert.deepEqual(offsets(b.take(10)), ["1@0", "1@1"]);
});

Deno.test("FetchBuffer wakes a waiting poll on push and a waiting batch on take", async () => {
  const b = new FetchBuffer();
  const t0 = performance.now();
  const data = b.waitForData(10_000);
  b.push("t[0]", records(0, 0, 1));
  await data;
  const space = b.waitForSpace(10_000);
  b.take(1);
  await space;
  assert.ok(performance.now() - t0 < 5_000, "woken, not timed out");
});

Deno.test("FetchBuffer.waitForData() resolves on abort and after its time bound", async () => {
  const b = new FetchBuffer();
  const ac = new AbortController();
  const waiting = b.waitForData(10_000, ac.signal);
  ac.abort();
  await waiting;
  await b.waitForData(5);
});

Deno.test("FetchBuffer.push() with a converter makes each record only when take() hands it out", () => {
  const b = new FetchBuffer();
  let made = 0;
  const toRecord = (offset: number): TransportRecord => {
    made++;
    return records(0, offset, 1)[0]!;
  };
  b.push("t[0]", [5, 6, 7], toRecord);
  b.push("t[1]", records(1, 0, 1));
  assert.equal(b.active(), 4);
  assert.equal(made, 0);
  assert.deepEqual(offsets(b.take(2)), ["0@5", "0@6"]);
  assert.equal(made, 2);
  b.pause(["t[0]"]);
  assert.deepEqual(offsets(b.take(5)), ["1@0"]);
  assert.equal(made, 2);
  b.resume(["t[0]"]);
  assert.deepEqual(offsets(b.take(5)), ["0@7"]);
  assert.equal(made, 3);
});
