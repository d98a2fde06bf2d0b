/**
 * Where kafkajs log lines go. kafkajs logs through its own logger; the
 * transport gives it this log creator so tests and workers see no console
 * spam: ERROR lines go to `console.error` (so failures stay visible), except
 * the per-request `[Connection] Response ...` lines that kafkajs logs at
 * ERROR even for retriable answers (coordinator loading, rebalance in
 * progress) and lines with a `retryCount` (logged before kafkajs retries);
 * the operation that fails for good is thrown to the caller or logged on
 * its own. Everything else is dropped for now: the app's logging layer can
 * replace {@linkcode setKafkaLogSink} later.
 *
 * @module
 */
import { type LogEntry, logLevel } from "kafkajs";

/** A kafkajs log entry (kafkajs' `LogEntry`). */
export interface KafkaLogEntry {
  /** kafkajs component, e.g. `"Consumer"`, `"Connection"`. */
  readonly namespace: string;
  /** kafkajs level: 1 error, 2 warn, 4 info, 5 debug. */
  readonly level: number;
  /** Level name. */
  readonly label: string;
  /** The message and its fields. */
  readonly log: {
    readonly message: string;
    readonly timestamp: string;
    readonly [field: string]: unknown;
  };
}

/** A function that receives kafkajs log entries. */
export type KafkaLogSink = (entry: KafkaLogEntry) => void;

function defaultSink(entry: KafkaLogEntry): void {
  if (entry.level !== logLevel.ERROR && entry.level !== logLevel.NOTHING) {
    return;
  }
  const { message, timestamp: _t, ...rest } = entry.log;
  if (entry.namespace === "Connection" && message.startsWith("Response")) {
    return;
  }
  // Logged before kafkajs retries; a final failure reaches the caller.
  if (rest.retryCount !== undefined) return;
  console.error(`kafkajs ${entry.namespace}: ${message}`, rest);
}

let sink: KafkaLogSink = defaultSink;

/**
 * Replace where kafkajs log entries go (all transports in the process).
 *
 * @param next The new sink, or `undefined` for the default (errors to `console.error`).
 */
export function setKafkaLogSink(next: KafkaLogSink | undefined): void {
  sink = next ?? defaultSink;
}

/** The kafkajs `logCreator` that forwards to the current sink. */
export function kafkaLogCreator(_level: logLevel): (entry: LogEntry) => void {
  return (entry) => sink(entry);
}
