/**
 * The side-by-side harness (bench/peers protocol): one Kafka broker, one
 * pre-loaded input topic, each system's worker process run per workload,
 * its protocol lines read with time bounds, CPU and peak RSS sampled from
 * /proc, its result checked, then one table of medians with ratios.
 *
 *   deno run -A bench/peers.ts [--events N] [--runs R]
 *     [--systems ours,ours-nocache,raw,faust,kstreams,kstreams-nocache]
 *     [--workloads forward,count,recover,window,count-1m,latency,ask]
 *     [--port 39092] [--warmup W] [--timeout S] [--out FILE]
 *     [--big-keys K] [--big-events N] [--big-runs R] [--latency-seconds S]
 *     [--latency-rate R] [--asks N] [--slow-runs R] [--no-gc-trace]
 *     [--tree PATH] [--old-tree PATH] [--ours-table-options JSON]
 *     [--ours-deno-flags "--cpu-prof --cpu-prof-dir=DIR"]
 *
 * Workloads (each run per system that has it, `--runs` times):
 * - forward, count, recover: as before (N events, 10,000 keys);
 * - window: tumbling 1-minute window sum of `n` per key over the record
 *   timestamps of the same N events (60,000 per window);
 * - count-1m: keyed count over a second topic of `--big-events` events with
 *   `--big-keys` keys (default 1,000,000 and 1,000,000), in the first
 *   `--big-runs` runs only (default 1);
 * - latency: end-to-end latency p50/p99 of forward at half of the system's
 *   own median forward rate of this invocation (`--latency-rate` fixes it),
 *   for `--latency-seconds` (bench/peers/latency.ts drives it);
 * - ask: `agent.ask()` round-trip p50/p99 at low load (ours only).
 * faust runs `--slow-runs` times (default 1; it is 10-20x slower).
 *
 * `--tree PATH` runs ours on the library of another checkout; `--old-tree
 * PATH` adds the system `ours-old` (ours on that checkout) beside `ours`,
 * alternating which of the two goes first in each run, and its ratio
 * column reads ours/ours-old (the speed-up of this tree).
 *
 * @module
 */
import { initClockTicks } from "./_proc.ts";
import { GC_TRACE_FLAG } from "./_proc.ts";
import {
  connectAdmin,
  eventTimeBase,
  type KafkaAdmin,
  KEYS,
  preload,
} from "./_preload.ts";
import { cells, markdown, plain, Results } from "./_report.ts";
import {
  askRun,
  type Input,
  latencyRun,
  live,
  note,
  recoverRun,
  type RunContext,
  throughputRun,
} from "./_runs.ts";
import { ALL_SYSTEMS, type System, system } from "./_systems.ts";

/** Every workload, in report order. */
export const ALL_WORKLOADS = [
  "forward",
  "count",
  "recover",
  "window",
  "count-1m",
  "latency",
  "ask",
] as const;

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
  /** K of the count-1m topic. */
  readonly bigKeys: number;
  /** N of the count-1m topic. */
  readonly bigEvents: number;
  /** Runs of count-1m (the first ones). */
  readonly bigRuns: number;
  /** Seconds of load per latency run. */
  readonly latencySeconds: number;
  /** Fixed latency send rate (events/s); undefined: half of each system's forward rate. */
  readonly latencyRate: number | undefined;
  /** Round trips per ask run. */
  readonly asks: number;
  /** Runs of faust (slow). */
  readonly slowRuns: number;
  /** Trace ours' GC (GC %, KB/event). */
  readonly gcTrace: boolean;
  /** Another checkout whose library ours runs. */
  readonly tree: string | undefined;
  /** A checkout run as `ours-old` beside ours. */
  readonly oldTree: string | undefined;
  /** Extra table options for ours (JSON). */
  readonly oursTableOptions: string | undefined;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Command-line synopsis. */
