/**
 * The steps of stopping an app: each one is attempted even when an earlier
 * one failed, each failure is logged as it happens, and all of them are
 * thrown together at the end.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";

/** Runs stop steps, collecting what failed. */
export class StopSteps {
  readonly #appId: string;
  readonly #log: Logger;
  readonly #errors: Error[] = [];

  /** Steps of stopping app `appId`, logged to `log`. */
  constructor(appId: string, log: Logger) {
    this.#appId = appId;
    this.#log = log;
  }

  /** Run one step; a failure is logged and kept, never thrown here. */
  async step(what: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.#errors.push(
        new Error(`${what}: ${error.message}`, { cause: error }),
      );
      this.#log.error("Stopping app {id}: {step} failed: {error}", {
        id: this.#appId,
        step: what,
        error,
      });
    }
  }

  /**
   * Log that the app stopped.
   *
   * @throws {AggregateError} When some steps failed (each is also logged).
   */
  finish(): void {
    const errors = this.#errors;
    if (errors.length > 0) {
      this.#log.warn("App {id} stopped; {n} stop steps failed", {
        id: this.#appId,
        n: errors.length,
      });
      throw new AggregateError(
        errors,
        `Stopping app "${this.#appId}": ${
          errors.map((e) => e.message).join("; ")
        }`,
      );
    }
    this.#log.info("App {id} stopped", { id: this.#appId });
  }
}
