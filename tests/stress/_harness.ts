/**
 * The stress harness: real worker and producer processes of the stress app
 * (`_app.ts`, `_producer.ts`) on one `local://` broker in a temp data
 * directory, a seeded random source, and a closed-form verifier in the
 * manner of Kafka's streams smoke test: the producer writes events with
 * consecutive sequence numbers `i` keyed `k{i % keys}`, so the true count
 * per key and the full set of expected outputs follow from the input alone.
 *
 * The exported pieces are meant to be reused by other stress tests, e.g. an
 * exactly-once run passes `guarantee: "exactly_once"` to the workers and
 * checks {@linkcode Report.exact}.
 *
 * @module
 */
import { Proc, ROOT } from "../cli/_helpers.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { acquireEnv, releaseEnv } from "../../src/transport/local/env.ts";
import { LmdbStore } from "../../src/table/lmdb_store.ts";
import type { TransportRecord } from "../../src/transport/transport.ts";
import { NAMES, PARTITIONS } from "./_app.ts";

export { NAMES, PARTITIONS };

const APP = new URL("./_app.ts", import.meta.url).pathname;
const PRODUCER = new URL("./_producer.ts", import.meta.url).pathname;
const CONFIG = new URL("deno.json", ROOT).pathname;

/** A seeded random source (mulberry32): the same seed, the same run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: `STRESS_SEED` when set (to replay a run), else the clock. */
export function runSeed(): number {
  const given = Deno.env.get("STRESS_SEED");
  return given !== undefined && given !== ""
    ? Number(given)
    : Date.now() % 1_000_000_007;
}

/** How the stress app's workers are configured. */
export interface WorkerOptions {
  /** `processingGuarantee` (default `at_least_once`). */
  guarantee?: "at_least_once" | "exactly_once";
  /** Pause per event in the forward agent, ms (default 0). */
  slowMs?: number;
  /** `decodeErrorPolicy` (default `skip`). */
  decode?: "skip" | "fail" | "dead-letter";
  /** Await each send of the forward agent (default false). */
  awaitSends?: boolean;
}