export const USAGE = "[--events N] [--runs R] " +
  `[--systems ${ALL_SYSTEMS.join(",")}] [--workloads ${
    ALL_WORKLOADS.join(",")
  }] ` +
  "[--port 39092] [--warmup W] [--timeout S] [--out FILE] " +
  "[--big-keys K] [--big-events N] [--big-runs R] [--latency-seconds S] [--latency-rate R] " +
  "[--asks N] [--slow-runs R] [--no-gc-trace] [--tree PATH] [--old-tree PATH] " +
  '[--ours-table-options JSON] [--ours-deno-flags "..."]';

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
    "big-keys",
    "big-events",
    "big-runs",
    "latency-seconds",
    "latency-rate",
    "asks",
    "slow-runs",
    "tree",
    "old-tree",
    "ours-table-options",
  ];
  const switches = ["no-gc-trace"];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.startsWith("--") ? a.slice(2).split("=")[0]! : undefined;
    if (name !== undefined && switches.includes(name)) continue;
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
    workloads: list("workloads", ALL_WORKLOADS),
    port: int("port", 39092, 1),
    timeoutS: int("timeout", 120 + Math.ceil(events / 500), 1),
    out: get("out"),
    oursDenoFlags: (get("ours-deno-flags") ?? "").split(" ").filter((s) =>
      s !== ""
    ),
    bigKeys: int("big-keys", 1_000_000, 1),
    bigEvents: int("big-events", int("big-keys", 1_000_000, 1), 1),
    bigRuns: int("big-runs", 1, 1),
    latencySeconds: int("latency-seconds", 10, 1),
    latencyRate: get("latency-rate") === undefined
      ? undefined
      : int("latency-rate", 1, 1),
    asks: int("asks", 1000, 10),
    slowRuns: int("slow-runs", 1, 1),
    gcTrace: !args.includes("--no-gc-trace"),
    tree: get("tree"),
    oldTree: get("old-tree"),
    oursTableOptions: get("ours-table-options"),
  };
}

