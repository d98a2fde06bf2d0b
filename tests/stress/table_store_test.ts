/**
 * The table store deleted while the worker is stopped: the next worker
 * rebuilds it from the changelog, and the counts go on from there.
 */
import assert from "node:assert/strict";
import { ready, StressDir, verify } from "./_harness.ts";

const KEYS = 16;

async function produce(s: StressDir, from: number, to: number): Promise<void> {
  const p = s.producer(from, to, { keys: KEYS, batch: 100, pauseMs: 0 });
  const status = await p.exit(120_000);
  assert.equal(status.code, 0, p.output);
}

Deno.test("A table store deleted while the worker is stopped is rebuilt equal to its changelog, and counting goes on", async () => {
  const s = await StressDir.create();
  try {
    const first = s.worker();
    await ready(first);
    await produce(s, 0, 2000);
    await s.waitDrained();
    first.kill("SIGTERM");
    assert.equal((await first.exit()).code, 0, first.output);
    const before = await s.readTable();
    assert.deepEqual(before, await s.readChangelog());

    await Deno.remove(s.tabledir, { recursive: true });

    const second = s.worker();
    await ready(second);
    assert.match(
      second.output,
      /Table "counts" recovered \d+ changelog records/,
    );
    await produce(s, 2000, 4000);
    await s.waitDrained();
    second.kill("SIGTERM");
    assert.equal((await second.exit()).code, 0, second.output);

    const table = await s.readTable();
    assert.deepEqual(table, await s.readChangelog());
    // Graceful stops only: the counts are exact.
    const report = await verify(s, (i) => `k${i % KEYS}`);
    console.log(JSON.stringify({ ...report, lost: report.lost.length }));
    assert.equal(report.inputs, 4000);
    assert.equal(report.exact, true);
  } finally {
    await s.remove();
  }
});

Deno.test("A table store deleted after a kill -9 of the worker is rebuilt equal to its changelog, never under the true counts", async () => {
  const s = await StressDir.create();
  try {
    const producer = s.producer(0, 3000, { keys: KEYS, batch: 50, pauseMs: 5 });
    const first = s.worker();
    await ready(first);
    // Killed mid-stream: some table changes are in the changelog whose
    // source offsets were not committed yet.
    const t0 = Date.now();
    while ((await s.readChangelog()).size < KEYS) {
      assert.ok(Date.now() - t0 < 60_000, "no changelog within 60 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    first.kill("SIGKILL");
    await first.exit();
    assert.equal((await producer.exit(120_000)).code, 0, producer.output);

    await Deno.remove(s.tabledir, { recursive: true });

    const second = s.worker();
    await ready(second);
    await s.waitDrained();
    second.kill("SIGTERM");
    assert.equal((await second.exit()).code, 0, second.output);

    assert.deepEqual(await s.readTable(), await s.readChangelog());
    const report = await verify(s, (i) => `k${i % KEYS}`);
    console.log(JSON.stringify({ ...report, lost: report.lost.length }));
    assert.equal(report.inputs, 3000);
    assert.equal(report.lost.length, 0);
    assert.deepEqual(report.under, []);
  } finally {
    await s.remove();
  }
});
