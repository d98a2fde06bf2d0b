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
  text,
  unique,
} from "./_helpers.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function startWorker(id: string, datadir: string, port: number): Proc {
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
      String(port),
    ),
    {
      env: {
        EOS_APP_ID: id,
        EOS_BROKER: BROKER,
        EOS_GUARANTEE: Deno.env.get("FAUST_TEST_EOS_GUARANTEE") ??
          "exactly_once",
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

Deno.test("exactly_once: after kill -9 and restarts, table and committed output hold each input once", async () => {
  await requireBroker();
  const id = unique("eos");
  const datadir = await Deno.makeTempDir();
  const port = freePort();
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
  const expected: Record<string, number> = {};
  for (const w of input) expected[w] = (expected[w] ?? 0) + 1;
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
    // Kill the worker three times while it is working, at growing progress.
    for (const target of [300, 800, 1300]) {
      worker = startWorker(id, datadir, port);
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
    worker = startWorker(id, datadir, port);
    const deadline = Date.now() + 90_000;
    let output: string[] = [];
    while ((output = await committedOutput(`${id}-out`)).length < N) {
      if (Date.now() > deadline) {
        throw new Error(
          `Output has ${output.length} of ${N} records after 90 s:\n${worker.output}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    output = await committedOutput(`${id}-out`);
    assert.equal(output.length, N, "each input forwarded exactly once");
    const forwarded: Record<string, number> = {};
    for (const w of output) forwarded[w] = (forwarded[w] ?? 0) + 1;
    assert.deepEqual(forwarded, expected);
    let counts: Record<string, number> = {};
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      counts = await tableState(port).catch(() => ({}));
      if (sorted(counts) === sorted(expected)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(counts, expected, "each input counted exactly once");
  } finally {
    await sender.stop();
    if (worker !== undefined) {
      worker.kill("SIGTERM");
      await worker.exit(60_000).catch(() => {});
    }
    await Deno.remove(datadir, { recursive: true });
  }
});
