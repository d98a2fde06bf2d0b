/**
 * The App: the registry of topics, channels, agents, tables, timers, pages,
 * commands and services, and the order in which they start and stop.
 *
 * `new App()` opens nothing. `start()` opens the transport and stores and
 * starts processing; `stop()` undoes it in reverse. Neither installs signal
 * handlers nor configures logging: the Worker does that.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import {
  Agent,
  type AgentFn,
  type AgentOptions,
  type AskMessage,
} from "./agent.ts";
import { Channel, type ChannelOptions, type SendMessage } from "./channel.ts";
import { Conductor } from "./conductor.ts";
import { ConfigError, errorLine, StateError } from "./errors.ts";
import type { Event } from "./event.ts";
import type { AppHost } from "./host.ts";
import type { Infer, TypeSpec } from "./models.ts";
import { Monitor, type Sensor } from "./monitor.ts";
import { InFlight } from "./inflight.ts";
import { Producer, type SendBinding, type SendCounter } from "./producer.ts";
import { Replies } from "./replies.ts";
import {
  decodeRouting,
  encodeRouting,
  type GroupRouting,
  leaderTopic,
  ROUTING_KEY,
} from "./routing.ts";
import { TransactionManager } from "./transactions.ts";
import { tableRoute, type TableRouteOptions } from "./web/table_route.ts";
import type { Service } from "./service.ts";
import {
  resolveSettings,
  type Settings,
  type SettingsInput,
  withOverrides,
} from "./settings/settings.ts";
import { AsyncSignal, SyncSignal } from "./signals.ts";
import { appCreated } from "./main_hint.ts";
import {
  CronTimer,
  IntervalTimer,
  type Job,
  OneShotTask,
  type TimerOptions,
} from "./timer.ts";
import { Topic, type TopicOptions } from "./topic.ts";
import { createTransport } from "./transport/factory.ts";
import type {
  CommitOffset,
  GroupMember,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  Transport,
  TransportRecord,
} from "./transport/transport.ts";
import type { TP } from "./types.ts";
import { type Duration, toSeconds } from "./duration.ts";
import type {
  CommandContext,
  CommandOptions,
  CommandRegistration,
  PageHandler,
  PageRegistration,
  SettingsDraft,
  TableLike,
  View,
} from "./app_types.ts";
import type { Hono } from "hono";
import type { TableKey, TableValue, TypedTableOptions } from "./table/api.ts";
import {
  createGlobalTable,
  createSetTable,
  createTable,
} from "./table/create.ts";
import type { Table, TableOptions } from "./table/table.ts";
import type { GlobalTable } from "./table/global_table.ts";
import type { SetTable, SetTableOptions } from "./table/set_table.ts";

/**
 * Options of `new App()`: every setting, see {@linkcode SettingsInput}.
 *
 * @example Settings given to the constructor
 * ```ts
 * import { App, type AppOptions } from "@faust/faust";
 *
 * const options: AppOptions = { broker: "memory://", store: "memory://" };
 * const app = new App("options", options);
 * console.log(app.conf.broker);
 * ```
 */
export type AppOptions = SettingsInput;

type AppState = "init" | "starting" | "running" | "stopping" | "stopped";

/**
 * A Faust application.
 *
 * @example Word count
 * ```ts
 * import { App } from "@faust/faust";
 *
 * const app = new App("word-counts", { broker: "memory://", store: "memory://" });
 * const words = app.topic("words", { valueType: "string" });
 * app.agent(words, async (stream) => {
 *   for await (const word of stream) console.log(word);
 * }, { name: "printer" });
 * ```
 */
export class App implements AppHost {
  /** Called before the app reads its configuration (every app). */
  static readonly onBeforeConfigured: SyncSignal<App> = new SyncSignal(
    "onBeforeConfigured",
  );
  /**
   * Called with a writable draft of the settings before it becomes
   * `app.conf` (every app); see the instance's {@linkcode App.onConfigured}.
   */
  static readonly onConfigured: SyncSignal<App, [SettingsDraft]> =
    new SyncSignal("onConfigured");
  /** Called once the app is configured (every app). */
  static readonly onAfterConfigured: SyncSignal<App> = new SyncSignal(
    "onAfterConfigured",
  );
  /** Called by the worker before it starts the app (every app). */
  static readonly onWorkerInit: SyncSignal<App> = new SyncSignal(
    "onWorkerInit",
  );
  /** Called for every record the app produces (every app). */
  static readonly onProduceMessage: SyncSignal<App, [ProduceRecord]> =
    new SyncSignal("onProduceMessage");
  /** Called after partitions are assigned (every app). */
  static readonly onPartitionsAssigned: AsyncSignal<App, [readonly TP[]]> =
    new AsyncSignal("onPartitionsAssigned");
  /** Called when partitions are revoked (every app). */
  static readonly onPartitionsRevoked: AsyncSignal<App, [readonly TP[]]> =
    new AsyncSignal("onPartitionsRevoked");
  /** Called when a rebalance finished and tables recovered (every app). */
  static readonly onRebalanceComplete: AsyncSignal<App> = new AsyncSignal(
    "onRebalanceComplete",
  );
  /** Called when the app begins to stop (every app). */
  static readonly onBeforeShutdown: AsyncSignal<App> = new AsyncSignal(
    "onBeforeShutdown",
  );

