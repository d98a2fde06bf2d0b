import assert from "node:assert/strict";
import { Record } from "../../mod.ts";
import { z } from "zod";
import { captureLogs, memApp, waitFor } from "../helpers.ts";
import { append, committed } from "./_helpers.ts";

const dec = new TextDecoder();

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
async function decodeRun(policy: "skip" | "fail" | "dead-letter") {
  const app = memApp(`dec-${policy}`, {
    topicPartitions: 1,
    decodeErrorPolicy: policy,
    agentSupervisor: "crashing",
  });
  const Point = Record("Point", { x: z.number() });
  const t = app.topic("points", { valueType: Point });
  const seen: unknown[] = [];
  app.agent(t, async (s) => {
    for await (const v of s) seen.push(v);
  }, { name: "points" });
  await app.start();
  const raw = app.topic("points", { valueSerializer: "raw" });
  await raw.send({
    value: new TextEncoder().encode("{not json"),
    partition: 0,
  });
  await t.send({ value: { x: 1 }, partition: 0 });
  return { app, seen };
}

Deno.test("A message that fails to decode is logged, counted and skipped by default", async () => {
  const { app, seen } = await decodeRun("skip");
  await waitFor(() => seen.length === 1);
  assert.deepEqual(seen, [{ x: 1 }]);
  assert.equal(app.monitor.get("decodeErrors"), 1);
  await app.stop();
});

Deno.test("decodeErrorPolicy fail crashes the app with the decode error, naming the record", async () => {
  const { app, seen } = await decodeRun("fail");
  const error = await app.crashed;
  assert.match(error.message, /points\[0\]@0/);
  assert.equal((error.cause as Error).name, "DecodeError");
  assert.deepEqual(seen, []);
  await app.stop();
});

Deno.test("decodeErrorPolicy dead-letter sends the record with its source position to {appId}-dead-letter", async () => {
  const { app, seen } = await decodeRun("dead-letter");
  await waitFor(() => seen.length === 1);
  const [r] = await app.transport.read(
    { topic: "dec-dead-letter-dead-letter", partition: 0 },
    0,
    10,
  );
  assert.equal(new TextDecoder().decode(r!.value!), "{not json");
  assert.equal(
    new TextDecoder().decode(r!.headers["faust-dead-letter-offset"]),
    "0",
  );
  assert.equal(
    new TextDecoder().decode(r!.headers["faust-dead-letter-topic"]),
    "points",
  );
  await app.stop();
});
