/**
 * The command line every peer program takes (bench/peers protocol) and the
 * one-JSON-object-per-line stdout it writes.
 *
 * @module
 */

/** Parsed peer command line. */
export interface PeerArgs {
  /** `forward`, `count`, `window` (tumbling-window sum) or `ask` (RPC round trips, ours only). */
  readonly workload: Workload;
  /** Broker URL: `kafka://host:port` (from `--bootstrap`) or `--broker local://PATH`. */
  readonly broker: string;
  /** `host:port` of the Kafka bootstrap server ("" with a local:// broker). */
  readonly bootstrap: string;
  /** Input topic. */
  readonly input: string;
  /** Output topic (forward). */
  readonly output: string;
  /** Consumer group / application id. */
  readonly appId: string;
  /** Events to process before `done`; 0 = print `ready` and idle. */
  readonly expect: number;
  /** Events to process before `warm`. */
  readonly warmup: number;
  /** State directory (datadir of the app). */
  readonly stateDir: string;
  /** Await every send's acknowledgement before the next event (ours only). */
  readonly awaitSend: boolean;
  /** `processingGuarantee: "exactly_once"` (ours only). */
  readonly exactlyOnce: boolean;
  /** Extra table options as JSON (ours only), e.g. a changelog cache setting. */
  readonly tableOptions: Record<string, unknown>;
  /**
   * `brokerCommitEvery` (ours only): commit after this many events; 0 =
   * commit on the `brokerCommitInterval` only, as Kafka Streams does;
   * undefined = the App default.
   */
  readonly commitEvery: number | undefined;
}

/** The workloads a peer program runs. */
export type Workload = "forward" | "count" | "window" | "ask";

const WORKLOADS: readonly Workload[] = ["forward", "count", "window", "ask"];

/**
 * Parse the peer command line.
 *
 * @param args `Deno.args`.
 * @returns The parsed arguments.
 * @throws {Error} Naming the flag that is missing or invalid.
 */
export function parsePeerArgs(args: readonly string[]): PeerArgs {
  const get = (name: string, fallback?: string): string => {
    const i = args.indexOf(`--${name}`);
    const v = i >= 0 ? args[i + 1] : fallback;
    if (v === undefined) throw new Error(`missing --${name}`);
    return v;
  };
  const workload = get("workload") as Workload;
  if (!WORKLOADS.includes(workload)) {
    throw new Error(
      `invalid --workload ${workload}: expected one of ${WORKLOADS.join(", ")}`,
    );
  }
  const tableOptions = JSON.parse(get("table-options", "{}"));
  if (typeof tableOptions !== "object" || tableOptions === null) {
    throw new Error(`invalid --table-options: expected a JSON object`);
  }
  const int = (name: string, fallback?: string): number => {
    const n = Number(get(name, fallback));
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`invalid --${name}: expected an integer >= 0`);
    }
    return n;
  };
  const bootstrap = get("bootstrap", "");
  const broker = get("broker", bootstrap === "" ? "" : `kafka://${bootstrap}`);
  if (broker === "") throw new Error("missing --bootstrap or --broker");
  return {
    workload,
    broker,
    bootstrap,
    input: get("input"),
    output: get("output", ""),
    appId: get("app-id"),
    expect: int("expect"),
    warmup: int("warmup", "0"),
    stateDir: get("state-dir"),
    awaitSend: args.includes("--await-send"),
    exactlyOnce: args.includes("--exactly-once"),
    tableOptions,
    commitEvery: args.includes("--commit-every")
      ? int("commit-every")
      : undefined,
  };
}

const enc = new TextEncoder();

/**
 * Write one protocol line (a JSON object) to stdout, synchronously.
 *
 * @param obj The event object.
 */
export function emit(obj: Record<string, unknown>): void {
  const bytes = enc.encode(JSON.stringify(obj) + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** The input record value of the protocol. */
export interface InputValue {
  /** Record number. */
  readonly id: number;
  /** The key as a word, `k<i % K>`. */
  readonly word: string;
  /** `i % 100`. */
  readonly n: number;
}

/**
 * Summary of a key -> count map, as the `count` result.
 *
 * @param counts Count values.
 * @returns keys, total, min, max.
 */
export function summarize(
  counts: Iterable<number>,
): { keys: number; total: number; min: number; max: number } {
  let keys = 0;
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const c of counts) {
    keys++;
    total += c;
    if (c < min) min = c;
    if (c > max) max = c;
  }
  return {
    keys,
    total,
    min: keys === 0 ? 0 : min,
    max: keys === 0 ? 0 : max,
  };
}

/** Size of the tumbling windows of the `window` workload (1 minute). */
export const WINDOW_MS = 60_000;

/** The `window` result: every (key, window) pair of the table. */
export interface WindowSummary {
  /** (key, window) pairs. */
  readonly pairs: number;
  /** Sum of all window sums (= sum of `n` over the input). */
  readonly total: number;
  /** Smallest window sum. */
  readonly min: number;
  /** Largest window sum. */
  readonly max: number;
  /** Checksum: sum of value * (key index + 1) * (window start minute % 7 + 1). */
  readonly weighted: number;
}

/**
 * Summary of the windows of a tumbling-window sum, as the `window` result.
 * Every peer computes the same checksum, so a value in the wrong window or
 * under the wrong key changes it.
 *
 * @param windows `[word, window start in ms since the epoch, sum]` triples.
 * @returns pairs, total, min, max, weighted.
 */
export function summarizeWindows(
  windows: Iterable<readonly [string, number, number]>,
): WindowSummary {
  let pairs = 0, total = 0, weighted = 0;
  let min = Infinity, max = -Infinity;
  for (const [word, startMs, v] of windows) {
    pairs++;
    total += v;
    if (v < min) min = v;
    if (v > max) max = v;
    const minute = Math.floor(startMs / WINDOW_MS);
    weighted += v * (Number(word.slice(1)) + 1) * ((minute % 7) + 1);
  }
  return {
    pairs,
    total,
    min: pairs === 0 ? 0 : min,
    max: pairs === 0 ? 0 : max,
    weighted,
  };
}
