/**
 * The app under stress: a forward agent and a keyed count table over one
 * input topic, on `local://` + `lmdb://` in a data directory of its own.
 * Configured by environment (set by `_harness.ts`):
 * - `STRESS_GUARANTEE`: `processingGuarantee` (default `at_least_once`);
 * - `STRESS_SLOW_MS`: a pause per event in the forward agent (default 0);
 * - `STRESS_DECODE`: `decodeErrorPolicy` (default `skip`);
 * - `STRESS_AWAIT_SENDS`: `1` to await each send of the forward agent (one
 *   fsynced broker transaction per event: slow, and many small commits).
 *
 * Run it as `deno run -A tests/stress/_app.ts -D DIR worker --without-web`.
 *
 * @module
 */
import { App } from "../../mod.ts";
import { z } from "zod";

/** Topic and table names the harness reads. */
export const NAMES = {
  app: "stress",
  input: "stress-in",
  output: "stress-out",
  table: "counts",
} as const;

/** Partitions of the input and output topics. */
export const PARTITIONS = 4;

const env = (name: string): string | undefined => Deno.env.get(name);
const guarantee = env("STRESS_GUARANTEE") ?? "at_least_once";
const slowMs = Number(env("STRESS_SLOW_MS") ?? 0);
const decode = env("STRESS_DECODE") ?? "skip";
const awaitSends = env("STRESS_AWAIT_SENDS") === "1";

/** The app. */
export const app = new App(NAMES.app, {
  // deno-lint-ignore no-explicit-any
  processingGuarantee: guarantee as any,
  // deno-lint-ignore no-explicit-any
  decodeErrorPolicy: decode as any,
  topicPartitions: PARTITIONS,
  brokerCommitInterval: 0.2,
});

/** One input event: sequence number `i` of key `k`. */
export const Event = z.object({ i: z.number().int(), k: z.string() });

/** The input topic (the producer sends here). */
export const input = app.topic(NAMES.input, {
  keyType: "string",
  valueType: Event,
  partitions: PARTITIONS,
});
const output = app.topic(NAMES.output, {
  keyType: "string",
  valueType: Event,
  partitions: PARTITIONS,
});

const counts = app.table(NAMES.table, {
  keyType: "string",
  valueType: "number",
  default: () => 0,
});

app.agent(input, async (stream) => {
  for await (const [key, event] of stream.items()) {
    // Not awaited by default (one send is one fsynced broker transaction):
    // the commit of this event's offset waits for the send itself.
    const sent = output.send({ key, value: event });
    if (awaitSends) await sent;
    else sent.catch((error) => console.error(`send failed: ${error}`));
    if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs));
  }
}, { name: "forward" });

app.agent(input, async (stream) => {
  for await (const event of stream) {
    counts.set(event.k, counts.get(event.k) + 1);
  }
}, { name: "count" });

if (import.meta.main) await app.main();
