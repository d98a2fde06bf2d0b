import assert from "node:assert/strict";
import { memApp, waitFor } from "../helpers.ts";
import { append, commitMarker, committed } from "./_helpers.ts";

const dec = new TextDecoder();

Deno.test("Conductor.commit() flushes the producer before committing: what acked events sent is in the log first", async () => {
  // A 30 s linger keeps sends in the producer's batch: only the flush a
  // commit must do before committing can put them in the log in time.
  const app = memApp("commit-flush", {
    topicPartitions: 1,
    producerLinger: 30,
    brokerCommitEvery: 1,
    brokerCommitInterval: 3600,
  });
  const src = app.topic("cf-in", { valueType: "number" });
  const out = app.topic("cf-out", { valueType: "number" });
  let handled = 0;
  app.agent(src, async (s) => {
    for await (const v of s) {
      void out.send({ value: (v as number) * 10, partition: 0 });
      handled++;
    }
  }, { name: "fwd" });
  await app.start();
  try {
    for (const n of [1, 2]) {
      await append(app, "cf-in", 0, [String(n)]);
      await waitFor(() => committed(app, "cf-in", 0) === n, 10_000, "commit");
      assert.equal(handled, n);
      const written = await app.transport.read(
        { topic: "cf-out", partition: 0 },
        0,
        10,
      );
      assert.deepEqual(
        written.map((r) => dec.decode(r.value!)),
        ["10", "20"].slice(0, n),
        `sent before offset ${n} was committed`,
      );
    }
  } finally {
    await app.stop();
  }
});

Deno.test("Conductor: brokerCommitEvery commits while running, before any interval or shutdown commit", async () => {
  const app = memApp("commit-every-running", {
    topicPartitions: 1,
    brokerCommitEvery: 10,
    brokerCommitInterval: 3600,
  });
  const src = app.topic("cer-in", { valueType: "number" });
  let seen = 0;
  app.agent(src, async (s) => {
    for await (const _ of s) seen++;
  }, { name: "count" });
  await app.start();
  try {
    await append(
      app,
      "cer-in",
      0,
      Array.from({ length: 25 }, (_, i) => String(i)),
    );
    await waitFor(() => seen === 25, 10_000, "25 events");
    await waitFor(
      () => committed(app, "cer-in", 0) >= 20,
      10_000,
      "a commit of at least 20 while the app runs",
    );
  } finally {
    await app.stop();
  }
});
Deno.test("Stream acks are reference-counted across streams and commits wait for the slowest stream", async () => {
  const app = memApp("refcount", {
    topicPartitions: 1,
    brokerCommitInterval: 0.01,
  });
  const t = app.topic("rc", { valueType: "number" });
  let releaseSlow!: () => void;
  const gate = new Promise<void>((r) => releaseSlow = r);
  let fast = 0;
  app.agent(t, async (s) => {
    for await (const _ of s) fast++;
  }, { name: "fast" });
  app.agent(t, async (s) => {
    for await (const v of s) if (v === 0) await gate;
  }, { name: "slow" });
  const marker = commitMarker(app);
  await app.start();
  for (let i = 0; i < 5; i++) await t.send({ value: i, partition: 0 });
  await waitFor(() => fast === 5);
  await marker.passed();
  const consumer = app.monitor.partition({ topic: "rc", partition: 0 });
  assert.ok(
    consumer.committed <= 0,
    `committed ${consumer.committed} passed the unacked offset 0`,
  );
  releaseSlow();
  await waitFor(
    () => app.monitor.partition({ topic: "rc", partition: 0 }).committed === 5,
    3000,
    "commit of 5",
  );
  await app.stop();
});

Deno.test("Commits with concurrency > 1 and out-of-order completion never pass an unacked offset (faust-streaming#606)", async () => {
  const app = memApp("ooo", {
    topicPartitions: 1,
    brokerCommitInterval: 0.005,
  });
  const t = app.topic("ooo", { valueType: "number" });
  const gates = new Map<number, () => void>();
  const done = new Set<number>();
  app.agent(t, async (s) => {
    for await (const v of s) {
      if (v === 0) await new Promise<void>((r) => gates.set(0, r));
      done.add(v as number);
    }
  }, { name: "workers", concurrency: 4 });
  const marker = commitMarker(app);
  await app.start();
  for (let i = 0; i < 8; i++) await t.send({ value: i, partition: 0 });
  await waitFor(() => done.size === 7);
  await marker.passed();
  assert.equal(
    app.monitor.partition({ topic: "ooo", partition: 0 }).committed,
    0,
  );
  gates.get(0)!();
  await waitFor(() =>
    app.monitor.partition({ topic: "ooo", partition: 0 }).committed === 8
  );
  await app.stop();
});

Deno.test("brokerCommitEvery commits once per threshold, not once per ack that arrives while a commit waits", async () => {
  const datadir = await Deno.makeTempDir();
  const app = memApp("commit-every", {
    topicPartitions: 1,
    brokerCommitEvery: 100,
    brokerCommitInterval: 3600,
    store: "lmdb://",
    datadir,
  });
  const src = app.topic("ce-in", { valueType: "number" });
  // Each commit waits for the table's LMDB write: acks keep arriving meanwhile.
  const counts = app.table("ce-counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
  });
  let seen = 0;
  app.agent(src, async (s) => {
    for await (const v of s) {
      const k = String((v as number) % 50);
      counts.set(k, counts.get(k) + 1);
      seen++;
    }
  }, { name: "fwd" });
  await app.start();
  try {
    const n = 3000;
    await Promise.all(
      Array.from({ length: n }, (_, i) => src.send({ value: i, partition: 0 })),
    );
    await waitFor(() => seen === n, 20000, `${n} events`);
    await app.stop();
    const commits = app.monitor.get("commits");
    assert.ok(
      commits >= 1 && commits <= n / 100 + 5,
      `${commits} commits for ${n} acks with brokerCommitEvery 100`,
    );
  } finally {
    await app.stop();
    await Deno.remove(datadir, { recursive: true });
  }
});
