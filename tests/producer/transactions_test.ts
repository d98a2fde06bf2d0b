/**
 * `processingGuarantee: "exactly_once"` on `local://` in one process: what
 * an agent sends and writes to tables becomes visible only with the commit
 * of its offsets. (Under kill -9: tests/stress/exactly_once_test.ts; on
 * Kafka: tests/kafka/eos_test.ts.)
 */
import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { outputs, waitUntil } from "./_local_eos.ts";
import { captureLogs } from "../helpers.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "faust-eos-local-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function counter(dir: string, extra: Record<string, unknown>) {
  const app = new App("eos-local", {
    broker: `local://${dir}/broker`,
    store: "lmdb://",
    datadir: `${dir}/data`,
    processingGuarantee: "exactly_once",
    topicPartitions: 2,
    ...extra,
  });
  const input = app.topic("in", { valueType: "json", partitions: 2 });
  const out = app.topic("out", { valueType: "json", partitions: 2 });
  const counts = app.table("counts", { default: () => 0 });
  const seen: number[] = [];
  app.agent(input, async (stream) => {
    for await (const [key, value] of stream.items()) {
      const k = String(key);
      counts.set(k, counts.get(k) + 1);
      // Awaited: resolves once staged, long before the commit.
      await out.send({ key: k, value });
      seen.push(value as number);
    }
  });
  return { app, input, counts, seen };
}

Deno.test("exactly_once on local://: an agent's sends become visible only when its offsets commit, and a restart processes nothing twice", async () => {
  await withDir(async (dir) => {
    // No commit until stop().
    const first = counter(dir, {
      brokerCommitInterval: 3600,
      brokerCommitEvery: 10_000,
    });
    await first.app.start();
    for (let i = 0; i < 5; i++) {
      await first.input.send({ key: `k${i % 2}`, value: i });
    }
    await waitUntil("5 events processed", () => first.seen.length === 5);
    assert.equal(await outputs(dir), 0, "nothing visible before the commit");
    assert.equal(first.counts.get("k0"), 3, "the table reads its own writes");
    await first.app.stop();
    assert.equal(await outputs(dir), 5);

    const second = counter(dir, { brokerCommitInterval: 0.05 });
    await second.app.start();
    try {
      assert.equal(second.counts.get("k0"), 3);
      assert.equal(second.counts.get("k1"), 2);
      await second.input.send({ key: "k1", value: 5 });
      await waitUntil(
        "the new event's output",
        async () => await outputs(dir) === 6,
      );
      assert.deepEqual(
        second.seen,
        [5],
        "committed events are not redelivered",
      );
      assert.equal(second.counts.get("k1"), 3);
    } finally {
      await second.app.stop();
    }
  });
});

Deno.test("exactly_once on local://: commits keep coming while the agent awaits every send", async () => {
  await withDir(async (dir) => {
    const c = counter(dir, {
      brokerCommitInterval: 0.02,
      brokerCommitEvery: 3,
    });
    await c.app.start();
    try {
      for (let i = 0; i < 200; i++) {
        await c.input.send({ key: `k${i % 7}`, value: i });
      }
      await waitUntil(
        "200 outputs committed",
        async () => await outputs(dir) === 200,
      );
      assert.equal(c.seen.length, 200);
    } finally {
      await c.app.stop();
    }
  });
});

Deno.test("exactly_once on local://: commits slower than brokerCommitInterval leave the agent time to process (they do not run back to back)", async () => {
  // Every commit takes 250 ms (a loaded broker), 25 times the interval.
  // Commits used to queue one per tick and run back to back; each held
  // delivery, so an agent awaiting its sends got about one event per
  // commit (300 events: over a minute).
  const proto = LocalTransport.prototype;
  const create = proto.createTransactionalProducer;
  let commits = 0;
  proto.createTransactionalProducer = async function (
    this: LocalTransport,
    id: string,
  ) {
    const tx = await create.call(this, id);
    const commit = tx.commit.bind(tx);
    tx.commit = async () => {
      commits++;
      await new Promise((r) => setTimeout(r, 250));
      await commit();
    };
    return tx;
  };
  try {
    await withDir(async (dir) => {
      const client = new App("eos-local-client", {
        broker: `local://${dir}/broker`,
        topicPartitions: 2,
      });
      const input = client.topic("in", { valueType: "json", partitions: 2 });
      await client.startClient();
      for (let i = 0; i < 300; i++) {
        await input.send({ key: `k${i % 7}`, value: i });
      }
      await client.stop();
      const c = counter(dir, {
        brokerCommitInterval: 0.01,
        brokerCommitEvery: 10_000,
      });
      await c.app.start();
      const t0 = Date.now();
      try {
        while (c.seen.length < 300 && Date.now() - t0 < 40_000) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(
          c.seen.length,
          300,
          `${c.seen.length} of 300 events processed in 40 s (${commits} commits)`,
        );
      } finally {
        await c.app.stop();
      }
      assert.equal(await outputs(dir), 300);
    });
  } finally {
    proto.createTransactionalProducer = create;
  }
});

