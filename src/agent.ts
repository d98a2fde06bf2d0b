/**
 * Agents: stream processors. An agent runs `concurrency` actors that share
 * one buffer of its channel; each actor calls the user's function with a
 * stream. What an async-generator agent yields goes to its sinks and, when
 * the event was an `ask`, back to the caller.
 *
 * @module
 */
import { ackHeld, type ActorContext, runAsActor } from "./actor_context.ts";
import type { Event } from "./event.ts";
import type { Channel, SendMessage } from "./channel.ts";
import { Stream } from "./stream.ts";
import { AgentTestContext } from "./testing/agent_test_context.ts";
import type { AsyncQueue } from "./queue.ts";
import { Supervisor, type SupervisorStrategy } from "./supervisor.ts";
import type { AgentHost } from "./agent_host.ts";
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

interface Actor {
  controller: AbortController;
  done: Promise<void>;
  index: number;
  context: ActorContext;
  /** The event last reported as stuck (reported once). */
  stuck?: Event;
  /** The event the watchdog last saw in hand, and when it first saw it. */
  seen?: Event | undefined;
  seenAt?: number;
}

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
  readonly #host: AgentHost;
  readonly #sinks: Sink<R>[];
  #queue: AsyncQueue<Event<K, V>> | undefined;
  #actors: Actor[] = [];
  #running = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #yieldListener: ((event: Event | undefined, value: R) => void) | undefined;

  /** @internal Use `app.agent()`. */
  constructor(
    host: AgentHost,
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
  }

  /** Add a sink after creation. */
  addSink(sink: Sink<R>): void {
    this.#sinks.push(sink);
  }

  /** True while actors run. */
  get running(): boolean {
    return this.#running;
  }

  /** @internal Subscribe to the channel (before the consumer starts delivering). */
  subscribe(): void {
    this.#queue ??= this.channel.subscribe();
  }

  /** @internal Start the actors. */
  start(): void {
    if (this.#running) return;
    this.subscribe();
    this.#running = true;
    for (let i = 0; i < this.concurrency; i++) {
      this.#actors.push(this.#spawn(i));
    }
    const limit = this.#host.conf.streamProcessingTimeout * 1000;
    if (limit > 0) {
      const tick = Math.max(10, Math.min(1000, limit / 4));
      this.#watchdog = setInterval(() => this.#reportStuck(limit), tick);
    }
  }

  /**
   * Log (once per event) every actor that has held one event for longer
   * than `streamProcessingTimeout`: a stuck agent stalls its partitions'
   * commits, and without this nothing would say so.
   */
  #reportStuck(limit: number): void {
    const now = performance.now();
    for (const actor of this.#actors) {
      // Timed here, from the first tick that sees the event, not by the
      // stream per event (a clock read per event costs more than the rest
      // of handing it over): reported at most one tick later.
      const event = actor.context.event;
      if (event !== actor.seen) {
        actor.seen = event;
        actor.seenAt = now;
        continue;
      }
      const since = actor.seenAt!;
      if (event === undefined) continue;
      if (actor.stuck === event || now - since <= limit) continue;
      actor.stuck = event;
      this.#host.monitor.count("stuckEvents");
      this.#host.log.warn(
        "Agent {agent} actor {index} has been processing {topic}[{partition}]@{offset} for {seconds} s (streamProcessingTimeout {limit} s): it may be stuck",
        {
          agent: this.name,
          index: actor.index,
          topic: event.topic,
          partition: event.partition,
          offset: event.offset,
          seconds: Math.round(now - since) / 1000,
          limit: limit / 1000,
        },
      );
    }
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
  async stop(timeout?: number): Promise<number> {
    this.#running = false;
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    const actors = this.#actors;
    this.#actors = [];
    for (const a of actors) a.controller.abort();
    const pending = new Set(actors);
    const all = Promise.allSettled(
      actors.map((a) => a.done.finally(() => pending.delete(a))),
    );
    if (timeout === undefined) {
      await all;
      return 0;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      all,
      new Promise<void>((r) => timer = setTimeout(r, timeout)),
    ]);
    clearTimeout(timer);
    for (const a of pending) {
      const event = a.context.event;
      this.#host.monitor.count("stuckEvents");
      this.#host.log.warn(
        "Stopping: agent {agent} actor {index} did not finish {topic}[{partition}]@{offset} within {seconds} s; leaving it behind (the event is not acked: its offset is not committed and the next start processes it again)",
        {
          agent: this.name,
          index: a.index,
          topic: event?.topic ?? "-",
          partition: event?.partition ?? "-",
          offset: event?.offset ?? "-",
          seconds: Math.round(timeout / 100) / 10,
        },
      );
    }
    return pending.size;
  }

  #spawn(index: number): Actor {
    const controller = new AbortController();
    const context: ActorContext = {
      event: undefined,
      agent: this.name,
      concurrency: this.concurrency,
      signal: controller.signal,
    };
    const actor: Actor = {
      controller,
      index,
      context,
      done: Promise.resolve(),
    };
    actor.done = runAsActor(context, () => this.#run(context)).then(
      () => {
        // Returned normally: a loop it left early is done with its value.
        ackHeld(context);
        if (this.#running && !controller.signal.aborted) {
          // Its buffer keeps filling and nothing reads it: never a silent
          // stall. The supervisor restarts it (or crashes the worker).
          return this.#crashed(
            actor,
            new Error(
              `Agent "${this.name}" actor ${index} returned while its stream still delivers`,
            ),
          );
        }
      },
      (error) => this.#crashed(actor, error),
    );
    return actor;
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
    if (event !== undefined) await this.#host.reply(event, value);
  }

  async #crashed(actor: Actor, error: unknown): Promise<void> {
    const err = error instanceof Error ? error : new Error(String(error));
    this.#host.monitor.count("agentErrors");
    this.#host.log.error("Agent {agent} actor {index} raised: {error}", {
      agent: this.name,
      index: actor.index,
      error: err,
    });
    try {
      await this.#options.onError?.(this as Agent<unknown, unknown, R>, err);
    } catch (hookError) {
      this.#host.log.error("onError of agent {agent} raised: {error}", {
        agent: this.name,
        error: hookError,
      });
    }
    // The events the actor was on when it raised (a stream loop it left).
    const failed = actor.context.held ?? [];
    actor.context.held = undefined;
    if (!this.#running) return; // stopping: left unacked, read again at the next start
    const decision = this.supervisor.decide(this.name, err);
    if (decision.action === "crash") {
      // Not acked: the offset is not committed and the event is processed
      // again after the restart.
      for (const e of failed) this.#logFailedEvent(e, err, false);
      this.#running = false;
      this.#host.crash(decision.error);
      return;
    }
    // As in Faust, a restarting supervisor moves past the event the agent
    // raised on (else one poison event would stop its partition for good):
    // acked, so never processed again, and each one logged and counted.
    for (const e of failed) {
      this.#logFailedEvent(e, err, true);
      e.ack();
    }
    this.#host.monitor.count("agentRestarts");
    const i = this.#actors.indexOf(actor);
    if (decision.which === "one") {
      if (i >= 0) this.#actors[i] = this.#spawn(actor.index);
      this.#host.log.warn(
        "Restarted agent {agent} actor {index} (one_for_one)",
        {
          agent: this.name,
          index: actor.index,
        },
      );
      return;
    }
    const others = this.#actors.filter((a) => a !== actor);
    for (const a of others) a.controller.abort();
    await Promise.allSettled(others.map((a) => a.done));
    if (!this.#running) return;
    this.#actors = [];
    for (let k = 0; k < this.concurrency; k++) {
      this.#actors.push(this.#spawn(k));
    }
    this.#host.log.warn(
      "Restarted all {n} actors of agent {agent} (one_for_all)",
      {
        agent: this.name,
        n: this.concurrency,
      },
    );
  }

  #logFailedEvent(event: Event, error: Error, acked: boolean): void {
    this.#host.monitor.count("agentEventErrors");
    this.#host.log.error(
      acked
        ? "Agent {agent} raised on {topic}[{partition}]@{offset}; the event is acked and will not be processed again: {error}"
        : "Agent {agent} raised on {topic}[{partition}]@{offset}; the event is not acked and will be processed again after a restart: {error}",
      {
        agent: this.name,
        topic: event.topic,
        partition: event.partition,
        offset: event.offset,
        error: error.message,
      },
    );
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
    return await this.#host.ask(
      this as Agent<unknown, unknown, unknown>,
      message,
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
