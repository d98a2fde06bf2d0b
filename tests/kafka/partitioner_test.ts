/**
 * Keys partitioned by the Java client's default partitioner on the real
 * broker land where partitionForKey() puts them, and where a kafka://
 * app's topic.send() puts them.
 */
import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { partitionForKey } from "../../src/producer/partitioner.ts";
import { BROKER, requireBroker, startTransport, unique } from "./_helpers.ts";

/** The Kafka jars scripts/kafka.sh fetched (kafka-clients among them). */
function kafkaLibs(): string {
  const version = Deno.env.get("KAFKA_VERSION") ?? "4.4.0";
  const cache = Deno.env.get("FAUST_KAFKA_CACHE") ??
    `${Deno.env.get("HOME")}/.cache/faust-deno/kafka-${version}`;
  return `${cache}/libs`;
}

const KEYS = [
  "21",
  "foobar",
  "a-little-bit-long-string",
  "a-little-bit-longer-string",
  "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
  "abc",
  "user-1",
  "user-2",
  "ünïcødé",
  "k",
];

Deno.test("partitionForKey() agrees with the Java client's default partitioner on the real broker", async () => {
  await requireBroker();
  const topic = unique("java-parts");
  const admin = await startTransport();
  try {
    await admin.createTopic({ name: topic, partitions: 7 });
  } finally {
    await admin.stop();
  }
  const script = new URL("./apps/JavaKeyedProducer.java", import.meta.url)
    .pathname;
  const out = await new Deno.Command("java", {
    args: [
      "-Xmx128m",
      "-cp",
      `${kafkaLibs()}/*`,
      "-Dlog4j2.level=OFF",
      script,
      BROKER,
      topic,
      ...KEYS,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const java = new Map(
    stdout.trim().split("\n").map((l) => {
      const at = l.lastIndexOf(" ");
      return [l.slice(0, at), Number(l.slice(at + 1))] as const;
    }),
  );
  assert.equal(java.size, KEYS.length, stdout);
  // Partitions spread out: the comparison is not trivially all-zero.
  assert.ok(new Set(java.values()).size >= 3, stdout);
  for (const key of KEYS) {
    assert.equal(
      partitionForKey(new TextEncoder().encode(key), 7),
      java.get(key),
      `key ${JSON.stringify(key)}`,
    );
  }

  // And an app's topic.send() with the same keys picks the same partitions.
  const app = new App(unique("java-parts-app"), {
    broker: `kafka://${BROKER}`,
  });
  const t = app.topic(topic, {
    keyType: "string",
    valueType: "string",
    partitions: 7,
  });
  await app.startClient();
  try {
    for (const key of KEYS) {
      const m = await t.send({ key, value: key });
      assert.equal(m.partition, java.get(key), `app send of ${key}`);
    }
  } finally {
    await app.stop();
  }
});
