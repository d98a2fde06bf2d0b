/**
 * The churn suite: three worker processes of one app on the real broker, a
 * producer writing keyed events with consecutive sequence numbers, workers
 * killed with -9 or stopped and restarted under traffic, the broker killed
 * with -9 and resumed; then an independent client (kafkajs, `_verify.ts`)
 * reads the output, the table's changelog and the group's offsets and
 * checks them against what was sent.
 */
import assert from "node:assert/strict";
import { requireBroker, unique } from "./_helpers.ts";
import {
  type ChurnOptions,
  ChurnProducer,
  ChurnWorker,
  createTopics,
  killBroker,
  PARTITIONS,
  perPartition,
  resumeBroker,
  type Verdict,
  verify,
  waitAllCommitted,
} from "./_churn.ts";
import { committedOffsets, OffsetWatch } from "./_verify.ts";

type Step =
  | { kind: "kill9"; worker: number }
  | { kind: "restart"; worker: number }
  | { kind: "broker" }
  | { kind: "pause"; ms: number };

interface Run {
  /** The run's app id (prefix of its topics and transactional ids). */
  id: string;
  verdict: Verdict;
  backwards: string[];
  /** ms from each kill -9 until every partition committed past its offset at the kill. */
  stalls: number[];
  /** ms from the broker's kill -9 until every partition committed past its offset then. */
  brokerStalls: number[];
  /** ms from the broker's kill -9 until it answered again after its restart. */
  brokerDown: number[];
  output: string;
}

