import assert from "node:assert/strict";
import { currentEvent, type Event } from "../../mod.ts";
import { memApp, waitFor } from "../helpers.ts";

Deno.test("Stream operators: filter, enumerate, items, events, take and currentEvent()", async () => {
  const app = memApp("ops");
  const ch = app.channel();
  const out: unknown[] = [];
  app.agent(ch, async (s) => {
    for await (
      const [i, v] of s.filter((v) => (v as number) % 2 === 0).enumerate(10)
    ) {
      out.push([i, v, currentEvent()?.value]);
    }
  }, { name: "ops" });
  await app.start();
  for (let i = 0; i < 5; i++) await ch.send({ value: i });
  await waitFor(() => out.length === 3);
  await app.stop();
  assert.deepEqual(out, [[10, 0, 0], [11, 2, 2], [12, 4, 4]]);

  const app2 = memApp("ops2");
  const ch2 = app2.channel();
  const batches: unknown[] = [];
  const items: unknown[] = [];
  const evs: Event[] = [];
  app2.agent(ch2, async (s) => {
    for await (const batch of s.take(3, 0.05)) batches.push(batch);
  }, { name: "batcher" });
  const ch3 = app2.channel();
  app2.agent(ch3, async (s) => {
    for await (const [k, v] of s.items()) items.push([k, v]);
  }, { name: "items" });
  const ch4 = app2.channel();
  app2.agent(ch4, async (s) => {
    for await (const e of s.events()) evs.push(e);
  }, { name: "events" });
  await app2.start();
  for (let i = 0; i < 4; i++) await ch2.send({ value: i });
  await ch3.send({ key: "k", value: "v" });
  await ch4.send({ key: "k2", value: "v2", headers: { a: "b" } });
  await waitFor(() =>
    batches.length === 2 && items.length === 1 && evs.length === 1
  );
  await app2.stop();
  assert.deepEqual(batches, [[0, 1, 2], [3]]);
  assert.deepEqual(items, [["k", "v"]]);
  assert.equal(evs[0]!.key, "k2");
  assert.equal(new TextDecoder().decode(evs[0]!.headers.a), "b");
});

Deno.test("Stream.combine() interleaves several streams", async () => {
  const app = memApp("combine");
  const a = app.channel();
  const b = app.channel();
  const out: unknown[] = [];
  app.agent(a, async (s) => {
    for await (const v of s.combine(b.stream())) out.push(v);
  }, { name: "both" });
  await app.start();
  await a.send({ value: "a" });
  await b.send({ value: "b" });
  await waitFor(() => out.length === 2);
  await app.stop();
  assert.deepEqual(out.sort(), ["a", "b"]);
});

Deno.test("Stream.filter() with a predicate answering now or later keeps the order and acks what it drops", async () => {
  const app = memApp("filter-mixed", {
    topicPartitions: 1,
    brokerCommitInterval: 0.05,
  });
  const src = app.topic("filter-mixed-in", { valueType: "number" });
  const out: number[] = [];
  app.agent(src, async (s) => {
    // Odd values answer with a promise, even ones right away: buffered
    // units go through the synchronous path and the awaited one in turn.
    const keep = (v: number) =>
      v % 2 === 1 ? Promise.resolve(v % 3 !== 0) : v % 4 === 0;
    for await (const v of s.filter((v) => keep(v as number))) {
      out.push(v as number);
    }
  }, { name: "filter-mixed" });
  await app.start();
  try {
    for (let i = 0; i < 24; i++) {
      await src.send({ value: i, partition: 0 });
    }
    const want = Array.from({ length: 24 }, (_, i) => i).filter((v) =>
      v % 2 === 1 ? v % 3 !== 0 : v % 4 === 0
    );
    await waitFor(() => out.length === want.length, 10_000, "filtered");
    assert.deepEqual(out, want);
    // Everything acked, dropped values included: the commit reaches the end.
    await waitFor(
      () =>
        app.monitor.partition({ topic: "filter-mixed-in", partition: 0 })
          .committed === 24,
      10_000,
      "commit of all 24",
    );
  } finally {
    await app.stop();
  }
});
