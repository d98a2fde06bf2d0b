/**
 * `processingGuarantee: "exactly_once"` on `local://` + `lmdb://` under
 * `kill -9`, with real processes: a producer process writes N keyed events
 * with sequence numbers while a worker (tests/stress/eos/worker.ts: a
 * forward agent that awaits one send and does not await another, and a
 * keyed count table) is killed with SIGKILL at seeded random moments, at
 * startup and while it works; a last worker finishes. Every output must
 * hold each input exactly once and the table the true counts, before and
 * after one more restart.
 *
 * The seed is printed; `EOS_SEED=<n>` replays a run. Run the file directly
 * for the same rotation under another guarantee (a report, no assertions):
 *
 *   deno run -A tests/stress/exactly_once_test.ts at_least_once [seed]
 */
import assert from "node:assert/strict";
import { LocalTransport } from "../../src/transport/local.ts";

const ROOT = new URL("../../", import.meta.url);
const N = 5000;
const KEYS = 37;
const KILLS = 10;
const OUTPUTS = ["out-awaited", "out-loose"] as const;
/** Checked too: the producer's input must hold each event once. */
const TOPICS = ["in", ...OUTPUTS] as const;

/** A seeded PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A child `deno` process with its output collected. */
class Child {
  readonly process: Deno.ChildProcess;
  output = "";
  exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #pumps: Promise<void>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.process = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT.pathname,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this.output += text;
      }
    };
    this.#pumps = Promise.all([
      pump(this.process.stdout),
      pump(this.process.stderr),
    ]).then(() => {});
    this.status = this.process.status.then(async (s) => {
      this.exited = true;
      await this.#pumps;
      return s;
    });
  }

  /** Wait until the output matches `re` (false when the process exited first or `ms` passed). */
  async waitFor(re: RegExp, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (re.test(this.output)) return true;
      if (this.exited) return re.test(this.output);
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /** Send a signal unless it already exited. */
  kill(signal: Deno.Signal): void {
    if (this.exited) return;
    try {
      this.process.kill(signal);
    } catch {
      // Exited meanwhile.
    }
  }

  /** Wait for the exit within `ms`; SIGKILL and throw after that. */
  async exit(ms: number): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) =>
      timer = setTimeout(() => r(undefined), ms)
    );
    const status = await Promise.race([this.status, late]);
    clearTimeout(timer);
    if (status === undefined) {
      this.kill("SIGKILL");
      await this.status;
      throw new Error(`No exit within ${ms} ms; output:\n${this.output}`);
    }
    return status;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function startWorker(
  broker: string,
  datadir: string,
  port: number,
  guarantee: string,
): Child {
  return new Child([
    "run",
    "-A",
    "--config",
    new URL("deno.json", ROOT).pathname,
    new URL("cli.ts", ROOT).pathname,
    "--app",
    new URL("tests/stress/eos/worker.ts", ROOT).pathname,
    "--datadir",
    datadir,
    "worker",
    "-l",
    "info",
    "-p",
    String(port),
  ], { EOS_BROKER: broker, EOS_GUARANTEE: guarantee });
}

const READY = /App "eos-stress" ready/;

interface Event {
  readonly key: string;
  readonly seq: number;
}

/** Every record of a topic (all 4 partitions), as events. */
async function readTopic(t: LocalTransport, topic: string): Promise<Event[]> {
  const out: Event[] = [];
  const dec = new TextDecoder();
  for (let partition = 0; partition < 4; partition++) {
    const tp = { topic, partition };
    const end = await t.highWatermark(tp);
    let offset = 0;
    for (let i = 0; i < 100_000 && offset < end; i++) {
      const records = await t.read(tp, offset, 1000);
      if (records.length === 0) break;
      for (const r of records) {
        out.push(JSON.parse(dec.decode(r.value!)) as Event);
      }
      offset = records[records.length - 1]!.offset + 1;
    }
  }
  return out;
}

