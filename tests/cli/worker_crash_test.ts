/**
 * Crashes of real worker processes on `local://`: the process must stop
 * everything it holds and exit non-zero, so that a new worker can start.
 */
import assert from "node:assert/strict";
import { denoRun, Proc, ROOT } from "./_helpers.ts";

const MOD = JSON.stringify(new URL("mod.ts", ROOT).href);

function worker(mod: string, dir: string, env: Record<string, string> = {}) {
  return new Proc(
    denoRun("cli.ts", "-A", mod, "-D", dir, "worker", "-l", "info", "-p", "0"),
    { env },
  );
}

Deno.test("worker crash: a table whose flush fails does not keep the process alive or the consumer claimed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/app.ts`;
    // A table whose writes failed (as after a failed changelog append):
    // every flush throws. The crash stop must still close the consumer and
    // the transport, and the process must exit.
    await Deno.writeTextFile(
      mod,
      `import { App, StateError } from ${MOD};
export const app = new App("crash-flush", { broker: "local://", store: "memory://", agentSupervisor: "crashing" });
const failed = Deno.env.get("FAIL") === "1";
app.registerTable({
  name: "broken", help: undefined, size: 0,
  changelogSpec: () => ({ name: "crash-flush-broken-changelog", partitions: 1, internal: true }),
  open: async () => {}, assigned: async () => {}, revoked: async () => {}, close: async () => {},
  flush: async () => { if (failed) throw new StateError("changes are not durable (injected)"); },
});
const boom = app.agent(undefined, async function boom(stream) {
  for await (const v of stream) { console.log("GOT", v); if (failed) throw new Error("BOOM " + v); }
});
if (failed) app.task(async () => { await boom.send({ value: 1 }); });
`,
    );
    const crashed = worker(mod, dir, { FAIL: "1" });
    const status = await crashed.exit(40_000);
    assert.equal(status.code, 1, crashed.output);
    assert.match(crashed.stderr, /BOOM 1/);
    assert.match(
      crashed.stderr,
      /"flushing table broken" failed: StateError: changes are not durable/,
    );
    // The other steps still ran: the consumer stopped, the transport closed.
    assert.match(
      crashed.stderr,
      /App "crash-flush" stopped; 1 stop steps failed/,
    );

    // The claim was released: a new worker of the app starts and processes
    // the event the crashed one did not commit.
    const next = worker(mod, dir);
    await next.waitFor(/Worker ready/);
    await next.waitFor(/GOT 1/);
    next.kill("SIGTERM");
    assert.equal((await next.exit(30_000)).code, 0, next.output);
    assert.doesNotMatch(next.output, /already consumed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli.ts --app on a module that calls app.main() without the import.meta.main guard starts the app once and stops on the first SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/unguarded.ts`;
    await Deno.writeTextFile(
      mod,
      `import { App } from ${MOD};
export const app = new App("unguarded", { broker: "memory://", store: "memory://" });
await app.main();
`,
    );
    const p = worker(mod, dir);
    await p.waitFor(/Worker ready/);
    p.kill("SIGTERM");
    const status = await p.exit(30_000);
    assert.equal(status.code, 0, p.output);
    assert.equal(p.output.match(/Worker ready/g)?.length, 1, p.output);
    assert.match(p.stderr, /Guard the call: `if \(import\.meta\.main\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
