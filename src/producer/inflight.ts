/**
 * A count of operations in progress with a low-water wake-up: `ebb(limit)`
 * is `undefined` while fewer than `limit` are in progress, else a promise
 * that resolves once they are down to half of it. The app counts topic
 * sends with it, from the call (before any await) until the broker
 * acknowledged or refused the record, and the consumer waits on it before
 * delivering more events.
 *
 * @module
 */

/**
 * Operations in progress, with a wait for them to ebb.
 */
export class InFlight {
  #count = 0;
  #limit = Infinity;
  #waiters: Array<() => void> = [];
  /** Operations begun and not ended. */
  get count(): number {
    return this.#count;
  }

  /** One more operation in progress. */
  begin(): void {
    this.#count++;
  }

  /** One operation ended (succeeded or failed). */
  end(): void {
    this.#count--;
    if (this.#waiters.length > 0 && this.#count <= this.#limit / 2) {
      this.#limit = Infinity;
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /**
   * `undefined` while fewer than `limit` operations are in progress, else a
   * promise resolved once they are down to half of `limit`.
   *
   * @param limit Operations in progress that make callers wait.
   * @returns Nothing to wait for, or what to wait on.
   */
  ebb(limit: number): Promise<void> | undefined {
    if (this.#count < limit) return undefined;
    this.#limit = Math.min(this.#limit, limit);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