Deno.test("exactly_once on local://: a send into a transaction that never completes fails the transaction after 4 × producerRequestTimeout, and it restarts from the committed offsets (nothing lost, nothing twice)", async () => {
  // The first send into a transaction after one committed with output
  // never completes (a stuck client call), once.
  const proto = LocalTransport.prototype;
  const create = proto.createTransactionalProducer;
  let sends = 0;
  let stuck = false;
  proto.createTransactionalProducer = async function (
    this: LocalTransport,
    id: string,
  ) {
    const tx = await create.call(this, id);
    const send = tx.send.bind(tx);
    const commit = tx.commit.bind(tx);
    let sent = false;
    let committed = false;
    tx.send = (records) => {
      sends++;
      if (committed && !stuck) {
        stuck = true;
        return new Promise<never>(() => {});
      }
      sent = true;
      return send(records);
    };
    tx.commit = async () => {
      await commit();
      if (sent) committed = true;
    };
    return tx;
  };
  try {
    await withDir(async (dir) => {
      const c = counter(dir, {
        brokerCommitInterval: 0.05,
        producerRequestTimeout: 0.25,
      });
      await using logs = await captureLogs();
      await c.app.start();
      let total = 0;
      try {
        // 50 events, committed; then 50 more (a send among them sticks).
        for (let i = 0; i < 100; i++) {
          await c.input.send({ key: `k${i % 7}`, value: i });
          if (i === 49) {
            await waitUntil(
              "50 outputs committed",
              async () => await outputs(dir) === 50,
            );
          }
        }
        await waitUntil(
          "100 outputs committed",
          async () => await outputs(dir) === 100,
        ).catch((e) => {
          throw new Error(`${e}:\n${logs.lines().slice(-30).join("\n")}`);
        });
        for (let k = 0; k < 7; k++) total += c.counts.get(`k${k}`);
      } finally {
        await c.app.stop();
      }
      assert.ok(
        logs.lines().some((l) =>
          /send of 1 records has not completed after 1 s/.test(l)
        ),
        logs.lines().join("\n"),
      );
      assert.ok(stuck && sends > 100, `${sends} sends`);
      assert.equal(c.app.monitor.counters.get("transactionRestarts"), 1);
      assert.equal(total, 100);
    });
  } finally {
    proto.createTransactionalProducer = create;
  }
});

/**
 * Send 60 events (keys k0-k6) and wait until their 60 outputs are
 * committed, and that the app did not crash meanwhile; on a timeout the
 * error carries the last log lines.
 */
async function sixtyCommitted(
  c: ReturnType<typeof counter>,
  dir: string,
  logs: { lines(): string[] },
): Promise<void> {
  let crashed: Error | undefined;
  void c.app.crashed.then((e) => crashed = e);
  for (let i = 0; i < 60; i++) {
    await c.input.send({ key: `k${i % 7}`, value: i });
  }
  await waitUntil(
    "60 outputs committed",
    async () => crashed !== undefined || await outputs(dir) === 60,
  ).catch((e) => {
    throw new Error(`${e}:\n${logs.lines().slice(-30).join("\n")}`);
  });
  assert.equal(crashed, undefined, String(crashed?.stack));
}

/**
 * Run `fn` with the app's very first transactional send never completing (a
 * stuck client call): its transaction fails (after 4 × producerRequestTimeout)
 * before the group has any committed offset. 60 events go through a counter
 * whose agent awaits its sends; resolves once all 60 outputs are committed.
 */
