import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { KafkaTransport, parseKafkaUrl } from "../../src/transport/kafka.ts";
import { bytes, startTransport, text, unique } from "./_helpers.ts";

Deno.test("parseKafkaUrl() reads host lists and default ports", () => {
  assert.deepEqual(parseKafkaUrl("kafka://localhost"), ["localhost:9092"]);
  assert.deepEqual(parseKafkaUrl("kafka://a:1;b:2"), ["a:1", "b:2"]);
  assert.throws(() => parseKafkaUrl("kafka://"), ConfigError);
  assert.throws(() => parseKafkaUrl("local://x"), /kafka:\/\/host:port/);
  assert.throws(() => parseKafkaUrl("kafka://a:99999"), /a:99999/);
});

Deno.test("KafkaTransport rejects unsupported compression with the accepted values", () => {
  const options = { defaultPartitions: 1, datadir: "/x", clientId: "t" };
  assert.throws(
    () =>
      new KafkaTransport("kafka://127.0.0.1:1", {
        ...options,
        extra: { producerCompressionType: "snappy" },
      }),
    /producerCompressionType.*"gzip"/,
  );
  assert.throws(
    () =>
      new KafkaTransport("kafka://127.0.0.1:1", {
        ...options,
        extra: { producerAcks: 2 },
      }),
    /producerAcks: 2; expected -1, 0 or 1/,
  );
});

Deno.test("KafkaTransport.createTopic() creates, is idempotent and names a partition mismatch", async () => {
  const t = await startTransport();
  const name = unique("create");
  try {
    assert.equal(await t.partitionCount(name), undefined);
    await t.createTopic({
      name,
      partitions: 4,
      compacting: true,
      deleting: true,
      retentionMs: 3_600_000,
    });
    assert.equal(await t.partitionCount(name), 4);
    await t.createTopic({ name, partitions: 4 });
    await assert.rejects(
      t.createTopic({ name, partitions: 6 }),
      (e: Error) =>
        e instanceof ConfigError && e.message.includes(name) &&
        /4 partitions/.test(e.message) && /6/.test(e.message),
    );
    await t.deleteTopic(name);
    await t.deleteTopic(name); // missing: ignored
  } finally {
    await t.stop();
  }
});

Deno.test("KafkaTransport.send() + read() round trip keys, headers, timestamps and offsets", async () => {
  const t = await startTransport({ producerCompressionType: "gzip" });
  const name = unique("roundtrip");
  try {
    await t.createTopic({ name, partitions: 2 });
    const meta = await t.send([
      {
        topic: name,
        partition: 0,
        key: bytes("k0"),
        value: bytes("v0"),
        headers: { h: bytes("x") },
        timestamp: 1_000,
      },
      {
        topic: name,
        partition: 1,
        key: null,
        value: bytes("v1"),
        timestamp: 2_000,
      },
      {
        topic: name,
        partition: 0,
        key: bytes("k2"),
        value: null,
        timestamp: 3_000,
      },
    ]);
    assert.deepEqual(meta.map((m) => [m.partition, m.offset, m.timestamp]), [
      [0, 0, 1_000],
      [1, 0, 2_000],
      [0, 1, 3_000],
    ]);
    const more = await t.send([{
      topic: name,
      partition: 0,
      key: null,
      value: bytes("v3"),
    }]);
    assert.equal(more[0]!.offset, 2);

    const p0 = await t.read({ topic: name, partition: 0 }, 0, 100);
    assert.deepEqual(p0.map((r) => r.offset), [0, 1, 2]);
    assert.equal(text(p0[0]!.key), "k0");
    assert.equal(text(p0[0]!.value), "v0");
    assert.equal(text(p0[0]!.headers.h!), "x");
    assert.equal(p0[0]!.timestamp, 1_000);
    assert.equal(p0[1]!.value, null);
    assert.ok(p0[0]!.value instanceof Uint8Array);
    // Paging through with a small max, and reading at the end.
    assert.deepEqual(
      (await t.read({ topic: name, partition: 0 }, 1, 1)).map((r) => r.offset),
      [1],
    );
    assert.deepEqual(
      (await t.read({ topic: name, partition: 0 }, 2, 1)).map((r) => r.offset),
      [2],
    );
    assert.deepEqual(await t.read({ topic: name, partition: 0 }, 3, 10), []);
    const p1 = await t.read({ topic: name, partition: 1 }, 0, 10);
    assert.equal(p1.length, 1);
    assert.equal(p1[0]!.key, null);
  } finally {
    await t.deleteTopic(name);
    await t.stop();
  }
});