  /** This app's {@linkcode App.onBeforeConfigured}. */
  readonly onBeforeConfigured: SyncSignal<App> = new SyncSignal(
    "onBeforeConfigured",
    App.onBeforeConfigured,
  );
  /**
   * Adjust this app's settings before they are final (Faust's
   * `on_configured`): handlers get a writable draft, and what they assign is
   * validated and becomes `app.conf`. Configuration is final the first time
   * `app.conf` is read: when the first topic, agent or table is declared, or
   * at the latest when the app starts; connect right after `new App()`.
   *
   * @example Take the broker from the environment
   * ```ts
   * import { App } from "@faust/faust";
   * const app = new App("myapp");
   * app.onConfigured.connect((_app, conf) => {
   *   conf.broker = Deno.env.get("BROKER_URL") ?? conf.broker;
   * });
   * ```
   */
  readonly onConfigured: SyncSignal<App, [SettingsDraft]> = new SyncSignal(
    "onConfigured",
    App.onConfigured,
  );
  /** This app's {@linkcode App.onAfterConfigured}. */
  readonly onAfterConfigured: SyncSignal<App> = new SyncSignal(
    "onAfterConfigured",
    App.onAfterConfigured,
  );
  /** This app's {@linkcode App.onWorkerInit}. */
  readonly onWorkerInit: SyncSignal<App> = new SyncSignal(
    "onWorkerInit",
    App.onWorkerInit,
  );
  /** This app's {@linkcode App.onProduceMessage}. */
  readonly onProduceMessage: SyncSignal<App, [ProduceRecord]> = new SyncSignal(
    "onProduceMessage",
    App.onProduceMessage,
  );
  /** This app's {@linkcode App.onPartitionsAssigned}. */
  readonly onPartitionsAssigned: AsyncSignal<App, [readonly TP[]]> =
    new AsyncSignal(
      "onPartitionsAssigned",
      App.onPartitionsAssigned,
    );
  /** This app's {@linkcode App.onPartitionsRevoked}. */
  readonly onPartitionsRevoked: AsyncSignal<App, [readonly TP[]]> =
    new AsyncSignal(
      "onPartitionsRevoked",
      App.onPartitionsRevoked,
    );
  /** This app's {@linkcode App.onRebalanceComplete}. */
  readonly onRebalanceComplete: AsyncSignal<App> = new AsyncSignal(
    "onRebalanceComplete",
    App.onRebalanceComplete,
  );
  /** This app's {@linkcode App.onBeforeShutdown}. */
  readonly onBeforeShutdown: AsyncSignal<App> = new AsyncSignal(
    "onBeforeShutdown",
    App.onBeforeShutdown,
  );

  /** The id given to the constructor. */
  readonly id: string;
  /** Logger (category `["faust", appId]`). */
  readonly log: Logger;
  /** Counters and positions. */
  readonly monitor: Monitor = new Monitor();
  /** @internal Topic sends in progress (from the call until acknowledged or failed). */
  readonly sends: InFlight = new InFlight();
  /** Agents by name. */
  readonly agents: Map<string, Agent<unknown, unknown, unknown>> = new Map();
  /** Topic descriptions by name. */
  readonly topics: Map<string, Topic<unknown, unknown>[]> = new Map();
  /** Tables by name. */
  readonly tables: Map<string, TableLike> = new Map();
  /** Pages registered with `app.page()`. */
  readonly pages: PageRegistration[] = [];
  /** Commands registered with `app.command()`. */
  readonly commands: Map<string, CommandRegistration> = new Map();
  /** Services registered with `app.service()`. */
  readonly services: Service[] = [];
  /** Timers, crontabs and tasks. */
  readonly jobs: Job[] = [];
  /** Resolves with the error when the app crashes (supervisor `crashing`, fatal errors). */
  readonly crashed: Promise<Error>;
  /** Hooks run on the Hono app the worker serves (middleware); see `app.web`. */
  readonly webSetup: Array<(web: Hono) => void> = [];

