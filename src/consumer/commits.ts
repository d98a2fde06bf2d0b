/**
 * Commits: acks count toward a commit every `brokerCommitEvery` events (and
 * the conductor commits every `brokerCommitInterval`); each partition
 * commits up to its lowest unacked offset, after what the acked events
 * produced is durable. Commits run strictly one at a time. Exactly-once
 * commits go through the transactions instead (see `exactly_once.ts`).
 *
 * @module
 */
import type { PartitionTracker } from "../delivery/acks.ts";
import { errorLine } from "../errors.ts";
import type { CommitOffset } from "../transport/transport.ts";
import { parseTpKey, type TP, tpKey } from "../util/types.ts";
import type { ConsumerState } from "./state.ts";

/** Offsets that advanced since the last commit, with their trackers. */
export interface Progress {
  /** What to commit, per partition. */
  readonly offsets: CommitOffset[];
  /** The tracker of each, with the offset to record once committed. */
  readonly trackers: Array<[PartitionTracker, number]>;
}

/** Ack counting and the at-least-once commit. */
export class Commits {
  readonly #s: ConsumerState;
  readonly #exactlyOnce: () => Promise<void>;
  #acksSinceCommit = 0;
  /** Commits made (their acks counted from zero again). */
  #resets = 0;
  #commitDue = false;
  #chain: Promise<void> = Promise.resolve();
  /** Commits queued or running on `#chain`. */
  #queued = 0;
  /**
   * Exactly-once: no periodic commit before this time (`performance.now()`),
   * so that events get at least as much time as the last commit held
   * delivery. Without it, commits slower than `brokerCommitInterval` (a
   * loaded broker) ran back to back, and an agent that awaits its sends
   * processed about one event per commit.
   */
  notBefore = 0;

  /**
   * Commits over the shared consumer state `s`; `exactlyOnce` commits
   * instead when the host commits through transactions.
   */
  constructor(s: ConsumerState, exactlyOnce: () => Promise<void>) {
    this.#s = s;
    this.#exactlyOnce = exactlyOnce;
  }

  /** Settles when the commits queued so far have run. */
  get settled(): Promise<void> {
    return this.#chain;
  }

  /** A commit is about to be made: the acks counted so far are in it. */
  resetCount(): void {
    this.#acksSinceCommit = 0;
    this.#resets++;
  }

  /** Every stream finished with `offset` of partition `k` (tracked by `from`). */
  acked(k: string, offset: number, from: PartitionTracker): void {
    const s = this.#s;
    const tracker = s.trackers.get(k);
    if (tracker === undefined || tracker !== from) return;
    tracker.acked(offset);
    s.host.monitor.eventDone();
    ++this.#acksSinceCommit;
    this.#commitIfDue();
  }

  /**
   * Commit when `brokerCommitEvery` acks came since the last commit. One
   * commit per threshold: acks that arrive while it waits (for the producer
   * to flush) must not each queue another commit, but when they reach the
   * threshold again meanwhile, the next commit follows it.
   */
  #commitIfDue(): void {
    if (
      this.#commitDue ||
      this.#acksSinceCommit < this.#s.host.conf.brokerCommitEvery
    ) return;
    this.#commitDue = true;
    const resets = this.#resets;
    void this.commit().finally(() => {
      this.#commitDue = false;
      // Only after a commit that was made: one with nothing to commit
      // leaves the count as it was, and would repeat at once.
      if (this.#resets !== resets) this.#commitIfDue();
    });
  }

  /** Offsets that advanced since the last commit, with their trackers. */
  progress(only?: readonly TP[]): Progress {
    const wanted = only === undefined ? undefined : new Set(only.map(tpKey));
    const offsets: CommitOffset[] = [];
    const trackers: Array<[PartitionTracker, number]> = [];
    for (const [k, t] of this.#s.trackers) {
      if (wanted !== undefined && !wanted.has(k)) continue;
      const c = t.committable();
      if (c > t.committed) {
        offsets.push({ ...parseTpKey(k), offset: c });
        trackers.push([t, c]);
      }
    }
    return { offsets, trackers };
  }

  /** Record that `progress` (taken at `t0`) is committed. */
  committed(progress: Progress, t0: number): void {
    const { monitor } = this.#s.host;
    for (const [t, c] of progress.trackers) t.committed = c;
    for (const o of progress.offsets) {
      monitor.partition(o).committed = o.offset;
    }
    monitor.count("commits");
    for (const s of monitor.sensors) {
      s.onCommitCompleted?.(performance.now() - t0);
    }
  }

  /**
   * The timer's commit: skipped while another commit is queued or running
   * (they would pile up behind a slow one), and under exactly-once until
   * the events had as much time as the last commit took.
   */
  periodic(): void {
    if (this.#queued > 0) return;
    if (performance.now() < this.notBefore) return;
    void this.commit();
  }

  /** Commit, for every partition (or those `only`), up to its lowest unacked offset. */
  async commit(only?: readonly TP[]): Promise<void> {
    // Strictly one at a time: two commits computing the same offsets while
    // the producer flushes would both send them.
    this.#queued++;
    const run = this.#chain.then(() => this.#commitNow(only)).finally(
      () => this.#queued--,
    );
    this.#chain = run.catch(() => {});
    await run;
  }

  async #commitNow(only?: readonly TP[]): Promise<void> {
    const { host } = this.#s;
    const consumer = this.#s.consumer;
    if (consumer === undefined) return;
    if (host.commitTransaction !== undefined) {
      return await this.#exactlyOnce();
    }
    const progress = this.progress(only);
    if (progress.offsets.length === 0) return;
    this.resetCount();
    try {
      await host.beforeCommit();
    } catch (error) {
      // What the acked events produced is not durable: committing now could lose it.
      host.monitor.count("commitErrors");
      host.log.error(
        "Not committing: flushing sends and tables failed: {error}",
        { error: errorLine(error) },
      );
      host.crash(
        error instanceof Error ? error : new Error(String(error)),
      );
      return;
    }
    const t0 = performance.now();
    await consumer.commit(progress.offsets).then(() => {
      this.committed(progress, t0);
    }, (error) => {
      host.monitor.count("commitErrors");
      host.log.error(
        "Commit failed (will retry at the next interval): {error}",
        { error: errorLine(error) },
      );
    });
  }
}
