/**
 * Load driver of the end-to-end latency workload (bench/peers protocol):
 * sends M protocol records to the input topic at a fixed rate while a
 * system under test forwards them to the output topic, reads the output
 * topic, and reports the latency of each record from the time it was due
 * to be sent (its slot in the fixed-rate schedule, so a stalled sender
 * does not hide a stall: no coordinated omission) to the time it was read
 * back here. The first W records warm up and are not in the percentiles.
 *
 *   deno run -A bench/peers/latency.ts --broker kafka://127.0.0.1:PORT|local://DIR
 *     --input TOPIC --output TOPIC --count M --warmup W --rate R --state-dir DIR
 *
 * Prints `ready` once its consumer of the output topic is assigned, then
 * `done` with `result`: received (distinct ids), missing, dups, p50Ms,
 * p99Ms, maxMs, sentRate. Bounded: gives up 60 s after the last send.
 *
 * @module
 */
import { createTransport } from "../../src/transport/factory.ts";
import type { ProduceRecord } from "../../src/transport/transport.ts";
import { partitionForKey } from "../../src/producer/partitioner.ts";
import { emit } from "./_args.ts";
import { PARTITIONS, record } from "./_preload.ts";

function flag(name: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Deno.args[i + 1] : undefined;
  if (v === undefined) throw new Error(`latency.ts: missing --${name}`);
  return v;
}

function num(name: string, min: number): number {
  const n = Number(flag(name));
  if (!Number.isFinite(n) || n < min) {
    throw new Error(
      `latency.ts: invalid --${name} ${flag(name)}: expected >= ${min}`,
    );
  }
  return n;
}

const broker = flag("broker");
const input = flag("input");
const output = flag("output");
const m = num("count", 1);
const w = num("warmup", 0);
const rate = num("rate", 1);
const stateDir = flag("state-dir");

const transport = await createTransport(broker, {
  defaultPartitions: PARTITIONS,
  datadir: stateDir,
  clientId: `bench-latency-${Date.now()}`,
});
await transport.start();

const consumer = transport.createConsumer({
  groupId: `bench-latency-${Date.now().toString(36)}`,
  autoOffsetReset: "earliest",
  ephemeral: true,
  listener: {
    onPartitionsRevoked: () => Promise.resolve(),
    onPartitionsAssigned: () => Promise.resolve(),
  },
});
await consumer.subscribe([output]);
emit({ event: "ready" });

const dueMs = (i: number) => start + i * 1000 / rate;
const seen = new Uint8Array(m);
const latencies: number[] = [];
let received = 0;
let dups = 0;
let start = performance.now();
let sendingDone = false;
let lastSentAt = Infinity;
const dec = new TextDecoder();

const reader = (async () => {
  while (received < m) {
    if (sendingDone && performance.now() - lastSentAt > 60_000) break;
    const records = await consumer.poll(10_000, 100);
    const now = performance.now();
    for (const r of records) {
      const id = (JSON.parse(dec.decode(r.value!)) as { id: number }).id;
      if (seen[id] === 1) {
        dups++;
        continue;
      }
      seen[id] = 1;
      received++;
      if (id >= w) latencies.push(now - dueMs(id));
    }
  }
})();

const enc = new TextEncoder();
start = performance.now();
let sent = 0;
while (sent < m) {
  const due = Math.min(
    m,
    Math.floor((performance.now() - start) * rate / 1000) + 1,
  );
  if (due > sent) {
    const batch: ProduceRecord[] = [];
    for (let i = sent; i < due; i++) {
      const { key, value } = record(i);
      const k = enc.encode(key);
      batch.push({
        topic: input,
        partition: partitionForKey(k, PARTITIONS),
        key: k,
        value: enc.encode(value),
      });
    }
    await transport.send(batch);
    sent = due;
  } else {
    await new Promise((r) =>
      setTimeout(r, Math.max(1, dueMs(sent) - performance.now()))
    );
  }
}
const sentRate = m / ((performance.now() - start) / 1000);
lastSentAt = performance.now();
sendingDone = true;
await reader;
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ??
    NaN;
emit({
  event: "done",
  processed: received,
  seconds,
  result: {
    received,
    missing: m - received,
    dups,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies.at(-1) ?? NaN,
    sentRate,
  },
});
// Exit at once: the harness stops the system under test next, and the
// driver's group is used once (nothing to commit).
Deno.exit(0);
