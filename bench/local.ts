/**
 * Benchmark on the embedded `local://` broker against the physical limit of
 * one JS event loop (PERFORMANCE.md). Not a test.
 *
 *   deno run -A bench/local.ts [--events 200000] [--runs 3] [--warmup W]
 *     [--timeout S] [--out results.md]
 *     [--workloads forward,count,window,count-1m,ask,latency]
 *     [--big-keys K] [--big-events N] [--big-runs R] [--asks N] [--latency-seconds S]
 *     [--latency-rate R] [--no-gc-trace] [--tree PATH] [--old-tree PATH]
 *     [--ours-table-options JSON] [--ours-deno-flags "--cpu-prof --cpu-prof-dir=DIR"]
 *
 * For each run: N protocol records (bench/peers protocol: key `k<i%10000>`,
 * JSON value `{id, word, n}`, murmur2 partition of 4) are pre-loaded into a
 * local:// topic in a temp dir, then as separate worker processes:
 * - `ours`: bench/peers/ours.ts with `--broker local://DIR` (forward: agent
 *   -> output topic; count: lmdb:// table with changelog), committing on the
 *   2.8 s `brokerCommitInterval` only (`--commit-every 0`, as Kafka Streams
 *   commits: no count trigger);
 * - `ours-every10k`: the same with the App default `brokerCommitEvery` of
 *   10,000 (Faust's): at 200k events/s that is 20 commits a second, and with
 *   10,000 keys the changelog record cache merges next to nothing;
 * - `ours-eos`: ours-every10k with `processingGuarantee: "exactly_once"`, timed
 *   until the offsets of all N events committed (outputs and table changes
 *   become visible only then);
 * - `limit-memory`: the same records, read into memory first (not timed),
 *   then one loop: JSON.parse + Map update (count), or JSON.parse + map +
 *   JSON.stringify + encode (forward, nothing written);
 * - `limit-read`: the same loop reading the records from local:// with
 *   `transport.read()` (the broker's read path, no group, no commits).
 * Each process prints the protocol lines (ready, warm, done); CPU and peak
 * RSS come from /proc (the limits report their own CPU: their window is
 * shorter than the kernel's 10 ms tick).
 *
 * More workloads (bench/peers/harness.ts describes them): `window`
 * (tumbling 1-minute window sum over the record timestamps of the same
 * records; limits: a Map per key and window), `count-1m` (keyed count over
 * a second topic with `--big-keys` keys), `ask` (sequential `agent.ask()`
 * round trips through local://, p50/p99) and `latency` (end-to-end p50/p99
 * of forward at half of ours' forward rate, driven by
 * bench/peers/latency.ts from another process). Every result is checked
 * against the exact expected one. GC % and KB/event of ours come from V8's
 * `--trace-gc-nvp` (`--no-gc-trace` turns it off). `--tree PATH` runs ours
 * on the library of another checkout; `--old-tree PATH` adds `ours-old`
 * (ours on that checkout) beside ours, the two taking turns going first,
 * with ours/ours-old in the ratio column. `--ours-deno-flags "..."` adds
 * `deno run` flags to every process of ours (old tree and exactly-once
 * included), e.g. `--cpu-prof --cpu-prof-dir=DIR` for a CPU profile each.
 *
 * @module
 */
import process from "node:process";
import { LocalTransport } from "../src/transport/local.ts";
import type { ProduceRecord } from "../src/transport/transport.ts";
import { partitionForKey } from "../src/producer/partitioner.ts";
import {
  emit,
  type InputValue,
  summarizeWindows,
  WINDOW_MS,
} from "./peers/_args.ts";
import {
  EVENT_STEP_MS,
  eventTimeBase,
  KEYS,
  PARTITIONS,
  record,
} from "./peers/_preload.ts";
import {
  denoCommand,
  GC_TRACE_FLAG,
  initClockTicks,
  PeerProcess,
} from "./peers/_proc.ts";
import {
  askMeasure,
  checkResult,
  gcMeasure,
  type Input,
  type Job,
} from "./peers/_runs.ts";
import { treeOptions } from "./peers/_systems.ts";
import {
  cells,
  markdown,
  type Measure,
  plain,
  Results,
} from "./peers/_report.ts";

