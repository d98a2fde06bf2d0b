import assert from "node:assert/strict";
import { CONFIG, denoRun, ROOT, run } from "./_helpers.ts";

const cli = (...args: string[]) =>
  run(denoRun("cli.ts", "-A", "examples/command.ts", ...args), {
    env: { FAUST_BROKER: "memory://", FAUST_STORE: "memory://" },
  });

Deno.test("CLI: --help works on every command, and help [command] prints the same", async () => {
  const top = await cli("--help");
  assert.equal(top.code, 0, top.stderr);
  const names = [...top.stdout.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) =>
    m[1]!
  );
  for (const c of ["worker", "send", "agents", "tables", "help", "greet"]) {
    assert.ok(names.includes(c), `${c} in ${names}`);
  }
  for (const name of names.filter((n) => n !== "help")) {
    const r = await cli(name, "--help");
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: \\S+ ${name}\\b`, "m"));
  }
  for (const name of ["worker", "send", "greet"]) {
    const h = await cli("help", name);
    assert.equal(h.code, 0, `help ${name}: ${h.stderr}`);
    assert.equal(h.stdout, (await cli(name, "--help")).stdout);
  }
  // -h stays --web-host on worker, as in Faust.
  assert.match(
    (await cli("worker", "--help")).stdout,
    /-h, --web-host <host>/,
  );
});

Deno.test("CLI: -q silences stdout for every command that prints", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const args of [
        ["agents"],
        ["tables"],
        ["models"],
        ["--json", "agents"],
        ["-D", dir, "reset"],
        ["-D", dir, "send", "greetings", "x", "--create"],
      ]
    ) {
      const loud = await cli(...args);
      assert.equal(loud.code, 0, `${args}: ${loud.stderr}`);
      assert.notEqual(loud.stdout, "", `${args} prints without -q`);
      const quiet = await cli("-q", ...args);
      assert.equal(quiet.code, 0, `-q ${args}: ${quiet.stderr}`);
      assert.equal(quiet.stdout, "", `-q ${args}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: a directory given to --app is a clear error naming its modules", async () => {
  const r = await run(denoRun("cli.ts", "-A", "examples/proj", "agents"));
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /--app "examples\/proj" is a directory; name the module file, e\.g\. --app examples\/proj\/app\.ts \(modules there: app\.ts, main\.ts\)/,
  );
  assert.doesNotMatch(r.stderr, /ERR_UNSUPPORTED_DIR_IMPORT/);
});

Deno.test("worker command: a failed start logs its cause before the stop lines, and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/fail.ts`,
      `import { App, Service } from ${
        JSON.stringify(new URL("mod.ts", ROOT).href)
      };
export const app = new App("failing", { broker: "memory://", store: "memory://" });
class Bad extends Service {
  override async onStart(): Promise<void> { throw new Error("SERVICE BOOM"); }
}
app.service(new Bad());
`,
    );
    const r = await run([
      "run",
      "-A",
      "--config",
      CONFIG,
      new URL("cli.ts", ROOT).pathname,
      "-A",
      `${dir}/fail.ts`,
      "worker",
      "-l",
      "info",
      "-p",
      "0",
    ]);
    assert.equal(r.code, 1, r.stderr);
    const cause = r.stderr.indexOf("SERVICE BOOM");
    assert.ok(cause >= 0, r.stderr);
    assert.ok(cause < r.stderr.indexOf("stopped"), r.stderr);
    assert.equal(
      r.stderr.split("SERVICE BOOM").length - 1,
      2,
      "the cause with its stack once, then the one-line reason",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A module run with a command that never calls app.main() prints a hint and exits 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/forgot.ts`,
      `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("forgot", { broker: "memory://", store: "memory://" });
`,
    );
    const args = ["run", "-A", "--config", CONFIG, `${dir}/forgot.ts`];
    const r = await run([...args, "worker", "-l", "info"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /App "forgot" was created, but the command line never ran, so "worker" did nothing\. End the module with: if \(import\.meta\.main\) await app\.main\(\);/,
    );
    // Without a command it is a library module: silent.
    const plain = await run(args);
    assert.equal(plain.code, 0);
    assert.equal(plain.stderr, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
