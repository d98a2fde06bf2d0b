import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { readKafkaSettings } from "../../src/transport/kafka/options.ts";
import { KafkaTransport } from "../../src/transport/kafka.ts";

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
