/**
 * The producer process of the stress tests: sends events `i = FROM, FROM+1,
 * ...` keyed `k{i % KEYS}` to the stress app's input topic, in batches of
 * BATCH awaited one after the other (so what the broker holds is always a
 * prefix), with PAUSE_MS between batches, until SIGTERM/SIGINT (then it
 * stops the client and exits 0) or TO is reached. Prints "ready" after its
 * first batch.
 *
 *   deno run -A tests/stress/_producer.ts DIR FROM TO KEYS BATCH PAUSE_MS
 *
 * @module
 */
import { app, input } from "./_app.ts";

const [, from, to, keys, batch, pause] = Deno.args.map(Number);
let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(sig, () => stopping = true);
}
await app.startClient();
const deadline = Date.now() + 10 * 60_000;
let i = from!;
for (let n = 0; !stopping && i < to! && Date.now() < deadline; n++) {
  const sends = [];
  for (let j = 0; j < batch! && i < to!; j++, i++) {
    const k = `k${i % keys!}`;
    sends.push(input.send({ key: k, value: { i, k } }));
  }
  await Promise.all(sends);
  if (n === 0) console.log("ready");
  if (pause! > 0) await new Promise((r) => setTimeout(r, pause));
}
await app.stop();
console.log(`stopped at ${i}`);
Deno.exit(0);
