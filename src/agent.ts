/**
 * Agents: stream processors. An agent runs `concurrency` actors that share
 * one buffer of its channel; each actor calls the user's function with a
 * stream. What an async-generator agent yields goes to its sinks and, when
 * the event was an `ask`, back to the caller.
 *
 * @module
 */
import type { ActorContext } from "./delivery/actor_context.ts";
import { Actors, type AgentPort } from "./agent/actors.ts";
import type { Event } from "./delivery/event.ts";
import type { Channel, SendMessage } from "./channel.ts";
import { Stream } from "./stream.ts";
import { AgentTestContext } from "./testing/agent_test_context.ts";
import type { AsyncQueue } from "./delivery/queue.ts";
import { Supervisor, type SupervisorStrategy } from "./service/supervisor.ts";
import { ConfigError } from "./errors.ts";
import type { RecordMetadata } from "./transport/transport.ts";
import type { TopicOptions } from "./topic.ts";

/**
 * Where yielded values go: another agent, a channel or topic, or a function.
 *
 * @example Sending what an agent yields elsewhere
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("sink");
 * const numbers = app.topic("numbers", { valueType: "number" });
 * const squares: number[] = [];
 * app.agent(numbers, async function* square(stream) {
 *   for await (const n of stream) yield n * n;
 * }, { sink: [(value: number) => squares.push(value)] });
 * await app.start();
 * try {
 *   await numbers.send({ value: 3 });
 *   await waitFor(() => squares.length === 1, 5000, "the square");
 *   assert.deepEqual(squares, [9]);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export type Sink<R> =
  | Agent<R, unknown, unknown>
  | Channel<unknown, R>
  | ((value: R) => unknown);

/**
 * The agent function: an async function or an async generator over the stream.
 *
 * @example An agent function written apart from its app
 * ```ts
 * import type { AgentFn } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const shout: AgentFn<string, unknown, string> = async function* (stream) {
 *   for await (const text of stream) yield text.toUpperCase();
 * };
 * const app = testApp("agent-fn");
 * const agent = app.agent(undefined, shout, { name: "shout", valueType: "string" });
 * await using ctx = await agent.testContext().start();
 * await ctx.put("hi");
 * assert.deepEqual(ctx.yielded, ["HI"]);
 * ```
 */
export type AgentFn<V, K, R> =
  | ((stream: Stream<V, K>) => Promise<void>)
  | ((stream: Stream<V, K>) => AsyncIterable<R>);

/**
 * Options of `app.agent()`; topic options apply to the anonymous topic.
 *
 * @example Two actors and a help text
 * ```ts
 * import type { AgentOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: AgentOptions = {
 *   name: "mailer",
 *   help: "Sends the mails",
 *   concurrency: 2, // two actors share the topic's events
 * };
 * const app = testApp("agent-options");
 * const mails = app.topic("mails", { valueType: "string" });
 * app.agent(mails, async (stream) => {
 *   for await (const address of stream) console.log(`mail to ${address}`);
 * }, options);
 * ```
 */
export interface AgentOptions<R = unknown> extends TopicOptions {
  /** Agent name (default: the function's name). */
  readonly name?: string;
  /** Help text shown by the `agents` command. */
  readonly help?: string;
  /** Number of actors sharing the channel (default 1). */
  readonly concurrency?: number;
  /** Where yielded values go. */
  readonly sink?: readonly Sink<R>[];
  /** Called when an actor raises, before the supervisor acts. */
  readonly onError?: (
    agent: Agent<unknown, unknown, R>,
    error: Error,
  ) => void | Promise<void>;
  /** Restart policy (default: the app's `agentSupervisor`). */
  readonly supervisorStrategy?: SupervisorStrategy;
  /**
   * Faust's one actor per partition. Not supported: `true` is a
   * `ConfigError` (the actors of an agent share one buffer).
   */
  readonly isolatedPartitions?: false;
}

