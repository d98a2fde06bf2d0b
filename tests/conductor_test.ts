import assert from "node:assert/strict";
import { Record } from "../mod.ts";
import { z } from "zod";
import { captureLogs, memApp, waitFor } from "./helpers.ts";
import type { App } from "../src/app.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Append raw records to a partition, bypassing the app's producer. */
async function append(
  app: App,
  topic: string,
  partition: number,
  values: string[],
): Promise<void> {
  await app.transport.send(values.map((v) => ({
    topic,
    partition,
    key: null,
    value: enc.encode(v),
  })));
}

function committed(app: App, topic: string, partition: number): number {
  return app.monitor.partition({ topic, partition }).committed;
}

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

const Point = Record("Point", { x: z.number() });

/** An app whose agent reads Points from 4 partitions; returns what it saw. */
async function pointsApp(id: string, policy: "skip" | "dead-letter") {
  const app = memApp(id, {
    topicPartitions: 4,
    decodeErrorPolicy: policy,
    agentSupervisor: "crashing",
    brokerCommitInterval: 0.01,
  });
  const t = app.topic("points", { valueType: Point });
  const seen: unknown[] = [];
  app.agent(t, async (s) => {
    for await (const v of s) seen.push(v);
  }, { name: "points" });
  await app.start();
  return { app, seen };
}

// Partition 2, offset 3: a partition header holding the offset (or the
// reverse) reads differently.
const GOOD = ['{"x":1}', '{"x":2}', '{"x":3}'];

Deno.test("Conductor logs an undecodable record with its topic, partition and offset", async () => {
  await using logs = await captureLogs();
  const { app, seen } = await pointsApp("dec-log", "skip");
  try {
    await append(app, "points", 2, [...GOOD, "{not json", '{"x":4}']);
    await waitFor(() => seen.length === 4, 10_000, "4 good records");
    const lines = logs.lines().filter((l) => l.includes("Cannot decode"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0]!, /points\[2\]@3\b/);
  } finally {
    await app.stop();
  }
});

Deno.test("decodeErrorPolicy dead-letter headers name the source topic, partition, offset and the error", async () => {
  const { app, seen } = await pointsApp("dlq-headers", "dead-letter");
  try {
    await append(app, "points", 2, [...GOOD, "{not json", '{"x":4}']);
    await waitFor(() => seen.length === 4, 10_000, "4 good records");
    const dlq = { topic: "dlq-headers-dead-letter", partition: 0 };
    await waitFor(
      () => committed(app, "points", 2) === 5,
      10_000,
      "commit past the dead-lettered record",
    );
    const [r, more] = await app.transport.read(dlq, 0, 10);
    assert.equal(more, undefined, "one dead letter");
    const h = (name: string) => dec.decode(r!.headers[name]);
    assert.equal(dec.decode(r!.value!), "{not json");
    assert.equal(h("faust-dead-letter-topic"), "points");
    assert.equal(h("faust-dead-letter-partition"), "2");
    assert.equal(h("faust-dead-letter-offset"), "3");
    assert.match(h("faust-dead-letter-error"), /Point|JSON|json/);
  } finally {
    await app.stop();
  }
});

Deno.test("decodeErrorPolicy dead-letter: a failed dead-letter write crashes the app and the record stays uncommitted", async () => {
  const { app, seen } = await pointsApp("dlq-fail", "dead-letter");
  try {
    // A dead-letter topic without partitions: every write to it fails.
    await app.transport.createTopic({
      name: "dlq-fail-dead-letter",
      partitions: 0,
    });
    await append(app, "points", 2, [...GOOD, "{not json", '{"x":4}']);
    // Whichever comes first: the crash, or a commit past the bad record
    // (which means it was acked as if dead-lettered).
    const passed = waitFor(
      () => committed(app, "points", 2) > 3,
      15_000,
      "crash",
    ).then(() => "committed past the bad record");
    const outcome = await Promise.race([
      app.crashed.then((e) => e.message),
      passed,
    ]);
    assert.match(outcome, /Cannot write to the dead-letter topic/);
    await app.stop();
    assert.ok(seen.length >= 3);
    const at = committed(app, "points", 2);
    assert.ok(at <= 3, `committed ${at}: past the lost record at 3`);
  } finally {
    await app.stop();
  }
});

Deno.test("Conductor refills a full stream buffer once it is half empty, not one event per freed slot", async () => {
  // Before: every event the agent took freed a slot that woke the stalled
  // partition for one more event, so the buffer never went below full - 1.
  const app = memApp("refill-half", {
    topicPartitions: 1,
    streamBufferMaxsize: 10,
  });
  const src = app.topic("refill-in", { valueType: "number" });
  const sizes: number[] = [];
  app.agent(src, async (s) => {
    for await (const _ of s) sizes.push(src.queues[0]!.size);
  }, { name: "refill" });
  await app.start();
  try {
    await append(
      app,
      "refill-in",
      0,
      Array.from({ length: 100 }, (_, i) => String(i)),
    );
    await waitFor(() => sizes.length === 100, 10_000, "100 events");
  } finally {
    await app.stop();
  }
  // While the backlog lasts, the buffer drains to half before a refill (the
  // refill happens as the loop takes the 5th of 10, so the loop sees 6 at
  // least), and each refill hands over about half a buffer at once.
  const backlog = sizes.slice(0, 80);
  assert.ok(Math.min(...backlog) <= 6, `sizes seen: ${backlog.join(",")}`);
  for (let i = 1; i < backlog.length; i++) {
    const step = backlog[i]! - backlog[i - 1]!;
    assert.ok(step === -1 || step >= 4, `sizes seen: ${backlog.join(",")}`);
  }
});