Deno.test("KafkaTransport.send() of more records than one produce request may hold lands them all, in order (no MESSAGE_TOO_LARGE)", async () => {
  const t = await startTransport();
  const name = unique("big-send");
  try {
    await t.createTopic({ name, partitions: 1 });
    // About 3.5 MB for one partition: one record batch of it all is over
    // the broker's 1 MB message limit.
    const n = 30_000;
    const value = new Uint8Array(100);
    const meta = await t.send(
      Array.from({ length: n }, (_, i) => ({
        topic: name,
        partition: 0,
        key: bytes(`k${i}`),
        value,
      })),
    );
    assert.deepEqual(
      meta.map((m) => m.offset),
      Array.from({ length: n }, (_, i) => i),
    );
    const first = await t.read({ topic: name, partition: 0 }, 0, 3);
    assert.deepEqual(first.map((r) => text(r.key)), ["k0", "k1", "k2"]);
    const last = await t.read({ topic: name, partition: 0 }, n - 1, 1);
    assert.equal(text(last[0]!.key), `k${n - 1}`);
  } finally {
    await t.deleteTopic(name);
    await t.stop();
  }
});

Deno.test("KafkaTransport.send() auto-creates unknown topics with defaultPartitions and checks partitions", async () => {
  const t = await startTransport();
  const name = unique("autocreate");
  try {
    const meta = await t.send([{
      topic: name,
      partition: 2,
      key: null,
      value: bytes("x"),
    }]);
    assert.equal(meta[0]!.offset, 0);
    assert.equal(await t.partitionCount(name), 3);
    await assert.rejects(
      t.send([{ topic: name, partition: 7, key: null, value: bytes("x") }]),
      /has 3 partitions/,
    );
  } finally {
    await t.deleteTopic(name);
    await t.stop();
  }
});

Deno.test("KafkaTransport watermarks follow appends", async () => {
  const t = await startTransport({ producerLinger: "5ms" });
  const name = unique("watermarks");
  try {
    await t.createTopic({ name, partitions: 1 });
    const tp = { topic: name, partition: 0 };
    assert.equal(await t.highWatermark(tp), 0);
    assert.equal(await t.lowWatermark(tp), 0);
    // Lingering merges concurrent sends; each call still gets its own offsets.
    const [a, b] = await Promise.all([
      t.send([{ topic: name, partition: 0, key: null, value: bytes("a") }]),
      t.send([
        { topic: name, partition: 0, key: null, value: bytes("b") },
        { topic: name, partition: 0, key: null, value: bytes("c") },
      ]),
    ]);
    assert.deepEqual([...a!, ...b!].map((m) => m.offset).sort(), [0, 1, 2]);
    assert.equal(await t.highWatermark(tp), 3);
    assert.equal(await t.lowWatermark(tp), 0);
  } finally {
    await t.deleteTopic(name);
    await t.stop();
  }
});

Deno.test("KafkaTransport.send() keeps concurrent calls in call order (one request in flight)", async () => {
  const t = await startTransport();
  const name = unique("order");
  try {
    await t.createTopic({ name, partitions: 2 });
    const calls = 20;
    const per = 200;
    const metas = await Promise.all(
      Array.from({ length: calls }, (_, c) =>
        t.send(
          Array.from({ length: per }, (_, i) => ({
            topic: name,
            partition: i % 2,
            key: null,
            value: bytes(`${c}:${i}`),
          })),
        )),
    );
    // Offsets grow with the call order, and reading back gives call order.
    for (let p = 0; p < 2; p++) {
      const offsets = metas.flatMap((m) =>
        m.filter((x) => x.partition === p).map((x) => x.offset)
      );
      assert.deepEqual(
        offsets,
        Array.from({ length: offsets.length }, (_, i) => i),
      );
      const read: string[] = [];
      for (let i = 0; i < 50 && read.length < calls * per / 2; i++) {
        const recs = await t.read(
          { topic: name, partition: p },
          read.length,
          1000,
        );
        read.push(...recs.map((r) => text(r.value)!));
      }
      const expected: string[] = [];
      for (let c = 0; c < calls; c++) {
        for (let i = p; i < per; i += 2) expected.push(`${c}:${i}`);
      }
      assert.deepEqual(read, expected);
    }
  } finally {
    await t.deleteTopic(name);
    await t.stop();
  }
});

Deno.test("KafkaTransport.createTopic() called by five clients at once succeeds for each", async () => {
  const ts = await Promise.all([0, 1, 2, 3, 4].map(() => startTransport()));
  const names = Array.from({ length: 30 }, () => unique("race"));
  try {
    for (const name of names) {
      const results = await Promise.allSettled(
        ts.map((t) => t.createTopic({ name, partitions: 3 })),
      );
      assert.deepEqual(
        results.filter((r) => r.status === "rejected").map((r) =>
          String((r as PromiseRejectedResult).reason)
        ),
        [],
      );
      for (const t of ts) assert.equal(await t.partitionCount(name), 3);
    }
  } finally {
    for (const name of names) await ts[0]!.deleteTopic(name).catch(() => {});
    for (const t of ts) await t.stop();
  }
});
