import assert from "node:assert/strict";
import { CONFIG, Proc, ROOT, run } from "../cli/_helpers.ts";

// Enough that the replay outlasts PROGRESS_INTERVAL_MS (1.5 s) on an idle
// machine: 200,000 records replayed in 1.07 s and no progress line was due;
// on a faster one 600,000 replayed in 1.2-1.4 s.
const RECORDS = 2_000_000;

Deno.test("Table recovery logs a progress line (done of total, rate, ETA) at info level while it runs, in a worker process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = JSON.stringify(new URL("mod.ts", ROOT).href);
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      `import { App } from ${mod};
export const app = new App("bigtable", { topicPartitions: 2 });
// Small batches: the replay lasts long enough for progress lines on a fast machine.
export const counts = app.table("counts", {
  keyType: "string", valueType: "number", default: () => 0, recoveryBufferSize: 200,
});
`,
    );
    // Fill the changelog directly: no table store exists yet, so the worker replays it all.
    await Deno.writeTextFile(
      `${dir}/fill.ts`,
      `import { app, counts } from "./app.ts";
await app.startClient();
const enc = new TextEncoder();
for (let i = 0; i < ${RECORDS}; i += 5000) {
  const batch = [];
  for (let j = i; j < i + 5000; j++) {
    batch.push({ topic: counts.changelogTopic, partition: j % 2, key: enc.encode("k" + (j % 1000)), value: enc.encode(String(j)) });
  }
  await app.transport.send(batch);
}
await app.stop();
`,
    );
    const filled = await run(["run", "-A", "--config", CONFIG, "fill.ts"], {
      cwd: dir,
      ms: 180_000,
    });
    assert.equal(filled.code, 0, filled.stderr);
    const worker = new Proc([
      "run",
      "-A",
      "--config",
      CONFIG,
      new URL("cli.ts", ROOT).pathname,
      "-A",
      "./app.ts",
      "worker",
      "-l",
      "info",
      "-p",
      "0",
      "-q",
    ], { cwd: dir });
    try {
      const [, done, percent, rate, eta] = await worker.waitFor(
        new RegExp(
          `Recovering table "counts" \\("active"\\): (\\d+) of ${RECORDS} records \\((\\d+)%\\), (\\d+) records/s, ETA (\\d+)s`,
        ),
        120_000,
      );
      assert.ok(Number(done) > 0 && Number(done) < RECORDS, done);
      assert.equal(
        Number(percent),
        Math.floor((Number(done) * 100) / RECORDS),
      );
      assert.ok(Number(rate) > 0, rate);
      assert.ok(Number(eta) >= 0, eta);
      await worker.waitFor(
        new RegExp(`Table "counts" recovered ${RECORDS} changelog records`),
        180_000,
      );
      await worker.waitFor(/Worker ready/);
    } finally {
      worker.kill("SIGTERM");
      await worker.exit(30_000);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
