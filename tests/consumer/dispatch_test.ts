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
