/**
 * The churn suite's parts: worker processes of `apps/churn_worker.ts`, a
 * producer of keyed events with consecutive sequence numbers, the broker's
 * kill -9 and resume (`scripts/kafka.sh`), and a closed-form check of what
 * ended up on the broker, read by the independent verifier (`_verify.ts`).
 */
import { denoRun, Proc } from "../cli/_helpers.ts";
import { BROKER, freePort, startTransport } from "./_helpers.ts";
import { committedOffsets, endOffsets, type Read, readAll } from "./_verify.ts";
import type { KafkaTransport } from "../../src/transport/kafka.ts";

/** Source partitions of the churn topics. */
export const PARTITIONS = 6;
/** Keys of the events (key i goes to partition i % PARTITIONS). */
export const KEYS = 24;

/** Options of a churn app. */
export interface ChurnOptions {
  guarantee: "at_least_once" | "exactly_once";
  awaitSends: boolean;
  standbys?: number;
}

/** One worker process (same data directory and port across restarts). */
export class ChurnWorker {
  readonly port = freePort();
  proc: Proc | undefined;
  /** Output of earlier incarnations. */
  history = "";
  readonly #env: Record<string, string>;
  readonly #datadir: string;

  constructor(id: string, datadir: string, options: ChurnOptions) {
    this.#datadir = datadir;
    this.#env = {
      CH_APP_ID: id,
      CH_BROKER: BROKER,
      CH_GUARANTEE: options.guarantee,
      CH_AWAIT: options.awaitSends ? "1" : "0",
      CH_STANDBYS: String(options.standbys ?? 1),
      CH_TRACE: Deno.env.get("CHURN_TRACE") ?? "0",
    };
  }

  /** Start a process (the previous one must have exited). */
  start(): void {
    if (this.proc !== undefined) this.history += this.proc.output;
    this.proc = new Proc(
      denoRun(
        "cli.ts",
        "--app",
        "tests/kafka/apps/churn_worker.ts",
        "--datadir",
        this.#datadir,
        "worker",
        "-l",
        Deno.env.get("CHURN_LOG_LEVEL") ?? "info",
        "-p",
        String(this.port),
        "-h",
        "127.0.0.1",
      ),
      { env: this.#env },
    );
  }

  /** Wait until the worker logged that it is ready. */
  async ready(ms = 60_000): Promise<void> {
    await this.proc!.waitFor(/App \S+ ready/, ms);
  }

  /** kill -9 and wait for the exit. */
  async kill9(): Promise<void> {
    this.proc?.kill("SIGKILL");
    await this.proc?.exit(30_000);
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(ms = 60_000): Promise<number> {
    this.proc?.kill("SIGTERM");
    return (await this.proc!.exit(ms)).code;
  }

  /** `/state/` of the running worker (undefined while it is not serving). */
  async state(): Promise<
    | {
      processed: number;
      assignment: { topic: string; partition: number }[];
      active: number[];
      standby: number[];
    }
    | undefined
  > {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/state/`);
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return await res.json();
    } catch {
      return undefined;
    }
  }

  /** Everything this worker printed, all incarnations. */
  get output(): string {
    return this.history + (this.proc?.output ?? "");
  }
}

/** Writes keyed events `key:seq` at a steady pace until stopped. */
export class ChurnProducer {
  sent = 0;
  #stop = false;
  #loop: Promise<void> | undefined;
  #t: KafkaTransport | undefined;
  readonly #topic: string;
  readonly errors: string[] = [];

  constructor(topic: string) {
    this.#topic = topic;
  }

  /** Start writing `perTick` events every `tickMs` (default 100 a second). */
  async start(perTick = 5, tickMs = 50): Promise<void> {
    this.#t = await startTransport();
    const enc = new TextEncoder();
    this.#loop = (async () => {
      while (!this.#stop) {
        const records = [];
        for (let i = 0; i < perTick; i++) {
          const seq = this.sent + i;
          const k = seq % KEYS;
          records.push({
            topic: this.#topic,
            partition: k % PARTITIONS,
            key: enc.encode(`k${k}`),
            value: enc.encode(`k${k}:${seq}`),
          });
        }
        try {
          await this.#t!.send(records);
          this.sent += perTick;
        } catch (e) {
          // The broker is down on purpose: the same records go again.
          this.errors.push(String(e));
          await new Promise((r) => setTimeout(r, 500));
        }
        await new Promise((r) => setTimeout(r, tickMs));
      }
    })();
  }

  /** Stop writing; resolves with the number of events written. */
  async stop(): Promise<number> {
    this.#stop = true;
    await this.#loop;
    await this.#t?.stop();
    return this.sent;
  }
}

/** The broker's address parts for `scripts/kafka.sh`. */
function brokerEnv(): Record<string, string> {
  const port = BROKER.split(":")[1] ?? "9092";
  return { KAFKA_PORT: port };
}

/** kill -9 the test broker (data kept). */
export async function killBroker(): Promise<void> {
  await kafkaSh("kill9");
}

/** Start the test broker again on its data; resolves once it answers. */
export async function resumeBroker(): Promise<void> {
  await kafkaSh("resume");
}

async function kafkaSh(cmd: string): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: ["scripts/kafka.sh", cmd],
    cwd: new URL("../../", import.meta.url).pathname,
    env: brokerEnv(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `scripts/kafka.sh ${cmd} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/**
 * Wait until the group has committed every input (committed offsets equal
 * the end offsets of the input topic); throws after `ms`.
 */
export async function waitAllCommitted(
  groupId: string,
  topic: string,
  sentPerPartition: Map<number, number>,
  ms: number,
  workers: ChurnWorker[],
): Promise<void> {
  const deadline = Date.now() + ms;
  // The producer may have written a batch twice (sent again after the
  // broker failed it): the log's end is the target, never below the count.
  const ends = await endOffsets(topic).catch(() => new Map<number, number>());
  sentPerPartition = new Map(
    [...sentPerPartition].map((
      [p, n],
    ) => [p, Math.max(n, ends.get(p) ?? 0)]),
  );
  let last = new Map<number, number>();
  while (Date.now() < deadline) {
    last = await committedOffsets(groupId, topic).catch(() => last);
    if (
      [...sentPerPartition].every(([p, n]) => (last.get(p) ?? 0) >= n)
    ) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(
    `Not every input committed within ${ms} ms: committed ${
      JSON.stringify([...last])
    }, sent ${JSON.stringify([...sentPerPartition])}\n--- worker output ---\n${
      workers.map((w) => w.output.slice(-4000)).join("\n---\n")
    }`,
  );
}

/** Events per source partition for `sent` events. */
export function perPartition(sent: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let p = 0; p < PARTITIONS; p++) m.set(p, 0);
  for (let seq = 0; seq < sent; seq++) {
    const p = (seq % KEYS) % PARTITIONS;
    m.set(p, m.get(p)! + 1);
  }
  return m;
}

/** What the verifier found. */
export interface Verdict {
  sent: number;
  outputs: number;
  /** Input records (of the `sent` sequence numbers) with no output. */
  lost: number;
  /** Outputs beyond one per input record. */
  duplicates: number;
  /** Input records the producer wrote twice (a send it repeated after the broker failed it, although it had landed). */
  inputDuplicates: number;
  /** Some duplicated sequence numbers with where their copies are (partition@offset). */
  duplicateAt: string[];
  /** Keys whose table value (last committed changelog record) differs from the true count. */
  tableWrong: string[];
  /** Keys whose table value is below the true count. */
  tableUnder: string[];
  /**
   * Keys whose plain last changelog record (no generation fence) is below
   * the true count, with where it is: a late writer's record that replays
   * leave out.
   */
  lastRecordUnder: string[];
  /** Data records of the output or changelog written outside a transaction. */
  outsideTransactions: number;
}

/** Read the output and the changelog with the independent client and compare. */
export async function verify(
  id: string,
  sent: number,
  checkTransactions: boolean,
): Promise<Verdict> {
  const out = await readAll(`${id}-out`, true);
  const seen = new Map<number, number>();
  const where = new Map<number, string[]>();
  for (const r of out) {
    const seq = Number(r.value!.split(":")[1]);
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
    let w = where.get(seq);
    if (w === undefined) where.set(seq, w = []);
    w.push(`${r.partition}@${r.offset}(${r.producer})`);
  }
  // The input as written: the producer sends a batch again when the broker
  // failed it, and a batch that reached the log before the broker died is
  // then there twice. Each input record must be processed: the truth is
  // the input topic, not the producer's count.
  const input = await readAll(`${id}-in`, false);
  const written = new Map<number, number>();
  for (const r of input) {
    const seq = Number(r.value!.split(":")[1]);
    written.set(seq, (written.get(seq) ?? 0) + 1);
  }
  let inputDuplicates = 0;
  // A send that failed at the very end may have landed all the same.
  let end = sent;
  for (const [seq, n] of written) {
    inputDuplicates += n - 1;
    if (seq >= end) end = seq + 1;
  }
  let lost = 0;
  let duplicates = 0;
  const duplicateAt: string[] = [];
  for (let seq = 0; seq < end; seq++) {
    const n = seen.get(seq) ?? 0;
    const w = written.get(seq) ?? 1;
    if (n < w) lost += w - n;
    else duplicates += n - w;
    if (n > w && duplicateAt.length < 20) {
      duplicateAt.push(`${seq}: ${where.get(seq)!.join(" ")}`);
    }
  }
  const truth = new Map<string, number>();
  for (let seq = 0; seq < end; seq++) {
    const k = `k${seq % KEYS}`;
    truth.set(k, (truth.get(k) ?? 0) + (written.get(seq) ?? 1));
  }
  const changelog = await readAll(`${id}-counts-changelog`, true);
  // The table as a worker restores it: the last record per key, leaving
  // out (per partition) a record stamped with a lower writer generation
  // than one before it (a late writer that had lost the partition). The
  // plain last record per key is kept too, to report.
  const table = new Map<string, number>();
  const lastWins = new Map<string, Read>();
  const highest = new Map<number, number>();
  for (const r of changelog) {
    if (r.key === null) continue;
    const key = r.key; // keyType "string": raw UTF-8
    lastWins.set(key, r);
    if (r.generation !== undefined) {
      const max = highest.get(r.partition) ?? -1;
      if (r.generation < max) continue;
      highest.set(r.partition, r.generation);
    }
    if (r.value === null) table.delete(key);
    else table.set(key, Number(JSON.parse(r.value)));
  }
  const tableWrong: string[] = [];
  const tableUnder: string[] = [];
  const lastRecordUnder: string[] = [];
  for (const [k, n] of truth) {
    const got = table.get(k) ?? 0;
    if (got !== n) tableWrong.push(`${k}: ${got} != ${n}`);
    if (got < n) tableUnder.push(`${k}: ${got} < ${n}`);
    const last = lastWins.get(k);
    const raw = last?.value == null ? 0 : Number(JSON.parse(last.value));
    if (raw < n) {
      lastRecordUnder.push(
        `${k}: ${raw} < ${n} (${last?.partition}@${last?.offset} generation ${last?.generation})`,
      );
    }
  }
  let outsideTransactions = 0;
  if (checkTransactions) {
    for (const topic of [`${id}-out`, `${id}-counts-changelog`]) {
      const raw = await readAll(topic, false);
      outsideTransactions += raw.filter((r) => !r.inTransaction).length;
    }
  }
  return {
    sent,
    outputs: out.length,
    lost,
    duplicates,
    inputDuplicates,
    duplicateAt,
    tableWrong,
    tableUnder,
    lastRecordUnder,
    outsideTransactions,
  };
}

/** Create the churn topics up front (6 partitions each). */
export async function createTopics(id: string): Promise<void> {
  const t = await startTransport();
  try {
    for (const name of [`${id}-in`, `${id}-out`]) {
      await t.createTopic({ name, partitions: PARTITIONS });
    }
  } finally {
    await t.stop();
  }
}
