/**
 * Our peer program for the side-by-side benchmarks (bench/peers protocol),
 * written the way a user writes a Faust-for-Deno app: an App on the broker,
 * LMDB tables under the state dir, JSON topics, an agent per workload.
 *
 *   deno run -A bench/peers/ours.ts --workload forward|count
 *     --bootstrap 127.0.0.1:PORT | --broker local://PATH
 *     --input TOPIC --output TOPIC --app-id ID --expect N --warmup W
 *     --state-dir DIR [--await-send] [--exactly-once]
 *
 * forward: `out.send()` is not awaited per event (as `await topic.send()`
 * in Faust, which only enqueues); `produced` counts acknowledged sends.
 * `warm` is printed when the agent has handled W events, `done` once all N
 * sends are acknowledged. `--await-send` awaits each send's acknowledgement
 * instead.
 * count: a table with a changelog (one changelog write per update); `done`
 * comes after `table.flush()` (changelog acknowledged, store written).
 * `--exactly-once`: `processingGuarantee: "exactly_once"`; `done` waits
 * until the offsets of all N events committed (with them the outputs and
 * table changes), as the results are not visible before.
 *
 * @module
 */
import { App, Worker } from "../../mod.ts";
import { emit, type InputValue, parsePeerArgs, summarize } from "./_args.ts";

const args = parsePeerArgs(Deno.args);

const app = new App(args.appId, {
  broker: args.broker,
  store: "lmdb://",
  datadir: args.stateDir,
  brokerCommitInterval: 2.8,
  processingGuarantee: args.exactlyOnce ? "exactly_once" : "at_least_once",
  topicPartitions: 4,
  consumerAutoOffsetReset: "earliest",
  webEnabled: false,
});

const input = app.topic(args.input, { valueType: "json" });

let processed = 0;
let warmAt = 0;
const reachedN = Promise.withResolvers<void>();

/** Called once per input event the agent has handled. */
function handled(n: number): void {
  if (n === args.warmup) {
    warmAt = performance.now();
    emit({ event: "warm", processed: n });
  }
}

/** Called once per fully processed input event. */
function tick(): void {
  processed++;
  if (processed === args.expect) reachedN.resolve();
}

let result: () => Promise<Record<string, number>>;
let recovered: () => number = () => 0;

if (args.workload === "forward") {
  const out = app.topic(args.output, { valueType: "json" });
  let failed = 0;
  const onError = (error: unknown) => {
    failed++;
    console.error(`send to ${args.output} failed: ${error}`);
  };
  let seen = 0;
  app.agent(input, async function forward(stream) {
    for await (const event of stream.events()) {
      handled(++seen);
      const v = event.value as InputValue;
      const sent = out.send({
        key: event.key,
        value: { id: v.id, word: v.word, n2: v.n * 2 },
      });
      if (args.awaitSend) {
        await sent.then(tick, onError);
      } else sent.then(tick, onError);
    }
  });
  result = () => Promise.resolve({ produced: processed, failed });
} else {
  const counts = app.table("counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
  });
  app.agent(input, async function count(stream) {
    for await (const v of stream) {
      const word = (v as InputValue).word;
      counts.set(word, counts.get(word) + 1);
      tick();
      handled(processed);
    }
  });
  result = async () => {
    await counts.flush();
    return summarize(counts.values());
  };
  recovered = () => counts.recoveryStats.records;
}

/** Resolve once the input's committed offsets add up to `n` (exactly-once: results visible). */
async function committed(n: number): Promise<void> {
  for (;;) {
    let sum = 0;
    for (const s of app.monitor.partitions.values()) {
      if (s.topic === args.input) sum += s.committed;
    }
    if (sum >= n) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

let ready = false;
app.onRebalanceComplete.connect(() => {
  if (ready) return;
  ready = true;
  emit({ event: "ready", recovered: recovered() });
  if (args.warmup === 0 && args.expect > 0) {
    warmAt = performance.now();
    emit({ event: "warm", processed: 0 });
  }
});

if (args.expect > 0) {
  void reachedN.promise.then(async () => {
    if (args.exactlyOnce) await committed(args.expect);
    const res = await result();
    const seconds = (performance.now() - warmAt) / 1000;
    emit({ event: "done", processed: args.expect, seconds, result: res });
  }).catch((error) => console.error(`ours: done failed: ${error}`));
}

Deno.exitCode = await new Worker(app, {
  web: false,
  loglevel: "warn",
  onForceExit: (code) => Deno.exit(code),
}).run();
