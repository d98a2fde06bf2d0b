/**
 * Services: things that start and stop. A subclass overrides the hooks
 * (`onStart`, `onStarted`, `onStop`, `onShutdown`) and marks methods as
 * background tasks or timers with decorators; children added with
 * `addDependency` start before the service and stop after it, in reverse.
 *
 * @module
 */
import { type Duration, toSeconds } from "./util/duration.ts";
import { Lifecycle } from "./service/lifecycle.ts";

type BackgroundMethod = (this: Service) => Promise<void>;
interface BackgroundSpec {
  readonly kind: "task" | "timer";
  readonly method: BackgroundMethod;
  readonly interval: number;
  readonly name: string;
}

const BACKGROUND = Symbol("faust.background");

/**
 * Base class of long-running things.
 *
 * @example A service with a background task
 * ```ts
 * import { Service } from "@faust/faust";
 *
 * class Beeper extends Service {
 *   @Service.task
 *   async beep(): Promise<void> {
 *     while (!this.shouldStop) {
 *       console.log("beep");
 *       await this.sleep(1);
 *     }
 *   }
 * }
 * ```
 */
export class Service {
  #controller = new AbortController();
  readonly #life = new Lifecycle();
  #children: Service[] = [];
  #running: Promise<unknown>[] = [];
  #crash: ((error: Error) => void) | undefined;

  /**
   * Mark a method as a background task, started with the service and
   * expected to return once `shouldStop` is true.
   */
  static task(
    method: BackgroundMethod,
    context: ClassMethodDecoratorContext<Service>,
  ): void {
    context.addInitializer(function (this: Service) {
      backgroundOf(this).push({
        kind: "task",
        method,
        interval: 0,
        name: String(context.name),
      });
    });
  }

  /** Mark a method as a timer called every `interval` (seconds or `"30s"`) while running. */
  static timer(
    interval: Duration,
  ): (
    method: BackgroundMethod,
    context: ClassMethodDecoratorContext<Service>,
  ) => void {
    const seconds = toSeconds(interval, "Service.timer interval");
    return (method, context) => {
      context.addInitializer(function (this: Service) {
        backgroundOf(this).push({
          kind: "timer",
          method,
          interval: seconds,
          name: String(context.name),
        });
      });
    };
  }

  /** Name used in logs; the class name by default. */
  get label(): string {
    return this.constructor.name;
  }

  /** True once stopping has begun. */
  get shouldStop(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Aborted when the service begins to stop. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True between a completed start and the beginning of stop. */
  get running(): boolean {
    return this.#life.running;
  }

  /** Add a child started before this service and stopped after it. */
  addDependency<S extends Service>(child: S): S {
    this.#children.push(child);
    return child;
  }

  /**
   * Called when a background task or timer of this service (or of a child
   * without its own handler) throws. `app.service()` sets it to
   * `app.crash`: the app stops and `app.crashed` resolves. Without a
   * handler the error is thrown where nothing can catch it.
   */
  set onCrash(handler: ((error: Error) => void) | undefined) {
    this.#crash = handler;
  }

  /** The crash handler in effect (see the setter). */
  get onCrash(): ((error: Error) => void) | undefined {
    return this.#crash;
  }

  /** Start children, then `onStart`, background tasks and timers, then `onStarted`. */
  async start(): Promise<void> {
    if (this.#life.state !== "init" && this.#life.state !== "stopped") return;
    this.#life.state = "starting";
    this.#controller = new AbortController();
    for (const child of this.#children) {
      child.#crash ??= this.#crash;
      await child.start();
    }
    await this.onStart();
    for (
      const bg of (this as unknown as { [BACKGROUND]?: BackgroundSpec[] })[
        BACKGROUND
      ] ?? []
    ) {
      this.#running.push(this.#runBackground(bg));
    }
    this.#life.state = "running";
    await this.onStarted();
  }

  /**
   * Stop: signal background work, `onStop`, wait for it, stop children in
   * reverse, then `onShutdown`. A call while a stop is in progress waits
   * for it.
   */
  async stop(): Promise<void> {
    await this.#life.stop(async () => {
      this.#controller.abort();
      await this.onStop();
      await Promise.allSettled(this.#running);
      this.#running = [];
      for (const child of [...this.#children].reverse()) await child.stop();
      await this.onShutdown();
      this.#life.state = "stopped";
    });
  }

  /**
   * Sleep `seconds`, returning early (without error) when the service stops.
   *
   * @param seconds Seconds to sleep.
   */
  sleep(seconds: number): Promise<void> {
    return sleep(seconds, this.#controller.signal);
  }

  /** Hook: called while starting, after the children started. */
  onStart(): Promise<void> | void {}
  /** Hook: called once the service and its background tasks are running. */
  onStarted(): Promise<void> | void {}
  /** Hook: called when stopping begins, before background tasks are awaited. */
  onStop(): Promise<void> | void {}
  /** Hook: called last, after children stopped. */
  onShutdown(): Promise<void> | void {}

  async #runBackground(bg: BackgroundSpec): Promise<void> {
    try {
      if (bg.kind === "task") {
        await bg.method.call(this);
        return;
      }
      while (!this.shouldStop) {
        await this.sleep(bg.interval);
        if (this.shouldStop) break;
        await bg.method.call(this);
      }
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      const wrapped = new Error(
        `Background ${bg.kind} ${this.label}.${bg.name} crashed: ${err.message}`,
        {
          cause: err,
        },
      );
      if (this.#crash !== undefined) this.#crash(wrapped);
      else throw wrapped;
    }
  }
}

function backgroundOf(service: Service): BackgroundSpec[] {
  const holder = service as unknown as { [BACKGROUND]?: BackgroundSpec[] };
  return holder[BACKGROUND] ??= [];
}

/**
 * Sleep `seconds`; resolves early when `signal` aborts. Never rejects.
 *
 * @param seconds Seconds to sleep.
 * @param signal Ends the sleep early.
 *
 * @example Waiting a while
 * ```ts
 * import { sleep } from "@faust/faust";
 *
 * const started = Date.now();
 * await sleep(0.01); // seconds, as in Faust
 * console.log(`${Date.now() - started} ms later`);
 * ```
 */
export function sleep(seconds: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, seconds * 1000));
    signal?.addEventListener("abort", done, { once: true });
  });
}
