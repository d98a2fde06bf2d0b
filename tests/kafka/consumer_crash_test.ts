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

Deno.test("KafkaConsumer: a kafkajs crash that restarts the consumer (broker killed) revokes the partitions at once; buffered records are not returned", async () => {
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
    await resumeBroker();
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
