/**
 * SIGTERM/SIGINT under load with a slow agent: the worker finishes the
 * events in hand, commits and exits 0 within a bound; a restart reprocesses
 * only those few events.
 */
import assert from "node:assert/strict";
import { NAMES, ready, StressDir, verify } from "./_harness.ts";

const KEYS = 16;
const EVENTS = 3000;
const SLOW_MS = 20;
/** Stop bound asserted (the worker's own limit is 30 s). */
const STOP_BOUND_MS = 10_000;
/** Events a restart may reprocess: those in hand at the stop, and a margin. */
const REPROCESS_BOUND = 10;

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test({
    name:
      `${signal} under load with a slow agent exits 0 within 10 s and a restart reprocesses at most the events in hand`,
    async fn() {
      const s = await StressDir.create();
      try {
        const p = s.producer(0, EVENTS, { keys: KEYS, batch: 100, pauseMs: 0 });
        assert.equal((await p.exit(120_000)).code, 0, p.output);
        const worker = s.worker({ slowMs: SLOW_MS });
        await ready(worker);
        // Under load: the slow agent has forwarded some events, most wait.
        const t0 = Date.now();
        while (await s.highWater(NAMES.output) < 50) {
          assert.ok(Date.now() - t0 < 60_000, "no output within 60 s");
          await new Promise((r) => setTimeout(r, 20));
        }
        const stopAt = performance.now();
        worker.kill(signal);
        const status = await worker.exit(60_000);
        const stopMs = Math.round(performance.now() - stopAt);
        const forwarded = await s.highWater(NAMES.output);

        const again = s.worker();
        await ready(again);
        await s.waitDrained();
        again.kill("SIGTERM");
        assert.equal((await again.exit()).code, 0, again.output);
        const report = await verify(s, (i) => `k${i % KEYS}`);
        console.log(
          `${signal}: exit ${status.code} after ${stopMs} ms; forwarded ${forwarded} of ${EVENTS} before the stop; ` +
            `the restart reprocessed ${report.duplicates} (table over-count ${report.over}); lost ${report.lost.length}`,
        );
        assert.equal(report.lost.length, 0);
        assert.deepEqual(report.under, []);
        assert.equal(status.code, 0, worker.output.slice(-3000));
        assert.ok(stopMs < STOP_BOUND_MS, `stop took ${stopMs} ms`);
        assert.ok(report.duplicates <= REPROCESS_BOUND);
        // Not asserted: the table over-count. The commit of a partition waits
        // for the slowest agent of the topic, so what the fast count agent did
        // beyond the slow forward agent is counted again after the restart
        // (about 2,950 here), graceful stop or not.
      } finally {
        await s.remove();
      }
    },
  });
}
