/**
 * Worker processes: stopping, undecodable records and signals, with real
 * `deno` subprocesses on `local://`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { denoRun, Proc, ROOT } from "./cli/_helpers.ts";
import { createTransport } from "../src/transport/factory.ts";

/** A module with one slow agent (100 ms per event) on a one-partition topic. */
function slowApp(): string {
  return `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("slowstop", { store: "memory://" });
const input = app.topic("numbers", { partitions: 1, valueType: "number" });
app.agent(input, async function slow(stream) {
  for await (const n of stream) {
    await new Promise((r) => setTimeout(r, 100));
    console.log("DONE " + n);
  }
});
if (Deno.env.get("FILL") === "1") {
  app.task(async () => {
    await Promise.all(Array.from({ length: 300 }, (_, i) => input.send({ value: i })));
    console.log("FILLED");
  });
}
`;
}

function worker(
  mod: string,
  dir: string,
  fill: boolean,
  env: Record<string, string> = {},
): Proc {
  return new Proc(
    denoRun(
      "cli.ts",
      "-A",
      mod,
      "-D",
      dir,
      "worker",
      "--without-web",
      "-l",
      "info",
    ),
    { env: { FILL: fill ? "1" : "0", ...env } },
  );
}

function done(output: string): number[] {
  return [...output.matchAll(/^DONE (\d+)$/gm)].map((m) => Number(m[1]));
}

