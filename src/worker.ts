/**
 * The Worker: the process edge. It sets up logging, runs `onWorkerInit`
 * and autodiscovery, starts the web server and the apps, and turns
 * SIGINT/SIGTERM into a graceful stop within a bound (a second signal forces
 * the exit), SIGUSR2 into a log of what is running (not SIGUSR1: Deno opens its V8 inspector on that one), and an app crash into a
 * non-zero exit code. The library never calls `Deno.exit`: `run()` returns
 * the exit code and `onForceExit` is the caller's (the CLI's) to provide.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { App } from "./app.ts";
import { autodiscover } from "./app/autodiscover.ts";
import { attachDebugLog } from "./sensors/debug_log.ts";
import { Lifecycle } from "./service/lifecycle.ts";
import {
  type LogLevel,
  type Settings,
  withBoundWebPort,
} from "./settings/settings.ts";
import { WebServer } from "./web/server.ts";
import { setupLogging } from "./worker/logging.ts";

/**
 * Options of {@linkcode Worker}.
 *
 * @example A worker without web server or signal handlers
 * ```ts
 * import { Worker, type WorkerOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: WorkerOptions = {
 *   web: false,
 *   signals: false,
 *   configureLogging: false,
 * };
 * const worker = new Worker(testApp("embedded"), options);
 * await worker.start();
 * await worker.stop();
 * ```
 */
export interface WorkerOptions {
  /** Log level (`-l`). @default the app's `loglevel` setting ("warn") */
  readonly loglevel?: LogLevel;
  /** Also write logs to this file (`-f`). @default undefined (stderr only) */
  readonly logfile?: string;
  /** Configure logtape (stderr and `logfile`); `false` keeps the caller's configuration. @default true */
  readonly configureLogging?: boolean;
  /** Serve the main app's pages; `false` is `--without-web`. @default the app's `webEnabled` setting */
  readonly web?: boolean;
  /** Install SIGINT, SIGTERM and SIGUSR2 handlers in `run()`. @default true */
  readonly signals?: boolean;
  /**
   * Seconds a graceful stop may take before `run()` gives up with exit code 1.
   * Agents get half of it to finish their event in hand; one still on it is
   * then left behind with a warning and the stop goes on. @default 30
   */
  readonly stopTimeout?: number;
  /** Event-loop blocking detector threshold in seconds (`--debug`). @default the app's `blockingTimeout` */
  readonly blockingTimeout?: number;
  /** Called after the web server listens and before the apps start (the CLI prints its banner here). */
  readonly onStartup?: (worker: Worker) => void;
  /** Called on a second signal, when the stop bound passes, or after a stop that left a stuck agent behind; the CLI exits the process here. */
  readonly onForceExit?: (code: number) => void;
}

/**
 * Runs one or more apps as a process: the first is the main app and gets
 * the web server.
 *
 * @example Run a worker from code
 * ```ts ignore
 * import { App, Worker } from "@faust/faust";
 * const app = new App("example");
 * Deno.exitCode = await new Worker(app, { loglevel: "info" }).run();
 * ```
 */
export class Worker {
  /** The apps, main app first. */
  readonly apps: readonly App[];
  readonly #options: WorkerOptions;
  readonly #log = getLogger(["faust", "worker"]);
  #web: WebServer | undefined;
  /** The main app's settings before `withBoundWebPort`, restored on stop. */
  #unbound: Settings | undefined;
  #closeLogging: (() => Promise<void>) | undefined;
  #blocking: ReturnType<typeof setInterval> | undefined;
  #started: App[] = [];
  readonly #life = new Lifecycle();
  #stopFailed = false;
  #leftBehind = false;
  #stopRequested = Promise.withResolvers<void>();
  #startErrorLogged = false;
  #detach: Array<() => void> = [];

  /**
   * Create a worker. Opens nothing.
   *
   * @param apps The app, or several apps (the first one is the main app).
   * @param options Logging, web, signals and bounds.
   */
  constructor(apps: App | readonly App[], options: WorkerOptions = {}) {
    this.apps = Array.isArray(apps) ? [...apps] : [apps as App];
    if (this.apps.length === 0) {
      throw new TypeError("A Worker needs at least one app");
    }
    this.#options = options;
  }

  /** The main app. */
  get app(): App {
    return this.apps[0]!;
  }

  /** The web server's URL once it listens, else `undefined`. */
  get webUrl(): string | undefined {
    return this.#web?.url;
  }

  /** Whether the web server runs (after start). */
  get webEnabled(): boolean {
    return this.#options.web ?? this.app.conf.webEnabled;
  }

