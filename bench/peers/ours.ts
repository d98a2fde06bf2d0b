/**
 * Our peer program for the side-by-side benchmarks (bench/peers protocol),
 * written the way a user writes a Faust-for-Deno app: an App on the broker,
 * LMDB tables under the state dir, JSON topics, an agent per workload.
 *
 *   deno run -A bench/peers/ours.ts --workload forward|count|window|ask
 *     --bootstrap 127.0.0.1:PORT | --broker local://PATH
 *     --input TOPIC --output TOPIC --app-id ID --expect N --warmup W
 *     --state-dir DIR [--await-send] [--exactly-once] [--table-options JSON]
 *     [--commit-every N]
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
 * window: a table of sums of `n` in 1-minute tumbling windows of the event
 * timestamps; `done` after `flush()`, the result read back from every window.
 * ask: N sequential `agent.ask()` round trips (one at a time: low load)
 * through the broker to an agent that replies `{id, n2}`; W of them warm up;
 * the result holds the latency percentiles of the other N - W.
 *
 * `--commit-every N` sets `brokerCommitEvery` (default: the App's 10,000,
 * Faust's); `--commit-every 0` commits on the 2.8 s `brokerCommitInterval`
 * only, as Kafka Streams commits (every 30 s by default, no count trigger).
 *
 * `FAUST_BENCH_MOD=/path/to/mod.ts` runs this program against another
 * checkout of the library (the harness's `--tree`).
 *
 * @module
 */
import { emit, type InputValue, parsePeerArgs, summarize } from "./_args.ts";
import { summarizeWindows } from "./_args.ts";

const { App, Worker } = await import(
  Deno.env.get("FAUST_BENCH_MOD") ?? "../../mod.ts"
) as typeof import("../../mod.ts");

const args = parsePeerArgs(Deno.args);

const app = new App(args.appId, {
  broker: args.broker,
  store: "lmdb://",
  datadir: args.stateDir,
  brokerCommitInterval: 2.8,
  ...(args.commitEvery === undefined ? {} : {
    brokerCommitEvery: args.commitEvery === 0
      ? Number.MAX_SAFE_INTEGER
      : args.commitEvery,
  }),
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
let askLoop: (() => Promise<void>) | undefined;

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
} else if (args.workload === "window") {
  const sums = app.table("wsum", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
    ...args.tableOptions,
  }).tumbling(60, { keyIndex: true });
  app.agent(input, async function windowSum(stream) {
    for await (const v of stream) {
      const { word, n } = v as InputValue;
      sums.update(word, (s) => s + n);
      tick();
      handled(processed);
    }
  });
  result = async () => {
    await sums.table.flush();
    const all = [...sums.windows()].map(([word, range, v]) =>
      [word, Math.round(range.start * 1000), v] as const
    );
    return { ...summarizeWindows(all) };
  };
} else if (args.workload === "ask") {
  const echo = app.agent(undefined, async function* askee(stream) {
    for await (const v of stream) {
      const { id, n } = v as InputValue;
      yield { id, n2: n * 2 };
    }
  });
  const latencies: number[] = [];
  let wrong = 0;
  result = () => {
    const sorted = latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
    return Promise.resolve({
      asks: sorted.length,
      wrong,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted.at(-1) ?? NaN,
    });
  };
  askLoop = async () => {
    for (let i = 0; i < args.expect; i++) {
      const value = { id: i, word: `k${i % 10_000}`, n: i % 100 };
      const t0 = performance.now();
      const r = await echo.ask({ key: value.word, value }) as {
        id: number;
        n2: number;
      };
      const ms = performance.now() - t0;
      if (r?.id !== i || r?.n2 !== value.n * 2) wrong++;
      if (i >= args.warmup) latencies.push(ms);
      tick();
      handled(processed);
    }
  };
} else {
  const counts = app.table("counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
    ...args.tableOptions,
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
  askLoop?.().catch((error) => console.error(`ours: ask failed: ${error}`));
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
