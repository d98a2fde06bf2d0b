/**
 * Stopping a worker process: real `deno` subprocesses on `local://`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CONFIG, Proc, ROOT } from "./cli/_helpers.ts";

/** A module with one slow agent (100 ms per event) on a one-partition topic. */
function slowApp(): string {
  return `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("slowstop", { store: "memory://" });
const input = app.topic("numbers", { partitions: 1, valueType: "number" });
app.agent(input, async function slow(stream) {
  for await (const n of stream) {
    await new Promise((r) => setTimeout(r, 100));
    console.log("DONE " + n);
  }
});
if (Deno.env.get("FILL") === "1") {
  app.task(async () => {
    await Promise.all(Array.from({ length: 300 }, (_, i) => input.send({ value: i })));
    console.log("FILLED");
  });
}
`;
}

function worker(mod: string, dir: string, fill: boolean): Proc {
  return new Proc([
    "run",
    "-A",
    "--config",
    CONFIG,
    new URL("cli.ts", ROOT).pathname,
    "-A",
    mod,
    "-D",
    dir,
    "worker",
    "--without-web",
    "-l",
    "info",
  ], { env: { FILL: fill ? "1" : "0" } });
}

function done(output: string): number[] {
  return [...output.matchAll(/^DONE (\d+)$/gm)].map((m) => Number(m[1]));
}

Deno.test("Worker: SIGTERM with a slow agent finishes the event in hand, commits it and leaves the buffered rest for the next start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/slow.ts`;
    await Deno.writeTextFile(mod, slowApp());
    const first = worker(mod, dir, true);
    await first.waitFor(/FILLED/);
    await first.waitFor(/^DONE 5$/m);
    const t0 = Date.now();
    first.kill("SIGTERM");
    // Draining the buffer would take ~30 s (300 events x 100 ms).
    const status = await first.exit(15_000);
    const took = Date.now() - t0;
    assert.equal(status.code, 0, first.output);
    assert.ok(took < 10_000, `stop took ${took} ms`);
    const processed = done(first.stdout);
    const last = processed[processed.length - 1]!;
    assert.deepEqual(processed, processed.map((_, i) => i));
    assert.ok(last < 250, `the buffer was drained up to ${last}`);

    const second = worker(mod, dir, false);
    await second.waitFor(new RegExp(`^DONE ${last + 3}$`, "m"));
    second.kill("SIGTERM");
    assert.equal((await second.exit(15_000)).code, 0, second.output);
    const again = done(second.stdout);
    assert.equal(
      again[0],
      last + 1,
      `restart began at ${again[0]}, expected ${last + 1}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
