/**
 * kill -9 rotation on local:// + lmdb:// with real processes: nothing is
 * lost, tables never count less than the truth, and no process that was not
 * killed crashes.
 */
import assert from "node:assert/strict";
import { describe, killRotation, runSeed, StressDir } from "./_harness.ts";

Deno.test("kill -9 of the worker 10 times and of a producer process loses no event under at_least_once", async () => {
  const seed = runSeed();
  console.log(`seed ${seed} (replay: STRESS_SEED=${seed})`);
  const s = await StressDir.create();
  try {
    const result = await killRotation(s, {
      seed,
      kills: 10,
      // A worker kept busy with one small broker transaction per event next
      // to a producer that writes a batch now and then: the pattern in which
      // a kill -9 of the worker once crashed the producer (MDB_PANIC, see
      // src/transport/local/env.ts).
      awaitSends: true,
      producerBatch: 100,
      producerPauseMs: 2000,
    });
    console.log(describe(result));
    assert.deepEqual(result.unexpectedExits, []);
    assert.equal(result.restarts.length, 10);
    const r = result.report;
    assert.ok(r.inputs > 0);
    assert.equal(r.inputGaps, 0, "the producer's input has a gap");
    assert.equal(r.inputDuplicates, 0, "the producer wrote an event twice");
    assert.deepEqual(r.lost.slice(0, 20), [], `${r.lost.length} events lost`);
    assert.deepEqual(r.under, []);
    assert.deepEqual(result.finalExits, { producer: 0, worker: 0 });
    for (const x of result.restarts) {
      assert.ok(x.resumeMs > 0, `restart ${x.kill} never resumed`);
    }
  } finally {
    await s.remove();
  }
});
