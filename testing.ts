/**
 * Test helpers: apps on the in-memory broker and store, agent test
 * contexts, and a bounded wait. No Kafka, no files.
 *
 * @example Testing an agent without a broker
 * ```ts
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("test");
 * const upper = app.agent(undefined, async function* upper(stream) {
 *   for await (const s of stream) yield String(s).toUpperCase();
 * });
 * const ctx = await upper.testContext().start();
 * const event = await ctx.put("hi");
 * console.log(ctx.results.get(event.offset)); // "HI"
 * await ctx.stop();
 * ```
 *
 * @module
 */
import { App, type AppOptions } from "./src/app.ts";

export { AgentTestContext } from "./src/testing/agent_test_context.ts";
export { MemoryTransport } from "./src/transport/memory.ts";

/**
 * An app on a private `memory://` broker and `memory://` store.
 *
 * @param id App id.
 * @param options More settings.
 * @returns The app, not started.
 *
 * @example An app that needs no broker and no files
 * ```ts
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("unit");
 * assert.equal(app.conf.broker, "memory://");
 * ```
 */
export function testApp(id: string, options: AppOptions = {}): App {
  return new App(id, { broker: "memory://", store: "memory://", ...options });
}

/**
 * Wait until `condition()` is true, checking every 5 ms.
 *
 * @param condition What to wait for.
 * @param timeoutMs Give up after this many milliseconds (default 5000).
 * @throws {Error} When the time runs out, naming `what`.
 *
 * @example Waiting for an agent to catch up
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 *
 * const app = testApp("wait");
 * const words = app.topic("words", { valueType: "string" });
 * const seen: string[] = [];
 * app.agent(words, async (stream) => {
 *   for await (const w of stream) seen.push(w);
 * }, { name: "collector" });
 * await app.start();
 * try {
 *   await words.send({ value: "hello" });
 *   await waitFor(() => seen.length === 1, 5000, "the word");
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
