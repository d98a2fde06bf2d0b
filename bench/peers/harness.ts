/**
 * The side-by-side harness (bench/peers protocol): one Kafka broker, one
 * pre-loaded input topic, each system's worker process run per workload,
 * its protocol lines read with time bounds, CPU and peak RSS sampled from
 * /proc, its result checked, then one table of medians with ratios.
 *
 *   deno run -A bench/peers.ts [--events N] [--runs R]
 *     [--systems ours,raw,faust,kstreams] [--workloads forward,count,recover]
 *     [--port 39092] [--warmup W] [--timeout S] [--out FILE]
 *     [--ours-deno-flags "--cpu-prof --cpu-prof-dir=DIR"]
 *
 * @module
 */
import { initClockTicks } from "./_proc.ts";
import { connectAdmin, type KafkaAdmin, preload } from "./_preload.ts";
import { cells, markdown, plain, Results } from "./_report.ts";
import {
  live,
  note,
  recoverRun,
  type RunContext,
  throughputRun,
} from "./_runs.ts";
import { ALL_SYSTEMS, type System, system } from "./_systems.ts";

export type { RunContext } from "./_runs.ts";

/** Harness options (command line). */
export interface HarnessOptions {
  /** Input records N. */
  readonly events: number;
  /** Events before `warm` W. */
  readonly warmup: number;
  /** Runs per system and workload. */
  readonly runs: number;
  /** Systems, in report order. */
  readonly systems: readonly string[];
  /** Workloads (`forward`, `count`, `recover`). */
  readonly workloads: readonly string[];
  /** Broker port. */
  readonly port: number;
  /** Bound in seconds for `warm` and for `done`. */
  readonly timeoutS: number;
  /** Markdown output file. */
  readonly out: string | undefined;
  /** Extra `deno run` flags for ours. */
  readonly oursDenoFlags: string[];
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Command-line synopsis. */
export const USAGE = "[--events N] [--runs R] " +
  "[--systems ours,raw,faust,kstreams] [--workloads forward,count,recover] " +
  '[--port 39092] [--warmup W] [--timeout S] [--out FILE] [--ours-deno-flags "..."]';

/**
 * Parse the harness command line.
 *
 * @param args `Deno.args`.
 * @returns Options.
 * @throws {Error} Naming an invalid flag value.
 */
export function parseHarnessArgs(args: readonly string[]): HarnessOptions {
  const known = [
    "events",
    "warmup",
    "runs",
    "systems",
    "workloads",
    "port",
    "timeout",
    "out",
    "ours-deno-flags",
  ];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.startsWith("--") ? a.slice(2).split("=")[0]! : undefined;
    if (name === undefined || !known.includes(name)) {
      throw new Error(
        `unknown argument "${a}"; usage: deno task bench:peers ${USAGE}`,
      );
    }
    if (!a.includes("=")) i++; // its value
  }
  const get = (name: string): string | undefined => {
    const eq = args.find((a) => a.startsWith(`--${name}=`));
    if (eq !== undefined) return eq.slice(name.length + 3);
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const int = (name: string, fallback: number, min: number): number => {
    const v = get(name);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`invalid --${name} ${v}: expected an integer >= ${min}`);
    }
    return n;
  };
  const list = (name: string, all: readonly string[]): string[] => {
    const v = get(name);
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
  };
  const events = int("events", 200_000, 1);
  return {
    events,
    warmup: int("warmup", Math.floor(events / 10), 0),
    runs: int("runs", 3, 1),
    systems: list("systems", ALL_SYSTEMS),
    workloads: list("workloads", ["forward", "count", "recover"]),
    port: int("port", 39092, 1),
    timeoutS: int("timeout", 120 + Math.ceil(events / 500), 1),
    out: get("out"),
    oursDenoFlags: (get("ours-deno-flags") ?? "").split(" ").filter((s) =>
      s !== ""
    ),
  };
}

async function kafkaSh(
  action: "start" | "stop",
  port: number,
  logPath: string,
): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [`${ROOT}scripts/kafka.sh`, action],
    env: { KAFKA_PORT: String(port) },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  await Deno.writeTextFile(logPath, text, { append: true });
  if (!out.success) {
    throw new Error(`scripts/kafka.sh ${action} failed; see ${logPath}`);
  }
}

/**
 * Run the whole benchmark and print the table.
 *
 * @param opts Options.
 * @returns The exit code: 0 when every check passed.
 */
