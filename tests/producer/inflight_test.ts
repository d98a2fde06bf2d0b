import assert from "node:assert/strict";
import { InFlight } from "../../src/producer/inflight.ts";
import { memApp, waitFor } from "../helpers.ts";

Deno.test("InFlight.ebb() is undefined below the limit, then waits until half have ended", async () => {
  const f = new InFlight();
  assert.equal(f.ebb(10), undefined, "nothing in progress");
  for (let i = 0; i < 12; i++) f.begin();
  const ebb = f.ebb(10);
  assert.ok(ebb !== undefined, "12 in progress >= 10");
  let ebbed = false;
  ebb.then(() => ebbed = true);
  for (let i = 0; i < 6; i++) f.end();
  await Promise.resolve();
  assert.equal(ebbed, false, "6 left: more than half of 10");
  f.end();
  await ebb;
  assert.equal(f.count, 5);
  assert.equal(f.ebb(10), undefined);
});

Deno.test("Topic.send() is counted in app.sends from the call until it settles", async () => {
  const app = memApp("sends-count", { topicPartitions: 1 });
  const t = app.topic("sc", { valueType: "number" });
  await app.start();
  try {
    const sends = Array.from({ length: 5 }, (_, i) => t.send({ value: i }));
    assert.equal(app.sends.count, 5, "counted before any await");
    await Promise.all(sends);
    await waitFor(() => app.sends.count === 0, 1000, "sends to settle");
  } finally {
    await app.stop();
  }
});

Deno.test("Send back-pressure: delivery pauses while more than 4 x streamBufferMaxsize sends wait for the broker", async () => {
  // A 30 s linger keeps every send waiting; the agent does not await them.
  const app = memApp("sends-pause", {
    topicPartitions: 1,
    streamBufferMaxsize: 300,
    producerLinger: 30,
    brokerMaxPollRecords: 100,
  });
  // A stream buffer that never fills: only the sends hold delivery.
  const src = app.topic("sp-in", { valueType: "number", maxsize: 5000 });
  const out = app.topic("sp-out", { valueType: "number" });
  let handled = 0;
  app.agent(src, async (s) => {
    for await (const v of s) {
      void out.send({ value: v, partition: 0 });
      handled++;
    }
  }, { name: "fireAndForget" });
  await app.start();
  try {
    // 100 records at a time, each chunk handled before the next: delivery
    // goes on until the sends in flight reach the limit.
    const paused = () => app.monitor.get("producerBufferFull") >= 1;
    for (let chunk = 0; chunk < 30 && !paused(); chunk++) {
      await app.transport.send(Array.from({ length: 100 }, (_, i) => ({
        topic: "sp-in",
        partition: 0,
        key: null,
        value: new TextEncoder().encode(String(chunk * 100 + i)),
      })));
      await waitFor(
        () => handled === (chunk + 1) * 100 || paused(),
        5000,
        `chunk ${chunk} handled, or delivery paused`,
      );
    }
    assert.ok(paused(), `never paused with ${app.sends.count} sends waiting`);
    // 4 x 300 = 1200 sends in flight; the poll that saw them delivered at
    // most 100 more.
    assert.ok(app.sends.count >= 1200, `${app.sends.count} sends in flight`);
    const received = app.monitor.get("messagesReceived");
    assert.ok(received <= 1200 + 100, `${received} records delivered`);
  } finally {
    await app.stop();
  }
});
