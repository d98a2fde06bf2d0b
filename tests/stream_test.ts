import assert from "node:assert/strict";
import { App, currentEvent, type Event, Record } from "../mod.ts";
import { z } from "zod";
import { memApp, waitFor } from "./helpers.ts";
import { PartitionTracker } from "../src/delivery/acks.ts";
import { partitionForKey } from "../src/producer/partitioner.ts";
import { commitMarker } from "./consumer/_helpers.ts";

Deno.test("PartitionTracker.committable() never passes the lowest unacked offset, with out-of-order acks", () => {
  const t = new PartitionTracker(10);
  for (let o = 10; o < 15; o++) t.delivered(o);
  assert.equal(t.committable(), 10);
  t.acked(12);
  t.acked(13);
  assert.equal(t.committable(), 10);
  t.acked(10);
  assert.equal(t.committable(), 11);
  t.acked(14);
  assert.equal(t.committable(), 11);
  t.acked(11);
  assert.equal(t.committable(), 15);
});

Deno.test("Topic.send() partitions by murmur2 of the key bytes and keeps headers, timestamp and explicit partition", async () => {
  const app = memApp("parts", { topicPartitions: 8 });
  const t = app.topic("p", { keyType: "string", valueType: "json" });
  await app.start();
  const m = await t.send({ key: "foobar", value: { a: 1 } });
  // Kafka: toPositive(murmur2("foobar")) % 8 = (-790332482 & 0x7fffffff) % 8.
  assert.equal(m.partition, 6);
  const m2 = await t.send({
    key: "k",
    value: 1,
    partition: 5,
    timestamp: 1234,
    headers: { h: "v" },
  });
  assert.equal(m2.partition, 5);
  const [r] = await app.transport.read(
    { topic: "p", partition: 5 },
    m2.offset,
    1,
  );
  assert.equal(r!.timestamp, 1234);
  assert.equal(new TextDecoder().decode(r!.headers.h), "v");
  assert.equal(new TextDecoder().decode(r!.value!), "1");
  await app.stop();
});

Deno.test("Stream.noack() leaves acking to the caller; through() and echo() forward values", async () => {
  const app = memApp("noack", {
    topicPartitions: 1,
    brokerCommitInterval: 0.005,
  });
  const t = app.topic("na", { valueType: "number" });
  const held: Event[] = [];
  app.agent(t, async (s) => {
    for await (const e of s.noack().events()) held.push(e as Event);
  }, { name: "holder" });
  const echoed: unknown[] = [];
  const through: unknown[] = [];
  const target = app.channel();
  const echoCh = app.channel();
  app.agent(echoCh, async (s) => {
    for await (const v of s) echoed.push(v);
  }, { name: "echoReader" });
  const src = app.channel();
  app.agent(src, async (s) => {
    for await (const v of s.echo(echoCh).through(target)) through.push(v);
  }, { name: "chain" });
  const marker = commitMarker(app);
  await app.start();
  await t.send({ value: 1, partition: 0 });
  await t.send({ value: 2, partition: 0 });
  await src.send({ value: "x" });
  await waitFor(() =>
    held.length === 2 && echoed.length === 1 && through.length === 1
  );
  await marker.passed();
  assert.equal(
    app.monitor.partition({ topic: "na", partition: 0 }).committed,
    0,
  );
  held[0]!.ack();
  held[1]!.ack();
  await waitFor(() =>
    app.monitor.partition({ topic: "na", partition: 0 }).committed === 2
  );
  await app.stop();
  assert.deepEqual(echoed, ["x"]);
  assert.deepEqual(through, ["x"]);
});

