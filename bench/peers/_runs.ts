/**
 * One run of one system on one workload, for the harness: spawn the peer
 * with the protocol's arguments, read its lines with time bounds, sample
 * /proc, check the result, stop it.
 *
 * @module
 */
import type { HarnessOptions } from "./harness.ts";
import { type GcTotals, PeerProcess, type ProcSample } from "./_proc.ts";
import {
  changelogRecords,
  createTopic,
  expectedCount,
  expectedWindows,
  highWaterSum,
  type KafkaAdmin,
} from "./_preload.ts";
import type { Measure, Results } from "./_report.ts";
import type { System } from "./_systems.ts";

/** A pre-loaded input topic. */
export interface Input {
  /** Topic name. */
  readonly topic: string;
  /** Records N. */
  readonly n: number;
  /** K, distinct keys. */
  readonly keys: number;
  /** Event-time base of the records' timestamps. */
  readonly t0: number;
}

/**
 * What a throughput run measures: the row's workload name, the peer's
 * `--workload`, its input and the expected result.
 */
export interface Job {
  /** Row name (`forward`, `count`, `window`, `count-1m`). */
  readonly name: string;
  /** The peer program's workload. */
  readonly workload: "forward" | "count" | "window";
  /** Its input. */
  readonly input: Input;
  /** Events before `warm`. */
  readonly warmup: number;
}

/**
 * Check a `done` result against the exact expected one.
 *
 * @param job The job.
 * @param result The peer's result.
 * @returns An error message, or undefined when it matches.
 */
export function checkResult(
  job: Job,
  result: Record<string, number> | undefined,
): string | undefined {
  if (result === undefined) return "done line without result";
  const { n, keys, t0 } = job.input;
  if (job.workload === "forward") {
    return result.produced === n
      ? undefined
      : `produced ${result.produced}, expected ${n}`;
  }
  const want: Record<string, number> = job.workload === "count"
    ? expectedCount(n, keys)
    : { ...windowsOf(n, t0, keys) };
  for (const k of Object.keys(want)) {
    if (result[k] !== want[k]) {
      return `result ${JSON.stringify(result)}, expected ${
        JSON.stringify(want)
      }`;
    }
  }
  return undefined;
}

const windowCache = new Map<string, ReturnType<typeof expectedWindows>>();
function windowsOf(n: number, t0: number, keys: number) {
  const k = `${n}/${t0}/${keys}`;
  let w = windowCache.get(k);
  if (w === undefined) windowCache.set(k, w = expectedWindows(n, t0, keys));
  return w;
}

/**
 * GC share and allocation per event between two {@linkcode GcTotals}
 * (empty when the process printed no GC lines).
 *
 * @param g0 Totals at `warm`.
 * @param g1 Totals at `done`.
 * @param seconds Wall seconds between them.
 * @param events Events between them.
 * @returns `gcPct` (pause time / wall time) and `allocKbPerEvent`.
 */
export function gcMeasure(
  g0: GcTotals,
  g1: GcTotals,
  seconds: number,
  events: number,
): Pick<Measure, "gcPct" | "allocKbPerEvent"> {
  if (g1.count === 0) return {};
  return {
    gcPct: (g1.pauseMs - g0.pauseMs) / 10 / seconds,
    allocKbPerEvent: (g1.allocatedBytes - g0.allocatedBytes) / 1024 / events,
  };
}

/** Peer processes running now (stopped on SIGINT). */
export const live: Set<PeerProcess> = new Set();

/**
 * Progress line on stderr.
 *
 * @param msg The message.
 */
export function note(msg: string): void {
  console.error(`[peers] ${msg}`);
}

const READY_TIMEOUT_MS = 180_000;

/** What every run needs. */
export interface RunContext {
  /** Options. */
  readonly opts: HarnessOptions;
  /** Admin client. */
  readonly ka: KafkaAdmin;
  /** Input topic. */
  readonly input: string;
  /** Unique suffix of names in this run set. */
  readonly stamp: string;
  /** Where logs and state dirs go. */
  readonly logDir: string;
  /** Where measures go. */
  readonly results: Results;
}

