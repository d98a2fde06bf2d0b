/**
 * The monitor: counters and per-partition positions the app keeps while
 * running, read by the web views and the CLI. Sensors receive the same
 * hooks (`app.sensors.add`).
 *
 * @module
 */
import type { TP } from "../util/types.ts";
import { tpKey } from "../util/types.ts";

/**
 * Hooks a sensor may implement; every one is optional.
 *
 * @example Counting table writes
 * ```ts
 * import type { Sensor } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * let writes = 0;
 * const sensor: Sensor = {
 *   onTableOp(_table, op) {
 *     if (op === "set") writes++;
 *   },
 * };
 * const app = testApp("sensor");
 * app.sensors.add(sensor);
 * ```
 */
export interface Sensor {
  /** A record was read from the broker. */
  onMessageIn?(tp: TP, offset: number): void;
  /** An event was handed to a stream. */
  onStreamEventIn?(tp: TP, offset: number, stream: string): void;
  /** A stream acked an event. */
  onStreamEventOut?(tp: TP, offset: number, stream: string): void;
  /** A record was produced. */
  onSendCompleted?(topic: string, latencyMs: number): void;
  /** A send failed. */
  onSendError?(topic: string, error: unknown): void;
  /** Offsets were committed. */
  onCommitCompleted?(latencyMs: number): void;
  /** A table key was read, written or deleted. */
  onTableOp?(table: string, op: "get" | "set" | "del"): void;
  /** Partitions were assigned. */
  onAssignment?(assigned: readonly TP[]): void;
  /** A web request finished. */
  onWebRequest?(
    method: string,
    path: string,
    status: number,
    latencyMs: number,
  ): void;
}

/**
 * Per-partition positions.
 *
 * @example Lag per partition
 * ```ts
 * import type { PartitionStats } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("partition-stats");
 * const lag = (p: PartitionStats) => Math.max(0, p.end - p.read);
 * for (const p of app.monitor.partitions.values()) {
 *   console.log(`${p.topic}[${p.partition}] lag ${lag(p)}`);
 * }
 * ```
 */
export interface PartitionStats {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Next offset to read (consumer position). */
  read: number;
  /** Last committed offset. */
  committed: number;
  /** High-water mark last seen. */
  end: number;
}

/**
 * Count, sum and maximum of observed latencies (milliseconds).
 *
 * @example Average send latency
 * ```ts
 * import type { LatencyStats } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("latency");
 * const average = (s: LatencyStats) => (s.count > 0 ? s.sum / s.count : 0);
 * console.log(`send latency ${average(app.monitor.sendLatency)} ms`);
 * ```
 */
export interface LatencyStats {
  /** Number of observations. */
  count: number;
  /** Sum of the observations. */
  sum: number;
  /** Largest observation. */
  max: number;
}

function observe(stats: LatencyStats, ms: number): void {
  stats.count++;
  stats.sum += ms;
  if (ms > stats.max) stats.max = ms;
}

function summary(
  stats: LatencyStats,
): { count: number; avg: number; max: number } {
  return {
    count: stats.count,
    avg: stats.count > 0 ? stats.sum / stats.count : 0,
    max: stats.max,
  };
}

