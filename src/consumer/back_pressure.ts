/**
 * Back-pressure: a partition whose stream buffer is full (or whose sends
 * wait for the broker) is paused, its fetched records held; it resumes
 * once, when that buffer is half empty (or the producer ebbs), and refills
 * the buffer from the same backlog array in one pass.
 *
 * @module
 */
import type { TransportRecord } from "../transport/transport.ts";
import { parseTpKey } from "../util/types.ts";
import type { ConsumerState } from "./state.ts";

/** Holds and resumes partitions. */
export class BackPressure {
  readonly #s: ConsumerState;
  readonly #deliver: (
    k: string,
    records: TransportRecord[],
    at: number,
  ) => void;

  /**
   * Over the shared consumer state `s`; `deliver` hands held records over
   * again (and calls {@linkcode block} when a buffer fills again).
   */
  constructor(
    s: ConsumerState,
    deliver: (k: string, records: TransportRecord[], at: number) => void,
  ) {
    this.#s = s;
    this.#deliver = deliver;
  }

  /** Hold `records[from..]` (and what follows) and pause their partition, once per stall. */
  block(
    k: string,
    records: TransportRecord[],
    from: number,
    counter: string,
  ): void {
    const s = this.#s;
    s.blocked.set(k, { records, at: from });
    if (!s.paused.has(k)) {
      s.paused.add(k);
      s.host.monitor.count(counter);
      s.consumer?.pause([records[from]!]);
    }
  }

  /** Deliver what partition `k` holds; resume it when all of that fits. */
  unblock(k: string): void {
    const s = this.#s;
    // An exactly-once commit empties the buffers (which calls this): an
    // event delivered now would send into the transaction being committed
    // without its offset. Deliver after the commit.
    const barrier = s.barrier;
    if (barrier !== undefined) {
      void barrier.then(() => this.unblock(k));
      return;
    }
    const blocked = s.blocked.get(k);
    s.blocked.delete(k);
    if (blocked === undefined || !s.trackers.has(k) || s.failed) {
      return;
    }
    // Delivered in place (no copying: a long backlog costs O(1) per record);
    // when full again, block() keeps the same array from where it stopped.
    this.#deliver(k, blocked.records, blocked.at);
    const again = s.blocked.get(k);
    if (again !== undefined) {
      if (again.at > 1024 && again.at * 2 > again.records.length) {
        again.records.splice(0, again.at);
        again.at = 0;
      }
      return;
    }
    s.paused.delete(k);
    s.consumer?.resume([parseTpKey(k)]);
  }
}