const INPUT = "input";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

function intFlag(name: string, fallback: number, min: number): number {
  const v = flag(name);
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`invalid --${name} ${v}: expected an integer >= ${min}`);
  }
  return n;
}

function open(dir: string): Promise<LocalTransport> {
  const t = new LocalTransport(`local://${dir}`, {
    defaultPartitions: PARTITIONS,
    datadir: dir,
    clientId: "bench-local",
  });
  return t.start().then(() => t);
}

async function preloadLocal(dir: string, input: Input): Promise<number> {
  const t = await open(dir);
  const enc = new TextEncoder();
  const t0 = performance.now();
  const n = input.n;
  try {
    await t.createTopic({ name: input.topic, partitions: PARTITIONS });
    for (let start = 0; start < n; start += 10_000) {
      const batch: ProduceRecord[] = [];
      for (let i = start; i < Math.min(n, start + 10_000); i++) {
        const { key, value } = record(i, input.keys);
        const k = enc.encode(key);
        batch.push({
          topic: input.topic,
          partition: partitionForKey(k, PARTITIONS),
          key: k,
          value: enc.encode(value),
          timestamp: input.t0 + i * EVENT_STEP_MS,
        });
      }
      await t.send(batch);
    }
  } finally {
    await t.stop();
  }
  return (performance.now() - t0) / 1000;
}

async function highWaterSum(dir: string, topic: string): Promise<number> {
  const t = await open(dir);
  try {
    let sum = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      sum += await t.highWatermark({ topic, partition: p });
    }
    return sum;
  } finally {
    await t.stop();
  }
}

// ------------------------------------------------------------------ limit role

/** A record as the limits use it. */
interface Rec {
  readonly value: Uint8Array;
  readonly timestamp: number;
}

/** Read every record of the input topic, partition by partition. */
async function* readAll(t: LocalTransport, topic: string): AsyncGenerator<Rec> {
  for (let p = 0; p < PARTITIONS; p++) {
    let offset = 0;
    for (;;) {
      const rs = await t.read({ topic, partition: p }, offset, 5000);
      if (rs.length === 0) break;
      for (const r of rs) yield { value: r.value!, timestamp: r.timestamp };
      offset = rs[rs.length - 1]!.offset + 1;
    }
  }
}

async function limitRole(): Promise<void> {
  const dir = flag("dir")!;
  const mode = flag("mode")!;
  const workload = flag("workload")!;
  const n = intFlag("expect", 0, 1);
  const w = intFlag("warmup", 0, 0);
  const topic = flag("input")!;
  const t = await open(dir);
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let source: AsyncIterable<Rec> | Iterable<Rec>;
  if (mode === "memory") {
    const all: Rec[] = [];
    for await (const r of readAll(t, topic)) all.push(r);
    source = all;
  } else source = readAll(t, topic);
  emit({ event: "ready" });
  const counts = new Map<string, number>();
  const sums = new Map<string, number>();
  const out: Uint8Array[] = [];
  let processed = 0;
  let warmAt = performance.now();
  let cpu0 = process.cpuUsage();
  if (w === 0) emit({ event: "warm", processed: 0 });
  for await (const r of source) {
    const v = JSON.parse(dec.decode(r.value)) as InputValue;
    if (workload === "count") {
      counts.set(v.word, (counts.get(v.word) ?? 0) + 1);
    } else if (workload === "window") {
      const k = `${v.word}|${r.timestamp - r.timestamp % WINDOW_MS}`;
      sums.set(k, (sums.get(k) ?? 0) + v.n);
    } else {
      out.push(
        enc.encode(JSON.stringify({ id: v.id, word: v.word, n2: v.n * 2 })),
      );
    }
    if (++processed === w) {
      warmAt = performance.now();
      cpu0 = process.cpuUsage();
      emit({ event: "warm", processed });
    }
    if (processed === n) break;
  }
  const seconds = (performance.now() - warmAt) / 1000;
  const cpu = process.cpuUsage(cpu0);
  let result: Record<string, number>;
  if (workload === "window") {
    result = {
      ...summarizeWindows(
        [...sums].map(([k, v]) => {
          const bar = k.indexOf("|");
          return [k.slice(0, bar), Number(k.slice(bar + 1)), v] as const;
        }),
      ),
    };
  } else if (workload === "count") {
    let keys = 0, total = 0, min = Infinity, max = -Infinity;
    for (const c of counts.values()) {
      keys++;
      total += c;
      min = Math.min(min, c);
      max = Math.max(max, c);
    }
    result = { keys, total, min, max };
  } else result = { produced: out.length };
  emit({
    event: "done",
    processed,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    result,
  });
  await t.stop();
  // Idle until SIGTERM, as the protocol asks.
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  await stop.promise;
  Deno.exit(0);
}

