/**
 * Benchmark on the embedded `local://` broker against the physical limit of
 * one JS event loop (PERFORMANCE.md). Not a test.
 *
 *   deno run -A bench/local.ts [--events 200000] [--runs 3] [--warmup W]
 *     [--timeout S] [--out results.md]
 *
 * For each run: N protocol records (bench/peers protocol: key `k<i%10000>`,
 * JSON value `{id, word, n}`, murmur2 partition of 4) are pre-loaded into a
 * local:// topic in a temp dir, then as separate worker processes:
 * - `ours`: bench/peers/ours.ts with `--broker local://DIR` (forward: agent
 *   -> output topic; count: lmdb:// table with changelog);
 * - `ours-eos`: the same with `processingGuarantee: "exactly_once"`, timed
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
 * @module
 */
import process from "node:process";
import { LocalTransport } from "../src/transport/local.ts";
import type { ProduceRecord } from "../src/transport/transport.ts";
import { partitionForKey } from "../src/partitioner.ts";
import { emit, type InputValue } from "./peers/_args.ts";
import { expectedCount, PARTITIONS, record } from "./peers/_preload.ts";
import { initClockTicks, PeerProcess } from "./peers/_proc.ts";
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

async function preloadLocal(dir: string, n: number): Promise<number> {
  const t = await open(dir);
  const enc = new TextEncoder();
  const t0 = performance.now();
  try {
    await t.createTopic({ name: INPUT, partitions: PARTITIONS });
    for (let start = 0; start < n; start += 10_000) {
      const batch: ProduceRecord[] = [];
      for (let i = start; i < Math.min(n, start + 10_000); i++) {
        const { key, value } = record(i);
        const k = enc.encode(key);
        batch.push({
          topic: INPUT,
          partition: partitionForKey(k, PARTITIONS),
          key: k,
          value: enc.encode(value),
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

/** Read every record value of the input topic, partition by partition. */
async function* readAll(t: LocalTransport): AsyncGenerator<Uint8Array> {
  for (let p = 0; p < PARTITIONS; p++) {
    let offset = 0;
    for (;;) {
      const rs = await t.read({ topic: INPUT, partition: p }, offset, 5000);
      if (rs.length === 0) break;
      for (const r of rs) yield r.value!;
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
  const t = await open(dir);
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  if (mode === "memory") {
    const all: Uint8Array[] = [];
    for await (const v of readAll(t)) all.push(v);
    source = all;
  } else source = readAll(t);
  emit({ event: "ready" });
  const counts = new Map<string, number>();
  const out: Uint8Array[] = [];
  let processed = 0;
  let warmAt = performance.now();
  let cpu0 = process.cpuUsage();
  if (w === 0) emit({ event: "warm", processed: 0 });
  for await (const bytes of source) {
    const v = JSON.parse(dec.decode(bytes)) as InputValue;
    if (workload === "count") {
      counts.set(v.word, (counts.get(v.word) ?? 0) + 1);
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
  if (workload === "count") {
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

interface Ctx {
  readonly n: number;
  readonly w: number;
  readonly timeoutMs: number;
  readonly logDir: string;
  readonly results: Results;
}

async function runOne(
  ctx: Ctx,
  system: string,
  workload: "forward" | "count",
  run: number,
  brokerDir: string,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ dir: ctx.logDir });
  const output = `output-${system}-${run}`;
  const logPath = `${ctx.logDir}/${system}-${workload}-r${run}.log`;
  const self = new URL(import.meta.url).pathname;
  const peers = new URL("./peers/ours.ts", import.meta.url).pathname;
  const common = [
    "--workload",
    workload,
    "--expect",
    String(ctx.n),
    "--warmup",
    String(ctx.w),
  ];
  const ours = system === "ours" || system === "ours-eos";
  const args = ours
    ? [
      "run",
      "-A",
      "--quiet",
      peers,
      ...common,
      "--broker",
      `local://${brokerDir}`,
      "--input",
      INPUT,
      "--output",
      output,
      "--app-id",
      `bench-local-${system}-${workload}-${run}`,
      "--state-dir",
      stateDir,
      ...(system === "ours-eos" ? ["--exactly-once"] : []),
    ]
    : [
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
    ];
  let m: Measure;
  let p: PeerProcess | undefined;
  try {
    if (ours && workload === "forward") {
      const t = await open(brokerDir);
      await t.createTopic({ name: output, partitions: PARTITIONS });
      await t.stop();
    }
    p = new PeerProcess(Deno.execPath(), args, logPath);
    await p.expect("ready", 180_000);
    await p.expect("warm", ctx.timeoutMs);
    const s0 = p.sample();
    const done = await p.expect("done", ctx.timeoutMs);
    const s1 = p.sample();
    const measured = ctx.n - ctx.w;
    const r = done.result ?? {};
    let error: string | undefined;
    if (workload === "count") {
      const want = expectedCount(ctx.n);
      if (
        r.keys !== want.keys || r.total !== want.total ||
        r.min !== want.min || r.max !== want.max
      ) {
        error = `result ${JSON.stringify(r)}, expected ${JSON.stringify(want)}`;
      }
    } else if (r.produced !== ctx.n) {
      error = `produced ${r.produced}, expected ${ctx.n}`;
    } else if (ours) {
      const hw = await highWaterSum(brokerDir, output);
      if (hw !== ctx.n) error = `output holds ${hw}, expected ${ctx.n}`;
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
    };
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await p.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  ctx.results.add(system, workload, m);
  console.error(
    `[local] ${system} ${workload} run ${run}: ${
      m.ok
        ? `${Math.round(m.rate!)} events/s, ${m.cpuPerM!.toFixed(2)} CPU-s/1M`
        : `FAILED: ${m.error}`
    }`,
  );
}

async function main(): Promise<number> {
  const n = intFlag("events", 200_000, 1);
  const ctx: Ctx = {
    n,
    w: intFlag("warmup", Math.floor(n / 10), 0),
    timeoutMs: intFlag("timeout", 120 + Math.ceil(n / 500), 1) * 1000,
    logDir: await Deno.makeTempDir({ prefix: "faust-local-peers-" }),
    results: new Results(),
  };
  const runs = intFlag("runs", 3, 1);
  await initClockTicks();
  console.error(`[local] logs in ${ctx.logDir}`);
  const systems = ["ours", "ours-eos", "limit-memory", "limit-read"];
  for (let run = 1; run <= runs; run++) {
    const brokerDir = await Deno.makeTempDir({ dir: ctx.logDir });
    try {
      const s = await preloadLocal(brokerDir, n);
      console.error(`[local] pre-loaded ${n} records in ${s.toFixed(1)} s`);
      for (const workload of ["forward", "count"] as const) {
        for (const system of systems) {
          await runOne(ctx, system, workload, run, brokerDir);
        }
      }
    } finally {
      await Deno.remove(brokerDir, { recursive: true }).catch(() => {});
    }
  }
  const table = cells(ctx.results.rows(systems, ["forward", "count"]));
  const conditions =
    `local:// broker (LMDB, temp dir), N=${n} events (K=10000 keys, 4 partitions), ` +
    `warm-up W=${ctx.w}, medians of ${runs} run(s), Deno ${Deno.version.deno}, ` +
    `${navigator.hardwareConcurrency} CPUs, ${new Date().toISOString()}. ` +
    `ours: bench/peers/ours.ts (agent; count on an lmdb:// table with changelog); ` +
    `ours-eos: the same with processingGuarantee exactly_once, timed until the offsets of all N events committed; ` +
    `limit-memory: JSON.parse + Map (count) or JSON.parse + map + stringify + encode (forward) ` +
    `over records already in memory, one loop; limit-read: the same reading local:// with transport.read(). ` +
    `ours/peer = ours events/s / row events/s.`;
  console.log(`\n${conditions}\n`);
  console.log(plain(table));
  const md = `${conditions}\n\n${markdown(table)}\n`;
  console.log(`\n${md}`);
  const out = flag("out");
  if (out !== undefined) await Deno.writeTextFile(out, md);
  if (ctx.results.failed) {
    console.error(`[local] logs kept in ${ctx.logDir}`);
    return 1;
  }
  await Deno.remove(ctx.logDir, { recursive: true }).catch(() => {});
  return 0;
}

const USAGE =
  "deno task bench:local [--events N] [--runs R] [--warmup W] [--timeout S] [--out FILE]";

if (import.meta.main) {
  if (flag("role") === "limit") await limitRole();
  else if (Deno.args.includes("--help")) console.log(USAGE);
  else {
    const known = ["--events", "--runs", "--warmup", "--timeout", "--out"];
    const bad = Deno.args.filter((a, i) => i % 2 === 0 && !known.includes(a));
    if (bad.length > 0) {
      console.error(`unknown argument "${bad[0]}"; usage: ${USAGE}`);
      Deno.exit(2);
    }
    Deno.exitCode = await main();
  }
}
