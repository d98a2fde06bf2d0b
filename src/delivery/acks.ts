/**
 * Ack bookkeeping per partition: which delivered offsets are still being
 * processed, and the highest offset that is safe to commit. The committable
 * offset never passes the lowest unacked offset, whatever the order of acks
 * (the faust-streaming#606 loss cannot happen).
 *
 * @module
 */

/** Tracks delivered and acked offsets of one partition. */
export class PartitionTracker {
  #pending: number[] = [];
  #head = 0;
  readonly #ackedAhead = new Set<number>();
  #next: number;
  /** Offset last committed to the broker (next offset to read). */
  committed: number;

  /** Start tracking from `position`, the next offset to be delivered. */
  constructor(position: number) {
    this.#next = position;
    this.committed = position;
  }

  /** The offset after the last delivered one (where delivery goes on). */
  get next(): number {
    return this.#next;
  }

  /** Number of delivered, unacked offsets. */
  get inFlight(): number {
    return this.#pending.length - this.#head - this.#ackedAhead.size;
  }

  /** Record that `offset` was delivered to streams. Offsets must increase. */
  delivered(offset: number): void {
    this.#pending.push(offset);
    this.#next = offset + 1;
  }

  /** Record that every stream finished with `offset`. */
  acked(offset: number): void {
    if (this.#pending[this.#head] === offset) {
      this.#head++;
      while (
        this.#head < this.#pending.length &&
        this.#ackedAhead.delete(this.#pending[this.#head]!)
      ) {
        this.#head++;
      }
      if (this.#head > 4096 && this.#head * 2 > this.#pending.length) {
        this.#pending = this.#pending.slice(this.#head);
        this.#head = 0;
      }
    } else {
      this.#ackedAhead.add(offset);
    }
  }

  /** The offset to commit: the lowest unacked offset, or the next to deliver when all are acked. */
  committable(): number {
    return this.#head < this.#pending.length
      ? this.#pending[this.#head]!
      : this.#next;
  }
}
