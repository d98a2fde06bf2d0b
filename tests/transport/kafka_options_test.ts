import assert from "node:assert/strict";
import { CompressionTypes } from "kafkajs";
import { readKafkaSettings } from "../../src/transport/kafka/options.ts";
import { sendRecords } from "../../src/transport/kafka/producer.ts";
import { resolveSettings } from "../../src/settings/settings.ts";
import { ConfigError } from "../../src/errors.ts";
import { KafkaTransport } from "../../src/transport/kafka.ts";

Deno.test("readKafkaSettings() takes producerRequestTimeout (seconds) as the produce request timeout, 30 s by default", () => {
  const conf = resolveSettings("k", { producerRequestTimeout: "5s" });
  assert.equal(
    readKafkaSettings("kafka://127.0.0.1:9092", { ...conf }).produceTimeoutMs,
    5000,
  );
  const defaults = resolveSettings("k", {});
  assert.equal(
    readKafkaSettings("kafka://127.0.0.1:9092", { ...defaults })
      .produceTimeoutMs,
    30_000,
  );
});

Deno.test("sendRecords() passes the produce timeout to kafkajs sendBatch", async () => {
  const seen: unknown[] = [];
  const sender = {
    sendBatch: (batch: unknown) => {
      seen.push(batch);
      return Promise.resolve([{
        topicName: "t",
        partition: 0,
        errorCode: 0,
        baseOffset: "7",
      }]);
    },
  };
  const [meta] = await sendRecords(
    sender as never,
    [{ topic: "t", partition: 0, key: null, value: new Uint8Array(1) }],
    { acks: -1, compression: CompressionTypes.None, timeoutMs: 5000 },
  );
  assert.equal(meta?.offset, 7);
  assert.equal((seen[0] as { timeout: number }).timeout, 5000);
});

Deno.test("readKafkaSettings() rejects snappy, lz4 and zstd compression (kafkajs has no codec) naming gzip", () => {
  for (const codec of ["snappy", "lz4", "zstd"]) {
    assert.throws(
      () =>
        readKafkaSettings("kafka://127.0.0.1:1", {
          producerCompressionType: codec,
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(`producerCompressionType: "${codec}"`) &&
        e.message.includes('"gzip"'),
      codec,
    );
  }
});

Deno.test("readKafkaSettings() accepts none and gzip compression", () => {
  for (const codec of [undefined, "none", "gzip"]) {
    readKafkaSettings("kafka://127.0.0.1:1", {
      producerCompressionType: codec,
    });
  }
});

Deno.test("KafkaTransport refuses lz4 when constructed, before any connection", () => {
  assert.throws(
    () =>
      new KafkaTransport("kafka://127.0.0.1:1", {
        defaultPartitions: 1,
        datadir: "/nonexistent",
        clientId: "t",
        extra: { producerCompressionType: "lz4" },
      }),
    /producerCompressionType: "lz4"/,
  );
});

Deno.test("readKafkaSettings() takes consumerFetchMaxBytes as the bytes of one fetch response, 1 MiB by default", () => {
  const conf = resolveSettings("k", { consumerFetchMaxBytes: 65_536 });
  assert.equal(
    readKafkaSettings("kafka://127.0.0.1:9092", { ...conf }).fetchMaxBytes,
    65_536,
  );
  assert.equal(
    readKafkaSettings("kafka://127.0.0.1:9092", {}).fetchMaxBytes,
    1_048_576,
  );
  assert.throws(
    () =>
      readKafkaSettings("kafka://127.0.0.1:9092", {
        consumerFetchMaxBytes: -1,
      }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message ===
        "Invalid consumerFetchMaxBytes: -1; expected an integer >= 1",
  );
});

Deno.test("readKafkaSettings() takes consumerMaxBufferedRecords and consumerIsolationLevel from the app's settings", () => {
  const conf = resolveSettings("k", {
    consumerMaxBufferedRecords: 500,
    consumerIsolationLevel: "read_uncommitted",
  });
  const k = readKafkaSettings("kafka://127.0.0.1:9092", { ...conf });
  assert.equal(k.maxBufferedRecords, 500);
  assert.equal(k.readCommitted, false);
  const d = readKafkaSettings("kafka://127.0.0.1:9092", {
    ...resolveSettings("k", {}),
  });
  assert.equal(d.maxBufferedRecords, 10_000);
  assert.equal(d.readCommitted, true);
});

Deno.test("KafkaTransport.sendWindow bounds the sends in flight below the general 4 x streamBufferMaxsize", () => {
  const t = new KafkaTransport("kafka://127.0.0.1:9092", {
    defaultPartitions: 1,
    datadir: ".",
    clientId: "k",
  });
  assert.equal(t.sendWindow, 2048);
  assert.ok(t.sendWindow < 4 * resolveSettings("k", {}).streamBufferMaxsize);
});
