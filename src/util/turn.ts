/**
 * Waiting for a later turn of the event loop.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Resolves in a later turn of the event loop, after the I/O callbacks and
 * timers due (a resolved promise would resolve before them). Not
 * `setTimeout(0)`: nested timers are clamped to 4 ms.
 *
 * @returns A promise resolved in the next turn.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
