/**
 * Raw consume throughput on kafka://: a bare kafkajs consumer (eachBatch,
 * doing nothing) against our KafkaTransport consumer's poll() loop, draining
 * the same pre-loaded topic (4 partitions, N records of 100 bytes).
 *
 *   scripts/kafka.sh start
 *   deno run -A bench/kafka_raw_bench.ts [N]      # default N = 500000
 *
 * Broker address: FAUST_TEST_KAFKA (default 127.0.0.1:9092). Not a test.
 */
import { Kafka, logLevel } from "kafkajs";
import { KafkaTransport } from "../src/transport/kafka.ts";
import type { ProduceRecord } from "../src/transport/transport.ts";

const BROKER = Deno.env.get("FAUST_TEST_KAFKA") ?? "127.0.0.1:9092";
const N = Number(Deno.args[0] ?? 500_000);
const PARTITIONS = 4;
const topic = `bench-raw-${Date.now().toString(36)}`;
const LIMIT_MS = 300_000;

const transport = new KafkaTransport(`kafka://${BROKER}`, {
  defaultPartitions: PARTITIONS,
  datadir: "/nonexistent",
  clientId: "faust-bench",
  extra: { consumerMaxBufferedRecords: 20_000 },
});
await transport.start();
await transport.createTopic({ name: topic, partitions: PARTITIONS });

// Pre-load.
const value = new Uint8Array(100).fill(120);
let t0 = performance.now();
for (let sent = 0; sent < N;) {
  const n = Math.min(10_000, N - sent);
  const batch: ProduceRecord[] = [];
  for (let i = 0; i < n; i++) {
    batch.push({ topic, partition: (sent + i) % PARTITIONS, key: null, value });
  }
  await transport.send(batch);
  sent += n;
}
const loadS = (performance.now() - t0) / 1000;
console.log(
  `pre-loaded ${N} records in ${loadS.toFixed(1)} s (${
    Math.round(N / loadS)
  } records/s via KafkaTransport.send)`,
);

// Bare kafkajs consumer.
const kafka = new Kafka({
  clientId: "faust-bench-raw",
  brokers: [BROKER],
  logLevel: logLevel.NOTHING,
});
const raw = kafka.consumer({
  groupId: `${topic}-raw`,
  maxBytesPerPartition: 1_048_576,
});
await raw.connect();
await raw.subscribe({ topic, fromBeginning: true });
let seen = 0;
let rawStart = 0;
const rawDone = Promise.withResolvers<void>();
t0 = performance.now();
await raw.run({
  autoCommit: false,
  eachBatch: ({ batch }) => {
    if (rawStart === 0) rawStart = performance.now();
    seen += batch.messages.length;
    if (seen >= N) rawDone.resolve();
    return Promise.resolve();
  },
});
const rawTimer = setTimeout(
  () =>
    rawDone.reject(
      new Error(`raw consumer saw ${seen}/${N} in ${LIMIT_MS} ms`),
    ),
  LIMIT_MS,
);
await rawDone.promise;
clearTimeout(rawTimer);
const rawEnd = performance.now();
await raw.disconnect();

// Our consumer's poll() loop.
const ours = transport.createConsumer({
  groupId: `${topic}-ours`,
  listener: {
    onPartitionsAssigned: () => Promise.resolve(),
    onPartitionsRevoked: () => Promise.resolve(),
  },
});
const oursJoin = performance.now();
await ours.subscribe([topic]);
let got = 0;
let oursStart = 0;
const deadline = Date.now() + LIMIT_MS;
while (got < N && Date.now() < deadline) {
  const records = await ours.poll(10_000, 1_000);
  if (oursStart === 0 && records.length > 0) oursStart = performance.now();
  got += records.length;
}
const oursEnd = performance.now();
await ours.close();
await transport.deleteTopic(topic);
await transport.stop();
if (got < N) {
  throw new Error(`KafkaTransport consumer saw ${got}/${N} in ${LIMIT_MS} ms`);
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
console.log(
  `command: deno run -A bench/kafka_raw_bench.ts ${N}   (broker ${BROKER}, ${PARTITIONS} partitions, 100-byte values)`,
);
console.log(
  `bare kafkajs eachBatch:     ${
    rate(N, rawEnd - rawStart)
  } records/s (first record to last; ` +
    `${((rawEnd - t0) / 1000).toFixed(1)} s incl. group join)`,
);
console.log(
  `KafkaTransport poll() loop: ${
    rate(N, oursEnd - oursStart)
  } records/s (first record to last; ` +
    `${((oursEnd - oursJoin) / 1000).toFixed(1)} s incl. group join)`,
);
