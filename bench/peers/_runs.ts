/**
 * One run of one system on one workload, for the harness: spawn the peer
 * with the protocol's arguments, read its lines with time bounds, sample
 * /proc, check the result, stop it.
 *
 * @module
 */
import type { HarnessOptions } from "./harness.ts";
import { PeerProcess, type ProcSample } from "./_proc.ts";
import {
  changelogRecords,
  createTopic,
  expectedCount,
  highWaterSum,
  type KafkaAdmin,
} from "./_preload.ts";
import type { Measure, Results } from "./_report.ts";
import type { System } from "./_systems.ts";

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
): string[] {
  return [
    "--workload",
    workload,
    "--bootstrap",
    `127.0.0.1:${ctx.opts.port}`,
    "--input",
    ctx.input,
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
  const p = new PeerProcess(c.cmd, [...c.args, ...args], logPath, env);
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

/** Check a `done` result; returns an error message or undefined. */
async function check(
  ctx: RunContext,
  workload: string,
  output: string,
  result: Record<string, number> | undefined,
): Promise<string | undefined> {
  const n = ctx.opts.events;
  if (result === undefined) return "done line without result";
  if (workload === "forward") {
    const hw = await highWaterSum(ctx.ka.admin, output);
    if (hw !== n) return `output topic holds ${hw} records, expected ${n}`;
    if (result.produced !== n) {
      return `produced ${result.produced}, expected ${n}`;
    }
    return undefined;
  }
  const want = expectedCount(n);
  for (const k of ["keys", "total", "min", "max"] as const) {
    if (result[k] !== want[k]) {
      return `result ${JSON.stringify(result)}, expected ${
        JSON.stringify(want)
      }`;
    }
  }
  return undefined;
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
  workload: "forward" | "count",
  run: number,
): Promise<{ appId: string; stateDir: string; ok: boolean }> {
  const { opts, stamp } = ctx;
  const appId = `bench-${sys.name}-${workload}-${stamp}-r${run}`;
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
      opts.events,
      opts.warmup,
    );
    p = spawn(sys, env, args, logPath);
    await p.expect("ready", READY_TIMEOUT_MS);
    await p.expect("warm", opts.timeoutS * 1000);
    const s0: ProcSample = p.sample();
    const done = await p.expect("done", opts.timeoutS * 1000);
    const s1: ProcSample = p.sample();
    const measured = opts.events - opts.warmup;
    const error = done.processed !== opts.events
      ? `done says processed ${done.processed}, expected ${opts.events}`
      : await check(ctx, workload, output, done.result);
    const seconds = done.seconds ?? NaN;
    m = {
      ok: error === undefined && seconds > 0,
      ...(error !== undefined ? { error } : {}),
      rate: measured / seconds,
      cpuPerM: (s1.cpuSeconds - s0.cpuSeconds) / measured * 1e6,
      rssMb: s1.hwmMb,
    };
    if (error === undefined && !(seconds > 0)) {
      m = { ...m, error: `bad seconds ${done.seconds}` };
    }
  } catch (e) {
    m = { ok: false, error: `${(e as Error).message} (log ${logPath})` };
  } finally {
    if (p !== undefined) await finish(p);
  }
  ctx.results.add(sys.name, workload, m);
  note(
    `${sys.name} ${workload} run ${run}: ${
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
