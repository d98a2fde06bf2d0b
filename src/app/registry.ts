/**
 * What an app holds and how it is declared: topics, channels, agents,
 * timers, services, pages, commands and tables. `App` extends it with
 * configuration and the order in which everything starts and stops.
 *
 * @module
 */
import { Agent, type AgentFn, type AgentOptions } from "../agent.ts";
import { Channel, type ChannelOptions, type SendMessage } from "../channel.ts";
import { ConfigError } from "../errors.ts";
import { InFlight } from "../producer/inflight.ts";
import { Monitor, type Sensor } from "../sensors/monitor.ts";
import type { Infer, TypeSpec } from "../models.ts";
import { runtimeOf, TableRegistry } from "./tables.ts";
import type { Service } from "../service.ts";
import {
  CronTimer,
  IntervalTimer,
  type Job,
  OneShotTask,
  type TimerOptions,
} from "../service/timer.ts";
import { Topic, type TopicOptions } from "../topic.ts";
import type { GroupRouting } from "../rpc/routing.ts";
import type { RecordMetadata, Transport } from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import { tableRoute, type TableRouteOptions } from "../web/table_route.ts";
import { type Duration, toSeconds } from "../util/duration.ts";
import type {
  CommandContext,
  CommandOptions,
  CommandRegistration,
  PageHandler,
  PageRegistration,
  View,
} from "./registrations.ts";
import type { Hono } from "hono";

/**
 * The declarations of an {@linkcode App}: what it holds (agents, topics,
 * tables, pages, commands, services, jobs) and the methods that declare
 * them. Every app is one; create apps with `new App()`.
 *
 * @example What an app holds
 * ```ts
 * import { App, type AppRegistry } from "@faust/faust";
 *
 * const app = new App("registry", { broker: "memory://", store: "memory://" });
 * app.topic("orders");
 * const registry: AppRegistry = app;
 * console.log([...registry.topics.keys()]); // ["orders"]
 * ```
 */
export class AppRegistry extends TableRegistry {
  /** Counters and positions. */
  readonly monitor: Monitor = new Monitor();
  /** @internal Topic sends in progress (from the call until acknowledged or failed). */
  readonly sends: InFlight = new InFlight();
  /** Agents by name. */
  readonly agents: Map<string, Agent<unknown, unknown, unknown>> = new Map();
  /** Topic descriptions by name. */
  readonly topics: Map<string, Topic<unknown, unknown>[]> = new Map();
  /** Pages registered with `app.page()`. */
  readonly pages: PageRegistration[] = [];
  /** Commands registered with `app.command()`. */
  readonly commands: Map<string, CommandRegistration> = new Map();
  /** Services registered with `app.service()`. */
  readonly services: Service[] = [];
  /** Timers, crontabs and tasks. */
  readonly jobs: Job[] = [];
  /** Hooks run on the Hono app the worker serves (middleware); see `app.web`. */
  readonly webSetup: Array<(web: Hono) => void> = [];

  #unnamedAgents = 0;

  /**
   * Describe a topic.
   *
   * @param name Topic name.
   * @param options Types, serializers, partitions, retention...
   */
  topic<
    VT extends TypeSpec | undefined = undefined,
    KT extends TypeSpec | undefined = undefined,
  >(
    name: string,
    options: TopicOptions & { valueType?: VT; keyType?: KT } = {},
  ): Topic<
    KT extends TypeSpec ? Infer<KT> : unknown,
    VT extends TypeSpec ? Infer<VT> : unknown
  > {
    const topic = new Topic<
      KT extends TypeSpec ? Infer<KT> : unknown,
      VT extends TypeSpec ? Infer<VT> : unknown
    >(
      runtimeOf(this),
      name,
      options,
      (n, o) => this.topic(n, o),
    );
    const list = this.topics.get(name) ?? [];
    list.push(topic as Topic<unknown, unknown>);
    this.topics.set(name, list);
    return topic;
  }

  /** Create an in-memory channel. */
  channel<
    VT extends TypeSpec | undefined = undefined,
    KT extends TypeSpec | undefined = undefined,
  >(
    options: ChannelOptions & { valueType?: VT; keyType?: KT } = {},
  ): Channel<
    KT extends TypeSpec ? Infer<KT> : unknown,
    VT extends TypeSpec ? Infer<VT> : unknown
  > {
    return new Channel(runtimeOf(this), options);
  }

