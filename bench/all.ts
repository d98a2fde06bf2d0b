/**
 * The full comparison in one command: bench/local.ts (local:// against the
 * physical limit) and then bench/peers.ts (kafka:// against bare kafkajs,
 * faust-streaming and Kafka Streams with and without its record cache),
 * every workload, optionally with an old checkout measured beside this one
 * (`ours-old`, alternating with ours), both tables written to one markdown
 * file. Not a test.
 *
 *   deno task bench:all [--old-tree PATH | --old-ref REF] [--quick]
 *     [--out FILE] [--port P] [ARGS...]
 *
 * - `--old-tree PATH`: a checkout (with `deno install` done) run as
 *   `ours-old`; `--old-ref REF` makes one with `git worktree add` of REF in
 *   a temp dir (and `deno install` there), removed at the end.
 * - `--quick`: reduced sizes (N = 50,000, 1 run, count-1m with 200,000
 *   keys, 5 s of latency load, 300 asks), for a check that everything runs.
 * - Other arguments go to both harnesses when both know them (`--events`,
 *   `--runs`, `--warmup`, `--big-keys`, `--big-events`, `--big-runs`,
 *   `--asks`, `--latency-seconds`, `--latency-rate`, `--no-gc-trace`,
 *   `--tree`, `--ours-table-options`, `--timeout`), to bench/peers.ts only
 *   otherwise (`--port`, `--systems`, `--slow-runs`, ...). `--local-workloads`
 *   and `--peers-workloads` pick each harness's workloads.
 *
 * Exit code: 0 when every check of both passed.
 *
 * @module
 */

const BENCH = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** Flags both harnesses take (with a value). */
const SHARED = [
  "--events",
  "--runs",
  "--warmup",
  "--big-keys",
  "--big-events",
  "--big-runs",
  "--asks",
  "--latency-seconds",
  "--latency-rate",
  "--tree",
  "--ours-table-options",
  "--timeout",
];

const QUICK = [
  "--events",
  "50000",
  "--runs",
  "1",
  "--big-keys",
  "200000",
  "--latency-seconds",
  "5",
  "--asks",
  "300",
];

async function run(cmd: string, args: string[], cwd = ROOT): Promise<number> {
  console.error(`[all] $ ${cmd} ${args.join(" ")}`);
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

async function output(
  cmd: string,
  args: string[],
  cwd = ROOT,
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Split the command line into local.ts args, peers.ts args and our own options. */
function splitArgs(argv: readonly string[]) {
  const local: string[] = [];
  const peers: string[] = [];
  let oldTree: string | undefined;
  let oldRef: string | undefined;
  let out = "bench-results.md";
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === "--quick") quick = true;
    else if (a === "--no-gc-trace") {
      local.push(a);
      peers.push(a);
    } else if (v === undefined) {
      throw new Error(`missing value after ${a}`);
    } else {
      i++;
      if (a === "--old-tree") oldTree = v;
      else if (a === "--old-ref") oldRef = v;
      else if (a === "--out") out = v;
      else if (a === "--local-workloads") local.push("--workloads", v);
      else if (a === "--peers-workloads") peers.push("--workloads", v);
      else if (SHARED.includes(a)) {
        local.push(a, v);
        peers.push(a, v);
      } else peers.push(a, v);
    }
  }
  if (quick) {
    // After the user's flags: both harnesses take the first occurrence.
    local.push(...QUICK);
    peers.push(...QUICK);
  }
  return { local, peers, oldTree, oldRef, out };
}

async function main(): Promise<number> {
  if (Deno.args.includes("--help")) {
    console.log(
      "deno task bench:all [--old-tree PATH | --old-ref REF] [--quick] [--out FILE] [--port P] [ARGS...]",
    );
    return 0;
  }
  const { local, peers, oldTree: given, oldRef, out } = splitArgs(Deno.args);
  let oldTree = given;
  let made: string | undefined;
  if (oldRef !== undefined) {
    made = await Deno.makeTempDir({ prefix: "faust-bench-old-" });
    await Deno.remove(made);
    if (await run("git", ["worktree", "add", "--detach", made, oldRef]) !== 0) {
      throw new Error(`git worktree add ${made} ${oldRef} failed`);
    }
    if (await run(Deno.execPath(), ["install"], made) !== 0) {
      throw new Error(`deno install in ${made} failed`);
    }
    oldTree = made;
  }
  const old = oldTree === undefined ? [] : ["--old-tree", oldTree];
  const dir = await Deno.makeTempDir({ prefix: "faust-bench-all-" });
  const started = new Date();
  const t0 = performance.now();
  try {
    const loadBefore = await output("uptime", []);
    const head = await output("git", ["rev-parse", "--short", "HEAD"]);
    const oldHead = oldTree === undefined
      ? undefined
      : await output("git", ["rev-parse", "--short", "HEAD"], oldTree);
    const localCode = await run(Deno.execPath(), [
      "run",
      "-A",
      `${BENCH}local.ts`,
      ...local,
      ...old,
      "--out",
      `${dir}/local.md`,
    ]);
    const localS = (performance.now() - t0) / 1000;
    const peersCode = await run(Deno.execPath(), [
      "run",
      "-A",
      `${BENCH}peers.ts`,
      ...peers,
      ...old,
      "--out",
      `${dir}/peers.md`,
    ]);
    const totalS = (performance.now() - t0) / 1000;
    const loadAfter = await output("uptime", []);
    const read = (f: string) =>
      Deno.readTextFile(`${dir}/${f}`).catch(() =>
        "(no table: the run failed before it)\n"
      );
    const md = [
      `# Benchmark run ${started.toISOString()}`,
      "",
      `- Tree: ${head}${
        oldHead === undefined ? "" : `; ours-old: ${oldTree} at ${oldHead}`
      }`,
      `- Load before: \`${loadBefore}\``,
      `- Load after: \`${loadAfter}\``,
      `- Took ${Math.round(localS)} s (local) + ${
        Math.round(totalS - localS)
      } s (peers)`,
      `- Commands: \`deno run -A bench/local.ts ${
        [...local, ...old].join(" ")
      }\` and \`deno run -A bench/peers.ts ${[...peers, ...old].join(" ")}\``,
      "",
      "## local://",
      "",
      await read("local.md"),
      "## kafka://",
      "",
      await read("peers.md"),
    ].join("\n");
    await Deno.writeTextFile(out, md);
    console.error(`[all] wrote ${out} (${Math.round(totalS)} s in all)`);
    return localCode === 0 && peersCode === 0 ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (made !== undefined) {
      await run("git", ["worktree", "remove", "--force", made]).catch(() => 1);
    }
  }
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (e) {
    console.error(`[all] ${(e as Error).message}`);
    Deno.exitCode = 2;
  }
}
