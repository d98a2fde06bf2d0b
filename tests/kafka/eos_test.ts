/**
 * processingGuarantee "exactly_once" on a real broker: a worker process is
 * killed with SIGKILL while it counts and forwards; after restarts the
 * table and the committed output hold every input exactly once.
 */
import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { denoRun, Proc } from "../cli/_helpers.ts";
import {
  BROKER,
  requireBroker,
  startTransport,
  tally,
  text,
  unique,
  waitFor,
  webPort,
} from "./_helpers.ts";
import { readAll } from "./_verify.ts";
import { captureLogs } from "../helpers.ts";

function startWorker(
  id: string,
  datadir: string,
  guarantee: string,
): Proc {
  return new Proc(
    denoRun(
      "cli.ts",
      "--app",
      "tests/kafka/apps/eos_counter.ts",
      "--datadir",
      datadir,
      "worker",
      "-l",
      "info",
      "-p",
      "0",
    ),
    {
      env: {
        EOS_APP_ID: id,
        EOS_BROKER: BROKER,
        EOS_GUARANTEE: guarantee,
      },
    },
  );
}

async function committedOutput(topic: string): Promise<string[]> {
  const t = await startTransport();
  try {
    const out: string[] = [];
    for (let partition = 0; partition < 2; partition++) {
      const tp = { topic, partition };
      const end = await t.highWatermark(tp);
      let offset = 0;
      for (let i = 0; i < 10_000 && offset < end; i++) {
        const records = await t.read(tp, offset, 500);
        if (records.length === 0) break;
        for (const r of records) out.push(text(r.value) ?? "");
        offset = records[records.length - 1]!.offset + 1;
      }
    }
    return out;
  } finally {
    await t.stop();
  }
}

function sorted(r: Record<string, number>): string {
  return JSON.stringify(Object.entries(r).sort((a, b) => a[0] < b[0] ? -1 : 1));
}

