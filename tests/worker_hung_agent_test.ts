/**
 * Worker process: SIGTERM while an agent hangs for good on one event, with
 * a real `deno` subprocess on `local://`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { denoRun, Proc, ROOT } from "./cli/_helpers.ts";

/**
 * An agent that prints each event and, with HANG=1, hangs for good on the
 * 51st (offset 50) while holding a timer (as a stuck network call would).
 * With FILL=1 a task sends 0..99. Commits only at stop (large interval).
 */
function hungApp(): string {
  return `import { App } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
export const app = new App("hungstop", {
  store: "memory://",
  brokerCommitInterval: 600,
  brokerCommitEvery: 100000,
});
const input = app.topic("numbers", { partitions: 1, valueType: "number" });
const hang = Deno.env.get("HANG") === "1";
app.agent(input, async function stuck(stream) {
  for await (const n of stream) {
    if (hang && n === 50) {
      console.log("HANGING " + n);
      await new Promise(() => { setInterval(() => {}, 1000); });
    }
    console.log("GOT " + n);
  }
});
if (Deno.env.get("FILL") === "1") {
  app.task(async () => {
    for (let i = 0; i < 100; i++) await input.send({ value: i });
  });
}
`;
}

function worker(mod: string, dir: string, env: Record<string, string>): Proc {
  return new Proc(
    denoRun(
      "cli.ts",
      "-A",
      mod,
      "-D",
      dir,
      "worker",
      "--without-web",
      "-l",
      "info",
    ),
    { env },
  );
}

function got(output: string): number[] {
  return [...output.matchAll(/^GOT (\d+)$/gm)].map((m) => Number(m[1]));
}

Deno.test("Worker: SIGTERM with an agent hung on one event commits what was acked, warns naming the event and exits 0 within the stop bound", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/hung.ts`;
    await Deno.writeTextFile(mod, hungApp());
    const first = worker(mod, dir, { FILL: "1", HANG: "1" });
    await first.waitFor(/^HANGING 50$/m);
    const t0 = Date.now();
    first.kill("SIGTERM");
    // The worker's stop bound is 30 s; agents get half of it.
    const status = await first.exit(45_000);
    const took = Date.now() - t0;
    assert.equal(status.code, 0, first.output);
    assert.ok(took < 30_000, `stop took ${took} ms`);
    assert.match(
      first.stderr,
      /agent "?stuck"? actor 0 did not finish "?numbers"?\[0\]@50 within [\d.]+ s/,
    );
    assert.deepEqual(got(first.stdout), [...Array(50).keys()]);

    // Nothing before the hung event is processed again.
    const second = worker(mod, dir, { HANG: "0" });
    await second.waitFor(/^GOT 99$/m);
    second.kill("SIGTERM");
    assert.equal((await second.exit(30_000)).code, 0, second.output);
    const again = got(second.stdout);
    assert.equal(again[0], 50, `restart began at ${again[0]}, expected 50`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