Deno.test("Stream.groupBy() re-keys through {agent}-{source}-{Model.field}-repartition", async () => {
  const app = memApp("gb", { topicPartitions: 4 });
  const Transfer = Record("Transfer", {
    account: z.string(),
    amount: z.number(),
  });
  const transfers = app.topic("transfers", { valueType: Transfer });
  const seen: Array<[unknown, number]> = [];
  app.agent(transfers, async (s) => {
    for await (const t of s.groupBy(Transfer.fields.account)) {
      const e = currentEvent()!;
      seen.push([e.key, e.partition]);
      assert.equal(e.topic, "tally-transfers-Transfer.account-repartition");
      void t;
    }
  }, { name: "tally" });
  await app.start();
  for (const account of ["a", "b", "a", "c"]) {
    await transfers.send({ value: { account, amount: 1 } });
  }
  await waitFor(() => seen.length === 4);
  await app.stop();
  // Registered with the app like a topic of app.topic() (listed, declared).
  assert.ok(app.topics.has("tally-transfers-Transfer.account-repartition"));
  const byKey = new Map<unknown, Set<number>>();
  for (const [k, p] of seen) byKey.set(k, (byKey.get(k) ?? new Set()).add(p));
  for (const [k, parts] of byKey) {
    assert.equal(parts.size, 1);
    assert.equal([...parts][0], partitionForKey(k as Uint8Array, 4));
  }
});

Deno.test("App.start() and App.stop() leave nothing behind (sanitizers) and can restart with memory://NAME", async () => {
  const name = `memory://restart-${crypto.randomUUID()}`;
  const run = async (expect: number[]) => {
    const app = new App("restart", {
      broker: name,
      store: "memory://",
      topicPartitions: 1,
    });
    const t = app.topic("r", { valueType: "number" });
    const seen: number[] = [];
    app.agent(t, async (s) => {
      for await (const v of s) seen.push(v as number);
    }, { name: "r" });
    await app.start();
    return { app, t, seen, expect };
  };
  const first = await run([]);
  await first.t.send({ value: 1 });
  await first.t.send({ value: 2 });
  await waitFor(() => first.seen.length === 2);
  await first.app.stop();
  const second = await run([]);
  await second.t.send({ value: 3 });
  // One partition, read in order: a replayed 1 or 2 would come before 3.
  await waitFor(() => second.seen.includes(3));
  await second.app.stop();
  assert.deepEqual(
    second.seen,
    [3],
    "committed events are not reprocessed after a graceful stop",
  );
});

Deno.test("Stream.groupBy() on a number field (and a key function returning objects) processes every value and commits", async () => {
  const app = memApp("gbn", { topicPartitions: 4 });
  const Reading = Record("Reading", { n: z.number(), v: z.string() });
  const readings = app.topic("readings", { valueType: Reading });
  const byN: Array<[unknown, number, number]> = [];
  const byObj: unknown[] = [];
  app.agent(readings, async (s) => {
    for await (const r of s.groupBy(Reading.fields.n)) {
      byN.push([currentEvent()!.key, currentEvent()!.partition, r.n]);
    }
  }, { name: "byn" });
  app.agent(readings, async (s) => {
    for await (
      const r of s.groupBy((r) => ({ id: r.n, ok: true }), {
        name: "obj",
      })
    ) byObj.push(r.v);
  }, { name: "byobj" });
  await app.start();
  for (const [n, v] of [[1, "a"], [2, "b"], [1, "c"], [3.5, "d"]] as const) {
    await readings.send({ value: { n, v } });
  }
  await waitFor(() => byN.length === 4 && byObj.length === 4, 10_000);
  await waitFor(() =>
    [0, 1, 2, 3].reduce(
      (sum, partition) =>
        sum +
        Math.max(
          0,
          app.monitor.partition({ topic: "readings", partition }).committed ??
            0,
        ),
      0,
    ) === 4, 10_000);
  await app.stop();
  const partitions = new Map<number, Set<number>>();
  for (const [, p, n] of byN) {
    partitions.set(n, (partitions.get(n) ?? new Set()).add(p));
  }
  for (const ps of partitions.values()) assert.equal(ps.size, 1);
  // A number key travels as JSON: "1" partitions like the bytes of "1".
  const one = byN.find(([, , n]) => n === 1)!;
  assert.equal(
    one[1],
    partitionForKey(new TextEncoder().encode("1"), 4),
  );
  assert.deepEqual(byObj.sort(), ["a", "b", "c", "d"]);
});