// ------------------------------------------------------------------ main

/** Every workload of bench:local, in report order. */
const WORKLOADS = [
  "forward",
  "count",
  "window",
  "count-1m",
  "ask",
  "latency",
] as const;

/** Systems per workload. */
const SYSTEMS: Record<string, readonly string[]> = {
  forward: ["ours", "ours-every10k", "ours-eos", "limit-memory", "limit-read"],
  count: ["ours", "ours-every10k", "ours-eos", "limit-memory", "limit-read"],
  window: ["ours", "limit-memory", "limit-read"],
  "count-1m": ["ours", "limit-memory", "limit-read"],
  ask: ["ours"],
  latency: ["ours"],
};

interface Ctx {
  readonly n: number;
  readonly w: number;
  readonly timeoutMs: number;
  readonly logDir: string;
  readonly results: Results;
  readonly gcTrace: boolean;
  readonly tree: ReturnType<typeof treeOptions>;
  readonly oldTree: ReturnType<typeof treeOptions> | undefined;
  readonly tableOptions: string | undefined;
  /** Extra `deno run` flags for every system of ours (e.g. a CPU profile). */
  readonly denoFlags: string[];
}

/** The checkout a system of ours runs on. */
function treeOf(ctx: Ctx, system: string): ReturnType<typeof treeOptions> {
  return system.endsWith("-old") ? ctx.oldTree! : ctx.tree;
}

/**
 * The commit cadence of a system of ours: `ours` (and `ours-old`) commits on
 * the 2.8 s interval only, as Kafka Streams does (no count trigger);
 * `ours-every10k` and `ours-eos` keep the App default, a commit every
 * 10,000 events as well (Faust's `broker_commit_every`).
 */
function commitArgs(system: string): string[] {
  return system.replace(/-old$/, "") === "ours" ? ["--commit-every", "0"] : [];
}

/** `deno run` command of ours (bench/peers/ours.ts) with the common options. */
function oursCommand(
  ctx: Ctx,
  system: string,
  args: string[],
): { cmd: string; args: string[] } {
  const peers = new URL("./peers/ours.ts", import.meta.url).pathname;
  return denoCommand([
    "run",
    "-A",
    "--quiet",
    ...(ctx.gcTrace ? [GC_TRACE_FLAG] : []),
    ...ctx.denoFlags,
    ...treeOf(ctx, system).flags,
    peers,
    ...args,
    ...commitArgs(system),
    ...(ctx.tableOptions !== undefined
      ? ["--table-options", ctx.tableOptions]
      : []),
  ]);
}

function note(msg: string): void {
  console.error(`[local] ${msg}`);
}