async function tableState(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/state/`);
  return (await res.json() as { counts: Record<string, number> }).counts;
}

type Guarantee = "exactly_once" | "at_least_once";

interface KillResult {
  expected: Record<string, number>;
  output: Record<string, number>;
  outputLength: number;
  counts: Record<string, number>;
}

function atLeast(
  got: Record<string, number>,
  expected: Record<string, number>,
): boolean {
  return Object.entries(expected).every(([w, n]) => (got[w] ?? 0) >= n);
}

/**
 * Count and forward 2,000 words with a worker killed by SIGKILL three times
 * at growing progress, then let a fourth finish; the committed output and
 * the table as they end up.
 */
async function killRun(guarantee: Guarantee): Promise<KillResult> {
  await requireBroker();
  const id = unique(guarantee === "exactly_once" ? "eos" : "alo");
  const datadir = await Deno.makeTempDir();
  const sender = new App(`${id}-sender`, {
    broker: `kafka://${BROKER}`,
    topicPartitions: 2,
  });
  const words = sender.topic(`${id}-words`, {
    keyType: "string",
    valueType: "string",
    partitions: 2,
  });
  const N = 2000;
  const input = Array.from({ length: N }, (_, i) => `w${(i * 13) % 37}`);
  const expected = tally(input);
  let worker: Proc | undefined;
  try {
    // Created up front: the test reads the output topic before the worker
    // has declared it (a metadata request could auto-create it otherwise).
    const admin = await startTransport();
    for (const name of [`${id}-words`, `${id}-out`]) {
      await admin.createTopic({ name, partitions: 2 });
    }
    await admin.stop();
    await sender.startClient();
    for (const w of input) await words.send({ key: w, value: w });
    for (const target of [300, 800, 1300]) {
      worker = startWorker(id, datadir, guarantee);
      const deadline = Date.now() + 60_000;
      while ((await committedOutput(`${id}-out`)).length < target) {
        if (Date.now() > deadline) {
          throw new Error(
            `No progress to ${target} within 60 s:\n${worker.output}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      worker.kill("SIGKILL");
      await worker.exit(30_000);
    }
    worker = startWorker(id, datadir, guarantee);
    const deadline = Date.now() + 90_000;
    let output: string[] = [];
    while (
      !atLeast(tally(output = await committedOutput(`${id}-out`)), expected)
    ) {
      if (Date.now() > deadline) {
        throw new Error(
          `Output has ${output.length} records, not every input, after 90 s:\n${worker.output}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    output = await committedOutput(`${id}-out`);
    let counts: Record<string, number> = {};
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const port = webPort(worker.output);
      if (port !== undefined) {
        counts = await tableState(port).catch(() => ({}));
      }
      if (atLeast(counts, expected)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      expected,
      output: tally(output),
      outputLength: output.length,
      counts,
    };
  } finally {
    await sender.stop();
    if (worker !== undefined) {
      worker.kill("SIGTERM");
      await worker.exit(60_000).catch(() => {});
    }
    await Deno.remove(datadir, { recursive: true });
  }
}

Deno.test("exactly_once: after kill -9 and restarts, table and committed output hold each input once", async () => {
  const r = await killRun("exactly_once");
  assert.equal(r.outputLength, 2000, "each input forwarded exactly once");
  assert.deepEqual(r.output, r.expected);
  assert.equal(sorted(r.counts), sorted(r.expected), "each input counted once");
});

Deno.test("at_least_once: after kill -9 and restarts, nothing is lost from the table or the output", async () => {
  const r = await killRun("at_least_once");
  assert.ok(atLeast(r.output, r.expected), "every input forwarded");
  assert.ok(atLeast(r.counts, r.expected), "every input counted");
});

Deno.test("exactly_once: sends an agent does not await go into the transaction of their event", async () => {
  await requireBroker();
  const id = unique("eos-bind");
  const admin = await startTransport();
  await admin.createTopic({ name: `${id}-in`, partitions: 1 });
  await admin.createTopic({ name: `${id}-out`, partitions: 1 });
  const app = new App(id, {
    broker: `kafka://${BROKER}`,
    store: "memory://",
    processingGuarantee: "exactly_once",
    // Nothing commits while the test looks: every output must sit in an
    // open transaction.
    brokerCommitInterval: 3600,
    brokerCommitEvery: 1_000_000,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    brokerRebalanceTimeout: 10,
  });
  const input = app.topic(`${id}-in`, { valueType: "string", partitions: 1 });
  // No partition count given: the first send asks the broker for it, and the
  // agent has moved on to later events (or to none) when it arrives.
  const out = app.topic(`${id}-out`, { valueType: "string" });
  const errors: string[] = [];
  app.agent(input, async (stream) => {
    for await (const v of stream) {
      out.send({ value: v }).catch((e) => errors.push(String(e)));
    }
  });
  const N = 50;
  try {
    await app.start();
    await admin.send(
      Array.from({ length: N }, (_, i) => ({
        topic: `${id}-in`,
        partition: 0,
        key: null,
        value: new TextEncoder().encode(`v${i}`),
      })),
    );
    const deadline = Date.now() + 30_000;
    let seen = await readAll(`${id}-out`, false);
    while (seen.length < N && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await readAll(`${id}-out`, false);
    }
    assert.equal(seen.length, N, `outputs written: ${errors.join("; ")}`);
    const outside = seen.filter((r) => !r.inTransaction);
    assert.deepEqual(
      outside.map((r) => r.value),
      [],
      "no output outside a transaction",
    );
  } finally {
    await app.stop();
    await admin.stop();
  }
});

Deno.test("exactly_once: output of an event in hand across a revocation that gives the partition back to the same worker is refused, not added to the new transaction", async () => {
  await requireBroker();
  await using logs = await captureLogs();
  const id = unique("eos-stale");
  const admin = await startTransport();
  for (const t of ["in", "out", "other"]) {
    await admin.createTopic({ name: `${id}-${t}`, partitions: 1 });
  }
  const app = new App(id, {
    broker: `kafka://${BROKER}`,
    store: "memory://",
    processingGuarantee: "exactly_once",
    brokerCommitInterval: 0.2,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    // Half of it, 1 s, bounds the wait for the event held in hand.
    brokerRebalanceTimeout: 2,
    webEnabled: false,
  });
  const input = app.topic(`${id}-in`, { valueType: "string", partitions: 1 });
  const out = app.topic(`${id}-out`, { valueType: "string", partitions: 1 });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let held = 0;
  const refused: string[] = [];
  const done: string[] = [];
  app.agent(input, async (stream) => {
    for await (const v of stream) {
      if (v === "held" && held++ === 0) await gate;
      try {
        await out.send({ value: v });
      } catch (e) {
        refused.push(String(e));
      }
      done.push(v);
    }
  }, { name: "forward" });
  try {
    await app.start();
    await input.send({ value: "held" });
    await waitFor(() => held === 1, "the first event held in hand");
    // A stream on another topic changes the subscription: the group
    // rebalances, revoking the partition and assigning it to this same
    // worker again while "held" is still in hand.
    const other = app.topic(`${id}-other`, { valueType: "string" });
    const otherStream = other.stream();
    void otherStream;
    await waitFor(
      () => app.assignment().some((tp) => tp.topic === `${id}-other`),
      "the new assignment",
      30_000,
    );
    assert.ok(
      logs.lines().some((l) => l.includes("still in hand after")),
      "the revocation gave up waiting for the held event",
    );
    release();
    await waitFor(() => done.length >= 2, "the held event, twice", 30_000);
    await input.send({ value: "after" });
    await waitFor(() => done.includes("after"), "the next event", 30_000);
    const deadline = Date.now() + 30_000;
    let seen = await readAll(`${id}-out`, true);
    while (
      !seen.some((r) => r.value === "after") && Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 300));
      seen = await readAll(`${id}-out`, true);
    }
    assert.deepEqual(seen.map((r) => r.value), ["held", "after"]);
    assert.equal(refused.length, 1, "the stale event's send was refused");
    assert.match(refused[0]!, /PartitionRevokedError|revoked/);
  } finally {
    release();
    await app.stop();
    await admin.stop();
  }
});

Deno.test("exactly_once: a transaction fenced under the worker (as after a broker outage longer than its timeout) is aborted and its events processed again from the committed offset, without a crash", async () => {
  await requireBroker();
  await using logs = await captureLogs();
  const id = unique("eos-fenced");
  const admin = await startTransport();
  await admin.createTopic({ name: `${id}-in`, partitions: 1 });
  await admin.createTopic({ name: `${id}-out`, partitions: 1 });
  const app = new App(id, {
    broker: `kafka://${BROKER}`,
    store: "memory://",
    processingGuarantee: "exactly_once",
    brokerCommitInterval: 0.2,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    brokerRebalanceTimeout: 10,
    topicPartitions: 1,
    webEnabled: false,
  });
  const input = app.topic(`${id}-in`, { valueType: "string", partitions: 1 });
  const out = app.topic(`${id}-out`, { valueType: "string", partitions: 1 });
  const counts = app.table("counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
  });
  let crashed: Error | undefined;
  void app.crashed.then((e) => crashed = e);
  app.agent(input, async (stream) => {
    for await (const v of stream) {
      counts.set("n", counts.get("n") + 1);
      out.send({ value: v }).catch(() => {});
    }
  }, { name: "forward" });
  const committedOut = async (n: number) => {
    const deadline = Date.now() + 30_000;
    let seen = await readAll(`${id}-out`, true);
    while (seen.length < n && Date.now() < deadline && !crashed) {
      await new Promise((r) => setTimeout(r, 300));
      seen = await readAll(`${id}-out`, true);
    }
    return seen.map((r) => r.value);
  };
  const send = (from: number, to: number) =>
    admin.send(
      Array.from({ length: to - from }, (_, i) => ({
        topic: `${id}-in`,
        partition: 0,
        key: null,
        value: new TextEncoder().encode(`v${from + i}`),
      })),
    );
  const all = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
  try {
    await app.start();
    await send(0, 5);
    assert.deepEqual(await committedOut(5), all(5));
    // Another producer initialises the partition's transactional id: the
    // worker's producer is fenced, its open transaction aborted (what the
    // broker does to a transaction that outlived its timeout).
    const zombie = await admin.createTransactionalProducer(`${id}-eos-0`);
    await zombie.begin();
    await send(5, 10);
    await waitFor(
      () =>
        logs.lines().some((l) => l.includes("Exactly-once commit failed (")),
      "the failed commit's warning",
      30_000,
    );
    assert.deepEqual(await committedOut(10), all(10), logs.lines().join("\n"));
    assert.equal(crashed, undefined, String(crashed));
    await waitFor(() => counts.get("n") === 10, "the table's count", 30_000);
    await send(10, 12);
    assert.deepEqual(await committedOut(12), all(12));
    await zombie.close();
  } finally {
    await app.stop().catch(() => {});
    await admin.stop();
  }
});
