import assert from "node:assert/strict";
import { CONFIG, denoRun, Proc, ROOT, run } from "./_helpers.ts";

const READY = /Worker ready/;

Deno.test("worker command: send @myagent hello from another process reaches the worker; SIGTERM exits 0 with offsets committed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const worker = new Proc(
      denoRun(
        "examples/agent.ts",
        "-D",
        dir,
        "worker",
        "-l",
        "info",
        "-p",
        "0",
      ),
    );
    await worker.waitFor(READY);
    assert.match(worker.stdout, /│ id\s+│ stream-example/);
    assert.match(worker.stdout, /│ platform\s+│ Deno \d/);
    const sent = await run(
      denoRun("examples/agent.ts", "-D", dir, "send", "@myagent", "hello"),
    );
    assert.equal(sent.code, 0, sent.stderr);
    const md = JSON.parse(sent.stdout.trim());
    assert.equal(md.topic, "stream-example-myagent");
    assert.equal(md.offset, 0);
    await worker.waitFor(/MYAGENT RECEIVED -- "hello"/);
    worker.kill("SIGTERM");
    const status = await worker.exit(20_000);
    assert.equal(status.code, 0, worker.output);
    assert.match(worker.stderr, /Worker stopped/);

    // Restart: the committed offset means "hello" is not processed again.
    const again = new Proc(
      denoRun(
        "examples/agent.ts",
        "-D",
        dir,
        "worker",
        "-l",
        "info",
        "-p",
        "0",
        "-q",
      ),
    );
    await again.waitFor(READY);
    const json = await run(
      denoRun("examples/agent.ts", "-D", dir, "send", "@myagent", '{"n":1}'),
    );
    assert.equal(json.code, 0, json.stderr);
    await again.waitFor(/MYAGENT RECEIVED -- \{ n: 1 \}/);
    assert.doesNotMatch(again.stdout, /"hello"/);
    assert.doesNotMatch(again.stdout, /┌/, "-q hides the banner");
    again.kill("SIGINT");
    assert.equal((await again.exit(20_000)).code, 0, again.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker command: an agent under the crashing supervisor exits non-zero and logs the error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/crash.ts`;
    await Deno.writeTextFile(
      mod,
      `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("crashy", { broker: "memory://", store: "memory://", agentSupervisor: "crashing" });
const boom = app.agent(undefined, async function boom(stream) {
  for await (const v of stream) throw new Error("BOOM " + v);
});
app.task(async () => { await boom.send({ value: 1 }); });
`,
    );
    const p = new Proc([
      "run",
      "-A",
      "--config",
      CONFIG,
      new URL("cli.ts", ROOT).pathname,
      "-A",
      mod,
      "worker",
      "--without-web",
    ]);
    const status = await p.exit(30_000);
    assert.notEqual(status.code, 0, p.output);
    assert.match(p.stderr, /BOOM 1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The least-privilege flags documented in the README. */
export const LEAST_PRIVILEGE = [
  "--allow-read=.",
  "--allow-write=.",
  "--allow-net=127.0.0.1",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys=hostname,cpus,networkInterfaces",
];

Deno.test("worker command: runs under the documented least-privilege flags, and a read outside them is denied", async () => {
  // The flags are relative to the project directory: keep the data inside it.
  const dir = await Deno.makeTempDir({
    dir: ROOT.pathname,
    prefix: ".lp-test-",
  });
  const rel = dir.slice(ROOT.pathname.length);
  // Outside the project, so outside what the flags grant.
  const outsideDir = await Deno.makeTempDir({ prefix: "faust-denied-" });
  try {
    const args = (
      ...rest: string[]
    ) => ["run", ...LEAST_PRIVILEGE, "examples/agent.ts", "-D", rel, ...rest];
    const worker = new Proc(args("worker", "-l", "info", "-p", "0"));
    await worker.waitFor(READY);
    const sent = await run(args("send", "@myagent", "least"));
    assert.equal(sent.code, 0, sent.stderr);
    await worker.waitFor(/MYAGENT RECEIVED -- "least"/);
    worker.kill("SIGTERM");
    assert.equal((await worker.exit(20_000)).code, 0, worker.output);
    const outside = await run(args("-D", outsideDir, "reset"));
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /NotCapable|Requires (read|write) access/);
  } finally {
    await Deno.remove(outsideDir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker command: a busy web port is a clear error naming the port and -p", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const r = await run([
      "run",
      "-A",
      "--config",
      CONFIG,
      new URL("cli.ts", ROOT).pathname,
      "-A",
      "examples/command.ts",
      "worker",
      "-p",
      String(port),
    ], {
      env: { FAUST_BROKER: "memory://", FAUST_STORE: "memory://" },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `Web port ${port} on 127\\.0\\.0\\.1 is already in use.*-p/--web-port`,
      ),
    );
  } finally {
    listener.close();
  }
});

Deno.test("worker command: word count example shows counts and serves its page and /metrics", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = new Proc(
      denoRun(
        "examples/word_count.ts",
        "-D",
        dir,
        "worker",
        "-l",
        "info",
        "-p",
        "0",
      ),
    );
    await w.waitFor(READY);
    const [, url] = await w.waitFor(/│ web\s+│ (http:\/\/[^\s│]+)/);
    await w.waitFor(/WORD COUNTS: the=\d+/);
    const page = await fetch(`${url}/count/the/`);
    assert.equal(page.status, 200);
    const body = await page.json();
    assert.ok(body.the >= 1, JSON.stringify(body));
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(
      text,
      /^faust_table_keys\{app="word-counts",table="word_counts"\} [1-9]/m,
    );
    assert.match(
      text,
      /^faust_events_processed_total\{app="word-counts"\} [1-9]/m,
    );
    const dash = await fetch(`${url}/`);
    assert.equal(dash.status, 200);
    assert.match(await dash.text(), /word_counts/);
    w.kill("SIGTERM");
    assert.equal((await w.exit(20_000)).code, 0, w.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker command: examples/signals.ts prints every line it promises, the broker taken from the environment in onConfigured", async () => {
  const w = new Proc(
    denoRun("examples/signals.ts", "worker", "-l", "info", "-p", "0"),
    { env: { BROKER_URL: "memory://" } },
  );
  await w.waitFor(READY);
  await w.waitFor(/Partitions are being assigned: signals-example-events\[0\]/);
  w.kill("SIGTERM");
  assert.equal((await w.exit(20_000)).code, 0, w.output);
  const expected = [
    "App signals-example is being configured",
    "App signals-example configured with broker memory://",
    "App signals-example has been configured.",
    "Worker starting for app signals-example",
    "Partitions are being assigned: signals-example-events[0], signals-example-events[1]",
    "App signals-example is shutting down",
  ];
  const lines = w.stdout.trim().split("\n");
  assert.deepEqual(lines.filter((l) => !/^[┌│└├]/.test(l)), expected);
  // The worker runs with the broker the handler set.
  assert.match(w.stdout, /│ transport\s+│ memory:\/\//);
});

Deno.test("worker command: -l debug logs lifecycle, assignments, commits and recovery steps; -l info does not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const worker = (level: string) =>
      new Proc(
        denoRun(
          "examples/word_count.ts",
          "-D",
          dir,
          "worker",
          "-l",
          level,
          "-p",
          "0",
          "-q",
        ),
      );
    const first = worker("debug");
    await first.waitFor(/Committed offsets in [\d.]+ ms: .*posts\[\d\]=\d/);
    first.kill("SIGTERM");
    assert.equal((await first.exit(20_000)).code, 0, first.output);
    for (
      const line of [
        /\[DBG\] faust·worker: Starting app "word-counts"/,
        /\[DBG\] faust·word-counts: Broker "local:\/\/" open/,
        /\[DBG\] faust·word-counts: 0 services and 2 agents started/,
        /\[DBG\] faust·word-counts: Assignment received: ".*posts\[0,1,2,3,4,5,6,7\]/,
        /\[DBG\] faust·word-counts: Stopping/,
      ]
    ) assert.match(first.stderr, line);
    // Without the table store, the next start replays the changelog.
    const reset = await run(
      denoRun("examples/word_count.ts", "-D", dir, "-q", "reset"),
    );
    assert.equal(reset.code, 0, reset.stderr);
    const second = worker("debug");
    await second.waitFor(/Worker ready/);
    assert.match(
      second.stderr,
      /\[DBG\] .*Table "word_counts" partition \d: replaying changelog offsets 0 to [1-9]/,
    );
    second.kill("SIGTERM");
    assert.equal((await second.exit(20_000)).code, 0, second.output);
    const quiet = worker("info");
    await quiet.waitFor(/Worker ready/);
    quiet.kill("SIGTERM");
    assert.equal((await quiet.exit(20_000)).code, 0, quiet.output);
    assert.doesNotMatch(quiet.stderr, /\[DBG\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
