/**
 * KafkaConsumer when the broker goes away: kafkajs crashes its consumer and
 * restarts it after a backoff. The partitions must be revoked at the crash,
 * not at the rejoin: the group may have given them to another member by
 * then. Kills the test broker with -9 and resumes it (`scripts/kafka.sh`).
 */
import assert from "node:assert/strict";
import {
  bytes,
  RecordingListener,
  startTransport,
  unique,
  waitFor,
} from "./_helpers.ts";
import { killBroker, resumeBroker } from "./_churn.ts";
import { kafkajsMethod } from "../../src/transport/kafka/internals.ts";

Deno.test("KafkaConsumer: a kafkajs crash that restarts the consumer (broker killed) revokes the partitions at once; buffered records are not returned; pause and resume meanwhile do not throw", async () => {
  const t = await startTransport();
  const topic = unique("crash");
  const groupId = unique("g");
  let down = false;
  try {
    await t.createTopic({ name: topic, partitions: 2 });
    const records = [];
    for (let i = 0; i < 200; i++) {
      records.push({
        topic,
        partition: i % 2,
        key: bytes(`k${i % 2}`),
        value: bytes(String(i)),
      });
    }
    await t.send(records);
    const l = new RecordingListener();
    const c = t.createConsumer({ groupId, listener: l });
    await c.subscribe([topic]);
    assert.equal(c.assignment().length, 2);
    // Take one record; the rest of the fetch stays buffered.
    let got = 0;
    for (let i = 0; i < 100 && got === 0; i++) {
      got = (await c.poll(1, 200)).length;
    }
    assert.equal(got, 1);
    await killBroker();
    down = true;
    await waitFor(
      () => l.calls.some(([kind]) => kind === "revoked"),
      "revocation while the broker is down",
      90_000,
    );
    assert.deepEqual(c.assignment(), []);
    assert.deepEqual(await c.poll(100, 200), []);
    // While kafkajs restarts its consumer (between its tries it has none),
    // pause and resume (which a restart of exactly-once transactions makes)
    // do not throw.
    const thrown: string[] = [];
    const tries = setInterval(() => {
      try {
        c.pause([{ topic, partition: 0 }]);
        c.resume([{ topic, partition: 0 }]);
      } catch (e) {
        thrown.push(String(e));
      }
    }, 100);
    try {
      await resumeBroker();
    } finally {
      clearInterval(tries);
    }
    assert.deepEqual(thrown.slice(0, 3), []);
    down = false;
    await waitFor(
      () => c.assignment().length === 2,
      "the partitions again after the broker is back",
      120_000,
    );
    await c.close();
  } finally {
    if (down) await resumeBroker();
    await t.deleteTopic(topic).catch(() => {});
    await t.stop();
  }
});

Deno.test("KafkaConsumer: when kafkajs gives up on the group (no group coordinator found within its retries, as while a restarted broker loads its groups) the consumer joins again by itself", async () => {
  // kafkajs does not restart a consumer whose join failed with its
  // non-retriable "group coordinator not found": the one way to get that
  // from a real broker is a restart slow enough to outlast kafkajs' retries,
  // so the first consumer's next lookup of its coordinator is made to fail
  // that way, once.
  const found = kafkajsMethod("src/cluster/index.js", "findGroupCoordinator");
  assert.ok(found, "kafkajs Cluster.findGroupCoordinator");
  const { proto, original } = found;
  const t1 = await startTransport();
  const t2 = await startTransport();
  const topic = unique("gone");
  const groupId = unique("g");
  let first: unknown;
  let armed = false;
  let failed = 0;
  let stop = false;
  let loop: Promise<void> | undefined;
  proto.findGroupCoordinator = function (
    this: unknown,
    args: { groupId: string },
  ) {
    if (args.groupId === groupId) {
      first ??= this;
      if (armed && this === first && failed === 0) {
        failed++;
        const e = Object.assign(
          new Error("Failed to find group coordinator (test)"),
          { name: "KafkaJSGroupCoordinatorNotFound", retriable: false },
        );
        return Promise.reject(e);
      }
    }
    return original.call(this, args);
  };
  try {
    await t1.createTopic({ name: topic, partitions: 2 });
    const c1 = t1.createConsumer({
      groupId,
      listener: new RecordingListener(),
    });
    await c1.subscribe([topic]);
    assert.equal(c1.assignment().length, 2);
    loop = (async () => {
      while (!stop) {
        await c1.poll(100, 200).catch(() =>
          new Promise((r) => setTimeout(r, 200))
        );
      }
    })();
    armed = true;
    // A second member makes the first join again: that join finds no
    // coordinator, and kafkajs gives the first consumer up.
    const c2 = t2.createConsumer({
      groupId,
      listener: new RecordingListener(),
    });
    await c2.subscribe([topic]);
    await waitFor(
      () => c1.assignment().length === 1 && c2.assignment().length === 1,
      "one partition each (the first member back in the group)",
      90_000,
    );
    assert.equal(failed, 1);
    stop = true;
    await loop;
    await c2.close();
    await c1.close();
  } finally {
    stop = true;
    await loop;
    proto.findGroupCoordinator = original;
    await t1.deleteTopic(topic).catch(() => {});
    await t1.stop();
    await t2.stop();
  }
});

Deno.test("KafkaConsumer: a batch kafkajs fetches again after its handler failed (a heartbeat error while the buffer was full) is not returned twice", async () => {
  // kafkajs fetches a batch again when the batch handler throws; ours
  // throws when a heartbeat fails while it waits for room in a full buffer
  // (the broker away), after the batch went into the buffer. The failure
  // is injected into kafkajs' heartbeat, once.
  const found = kafkajsMethod("src/consumer/consumerGroup.js", "heartbeat");
  assert.ok(found, "kafkajs ConsumerGroup.heartbeat");
  const { proto, original } = found;
  const t = await startTransport({ consumerMaxBufferedRecords: 5 });
  const topic = unique("refetch");
  const groupId = unique("g");
  let armed = false;
  let failed = 0;
  proto.heartbeat = function (this: { groupId?: string }, ...args: unknown[]) {
    // Only a heartbeat from our batch handler (the fetch loop heartbeats too).
    if (
      armed && this.groupId === groupId && failed === 0 &&
      (new Error().stack ?? "").includes("onBatch")
    ) {
      failed++;
      return Promise.reject(
        Object.assign(new Error("Connection error (test)"), {
          name: "KafkaJSConnectionError",
          retriable: true,
        }),
      );
    }
    return original.apply(this, args);
  };
  try {
    await t.createTopic({ name: topic, partitions: 1 });
    const records = [];
    for (let i = 0; i < 100; i++) {
      records.push({
        topic,
        partition: 0,
        key: bytes("k"),
        value: bytes(`${i}`),
      });
    }
    await t.send(records);
    const c = t.createConsumer({ groupId, listener: new RecordingListener() });
    armed = true;
    await c.subscribe([topic]);
    // Nothing polled yet: the first batch fills the buffer and its handler
    // heartbeats while it waits, which fails.
    await waitFor(() => failed === 1, "the injected heartbeat failure", 30_000);
    const got: number[] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < 100 && Date.now() < deadline) {
      got.push(...(await c.poll(7, 300)).map((r) => r.offset));
    }
    // Whatever came twice would be here by now.
    for (let i = 0; i < 5; i++) {
      got.push(...(await c.poll(100, 200)).map((r) => r.offset));
    }
    assert.deepEqual(got, [...Array(100).keys()]);
    await c.close();
  } finally {
    proto.heartbeat = original;
    await t.deleteTopic(topic).catch(() => {});
    await t.stop();
  }
});