async function runOne(
  ctx: Ctx,
  system: string,
  job: Job,
  run: number,
  brokerDir: string,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ dir: ctx.logDir });
  const output = `output-${system}-${job.name}-${run}`;
  const logPath = `${ctx.logDir}/${system}-${job.name}-r${run}.log`;
  const self = new URL(import.meta.url).pathname;
  const n = job.input.n;
  const common = [
    "--workload",
    job.workload,
    "--expect",
    String(n),
    "--warmup",
    String(job.warmup),
    "--input",
    job.input.topic,
  ];
  const ours = system.startsWith("ours");
  const c = ours
    ? oursCommand(ctx, system, [
      ...common,
      "--broker",
      `local://${brokerDir}`,
      "--output",
      output,
      "--app-id",
      `bench-local-${system}-${job.name}-${run}`,
      "--state-dir",
      stateDir,
      ...(system.startsWith("ours-eos") ? ["--exactly-once"] : []),
    ])
    : {
      cmd: Deno.execPath(),
      args: [
        "run",
        "-A",
        "--quiet",
        self,
        "--role",
        "limit",
        "--mode",
        system === "limit-memory" ? "memory" : "read",
        "--dir",
        brokerDir,
        ...common,
      ],
    };
  const timeoutMs = ctx.timeoutMs * Math.max(1, n / ctx.n);
  let m: Measure;
  let p: PeerProcess | undefined;
  try {
    if (ours && job.workload === "forward") {
      const t = await open(brokerDir);
      await t.createTopic({ name: output, partitions: PARTITIONS });
      await t.stop();
    }
    p = new PeerProcess(c.cmd, c.args, logPath, treeOf(ctx, system).env);
    await p.expect("ready", 180_000);
    await p.expect("warm", timeoutMs);
    const s0 = p.sample();
    const g0 = p.gcTotals();
    const done = await p.expect("done", timeoutMs);
    const s1 = p.sample();
    const g1 = p.gcTotals();
    const measured = n - job.warmup;
    let error = checkResult(job, done.result);
    if (error === undefined && ours && job.workload === "forward") {
      const hw = await highWaterSum(brokerDir, output);
      if (hw !== n) error = `output holds ${hw}, expected ${n}`;
    }
    const own = (done as { cpuSeconds?: number }).cpuSeconds;
    const cpu = own ?? s1.cpuSeconds - s0.cpuSeconds;
    const seconds = done.seconds ?? NaN;
    m = {
      ok: error === undefined && seconds > 0,
      ...(error !== undefined ? { error } : {}),
      rate: measured / seconds,
      cpuPerM: cpu / measured * 1e6,
      rssMb: s1.hwmMb,
      ...gcMeasure(g0, g1, seconds, measured),
    };
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await p.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  ctx.results.add(system, job.name, m);
  note(
    `${system} ${job.name} run ${run}: ${
      m.ok
        ? `${Math.round(m.rate!)} events/s, ${m.cpuPerM!.toFixed(2)} CPU-s/1M`
        : `FAILED: ${m.error}`
    }`,
  );
}

/** `agent.ask()` round trips through local:// (ours.ts `ask`). */
async function askOne(
  ctx: Ctx,
  system: string,
  asks: number,
  run: number,
  brokerDir: string,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ dir: ctx.logDir });
  const logPath = `${ctx.logDir}/${system}-ask-r${run}.log`;
  const warmup = Math.floor(asks / 10);
  const c = oursCommand(ctx, system, [
    "--workload",
    "ask",
    "--expect",
    String(asks),
    "--warmup",
    String(warmup),
    "--input",
    INPUT,
    "--broker",
    `local://${brokerDir}`,
    "--app-id",
    `bench-local-${system}-ask-${run}`,
    "--state-dir",
    stateDir,
  ]);
  let m: Measure;
  let p: PeerProcess | undefined;
  try {
    p = new PeerProcess(c.cmd, c.args, logPath, treeOf(ctx, system).env);
    await p.expect("ready", 180_000);
    await p.expect("warm", ctx.timeoutMs);
    const s0 = p.sample();
    const done = await p.expect("done", ctx.timeoutMs);
    m = askMeasure(done.result, asks - warmup, done.seconds, s0, p.sample());
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await p.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  ctx.results.add(system, "ask", m);
  note(
    `${system} ask run ${run}: ${
      m.ok
        ? `p50 ${m.p50Ms!.toFixed(2)} ms, p99 ${m.p99Ms!.toFixed(2)} ms`
        : `FAILED: ${m.error}`
    }`,
  );
}