  #conf: Settings;
  #configured = false;
  #state: AppState = "init";
  #transport: Transport | undefined;
  #producer: Producer | undefined;
  #conductor: Conductor | undefined;
  #replies: Replies | undefined;
  #transactions: TransactionManager | undefined;
  #leftBehind = 0;
  #routingCache: { read: number; routing: GroupRouting } | undefined;
  #crash: (error: Error) => void = () => {};
  #crashError: Error | undefined;
  #stopping: Promise<void> | undefined;
  #unnamedAgents = 0;
  #declared = new Map<string, Promise<number>>();
  /** Partition counts of `#declared` that are known (resolved). */
  #partitionCounts = new Map<string, number>();
  #leader = true;
  #client = false;
  #tick: ReturnType<typeof setInterval> | undefined;

  /**
   * Create an app. Validates every setting; opens nothing.
   *
   * @param id The app id (also the consumer group and the prefix of internal topics).
   * @param options Settings; see {@linkcode SettingsInput}.
   * @throws {ConfigError} When a setting is invalid, naming it, the value and what is allowed.
   */
  constructor(id: string, options: AppOptions = {}) {
    this.id = id;
    this.onBeforeConfigured.send(this);
    const conf = resolveSettings(id, options);
    this.#conf = conf;
    this.log = getLogger(["faust", conf.appId]);
    this.crashed = new Promise((resolve) => this.#crash = resolve);
    appCreated(id);
  }

  /**
   * Resolved settings. The first read makes them final: `onConfigured`
   * handlers adjust a draft, then `onAfterConfigured` fires.
   */
  get conf(): Settings {
    if (!this.#configured) this.#configure();
    return this.#conf;
  }

  /** @internal Replace settings before start (CLI flags). */
  set conf(conf: Settings) {
    if (this.#state !== "init" && this.#state !== "stopped") {
      throw new StateError("Cannot change settings of a running app");
    }
    if (!this.#configured) this.#configure();
    this.#conf = conf;
  }

  /** Run the configuration signals once, applying what handlers changed. */
  #configure(): void {
    // Set first: a handler that reads app.conf sees the draft's origin.
    this.#configured = true;
    try {
      const draft: SettingsDraft = { ...this.#conf };
      this.onConfigured.send(this, draft);
      const before = this.#conf as unknown as Record<string, unknown>;
      const changed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(draft)) {
        if (!Object.is(v, before[k])) changed[k] = v;
      }
      if ("id" in changed || "appId" in changed) {
        throw new ConfigError(
          `onConfigured handler of app "${this.id}" changed the app id; set version instead, or create the App with another id`,
        );
      }
      if (Object.keys(changed).length > 0) {
        this.#conf = withOverrides(this.#conf, changed as SettingsInput);
      }
    } catch (error) {
      // Not configured: the next read runs the handlers again (and fails again).
      this.#configured = false;
      throw error;
    }
    this.onAfterConfigured.send(this);
  }

  /** Sensors receiving monitor hooks. */
  get sensors(): {
    add(sensor: Sensor): void;
    delete(sensor: Sensor): boolean;
  } {
    return this.monitor.sensors;
  }

  /** True between a completed start and the beginning of stop. */
  get running(): boolean {
    return this.#state === "running";
  }

  /** The transport (after start). */
  get transport(): Transport {
    if (this.#transport === undefined) {
      throw new StateError(
        `App "${this.id}" is not started: call app.start() or app.startClient() first`,
      );
    }
    return this.#transport;
  }

  /** Partitions assigned to this app (empty before start). */
  assignment(): TP[] {
    return this.#conductor?.assignment() ?? [];
  }

  /**
   * Whether this worker is the leader: on Kafka the owner of partition 0
   * of the leader topic (`{appId}-__assignor-__leader`); otherwise always.
   */
  isLeader(): boolean {
    if (this.#groupManaged() && this.#conductor !== undefined) {
      const topic = leaderTopic(this.#conf.appId);
      return this.assignment().some((tp) =>
        tp.topic === topic && tp.partition === 0
      );
    }
    return this.#leader;
  }

  /** @internal Set by drivers with a group protocol. */
  setLeader(leader: boolean): void {
    this.#leader = leader;
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
    return tableRoute(this, name, options, handler);
  }

  // ---------------------------------------------------------------- declarations

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
      this,
      name,
      options,
    );
    const list = this.topics.get(name) ?? [];
    list.push(topic as Topic<unknown, unknown>);
    this.topics.set(name, list);
    return topic;
  }

  /** @internal Create a topic description with explicit types (repartition topics). */
  makeTopic<K, V>(name: string, options: TopicOptions): Topic<K, V> {
    return this.topic(name, options) as unknown as Topic<K, V>;
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
    return new Channel(this, options);
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
    } else {ch = this.topic(`${this.#conf.appId}-${name}`, {
        internal: true,
        ...topicOptions,
      });}
    const agent = new Agent(this, ch, fn, name, options);
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
    const job = new IntervalTimer(this, seconds, fn, options);
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
        this,
        spec,
        fn,
        options.timezone ?? this.#conf.timezone,
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
    const job = new OneShotTask(this, fn, options.name);
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
    service.onCrash ??= (error) => this.crash(error);
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

  /** Register a CLI command. */
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

  // ---- tables: app.table(), app.globalTable(), app.setTable() go here (src/table/create.ts)

  /**
   * Define a table: Map-like state with a changelog, recovered on assignment.
   * Key and value types are inferred from `keyType`/`valueType` (or the
   * return type of `default`), or given explicitly: `app.table<string, number>(...)`.
   *
   * @param name Table name (also names the changelog `{appId}-{name}-changelog`).
   * @param options Default, types, store, partitions, recovery options...
   * @returns The table.
   */
  table<
    KT extends TypeSpec | undefined = undefined,
    VT extends TypeSpec | undefined = undefined,
    D = never,
  >(
    name: string,
    options?: TypedTableOptions<KT, VT, D>,
  ): Table<TableKey<KT>, TableValue<VT, D>>;
  /** Define a table with explicit key and value types. */
  table<K, V>(name: string, options?: TableOptions<K, V>): Table<K, V>;
  table(
    name: string,
    options: TableOptions<unknown, unknown> = {},
  ): Table<unknown, unknown> {
    return createTable(this, name, options);
  }

  /**
   * Define a global table: every worker holds every partition.
   *
   * @param name Table name.
   * @param options As for {@linkcode App.table}.
   * @returns The table.
   */
  globalTable<
    KT extends TypeSpec | undefined = undefined,
    VT extends TypeSpec | undefined = undefined,
    D = never,
  >(
    name: string,
    options?: TypedTableOptions<KT, VT, D>,
  ): GlobalTable<TableKey<KT>, TableValue<VT, D>>;
  /** Define a global table with explicit key and value types. */
  globalTable<K, V>(
    name: string,
    options?: TableOptions<K, V>,
  ): GlobalTable<K, V>;
  globalTable(
    name: string,
    options: TableOptions<unknown, unknown> = {},
  ): GlobalTable<unknown, unknown> {
    return createGlobalTable(this, name, options);
  }

  /**
   * Define a table of sets (`add`, `discard`, `clear`, set algebra).
   *
   * @param name Table name.
   * @param options As for {@linkcode App.table}; `valueType` is the member type.
   * @returns The table.
   */
  setTable<
    KT extends TypeSpec | undefined = undefined,
    VT extends TypeSpec | undefined = undefined,
  >(
    name: string,
    options?:
      & Omit<
        SetTableOptions<TableKey<KT>, TableKey<VT>>,
        "keyType" | "valueType"
      >
      & {
        readonly keyType?: KT;
        readonly valueType?: VT;
      },
  ): SetTable<TableKey<KT>, TableKey<VT>>;
  /** Define a set table with explicit key and member types. */
  setTable<K, M>(name: string, options?: SetTableOptions<K, M>): SetTable<K, M>;
  setTable(
    name: string,
    options: SetTableOptions<unknown, unknown> = {},
  ): SetTable<unknown, unknown> {
    return createSetTable(this, name, options);
  }

  /** @internal Register a table (used by `app.table()`). */
  registerTable(table: TableLike): void {
    if (this.tables.has(table.name)) {
      throw new ConfigError(
        `Duplicate table name "${table.name}": two tables would share a changelog topic`,
      );
    }
    this.tables.set(table.name, table);
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

  /** Run the command line for this app (`if (import.meta.main) await app.main()`). */
  async main(args: readonly string[] = Deno.args): Promise<void> {
    const { runCli } = await import("./cli/main.ts");
    const code = await runCli(args, this);
    if (code !== 0) Deno.exitCode = code;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Start the app. In order:
   * 1. the transport (connect / open the broker files);
   * 2. the producer (everything below may send);
   * 3. declared topics and table changelogs are created;
   * 4. table stores open;
   * 5. services start (agents may use them);
   * 6. agents subscribe their buffers and start their actors (they wait for events);
   * 7. the consumer joins the group; on assignment tables recover before delivery;
   * 8. the app is operational: timers, crontabs and tasks start.
   */
  async start(): Promise<void> {
    if (this.#state === "running" || this.#state === "starting") return;
    if (!this.#configured) this.#configure();
    this.#state = "starting";
    try {
      await this.#openTransport();
      this.log.debug("Broker {broker} open", { broker: this.#conf.broker });
      for (const topic of this.#declarable()) await this.declare(topic);
      for (const t of this.tables.values()) {
        await this.declare(t.changelogSpec());
      }
      if (this.#groupManaged()) {
        await this.declare({
          name: leaderTopic(this.#conf.appId),
          partitions: 1,
          internal: true,
          compacting: true,
        });
      }
      for (const t of this.tables.values()) await t.open();
      this.log.debug("Topics declared, {n} table stores open", {
        n: this.tables.size,
      });
      for (const s of this.services) await s.start();
      for (const a of this.agents.values()) a.subscribe();
      for (const a of this.agents.values()) a.start();
      this.log.debug("{services} services and {agents} agents started", {
        services: this.services.length,
        agents: this.agents.size,
      });
      this.#conductor = new Conductor({
        conf: this.#conf,
        log: this.log,
        monitor: this.monitor,
        transport: this.#transport!,
        deadLetter: (r, e) => this.#deadLetter(r, e),
        fence: (a) =>
          this.#transactions?.assign(this.#consumedPartitions(a)) ??
            Promise.resolve(),
        assigned: (a, s) => this.#assigned(a, s),
        revoked: (r) => this.#revoked(r),
        crash: (e) => this.crash(e),
        beforeCommit: () => this.#flushForCommit(),
        assignmentOnlyTopics: () => this.#assignmentOnlyTopics(),
        ...this.#exactlyOnce(),
        groupAssigned: (members) => this.#publishRouting(members),
        // Agents that send without awaiting: at most this many records wait
        // for the broker before delivery pauses (until half have been acked).
        producerEbb: () =>
          this.sends.ebb(Math.max(1000, 4 * this.#conf.streamBufferMaxsize)),
        memberMetadata: () => ({
          web: this.#conf.canonicalUrl,
          tableStandbyReplicas: String(this.#conf.tableStandbyReplicas),
        }),
      });
      // Agents may have declared topics while starting (groupBy's repartition topics).
      for (const list of this.topics.values()) {
        for (const t of list) {
          if (t.queues.length === 0) continue;
          if (t.options.internal === true) await this.declare(t.spec());
          this.#conductor.add(t);
        }
      }
      if (this.#transactions !== undefined) {
        this.#producer!.setRouter(() => this.#transactions?.route());
      }
      await this.#conductor.start();
      if (this.#conf.replyCreateTopic) await this.#repliesOf().prepare();
      this.log.debug("Consumer started; starting {n} timers and tasks", {
        n: this.jobs.length,
      });
      this.#state = "running";
      for (const job of this.jobs) job.start();
      const cleanup = Math.max(0.01, this.#conf.tableCleanupInterval) * 1000;
      this.#tick = setInterval(() => void this.#tickTables(), cleanup);
      this.log.info("App {id} ready", { id: this.#conf.appId });
    } catch (error) {
      // The cause first, before the lines of the stop it leads to.
      this.log.error("App {id} failed to start: {error}", {
        id: this.#conf.appId,
        error,
      });
      this.#state = "running";
      await this.stop().catch(() => {});
      throw error;
    }
  }

  /** Start only what sending and `ask` need: no agents, no consumer group. */
  async startClient(): Promise<void> {
    if (this.#state === "running") return;
    if (!this.#configured) this.#configure();
    this.#client = true;
    this.#state = "starting";
    await this.#openTransport();
    if (this.#conf.replyCreateTopic) await this.#repliesOf().prepare();
    this.#state = "running";
  }

  /**
   * @internal Agent actors the last stop left behind on their event (see
   * `stop()`'s `agentTimeout`): their pending work may keep the process
   * alive, so the worker exits explicitly.
   */
  get leftBehind(): number {
    return this.#leftBehind;
  }

  /**
   * Stop in reverse: jobs, the consumer stops fetching, agents finish the
   * event in hand, services stop, the producer flushes, offsets commit, the
   * consumer leaves, stores close, the transport closes.
   *
   * Every step is attempted even when an earlier one fails (a crash often
   * leaves a table or the producer failed), so the consumer, the stores and
   * the transport are always released. A call while a stop is in progress
   * waits for that stop.
   *
   * Under `at_least_once` what is acked is committed as soon as delivery
   * pauses, before waiting for the agents, so an agent that never finishes
   * its event costs at most its own unacked events.
   *
   * @param options.agentTimeout Seconds to wait, for all agents together,
   *   until they finish their event in hand (the worker passes half its `stopTimeout`). An agent
   *   still on it then is left behind with a warning naming the event
   *   (topic, partition, offset), which stays uncommitted, and the stop goes
   *   on; this alone is not a failed step. Default: wait as long as they take.
   * @throws {AggregateError} After every step ran, when some failed (each is also logged).
   */
  async stop(options: { agentTimeout?: number } = {}): Promise<void> {
    if (this.#stopping !== undefined) return await this.#stopping;
    if (this.#state !== "running" && this.#state !== "starting") return;
    const stopping = this.#stopSteps(options.agentTimeout);
    this.#stopping = stopping;
    try {
      await stopping;
    } finally {
      this.#stopping = undefined;
    }
  }

  async #stopSteps(agentTimeout: number | undefined): Promise<void> {
    this.#state = "stopping";
    const errors: Error[] = [];
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        errors.push(new Error(`${what}: ${error.message}`, { cause: error }));
        this.log.error("Stopping app {id}: {step} failed: {error}", {
          id: this.#conf.appId,
          step: what,
          error,
        });
      }
    };
    await step("onBeforeShutdown", () => this.onBeforeShutdown.send(this));
    clearInterval(this.#tick);
    this.#tick = undefined;
    for (const job of [...this.jobs].reverse()) {
      await step(`stopping job ${job.name}`, () => job.stop());
    }
    this.#conductor?.pause();
    if (this.#transactions === undefined) {
      // Commit what is acked now (it flushes the producer and tables
      // first): an agent that never finishes its event must not also cost
      // the work acked since the last periodic commit. Not under
      // exactly_once, whose commit waits for every event in hand.
      await step("committing acked offsets", () => this.#conductor?.commit());
    }
    const deadline = agentTimeout === undefined
      ? undefined
      : performance.now() + agentTimeout * 1000;
    this.#leftBehind = 0;
    for (const a of [...this.agents.values()].reverse()) {
      const wait = deadline === undefined
        ? undefined
        : Math.max(0, deadline - performance.now());
      await step(`stopping agent ${a.name}`, async () => {
        this.#leftBehind += await a.stop(wait);
      });
    }
    for (const s of [...this.services].reverse()) {
      await step(`stopping service ${s.label}`, () => s.stop());
    }
    await step("stopping replies", () => this.#replies?.stop());
    await step("flushing the producer", () => this.#producer?.flush());
    for (const t of this.tables.values()) {
      await step(`flushing table ${t.name}`, () => t.flush());
    }
    // Commits only what is durable (it flushes again first), then leaves the group.
    await step("stopping the consumer", () => this.#conductor?.stop());
    await step("closing transactions", () => this.#transactions?.close());
    for (const t of [...this.tables.values()].reverse()) {
      await step(`closing table ${t.name}`, () => t.close());
    }
    await step("closing the producer", () => this.#producer?.close());
    await step("stopping the transport", () => this.#transport?.stop());
    this.#conductor = undefined;
    this.#producer = undefined;
    this.#transport = undefined;
    this.#replies = undefined;
    this.#transactions = undefined;
    this.#declared.clear();
    this.#partitionCounts.clear();
    this.#state = "stopped";
    if (errors.length > 0) {
      this.log.warn("App {id} stopped; {n} stop steps failed", {
        id: this.#conf.appId,
        n: errors.length,
      });
      throw new AggregateError(
        errors,
        `Stopping app "${this.#conf.appId}": ${
          errors.map((e) => e.message).join("; ")
        }`,
      );
    }
    this.log.info("App {id} stopped", { id: this.#conf.appId });
  }

  /** Stop the app because of `error`; `crashed` resolves with it. */
  crash(error: Error): void {
    if (this.#crashError !== undefined) return;
    this.#crashError = error;
    this.log.fatal("App {id} crashed: {error}", {
      id: this.#conf.appId,
      error,
    });
    this.#crash(error);
    // stop() logs each step that fails and releases everything regardless.
    void this.stop().catch(() => {});
  }

  async #openTransport(): Promise<void> {
    const conf = this.#conf;
    this.#transport = await createTransport(conf.broker, {
      defaultPartitions: conf.topicPartitions,
      datadir: conf.datadir,
      clientId: conf.brokerClientId,
      extra: { ...conf, app: this },
    });
    await this.#transport.start();
    this.#producer = new Producer(
      this.#transport,
      conf.producerLinger,
      this.monitor,
      conf.producerMaxRequestSize,
    );
  }

  *#declarable(): Iterable<TopicSpec> {
    for (const list of this.topics.values()) {
      for (const t of list) {
        if (t.options.internal === true || t.options.partitions !== undefined) {
          yield t.spec();
          break;
        }
      }
    }
  }

  async #assigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    const delay = this.#conf.streamRecoveryDelay;
    if (delay > 0) {
      // Let more workers join or leave before tables recover and streams resume.
      this.log.info(
        "Waiting {seconds} s (streamRecoveryDelay) before recovery",
        { seconds: delay },
      );
      await new Promise((resolve) => setTimeout(resolve, delay * 1000));
    }
    // Exactly-once: the partitions' previous owners were fenced already
    // (ConductorHost.fence), before their committed offsets were read.
    for (const t of this.tables.values()) await t.assigned(assigned, standbys);
    await this.onPartitionsAssigned.send(this, assigned);
    await this.onRebalanceComplete.send(this);
  }

  async #revoked(revoked: readonly TP[]): Promise<void> {
    for (const t of this.tables.values()) await t.revoked(revoked);
    await this.#transactions?.revoke(this.#consumedPartitions(revoked));
    await this.onPartitionsRevoked.send(this, revoked);
  }

  /** Partition numbers of consumed (not assignment-only) topics among `tps`. */
  #consumedPartitions(tps: readonly TP[]): number[] {
    return tps.filter((tp) => this.#conductor?.consumes(tp.topic) ?? false)
      .map((tp) => tp.partition);
  }

  /**
   * With `processingGuarantee: "exactly_once"`: the transactions and the
   * commit that goes through them (producer flushed into the open
   * transactions, offsets and sends committed together, then the tables
   * let the committed changes reach their stores).
   */
  #exactlyOnce(): {
    commitTransaction?: (offsets: readonly CommitOffset[]) => Promise<void>;
    describeTransactions?: () => string;
  } {
    if (this.#conf.processingGuarantee !== "exactly_once") return {};
    const txm = new TransactionManager(
      this.#transport!,
      this.#conf.appId,
      this.log,
      (topic) => this.#conductor?.consumes(topic) ?? false,
      (event) => this.#conductor?.isCurrent(event) ?? true,
      // A send or commit still running after four produce timeouts (120 s
      // by default) is stuck; Kafka aborts a transaction open for longer
      // than a minute anyway.
      Math.max(4 * this.#conf.producerRequestTimeout * 1000, 1000),
    );
    this.#transactions = txm;
    return {
      describeTransactions: () => txm.describe(),
      commitTransaction: async (offsets) => {
        // Table changes the record cache held back go into these transactions.
        for (const t of this.tables.values()) t.stage?.();
        // Sends bound to these transactions but still on their way to the
        // producer (not awaited by their agent) belong in this commit.
        await txm.handedOver();
        await this.#producer?.flush();
        await txm.commit(this.#conf.appId, offsets);
        for (const t of this.tables.values()) t.release?.();
        for (const t of this.tables.values()) await t.flush();
      },
    };
  }

  /**
   * Table changelogs join the group subscription on a group-managed broker
   * (Kafka): the assignor gives changelog partition N with source partition
   * N and spreads standbys. Brokers without a group protocol give every
   * partition to the one consumer, so the tables hold them all anyway.
   */
  #assignmentOnlyTopics(): string[] {
    if (!this.#groupManaged()) return [];
    return [
      leaderTopic(this.#conf.appId),
      ...[...this.tables.values()].map((t) => t.changelogSpec().name),
    ];
  }

  /** Whether partitions come from a group protocol shared with other workers (Kafka). */
  #groupManaged(): boolean {
    return this.#transport?.driver === "kafka";
  }

  #publishRouting(members: readonly GroupMember[]): void {
    const producer = this.#producer;
    if (producer === undefined) return;
    producer.send({
      topic: leaderTopic(this.#conf.appId),
      partition: 0,
      key: new TextEncoder().encode(ROUTING_KEY),
      value: encodeRouting(members),
    }).catch((error) =>
      this.log.warn("Could not publish the group routing: {error}", {
        error: errorLine(error),
      })
    );
  }

  /**
   * Who owns which partitions across the group, with each worker's web
   * URL (table routing, `/router/`). On Kafka it is the latest assignment
   * published to the leader topic (read at most once a second); otherwise
   * this worker owns everything it consumes.
   */
  async routing(): Promise<GroupRouting> {
    const self: GroupRouting = {
      group: this.#groupManaged() && !this.#client,
      at: 0,
      members: [{
        url: this.#conf.canonicalUrl,
        active: this.assignment(),
        standby: [],
      }],
    };
    const transport = this.#transport;
    if (transport === undefined || !this.#groupManaged() || this.#client) {
      return self;
    }
    const cached = this.#routingCache;
    if (cached !== undefined && performance.now() - cached.read < 1000) {
      return cached.routing;
    }
    const tp = { topic: leaderTopic(this.#conf.appId), partition: 0 };
    const end = await transport.highWatermark(tp);
    const records = end > 0
      ? await transport.read(tp, Math.max(0, end - 10), 10)
      : [];
    let routing: GroupRouting | undefined;
    for (const r of records) routing = decodeRouting(r.value) ?? routing;
    this.#routingCache = { read: performance.now(), routing: routing ?? self };
    return routing ?? self;
  }

  async #flushForCommit(): Promise<void> {
    for (const t of this.tables.values()) t.stage?.();
    await this.#producer?.flush();
    for (const t of this.tables.values()) await t.flush();
  }

  async #tickTables(): Promise<void> {
    for (const t of this.tables.values()) {
      try {
        await t.tick?.();
      } catch (error) {
        this.log.error("Table {table} cleanup raised: {error}", {
          table: t.name,
          error,
        });
      }
    }
  }

  async #deadLetter(record: TransportRecord, error: Error): Promise<void> {
    await this.produce({
      topic: `${this.#conf.appId}-dead-letter`,
      partition: 0,
      key: record.key,
      value: record.value,
      headers: {
        ...record.headers,
        ...Object.fromEntries(
          Object.entries({
            "faust-dead-letter-topic": record.topic,
            "faust-dead-letter-partition": String(record.partition),
            "faust-dead-letter-offset": String(record.offset),
            "faust-dead-letter-error": error.message,
          }).map(([k, v]) => [k, new TextEncoder().encode(v)]),
        ),
      },
      timestamp: record.timestamp,
    });
  }

  // ---------------------------------------------------------------- AppHost

  /** @internal Bind a send to the current event's transaction (exactly-once). */
  bindSend(): SendBinding {
    return this.#producer?.bind() ?? { target: undefined, release: () => {} };
  }

  /**
   * @internal Append an encoded record through the batching producer. No
   * await before the record is queued; the promise is made only when the
   * result is awaited.
   */
  produce(
    record: ProduceRecord,
    binding?: SendBinding,
    counter?: SendCounter,
  ): Promise<RecordMetadata> {
    const producer = this.#producer;
    if (producer === undefined) {
      counter?.end();
      return Promise.reject(
        new StateError(
          `Cannot send to topic "${record.topic}": app "${this.id}" is not started (call app.start() or app.startClient())`,
        ),
      );
    }
    this.onProduceMessage.send(this, record);
    return producer.enqueue(
      record,
      binding !== undefined ? binding.target : producer.route(),
      counter,
    );
  }

  /** @internal Partition count of a topic; declares it from its description when missing. */
  partitionsOf(topic: string): Promise<number> {
    let p = this.#declared.get(topic);
    if (p === undefined) {
      p = (async () => {
        const n = await this.transport.partitionCount(topic);
        if (n !== undefined) return n;
        const desc = this.topics.get(topic)?.[0];
        const spec = desc?.spec() ??
          { name: topic, partitions: this.#conf.topicPartitions };
        await this.transport.createTopic(spec);
        return spec.partitions;
      })();
      const declared = p;
      p.then((n) => {
        if (this.#declared.get(topic) === declared) {
          this.#partitionCounts.set(topic, n);
        }
      }, () => this.#declared.delete(topic));
      this.#declared.set(topic, p);
    }
    return p;
  }

  /** @internal Partition count of a topic when already known, else `undefined`. */
  knownPartitions(topic: string): number | undefined {
    return this.#partitionCounts.get(topic);
  }

  /** @internal Create a topic on the broker (with `topicAllowDeclare`). */
  async declare(spec: TopicSpec): Promise<void> {
    if (this.#transport === undefined) return;
    if (this.#conf.topicAllowDeclare) await this.#transport.createTopic(spec);
    this.#declared.set(spec.name, Promise.resolve(spec.partitions));
    this.#partitionCounts.set(spec.name, spec.partitions);
  }

  /** @internal A stream subscribed to `topic`. */
  subscribed(topic: Topic<unknown, unknown>): void {
    if (this.#conductor === undefined) return;
    void (async () => {
      if (topic.options.internal === true) await this.declare(topic.spec());
      this.#conductor?.add(topic);
    })().catch((error) =>
      // The stream would wait forever for a topic never consumed.
      this.crash(
        new Error(
          `Subscribing to topic "${topic.name}" failed: ${
            (error as Error)?.message ?? error
          }`,
          { cause: error },
        ),
      )
    );
  }

  /** @internal Reply to an RPC request. */
  async reply(event: Event, value: unknown): Promise<void> {
    if (this.#producer === undefined) return;
    await this.#repliesOf().reply(event, value);
  }

  /** @internal Send an RPC request and wait for the reply. */
  async ask(
    agent: Agent<unknown, unknown, unknown>,
    message: AskMessage<unknown, unknown>,
    timeout?: number,
  ): Promise<unknown> {
    const { headers, reply, cancel } = await this.#repliesOf().request(
      timeout,
    );
    const sending = agent.channel.send({
      ...message,
      headers: { ...(message.headers ?? {}), ...headers },
    });
    // The timeout covers the send too: while the send is blocked (a full
    // buffer, a slow broker) the reply may time out first. Whichever fails
    // first is the caller's error; neither may reject unobserved.
    reply.catch(() => {});
    sending.catch((error) =>
      this.log.debug("Request to agent {agent} failed: {error}", {
        agent: agent.name,
        error,
      })
    );
    try {
      await Promise.race([sending, reply]);
    } catch (error) {
      cancel();
      throw error;
    }
    return await reply;
  }

  #repliesOf(): Replies {
    return this.#replies ??= new Replies(
      this.#conf,
      () => this.transport,
      () => this.#producer!,
      this.log,
    );
  }

  /** True when started with `startClient()`. */
  get isClient(): boolean {
    return this.#client;
  }
}
