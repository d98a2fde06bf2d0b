/**
 * The lifecycle of something made of parts (an app): the parts start in the
 * order of one list, each with the reason it starts there, and stop in
 * three phases: **stop** (stop taking and doing work) in reverse order,
 * **flush** (make what was done durable) in list order, **close** (release
 * connections and files) in reverse order. A part may act in one phase and
 * again in a later one (the consumer stops delivering early and leaves the
 * group late). Every stop step is attempted even when an earlier one failed;
 * the failures are thrown together at the end.
 *
 * @module
 */
import type { StopSteps } from "./stop_steps.ts";

/**
 * A step of a stop phase: `[what, fn]` runs as a step (a failure is logged
 * and collected, the stop goes on); a bare function is a call that cannot
 * fail, made in place.
 */
export type StopStep =
  | readonly [what: string, fn: () => unknown]
  | (() => void);

/** One part and its share of starting and of each stop phase. */
export interface Part {
  /** What the part is. */
  readonly name: string;
  /** Why it starts after the parts above it and before those below. */
  readonly why: string;
  /** From this part on the whole counts as running (set before it starts). */
  readonly running?: boolean;
  /** Start the part. */
  start?(): unknown;
  /** Stop phase (reverse order): stop taking and doing work. */
  stop?(): readonly StopStep[];
  /** Flush phase (list order): make what was done durable. */
  flush?(): readonly StopStep[];
  /** Close phase (reverse order): release what the part holds. */
  close?(): readonly StopStep[];
}

/** States of a lifecycle. */
export type LifecycleState =
  | "init"
  | "starting"
  | "running"
  | "stopping"
  | "stopped";

/**
 * The state machine: `init` -> `starting` -> `running` -> `stopping` ->
 * `stopped` (and again from `stopped`). A stop asked for while one is in
 * progress waits for that one.
 */
export class Lifecycle {
  /** The current state. */
  state: LifecycleState = "init";
  #stopping: Promise<void> | undefined;

  /** True between a completed start and the beginning of stop. */
  get running(): boolean {
    return this.state === "running";
  }

  /** True while starting or running (a stop has something to do). */
  get started(): boolean {
    return this.state === "running" || this.state === "starting";
  }

  /**
   * Start `parts` in order. Returns false, starting nothing more, once a
   * stop began (the state is no longer `starting`, or `running` from the
   * part that marks it on): a crash while starting began the stop, and
   * parts started after it would outlive it.
   */
  async start(parts: readonly Part[]): Promise<boolean> {
    let expected: LifecycleState = "starting";
    for (const part of parts) {
      if (this.state !== expected) return false;
      if (part.running === true) this.state = expected = "running";
      await part.start?.();
    }
    return true;
  }

  /**
   * Stop with `run` (which sets the state to `stopped` when done), or wait
   * for the stop in progress; nothing when neither starting nor running.
   */
  async stop(run: () => Promise<void>): Promise<void> {
    if (this.#stopping !== undefined) return await this.#stopping;
    if (!this.started) return;
    this.state = "stopping";
    const stopping = run();
    this.#stopping = stopping;
    try {
      await stopping;
    } finally {
      this.#stopping = undefined;
    }
  }
}

/**
 * Run the three stop phases of `parts` through `steps`: stop in reverse
 * order, flush in list order, close in reverse order. Each part's steps are
 * asked for when its turn comes (so they see the state of that moment).
 */
export async function stopParts(
  parts: readonly Part[],
  steps: StopSteps,
): Promise<void> {
  const reversed = [...parts].reverse();
  for (const part of reversed) await runSteps(part.stop?.(), steps);
  for (const part of parts) await runSteps(part.flush?.(), steps);
  for (const part of reversed) await runSteps(part.close?.(), steps);
}

async function runSteps(
  list: readonly StopStep[] | undefined,
  steps: StopSteps,
): Promise<void> {
  for (const s of list ?? []) {
    if (typeof s === "function") s();
    else await steps.step(s[0], s[1]);
  }
}
