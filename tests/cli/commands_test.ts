import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { parseAppSpec, resolveModule } from "../../src/cli/load_app.ts";
import { prescan, runCli } from "../../src/cli/main.ts";
import { parseCliValue } from "../../src/cli/send.ts";
import { CONFIG, denoRun, ROOT, run } from "./_helpers.ts";

const MEM = { FAUST_BROKER: "memory://", FAUST_STORE: "memory://" };

Deno.test("agents command prints the Agents table, and JSON with --json", async () => {
  const r = await run(denoRun("examples/agent.ts", "agents"), { env: MEM });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /┌Agents─+┬/);
  assert.match(
    r.stdout,
    /│ @myagent │ stream-example-myagent │ Example agent\. │/,
  );
  const j = await run(denoRun("examples/agent.ts", "--json", "agents"), {
    env: MEM,
  });
  assert.deepEqual(JSON.parse(j.stdout), [{
    name: "@myagent",
    topic: "stream-example-myagent",
    help: "Example agent.",
  }]);
});

Deno.test("custom command runs, with its options and arguments, and appears in --help", async () => {
  const help = await run(denoRun("examples/command.ts", "--help"), {
    env: MEM,
  });
  assert.equal(help.code, 0);
  assert.match(
    help.stdout.replace(/\s+/g, " "),
    /example This description is used as the command help in --help\./,
  );
  assert.match(help.stdout, /greet \[options\] <name>\s+Greet someone/);
  const ex = await run(denoRun("examples/command.ts", "example"), { env: MEM });
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout.trim(), "RUNNING EXAMPLE COMMAND");
  const greet = await run(
    denoRun("examples/command.ts", "greet", "--times", "2", "World"),
    { env: MEM },
  );
  assert.equal(greet.stdout.trim(), "Hello, World!\nHello, World!");
});

Deno.test("cli.ts with no command lists the commands; an unknown one exits 2", async () => {
  const cli = [
    "run",
    "-A",
    "--config",
    CONFIG,
    new URL("cli.ts", ROOT).pathname,
  ];
  const r = await run(cli);
  assert.equal(r.code, 0);
  for (
    const c of [
      "worker",
      "agents",
      "send",
      "tables",
      "models",
      "model",
      "reset",
      "clean-versions",
    ]
  ) {
    assert.match(r.stdout, new RegExp(`^  ${c}\\b`, "m"));
  }
  const bad = await run([...cli, "-A", "examples/agent.ts", "nope"], {
    env: MEM,
  });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "nope"/);
  const noApp = await run([...cli, "agents"]);
  assert.equal(noApp.code, 1);
  assert.match(noApp.stderr, /No app: pass -A\/--app/);
  const version = await run([...cli, "--version"]);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

Deno.test("autodiscovered project: agents, models and commands of users/ and orders/ register", async () => {
  const r = await run(denoRun("examples/proj/main.ts", "agents"), { env: MEM });
  assert.match(r.stdout, /@createUser\s+│ proj-users/);
  assert.match(r.stdout, /@processOrder\s+│ proj-orders/);
  const m = await run(
    denoRun("cli.ts", "-A", "examples/proj/app.ts", "model", "Order"),
    { env: MEM },
  );
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /│ amount │ number/);
  const help = await run(denoRun("examples/proj/main.ts", "--help"), {
    env: MEM,
  });
  assert.match(help.stdout, /create-user \[options\] <name>\s+Create a user/);
});

Deno.test("runCli(): an integer a custom command returns is the exit code; other results exit 0, a throw exits 1", async () => {
  const app = new App("cli-exit-codes", {
    broker: "memory://",
    store: "memory://",
  });
  app.command("three", () => 3);
  app.command("text", () => "done");
  app.command("nothing", () => {});
  app.command("fails", () => {
    throw new Error("no");
  });
  assert.equal(await runCli(["-q", "three"], app), 3);
  assert.equal(await runCli(["-q", "text"], app), 0);
  assert.equal(await runCli(["-q", "nothing"], app), 0);
  assert.equal(await runCli(["-q", "fails"], app), 1);
});

Deno.test("runCli() reset and clean-versions delete table state and old version dirs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const app = new App("cli-reset", {
      broker: "memory://",
      store: "memory://",
      datadir: dir,
      version: 2,
    });
    await Deno.mkdir(`${dir}/v2/tables/x`, { recursive: true });
    await Deno.mkdir(`${dir}/v1/tables`, { recursive: true });
    await Deno.mkdir(`${dir}/v3/tables`, { recursive: true });
    await Deno.mkdir(`${dir}/other`, { recursive: true });
    assert.equal(await runCli(["-q", "reset"], app), 0);
    await assert.rejects(Deno.stat(`${dir}/v2/tables`), Deno.errors.NotFound);
    assert.equal(await runCli(["-q", "clean-versions"], app), 0);
    await assert.rejects(Deno.stat(`${dir}/v1`), Deno.errors.NotFound);
    await Deno.stat(`${dir}/v2`);
    await Deno.stat(`${dir}/v3/tables`); // newer versions are kept, as in Faust
    await Deno.stat(`${dir}/other`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runCli() send to a topic prints the record metadata, --repeat and --key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(
      denoRun(
        "cli.ts",
        "-A",
        "examples/agent.ts",
        "-D",
        dir,
        "send",
        "my-topic",
        "42",
        "-k",
        "k1",
        "-r",
        "3",
        "--partition",
        "1",
        "--create",
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.topic, l.partition, l.offset]), [
      ["my-topic", 1, 0],
      ["my-topic", 1, 1],
      [
        "my-topic",
        1,
        2,
      ],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseAppSpec(), resolveModule() and prescan() read --app as Faust does", () => {
  assert.deepEqual(parseAppSpec("./proj/app.ts:faustApp"), {
    module: "./proj/app.ts",
    exportName: "faustApp",
  });
  assert.deepEqual(parseAppSpec("./app.ts"), {
    module: "./app.ts",
    exportName: undefined,
  });
  assert.deepEqual(parseAppSpec("file:///x/app.ts"), {
    module: "file:///x/app.ts",
    exportName: undefined,
  });
  assert.equal(resolveModule("app.ts", "/work/p"), "file:///work/p/app.ts");
  assert.equal(resolveModule("/abs/app.ts", "/work/p"), "file:///abs/app.ts");
  assert.equal(
    resolveModule("https://x.test/a.ts", "/w"),
    "https://x.test/a.ts",
  );
  assert.deepEqual(prescan(["-A", "a.ts", "worker"]), { app: "a.ts" });
  assert.deepEqual(prescan(["--app=b.ts", "-W", "/tmp", "agents"]), {
    app: "b.ts",
    workdir: "/tmp",
  });
  assert.deepEqual(prescan(["send", "--", "-A"]), {});
});

Deno.test("parseCliValue() sends JSON as JSON and any other text as a string", () => {
  assert.equal(parseCliValue("hello", undefined), "hello");
  assert.equal(parseCliValue("42", undefined), 42);
  assert.deepEqual(parseCliValue('{"a":1}', undefined), { a: 1 });
  assert.equal(parseCliValue("42", "string"), "42");
});
