/**
 * Timers, crontabs and one-shot tasks started once the app is operational.
 * An exception in a timer or crontab is logged with its name and counted,
 * and the timer keeps running (a crashing crontab must not silently stop).
 *
 * @module
 */
import { Cron } from "croner";
import type { RuntimePort } from "../runtime/port.ts";
import { sleep } from "../service.ts";

/**
 * A periodic or one-shot background job of the app.
 *
 * @example Stopping a timer
 * ```ts
 * import type { Job } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("job");
 * const job: Job = app.timer(60, () => console.log("every minute"), {
 *   name: "minutely",
 * });
 * console.log(job.name); // started with the app, stopped with it
 * ```
 */
export interface Job {
  /** Name for logs. */
  readonly name: string;
  /** Start it. */
  start(): void;
  /** Stop it and wait for a running call to finish. */
  stop(): Promise<void>;
}

/**
 * Options shared by timers and crontabs.
 *
 * @example A timer that runs on the leader only
 * ```ts
 * import type { TimerOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: TimerOptions = { onLeader: true, name: "report" };
 * const app = testApp("leader-timer");
 * app.crontab("0 * * * *", () => console.log("hourly"), options);
 * ```
 */
export interface TimerOptions {
  /** Run only on the leader worker (with one worker: always). */
  readonly onLeader?: boolean;
  /** Name for logs (default: the function's name). */
  readonly name?: string;
}

/** What jobs read of the runtime. */
export type JobHost = Pick<RuntimePort, "log" | "monitor" | "isLeader">;

async function runGuarded(
  host: JobHost,
  kind: string,
  name: string,
  fn: () => unknown,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    host.monitor.count(`${kind}Errors`);
    host.log.error(`${kind} {name} raised: {error}`, { name, error });
  }
}

/** Calls `fn` every `interval` seconds; the first call after one interval. */
export class IntervalTimer implements Job {
  readonly name: string;
  readonly #host: JobHost;
  readonly #interval: number;
  readonly #fn: () => unknown;
  readonly #onLeader: boolean;
  #controller = new AbortController();
  #loop: Promise<void> | undefined;

  /** Create a timer. */
  constructor(
    host: JobHost,
    interval: number,
    fn: () => unknown,
    options: TimerOptions,
  ) {
    this.#host = host;
    this.#interval = interval;
    this.#fn = fn;
    this.#onLeader = options.onLeader ?? false;
    this.name = options.name ?? (fn.name || "timer");
  }

  start(): void {
    this.#controller = new AbortController();
    this.#loop = this.#run(this.#controller.signal);
  }

  async #run(signal: AbortSignal): Promise<void> {
    // Start times are kept on a fixed grid, so a slow call does not drift the schedule.
    let next = performance.now() + this.#interval * 1000;
    while (!signal.aborted) {
      await sleep(Math.max(0, next - performance.now()) / 1000, signal);
      if (signal.aborted) return;
      next += this.#interval * 1000;
      if (next < performance.now()) {
        next = performance.now() + this.#interval * 1000;
      }
      if (this.#onLeader && !this.#host.isLeader()) continue;
      await runGuarded(this.#host, "timer", this.name, this.#fn);
    }
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#loop;
  }
}

/** Calls `fn` on a cron schedule (croner syntax) in a timezone. */
export class CronTimer implements Job {
  readonly name: string;
  readonly #host: JobHost;
  readonly #spec: string;
  readonly #timezone: string;
  readonly #fn: () => unknown;
  readonly #onLeader: boolean;
  #cron: Cron | undefined;
  #running: Promise<void> | undefined;

  /** Create a crontab job. */
  constructor(
    host: JobHost,
    spec: string,
    fn: () => unknown,
    timezone: string,
    options: TimerOptions,
  ) {
    this.#host = host;
    this.#spec = spec;
    this.#timezone = timezone;
    this.#fn = fn;
    this.#onLeader = options.onLeader ?? false;
    this.name = options.name ?? (fn.name || `crontab(${spec})`);
    // Validate now so a bad expression fails at declaration, not at start.
    new Cron(spec, { timezone, paused: true }).stop();
  }

  start(): void {
    this.#cron = new Cron(this.#spec, {
      timezone: this.#timezone,
      protect: true,
    }, () => {
      if (this.#onLeader && !this.#host.isLeader()) return;
      this.#running = runGuarded(this.#host, "crontab", this.name, this.#fn);
    });
  }

  async stop(): Promise<void> {
    this.#cron?.stop();
    this.#cron = undefined;
    await this.#running;
  }
}

/** Runs `fn` once when the app is operational. */
export class OneShotTask implements Job {
  readonly name: string;
  readonly #host: JobHost;
  readonly #fn: () => unknown;
  #running: Promise<void> | undefined;

  /** Create a task. */
  constructor(host: JobHost, fn: () => unknown, name?: string) {
    this.#host = host;
    this.#fn = fn;
    this.name = name ?? (fn.name || "task");
  }

  start(): void {
    this.#running = runGuarded(this.#host, "task", this.name, this.#fn);
  }

  async stop(): Promise<void> {
    await this.#running;
  }
}
