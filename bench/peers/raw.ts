/**
 * The raw-client peer (bench/peers protocol): a bare kafkajs consumer with
 * `eachBatch`, no framework.
 * - forward: JSON decode + map, `producer.send()` of the fetched batch in
 *   chunks of 2000 (awaited in order before the batch's offsets resolve);
 * - count: a `Map` update per record. NO changelog and no store: this is
 *   the ceiling of the client, not a like-for-like stateful peer.
 * - window: a `Map` per (key, 1-minute window of the record timestamp)
 *   summing `n`; no changelog, no store either.
 * Offsets auto-commit every 2.8 s (at-least-once).
 *
 *   deno run -A bench/peers/raw.ts --workload forward|count
 *     --bootstrap 127.0.0.1:PORT --input TOPIC --output TOPIC --app-id ID
 *     --expect N --warmup W --state-dir DIR
 *
 * @module
 */
import { Kafka, logLevel } from "kafkajs";
import {
  emit,
  type InputValue,
  parsePeerArgs,
  summarize,
  summarizeWindows,
  WINDOW_MS,
} from "./_args.ts";

const args = parsePeerArgs(Deno.args);
if (args.bootstrap === "") {
  throw new Error("raw.ts needs --bootstrap host:port (kafka only)");
}

const kafka = new Kafka({
  clientId: args.appId,
  brokers: [args.bootstrap],
  logLevel: logLevel.ERROR,
});
const consumer = kafka.consumer({
  groupId: args.appId,
  maxBytesPerPartition: 1_048_576,
});
const producer = kafka.producer({ allowAutoTopicCreation: false });
const counts = new Map<string, number>();
const sums = new Map<string, number>();
const dec = new TextDecoder();

const CHUNK = 2000;
let processed = 0;
let produced = 0;
let warmAt = 0;
let ready = false;

function advance(n: number): void {
  const before = processed;
  processed += n;
  if (before < args.warmup && processed >= args.warmup) {
    warmAt = performance.now();
    emit({ event: "warm", processed });
  }
  if (args.expect > 0 && before < args.expect && processed >= args.expect) {
    const seconds = (performance.now() - warmAt) / 1000;
    const result = args.workload === "forward"
      ? { produced }
      : args.workload === "window"
      ? summarizeWindows(
        [...sums].map(([k, v]) => {
          const bar = k.indexOf("|");
          return [k.slice(0, bar), Number(k.slice(bar + 1)), v] as const;
        }),
      )
      : summarize(counts.values());
    emit({ event: "done", processed, seconds, result });
  }
}

consumer.on(consumer.events.GROUP_JOIN, () => {
  if (ready) return;
  ready = true;
  emit({ event: "ready", recovered: 0 });
  if (args.warmup === 0 && args.expect > 0) {
    warmAt = performance.now();
    emit({ event: "warm", processed: 0 });
  }
});

consumer.on(consumer.events.CRASH, (e) => {
  if (e.payload.restart) return;
  console.error(`raw.ts: consumer crashed: ${e.payload.error}`);
  Deno.exit(1);
});

const stopped = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => stopped.resolve());
Deno.addSignalListener("SIGINT", () => stopped.resolve());

await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: args.input, fromBeginning: true });
await consumer.run({
  autoCommitInterval: 2800,
  eachBatch: async ({ batch }) => {
    const messages = batch.messages;
    if (args.workload === "forward") {
      const out = new Array(messages.length);
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        const v = JSON.parse(dec.decode(m.value!)) as InputValue;
        out[i] = {
          key: m.key,
          value: JSON.stringify({ id: v.id, word: v.word, n2: v.n * 2 }),
        };
      }
      // Kafka caps a produce request's record batch (message.max.bytes,
      // 1 MB): send the fetched batch in chunks, in order.
      for (let i = 0; i < out.length; i += CHUNK) {
        await producer.send({
          topic: args.output,
          messages: out.slice(i, i + CHUNK),
        });
      }
      produced += out.length;
    } else if (args.workload === "window") {
      for (const m of messages) {
        const v = JSON.parse(dec.decode(m.value!)) as InputValue;
        const ts = Number(m.timestamp);
        const k = `${v.word}|${ts - ts % WINDOW_MS}`;
        sums.set(k, (sums.get(k) ?? 0) + v.n);
      }
    } else {
      for (const m of messages) {
        const v = JSON.parse(dec.decode(m.value!)) as InputValue;
        counts.set(v.word, (counts.get(v.word) ?? 0) + 1);
      }
    }
    advance(messages.length);
  },
});

await stopped.promise;
await consumer.disconnect();
await producer.disconnect();
Deno.exit(0);