function protocolArgs(
  ctx: RunContext,
  workload: string,
  appId: string,
  output: string,
  stateDir: string,
  expect: number,
  warmup: number,
  input: string = ctx.input,
): string[] {
  return [
    "--workload",
    workload,
    "--bootstrap",
    `127.0.0.1:${ctx.opts.port}`,
    "--input",
    input,
    "--output",
    output,
    "--app-id",
    appId,
    "--expect",
    String(expect),
    "--warmup",
    String(warmup),
    "--state-dir",
    stateDir,
  ];
}

function spawn(
  sys: System,
  env: Record<string, string>,
  args: string[],
  logPath: string,
): PeerProcess {
  const c = sys.command();
  const p = new PeerProcess(
    c.cmd,
    [...c.args, ...args, ...(sys.extraArgs ?? [])],
    logPath,
    env,
  );
  live.add(p);
  return p;
}

async function finish(p: PeerProcess): Promise<void> {
  const { code, killed } = await p.stop();
  live.delete(p);
  if (code !== 0 || killed) {
    note(
      `warning: ${p.label.split(" ")[0]} pid ${p.pid} exited ${code}${
        killed ? " after SIGKILL (no exit within 30 s of SIGTERM)" : ""
      }; log ${p.logPath}`,
    );
  }
}

/** Check a `done` result (and the output topic of forward); returns an error message or undefined. */
async function check(
  ctx: RunContext,
  job: Job,
  output: string,
  result: Record<string, number> | undefined,
): Promise<string | undefined> {
  if (job.workload === "forward") {
    const n = job.input.n;
    const hw = await highWaterSum(ctx.ka.admin, output);
    if (hw !== n) return `output topic holds ${hw} records, expected ${n}`;
  }
  return checkResult(job, result);
}

/**
 * One throughput run (forward or count): spawn, ready, warm, done, check,
 * SIGTERM. Records its measure in `ctx.results`.
 *
 * @returns The app id and state dir (kept for recovery runs), and whether it passed.
 */
export async function throughputRun(
  ctx: RunContext,
  sys: System,
  env: Record<string, string>,
  job: Job,
  run: number,
): Promise<{ appId: string; stateDir: string; ok: boolean }> {
  const { opts, stamp } = ctx;
  const workload = job.workload;
  const appId = `bench-${sys.name}-${job.name}-${stamp}-r${run}`;
  const stateDir = await Deno.makeTempDir({
    dir: ctx.logDir,
    prefix: `${appId}-state-`,
  });
  const output = workload === "forward"
    ? `bench-out-${sys.name}-${stamp}-r${run}`
    : `bench-out-unused-${stamp}`;
  const logPath = `${ctx.logDir}/${appId}.log`;
  let m: Measure;
  let p: PeerProcess | undefined;
  try {
    if (workload === "forward") await createTopic(ctx.ka.admin, output);
    const args = protocolArgs(
      ctx,
      workload,
      appId,
      output,
      stateDir,
      job.input.n,
      job.warmup,
      job.input.topic,
    );
    const timeoutMs = opts.timeoutS * 1000 *
      Math.max(1, job.input.n / opts.events);
    p = spawn(sys, env, args, logPath);
    await p.expect("ready", READY_TIMEOUT_MS);
    await p.expect("warm", timeoutMs);
    const s0: ProcSample = p.sample();
    const g0 = p.gcTotals();
    const done = await p.expect("done", timeoutMs);
    const s1: ProcSample = p.sample();
    const g1 = p.gcTotals();
    const measured = job.input.n - job.warmup;
    const error = done.processed !== job.input.n
      ? `done says processed ${done.processed}, expected ${job.input.n}`
      : await check(ctx, job, output, done.result);
    const seconds = done.seconds ?? NaN;
    m = {
      ok: error === undefined && seconds > 0,
      ...(error !== undefined ? { error } : {}),
      rate: measured / seconds,
      cpuPerM: (s1.cpuSeconds - s0.cpuSeconds) / measured * 1e6,
      rssMb: s1.hwmMb,
      ...gcMeasure(g0, g1, seconds, measured),
    };
    if (error === undefined && !(seconds > 0)) {
      m = { ...m, error: `bad seconds ${done.seconds}` };
    }
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await finish(p);
  }
  ctx.results.add(sys.name, job.name, m);
  note(
    `${sys.name} ${job.name} run ${run}: ${
      m.ok
        ? `${Math.round(m.rate!)} events/s, ${
          m.cpuPerM!.toFixed(2)
        } CPU-s/1M, ${m.rssMb!.toFixed(0)} MB`
        : `FAILED: ${m.error}`
    }`,
  );
  return { appId, stateDir, ok: m.ok };
}

