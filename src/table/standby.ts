/**
 * Standby replicas: a follower that keeps standby changelog partitions up
 * to date in the local store, so a takeover replays only what is new.
 *
 * @module
 */
import { errorLine } from "../errors.ts";
import { recoverPartition, type RecoveryOptions } from "./recovery.ts";

/**
 * Keeps standby partitions up to date: every `intervalMs`, reads what was
 * appended to them since the stored offset and applies it.
 */
export class StandbyFollower {
  readonly #o: RecoveryOptions;
  readonly #intervalMs: number;
  readonly #controller = new AbortController();
  #partitions: number[] = [];
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** Records applied since the follower started. */
  records = 0;

  /**
   * Create a follower (not started).
   *
   * @param o Recovery options; `bufferSize` is the standby buffer size.
   * @param intervalMs Milliseconds between rounds.
   */
  constructor(o: RecoveryOptions, intervalMs = 1000) {
    this.#o = {
      ...o,
      signal: this.#controller.signal,
      keep: (p) => this.#partitions.includes(p),
    };
    this.#intervalMs = intervalMs;
  }

  /** Partitions followed. */
  get partitions(): readonly number[] {
    return this.#partitions;
  }

  /**
   * Follow these partitions from now on (replacing the previous list).
   *
   * @param partitions Standby changelog partitions.
   */
  follow(partitions: readonly number[]): void {
    this.#partitions = [...partitions];
    if (this.#loop === undefined && this.#partitions.length > 0) {
      this.#loop = this.#run();
    }
  }

  /** Stop following and wait for the loop to end. */
  async stop(): Promise<void> {
    this.#controller.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#intervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (signal.aborted) break;
      for (const p of this.#partitions) {
        // The list may have changed during this round (see `keep`).
        if (!this.#partitions.includes(p)) continue;
        try {
          this.records += await recoverPartition(this.#o, p);
        } catch (error) {
          this.#o.log.error(
            "Table {table}: following standby partition {partition} failed (retrying): {error}",
            { table: this.#o.table, partition: p, error: errorLine(error) },
          );
        }
      }
    }
  }
}