/** A data directory with its broker, and the processes started on it. */
export class StressDir {
  /** The data directory (`datadir` of every process). */
  readonly dir: string;
  /** The broker, opened by this (test) process for reading and raw writes. */
  readonly broker: LocalTransport;
  #procs: Proc[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.broker = new LocalTransport("local://", {
      defaultPartitions: PARTITIONS,
      datadir: dir,
      clientId: "stress-harness",
    });
  }

  /** Create a temp data directory and open its broker. */
  static async create(): Promise<StressDir> {
    const dir = await Deno.makeTempDir({ prefix: "faust-stress-" });
    const s = new StressDir(dir);
    await s.broker.start();
    return s;
  }

  /** Kill what is still running, close the broker and delete the directory. */
  async remove(): Promise<void> {
    for (const p of this.#procs) p.kill("SIGKILL");
    for (const p of this.#procs) await p.exit().catch(() => {});
    await this.broker.stop();
    await Deno.remove(this.dir, { recursive: true });
  }

  /** Broker directory. */
  get brokerPath(): string {
    return `${this.dir}/broker`;
  }

  /** Table directory of the stress app (version 1). */
  get tabledir(): string {
    return `${this.dir}/v1/tables`;
  }

  #env(extra: Record<string, string> = {}): Record<string, string> {
    return { FAUST_DATADIR: this.dir, ...extra };
  }

  /** Start a worker process (not waiting for it to be ready). */
  worker(options: WorkerOptions = {}): Proc {
    return this.#track(
      new Proc(
        [
          "run",
          "-A",
          "--config",
          CONFIG,
          APP,
          "worker",
          "-l",
          "info",
          "--without-web",
        ],
        {
          env: this.#env({
            STRESS_GUARANTEE: options.guarantee ?? "at_least_once",
            STRESS_SLOW_MS: String(options.slowMs ?? 0),
            STRESS_DECODE: options.decode ?? "skip",
            STRESS_AWAIT_SENDS: options.awaitSends === true ? "1" : "0",
          }),
        },
      ),
    );
  }

  #track(proc: Proc): Proc {
    this.#procs.push(proc);
    return proc;
  }

  /**
   * Start a producer process sending `i = from ... to - 1` (see `_producer.ts`).
   */
  producer(
    from: number,
    to: number,
    { keys = 16, batch = 20, pauseMs = 10 } = {},
  ): Proc {
    return this.#track(
      new Proc(
        [
          "run",
          "-A",
          "--config",
          CONFIG,
          PRODUCER,
          this.dir,
          String(from),
          String(to),
          String(keys),
          String(batch),
          String(pauseMs),
        ],
        { env: this.#env() },
      ),
    );
  }

  /** Every record of a topic, partition by partition. */
  async readAll(topic: string): Promise<TransportRecord[]> {
    const out: TransportRecord[] = [];
    const partitions = await this.broker.partitionCount(topic) ?? 0;
    for (let p = 0; p < partitions; p++) {
      const tp = { topic, partition: p };
      const high = await this.broker.highWatermark(tp);
      let offset = await this.broker.lowWatermark(tp);
      // Bounded: each read advances past at least one record.
      while (offset < high) {
        const batch = await this.broker.read(tp, offset, 5000);
        if (batch.length === 0) break;
        out.push(...batch);
        offset = batch.at(-1)!.offset + 1;
      }
    }
    return out;
  }

  /** Sum of the high-water marks of a topic's partitions. */
  async highWater(topic: string): Promise<number> {
    const partitions = await this.broker.partitionCount(topic) ?? 0;
    let sum = 0;
    for (let p = 0; p < partitions; p++) {
      sum += await this.broker.highWatermark({ topic, partition: p });
    }
    return sum;
  }

  /** The app's committed offsets of a topic, by partition (-1: none). */
  committed(topic: string): number[] {
    const env = acquireEnv(this.brokerPath);
    try {
      env.root.resetReadTxn();
      return Array.from(
        { length: PARTITIONS },
        (_, p) => env.groups.get([NAMES.app, topic, p]) ?? -1,
      );
    } finally {
      void releaseEnv(env);
    }
  }

  /** True when the app has committed every record of its input topic. */
  async drained(): Promise<boolean> {
    const committed = this.committed(NAMES.input);
    for (let p = 0; p < PARTITIONS; p++) {
      const high = await this.broker.highWatermark({
        topic: NAMES.input,
        partition: p,
      });
      if (committed[p]! < high) return false;
    }
    return true;
  }

  /** Wait (bounded) until the app has committed its whole input. */
  async waitDrained(ms = 120_000): Promise<void> {
    const t0 = Date.now();
    while (!(await this.drained())) {
      if (Date.now() - t0 > ms) {
        throw new Error(
          `Not drained after ${ms} ms: committed ${
            this.committed(NAMES.input)
          }, input high-water ${await this.highWater(NAMES.input)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The table as its `lmdb://` store holds it (read while no worker runs). */
  async readTable(): Promise<Map<string, number>> {
    const store = new LmdbStore("lmdb://", {
      table: NAMES.table,
      tabledir: this.tabledir,
    });
    await store.open();
    try {
      return decodeEntries(
        store.partitions().flatMap((p) => [...store.entries(p)]),
      );
    } finally {
      await store.close();
    }
  }

  /** The table as its changelog says: the last value of each key. */
  async readChangelog(): Promise<Map<string, number>> {
    const records = await this.readAll(`${NAMES.app}-${NAMES.table}-changelog`);
    records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    return decodeEntries(
      records.flatMap((r) => r.key === null ? [] : [[r.key, r.value]]),
    );
  }
}

const text = new TextDecoder();

function decodeEntries(
  entries: Iterable<[Uint8Array, Uint8Array | null]>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of entries) {
    const key = text.decode(k);
    if (v === null) out.delete(key);
    else out.set(key, JSON.parse(text.decode(v)));
  }
  return out;
}

/** Sequence numbers `i` of the events in `records` (undecodable ones skipped). */
export function sequence(records: readonly TransportRecord[]): number[] {
  const out: number[] = [];
  for (const r of records) {
    if (r.value === null) continue;
    try {
      const v = JSON.parse(text.decode(r.value));
      if (typeof v?.i === "number" && typeof v?.k === "string") out.push(v.i);
    } catch {
      // A poison pill: not an event.
    }
  }
  return out;
}

/** What the verifier found. */
export interface Report {
  /** Events in the input (distinct `i`). */
  inputs: number;
  /** `i` missing from the input below its highest `i` (producer-side gaps). */
  inputGaps: number;
  /** Input events written more than once. */
  inputDuplicates: number;
  /** Input events with no output. */
  lost: number[];
  /** Output records beyond one per input event. */
  duplicates: number;
  /** Keys whose table count is below the true count. */
  under: Array<{ key: string; count: number; truth: number }>;
  /** Sum over keys of (table count - true count) where above. */
  over: number;
  /** Output == input and table == true counts, exactly. */
  exact: boolean;
}

/**
 * Check the outputs and the table of a finished run against its input.
 *
 * @param s The data directory, with no worker running.
 * @param keyOf The key of event `i` (as the producer made it).
 */
export async function verify(
  s: StressDir,
  keyOf: (i: number) => string,
): Promise<Report> {
  const inputs = sequence(await s.readAll(NAMES.input));
  const seen = new Set<number>();
  let inputDuplicates = 0;
  for (const i of inputs) {
    if (seen.has(i)) inputDuplicates++;
    seen.add(i);
  }
  let max = -1;
  for (const i of seen) max = Math.max(max, i);
  const inputGaps = max + 1 - seen.size;
  const outputs = sequence(await s.readAll(NAMES.output));
  const out = new Set(outputs);
  const lost = [...seen].filter((i) => !out.has(i)).sort((a, b) => a - b);
  const duplicates = outputs.length - out.size;
  const truth = new Map<string, number>();
  for (const i of seen) truth.set(keyOf(i), (truth.get(keyOf(i)) ?? 0) + 1);
  const table = await s.readTable();
  const under = [];
  let over = 0;
  for (const [key, want] of truth) {
    const count = table.get(key) ?? 0;
    if (count < want) under.push({ key, count, truth: want });
    else over += count - want;
  }
  for (const [key, count] of table) if (!truth.has(key)) over += count;
  return {
    inputs: seen.size,
    inputGaps,
    inputDuplicates,
    lost,
    duplicates,
    under,
    over,
    exact: lost.length === 0 && duplicates === 0 && under.length === 0 &&
      over === 0 && [...out].every((i) => seen.has(i)),
  };
}

/** Wait for `proc` to print the worker's ready line; returns the ms it took. */
export async function ready(proc: Proc, ms = 60_000): Promise<number> {
  const t0 = performance.now();
  await proc.waitFor(/Worker ready/, ms);
  return Math.round(performance.now() - t0);
}

/** Tracks whether a process has exited (checked before killing its neighbours). */
export function watch(proc: Proc): { readonly exited: boolean } {
  const state = { exited: false };
  proc.child.status.then(() => state.exited = true);
  return state;
}

/** Per restart of the worker after a kill -9. */
export interface Restart {
  /** Kill number (0-based). */
  kill: number;
  /** How long the killed worker ran, ms. */
  ranMs: number;
  /** Spawn to "Worker ready", ms. */
  readyMs: number;
  /** Spawn to the first new output record, ms (-1: none within the bound). */
  resumeMs: number;
  /** The producer was also killed (separately) in this round. */
  producerKilled: boolean;
}

/** Settings of {@linkcode killRotation}. */
export interface RotationOptions extends WorkerOptions {
  /** Seed of the random moments. */
  seed: number;
  /** Worker kills (default 10). */
  kills?: number;
  /** Kill the producer in every `producerEvery`-th round (default 3). */
  producerEvery?: number;
  /** Keys of the producer (default 16). */
  keys?: number;
  /** Events per producer batch (default 1000). */
  producerBatch?: number;
  /** Pause between producer batches, ms (default 1000): a producer that
   * writes now and then next to a busy worker. */
  producerPauseMs?: number;
}

/** What {@linkcode killRotation} measured. */
export interface RotationResult {
  /** Verifier report. */
  report: Report;
  /** Restarts. */
  restarts: Restart[];
  /** Processes that exited without being killed (should be none). */
  unexpectedExits: string[];
  /** Exit code of the producer's and the last worker's SIGTERM stop. */
  finalExits: { producer: number; worker: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The kill -9 rotation: a producer process writes events all along while a
 * worker is killed with -9 at random moments `kills` times and restarted;
 * in some rounds the producer is killed with -9 at another random moment
 * (the worker keeps running) and restarted after the last event the broker
 * holds. Then the producer is stopped, a last worker drains the input and
 * stops with SIGTERM, and the verifier checks the outcome.
 *
 * @param s A fresh data directory.
 * @param options Seed, guarantee, counts.
 * @returns The report, the restarts and any unexpected exit.
 */
export async function killRotation(
  s: StressDir,
  options: RotationOptions,
): Promise<RotationResult> {
  const rnd = seeded(options.seed);
  const kills = options.kills ?? 10;
  const every = options.producerEvery ?? 3;
  const keys = options.keys ?? 16;
  const unexpectedExits: string[] = [];
  const restarts: Restart[] = [];
  const startProducer = async (from: number) => {
    const p = s.producer(from, Number.MAX_SAFE_INTEGER, {
      keys,
      batch: options.producerBatch ?? 1000,
      pauseMs: options.producerPauseMs ?? 1000,
    });
    await p.waitFor(/^ready$/m, 60_000);
    return { proc: p, state: watch(p) };
  };
  const check = (name: string, w: { exited: boolean }, proc: Proc) => {
    if (w.exited) unexpectedExits.push(`${name}:\n${proc.output.slice(-3000)}`);
    return !w.exited;
  };
  let producer = await startProducer(0);
  let worker = s.worker(options);
  let workerState = watch(worker);
  await ready(worker);
  let started = performance.now();
  try {
    for (let kill = 0; kill < kills; kill++) {
      const producerKilled = every > 0 && kill % every === every - 1;
      if (producerKilled) {
        await sleep(100 + rnd() * 900);
        if (
          !check(`worker before producer kill ${kill}`, workerState, worker)
        ) {
          break;
        }
        producer.proc.kill("SIGKILL");
        await producer.proc.exit();
        let last = -1;
        for (const i of sequence(await s.readAll(NAMES.input))) {
          last = Math.max(last, i);
        }
        producer = await startProducer(last + 1);
      }
      await sleep(200 + rnd() * 1800);
      if (
        !check(`worker before kill ${kill}`, workerState, worker) ||
        !check(`producer at kill ${kill}`, producer.state, producer.proc)
      ) break;
      worker.kill("SIGKILL");
      await worker.exit();
      const ranMs = Math.round(performance.now() - started);
      const before = await s.highWater(NAMES.output);
      started = performance.now();
      worker = s.worker(options);
      workerState = watch(worker);
      const readyMs = await ready(worker);
      let resumeMs = -1;
      // Bounded wait for the first output of the new worker.
      while (performance.now() - started < 60_000 && !workerState.exited) {
        if (await s.highWater(NAMES.output) > before) {
          resumeMs = Math.round(performance.now() - started);
          break;
        }
        await sleep(20);
      }
      restarts.push({ kill, ranMs, readyMs, resumeMs, producerKilled });
    }
    check("producer at the end", producer.state, producer.proc);
    producer.proc.kill("SIGTERM");
    const producerExit = (await producer.proc.exit()).code;
    // Generous: the backlog of a slow worker on a loaded machine.
    await s.waitDrained(240_000);
    check("worker at the end", workerState, worker);
    worker.kill("SIGTERM");
    const workerExit = (await worker.exit()).code;
    const report = await verify(s, (i) => `k${i % keys}`);
    return {
      report,
      restarts,
      unexpectedExits,
      finalExits: { producer: producerExit, worker: workerExit },
    };
  } finally {
    worker.kill("SIGKILL");
    producer.proc.kill("SIGKILL");
    await worker.exit().catch(() => {});
    await producer.proc.exit().catch(() => {});
  }
}

/** A printable summary of a rotation. */
export function describe(result: RotationResult): string {
  const r = result.report;
  const lines = [
    `inputs ${r.inputs}, lost ${r.lost.length}, output duplicates ${r.duplicates}, ` +
    `table keys under the truth ${r.under.length}, table over-count ${r.over}, ` +
    `input gaps ${r.inputGaps}, input duplicates ${r.inputDuplicates}`,
    "kill  ran ms  ready ms  resume ms  producer killed",
    ...result.restarts.map((x) =>
      `${String(x.kill).padStart(4)}  ${String(x.ranMs).padStart(6)}  ${
        String(x.readyMs).padStart(8)
      }  ${String(x.resumeMs).padStart(9)}  ${x.producerKilled}`
    ),
  ];
  return lines.join("\n");
}
