import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { waitFor } from "../../testing.ts";
import { Monitor } from "../../src/sensors/monitor.ts";
import { Producer } from "../../src/producer/producer.ts";
import { MemoryTransport } from "../../src/transport/memory.ts";
import type {
  ProduceRecord,
  RecordMetadata,
} from "../../src/transport/transport.ts";

Deno.test("A send larger than producerMaxRequestSize is refused, naming the topic, the size and the setting; smaller ones go through", async () => {
  const dir = await Deno.makeTempDir();
  const app = new App("max-request", {
    broker: "local://",
    store: "memory://",
    datadir: dir,
    producerMaxRequestSize: 1000,
  });
  const blobs = app.topic("blobs", { valueSerializer: "raw", partitions: 1 });
  await app.startClient();
  try {
    const ok = await blobs.send({ value: new Uint8Array(900), key: "k" });
    assert.equal(ok.offset, 0);
    await assert.rejects(
      blobs.send({
        value: new Uint8Array(990),
        key: "key",
        headers: { trace: "0123456789" },
      }),
      /Cannot send to topic "blobs": the record is 1008 bytes \(key, value and headers\), more than producerMaxRequestSize \(1000\)/,
    );
    assert.equal(app.monitor.get("sendErrors"), 1);
    const end = await app.transport.highWatermark({
      topic: "blobs",
      partition: 0,
    });
    assert.equal(end, 1, "nothing of the refused record was written");
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A memory:// transport whose sends wait at a gate, recording each batch. */
class GatedTransport extends MemoryTransport {
  readonly batches: number[] = [];
  gate = Promise.withResolvers<void>();

  override async send(
    records: readonly ProduceRecord[],
  ): Promise<RecordMetadata[]> {
    this.batches.push(records.length);
    await this.gate.promise;
    return await super.send(records);
  }
}

Deno.test("Producer: records queued while a batch is in flight leave together as the next batch (one commit for many awaited sends)", async () => {
  const transport = new GatedTransport("memory://", { defaultPartitions: 1 });
  const producer = new Producer(transport, 0, new Monitor());
  const record = (i: number): ProduceRecord => ({
    topic: "t",
    partition: 0,
    key: null,
    value: new Uint8Array([i]),
  });
  const first = producer.send(record(0));
  await waitFor(() => transport.batches.length === 1, 5000, "first batch");
  // Five callers awaiting their sends while the first batch is in flight.
  const rest = [1, 2, 3, 4, 5].map((i) => producer.send(record(i)));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(transport.batches, [1], "nothing leaves while busy");
  transport.gate.resolve();
  const metas = await Promise.all([first, ...rest]);
  assert.deepEqual(transport.batches, [1, 5]);
  assert.deepEqual(metas.map((m) => m.offset), [0, 1, 2, 3, 4, 5]);
  await producer.close();
});

Deno.test("Producer: a failed send nobody awaits is reported as an unhandled rejection, not lost", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    unhandled.push(e.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const dir = await Deno.makeTempDir();
  const app = new App("unawaited-failure", {
    broker: "local://",
    store: "memory://",
    datadir: dir,
  });
  const t = app.topic("t", { partitions: 1 });
  await app.startClient();
  try {
    // A partition the topic does not have: refused by the broker.
    void t.send({ value: "x", partition: 100_000 });
    await waitFor(() => unhandled.length === 1, 10_000, "the rejection");
    assert.match(String(unhandled[0]), /partition 100000 of topic "t"/);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Topic.send() returns a promise-like that awaits, chains and catches like a promise", async () => {
  const app = new App("send-thenable", {
    broker: "memory://",
    store: "memory://",
    topicPartitions: 2,
  });
  const t = app.topic("t", { keyType: "string", valueType: "json" });
  await app.startClient();
  try {
    const sent = t.send({ key: "a", value: 1 });
    assert.equal(Object.prototype.toString.call(sent), "[object Promise]");
    const meta = await sent;
    assert.equal(meta.topic, "t");
    assert.equal((await sent).offset, meta.offset, "awaits again");
    assert.equal(await t.send({ key: "a", value: 2 }).then((m) => m.offset), 1);
    let finished = false;
    await t.send({ key: "a", value: 3 }).finally(() => finished = true);
    assert.ok(finished);
    const bad = t.send({ key: "a", value: 4, partition: 9 });
    assert.match(String(await bad.catch((e) => e)), /partition/);
    // The same key always goes to the same partition (its bytes are reused).
    const parts = new Set<number>();
    for (let i = 0; i < 20; i++) {
      parts.add((await t.send({ key: "a", value: i })).partition);
    }
    assert.equal(parts.size, 1);
    assert.equal([...parts][0], meta.partition);
  } finally {
    await app.stop();
  }
});

Deno.test("QueuedSend.whenDone() reports each outcome once, without a promise; a throwing listener does not stop the rest of the batch", async () => {
  const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
  const producer = new Producer(transport, 0, new Monitor());
  const record = (i: number, partition = 0): ProduceRecord => ({
    topic: "t",
    partition,
    key: null,
    value: new Uint8Array([i]),
  });
  const uncaught: unknown[] = [];
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    uncaught.push(e.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const offsets: number[] = [];
    const sends = [0, 1, 2].map((i) => producer.enqueue(record(i), undefined));
    sends[0]!.whenDone(() => {
      throw new Error("listener failed");
    }, () => {});
    for (const s of sends.slice(1)) {
      s.whenDone((m) => offsets.push(m.offset), () => offsets.push(-1));
    }
    await producer.flush();
    assert.deepEqual(offsets, [1, 2], "the later records were still told");
    await waitFor(() => uncaught.length === 1, 5000, "the listener's error");
    assert.match(String(uncaught[0]), /listener failed/);
    // Already settled: told right away.
    let late = -1;
    sends[2]!.whenDone((m) => late = m.offset, () => {});
    assert.equal(late, 2);
    // A refused record (no such partition) goes to the failure listener,
    // and is no unhandled rejection.
    const errors: unknown[] = [];
    producer.enqueue(record(3, 7), undefined).whenDone(
      () => errors.push("sent"),
      (e) => errors.push(e),
    );
    await producer.flush().catch(() => {});
    assert.equal(errors.length, 1);
    assert.notEqual(errors[0], "sent");
  } finally {
    globalThis.removeEventListener("error", onError);
    await producer.close();
  }
});