async function churn(
  label: string,
  options: ChurnOptions,
  steps: Step[],
): Promise<Run> {
  await requireBroker();
  const id = unique(label);
  await createTopics(id);
  const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir()));
  const workers = dirs.map((d) => new ChurnWorker(id, d, options));
  const producer = new ChurnProducer(`${id}-in`);
  const watch = new OffsetWatch(id, `${id}-in`);
  const stalls: number[] = [];
  const brokerStalls: number[] = [];
  const brokerDown: number[] = [];
  const measuring: Promise<void>[] = [];
  let verdict: Verdict | undefined;
  // From now until every partition's committed offset passed its value now.
  const measureFrom = async (into: number[]) => {
    const t0 = Date.now();
    const before = await committedOffsets(id, `${id}-in`).catch(() =>
      new Map<number, number>()
    );
    measuring.push((async () => {
      while (Date.now() - t0 < 180_000) {
        const now = await committedOffsets(id, `${id}-in`).catch(() =>
          undefined
        );
        if (
          now !== undefined &&
          [...Array(PARTITIONS).keys()].every((p) =>
            (now.get(p) ?? 0) > (before.get(p) ?? 0)
          )
        ) {
          into.push(Date.now() - t0);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })());
  };
  try {
    await producer.start();
    // Workers join one by one while traffic flows.
    for (const w of workers) {
      w.start();
      await w.ready();
    }
    for (const step of steps) {
      if (step.kind === "pause") {
        await new Promise((r) => setTimeout(r, step.ms));
      } else if (step.kind === "kill9") {
        const w = workers[step.worker]!;
        await measureFrom(stalls);
        await w.kill9();
        w.start();
        await w.ready();
      } else if (step.kind === "restart") {
        const w = workers[step.worker]!;
        const code = await w.stop();
        assert.equal(
          code,
          0,
          `worker ${step.worker} exits cleanly:\n${w.output.slice(-3000)}`,
        );
        w.start();
        await w.ready();
      } else if (step.kind === "broker") {
        await measureFrom(brokerStalls);
        const killed = Date.now();
        await killBroker();
        // CHURN_BROKER_DOWN_MS: keep it down longer (e.g. beyond the 60 s
        // transaction timeout, as a slow restart does).
        const down = Number(Deno.env.get("CHURN_BROKER_DOWN_MS") ?? 3000);
        await new Promise((r) => setTimeout(r, down));
        await resumeBroker();
        brokerDown.push(Date.now() - killed);
      }
    }
    await Promise.all(measuring);
    const sent = await producer.stop();
    await waitAllCommitted(
      id,
      `${id}-in`,
      perPartition(sent),
      120_000,
      workers,
    );
    verdict = await verify(
      id,
      sent,
      options.guarantee === "exactly_once",
    );
    return {
      id,
      verdict,
      backwards: watch.backwards,
      stalls,
      brokerStalls,
      brokerDown,
      output: workers.map((w) => w.output).join("\n-----\n"),
    };
  } finally {
    await producer.stop().catch(() => {});
    await watch.stop();
    await Promise.all(
      workers.map((w) => w.stop(30_000).catch(() => w.kill9().catch(() => {}))),
    );
    for (const d of dirs) await Deno.remove(d, { recursive: true });
    await saveLogs(id, workers, verdict);
  }
}

/** With CHURN_LOG_DIR set: every worker's output and the verdict, per run. */
async function saveLogs(
  id: string,
  workers: ChurnWorker[],
  verdict: Verdict | undefined,
): Promise<void> {
  const logDir = Deno.env.get("CHURN_LOG_DIR");
  if (logDir === undefined) return;
  await Deno.mkdir(logDir, { recursive: true });
  for (const [i, w] of workers.entries()) {
    await Deno.writeTextFile(`${logDir}/${id}-w${i}.log`, w.output);
  }
  await Deno.writeTextFile(
    `${logDir}/${id}-verdict.json`,
    JSON.stringify(verdict ?? "no verdict", null, 1),
  );
}

function report(label: string, r: Run): void {
  const { duplicateAt: _d, tableWrong, tableUnder, lastRecordUnder, ...v } =
    r.verdict;
  console.log(
    `${label}: ${
      JSON.stringify({
        ...v,
        tableWrong: tableWrong.length,
        tableUnder: tableUnder.length,
        lastRecordUnder: lastRecordUnder.length,
        backwards: r.backwards.length,
        stallsMs: r.stalls,
        brokerStallsMs: r.brokerStalls,
        brokerDownMs: r.brokerDown,
      })
    }`,
  );
}

function problems(r: Run): string {
  const skipped = brokerSkippedMarkers();
  return `${JSON.stringify(r.verdict)}\n${
    r.output.split("\n").filter((l) => /ERR|FTL|crash/.test(l)).slice(0, 30)
      .join("\n")
  }${
    skipped.length === 0
      ? ""
      : `\nbroker skipped transaction markers:\n${
        skipped.slice(-10).join("\n")
      }`
  }`;
}

/**
 * The broker's own account of transaction markers it did not write (after
 * a restart, a partition without a leader for a moment counts as deleted):
 * a transaction whose `__consumer_offsets` marker is among them is
 * committed with its records while the group keeps the older offset.
 */
function brokerSkippedMarkers(): string[] {
  const dir = Deno.env.get("KAFKA_WORK_DIR") ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/faust-kafka-${
      Deno.env.get("KAFKA_PORT") ?? "9092"
    }`;
  const lines: string[] = [];
  for (const f of ["kafka.before-resume.log", "kafka.log"]) {
    try {
      for (const l of Deno.readTextFileSync(`${dir}/${f}`).split("\n")) {
        if (/Couldn't find leader endpoint for partitions/.test(l)) {
          lines.push(l.slice(0, 2000));
        }
      }
    } catch { /* no broker log here */ }
  }
  return lines;
}

/**
 * Whether the broker skipped the `__consumer_offsets` marker of one of this
 * run's transactions (see docs/kafka.md, "A commit whose offsets the broker
 * did not apply").
 */
function brokerSkippedOffsetMarker(r: Run): string[] {
  return brokerSkippedMarkers().filter((l) =>
    l.includes(`${r.id}-`) && l.includes("__consumer_offsets-")
  );
}

/** Lines that start a stack trace in worker output (with the line above). */
function stackLines(r: Run): string[] {
  const lines = r.output.split("\n");
  const out: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (/^\s+at /.test(lines[i]!) && !/^\s+at /.test(lines[i - 1]!)) {
      out.push(
        `${lines[i - 3]}\n${lines[i - 2]}\n${lines[i - 1]}\n${lines[i]}`,
      );
    }
  }
  return out;
}

const pause = (ms: number): Step => ({ kind: "pause", ms });

Deno.test("churn: at_least_once, workers joining and graceful rolling restarts under traffic: nothing lost, nothing processed twice", async () => {
  const r = await churn("ch-alo-g", {
    guarantee: "at_least_once",
    awaitSends: false,
  }, [
    pause(2000),
    { kind: "restart", worker: 0 },
    pause(1500),
    { kind: "restart", worker: 1 },
    pause(1500),
    { kind: "restart", worker: 2 },
    pause(2000),
  ]);
  report("at_least_once graceful", r);
  assert.equal(r.verdict.lost, 0, problems(r));
  assert.equal(r.verdict.duplicates, 0, problems(r));
  assert.deepEqual(r.verdict.tableWrong, [], problems(r));
  assert.deepEqual(r.backwards, []);
});

Deno.test("churn: at_least_once, kill -9 of workers and of the broker under traffic: nothing lost", async () => {
  const r = await churn("ch-alo-k", {
    guarantee: "at_least_once",
    awaitSends: true,
  }, [
    pause(2000),
    { kind: "kill9", worker: 0 },
    pause(2000),
    { kind: "broker" },
    pause(2000),
    { kind: "kill9", worker: 1 },
    pause(2000),
  ]);
  report("at_least_once kill -9", r);
  assert.equal(r.verdict.lost, 0, problems(r));
  // No table value below the true count: a worker that lost its partitions
  // without knowing yet may still append its older values to a changelog;
  // appends carry the writer's group generation, replays leave such late
  // records out, and owners append their values over them.
  assert.deepEqual(r.verdict.tableUnder, [], problems(r));
  assert.deepEqual(r.backwards, []);
  assert.deepEqual(stackLines(r).slice(0, 5), []);
});

// exactly_once: every input's output exactly once in committed transactions,
// tables exact (each key's last committed changelog value is its true count).

Deno.test("churn: exactly_once, sends not awaited, kill -9 rotation and a graceful restart: nothing lost, nothing twice, nothing outside a transaction, table exact", async () => {
  const steps: Step[] = [];
  for (let i = 0; i < 4; i++) {
    steps.push(pause(2000), { kind: "kill9", worker: i % 3 });
  }
  steps.push(pause(1500), { kind: "restart", worker: 1 }, pause(2000));
  const r = await churn("ch-eos-na", {
    guarantee: "exactly_once",
    awaitSends: false,
  }, steps);
  report("exactly_once not awaited", r);
  assert.equal(r.verdict.lost, 0, problems(r));
  assert.equal(r.verdict.duplicates, 0, problems(r));
  assert.deepEqual(r.verdict.tableWrong, [], problems(r));
  assert.equal(r.verdict.outsideTransactions, 0, problems(r));
  assert.deepEqual(r.backwards, []);
});

Deno.test("churn: exactly_once, sends awaited, kill -9 rotation: nothing lost, nothing twice, nothing outside a transaction, table exact", async () => {
  const steps: Step[] = [];
  for (let i = 0; i < 4; i++) {
    steps.push(pause(2000), { kind: "kill9", worker: (i + 1) % 3 });
  }
  steps.push(pause(2000));
  const r = await churn("ch-eos-aw", {
    guarantee: "exactly_once",
    awaitSends: true,
  }, steps);
  report("exactly_once awaited", r);
  assert.equal(r.verdict.lost, 0, problems(r));
  assert.equal(r.verdict.duplicates, 0, problems(r));
  assert.deepEqual(r.verdict.tableWrong, [], problems(r));
  assert.equal(r.verdict.outsideTransactions, 0, problems(r));
  assert.deepEqual(r.backwards, []);
  assert.deepEqual(stackLines(r).slice(0, 5), []);
});

Deno.test("churn: exactly_once, sends not awaited, kill -9 of workers and of the broker under traffic: nothing lost, nothing twice, nothing outside a transaction, table exact, no crash", async () => {
  const r = await churn("ch-eos-b", {
    guarantee: "exactly_once",
    awaitSends: false,
  }, [
    pause(2000),
    { kind: "kill9", worker: 0 },
    pause(2000),
    { kind: "broker" },
    pause(2000),
    { kind: "kill9", worker: 1 },
    pause(2000),
  ]);
  report("exactly_once broker kill -9", r);
  assert.equal(r.verdict.lost, 0, problems(r));
  assert.deepEqual(r.verdict.tableUnder, [], problems(r));
  assert.equal(r.verdict.outsideTransactions, 0, problems(r));
  assert.deepEqual(r.backwards, []);
  assert.deepEqual(stackLines(r).slice(0, 5), []);
  // Exact against the input as written: the producer sends a batch again
  // when the broker failed it, and one that had landed is there twice
  // (both copies must be processed, each once). Not when the broker itself
  // completed one of this run's transactions without applying its offsets
  // to the group (its log says so): a partition that moved to another
  // worker after that is processed again from the group's offset.
  const skipped = brokerSkippedOffsetMarker(r);
  if (skipped.length > 0) {
    console.warn(
      `the broker skipped the __consumer_offsets marker of a transaction of this run: ${r.verdict.duplicates} duplicates not asserted\n${
        skipped.join("\n")
      }`,
    );
    return;
  }
  assert.equal(r.verdict.duplicates, 0, problems(r));
  assert.deepEqual(r.verdict.tableWrong, [], problems(r));
});
