/**
 * kill -9 rotation on local:// + lmdb:// with real processes: nothing is
 * lost, tables never count less than the truth, and no process that was not
 * killed crashes.
 */
import assert from "node:assert/strict";
import {
  describe,
  killRotation,
  type RotationResult,
  runSeed,
  StressDir,
} from "./_harness.ts";

/** What every at_least_once rotation must show. */
function check(result: RotationResult): void {
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
}

Deno.test("kill -9 of a busy worker 10 times and of a producer process 3 times loses no event and crashes no other process (at_least_once)", async () => {
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
      producerPauseMs: 3000,
    });
    console.log(describe(result));
    check(result);
  } finally {
    await s.remove();
  }
});

Deno.test("kill -9 of the worker 10 times and of the producer 3 times under a steady 1,000 events/s loses no event (at_least_once)", async () => {
  const seed = runSeed() + 1;
  console.log(`seed ${seed} (replay: STRESS_SEED=${seed - 1})`);
  const s = await StressDir.create();
  try {
    // Sends not awaited (the commit waits for them), small batches often.
    const result = await killRotation(s, {
      seed,
      kills: 10,
      producerBatch: 20,
      producerPauseMs: 20,
    });
    console.log(describe(result));
    check(result);
  } finally {
    await s.remove();
  }
});