export async function runHarness(opts: HarnessOptions): Promise<number> {
  await initClockTicks();
  const logDir = await Deno.makeTempDir({ prefix: "faust-peers-" });
  const stamp = Date.now().toString(36);
  note(`logs in ${logDir}`);
  const results = new Results();
  const brokerLog = `${logDir}/kafka-sh.log`;
  let brokerStarted = false;
  let ka: KafkaAdmin | undefined;
  const onSignal = () => {
    note("interrupted: stopping peers and the broker");
    void (async () => {
      for (const p of live) await p.stop(5_000).catch(() => {});
      await ka?.admin.disconnect().catch(() => {});
      if (brokerStarted) {
        await kafkaSh("stop", opts.port, brokerLog).catch(() => {});
      }
      Deno.exit(130);
    })();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    note(`starting Kafka on 127.0.0.1:${opts.port}`);
    brokerStarted = true;
    await kafkaSh("start", opts.port, brokerLog);
    const systems: Array<[System, Record<string, string>]> = [];
    for (const name of opts.systems) {
      const sys = system(name, name === "ours" ? opts.oursDenoFlags : []);
      try {
        note(`preparing ${name}`);
        systems.push([sys, await sys.prepare(logDir)]);
      } catch (e) {
        note(`ERROR: setup of ${name} failed: ${(e as Error).message}`);
        for (const w of opts.workloads) {
          for (
            const wl of w === "recover"
              ? ["recover-warm", "recover-empty"]
              : [w]
          ) {
            results.add(name, wl, {
              ok: false,
              error: `setup failed: ${(e as Error).message}`,
            });
          }
        }
      }
    }
    ka = await connectAdmin(`127.0.0.1:${opts.port}`);
    const input = `bench-in-${stamp}`;
    const loadS = await preload(ka.kafka, ka.admin, input, opts.events);
    note(
      `pre-loaded ${opts.events} records into ${input} in ${
        loadS.toFixed(1)
      } s`,
    );
    const ctx: RunContext = { opts, ka, input, stamp, logDir, results };
    const wantCount = opts.workloads.includes("count") ||
      opts.workloads.includes("recover");
    for (let run = 1; run <= opts.runs; run++) {
      for (const [sys, env] of systems) {
        if (opts.workloads.includes("forward")) {
          const r = await throughputRun(ctx, sys, env, "forward", run);
          await Deno.remove(r.stateDir, { recursive: true }).catch(() => {});
        }
        if (!wantCount) continue;
        const r = await throughputRun(ctx, sys, env, "count", run);
        if (opts.workloads.includes("recover") && r.ok) {
          await recoverRun(ctx, sys, env, r.appId, r.stateDir, "warm", run);
          await recoverRun(ctx, sys, env, r.appId, r.stateDir, "empty", run);
        }
        await Deno.remove(r.stateDir, { recursive: true }).catch(() => {});
      }
    }
  } catch (e) {
    note(`ERROR: ${(e as Error).message}`);
    results.add("harness", "setup", { ok: false, error: (e as Error).message });
  } finally {
    await ka?.admin.disconnect().catch(() => {});
    if (brokerStarted) {
      note("stopping Kafka");
      await kafkaSh("stop", opts.port, brokerLog).catch((e) =>
        note(`ERROR: ${(e as Error).message}`)
      );
    }
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  const workloads = opts.workloads.flatMap((w) =>
    w === "recover" ? ["recover-warm", "recover-empty"] : [w]
  );
  if (opts.workloads.includes("recover") && !opts.workloads.includes("count")) {
    workloads.unshift("count");
  }
  const table = cells(
    results.rows([...opts.systems, "harness"], [...workloads, "setup"]),
  );
  const conditions =
    `N=${opts.events} events (K=10000 keys, 4 partitions), warm-up W=${opts.warmup}, ` +
    `medians of ${opts.runs} run(s), Kafka 4.4.0 on 127.0.0.1:${opts.port}, ` +
    `commit interval 2.8 s, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, ` +
    `${new Date().toISOString()}. events/s and CPU-s/1M from warm to done; ` +
    `ours/peer > 1 means ours is faster; recover: events/s = records restored per second.`;
  console.log(`\n${conditions}\n`);
  console.log(plain(table));
  const md = `${conditions}\n\n${markdown(table)}\n`;
  console.log(`\n${md}`);
  if (opts.out !== undefined) await Deno.writeTextFile(opts.out, md);
  note(`logs kept in ${logDir}`);
  return results.failed ? 1 : 0;
}
