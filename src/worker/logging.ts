/**
 * Logging of a worker process: logtape configured to write to stderr and,
 * when given, a log file.
 *
 * @module
 */
import {
  configure,
  defaultTextFormatter,
  type LogLevel as TapeLevel,
  type LogRecord,
  reset,
} from "@logtape/logtape";
import type { LogLevel } from "../settings/settings.ts";

const LEVELS: Record<LogLevel, TapeLevel> = {
  crit: "fatal",
  error: "error",
  warn: "warning",
  info: "info",
  debug: "debug",
};

/**
 * Configure logtape for a worker: records at `level` and above go to stderr
 * and, when given, appended to `logfile`. Writes are synchronous, so nothing
 * is lost when the process exits.
 *
 * @param level The lowest level logged.
 * @param logfile A file to append to as well.
 * @returns A function that closes the file and resets logging.
 */
export async function setupLogging(
  level: LogLevel,
  logfile?: string,
): Promise<() => Promise<void>> {
  const encoder = new TextEncoder();
  const write =
    (file: { writeSync(p: Uint8Array): number }) => (record: LogRecord) => {
      const bytes = encoder.encode(defaultTextFormatter(record));
      let off = 0;
      while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    };
  const file = logfile === undefined
    ? undefined
    : await Deno.open(logfile, { create: true, append: true });
  const sinks: Record<string, (r: LogRecord) => void> = {
    stderr: write(Deno.stderr),
  };
  if (file !== undefined) sinks.file = write(file);
  const ids = Object.keys(sinks);
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: [], sinks: ids, lowestLevel: LEVELS[level] },
      {
        category: ["logtape", "meta"],
        sinks: ids,
        lowestLevel: "warning",
        parentSinks: "override",
      },
    ],
  });
  return async () => {
    await reset();
    file?.close();
  };
}