  /** Log level in effect. */
  get loglevel(): LogLevel {
    return this.#options.loglevel ?? this.app.conf.loglevel;
  }

  /** Log file, if any. */
  get logfile(): string | undefined {
    return this.#options.logfile;
  }

  /**
   * Start: logging, `onWorkerInit`, autodiscovery, the web server, the
   * blocking detector, then every app in order. Logs "Worker ready".
   */
  async start(): Promise<void> {
    if (this.#life.state !== "init" && this.#life.state !== "stopped") return;
    this.#life.state = "starting";
    this.#stopFailed = false;
    this.#leftBehind = false;
    try {
      if (this.#options.configureLogging !== false) {
        this.#closeLogging = await setupLogging(
          this.loglevel,
          this.#options.logfile,
        );
      }
      if (this.loglevel === "debug") {
        this.#detach = this.apps.map((app) => attachDebugLog(app));
      }
      for (const app of this.apps) app.onWorkerInit.send(app);
      for (const app of this.apps) await autodiscover(app);
      if (this.webEnabled) {
        this.#web = new WebServer(this.app);
        await this.#web.start();
        // Before the apps start: member metadata and routes carry the bound port.
        const conf = this.app.conf;
        const bound = withBoundWebPort(conf, this.#web.port!);
        if (bound !== conf) {
          this.#unbound = conf;
          this.app.conf = bound;
        }
      }
      if (this.#web !== undefined) {
        this.#log.debug("Web server listening on {url}", {
          url: this.#web.url,
        });
      }
      this.#startBlockingDetector();
      this.#options.onStartup?.(this);
      for (const app of this.apps) {
        this.#started.push(app);
        this.#log.debug("Starting app {id}", { id: app.conf.appId });
        await app.start();
      }
      this.#life.state = "running";
      this.#log.info("Worker ready");
    } catch (error) {
      // The cause first, then the lines of the stop it leads to.
      if (this.#closeLogging !== undefined) {
        // The message only: an app that failed logged the stack already.
        this.#log.fatal("Worker failed to start: {message}", {
          message: (error as Error)?.message ?? String(error),
        });
        this.#startErrorLogged = true;
      }
      this.#life.state = "running";
      await this.#stopOnce();
      throw error;
    }
  }

  /**
   * Stop the apps in reverse order, then the web server and logging. A
   * pending `run()` then returns; a call while a stop is in progress waits
   * for it.
   */
  async stop(): Promise<void> {
    this.#stopRequested.resolve();
    await this.#stopOnce();
  }

  async #stopOnce(): Promise<void> {
    await this.#life.stop(() => this.#stopAll());
  }

  async #stopAll(): Promise<void> {
    for (const app of [...this.#started].reverse()) {
      try {
        // Half the bound for the agents' events in hand: a hung agent is
        // left behind (logged, its event uncommitted) while the commit and
        // closing the stores still fit in the bound.
        try {
          await app.stop({ agentTimeout: this.#stopTimeout() / 2 });
        } finally {
          if (app.leftBehind > 0) this.#leftBehind = true;
        }
      } catch (error) {
        // The app attempted every step and released what it holds; the
        // exit code reports the failure.
        this.#stopFailed = true;
        this.#log.error("Stopping app {id} failed: {error}", {
          id: app.conf.appId,
          error,
        });
      }
    }
    this.#started = [];
    clearInterval(this.#blocking);
    this.#blocking = undefined;
    try {
      await this.#web?.stop();
    } catch (error) {
      this.#stopFailed = true;
      this.#log.error("Stopping the web server failed: {error}", { error });
    }
    this.#web = undefined;
    // A restart may bind another port: derive the URL from that one then.
    try {
      if (this.#unbound !== undefined) this.app.conf = this.#unbound;
    } catch (error) {
      this.#stopFailed = true;
      this.#log.error("Restoring the settings of app {id} failed: {error}", {
        id: this.app.conf.appId,
        error,
      });
    }
    this.#unbound = undefined;
    for (const detach of this.#detach) detach();
    this.#detach = [];
    this.#log.info("Worker stopped");
    await this.#closeLogging?.();
    this.#closeLogging = undefined;
    this.#life.state = "stopped";
  }

  /**
   * Start, wait for SIGINT/SIGTERM, a crash or a call of `stop()`, stop.
   *
   * @returns The exit code: 0 after a graceful stop, 1 after a crash, a
   *   failed start, a stop step that failed or a stop that took longer
   *   than `stopTimeout`.
   */
  async run(): Promise<number> {
    const { promise: signalled, resolve: onSignal } = Promise.withResolvers<
      string
    >();
    const signals = this.#options.signals !== false;
    let count = 0;
    const handlers: Array<[Deno.Signal, () => void]> = [];
    const forceExit = this.#options.onForceExit;
    const stopSignal = (name: Deno.Signal) => () => {
      count++;
      if (count === 1) {
        this.#log.warning(
          "Received {signal}: stopping gracefully (send it again to force the exit)",
          { signal: name },
        );
        onSignal(name);
      } else {
        this.#log.error("Received {signal} again: forcing the exit", {
          signal: name,
        });
        forceExit?.(130);
      }
    };
    if (signals) {
      handlers.push(["SIGINT", stopSignal("SIGINT")], [
        "SIGTERM",
        stopSignal("SIGTERM"),
      ]);
      if (Deno.build.os !== "windows") {
        handlers.push(["SIGUSR2", () => this.logRunning()]);
      }
      for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
    }
    let code = 0;
    // stop() called by the program (not a signal) also ends run().
    this.#stopRequested = Promise.withResolvers<void>();
    const requested = this.#stopRequested.promise.then(() => "stop" as const);
    try {
      const crashed = Promise.race(this.apps.map((a) => a.crashed));
      const started = this.start().then(() => undefined);
      const first = await Promise.race([
        started.then(() =>
          Promise.race([
            signalled.then(() => "signal" as const),
            requested,
            crashed,
          ])
        ),
        signalled.then(() => "signal" as const),
        requested,
        crashed,
      ]);
      if (first instanceof Error) {
        this.#log.fatal("Worker crashed: {error}", { error: first });
        code = 1;
      }
      code = Math.max(code, await this.#boundedStop(started));
    } catch (error) {
      // Logged by start() unless logging was never set up: make sure it is seen.
      if (!this.#startErrorLogged) {
        console.error(
          `Worker failed to start: ${(error as Error)?.message ?? error}`,
        );
      }
      this.#startErrorLogged = false;
      code = 1;
    } finally {
      for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    }
    return code;
  }

  #stopTimeout(): number {
    return this.#options.stopTimeout ?? 30;
  }

  async #boundedStop(started: Promise<void>): Promise<number> {
    const bound = this.#stopTimeout() * 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), bound)
    );
    const stopping = started.catch(() => {}).then(() => this.#stopOnce()).then(
      () => "stopped" as const,
    );
    const result = await Promise.race([stopping, timeout]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.#log.error("Graceful stop took longer than {seconds} s: giving up", {
        seconds: bound / 1000,
      });
      console.error(
        `Graceful stop took longer than ${bound / 1000} s: giving up`,
      );
      this.#options.onForceExit?.(1);
      return 1;
    }
    const code = this.#stopFailed ? 1 : 0;
    // What a stuck agent awaits (a socket, a timer) would keep the process
    // alive after everything else stopped.
    if (this.#leftBehind) this.#options.onForceExit?.(code);
    return code;
  }

  /** Log what runs: agents and their actors, jobs, services, assigned partitions (SIGUSR2). */
  logRunning(): void {
    for (const app of this.apps) {
      const agents = [...app.agents.values()].map((a) =>
        `${a.name}(x${a.concurrency}${a.running ? "" : ", stopped"})`
      );
      const jobs = app.jobs.map((j) => j.name);
      const services = app.services.map((s) =>
        `${s.label}${s.running ? "" : "(stopped)"}`
      );
      const tps = app.assignment().map((tp) => `${tp.topic}[${tp.partition}]`);
      this.#log.warning(
        "Running tasks of {id}: agents: {agents}; jobs: {jobs}; services: {services}; partitions: {partitions}",
        {
          id: app.conf.appId,
          agents: agents.join(", ") || "none",
          jobs: jobs.join(", ") || "none",
          services: services.join(", ") || "none",
          partitions: tps.join(", ") || "none",
        },
      );
    }
  }

  #startBlockingDetector(): void {
    const conf = this.app.conf;
    const seconds = this.#options.blockingTimeout ?? conf.blockingTimeout ??
      (conf.debug ? 10 : undefined);
    if (seconds === undefined || seconds <= 0) return;
    const limit = seconds * 1000;
    const tick = Math.max(10, Math.min(1000, limit / 4));
    let last = performance.now();
    this.#blocking = setInterval(() => {
      const now = performance.now();
      const late = now - last - tick;
      last = now;
      if (late > limit) {
        this.#log.warning(
          "Event loop was blocked for {seconds} s (blockingTimeout {limit} s)",
          {
            seconds: Math.round(late) / 1000,
            limit: seconds,
          },
        );
      }
    }, tick);
  }
}
