/**
 * The command line every peer program takes (bench/peers protocol) and the
 * one-JSON-object-per-line stdout it writes.
 *
 * @module
 */

/** Parsed peer command line. */
export interface PeerArgs {
  /** `forward` or `count`. */
  readonly workload: "forward" | "count";
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
}

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
  const workload = get("workload");
  if (workload !== "forward" && workload !== "count") {
    throw new Error(
      `invalid --workload ${workload}: expected forward or count`,
    );
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
