/**
 * Signals: the observer pattern with the sender passed first. A signal
 * declared on a class (`App.onPartitionsAssigned`) reaches every instance;
 * the instance's own signal (`app.onPartitionsAssigned`) reaches only that
 * instance. Handlers are called in connection order, class handlers first.
 *
 * @module
 */

/**
 * A synchronous signal handler: sender first, then the arguments.
 *
 * @example A handler of a synchronous signal
 * ```ts
 * import { type App, type SyncHandler } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const announce: SyncHandler<App, []> = (app) => console.log(`${app.id} configured`);
 * const app = testApp("sync-handler");
 * app.onAfterConfigured.connect(announce);
 * ```
 */
export type SyncHandler<S, A extends unknown[]> = (
  sender: S,
  ...args: A
) => void;
/**
 * An asynchronous signal handler.
 *
 * @example A handler the sender awaits
 * ```ts
 * import { type App, type AsyncHandler } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const drain: AsyncHandler<App, []> = async (app) => {
 *   console.log(`${app.id} is about to stop`);
 * };
 * const app = testApp("async-handler");
 * app.onBeforeShutdown.connect(drain);
 * await app.start();
 * await app.stop();
 * ```
 */
export type AsyncHandler<S, A extends unknown[]> = (
  sender: S,
  ...args: A
) => void | Promise<void>;

/**
 * A synchronous signal (handlers must not be async).
 *
 * @example A signal of your own
 * ```ts
 * import { SyncSignal } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * const onOrder = new SyncSignal<string, [number]>("onOrder");
 * const off = onOrder.connect((sender, amount) => seen.push(`${sender}:${amount}`));
 * onOrder.send("shop", 3);
 * off();
 * onOrder.send("shop", 4);
 * assert.deepEqual(seen, ["shop:3"]);
 * ```
 */
export class SyncSignal<S, A extends unknown[] = []> {
  readonly #handlers: SyncHandler<S, A>[] = [];
  readonly #parent: SyncSignal<S, A> | undefined;
  /** Signal name, for error messages. */
  readonly name: string;

  /** Create a signal; `parent` is the class-level signal also fired on send. */
  constructor(name: string, parent?: SyncSignal<S, A>) {
    this.name = name;
    this.#parent = parent;
  }

  /** Add a handler; returns a function that removes it. Usable as a decorator-like call. */
  connect(handler: SyncHandler<S, A>): () => void {
    this.#handlers.push(handler);
    return () => this.disconnect(handler);
  }

  /** Remove a handler. */
  disconnect(handler: SyncHandler<S, A>): void {
    const i = this.#handlers.indexOf(handler);
    if (i >= 0) this.#handlers.splice(i, 1);
  }

  /** Call every handler (class-level first) with the sender and arguments. */
  send(sender: S, ...args: A): void {
    this.#parent?.send(sender, ...args);
    if (this.#handlers.length === 0) return;
    for (const h of [...this.#handlers]) h(sender, ...args);
  }
}

/**
 * An asynchronous signal: handlers run one after the other and are awaited.
 *
 * @example Awaiting every handler
 * ```ts
 * import { AsyncSignal } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const saved: number[] = [];
 * const onBatch = new AsyncSignal<string, [number[]]>("onBatch");
 * onBatch.connect(async (_sender, batch) => {
 *   saved.push(...batch);
 * });
 * await onBatch.send("loader", [1, 2]);
 * assert.deepEqual(saved, [1, 2]);
 * ```
 */
export class AsyncSignal<S, A extends unknown[] = []> {
  readonly #handlers: AsyncHandler<S, A>[] = [];
  readonly #parent: AsyncSignal<S, A> | undefined;
  /** Signal name, for error messages. */
  readonly name: string;

  /** Create a signal; `parent` is the class-level signal also fired on send. */
  constructor(name: string, parent?: AsyncSignal<S, A>) {
    this.name = name;
    this.#parent = parent;
  }

  /** Add a handler; returns a function that removes it. */
  connect(handler: AsyncHandler<S, A>): () => void {
    this.#handlers.push(handler);
    return () => this.disconnect(handler);
  }

  /** Remove a handler. */
  disconnect(handler: AsyncHandler<S, A>): void {
    const i = this.#handlers.indexOf(handler);
    if (i >= 0) this.#handlers.splice(i, 1);
  }

  /** Call and await every handler (class-level first). */
  async send(sender: S, ...args: A): Promise<void> {
    if (this.#parent !== undefined) await this.#parent.send(sender, ...args);
    for (const h of [...this.#handlers]) await h(sender, ...args);
  }
}
