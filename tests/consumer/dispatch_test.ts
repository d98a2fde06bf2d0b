import assert from "node:assert/strict";
import { memApp, waitFor } from "../helpers.ts";
import { DECODE_AHEAD } from "../../src/consumer/dispatch.ts";
import { append } from "./_helpers.ts";

Deno.test("Conductor decodes at most DECODE_AHEAD events ahead of a stream with a larger buffer; the rest is delivered in order, once", async () => {
  // Before: the whole backlog (up to streamBufferMaxsize) was decoded into
  // the buffer at once, where the events outlived several collections.
  const app = memApp("decode-ahead", {
    topicPartitions: 1,
    streamBufferMaxsize: 4096,
  });
  const src = app.topic("ahead-in", { valueType: "number" });
  const gate = Promise.withResolvers<void>();
  const seen: number[] = [];
  let maxSize = 0;
  app.agent(src, async (s) => {
    for await (const v of s) {
      if (seen.length === 0) await gate.promise;
      maxSize = Math.max(maxSize, src.queues[0]!.size);
      seen.push(v);
    }
  }, { name: "ahead" });
  await app.start();
  const n = 3 * DECODE_AHEAD;
  try {
    await append(
      app,
      "ahead-in",
      0,
      Array.from({ length: n }, (_, i) => String(i)),
    );
    // The buffer filled to the window and the partition paused, although
    // the backlog (n) fits in the buffer's 4096.
    await waitFor(
      () => app.monitor.get("topicBufferFull") >= 1,
      10_000,
      "a pause at the decode window",
    );
    assert.equal(src.queues[0]!.size, DECODE_AHEAD);
    gate.resolve();
    await waitFor(() => seen.length === n, 10_000, `${n} events`);
  } finally {
    gate.resolve();
    await app.stop();
  }
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
  assert.ok(maxSize <= DECODE_AHEAD, `largest buffer seen: ${maxSize}`);
});

Deno.test("Conductor lets timers run while a local:// backlog is counted into a table (delivery yields to the event loop)", async () => {
  // Before: on local:// a poll with records at hand completes without I/O,
  // so an agent that sends nothing (a count into a table) ran on promise
  // callbacks alone: timers (the commit interval, web requests, signals)
  // waited until the whole backlog was drained.
  const dir = await Deno.makeTempDir();
  const app = memApp("starve", {
    broker: "local://",
    datadir: dir,
    store: "lmdb://",
    topicPartitions: 1,
  });
  const words = app.topic("starve-in", { valueType: "string" });
  const counts = app.table<string, number>("starve-counts", {
    default: () => 0,
  });
  const gate = Promise.withResolvers<void>();
  let processed = 0;
  app.agent(words, async (s) => {
    for await (const w of s) {
      if (processed === 0) await gate.promise;
      counts.set(w, counts.get(w) + 1);
      processed++;
    }
  }, { name: "count" });
  await app.start();
  const n = 40_000;
  let atTimer = -1;
  try {
    for (let i = 0; i < n; i += 10_000) {
      await append(
        app,
        "starve-in",
        0,
        Array.from({ length: 10_000 }, (_, j) => `w${(i + j) % 1000}`),
      );
    }
    await waitFor(
      () => processed === 0 && words.queues[0]!.size > 0,
      10_000,
      "the first event in hand",
    );
    gate.resolve();
    // Armed as the backlog starts to flow: it must fire long before the
    // backlog is drained, not after.
    setTimeout(() => atTimer = processed, 0);
    await waitFor(() => processed === n, 60_000, `${n} events counted`);
    assert.ok(
      atTimer >= 0 && atTimer < n / 2,
      `the timer ran after ${atTimer} of ${n} events`,
    );
    assert.equal(counts.get("w7"), n / 1000);
  } finally {
    gate.resolve();
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