/** End-to-end latency of ours' forward at `rate`, driven by bench/peers/latency.ts. */
async function latencyOne(
  ctx: Ctx,
  system: string,
  rate: number,
  count: number,
  run: number,
  brokerDir: string,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ dir: ctx.logDir });
  const logPath = `${ctx.logDir}/${system}-latency-r${run}.log`;
  const input = `lat-in-${system}-${run}`;
  const output = `lat-out-${system}-${run}`;
  const c = oursCommand(ctx, system, [
    "--workload",
    "forward",
    "--expect",
    String(count),
    "--warmup",
    "0",
    "--input",
    input,
    "--output",
    output,
    "--broker",
    `local://${brokerDir}`,
    "--app-id",
    `bench-local-${system}-latency-${run}`,
    "--state-dir",
    stateDir,
  ]);
  let m: Measure;
  let p: PeerProcess | undefined;
  let d: PeerProcess | undefined;
  try {
    const t = await open(brokerDir);
    await t.createTopic({ name: input, partitions: PARTITIONS });
    await t.createTopic({ name: output, partitions: PARTITIONS });
    await t.stop();
    p = new PeerProcess(c.cmd, c.args, logPath, treeOf(ctx, system).env);
    await p.expect("ready", 180_000);
    const s0 = p.sample();
    const g0 = p.gcTotals();
    // Keep reading the system's stdout while the driver runs (a full pipe
    // would block its writes); its own done comes after the M-th record.
    const systemDone = p.expect("done", ctx.timeoutMs);
    systemDone.catch(() => {});
    d = new PeerProcess(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      new URL("./peers/latency.ts", import.meta.url).pathname,
      "--broker",
      `local://${brokerDir}`,
      "--input",
      input,
      "--output",
      output,
      "--count",
      String(count),
      "--warmup",
      String(Math.floor(count / 10)),
      "--rate",
      String(rate),
      "--state-dir",
      stateDir,
    ], `${ctx.logDir}/${system}-latency-driver-r${run}.log`);
    await d.expect("ready", 180_000);
    const done = await d.expect("done", ctx.timeoutMs);
    const r = done.result ?? {};
    if (r.missing === 0) await systemDone;
    const s1 = p.sample();
    const g1 = p.gcTotals();
    const error = r.missing !== 0 || r.dups !== 0
      ? `driver read ${r.received} of ${count} records back (${r.dups} duplicates)`
      : undefined;
    m = {
      ok: error === undefined,
      ...(error !== undefined ? { error } : {}),
      rate: r.sentRate,
      cpuPerM: (s1.cpuSeconds - s0.cpuSeconds) / count * 1e6,
      rssMb: s1.hwmMb,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      ...gcMeasure(g0, g1, done.seconds ?? NaN, count),
      info: `at ${Math.round(rate)} events/s, ${count} events`,
    };
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (d !== undefined) await d.stop();
    if (p !== undefined) await p.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  ctx.results.add(system, "latency", m);
  note(
    `${system} latency run ${run}: ${
      m.ok
        ? `p50 ${m.p50Ms!.toFixed(2)} ms, p99 ${m.p99Ms!.toFixed(2)} ms at ${
          Math.round(m.rate!)
        } events/s`
        : `FAILED: ${m.error}`
    }`,
  );
}

/**
 * The systems of workload `w` in run `run`: with an old tree, each ours
 * system is followed by its `-old` twin, and the twins swap places in
 * every other run.
 */
