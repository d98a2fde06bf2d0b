/**
 * A bounded FIFO queue with async `put` (waits while full) and `get` (waits
 * while empty). It is the only buffer between a sender and an agent's loop.
 *
 * @module
 */
import { ClosedError } from "../errors.ts";

/** Bounded async FIFO queue. */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  #head = 0;
  readonly #getters: Array<(item: T | undefined) => void> = [];
  readonly #putters: Array<() => void> = [];
  /** Waiting for the size to fall to a level: `[level, fn]`. */
  readonly #spaceListeners: Array<[number, () => void]> = [];
  /** The highest level a listener waits for (-1: none waits). */
  #ebbAt = -1;
  #closed = false;
  /** Maximum number of items held. */
  readonly maxsize: number;

  /** Create a queue holding at most `maxsize` items. */
  constructor(maxsize: number) {
    this.maxsize = Math.max(1, maxsize);
  }

  /** Items waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True when another item would have to wait. */
  get full(): boolean {
    return this.size >= this.maxsize;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Add an item if there is room (or a getter waiting); false when full. */
  tryPut(item: T): boolean {
    if (this.#closed) throw new ClosedError("Cannot put into a closed queue");
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      getter(item);
      return true;
    }
    if (this.full) return false;
    this.#items.push(item);
    return true;
  }

  /** Add an item even when full (used for items already counted elsewhere). */
  forcePut(item: T): void {
    if (!this.tryPut(item)) this.#items.push(item);
  }

  /** Add an item, waiting while the queue is full. */
  async put(item: T, signal?: AbortSignal): Promise<void> {
    while (!this.tryPut(item)) {
      if (signal?.aborted) {
        throw new ClosedError("Put aborted: the receiver is stopping");
      }
      await new Promise<void>((resolve) => {
        this.#putters.push(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  /**
   * Call `fn` once the queue holds at most `level` items (default: half of
   * `maxsize`; right away when it already does). Waking a blocked sender at
   * half-empty, not at every freed slot, lets it hand over half a buffer at
   * once instead of one item per wake-up.
   */
  onEbb(fn: () => void, level: number = this.maxsize >> 1): void {
    if (this.size <= level) fn();
    else {
      this.#spaceListeners.push([level, fn]);
      if (level > this.#ebbAt) this.#ebbAt = level;
    }
  }

  /** Take the next item if one is waiting (never waits), else `undefined`. */
  poll(): T | undefined {
    return this.size > 0 ? this.#shift() : undefined;
  }

  /** Take the next item, waiting while empty; `undefined` once closed or aborted. */
  get(signal?: AbortSignal): Promise<T | undefined> {
    if (this.size > 0) return Promise.resolve(this.#shift());
    if (this.#closed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const getter = (item: T | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(item);
      };
      const onAbort = () => {
        const i = this.#getters.indexOf(getter);
        if (i >= 0) this.#getters.splice(i, 1);
        resolve(undefined);
      };
      this.#getters.push(getter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wake every waiting getter with `undefined` and refuse new items. */
  close(): void {
    this.#closed = true;
    for (const g of this.#getters.splice(0)) g(undefined);
    for (const p of this.#putters.splice(0)) p();
  }

  /** Remove and return the waiting items `match` selects, keeping the others in order. */
  removeWhere(match: (item: T) => boolean): T[] {
    const kept: T[] = [];
    const removed: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      (match(item) ? removed : kept).push(item);
    }
    if (removed.length === 0) return removed;
    this.#items.length = 0;
    this.#items.push(...kept);
    this.#head = 0;
    this.#wakeSpace();
    return removed;
  }

  /**
   * Put items back in front, in order (after {@linkcode removeWhere}): a
   * waiting getter gets the first, the others wait ahead of later items.
   */
  putFront(items: readonly T[]): void {
    if (items.length === 0) return;
    if (this.#closed) return;
    let rest = items;
    const getter = this.size === 0 ? this.#getters.shift() : undefined;
    if (getter !== undefined) {
      getter(items[0]!);
      rest = items.slice(1);
    }
    this.#items.splice(this.#head, 0, ...rest);
  }

  /** Remove and return every waiting item. */
  drain(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items.length = 0;
    this.#head = 0;
    this.#wakeSpace();
    return out;
  }

  #shift(): T {
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    this.#wakeSpace();
    return item;
  }

  #wakeSpace(): void {
    if (this.full) return;
    const putter = this.#putters.shift();
    if (putter !== undefined) putter();
    if (this.size <= this.#ebbAt) this.#ebb();
  }

  #ebb(): void {
    const size = this.size;
    const due: Array<() => void> = [];
    let i = 0;
    this.#ebbAt = -1;
    for (const entry of this.#spaceListeners) {
      if (size <= entry[0]) due.push(entry[1]);
      else {
        this.#spaceListeners[i++] = entry;
        if (entry[0] > this.#ebbAt) this.#ebbAt = entry[0];
      }
    }
    this.#spaceListeners.length = i;
    for (const fn of due) fn();
  }
}