  /**
   * Define an agent: a stream processor over a channel, a topic, a topic
   * name, or (with `undefined`) an anonymous topic named `{appId}-{name}`.
   *
   * @param channel Where the agent reads.
   * @param fn Async function or async generator receiving the stream.
   * @param options Name, concurrency, sinks, supervisor, and topic options for a named or anonymous topic.
   */
  agent<V, K = unknown, R = unknown>(
    channel: Channel<K, V>,
    fn: AgentFn<V, K, R>,
    options?: AgentOptions<R>,
  ): Agent<V, K, R>;
  /** Define an agent on a topic name or an anonymous topic, typed by `options.valueType`. */
  agent<VT extends TypeSpec, R = unknown>(
    channel: string | undefined,
    fn: AgentFn<Infer<VT>, unknown, R>,
    options: AgentOptions<R> & { valueType: VT },
  ): Agent<Infer<VT>, unknown, R>;
  /** Define an agent on a topic name or an anonymous topic (JSON values). */
  agent<R = unknown>(
    channel: string | undefined,
    fn: AgentFn<unknown, unknown, R>,
    options?: AgentOptions<R>,
  ): Agent<unknown, unknown, R>;
  agent(
    channel: Channel<unknown, unknown> | string | undefined,
    fn: AgentFn<unknown, unknown, unknown>,
    options: AgentOptions<unknown> = {},
  ): Agent<unknown, unknown, unknown> {
    let name = options.name ?? (fn.name || undefined);
    if (name === undefined) {
      if (channel === undefined) {
        throw new ConfigError(
          "An agent on an anonymous topic needs a name: pass options.name or a named function",
        );
      }
      const label = typeof channel === "string" ? channel : channel.label;
      name = `${label}-agent${++this.#unnamedAgents}`;
    }
    if (this.agents.has(name)) {
      throw new ConfigError(
        `Duplicate agent name "${name}": every agent of an app needs its own name`,
      );
    }
    const {
      name: _n,
      help: _h,
      concurrency: _c,
      sink: _s,
      onError: _o,
      supervisorStrategy: _ss,
      isolatedPartitions: _ip,
      ...topicOptions
    } = options;
    let ch: Channel<unknown, unknown>;
    if (channel instanceof Channel) ch = channel;
    else if (typeof channel === "string") {
      ch = this.topic(channel, topicOptions);
    } else {ch = this.topic(`${runtimeOf(this).conf.appId}-${name}`, {
        internal: true,
        ...topicOptions,
      });}
    const agent = new Agent(runtimeOf(this), ch, fn, name, options);
    this.agents.set(name, agent);
    return agent;
  }

  /**
   * Call `fn` every `interval` (seconds or `"30s"`), starting one interval
   * after the app is operational.
   */
  timer(
    interval: Duration,
    fn: () => unknown,
    options: TimerOptions = {},
  ): Job {
    const seconds = toSeconds(interval, "timer interval");
    if (seconds <= 0) {
      throw new ConfigError(
        `Invalid timer interval: ${interval}; expected more than 0 seconds`,
      );
    }
    const job = new IntervalTimer(runtimeOf(this), seconds, fn, options);
    this.jobs.push(job);
    return job;
  }

