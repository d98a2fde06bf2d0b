/**
 * Supervisors decide what happens when an actor crashes:
 * `one_for_one` restarts that actor, `one_for_all` restarts every actor of
 * the agent, `crashing` stops the app and ends the worker non-zero. Restarts
 * are rate-limited: more than `maxRestarts` within `window` seconds escalate
 * to a crash, so a poison loop never spins silently.
 *
 * @module
 */

/**
 * A supervisor strategy name.
 *
 * @example Choosing what a crash does
 * ```ts
 * import type { SupervisorStrategy } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const strategy: SupervisorStrategy = "one_for_all"; // or "one_for_one", "crashing"
 * const app = testApp("strategy");
 * app.agent(undefined, async (stream) => {
 *   for await (const value of stream) console.log(value);
 * }, { name: "printer", concurrency: 2, supervisorStrategy: strategy });
 * ```
 */
export type SupervisorStrategy = "one_for_one" | "one_for_all" | "crashing";

/**
 * What a supervisor does with a crash.
 *
 * @example What a supervisor decided
 * ```ts
 * import { Supervisor, type SupervisorDecision } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const decision: SupervisorDecision = new Supervisor("crashing")
 *   .decide("printer", new Error("boom"));
 * assert.equal(decision.action, "crash");
 * ```
 */
export type SupervisorDecision =
  | { readonly action: "restart"; readonly which: "one" | "all" }
  | { readonly action: "crash"; readonly error: Error };

/**
 * Options of {@linkcode Supervisor}.
 *
 * @example A tighter restart limit
 * ```ts
 * import { Supervisor, type SupervisorOptions } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const options: SupervisorOptions = { maxRestarts: 1, window: 60 };
 * const supervisor = new Supervisor("one_for_one", options);
 * assert.equal(supervisor.decide("a", new Error("1")).action, "restart");
 * assert.equal(supervisor.decide("a", new Error("2")).action, "crash");
 * ```
 */
export interface SupervisorOptions {
  /** Restarts allowed within `window` (default 100, as in Faust). */
  readonly maxRestarts?: number;
  /** Window in seconds (default 1). */
  readonly window?: number;
}

/**
 * Decides restarts and crashes for one agent.
 *
 * @example Restart one actor, then give up
 * ```ts
 * import { Supervisor } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const supervisor = new Supervisor("one_for_one", { maxRestarts: 2, window: 1 });
 * assert.deepEqual(supervisor.decide("printer", new Error("boom")), {
 *   action: "restart",
 *   which: "one",
 * });
 * assert.equal(supervisor.restarts, 1);
 * ```
 */
export class Supervisor {
  /** The strategy. */
  readonly strategy: SupervisorStrategy;
  readonly #maxRestarts: number;
  readonly #windowMs: number;
  readonly #restarts: number[] = [];

  /** Create a supervisor with `strategy`. */
  constructor(strategy: SupervisorStrategy, options: SupervisorOptions = {}) {
    this.strategy = strategy;
    this.#maxRestarts = options.maxRestarts ?? 100;
    this.#windowMs = (options.window ?? 1) * 1000;
  }

  /** Restarts done so far. */
  get restarts(): number {
    return this.#restarts.length;
  }

  /** Decide what to do about `error` from an actor of `agent`. */
  decide(agent: string, error: Error): SupervisorDecision {
    if (this.strategy === "crashing") {
      return {
        action: "crash",
        error: new Error(`Agent "${agent}" crashed: ${error.message}`, {
          cause: error,
        }),
      };
    }
    const now = Date.now();
    this.#restarts.push(now);
    while (
      this.#restarts.length > 0 && now - this.#restarts[0]! > this.#windowMs
    ) this.#restarts.shift();
    if (this.#restarts.length > this.#maxRestarts) {
      return {
        action: "crash",
        error: new Error(
          `Agent "${agent}" crashed more than ${this.#maxRestarts} times in ${
            this.#windowMs / 1000
          }s; last error: ${error.message}`,
          { cause: error },
        ),
      };
    }
    return {
      action: "restart",
      which: this.strategy === "one_for_all" ? "all" : "one",
    };
  }
}