async function withStuckFirstSend(
  fn: (
    c: ReturnType<typeof counter>,
    logs: { lines(): string[] },
    total: number,
  ) => void,
  holdPolls = false,
): Promise<void> {
  const proto = LocalTransport.prototype;
  const create = proto.createTransactionalProducer;
  const createConsumer = proto.createConsumer;
  let stuck = false;
  // With holdPolls: from the stuck send on, a poll waits (unless stopped)
  // until the restart seeks, then reads: a poll in progress across the
  // restart's seeks, which must not be taken for a stale one.
  let sought = false;
  let wake: (() => void) | undefined;
  if (holdPolls) {
    proto.createConsumer = function (
      this: LocalTransport,
      ...args: Parameters<typeof createConsumer>
    ) {
      const c = createConsumer.apply(this, args);
      const poll = c.poll.bind(c);
      const seek = c.seek.bind(c);
      c.seek = (tp, offset) => {
        seek(tp, offset);
        if (stuck && !sought) {
          sought = true;
          wake?.();
        }
      };
      c.poll = async (max, ms, signal) => {
        if (stuck && !sought && signal?.aborted !== true) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            signal?.addEventListener("abort", () => resolve(), { once: true });
          });
        }
        return await poll(max, ms, signal);
      };
      return c;
    };
  }
  proto.createTransactionalProducer = async function (
    this: LocalTransport,
    id: string,
  ) {
    const tx = await create.call(this, id);
    const send = tx.send.bind(tx);
    tx.send = (records) => {
      if (!stuck) {
        stuck = true;
        return new Promise<never>(() => {});
      }
      return send(records);
    };
    return tx;
  };
  try {
    await withDir(async (dir) => {
      const c = counter(dir, {
        brokerCommitInterval: 0.05,
        producerRequestTimeout: 0.25,
      });
      await using logs = await captureLogs();
      await c.app.start();
      let total = 0;
      try {
        await sixtyCommitted(c, dir, logs);
        for (let k = 0; k < 7; k++) total += c.counts.get(`k${k}`);
      } finally {
        await c.app.stop().catch(() => {});
      }
      assert.ok(stuck);
      assert.equal(await outputs(dir), 60);
      fn(c, logs, total);
    });
  } finally {
    proto.createConsumer = createConsumer;
    proto.createTransactionalProducer = create;
  }
}

Deno.test("exactly_once on local://: a transaction that fails before the app's first commit (no committed offset yet) restarts from where the partitions began, without a crash (nothing lost, nothing twice)", async () => {
  await withStuckFirstSend((c, _logs, total) => {
    assert.equal(c.app.monitor.counters.get("transactionRestarts"), 1);
    assert.equal(total, 60);
  });
});

Deno.test("exactly_once on local://: a poll in progress while a transaction restarts returns records read after the restart's seek: they are delivered, nothing stalls", async () => {
  await withStuckFirstSend((c, _logs, total) => {
    assert.equal(c.app.monitor.counters.get("transactionRestarts"), 1);
    assert.equal(total, 60);
  }, true);
});

Deno.test("exactly_once on local://: an agent raising on a send its transaction refused logs that the event will be processed again, not that it is acked for good", async () => {
  await withStuckFirstSend((_c, logs, total) => {
    const raised = logs.lines().filter((l) => /Agent \S+ raised on /.test(l));
    assert.ok(raised.length > 0, logs.lines().join("\n"));
    for (const l of raised) {
      assert.doesNotMatch(l, /acked and will not be processed again/);
      assert.match(l, /will be processed again from the committed offset/);
    }
    // And it was: every event counted once.
    assert.equal(total, 60);
  });
});

Deno.test("exactly_once on local://: a changelog append refused by the broker fails its transaction, which restarts from the committed offsets, without a crash (table exact, nothing twice)", async () => {
  // The first changelog append into a transaction fails (as when the
  // broker stays unreachable longer than the client retries), once.
  const proto = LocalTransport.prototype;
  const create = proto.createTransactionalProducer;
  let refused = 0;
  proto.createTransactionalProducer = async function (
    this: LocalTransport,
    id: string,
  ) {
    const tx = await create.call(this, id);
    const send = tx.send.bind(tx);
    tx.send = (records) => {
      if (refused === 0 && records.some((r) => r.topic.endsWith("changelog"))) {
        refused++;
        return Promise.reject(new Error("broker unreachable (test)"));
      }
      return send(records);
    };
    return tx;
  };
  try {
    await withDir(async (dir) => {
      const c = counter(dir, { brokerCommitInterval: 0.05 });
      await using logs = await captureLogs();
      await c.app.start();
      let total = 0;
      try {
        await sixtyCommitted(c, dir, logs);
        await waitUntil("the table's counts", () => {
          total = 0;
          for (let k = 0; k < 7; k++) total += c.counts.get(`k${k}`);
          return total === 60;
        }).catch(() => {});
      } finally {
        await c.app.stop().catch(() => {});
      }
      assert.equal(refused, 1);
      assert.ok((c.app.monitor.counters.get("transactionRestarts") ?? 0) >= 1);
      assert.equal(await outputs(dir), 60);
      assert.equal(total, 60);
    });
  } finally {
    proto.createTransactionalProducer = create;
  }
});

