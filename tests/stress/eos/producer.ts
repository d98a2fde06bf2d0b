/**
 * The producer of the exactly-once kill -9 rotation: a separate process
 * that writes `N` events `{ key, seq }` (seq 0..N-1, key `k{seq % KEYS}`)
 * to topic `in` of a `local://` broker, in batches, and prints
 * `produced N` when all are acknowledged.
 *
 *   deno run -A producer.ts BROKER_URL N KEYS
 */
import { App } from "../../../mod.ts";

const [url, nArg, keysArg] = Deno.args;
const n = Number(nArg);
const keys = Number(keysArg);
if (url === undefined || !Number.isInteger(n) || !Number.isInteger(keys)) {
  throw new Error("usage: producer.ts BROKER_URL N KEYS");
}

const app = new App("eos-stress-producer", { broker: url, topicPartitions: 4 });
const input = app.topic("in", {
  keyType: "string",
  valueType: "json",
  partitions: 4,
});
await app.startClient();
const BATCH = 100;
for (let start = 0; start < n; start += BATCH) {
  const sends: Promise<unknown>[] = [];
  for (let seq = start; seq < Math.min(n, start + BATCH); seq++) {
    const key = `k${seq % keys}`;
    sends.push(input.send({ key, value: { key, seq } }));
  }
  await Promise.all(sends);
  // Spread the input over the first kills of the rotation.
  await new Promise((r) => setTimeout(r, 60));
}
console.log(`produced ${n}`);
await app.stop();