async function tableState(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/state/`);
  if (!res.ok) throw new Error(`/state/ answered ${res.status}`);
  return (await res.json() as { counts: Record<string, number> }).counts;
}

function trueCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let seq = 0; seq < N; seq++) {
    const key = `k${seq % KEYS}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** How an output compares with the input. */
interface Comparison {
  readonly records: number;
  readonly duplicates: number;
  readonly missing: number;
  /** Records whose key does not match their seq (corruption). */
  readonly wrong: number;
}

function compare(events: readonly Event[]): Comparison {
  const seen = new Uint32Array(N);
  let wrong = 0;
  for (const e of events) {
    if (!Number.isInteger(e.seq) || e.seq < 0 || e.seq >= N) wrong++;
    else if (e.key !== `k${e.seq % KEYS}`) wrong++;
    else seen[e.seq]!++;
  }
  let duplicates = 0;
  let missing = 0;
  for (const c of seen) {
    if (c === 0) missing++;
    else duplicates += c - 1;
  }
  return { records: events.length, duplicates, missing, wrong };
}

/** What a rotation ended with. */
interface Report {
  readonly seed: number;
  readonly kills: Array<{ at: string; afterMs: number; readyMs?: number }>;
  readonly outputs: Record<string, Comparison>;
  /** Table while the last worker ran, and after one more restart. */
  readonly tables: Array<Record<string, number>>;
  readonly expected: Record<string, number>;
  readonly ms: number;
}

function sortedEntries(r: Record<string, number>): string {
  return JSON.stringify(Object.entries(r).sort((a, b) => a[0] < b[0] ? -1 : 1));
}

function sum(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

/**
 * Produce N events while a worker is killed with SIGKILL `KILLS` times at
 * seeded random moments (a quarter of them during startup and recovery,
 * the rest while it processes), then let a last worker finish.
 */
async function rotation(guarantee: string, seed: number): Promise<Report> {
  const t0 = Date.now();
  const random = prng(seed);
  const dir = await Deno.makeTempDir({ prefix: "faust-eos-stress-" });
  const broker = `local://${dir}/broker`;
  const datadir = `${dir}/data`;
  const port = freePort();
  const children: Child[] = [];
  const kills: Report["kills"] = [];
  try {
    const producer = new Child([
      "run",
      "-A",
      "--config",
      new URL("deno.json", ROOT).pathname,
      new URL("tests/stress/eos/producer.ts", ROOT).pathname,
      broker,
      String(N),
      String(KEYS),
    ]);
    children.push(producer);
    for (let i = 0; i < KILLS; i++) {
      const worker = startWorker(broker, datadir, port, guarantee);
      children.push(worker);
      const spawned = Date.now();
      const atStartup = random() < 0.25;
      let readyMs: number | undefined;
      let afterMs: number;
      if (atStartup) {
        afterMs = Math.floor(random() * 800);
        await new Promise((r) => setTimeout(r, afterMs));
      } else {
        if (!await worker.waitFor(READY, 60_000)) {
          throw new Error(
            `Worker ${i} not ready within 60 s (seed ${seed}):\n${worker.output}`,
          );
        }
        readyMs = Date.now() - spawned;
        afterMs = Math.floor(random() * 1500);
        await new Promise((r) => setTimeout(r, afterMs));
      }
      if (worker.exited) {
        throw new Error(
          `Worker ${i} exited by itself (seed ${seed}):\n${worker.output}`,
        );
      }
      worker.kill("SIGKILL");
      await worker.exit(30_000);
      kills.push({
        at: atStartup ? "startup" : "running",
        afterMs,
        ...(readyMs === undefined ? {} : { readyMs }),
      });
    }
    const status = await producer.exit(60_000);
    assert.equal(
      status.code,
      0,
      `producer failed (seed ${seed}):\n${producer.output}`,
    );
    assert.match(producer.output, new RegExp(`produced ${N}`));

    // The last worker finishes: wait until every input is in both outputs
    // and counted, then stop it gracefully.
    const expected = trueCounts();
    const tables: Array<Record<string, number>> = [];
    let last = startWorker(broker, datadir, port, guarantee);
    children.push(last);
    assert.ok(await last.waitFor(READY, 60_000), last.output);
    const reader = new LocalTransport(broker, {
      defaultPartitions: 4,
      datadir,
      clientId: "eos-stress-check",
    });
    await reader.start();
    try {
      const deadline = Date.now() + 150_000;
      let done = false;
      let seen = "nothing read yet";
      while (!done) {
        if (Date.now() > deadline) {
          // What the worker says about itself: offsets, counters, lag.
          const stats = await fetch(`http://127.0.0.1:${port}/stats`)
            .then((r) => r.text(), (e) => String(e));
          throw new Error(
            `Not every input reached the outputs and table within 150 s (seed ${seed}; last seen: ${seen}; /stats: ${stats}):\n${last.output}`,
          );
        }
        if (last.exited) {
          throw new Error(
            `The last worker exited (seed ${seed}):\n${last.output}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
        const missing = await Promise.all(
          OUTPUTS.map(async (t) => compare(await readTopic(reader, t)).missing),
        );
        seen = `missing from ${OUTPUTS.join(", ")}: ${missing.join(", ")}`;
        if (missing.some((n) => n > 0)) continue;
        const counts = await tableState(port).catch(() => ({}));
        seen += `; table sum ${sum(counts)}`;
        if (sum(counts) >= N) {
          tables.push(counts);
          done = true;
        }
      }
      last.kill("SIGTERM");
      assert.equal((await last.exit(60_000)).code, 0, last.output);
      // Tables after a restart: the store and what the changelog adds to it.
      last = startWorker(broker, datadir, port, guarantee);
      children.push(last);
      assert.ok(await last.waitFor(READY, 60_000), last.output);
      tables.push(await tableState(port));
      last.kill("SIGTERM");
      assert.equal((await last.exit(60_000)).code, 0, last.output);
      const outputs: Record<string, Comparison> = {};
      for (const t of TOPICS) outputs[t] = compare(await readTopic(reader, t));
      return { seed, kills, outputs, tables, expected, ms: Date.now() - t0 };
    } finally {
      await reader.stop();
    }
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await Promise.allSettled(children.map((c) => c.status));
    await Deno.remove(dir, { recursive: true });
  }
}

function seedFrom(arg: string | undefined): number {
  const given = arg ?? Deno.env.get("EOS_SEED");
  const seed = given === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(given);
  if (!Number.isInteger(seed)) throw new Error(`invalid seed ${given}`);
  return seed;
}

function describe(r: Report): string {
  const restarts = r.kills.map((k) =>
    `${k.at}+${k.afterMs}ms${
      k.readyMs === undefined ? "" : ` (ready after ${k.readyMs}ms)`
    }`
  ).join(", ");
  return [
    `seed ${r.seed}, ${r.ms} ms, ${r.kills.length} kills: ${restarts}`,
    ...Object.entries(r.outputs).map(([t, c]) =>
      `${t}: ${c.records} records for ${N} inputs, ${c.duplicates} duplicates, ${c.missing} missing, ${c.wrong} wrong`
    ),
    ...r.tables.map((t, i) =>
      `table ${i === 0 ? "at the end" : "after a restart"}: sum ${
        sum(t)
      } for ${N}, ${
        sortedEntries(t) === sortedEntries(r.expected)
          ? "equal to"
          : "NOT equal to"
      } the true counts`
    ),
  ].join("\n");
}

Deno.test({
  name:
    "exactly_once on local:// + lmdb://: after 10 kill -9 at random moments, outputs hold each input once and the table the true counts",
  // The children share the broker; the test waits for each to exit.
  sanitizeResources: false,
}, async () => {
  const seed = seedFrom(undefined);
  console.log(`exactly_once rotation: seed ${seed} (EOS_SEED=${seed} replays)`);
  const r = await rotation("exactly_once", seed);
  console.log(describe(r));
  for (const t of TOPICS) {
    assert.deepEqual(
      r.outputs[t],
      { records: N, duplicates: 0, missing: 0, wrong: 0 },
      `${t} (seed ${seed})`,
    );
  }
  for (const table of r.tables) {
    assert.equal(
      sortedEntries(table),
      sortedEntries(r.expected),
      `table counts (seed ${seed})`,
    );
  }
});

if (import.meta.main) {
  const guarantee = Deno.args[0] ?? "at_least_once";
  const r = await rotation(guarantee, seedFrom(Deno.args[1]));
  console.log(`${guarantee}:\n${describe(r)}`);
}