Deno.test("exactly_once on local://: records the client returns again (offsets already delivered in the same assignment) are not processed twice", async () => {
  // The consumer hands out its first records of the input topic a second
  // time, as kafkajs does when it fetches the same offsets again (a seek or
  // its restart while the broker comes back).
  const proto = LocalTransport.prototype;
  const create = proto.createConsumer;
  let repeated = 0;
  proto.createConsumer = function (
    this: LocalTransport,
    ...args: Parameters<typeof create>
  ) {
    const c = create.apply(this, args);
    const poll = c.poll.bind(c);
    let again: Awaited<ReturnType<typeof poll>> | undefined;
    c.poll = async (...a: Parameters<typeof poll>) => {
      if (again !== undefined && again.length > 0) {
        const out = again;
        again = [];
        repeated += out.length;
        return out;
      }
      const out = await poll(...a);
      if (again === undefined && out.some((r) => r.topic === "in")) {
        again = out.filter((r) => r.topic === "in");
      }
      return out;
    };
    return c;
  };
  try {
    await withDir(async (dir) => {
      const client = new App("eos-local-client", {
        broker: `local://${dir}/broker`,
        topicPartitions: 2,
      });
      const input = client.topic("in", { valueType: "json", partitions: 2 });
      await client.startClient();
      for (let i = 0; i < 40; i++) await input.send({ key: `k${i}`, value: i });
      await client.stop();
      const c = counter(dir, { brokerCommitInterval: 0.05 });
      await c.app.start();
      let total = 0;
      try {
        await waitUntil(
          "40 outputs committed",
          async () => await outputs(dir) >= 40,
        );
        for (let i = 0; i < 40; i++) total += c.counts.get(`k${i}`);
      } finally {
        await c.app.stop();
      }
      assert.ok(repeated > 0, "records were returned again");
      assert.equal(await outputs(dir), 40);
      assert.equal(total, 40);
    });
  } finally {
    proto.createConsumer = create;
  }
});

Deno.test("exactly_once on local://: no event is delivered while a commit runs (each commit holds the outputs of exactly its offsets)", async () => {
  await withDir(async (dir) => {
    // A backlog behind a small buffer: the partitions block, and each commit
    // empties the buffers, which used to deliver the blocked records into
    // the transaction being committed.
    const c = counter(dir, {
      brokerCommitInterval: 0.05,
      brokerCommitEvery: 7,
      streamBufferMaxsize: 4,
    });
    const client = new App("eos-local-client", {
      broker: `local://${dir}/broker`,
      topicPartitions: 2,
    });
    const input = client.topic("in", { valueType: "json", partitions: 2 });
    await client.startClient();
    for (let i = 0; i < 200; i++) await input.send({ key: `k${i}`, value: i });
    await client.stop();
    const t = new LocalTransport(`local://${dir}/broker`, {
      defaultPartitions: 2,
      datadir: dir,
      clientId: "check",
    });
    await t.start();
    const mismatches: string[] = [];
    const checks: Promise<void>[] = [];
    c.app.sensors.add({
      onCommitCompleted: () => {
        // Outputs change only at commits, so both sides are read before
        // the next one completes.
        let committed = 0;
        for (const s of c.app.monitor.partitions.values()) {
          if (s.topic === "in") committed += s.committed;
        }
        checks.push((async () => {
          let out = 0;
          for (const partition of [0, 1]) {
            out += await t.highWatermark({ topic: "out", partition });
          }
          if (out !== committed) {
            mismatches.push(`${out} outputs for ${committed} committed inputs`);
          }
        })());
      },
    });
    await c.app.start();
    try {
      await waitUntil(
        "200 outputs committed",
        async () => await outputs(dir) === 200,
      );
    } finally {
      await c.app.stop();
      await Promise.all(checks);
      await t.stop();
    }
    assert.deepEqual(mismatches, []);
    assert.ok(checks.length > 10, `only ${checks.length} commits`);
  });
});

Deno.test("exactly_once on memory:// stays a ConfigError that names the brokers with transactions", async () => {
  const app = new App("eos-on-memory-names", {
    broker: "memory://",
    processingGuarantee: "exactly_once",
  });
  const t = app.topic("eos-in");
  app.agent(t, async (stream) => {
    for await (const _ of stream) { /* nothing */ }
  });
  await assert.rejects(
    () => app.start(),
    (e: Error) =>
      e.name === "ConfigError" && e.message.includes("kafka://") &&
      e.message.includes("local://") && e.message.includes("memory://"),
  );
});