Deno.test("Worker: SIGTERM with a slow agent finishes the event in hand, commits it and leaves the buffered rest for the next start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/slow.ts`;
    await Deno.writeTextFile(mod, slowApp());
    const first = worker(mod, dir, true);
    await first.waitFor(/FILLED/);
    await first.waitFor(/^DONE 5$/m);
    const t0 = Date.now();
    first.kill("SIGTERM");
    // Draining the buffer would take ~30 s (300 events x 100 ms).
    const status = await first.exit(15_000);
    const took = Date.now() - t0;
    assert.equal(status.code, 0, first.output);
    assert.ok(took < 10_000, `stop took ${took} ms`);
    const processed = done(first.stdout);
    const last = processed[processed.length - 1]!;
    assert.deepEqual(processed, processed.map((_, i) => i));
    assert.ok(last < 250, `the buffer was drained up to ${last}`);

    const second = worker(mod, dir, false);
    await second.waitFor(new RegExp(`^DONE ${last + 3}$`, "m"));
    second.kill("SIGTERM");
    assert.equal((await second.exit(15_000)).code, 0, second.output);
    const again = done(second.stdout);
    assert.equal(
      again[0],
      last + 1,
      `restart began at ${again[0]}, expected ${last + 1}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A module whose agent prints what it gets; with FILL=1 it sends
 * `{"n":0}`, `{"n":1}`, an undecodable record (offset 2) and `{"n":3}`;
 * with FILL=4 it sends `{"n":4}`.
 */
function poisonApp(): string {
  return `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("poison", { store: "memory://" });
const points = app.topic("points", { partitions: 1 });
const raw = app.topic("points", { partitions: 1, valueSerializer: "raw" });
app.agent(points, async function printer(stream) {
  for await (const v of stream) console.log("GOT " + v.n);
});
const fill = Deno.env.get("FILL");
if (fill === "1") {
  app.task(async () => {
    const enc = new TextEncoder();
    for (const text of ['{"n":0}', '{"n":1}', "{not json", '{"n":3}']) {
      await raw.send({ value: enc.encode(text) });
    }
  });
} else if (fill === "4") {
  app.task(async () => { await points.send({ value: { n: 4 } }); });
}
`;
}

function got(output: string): number[] {
  return [...output.matchAll(/^GOT (\d+)$/gm)].map((m) => Number(m[1]));
}

Deno.test('Worker: decodeErrorPolicy "fail" stops the worker non-zero at the bad record, without committing it, on every start', async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/poison.ts`;
    await Deno.writeTextFile(mod, poisonApp());
    const env = { FAUST_DECODE_ERROR_POLICY: "fail" };
    const first = worker(mod, dir, true, env);
    const status = await first.exit(30_000);
    assert.notEqual(status.code, 0, first.output);
    assert.match(first.stderr, /Cannot decode points\[0\]@2/);
    assert.deepEqual(got(first.stdout), [0, 1]);
    // The records before it were committed; the bad one was not: the next
    // start fails on it again, loudly, and processes nothing.
    const second = worker(mod, dir, false, env);
    const again = await second.exit(30_000);
    assert.notEqual(again.code, 0, second.output);
    assert.match(second.stderr, /Cannot decode points\[0\]@2/);
    assert.deepEqual(got(second.stdout), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('Worker: decodeErrorPolicy "dead-letter" writes the bad record with its position and error to {appId}-dead-letter and commits past it', async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/poison.ts`;
    await Deno.writeTextFile(mod, poisonApp());
    const env = { FAUST_DECODE_ERROR_POLICY: "dead-letter" };
    const first = worker(mod, dir, true, env);
    await first.waitFor(/^GOT 3$/m);
    first.kill("SIGTERM");
    assert.equal((await first.exit(30_000)).code, 0, first.output);
    assert.deepEqual(got(first.stdout), [0, 1, 3]);

    const second = worker(mod, dir, false, { ...env, FILL: "4" });
    await second.waitFor(/^GOT 4$/m);
    second.kill("SIGTERM");
    assert.equal((await second.exit(30_000)).code, 0, second.output);
    assert.deepEqual(got(second.stdout), [4], "nothing processed twice");

    const transport = await createTransport("local://", {
      datadir: dir,
      defaultPartitions: 1,
      clientId: "test",
    });
    await transport.start();
    try {
      const records = await transport.read(
        { topic: "poison-dead-letter", partition: 0 },
        0,
        10,
      );
      assert.equal(records.length, 1, "written once");
      const r = records[0]!;
      const text = (b: Uint8Array | null | undefined) =>
        new TextDecoder().decode(b ?? new Uint8Array());
      assert.equal(text(r.value), "{not json");
      assert.equal(text(r.headers["faust-dead-letter-topic"]), "points");
      assert.equal(text(r.headers["faust-dead-letter-partition"]), "0");
      assert.equal(text(r.headers["faust-dead-letter-offset"]), "2");
      assert.match(text(r.headers["faust-dead-letter-error"]), /JSON|json/);
    } finally {
      await transport.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function listening(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("Worker: SIGUSR2 logs what runs and opens no debugger port", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/slow.ts`;
    await Deno.writeTextFile(mod, slowApp());
    const before = await listening(9229);
    const p = worker(mod, dir, false);
    await p.waitFor(/Worker ready/);
    p.kill("SIGUSR2");
    await p.waitFor(
      /Running tasks of "slowstop": agents: "slow\(x1\)"; jobs: "none"; services: "none"; partitions: "numbers\[0\]"/,
    );
    assert.doesNotMatch(p.output, /Debugger listening/);
    if (!before) {
      assert.equal(await listening(9229), false, "9229 listens");
    }
    p.kill("SIGTERM");
    assert.equal((await p.exit(30_000)).code, 0, p.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A module whose agent holds event 0 for 4 s; 5 events are sent at start. */
function hangApp(): string {
  return `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("hang", { store: "memory://" });
const input = app.topic("jobs", { partitions: 1, valueType: "number" });
app.agent(input, async function hanger(stream) {
  for await (const n of stream) {
    if (n === 0) await new Promise((r) => setTimeout(r, 4000));
    console.log("DONE " + n);
  }
});
app.task(async () => {
  await Promise.all(Array.from({ length: 5 }, (_, i) => input.send({ value: i })));
});
`;
}

Deno.test("Worker: an event in hand longer than streamProcessingTimeout is logged as stuck with agent, position and time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/hang.ts`;
    await Deno.writeTextFile(mod, hangApp());
    const p = worker(mod, dir, false, {
      FAUST_STREAM_PROCESSING_TIMEOUT: "0.5",
    });
    const m = await p.waitFor(
      /Agent "hanger" actor 0 has been processing "jobs"\[0\]@0 for ([\d.]+) s \(streamProcessingTimeout 0.5 s\): it may be stuck/,
    );
    assert.ok(Number(m[1]) > 0.5 && Number(m[1]) < 4, m[0]);
    await p.waitFor(/^DONE 4$/m);
    p.kill("SIGTERM");
    assert.equal((await p.exit(30_000)).code, 0, p.output);
    assert.equal(
      p.output.match(/it may be stuck/g)?.length,
      1,
      "reported once, and only the slow event",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Worker: a partition whose commit does not advance for brokerCommitLivelockSoftTimeout while events wait is logged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/hang.ts`;
    await Deno.writeTextFile(mod, hangApp());
    const p = worker(mod, dir, false, {
      FAUST_BROKER_COMMIT_LIVELOCK_SOFT_TIMEOUT: "1",
      FAUST_BROKER_COMMIT_INTERVAL: "0.1",
    });
    await p.waitFor(
      /Partition "jobs\[0\]" has not committed for [\d.]+ s while events wait: committed offset -?\d+, 5 events delivered and not acked \(lowest 0\) \(brokerCommitLivelockSoftTimeout 1 s\)/,
    );
    await p.waitFor(/^DONE 4$/m);
    p.kill("SIGTERM");
    assert.equal((await p.exit(30_000)).code, 0, p.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
