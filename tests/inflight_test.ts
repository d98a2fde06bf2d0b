import assert from "node:assert/strict";
import { InFlight } from "../src/inflight.ts";
import { memApp, waitFor } from "./helpers.ts";

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
