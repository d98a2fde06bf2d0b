/**
 * The dashboard's memory: a sample of the app's rates, lag and latencies
 * every few seconds, the last few minutes of them, for its charts.
 *
 * @module
 */
import type { AppStats, Latency } from "./stats.ts";

/** One sample. */
export interface Sample {
  /** When (ms since the epoch). */
  readonly t: number;
  /** Events processed per second. */
  readonly eventsPerSecond: number;
  /** Per consumed topic: end minus read offsets. */
  readonly lag: Readonly<Record<string, number>>;
  /** Average commit latency since the previous sample (ms), if any commit. */
  readonly commitMs: number | undefined;
  /** Average send latency since the previous sample (ms), if any send. */
  readonly sendMs: number | undefined;
}

/** Samples of the last `maxSamples` intervals. */
export class StatsHistory {
  /** Samples, oldest first. */
  readonly samples: Sample[] = [];
  /** Samples kept. */
  readonly maxSamples: number;
  #commit: Latency = { count: 0, sum: 0, max: 0 };
  #send: Latency = { count: 0, sum: 0, max: 0 };

  /**
   * Create a history.
   *
   * @param maxSamples Samples kept (150 at 2 s: five minutes).
   */
  constructor(maxSamples = 150) {
    this.maxSamples = maxSamples;
  }

  /**
   * Add a sample taken from a snapshot.
   *
   * @param s The snapshot.
   * @param now Its time (ms since the epoch).
   */
  record(s: AppStats, now: number = Date.now()): void {
    const since = (l: Latency, prev: Latency) =>
      l.count > prev.count
        ? (l.sum - prev.sum) / (l.count - prev.count)
        : undefined;
    const lag: Record<string, number> = {};
    for (const t of s.topics) {
      if (t.kind === "source") lag[t.name] = t.behind;
    }
    this.samples.push({
      t: now,
      eventsPerSecond: s.eventsPerSecond,
      lag,
      commitMs: since(s.latency.commit, this.#commit),
      sendMs: since(s.latency.send, this.#send),
    });
    this.#commit = { ...s.latency.commit };
    this.#send = { ...s.latency.send };
    while (this.samples.length > this.maxSamples) this.samples.shift();
  }
}
