// The public test helpers, under the names the core tests use.
export { testApp as memApp, waitFor } from "../testing.ts";
import { configure, type LogRecord, reset } from "@logtape/logtape";

/** Log records captured by {@linkcode captureLogs}. */
export interface CapturedLogs {
  /** Every record of the `faust` category, in order. */
  readonly records: LogRecord[];
  /** The records' messages as a reader sees them (values filled in). */
  lines(): string[];
  /** Stop capturing. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Capture what the apps of this test log (logtape is configured per test
 * module: each runs in its own isolate, even with --parallel).
 */
export async function captureLogs(): Promise<CapturedLogs> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (r) => records.push(r) },
    loggers: [
      { category: ["faust"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  return {
    records,
    lines: () =>
      records.map((r) =>
        r.message.map((part) => typeof part === "string" ? part : String(part))
          .join("")
      ),
    [Symbol.asyncDispose]: () => reset(),
  };
}