/**
 * Restart a finished count app (same app id; state dir kept for "warm",
 * emptied for "empty") and time spawn -> ready. Records its measure.
 */
export async function recoverRun(
  ctx: RunContext,
  sys: System,
  env: Record<string, string>,
  appId: string,
  stateDir: string,
  kind: "warm" | "empty",
  run: number,
): Promise<void> {
  const logPath = `${ctx.logDir}/${appId}-recover-${kind}.log`;
  let m: Measure;
  let p: PeerProcess | undefined;
  try {
    if (kind === "empty") {
      await Deno.remove(stateDir, { recursive: true });
      await Deno.mkdir(stateDir);
    }
    const args = protocolArgs(
      ctx,
      "count",
      appId,
      `bench-out-unused-${ctx.stamp}`,
      stateDir,
      0,
      0,
    );
    p = spawn(sys, env, args, logPath);
    const ready = await p.expect("ready", READY_TIMEOUT_MS);
    const seconds = (performance.now() - p.spawnedAt) / 1000;
    const s = p.sample();
    const records = ready.recovered ??
      (kind === "empty"
        ? await changelogRecords(ctx.ka.admin, appId)
        : undefined);
    m = {
      ok: true,
      seconds,
      cpuSeconds: s.cpuSeconds,
      rssMb: s.hwmMb,
      ...(records !== undefined ? { records, rate: records / seconds } : {}),
    };
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await finish(p);
  }
  ctx.results.add(sys.name, `recover-${kind}`, m);
  note(
    `${sys.name} recover-${kind} run ${run}: ${
      m.ok
        ? `ready in ${m.seconds!.toFixed(2)} s, ${m.records ?? "?"} records`
        : `FAILED: ${m.error}`
    }`,
  );
}

/**
 * End-to-end latency at a fixed rate: the system forwards a fresh input
 * topic to a fresh output topic while bench/peers/latency.ts sends M
 * records at `rate` events/s and reads them back. Records p50/p99.
 *
 * @param rate Send rate, events/s (half of the system's forward rate).
 * @param count M, records to send.
 */