function systemsOf(ctx: Ctx, w: string, run: number): string[] {
  return SYSTEMS[w]!.flatMap((s) => {
    if (!s.startsWith("ours") || ctx.oldTree === undefined) return [s];
    return run % 2 === 1 ? [s, `${s}-old`] : [`${s}-old`, s];
  });
}

function listFlag(name: string, all: readonly string[]): string[] {
  const v = flag(name);
  if (v === undefined) return [...all];
  const xs = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const x of xs) {
    if (!all.includes(x)) {
      throw new Error(
        `invalid --${name} value ${x}: expected some of ${all.join(",")}`,
      );
    }
  }
  return all.filter((x) => xs.includes(x));
}

async function main(): Promise<number> {
  const n = intFlag("events", 200_000, 1);
  const tree = flag("tree");
  const ctx: Ctx = {
    n,
    w: intFlag("warmup", Math.floor(n / 10), 0),
    timeoutMs: intFlag("timeout", 120 + Math.ceil(n / 500), 1) * 1000,
    logDir: await Deno.makeTempDir({ prefix: "faust-local-peers-" }),
    results: new Results(),
    gcTrace: !Deno.args.includes("--no-gc-trace"),
    tree: treeOptions(tree),
    oldTree: flag("old-tree") === undefined
      ? undefined
      : treeOptions(flag("old-tree")),
    tableOptions: flag("ours-table-options"),
    denoFlags: (flag("ours-deno-flags") ?? "").split(" ").filter((s) =>
      s !== ""
    ),
  };
  const runs = intFlag("runs", 3, 1);
  const workloads = listFlag("workloads", WORKLOADS);
  const bigKeys = intFlag("big-keys", 1_000_000, 1);
  const bigEvents = intFlag("big-events", bigKeys, 1);
  const bigRuns = intFlag("big-runs", 1, 1);
  const asks = intFlag("asks", 1000, 10);
  const latencySeconds = intFlag("latency-seconds", 10, 1);
  const fixedRate = flag("latency-rate") === undefined
    ? undefined
    : intFlag("latency-rate", 1, 1);
  await initClockTicks();
  note(`logs in ${ctx.logDir}`);
  const main: Input = {
    topic: INPUT,
    n,
    keys: KEYS,
    t0: eventTimeBase(n),
  };
  const big: Input = {
    topic: "input-big",
    n: bigEvents,
    keys: bigKeys,
    t0: eventTimeBase(bigEvents),
  };
  const job = (name: string, input: Input): Job => ({
    name,
    workload: name === "count-1m"
      ? "count"
      : name as "forward" | "count" | "window",
    input,
    warmup: Math.floor(ctx.w * input.n / n),
  });
  for (let run = 1; run <= runs; run++) {
    const brokerDir = await Deno.makeTempDir({ dir: ctx.logDir });
    try {
      const s = await preloadLocal(brokerDir, main);
      note(`pre-loaded ${n} records in ${s.toFixed(1)} s`);
      const bigRun = workloads.includes("count-1m") && run <= bigRuns;
      if (bigRun) {
        const s = await preloadLocal(brokerDir, big);
        note(
          `pre-loaded ${big.n} records (${big.keys} keys) in ${s.toFixed(1)} s`,
        );
      }
      for (const w of workloads) {
        if (w === "count-1m" && !bigRun) continue;
        for (const system of systemsOf(ctx, w, run)) {
          if (w === "ask") {
            await askOne(ctx, system, asks, run, brokerDir);
          } else if (w === "latency") {
            // Half of this system's median forward rate so far.
            const max = ctx.results.rows([system], ["forward"])[0]?.rate;
            const rate = fixedRate ?? (max === undefined ? undefined : max / 2);
            if (rate === undefined) {
              ctx.results.add(system, "latency", {
                ok: false,
                error:
                  "no forward rate measured: run forward too or give --latency-rate",
              });
            } else {
              const count = Math.max(100, Math.round(rate * latencySeconds));
              await latencyOne(ctx, system, rate, count, run, brokerDir);
            }
          } else {
            const j = job(w, w === "count-1m" ? big : main);
            await runOne(ctx, system, j, run, brokerDir);
          }
        }
      }
    } finally {
      await Deno.remove(brokerDir, { recursive: true }).catch(() => {});
    }
  }
  const systems = [
    "ours",
    "ours-old",
    "ours-every10k",
    "ours-every10k-old",
    "ours-eos",
    "ours-eos-old",
    "limit-memory",
    "limit-read",
  ];
  const table = cells(ctx.results.rows(systems, workloads));
  const conditions =
    `local:// broker (LMDB, temp dir), N=${n} events (K=10000 keys, 4 partitions), ` +
    `warm-up W=${ctx.w}, ` +
    (workloads.includes("count-1m")
      ? `count-1m: ${bigEvents} events, ${bigKeys} keys, ${
        Math.min(runs, bigRuns)
      } run(s); `
      : "") +
    `medians of ${runs} run(s), Deno ${Deno.version.deno}, ` +
    `${navigator.hardwareConcurrency} CPUs, ${new Date().toISOString()}, ` +
    `ours: ${tree ?? "this checkout"}${
      ctx.tableOptions ? ` with table options ${ctx.tableOptions}` : ""
    }. ` +
    `ours: bench/peers/ours.ts (agent; count on an lmdb:// table with changelog), committing on the 2.8 s interval only (brokerCommitEvery off, as Kafka Streams); ` +
    `ours-every10k: the same with the App default, a commit every 10,000 events as well; ` +
    `ours-eos: ours-every10k with processingGuarantee exactly_once, timed until the offsets of all N events committed; ` +
    `limit-memory: JSON.parse + Map (count, window) or JSON.parse + map + stringify + encode (forward) ` +
    `over records already in memory, one loop; limit-read: the same reading local:// with transport.read(). ` +
    `ask: sequential agent.ask() round trips; latency: forward at half of ours' forward rate, ` +
    `from the record's slot in the send schedule to its arrival in a reader of the output topic. ` +
    `GC % = GC pause / wall time, KB/event = allocated / events (V8 --trace-gc-nvp). ` +
    `ours/peer = ours events/s / row events/s.`;
  console.log(`\n${conditions}\n`);
  console.log(plain(table));
  const md = `${conditions}\n\n${markdown(table)}\n`;
  console.log(`\n${md}`);
  const out = flag("out");
  if (out !== undefined) await Deno.writeTextFile(out, md);
  if (ctx.results.failed) {
    note(`logs kept in ${ctx.logDir}`);
    return 1;
  }
  await Deno.remove(ctx.logDir, { recursive: true }).catch(() => {});
  return 0;
}