/**
 * Counters kept by the app.
 *
 * @example Reading the app's counters
 * ```ts
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("monitor");
 * const words = app.topic("words", { valueType: "string" });
 * await app.start();
 * try {
 *   await words.send({ value: "hello" });
 *   assert.equal(app.monitor.sentByTopic.get("words"), 1);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Monitor {
  /** Named counters (messagesReceived, messagesSent, decodeErrors, ...). */
  readonly counters: Map<string, number> = new Map();
  /** Messages received per topic. */
  readonly receivedByTopic: Map<string, number> = new Map();
  /** Messages sent per topic. */
  readonly sentByTopic: Map<string, number> = new Map();
  /** Positions per partition. */
  readonly partitions: Map<string, PartitionStats> = new Map();
  /** Sensors receiving hooks. */
  readonly sensors: Set<Sensor> = new Set();
  /** When the monitor was created (ms). */
  readonly startedAt: number = Date.now();
  /** Web responses by status code. */
  readonly httpResponses: Map<number, number> = new Map();
  /** Send latency in milliseconds: count, sum and maximum. */
  readonly sendLatency: LatencyStats = { count: 0, sum: 0, max: 0 };
  /** Web request latency in milliseconds: count, sum and maximum. */
  readonly webLatency: LatencyStats = { count: 0, sum: 0, max: 0 };
  #rateWindow: Array<[number, number]> = [];

  /** Add `n` to a counter. */
  count(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  /** Value of a counter (0 when never counted). */
  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** @internal A record came in. */
  messageIn(tp: TP, offset: number): void {
    this.count("messagesReceived");
    this.receivedByTopic.set(
      tp.topic,
      (this.receivedByTopic.get(tp.topic) ?? 0) + 1,
    );
    const s = this.partition(tp);
    s.read = offset + 1;
    if (s.end < s.read) s.end = s.read;
    for (const sensor of this.sensors) sensor.onMessageIn?.(tp, offset);
  }

  /**
   * @internal `n` records of one partition came in, the last at `last`
   * (counters only: sensors' `onMessageIn` is called per record by the
   * consumer).
   */
  messagesIn(last: TP & { readonly offset: number }, n: number): void {
    this.count("messagesReceived", n);
    this.receivedByTopic.set(
      last.topic,
      (this.receivedByTopic.get(last.topic) ?? 0) + n,
    );
    const s = this.partition(last);
    s.read = last.offset + 1;
    if (s.end < s.read) s.end = s.read;
  }

  /** @internal A record went out. */
  messageOut(topic: string, latencyMs: number): void {
    this.count("messagesSent");
    this.sentByTopic.set(topic, (this.sentByTopic.get(topic) ?? 0) + 1);
    observe(this.sendLatency, latencyMs);
    for (const sensor of this.sensors) {
      sensor.onSendCompleted?.(topic, latencyMs);
    }
  }

  /**
   * @internal `n` records of `topic` went out, with the sum and the
   * maximum of their latencies (counters only: the producer calls
   * sensors' `onSendCompleted` per record).
   */
  messagesOut(
    topic: string,
    n: number,
    latencySumMs: number,
    latencyMaxMs: number,
  ): void {
    this.count("messagesSent", n);
    this.sentByTopic.set(topic, (this.sentByTopic.get(topic) ?? 0) + n);
    const stats = this.sendLatency;
    stats.count += n;
    stats.sum += latencySumMs;
    if (latencyMaxMs > stats.max) stats.max = latencyMaxMs;
  }

  /** @internal A web request finished (called by the web server). */
  webRequest(
    method: string,
    path: string,
    status: number,
    latencyMs: number,
  ): void {
    this.count("webRequests");
    this.httpResponses.set(status, (this.httpResponses.get(status) ?? 0) + 1);
    observe(this.webLatency, latencyMs);
    for (const sensor of this.sensors) {
      sensor.onWebRequest?.(method, path, status, latencyMs);
    }
  }

  /** @internal An event finished processing. */
  eventDone(): void {
    this.count("eventsProcessed");
  }

  /** Stats of one partition (created on first use). */
  partition(tp: TP): PartitionStats {
    const k = tpKey(tp);
    let s = this.partitions.get(k);
    if (s === undefined) {
      s = {
        topic: tp.topic,
        partition: tp.partition,
        read: 0,
        committed: 0,
        end: 0,
      };
      this.partitions.set(k, s);
    }
    return s;
  }

  /** Events processed per second over the last ~10 seconds. */
  eventsPerSecond(): number {
    const now = Date.now();
    const total = this.get("eventsProcessed");
    this.#rateWindow.push([now, total]);
    while (
      this.#rateWindow.length > 2 && now - this.#rateWindow[0]![0] > 10_000
    ) this.#rateWindow.shift();
    const [t0, n0] = this.#rateWindow[0]!;
    // First reading: average since the monitor started rather than nothing.
    if (this.#rateWindow.length === 1) {
      return now > this.startedAt ? (total * 1000) / (now - this.startedAt) : 0;
    }
    return now > t0 ? ((total - n0) * 1000) / (now - t0) : 0;
  }

  /** A JSON-friendly snapshot. */
  snapshot(): Record<string, unknown> {
    return {
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      counters: Object.fromEntries(this.counters),
      receivedByTopic: Object.fromEntries(this.receivedByTopic),
      sentByTopic: Object.fromEntries(this.sentByTopic),
      httpResponses: Object.fromEntries(this.httpResponses),
      sendLatencyMs: summary(this.sendLatency),
      webLatencyMs: summary(this.webLatency),
      partitions: [...this.partitions.values()].map((p) => ({
        ...p,
        lag: Math.max(0, p.end - p.committed),
      })),
    };
  }
}
