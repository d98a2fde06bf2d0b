/**
 * The App: its settings and the order in which what it holds starts and
 * stops. What it holds and how that is declared is in `app/registry.ts`
 * and `app/tables.ts`; what runs (transport, producer, consumer, replies,
 * transactions) is in `runtime/`.
 *
 * `new App()` opens nothing. `start()` opens the transport and stores and
 * starts processing; `stop()` undoes it in reverse. Neither installs signal
 * handlers nor configures logging: the Worker does that.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { appSignals } from "./app/signals.ts";
import { applyConfigured } from "./app/configure.ts";
import { StopSteps } from "./service/stop_steps.ts";
import { Lifecycle, stopParts } from "./service/lifecycle.ts";
import { appParts, type PartsView } from "./app/parts.ts";
import { AppRegistry } from "./app/registry.ts";
import { attachRuntime } from "./app/tables.ts";
import { StateError } from "./errors.ts";
import { Runtime } from "./runtime/runtime.ts";
import {
  resolveSettings,
  type Settings,
  type SettingsInput,
} from "./settings/settings.ts";
import type { AsyncSignal, SyncSignal } from "./service/signals.ts";
import { appCreated } from "./app/main_hint.ts";
import type { ProduceRecord } from "./transport/transport.ts";
import type { TP } from "./util/types.ts";
import type { SettingsDraft } from "./app/registrations.ts";

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
export class App extends AppRegistry {
  // Signals: declared here for their types, made from the one table in
  // app/signals.ts (the class's below the class, each app's in the constructor).
  /** Called before the app reads its configuration (every app). */
  declare static readonly onBeforeConfigured: SyncSignal<App>;
  /**
   * Called with a writable draft of the settings before it becomes
   * `app.conf` (every app); see the instance's {@linkcode App.onConfigured}.
   */
  declare static readonly onConfigured: SyncSignal<App, [SettingsDraft]>;
  /** Called once the app is configured (every app). */
  declare static readonly onAfterConfigured: SyncSignal<App>;
  /** Called by the worker before it starts the app (every app). */
  declare static readonly onWorkerInit: SyncSignal<App>;
  /**
   * Called for every record the app produces (every app), table changelog
   * records included (read a record's fields by name: see
   * {@linkcode ProduceRecord}).
   */
  declare static readonly onProduceMessage: SyncSignal<App, [ProduceRecord]>;
  /** Called after partitions are assigned (every app). */
  declare static readonly onPartitionsAssigned: AsyncSignal<
    App,
    [readonly TP[]]
  >;
  /** Called when partitions are revoked (every app). */
  declare static readonly onPartitionsRevoked: AsyncSignal<
    App,
    [readonly TP[]]
  >;
  /** Called when a rebalance finished and tables recovered (every app). */
  declare static readonly onRebalanceComplete: AsyncSignal<App>;
  /** Called when the app begins to stop (every app). */
  declare static readonly onBeforeShutdown: AsyncSignal<App>;

  /** This app's {@linkcode App.onBeforeConfigured}. */
  declare readonly onBeforeConfigured: SyncSignal<App>;
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
  declare readonly onConfigured: SyncSignal<App, [SettingsDraft]>;
  /** This app's {@linkcode App.onAfterConfigured}. */
  declare readonly onAfterConfigured: SyncSignal<App>;
  /** This app's {@linkcode App.onWorkerInit}. */
  declare readonly onWorkerInit: SyncSignal<App>;
  /** This app's {@linkcode App.onProduceMessage}. */
  declare readonly onProduceMessage: SyncSignal<App, [ProduceRecord]>;
  /** This app's {@linkcode App.onPartitionsAssigned}. */
  declare readonly onPartitionsAssigned: AsyncSignal<App, [readonly TP[]]>;
  /** This app's {@linkcode App.onPartitionsRevoked}. */
  declare readonly onPartitionsRevoked: AsyncSignal<App, [readonly TP[]]>;
  /** This app's {@linkcode App.onRebalanceComplete}. */
  declare readonly onRebalanceComplete: AsyncSignal<App>;
  /** This app's {@linkcode App.onBeforeShutdown}. */
  declare readonly onBeforeShutdown: AsyncSignal<App>;

  /** The id given to the constructor. */
  readonly id: string;
  /** Logger (category `["faust", appId]`). */
  readonly log: Logger;
  /** Resolves with the error when the app crashes (supervisor `crashing`, fatal errors). */
  readonly crashed: Promise<Error>;

  #conf: Settings;
  #configured = false;
  readonly #life = new Lifecycle();
  readonly #runtime: Runtime;
  #leftBehind = 0;
  #crash: (error: Error) => void = () => {};
  #crashError: Error | undefined;

  /**
   * Create an app. Validates every setting; opens nothing.
   *
   * @param id The app id (also the consumer group and the prefix of internal topics).
   * @param options Settings; see {@linkcode SettingsInput}.
   * @throws {ConfigError} When a setting is invalid, naming it, the value and what is allowed.
   */
  constructor(id: string, options: AppOptions = {}) {
    super();
    this.id = id;
    Object.assign(this, appSignals<App>(App));
    this.onBeforeConfigured.send(this);
    const conf = resolveSettings(id, options);
    this.#conf = conf;
    this.log = getLogger(["faust", conf.appId]);
    this.crashed = new Promise((resolve) => this.#crash = resolve);
    // What topics, agents, tables and jobs call back into.
    this.#runtime = new Runtime(this, {
      produced: (record) => this.onProduceMessage.send(this, record),
      assigned: async (assigned) => {
        await this.onPartitionsAssigned.send(this, assigned);
        await this.onRebalanceComplete.send(this);
      },
      revoked: (revoked) => this.onPartitionsRevoked.send(this, revoked),
    });
    attachRuntime(this, this.#runtime);
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
    const state = this.#life.state;
    if (state !== "init" && state !== "stopped") {
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
      this.#conf = applyConfigured(
        this,
        this.id,
        this.#conf,
        this.onConfigured,
      );
    } catch (error) {
      // Not configured: the next read runs the handlers again (and fails again).
      this.#configured = false;
      throw error;
    }
    this.onAfterConfigured.send(this);
  }

  /** True between a completed start and the beginning of stop. */
  get running(): boolean {
    return this.#life.running;
  }

  /** Run the command line for this app (`if (import.meta.main) await app.main()`). */
  async main(args: readonly string[] = Deno.args): Promise<void> {
    const { runCli } = await import("./cli/main.ts");
    const code = await runCli(args, this);
    if (code !== 0) Deno.exitCode = code;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Start the app: the parts in the order of `src/app/parts.ts` (each with
   * why it starts there): the transport and the producer, declared topics
   * and table changelogs, table stores, replies, services, agents (their
   * buffers subscribe, their actors wait for events), the consumer (on
   * assignment tables recover before delivery); then the app is
   * operational and timers, crontabs, tasks and the table cleanup start.
   */
  async start(): Promise<void> {
    if (this.#life.started) return;
    if (!this.#configured) this.#configure();
    this.#life.state = "starting";
    try {
      // False when a crash while starting (a poison record under
      // decodeErrorPolicy "fail") already began the stop: parts started
      // now would outlive it and keep the process alive.
      if (!await this.#life.start(appParts(this.#partsView()))) return;
      this.log.info("App {id} ready", { id: this.#conf.appId });
    } catch (error) {
      // The cause first, before the lines of the stop it leads to.
      this.log.error("App {id} failed to start: {error}", {
        id: this.#conf.appId,
        error,
      });
      this.#life.state = "running";
      await this.stop().catch(() => {});
      throw error;
    }
  }

  /** Start only what sending and `ask` need: no agents, no consumer group. */
  async startClient(): Promise<void> {
    if (this.#life.running) return;
    if (!this.#configured) this.#configure();
    this.#life.state = "starting";
    await this.#runtime.open(true);
    await this.#runtime.prepareReplies();
    this.#life.state = "running";
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
   * Stop the parts of `start()` in three phases: **stop**, in reverse start
   * order (the table cleanup, timers and tasks, the consumer stops
   * delivering, agents finish the event in hand, services, replies);
   * **flush** (the producer, then the tables); **close**, in reverse (the
   * consumer commits what is durable and leaves the group, transactions
   * close, stores close, the producer and the transport close).
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
    await this.#life.stop(async () => {
      const steps = new StopSteps(this.#conf.appId, this.log);
      await steps.step(
        "onBeforeShutdown",
        () => this.onBeforeShutdown.send(this),
      );
      this.#leftBehind = 0;
      await stopParts(appParts(this.#partsView(), options), steps);
      this.#runtime.reset();
      this.#life.state = "stopped";
      steps.finish();
    });
  }

  #partsView(): PartsView {
    return {
      conf: this.#conf,
      log: this.log,
      runtime: this.#runtime,
      tables: this.tables,
      services: this.services,
      agents: this.agents,
      jobs: this.jobs,
      leftBehind: (n) => this.#leftBehind += n,
    };
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
}

Object.assign(App, appSignals<App>());
