import assert from "node:assert/strict";
import { StateError } from "../../src/errors.ts";
import {
  bytes,
  pollN,
  RecordingListener,
  startTransport,
  text,
  unique,
} from "./_helpers.ts";

Deno.test("KafkaTransactionalProducer: committed records are visible, aborted ones are not", async () => {
  const t = await startTransport();
  const out = unique("txout");
  const input = unique("txin");
  const groupId = unique("g");
  try {
    await t.createTopic({ name: out, partitions: 1 });
    await t.createTopic({ name: input, partitions: 1 });
    const tx = await t.createTransactionalProducer(unique("tx"));
    await assert.rejects(tx.send([]), StateError);

    await tx.begin();
    const meta = await tx.send([
      { topic: out, partition: 0, key: null, value: bytes("c1") },
      { topic: out, partition: 0, key: null, value: bytes("c2") },
    ]);
    assert.deepEqual(meta.map((m) => m.offset), [0, 1]);
    await tx.sendOffsets(groupId, [{ topic: input, partition: 0, offset: 42 }]);
    await tx.commit();

    await tx.begin();
    await tx.send([{
      topic: out,
      partition: 0,
      key: null,
      value: bytes("aborted"),
    }]);
    await tx.abort();

    await tx.begin();
    await tx.send([{
      topic: out,
      partition: 0,
      key: null,
      value: bytes("c3"),
    }]);
    await tx.commit();

    // read() (read_committed) skips the aborted record and the markers.
    const read = await t.read({ topic: out, partition: 0 }, 0, 100);
    assert.deepEqual(read.map((r) => text(r.value)), ["c1", "c2", "c3"]);
    assert.deepEqual(
      await t.read({ topic: out, partition: 0 }, read.at(-1)!.offset + 1, 100),
      [],
    );
    // Transaction markers take offsets: the next offset is past c3's marker.
    assert.ok(
      await t.highWatermark({ topic: out, partition: 0 }) >
        read.at(-1)!.offset + 1,
    );

    // A group consumer (read_committed) sees the same, and the offset committed in the transaction.
    const c = t.createConsumer({ groupId, listener: new RecordingListener() });
    await c.subscribe([out]);
    const got = await pollN(c, 3, 15_000);
    assert.deepEqual(got.map((r) => text(r.value)), ["c1", "c2", "c3"]);
    assert.deepEqual(await c.poll(10, 500), []);
    const committed = await c.committed([{ topic: input, partition: 0 }]);
    assert.deepEqual([...committed.values()], [42]);
    await c.close();
  } finally {
    await t.deleteTopic(out);
    await t.deleteTopic(input);
    await t.stop();
  }
});

Deno.test("read_committed: records of two producers' aborted transactions stay hidden when the later-begun one was aborted first", async () => {
  // The broker lists aborted transactions in the order of their aborts:
  // here [b (first offset 1), a (first offset 0)], which kafkajs' own
  // filter mishandles (it let "a-aborted" through as committed).
  const t = await startTransport();
  const out = unique("txorder");
  const groupId = unique("g");
  try {
    await t.createTopic({ name: out, partitions: 1 });
    const a = await t.createTransactionalProducer(unique("txa"));
    const b = await t.createTransactionalProducer(unique("txb"));
    const c = await t.createTransactionalProducer(unique("txc"));
    const rec = (v: string) => [{
      topic: out,
      partition: 0,
      key: null,
      value: bytes(v),
    }];
    await a.begin();
    await a.send(rec("a-aborted"));
    await b.begin();
    await b.send(rec("b-aborted"));
    await b.abort();
    await a.abort();
    await c.begin();
    await c.send(rec("c-committed"));
    await c.commit();
    for (const p of [a, b, c]) await p.close();

    const read = await t.read({ topic: out, partition: 0 }, 0, 100);
    assert.deepEqual(read.map((r) => text(r.value)), ["c-committed"]);

    const consumer = t.createConsumer({
      groupId,
      listener: new RecordingListener(),
    });
    await consumer.subscribe([out]);
    const got = await pollN(consumer, 1, 15_000);
    got.push(...await consumer.poll(10, 1000));
    await consumer.close();
    assert.deepEqual(got.map((r) => text(r.value)), ["c-committed"]);
  } finally {
    await t.deleteTopic(out);
    await t.stop();
  }
});
