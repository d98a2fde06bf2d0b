/**
 * A fix for a kafkajs 2.2.4 busy loop: `RequestQueue` re-arms a timer with
 * a negative delay (clamped to 1 ms) whenever it checks its pending queue,
 * even when nothing is pending and nothing is throttled, so every open
 * connection wakes the event loop 1000 times a second (about 4% of a core
 * per idle transport, and Node's `TimeoutNegativeWarning` on stderr).
 * Upstream: tulios/kafkajs#1751, #1704 (fixes unreleased). The patch skips
 * the timer when there is nothing to check; enqueuing a request and
 * throttling still schedule it, and a fulfilled in-flight request still
 * checks the queue. It touches kafkajs internals: the version is pinned in
 * deno.json, and a changed class makes the patch a loud no-op at start.
 *
 * @module
 */
import { kafkajsMethod } from "./internals.ts";

interface QueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
}

let applied = false;

/**
 * Patch kafkajs' request queue once per process.
 *
 * @param warn Called with a message when the internals changed and nothing was patched.
 */
export function patchKafkajsIdleLoop(warn: (message: string) => void): void {
  if (applied) return;
  applied = true;
  const found = kafkajsMethod(
    "src/network/requestQueue/index.js",
    "scheduleCheckPendingRequests",
  );
  if (found === undefined) {
    warn(
      "kafkajs internals changed: RequestQueue.scheduleCheckPendingRequests not found; idle connections will poll every 1 ms",
    );
    return;
  }
  const { proto, original } = found;
  proto.scheduleCheckPendingRequests = function (this: QueueLike) {
    if (
      this.pending.length === 0 && !(this.throttledUntil > Date.now())
    ) return;
    return (original as (this: QueueLike) => unknown).call(this);
  };
}
