/**
 * The systems the harness runs: how to prepare each one (setup/build) and
 * the command that starts its worker process (which must BE the worker, so
 * /proc/<pid> measures it).
 *
 * @module
 */
import { resolve } from "node:path";
import { denoCommand } from "./_proc.ts";

/** A system under benchmark. */
export interface System {
  /** Short name (`ours`, `raw`, `faust`, `kstreams`). */
  readonly name: string;
  /** What it is, for the report. */
  readonly label: string;
  /**
   * Prepare it (install, build). Resolves with extra environment for runs.
   * @throws {Error} Naming the log file on failure.
   */
  prepare(logDir: string): Promise<Record<string, string>>;
  /** Executable and arguments before the protocol arguments. */
  command(): { cmd: string; args: string[] };
  /** Arguments after the protocol arguments (a variant's settings). */
  readonly extraArgs?: readonly string[];
  /** Workloads it runs (omitted: forward, count, recover). */
  readonly workloads?: readonly string[];
}

const PEERS = new URL(".", import.meta.url).pathname;

/** Every known system, in report order. */
export const ALL_SYSTEMS = [
  "ours",
  "ours-nocache",
  "raw",
  "faust",
  "kstreams",
  "kstreams-nocache",
] as const;

/** The workloads a cache setting changes (the stateful ones). */
const STATEFUL = ["count", "recover", "window", "count-1m"];

/** Kafka Streams' default `statestore.cache.max.bytes` (10 MiB). */
const KSTREAMS_DEFAULT_CACHE = 10 * 1024 * 1024;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `bash script` with stdout captured and stderr to `logPath`; return the
 * last stdout line.
 */
async function runScript(
  script: string,
  logPath: string,
  timeoutMs: number,
): Promise<string> {
  if (!await exists(script)) {
    throw new Error(`${script} is missing (log ${logPath})`);
  }
  const log = await Deno.open(logPath, {
    create: true,
    write: true,
    truncate: true,
  });
  const child = new Deno.Command("bash", {
    args: [script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, timeoutMs);
  const errCopy = (async () => {
    for await (const chunk of child.stderr) await log.write(chunk);
  })();
  let out = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    out += dec.decode(chunk, { stream: true });
    await log.write(chunk);
  }
  await errCopy;
  const status = await child.status;
  clearTimeout(timer);
  log.close();
  if (!status.success) {
    throw new Error(
      `${script} failed (exit ${status.code}${
        status.signal ? `, ${status.signal}` : ""
      }); see ${logPath}`,
    );
  }
  const last = out.trim().split("\n").at(-1)?.trim() ?? "";
  if (last === "") {
    throw new Error(`${script} printed nothing on stdout; see ${logPath}`);
  }
  return last;
}

function deno(
  script: string,
  flags: string[] = [],
): { cmd: string; args: string[] } {
  return denoCommand(["run", "-A", "--quiet", ...flags, `${PEERS}${script}`]);
}

/**
 * `deno run` flags and environment that make bench/peers/ours.ts run the
 * library of another checkout: its deno.json (import map, node_modules)
 * and its mod.ts.
 *
 * @param tree Path of the checkout, or undefined for this one.
 * @returns Flags and environment.
 */
export function treeOptions(
  tree: string | undefined,
): { flags: string[]; env: Record<string, string> } {
  if (tree === undefined) return { flags: [], env: {} };
  // Absolute: the path is used from ours' script (FAUST_BENCH_MOD is
  // imported relative to it) and from child processes, not from the caller's
  // directory (`--tree .` failed).
  const root = resolve(tree).replace(/\/+$/, "");
  return {
    flags: ["--config", `${root}/deno.json`],
    env: { FAUST_BENCH_MOD: `${root}/mod.ts` },
  };
}

/**
 * Ours' arguments with `changelogCache: false` added to its
 * `--table-options` (made when absent).
 */
function nocacheArgs(oursArgs: readonly string[]): string[] {
  const args = [...oursArgs];
  const at = args.indexOf("--table-options");
  const given = at >= 0 ? JSON.parse(args[at + 1] ?? "{}") : {};
  const json = JSON.stringify({ ...given, changelogCache: false });
  if (at >= 0) args[at + 1] = json;
  else args.push("--table-options", json);
  return args;
}

/**
 * The system called `name`.
 *
 * @param name One of {@linkcode ALL_SYSTEMS}.
 * @param extraDenoFlags Flags for `deno run` of ours (e.g. `--cpu-prof`).
 * @returns The system.
 */
export function system(
  name: string,
  extraDenoFlags: string[] = [],
  tree?: string,
  oursArgs: readonly string[] = [],
): System {
  switch (name) {
    case "ours": {
      const t = treeOptions(tree);
      return {
        name,
        label: "Faust for Deno (App, agent, lmdb:// table)",
        prepare: () => Promise.resolve(t.env),
        command: () => deno("ours.ts", [...t.flags, ...extraDenoFlags]),
        extraArgs: oursArgs,
        workloads: [
          "forward",
          "count",
          "recover",
          "window",
          "count-1m",
          "latency",
          "ask",
        ],
      };
    }
    case "ours-nocache": {
      // Ours with the tables' changelog record cache off (one changelog
      // record per update), beside Kafka Streams with its cache off.
      const base = system("ours", extraDenoFlags, tree, oursArgs);
      return {
        ...base,
        name,
        label: `${base.label}, table record cache off`,
        extraArgs: nocacheArgs(oursArgs),
        workloads: STATEFUL,
      };
    }
    case "raw":
      return {
        name,
        label: "bare kafkajs eachBatch (count: Map, no changelog)",
        prepare: () => Promise.resolve({}),
        command: () => deno("raw.ts"),
        workloads: [
          "forward",
          "count",
          "recover",
          "window",
          "count-1m",
          "latency",
        ],
      };
    case "faust": {
      const dir = `${PEERS}faust/`;
      return {
        name,
        label: "faust-streaming (Python)",
        prepare: async (logDir) => {
          // The last stdout line is the venv's python; run.sh finds it itself.
          await runScript(
            `${dir}setup.sh`,
            `${logDir}/faust-setup.log`,
            30 * 60_000,
          );
          return {};
        },
        command: () => ({ cmd: "bash", args: [`${dir}run.sh`] }),
        workloads: ["forward", "count", "recover", "window", "latency"],
      };
    }
    case "kstreams":
    case "kstreams-nocache": {
      const dir = `${PEERS}kstreams/`;
      return {
        name,
        label: name === "kstreams"
          ? "Kafka Streams (Java), default record cache (10 MiB)"
          : "Kafka Streams (Java), record cache off",
        prepare: async (logDir) => {
          await runScript(
            `${dir}build.sh`,
            `${logDir}/kstreams-build.log`,
            30 * 60_000,
          );
          return {};
        },
        command: () => ({ cmd: "bash", args: [`${dir}run.sh`] }),
        extraArgs: [
          "--cache-bytes",
          String(name === "kstreams" ? KSTREAMS_DEFAULT_CACHE : 0),
        ],
        // The cache only changes stateful workloads.
        workloads: name === "kstreams"
          ? ["forward", "count", "recover", "window", "count-1m", "latency"]
          : STATEFUL,
      };
    }
    default:
      throw new Error(
        `unknown system ${name}: expected one of ${ALL_SYSTEMS.join(", ")}`,
      );
  }
}
