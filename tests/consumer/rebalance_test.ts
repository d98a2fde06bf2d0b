/**
 * Rebalance: where an assigned partition goes on from. (Revocation commits
 * and fencing on Kafka: tests/kafka/consumer_test.ts, tests/kafka/eos_test.ts and
 * tests/kafka/churn_test.ts.)
 */
import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { outputs, waitUntil } from "../producer/_local_eos.ts";
import { captureLogs, waitFor } from "../helpers.ts";

Deno.test("Rebalance.assigned() under exactly_once goes on from the offsets this worker's transactions committed when the group reports older ones (nothing processed twice)", async () => {
  // The group's committed offsets stop moving after the first 50 events
  // (as when a broker completes a transaction without writing its marker
  // to `__consumer_offsets`: the records are committed, the group's offset
  // is not), and a later transaction fails to commit once, so the worker
  // takes every partition back from the offsets the group reports.
  const proto = LocalTransport.prototype;
  const createConsumer = proto.createConsumer;
  const createProducer = proto.createTransactionalProducer;
  let frozen: Map<string, number> | undefined;
  let readCommitted:
    | ((
      tps: { topic: string; partition: number }[],
    ) => Promise<Map<string, number>>)
    | undefined;
  let failCommit = false;
  let failed = 0;
  proto.createConsumer = function (
    this: LocalTransport,
    ...args: Parameters<typeof createConsumer>
  ) {
    const c = createConsumer.apply(this, args);
    const committed = c.committed.bind(c);
    readCommitted = committed;
    c.committed = async (tps) => {
      const real = await committed(tps);
      if (frozen === undefined) return real;
      return new Map([...real].map(([k, v]) => [k, frozen!.get(k) ?? v]));
    };
    return c;
  };
  proto.createTransactionalProducer = async function (
    this: LocalTransport,
    id: string,
  ) {
    const tx = await createProducer.call(this, id);
    const commit = tx.commit.bind(tx);
    tx.commit = async () => {
      if (failCommit) {
        failCommit = false;
        failed++;
        throw new Error("injected: the commit did not go through");
      }
      await commit();
    };
    return tx;
  };
  const dir = await Deno.makeTempDir({ prefix: "faust-rebalance-" });
  try {
    const app = new App("eos-own-offsets", {
      broker: `local://${dir}/broker`,
      store: "lmdb://",
      datadir: `${dir}/data`,
      processingGuarantee: "exactly_once",
      topicPartitions: 2,
      brokerCommitInterval: 0.05,
    });
    const input = app.topic("in", { valueType: "json", partitions: 2 });
    const out = app.topic("out", { valueType: "json", partitions: 2 });
    const seen: number[] = [];
    app.agent(input, async (stream) => {
      for await (const [key, value] of stream.items()) {
        await out.send({ key: String(key), value });
        seen.push(value as number);
      }
    });
    await using logs = await captureLogs();
    await app.start();
    const sendAll = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await input.send({ key: `k${i % 5}`, value: i });
      }
    };
    const committedOutputs = (n: number) =>
      waitUntil(`${n} outputs`, async () => await outputs(dir) >= n);
    try {
      await sendAll(0, 50);
      await committedOutputs(50);
      // The group's offsets read from here on are those of now.
      frozen = await readCommitted!([
        { topic: "in", partition: 0 },
        { topic: "in", partition: 1 },
      ]);
      await sendAll(50, 100);
      await committedOutputs(100);
      failCommit = true;
      await sendAll(100, 110);
      await waitFor(
        () => (app.monitor.counters.get("transactionRestarts") ?? 0) >= 1,
        30_000,
        "the transaction restart",
      );
      await committedOutputs(110);
    } finally {
      await app.stop();
    }
    assert.equal(failed, 1);
    assert.ok(
      frozen !== undefined,
      "the group's offsets were read after the freeze",
    );
    assert.equal(await outputs(dir), 110, logs.lines().slice(-20).join("\n"));
    const twice = seen.filter((v, i) => seen.indexOf(v) !== i && v < 100);
    assert.deepEqual(
      twice,
      [],
      "events before the failed commit processed again",
    );
    assert.ok(
      logs.lines().some((l) =>
        /a transaction of this worker committed offset/.test(l)
      ),
      logs.lines().join("\n"),
    );
  } finally {
    proto.createConsumer = createConsumer;
    proto.createTransactionalProducer = createProducer;
    await Deno.remove(dir, { recursive: true });
  }
});