  /** Call `fn` on a cron schedule (in `options.timezone`, default the app's `timezone`). */
  crontab(
    spec: string,
    fn: () => unknown,
    options: TimerOptions & { timezone?: string } = {},
  ): Job {
    let job: Job;
    try {
      job = new CronTimer(
        runtimeOf(this),
        spec,
        fn,
        options.timezone ?? runtimeOf(this).conf.timezone,
        options,
      );
    } catch (error) {
      throw new ConfigError(
        `Invalid crontab ${JSON.stringify(spec)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.jobs.push(job);
    return job;
  }

  /** Run `fn` once the app is operational (after recovery). */
  task(fn: () => unknown, options: { name?: string } = {}): Job {
    const job = new OneShotTask(runtimeOf(this), fn, options.name);
    this.jobs.push(job);
    return job;
  }

  /**
   * Add a service started with the app (before agents) and stopped after
   * them. A background task or timer of it that throws crashes the app.
   */
  service<S extends Service>(service: S): S {
    // A background task or timer that throws crashes the app (graceful
    // stop, worker exits non-zero) instead of an unhandled rejection.
    service.onCrash ??= (error) => runtimeOf(this).crash(error);
    this.services.push(service);
    return service;
  }

  /**
   * Register a web page (served by the worker on `webPort`). The path's
   * parameters are typed in the handler: `app.page("/count/:word/", (c) =>
   * c.text(c.req.param("word")))` gets a `string`.
   *
   * @param path Hono path syntax, e.g. `"/count/:word/"`.
   * @param handler A function of Hono's context, or a view with `get`/`post`/….
   */
  page<P extends string>(path: P, handler: PageHandler<P> | View<P>): void {
    this.pages.push({ path, handler: handler as PageHandler | View });
  }

  /** Register middleware or routes on the worker's Hono app. */
  web(setup: (web: Hono) => void): void {
    this.webSetup.push(setup);
  }

  /**
   * Register a CLI command (`faust COMMAND`, `app.main()`).
   *
   * What `fn` returns is ignored, except an integer: that is the exit code
   * of the run (`return 3` exits 3), as a `main` function returning its
   * status. Return nothing unless you mean one: `() => list.push(x)` exits
   * with the list's new length. A command that throws exits 1.
   */
  command(
    name: string,
    fn: (ctx: CommandContext) => unknown,
    options: CommandOptions = {},
  ): void {
    if (this.commands.has(name)) {
      throw new ConfigError(`Duplicate command "${name}"`);
    }
    this.commands.set(name, { name, fn, options });
  }

  // ---------------------------------------------------------------- where it runs

  /** Sensors receiving monitor hooks. */
  get sensors(): {
    add(sensor: Sensor): void;
    delete(sensor: Sensor): boolean;
  } {
    return this.monitor.sensors;
  }

  /** The transport (after start). */
  get transport(): Transport {
    return runtimeOf(this).transport;
  }

  /** Partitions assigned to this app (empty before start). */
  assignment(): TP[] {
    return runtimeOf(this).assignment();
  }

  /**
   * Whether this worker is the leader: on Kafka the owner of partition 0
   * of the leader topic (`{appId}-__assignor-__leader`); otherwise always.
   */
  isLeader(): boolean {
    return runtimeOf(this).isLeader();
  }

  /** @internal Set by drivers with a group protocol. */
  setLeader(leader: boolean): void {
    runtimeOf(this).group.setLeader(leader);
  }

  /**
   * Who owns which partitions across the group, with each worker's web
   * URL (table routing, `/router/`). On Kafka it is the latest assignment
   * published to the leader topic (read at most once a second); otherwise
   * this worker owns everything it consumes.
   */
  routing(): Promise<GroupRouting> {
    return runtimeOf(this).routing();
  }

  /** True when started with `startClient()`. */
  get isClient(): boolean {
    return runtimeOf(this).isClient;
  }

  /**
   * Wrap a page handler so that a request for a table key another worker
   * owns is forwarded to that worker (Faust's `@app.table_route`):
   * `app.page("/count/:word/", app.tableRoute(counts, { matchInfo: "word" }, handler))`.
   *
   * @param table The table (or its name).
   * @param options Where the key comes from: `matchInfo` (path parameter), `queryParam` or `exactKey`.
   * @param handler Serves the keys this worker owns.
   * @returns The routed handler.
   */
  tableRoute<P extends string = string>(
    table: string | { readonly name: string },
    options: TableRouteOptions,
    handler: PageHandler<P>,
  ): PageHandler<P> {
    const name = typeof table === "string" ? table : table.name;
    return tableRoute(runtimeOf(this), name, options, handler);
  }

  /** Send to a channel, topic or topic name. */
  async send<K, V>(
    channel: Channel<K, V> | string,
    message: SendMessage<K, V>,
  ): Promise<RecordMetadata | void> {
    const ch = typeof channel === "string"
      ? (this.topics.get(channel)?.[0] ?? this.topic(channel))
      : channel;
    return await (ch as Channel<K, V>).send(message);
  }
}