/** The systems run, in report order: `ours-old` right after `ours`. */
function systemNames(opts: HarnessOptions): string[] {
  return opts.systems.flatMap((s) =>
    s === "ours" && opts.oldTree !== undefined ? ["ours", "ours-old"] : [s]
  );
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
    try {
      await kafkaSh("start", opts.port, brokerLog);
    } catch (e) {
      // On a loaded machine the broker can miss kafka.sh's ready bound
      // (KAFKA_WAIT_SECONDS): stop what started and try once more.
      note(`${(e as Error).message}; stopping it and starting once more`);
      await kafkaSh("stop", opts.port, brokerLog).catch(() => {});
      await kafkaSh("start", opts.port, brokerLog);
    }
    const systems: Array<[System, Record<string, string>]> = [];
    for (const name of systemNames(opts)) {
      const ours = name === "ours" || name === "ours-old" ||
        name === "ours-nocache";
      let sys = system(
        name === "ours-old" ? "ours" : name,
        ours
          ? [...(opts.gcTrace ? [GC_TRACE_FLAG] : []), ...opts.oursDenoFlags]
          : [],
        name === "ours-old" ? opts.oldTree : opts.tree,
        opts.oursTableOptions === undefined
          ? []
          : ["--table-options", opts.oursTableOptions],
      );
      if (name === "ours-old") {
        sys = { ...sys, name, label: `${sys.label}, on ${opts.oldTree}` };
      }
      try {
        note(`preparing ${name}`);
        systems.push([sys, await sys.prepare(logDir)]);
      } catch (e) {
        note(`ERROR: setup of ${name} failed: ${(e as Error).message}`);
        for (const w of opts.workloads) {
          if (!(sys.workloads ?? []).includes(w)) continue;
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
    const main: Input = {
      topic: `bench-in-${stamp}`,
      n: opts.events,
      keys: KEYS,
      t0: eventTimeBase(opts.events),
    };
    const loadS = await preload(ka.kafka, ka.admin, main.topic, main.n, main);
    note(
      `pre-loaded ${main.n} records into ${main.topic} in ${
        loadS.toFixed(1)
      } s`,
    );
    let big: Input | undefined;
    if (opts.workloads.includes("count-1m")) {
      big = {
        topic: `bench-in-big-${stamp}`,
        n: opts.bigEvents,
        keys: opts.bigKeys,
        t0: eventTimeBase(opts.bigEvents),
      };
      const s = await preload(ka.kafka, ka.admin, big.topic, big.n, big);
      note(
        `pre-loaded ${big.n} records (${big.keys} keys) into ${big.topic} in ${
          s.toFixed(1)
        } s`,
      );
    }
    const ctx: RunContext = {
      opts,
      ka,
      input: main.topic,
      stamp,
      logDir,
      results,
    };
    const has = (sys: System, w: string) =>
      opts.workloads.includes(w) && (sys.workloads ?? []).includes(w);
    const job = (name: string, input: Input) => ({
      name,
      workload: name === "count-1m"
        ? "count" as const
        : name as "forward" | "count" | "window",
      input,
      warmup: Math.floor(opts.warmup * input.n / opts.events),
    });
    for (let run = 1; run <= opts.runs; run++) {
      // ours and ours-old take turns going first.
      const order = [...systems];
      const i = order.findIndex(([s]) => s.name === "ours");
      const j = order.findIndex(([s]) => s.name === "ours-old");
      if (run % 2 === 0 && i >= 0 && j >= 0) {
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const [sys, env] of order) {
        if (sys.name === "faust" && run > opts.slowRuns) continue;
        if (has(sys, "forward")) {
          const r = await throughputRun(
            ctx,
            sys,
            env,
            job("forward", main),
            run,
          );
          await Deno.remove(r.stateDir, { recursive: true }).catch(() => {});
        }
        if (has(sys, "count") || has(sys, "recover")) {
          const r = await throughputRun(ctx, sys, env, job("count", main), run);
          if (has(sys, "recover") && r.ok) {
            await recoverRun(ctx, sys, env, r.appId, r.stateDir, "warm", run);
            await recoverRun(ctx, sys, env, r.appId, r.stateDir, "empty", run);
          }
          await Deno.remove(r.stateDir, { recursive: true }).catch(() => {});
        }
        for (
          const [name, input] of [["window", main], ["count-1m", big]] as const
        ) {
          if (!has(sys, name) || input === undefined) continue;
          if (name === "count-1m" && run > opts.bigRuns) continue;
          const r = await throughputRun(ctx, sys, env, job(name, input), run);
          await Deno.remove(r.stateDir, { recursive: true }).catch(() => {});
        }
        if (has(sys, "latency")) {
          // The median forward rate of this system so far in this invocation.
          const max = results.rows([sys.name], ["forward"])[0]?.rate;
          const rate = opts.latencyRate ??
            (max === undefined ? undefined : max / 2);
          if (rate === undefined) {
            results.add(sys.name, "latency", {
              ok: false,
              error:
                "no forward rate measured: run forward too or give --latency-rate",
            });
          } else {
            const count = Math.max(100, Math.round(rate * opts.latencySeconds));
            await latencyRun(ctx, sys, env, run, rate, count);
          }
        }
        if (has(sys, "ask")) await askRun(ctx, sys, env, run, opts.asks);
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
  const workloads: string[] = opts.workloads.flatMap((w) =>
    w === "recover" ? ["recover-warm", "recover-empty"] : [w]
  );
  if (opts.workloads.includes("recover") && !opts.workloads.includes("count")) {
    workloads.unshift("count");
  }
  const table = cells(
    results.rows([...systemNames(opts), "harness"], [...workloads, "setup"]),
  );
  const conditions =
    `N=${opts.events} events (K=10000 keys, 4 partitions), warm-up W=${opts.warmup}, ` +
    (opts.workloads.includes("count-1m")
      ? `count-1m: ${opts.bigEvents} events, ${opts.bigKeys} keys, ${
        Math.min(opts.runs, opts.bigRuns)
      } run(s); `
      : "") +
    `medians of ${opts.runs} run(s) (faust: ${
      Math.min(opts.runs, opts.slowRuns)
    }), ` +
    `Kafka 4.4.0 on 127.0.0.1:${opts.port}, ` +
    `ours: ${opts.tree ?? "this checkout"}${
      opts.oursTableOptions
        ? ` with table options ${opts.oursTableOptions}`
        : ""
    }, ` +
    `commit interval 2.8 s, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, ` +
    `${new Date().toISOString()}. events/s and CPU-s/1M from warm to done; ` +
    `ours/peer > 1 means ours is faster (latency and ask: peer p99 / ours p99); ` +
    `recover: events/s = records restored per second; GC % = GC pause time / wall time ` +
    `and KB/event = bytes allocated per event, from V8's --trace-gc-nvp (ours only).`;
  console.log(`\n${conditions}\n`);
  console.log(plain(table));
  const md = `${conditions}\n\n${markdown(table)}\n`;
  console.log(`\n${md}`);
  if (opts.out !== undefined) await Deno.writeTextFile(opts.out, md);
  note(`logs kept in ${logDir}`);
  return results.failed ? 1 : 0;
}
