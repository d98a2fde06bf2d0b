/**
 * Where kafkajs log lines go. kafkajs logs through its own logger; the
 * transport gives it this log creator so tests and workers see no console
 * spam: ERROR lines go to `console.error` (so failures stay visible) as one
 * line each, with a timestamp, the broker address and the error, never a
 * stack; the same line repeated within 5 s (every retry of every request
 * while a broker is down) is counted and the count shown on the next one.
 * The per-request `[Connection] Response ...` lines that kafkajs logs at
 * ERROR even for retriable answers (coordinator loading, rebalance in
 * progress) are dropped. Everything below ERROR is dropped for now: the
 * app's logging layer can replace {@linkcode setKafkaLogSink} later.
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

/** Fields of a kafkajs entry worth a place on its one line (never `stack`). */
const FIELDS = ["broker", "groupId", "topic", "retryCount", "retryTime"];

/** Identical lines (namespace, message, broker, error) within this window are counted, not printed. */
const REPEAT_WINDOW_MS = 5000;

const lastPrinted = new Map<string, { at: number; suppressed: number }>();

function errorText(e: unknown): string | undefined {
  if (e === undefined || e === null) return undefined;
  if (typeof e === "string") return e;
  const err = e as { name?: unknown; message?: unknown; type?: unknown };
  if (typeof err.message === "string") {
    const type = typeof err.type === "string" ? ` [${err.type}]` : "";
    return `${
      typeof err.name === "string" ? err.name : "Error"
    }: ${err.message}${type}`;
  }
  return String(e);
}

/**
 * One line for a kafkajs entry: time, component, message, then the broker
 * address, the error and the retry count; never the stack (a broker outage
 * otherwise prints hundreds of multi-line objects).
 *
 * @param entry A kafkajs log entry.
 * @returns The line, without a trailing newline.
 */
export function formatKafkaLogEntry(entry: KafkaLogEntry): string {
  const { message, timestamp } = entry.log;
  const parts: string[] = [];
  for (const f of FIELDS) {
    const v = entry.log[f];
    if (v !== undefined && v !== null && v !== "") parts.push(`${f}=${v}`);
  }
  const error = errorText(entry.log.error);
  if (error !== undefined && !message.includes(error)) {
    parts.push(`error="${error}"`);
  }
  const when = typeof timestamp === "string"
    ? timestamp
    : new Date().toISOString();
  return `${when} kafkajs ${entry.namespace} ${entry.label}: ${message}${
    parts.length > 0 ? ` (${parts.join(", ")})` : ""
  }`;
}

function defaultSink(entry: KafkaLogEntry): void {
  if (entry.level !== logLevel.ERROR && entry.level !== logLevel.NOTHING) {
    return;
  }
  const { message } = entry.log;
  if (entry.namespace === "Connection" && message.startsWith("Response")) {
    return;
  }
  // The same failure repeats on every retry of every request while a broker
  // is down: one line per kind every few seconds, with how many were folded.
  const key = `${entry.namespace}\u0000${message}\u0000${
    entry.log.broker ?? ""
  }\u0000${errorText(entry.log.error) ?? ""}`;
  const now = Date.now();
  const last = lastPrinted.get(key);
  if (last !== undefined && now - last.at < REPEAT_WINDOW_MS) {
    last.suppressed++;
    return;
  }
  const folded = last !== undefined && last.suppressed > 0
    ? ` [${last.suppressed} more like it in the last ${
      Math.round((now - last.at) / 1000)
    } s]`
    : "";
  lastPrinted.set(key, { at: now, suppressed: 0 });
  if (lastPrinted.size > 1000) lastPrinted.clear();
  console.error(formatKafkaLogEntry(entry) + folded);
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