export async function latencyRun(
  ctx: RunContext,
  sys: System,
  env: Record<string, string>,
  run: number,
  rate: number,
  count: number,
): Promise<void> {
  const { stamp } = ctx;
  const appId = `bench-${sys.name}-latency-${stamp}-r${run}`;
  const input = `bench-lat-in-${sys.name}-${stamp}-r${run}`;
  const output = `bench-lat-out-${sys.name}-${stamp}-r${run}`;
  const stateDir = await Deno.makeTempDir({
    dir: ctx.logDir,
    prefix: `${appId}-state-`,
  });
  const logPath = `${ctx.logDir}/${appId}.log`;
  const warmup = Math.floor(count / 10);
  let m: Measure;
  let p: PeerProcess | undefined;
  let d: PeerProcess | undefined;
  try {
    await createTopic(ctx.ka.admin, input);
    await createTopic(ctx.ka.admin, output);
    p = spawn(
      sys,
      env,
      protocolArgs(ctx, "forward", appId, output, stateDir, count, 0, input),
      logPath,
    );
    await p.expect("ready", READY_TIMEOUT_MS);
    const s0 = p.sample();
    const g0 = p.gcTotals();
    // Keep reading the system's stdout while the driver runs (a full pipe
    // would block its writes); its own done comes after the M-th record.
    const systemDone = p.expect("done", ctx.opts.timeoutS * 1000);
    systemDone.catch(() => {});
    d = new PeerProcess(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      new URL("./latency.ts", import.meta.url).pathname,
      "--broker",
      `kafka://127.0.0.1:${ctx.opts.port}`,
      "--input",
      input,
      "--output",
      output,
      "--count",
      String(count),
      "--warmup",
      String(warmup),
      "--rate",
      String(rate),
      "--state-dir",
      stateDir,
    ], `${ctx.logDir}/${appId}-driver.log`);
    live.add(d);
    await d.expect("ready", READY_TIMEOUT_MS);
    const done = await d.expect("done", ctx.opts.timeoutS * 1000);
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
    if (d !== undefined) await finish(d);
    if (p !== undefined) await finish(p);
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  ctx.results.add(sys.name, "latency", m);
  note(
    `${sys.name} latency run ${run}: ${
      m.ok
        ? `p50 ${m.p50Ms!.toFixed(2)} ms, p99 ${m.p99Ms!.toFixed(2)} ms at ${
          Math.round(m.rate!)
        } events/s`
        : `FAILED: ${m.error}`
    }`,
  );
}

/**
 * `agent.ask()` round trips at low load (one at a time), ours only.
 *
 * @param asks N round trips (W = N / 10 of them warm up).
 */
export async function askRun(
  ctx: RunContext,
  sys: System,
  env: Record<string, string>,
  run: number,
  asks: number,
): Promise<void> {
  const { stamp } = ctx;
  const appId = `bench-${sys.name}-ask-${stamp}-r${run}`;
  const stateDir = await Deno.makeTempDir({
    dir: ctx.logDir,
    prefix: `${appId}-state-`,
  });
  const logPath = `${ctx.logDir}/${appId}.log`;
  const warmup = Math.floor(asks / 10);
  let m: Measure;
  let p: PeerProcess | undefined;
  try {
    p = spawn(
      sys,
      env,
      protocolArgs(
        ctx,
        "ask",
        appId,
        `bench-out-unused-${stamp}`,
        stateDir,
        asks,
        warmup,
      ),
      logPath,
    );
    await p.expect("ready", READY_TIMEOUT_MS);
    await p.expect("warm", ctx.opts.timeoutS * 1000);
    const s0 = p.sample();
    const done = await p.expect("done", ctx.opts.timeoutS * 1000);
    const s1 = p.sample();
    m = askMeasure(done.result, asks - warmup, done.seconds, s0, s1);
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await finish(p);
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  ctx.results.add(sys.name, "ask", m);
  note(
    `${sys.name} ask run ${run}: ${
      m.ok
        ? `p50 ${m.p50Ms!.toFixed(2)} ms, p99 ${m.p99Ms!.toFixed(2)} ms`
        : `FAILED: ${m.error}`
    }`,
  );
}

/**
 * The measure of an `ask` run from its `done` result: every reply must be
 * the expected one.
 *
 * @param result `done.result` of ours.ts `ask`.
 * @param timed Round trips in the percentiles.
 * @param seconds `done.seconds`.
 * @param s0 /proc at warm.
 * @param s1 /proc at done.
 * @returns The measure.
 */
export function askMeasure(
  result: Record<string, number> | undefined,
  timed: number,
  seconds: number | undefined,
  s0: ProcSample,
  s1: ProcSample,
): Measure {
  const r = result ?? {};
  const error = r.asks !== timed || r.wrong !== 0
    ? `asks ${r.asks} (expected ${timed}), wrong replies ${r.wrong}`
    : undefined;
  return {
    ok: error === undefined,
    ...(error !== undefined ? { error } : {}),
    rate: timed / (seconds ?? NaN),
    cpuPerM: (s1.cpuSeconds - s0.cpuSeconds) / timed * 1e6,
    rssMb: s1.hwmMb,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    info: `${timed} sequential asks, max ${r.maxMs?.toFixed(1)} ms`,
  };
}
