import assert from "node:assert/strict";
import { LocalTransport } from "../../../src/transport/local.ts";
import { tpKey } from "../../../src/util/types.ts";
import { recordingListener } from "../conformance.ts";

const enc = new TextEncoder();

async function withTransport(
  fn: (t: LocalTransport, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-tx-" });
  const t = new LocalTransport(`local://${dir}/broker`, {
    defaultPartitions: 2,
    datadir: dir,
    clientId: "test",
  });
  await t.start();
  try {
    await fn(t, dir);
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function rec(topic: string, partition: number, v: string) {
  return { topic, partition, key: enc.encode(v), value: enc.encode(v) };
}

Deno.test("LocalTransport transaction: records and offsets appear together at commit, not before", async () => {
  await withTransport(async (t) => {
    await t.createTopic({ name: "in", partitions: 1 });
    await t.createTopic({ name: "out", partitions: 2 });
    await t.send([rec("out", 0, "plain")]);
    const tx = await t.createTransactionalProducer("app-eos-0");
    await tx.begin();
    const metas = await tx.send([rec("out", 0, "a"), rec("out", 1, "b")]);
    assert.deepEqual(metas.map((m) => m.offset), [-1, -1]);
    await tx.sendOffsets("app", [{ topic: "in", partition: 0, offset: 7 }]);
    // Nothing of the open transaction is readable, nor is the offset committed.
    assert.equal(await t.highWatermark({ topic: "out", partition: 0 }), 1);
    assert.equal(await t.highWatermark({ topic: "out", partition: 1 }), 0);
    const c = t.createConsumer({
      groupId: "app",
      listener: recordingListener(),
    });
    assert.equal(
      (await c.committed([{ topic: "in", partition: 0 }])).size,
      0,
    );
    await tx.commit();
    // The same metadata objects now carry the offsets the records got.
    assert.deepEqual(metas.map((m) => m.offset), [1, 0]);
    const read = await t.read({ topic: "out", partition: 0 }, 0, 10);
    assert.deepEqual(
      read.map((r) => new TextDecoder().decode(r.value!)),
      ["plain", "a"],
    );
    assert.equal(read[1]!.timestamp, metas[0]!.timestamp);
    assert.equal(
      (await c.committed([{ topic: "in", partition: 0 }])).get(
        tpKey({ topic: "in", partition: 0 }),
      ),
      7,
    );
    await c.close();
    await tx.close();
  });
});

Deno.test("LocalTransport transaction: abort and close drop what was staged", async () => {
  await withTransport(async (t) => {
    await t.createTopic({ name: "out", partitions: 1 });
    const tx = await t.createTransactionalProducer("app-eos-0");
    await tx.begin();
    await tx.send([rec("out", 0, "gone")]);
    await tx.sendOffsets("app", [{ topic: "out", partition: 0, offset: 3 }]);
    await tx.abort();
    await tx.begin();
    await tx.send([rec("out", 0, "kept")]);
    await tx.commit();
    await tx.begin();
    await tx.send([rec("out", 0, "open at close")]);
    await tx.close();
    const read = await t.read({ topic: "out", partition: 0 }, 0, 10);
    assert.deepEqual(
      read.map((r) => new TextDecoder().decode(r.value!)),
      ["kept"],
    );
    await assert.rejects(() => tx.begin(), /is closed/);
  });
});

Deno.test("LocalTransport transaction: a send to a partition the topic lacks is refused at once, not at commit", async () => {
  await withTransport(async (t) => {
    await t.createTopic({ name: "out", partitions: 2 });
    const tx = await t.createTransactionalProducer("app-eos-0");
    await tx.begin();
    await assert.rejects(
      () => tx.send([rec("out", 5, "x")]),
      (e: Error) =>
        e.name === "ConfigError" && e.message.includes("partition 5") &&
        e.message.includes('"out"') && e.message.includes("2 partitions"),
    );
    // Unknown topics take the default partition count (2 here), as plain sends do.
    await assert.rejects(() => tx.send([rec("new", 2, "x")]), /2 partitions/);
    await tx.send([rec("new", 1, "y")]);
    await tx.commit();
    assert.equal(await t.partitionCount("new"), 2);
    await tx.close();
  });
});

Deno.test("LocalTransport transaction: calls out of order are StateErrors naming the producer", async () => {
  await withTransport(async (t) => {
    const tx = await t.createTransactionalProducer("app-eos-3");
    await assert.rejects(
      () => tx.send([rec("out", 0, "x")]),
      (e: Error) =>
        e.name === "StateError" && e.message.includes('"app-eos-3"') &&
        e.message.includes("begin()"),
    );
    await assert.rejects(() => tx.commit(), /no open transaction/);
    await tx.begin();
    await assert.rejects(() => tx.begin(), /already has an open transaction/);
    await assert.rejects(
      () => tx.sendOffsets("g", [{ topic: "in", partition: 0, offset: -1 }]),
      /expected an integer >= 0/,
    );
    await tx.close();
  });
});