const USAGE = "deno task bench:local [--events N] [--runs R] [--warmup W] " +
  "[--timeout S] [--out FILE] [--workloads " + WORKLOADS.join(",") + "] " +
  "[--big-keys K] [--big-events N] [--big-runs R] [--asks N] [--latency-seconds S] " +
  "[--latency-rate R] [--no-gc-trace] [--tree PATH] [--old-tree PATH] " +
  '[--ours-table-options JSON] [--ours-deno-flags "..."]';

if (import.meta.main) {
  if (flag("role") === "limit") await limitRole();
  else if (Deno.args.includes("--help")) console.log(USAGE);
  else {
    const known = [
      "--events",
      "--runs",
      "--warmup",
      "--timeout",
      "--out",
      "--workloads",
      "--big-keys",
      "--big-events",
      "--big-runs",
      "--asks",
      "--latency-seconds",
      "--latency-rate",
      "--tree",
      "--old-tree",
      "--ours-table-options",
      "--ours-deno-flags",
    ];
    const args = Deno.args.filter((a) => a !== "--no-gc-trace");
    const bad = args.filter((a, i) => i % 2 === 0 && !known.includes(a));
    if (bad.length > 0) {
      console.error(`unknown argument "${bad[0]}"; usage: ${USAGE}`);
      Deno.exit(2);
    }
    Deno.exitCode = await main();
  }
}
