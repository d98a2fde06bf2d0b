/**
 * Mutation check: applies each deliberate bug of `scripts/mutations.ts`, one
 * at a time, to a scratch copy of the working tree, runs the tests and
 * reports which bugs the suite catches (a test fails) and which it misses.
 *
 * Run on demand, not in CI (one test run per mutation):
 *
 *   deno task mutate                  # every mutation, its own test files
 *   deno task mutate --full           # every mutation, the whole non-Kafka suite
 *   deno task mutate seed dlq-offset  # only the mutations named
 *   deno task mutate --list           # names and descriptions
 *   deno task mutate --kafka          # also those only tests/kafka/ catch
 *                                     # (a broker at FAUST_TEST_KAFKA)
 *
 * Exit code 0 when every mutation was caught, 1 when one was missed or no
 * longer applies (its search text is gone) or does not type-check, 2 when
 * the unmutated suite fails.
 */
import { type Mutation, MUTATIONS } from "./mutations.ts";

const FULL = ["test", "-A", "--parallel", "--ignore=tests/kafka", "tests/"];
const RUN_LIMIT_MS = 10 * 60_000;

interface Outcome {
  mutation: Mutation;
  result: "caught" | "MISSED" | "STALE" | "TIMEOUT" | "BROKEN";
  seconds: number;
  failed: string[];
}

function usage(): never {
  console.log(
    "usage: deno task mutate [--full] [--list] [--keep] [name ...]",
  );
  Deno.exit(2);
}

/** Copy the working tree (tracked and untracked, not ignored) and node_modules to `dir`. */
async function scratchCopy(root: string, dir: string): Promise<void> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root,
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`git ls-files failed in ${root}`);
  const files = new TextDecoder().decode(out.stdout).split("\0").filter((f) =>
    f !== ""
  );
  for (const f of files) {
    const from = `${root}/${f}`;
    try {
      if (!(await Deno.lstat(from)).isFile) continue;
    } catch {
      continue; // deleted in the working tree
    }
    const to = `${dir}/${f}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(from, to);
  }
  // A copy, not a symlink: tests that run with least-privilege flags may
  // read only inside the project directory.
  const cp = await new Deno.Command("cp", {
    args: ["-a", `${root}/node_modules`, `${dir}/node_modules`],
  }).output();
  if (!cp.success) throw new Error(`Cannot copy ${root}/node_modules`);
}

/** The test run in progress, killed with this script. */
let running: Deno.ChildProcess | undefined;

/** Run `deno <args>` in `dir`; the names of failed tests, or null on timeout. */
async function runTests(
  dir: string,
  args: string[],
): Promise<{ ok: boolean; typeError: boolean; failed: string[] } | null> {
  const child = new Deno.Command("deno", {
    args,
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running = child;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already ended */ }
  }, RUN_LIMIT_MS);
  const out = await child.output();
  running = undefined;
  clearTimeout(timer);
  if (out.signal === "SIGKILL") return null;
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  // "name => ./tests/x_test.ts:12:6" lines under "ERRORS"/"FAILURES".
  const failed = [
    ...new Set(
      text.split("\n").filter((l) => / => \.\/tests\/.*:\d+:\d+$/.test(l)),
    ),
  ];
  // A mutation that does not type-check is caught by `deno check`, not by
  // a test: report it as broken (rewrite it to compile).
  const typeError = /error: TS\d+/.test(text);
  return { ok: out.success, typeError, failed };
}

async function main(): Promise<number> {
  const args = [...Deno.args];
  const full = args.includes("--full");
  const kafka = args.includes("--kafka");
  const keep = args.includes("--keep");
  if (args.includes("--help") || args.includes("-h")) usage();
  const names = args.filter((a) => !a.startsWith("--"));
  for (const n of names) {
    if (!MUTATIONS.some((m) => m.name === n)) {
      console.error(`Unknown mutation "${n}"; see deno task mutate --list`);
      return 2;
    }
  }
  const named = names.length === 0
    ? MUTATIONS
    : MUTATIONS.filter((m) => names.includes(m.name));
  const chosen = named.filter((m) => kafka || m.kafka !== true);
  for (const m of named.filter((m) => !chosen.includes(m))) {
    console.log(`skipped ${m.name}: only tests/kafka/ catches it (--kafka)`);
  }
  if (args.includes("--list")) {
    for (const m of chosen) {
      console.log(`${m.name.padEnd(24)} ${m.description}`);
    }
    return 0;
  }

  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const dir = await Deno.makeTempDir({ prefix: "faust-mutate-" });
  // Interrupted: stop the test run and remove the scratch copy.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      try {
        running?.kill("SIGKILL");
      } catch { /* already ended */ }
      if (!keep) Deno.removeSync(dir, { recursive: true });
      Deno.exit(130);
    });
  }
  console.log(`scratch copy: ${dir}`);
  await scratchCopy(root, dir);
  try {
    // An unmutated run first: a suite that already fails would "catch" all.
    const testArgs = (m: Mutation) =>
      full && m.kafka !== true
        ? FULL
        : ["test", "-A", "--parallel", ...m.tests];
    // The distinct runs the mutations will use, unmutated.
    const baselines = [
      ...new Map(chosen.map((m) => [testArgs(m).join(" "), testArgs(m)]))
        .values(),
    ];
    if (!full) {
      baselines.splice(0, baselines.length, [
        "test",
        "-A",
        "--parallel",
        ...new Set(chosen.flatMap((m) => m.tests)),
      ]);
    }
    for (const baseArgs of baselines) {
      console.log(`baseline: deno ${baseArgs.join(" ")}`);
      const base = await runTests(dir, baseArgs);
      if (base === null || !base.ok) {
        console.error("The unmutated tests fail; fix them first:");
        for (const f of base?.failed ?? ["(timed out)"]) {
          console.error(`  ${f}`);
        }
        return 2;
      }
    }
    const outcomes: Outcome[] = [];
    for (const m of chosen) {
      const path = `${dir}/${m.file}`;
      const original = await Deno.readTextFile(path);
      const at = original.indexOf(m.search);
      const t0 = performance.now();
      if (at < 0 || original.indexOf(m.search, at + 1) >= 0) {
        outcomes.push({ mutation: m, result: "STALE", seconds: 0, failed: [] });
        console.log(
          `STALE   ${m.name}: search text not found once in ${m.file}`,
        );
        continue;
      }
      await Deno.writeTextFile(
        path,
        original.slice(0, at) + m.replace +
          original.slice(at + m.search.length),
      );
      try {
        const run = await runTests(
          dir,
          testArgs(m),
        );
        const seconds = Math.round((performance.now() - t0) / 1000);
        const result = run === null
          ? "TIMEOUT"
          : run.typeError
          ? "BROKEN"
          : run.ok
          ? "MISSED"
          : "caught";
        outcomes.push({
          mutation: m,
          result,
          seconds,
          failed: run?.failed ?? [],
        });
        console.log(`${result.padEnd(7)} ${m.name} (${seconds} s)`);
        for (const f of run?.failed ?? []) console.log(`          ${f}`);
      } finally {
        await Deno.writeTextFile(path, original);
      }
    }
    console.log("\nmutation                 result   description");
    for (const o of outcomes) {
      console.log(
        `${o.mutation.name.padEnd(24)} ${
          o.result.padEnd(8)
        } ${o.mutation.description}`,
      );
    }
    const caught = outcomes.filter((o) => o.result === "caught").length;
    console.log(`\n${caught} of ${outcomes.length} mutations caught`);
    return caught === outcomes.length ? 0 : 1;
  } finally {
    if (!keep) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