/**
 * An RPC request: value, optional key, headers, partition.
 *
 * @example Asking with a key and headers
 * ```ts
 * import type { AskMessage } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("ask-message");
 * const greet = app.agent(undefined, async function* (stream) {
 *   for await (const name of stream) yield `hello ${name}`;
 * }, { name: "greet", valueType: "string" });
 * await app.start();
 * try {
 *   const message: AskMessage<string, unknown> = {
 *     value: "Ada",
 *     key: "user-1",
 *     headers: { lang: "en" },
 *   };
 *   assert.equal(await greet.ask(message), "hello Ada");
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export type AskMessage<V, K> = SendMessage<K, V>;

/**
 * A stream processor registered with `app.agent()`.
 *
 * @example Asking an agent and sending to it
 * ```ts
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("agent");
 * const double = app.agent(undefined, async function* (stream) {
 *   for await (const n of stream) yield n * 2;
 * }, { name: "double", valueType: "number" });
 * await app.start();
 * try {
 *   assert.equal(await double.ask({ value: 21 }), 42);
 *   assert.deepEqual(await double.join([1, 2]), [2, 4]);
 *   await double.cast({ value: 5 }); // no reply wanted
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Agent<V = unknown, K = unknown, R = unknown> {
  /** Agent name. */
  readonly name: string;
  /** The channel or topic the agent reads. */
  readonly channel: Channel<K, V>;
  /** Help text. */
  readonly help: string | undefined;
  /** Number of actors. */
  readonly concurrency: number;
  /** The supervisor. */
  readonly supervisor: Supervisor;
  readonly #fn: AgentFn<V, K, R>;
  readonly #options: AgentOptions<R>;
  readonly #host: AgentPort;
  readonly #sinks: Sink<R>[];
  #queue: AsyncQueue<Event<K, V>> | undefined;
  readonly #actors: Actors;
  #yieldListener: ((event: Event | undefined, value: R) => void) | undefined;

  /** @internal Use `app.agent()`. */
  constructor(
    host: AgentPort,
    channel: Channel<K, V>,
    fn: AgentFn<V, K, R>,
    name: string,
    options: AgentOptions<R>,
  ) {
    const concurrency = options.concurrency ?? 1;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new ConfigError(
        `Invalid option "concurrency" of agent "${name}": ${concurrency}; expected an integer >= 1`,
      );
    }
    if ((options.isolatedPartitions as boolean | undefined) === true) {
      throw new ConfigError(
        `Option "isolatedPartitions" of agent "${name}" is not supported: the actors of an agent share one buffer. ` +
          `Events of one partition are processed in order with concurrency 1 (the default); ` +
          `for parallelism across partitions use concurrency > 1 (events of a partition may then finish out of order)`,
      );
    }
    this.name = name;
    this.channel = channel;
    this.help = options.help;
    this.concurrency = concurrency;
    this.#fn = fn;
    this.#options = options;
    this.#host = host;
    this.#sinks = [...(options.sink ?? [])];
    this.supervisor = new Supervisor(
      options.supervisorStrategy ?? host.conf.agentSupervisor,
    );
    this.#actors = new Actors({
      name,
      concurrency,
      supervisor: this.supervisor,
      host,
      run: (context) => this.#run(context),
      onError: (error) =>
        options.onError?.(this as Agent<unknown, unknown, R>, error),
    });
  }

  /** Add a sink after creation. */
  addSink(sink: Sink<R>): void {
    this.#sinks.push(sink);
  }

  /** True while actors run. */
  get running(): boolean {
    return this.#actors.running;
  }

  /** @internal Subscribe to the channel (before the consumer starts delivering). */
  subscribe(): void {
    this.#queue ??= this.channel.subscribe();
  }

  /** @internal Start the actors. */
  start(): void {
    if (this.#actors.running) return;
    this.subscribe();
    this.#actors.start();
  }

  /**
   * @internal Stop the actors: their streams end; wait for them to return.
   *
   * @param timeout Milliseconds to wait at most. An actor still on its
   *   event then is left behind with a warning naming the event: it stays
   *   unacked, so its offset is not committed and the next start processes
   *   it again. Without it, wait as long as the actors take.
   * @returns The number of actors left behind.
   */
  stop(timeout?: number): Promise<number> {
    return this.#actors.stop(timeout);
  }

  async #run(context: ActorContext): Promise<void> {
    const stream = Stream.fromChannel(this.channel, this.#queue!);
    const result = this.#fn(stream);
    if (
      result !== undefined &&
      typeof (result as AsyncIterable<R>)[Symbol.asyncIterator] === "function"
    ) {
      for await (const value of result as AsyncIterable<R>) {
        await this.#deliver(context.event, value);
      }
    } else {
      await result;
    }
  }

  async #deliver(event: Event | undefined, value: R): Promise<void> {
    for (const sink of this.#sinks) {
      if (sink instanceof Agent) await sink.send({ value });
      else if (typeof sink === "function") await sink(value);
      else await sink.send({ value });
    }
    this.#yieldListener?.(event, value);
    if (event !== undefined) await this.#host.rpc.reply(event, value);
  }

  /** Send a value to the agent's channel. */
  async send(message: SendMessage<K, V>): Promise<RecordMetadata | void> {
    return await this.channel.send(message);
  }

  /** Send without waiting for a reply (same as `send`, as in Faust). */
  async cast(message: SendMessage<K, V>): Promise<void> {
    await this.channel.send(message);
  }

  /**
   * Send a value and wait for what the agent yields while processing it.
   * The request carries Faust's reply headers; the reply comes back on the
   * app's reply topic.
   */
  async ask(
    message: AskMessage<V, K>,
    options: { timeout?: number } = {},
  ): Promise<R> {
    return await this.#host.rpc.ask(
      this.name,
      (headers) =>
        this.channel.send({
          ...message,
          headers: { ...(message.headers ?? {}), ...headers },
        }),
      options.timeout,
    ) as R;
  }

  /** Ask for each value; yields replies as they come (not in input order). */
  async *map(values: Iterable<V> | AsyncIterable<V>): AsyncGenerator<R> {
    const replies: Promise<R>[] = [];
    for await (const value of values) replies.push(this.ask({ value }));
    yield* settleAsTheyCome(replies);
  }

  /** Ask for each `[key, value]`; yields replies as they come. */
  async *kvmap(
    pairs: Iterable<[K, V]> | AsyncIterable<[K, V]>,
  ): AsyncGenerator<R> {
    const replies: Promise<R>[] = [];
    for await (const [key, value] of pairs) {
      replies.push(this.ask({ key, value }));
    }
    yield* settleAsTheyCome(replies);
  }

  /** Ask for each value; resolves with the replies in input order. */
  async join(values: Iterable<V> | AsyncIterable<V>): Promise<R[]> {
    const replies: Promise<R>[] = [];
    for await (const value of values) replies.push(this.ask({ value }));
    return await Promise.all(replies);
  }

  /** Ask for each `[key, value]`; resolves with the replies in input order. */
  async kvjoin(pairs: Iterable<[K, V]> | AsyncIterable<[K, V]>): Promise<R[]> {
    const replies: Promise<R>[] = [];
    for await (const [key, value] of pairs) {
      replies.push(this.ask({ key, value }));
    }
    return await Promise.all(replies);
  }

  /**
   * A test harness: the agent runs on an in-memory buffer, no broker needed.
   * `put()` resolves with the event once the agent has processed it;
   * `results` maps each event's offset to what the agent yielded for it.
   */
  testContext(): AgentTestContext<V, K, R> {
    // A copy with actors of its own (Faust clones the agent too): when the
    // app runs, this agent's actors keep reading the app's buffer and would
    // never see the test buffer.
    const copy = new Agent(this.#host, this.channel, this.#fn, this.name, {
      ...this.#options,
      sink: [...this.#sinks],
    });
    return new AgentTestContext(copy);
  }

  /** @internal Swap the buffer for a test context. */
  useQueue(
    queue: AsyncQueue<Event<K, V>>,
    onYield: (event: Event | undefined, value: R) => void,
  ): void {
    this.#queue = queue;
    this.#yieldListener = onYield;
  }
}

async function* settleAsTheyCome<R>(promises: Promise<R>[]): AsyncGenerator<R> {
  const pending = new Map(
    promises.map((p, i) => [i, p.then((v) => [i, v] as const)]),
  );
  while (pending.size > 0) {
    const [i, v] = await Promise.race(pending.values());
    pending.delete(i);
    yield v;
  }
}
