/**
 * The test harness of an agent (`agent.testContext()`): the agent's
 * function runs on an in-memory buffer, no broker needed.
 *
 * @module
 */
import { Delivery, Event } from "../delivery/event.ts";
import { AsyncQueue } from "../delivery/queue.ts";
import { toRawHeaders } from "../util/types.ts";

/** What a test context drives of an agent (a copy of it, with actors of its own). */
export interface TestableAgent<V, K, R> {
  /** Where the agent reads: the buffer size and the label events carry as topic. */
  readonly channel: { readonly maxsize: number; readonly label: string };
  /** Read from `queue` instead of the channel; report each yielded value. */
  useQueue(
    queue: AsyncQueue<Event<K, V>>,
    onYield: (event: Event | undefined, value: R) => void,
  ): void;
  /** Start the actors. */
  start(): void;
  /** Stop the actors. */
  stop(): Promise<unknown>;
}

/**
 * What {@linkcode Agent.testContext} returns.
 *
 * @example Checking what an agent yields per event
 * ```ts
 * import { type AgentTestContext, testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("test-context");
 * const length = app.agent(undefined, async function* (stream) {
 *   for await (const text of stream) yield text.length;
 * }, { name: "length", valueType: "string" });
 * const ctx: AgentTestContext<string, unknown, number> = await length
 *   .testContext()
 *   .start();
 * try {
 *   const event = await ctx.put("four");
 *   assert.equal(ctx.results.get(event.offset), 4);
 * } finally {
 *   await ctx.stop();
 * }
 * ```
 */
export class AgentTestContext<V, K, R> {
  /** Yielded values by the offset of the event being processed. */
  readonly results: Map<number, R> = new Map();
  /** Every yielded value, in order. */
  readonly yielded: R[] = [];
  readonly #agent: TestableAgent<V, K, R>;
  readonly #queue: AsyncQueue<Event<K, V>>;
  #offset = 0;
  #started = false;

  /** @internal Use `agent.testContext()`. */
  constructor(agent: TestableAgent<V, K, R>) {
    this.#agent = agent;
    this.#queue = new AsyncQueue<Event<K, V>>(agent.channel.maxsize);
    agent.useQueue(this.#queue, (event, value) => {
      this.yielded.push(value);
      if (event !== undefined) this.results.set(event.offset, value);
    });
  }

  /** Start the agent's actors on the test buffer. */
  start(): Promise<this> {
    if (!this.#started) {
      this.#started = true;
      this.#agent.start();
    }
    return Promise.resolve(this);
  }

  /** Put a value (with optional key/headers) and wait until the agent processed it. */
  async put(
    value: V,
    options: { key?: K; headers?: Record<string, string> } = {},
  ): Promise<Event<K, V>> {
    await this.start();
    const offset = this.#offset++;
    let processed!: () => void;
    const done = new Promise<void>((resolve) => processed = resolve);
    const event = new Event<K, V>({
      key: (options.key ?? null) as K,
      value,
      headers: toRawHeaders(options.headers),
      topic: this.#agent.channel.label,
      partition: 0,
      offset,
      timestamp: Date.now(),
    }, new Delivery(1, () => processed()));
    await this.#queue.put(event);
    await done;
    return event;
  }

  /** Stop the actors. */
  async stop(): Promise<void> {
    this.#queue.close();
    await this.#agent.stop();
  }

  /** Stop on `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
