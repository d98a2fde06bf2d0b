/**
 * The App on kafka:// with lmdb:// tables, in one process: exact counts,
 * restart from the stored offsets, rebuild from the changelog, and the
 * changelog partitions co-assigned with their source partitions.
 */
import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import {
  BROKER,
  requireBroker,
  sortTps,
  startTransport,
  unique,
  waitFor,
} from "./_helpers.ts";
import { counter } from "./_counter.ts";
import { createWeb } from "../../src/web/server.ts";
import { captureLogs } from "../helpers.ts";

function wordList(n: number, salt = 0): string[] {
  return Array.from({ length: n }, (_, i) => `w${(i * 7 + salt) % 23}`);
}

function tally(...lists: readonly string[][]): Map<string, number> {
  const m = new Map<string, number>();
  for (const list of lists) for (const w of list) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

function sorted(m: Iterable<[string, number]>): [string, number][] {
  return [...m].sort((a, b) => a[0].localeCompare(b[0]));
}

Deno.test("App on kafka:// counts words exactly, restarts from stored offsets, rebuilds from the changelog", async () => {
  await requireBroker();
  const id = unique("wc");
  const datadir = await Deno.makeTempDir();
  const changelog = `${id}-counts-changelog`;
  try {
    // 1. A clean run: exact counts; the changelog partitions come with their sources.
    const first = counter(id, datadir, 4);
    await first.app.start();
    const words = wordList(300);
    try {
      await first.send(words);
      await waitFor(() => first.processed() === words.length, "first run");
      await first.counts.flush();
      assert.deepEqual(sorted(first.counts.entries()), sorted(tally(words)));
      assert.ok(first.app.isLeader(), "a lone worker leads");
      const assigned = sortTps(
        first.app.assignment().filter((tp) =>
          tp.topic !== `${id}-__assignor-__leader`
        ),
      );
      assert.deepEqual(
        assigned,
        sortTps([0, 1, 2, 3].flatMap((partition) => [
          { topic: changelog, partition },
          { topic: `${id}-words`, partition },
        ])),
      );
    } finally {
      await first.app.stop();
    }

    // 2. Restart on the same store: the table comes back from the stored
    //    offsets (nothing replayed) and no event is processed twice.
    const second = counter(id, datadir, 4);
    await second.app.start();
    const more = wordList(50, 3);
    try {
      assert.equal(second.counts.recoveryStats.records, 0);
      assert.deepEqual(sorted(second.counts.entries()), sorted(tally(words)));
      await second.send(more);
      // Counts reach exactly the expected ones: a replayed event would
      // overshoot (it comes before the new ones in its partition).
      const want = JSON.stringify(sorted(tally(words, more)));
      await waitFor(
        () => JSON.stringify(sorted(second.counts.entries())) === want,
        "second run",
      );
      assert.equal(second.processed(), more.length);
      await second.counts.flush();
      assert.deepEqual(
        sorted(second.counts.entries()),
        sorted(tally(words, more)),
      );
    } finally {
      await second.app.stop();
    }

    // 3. Store deleted: the table is rebuilt from the changelog alone.
    await Deno.remove(second.app.conf.tabledir, { recursive: true });
    const third = counter(id, datadir, 4);
    await third.app.start();
    try {
      // The changelog record cache keeps the last value per key between
      // commits: at least one record per key, at most one per update.
      const replayed = third.counts.recoveryStats.records;
      const keys = tally(words, more).size;
      assert.ok(
        replayed >= keys && replayed <= words.length + more.length,
        `replayed ${replayed} changelog records, expected ${keys}..${
          words.length + more.length
        }`,
      );
      assert.deepEqual(
        sorted(third.counts.entries()),
        sorted(tally(words, more)),
      );
      assert.equal(third.processed(), 0);
    } finally {
      await third.app.stop();
    }
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
});

Deno.test("App on kafka:// drops buffered events of revoked partitions: none is processed after the revocation", async () => {
  await requireBroker();
  const id = unique("revoke");
  const topicName = `${id}-slow`;
  const options = {
    broker: `kafka://${BROKER}`,
    topicPartitions: 2,
    brokerCommitInterval: 0.2,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    webEnabled: false,
  };
  interface Seen {
    partition: number;
    offset: number;
  }
  const violations: string[] = [];
  interface Phase {
    revoking: boolean;
    revokedAt?: number;
  }
  function slowApp(log: Seen[], phase: Phase) {
    const app = new App(id, options);
    const topic = app.topic(topicName, {
      valueType: "string",
      partitions: 2,
    });
    app.agent(topic, async (stream) => {
      for await (const event of stream.events()) {
        if (phase.revoking) {
          violations.push(`${event.partition}@${event.offset}`);
        }
        log.push({ partition: event.partition, offset: event.offset });
        await new Promise((r) => setTimeout(r, 20));
      }
    }, { name: "slow" });
    app.onPartitionsRevoked.connect(() => {
      phase.revoking = true;
      phase.revokedAt ??= log.length;
    });
    app.onPartitionsAssigned.connect(() => {
      phase.revoking = false;
    });
    return { app, topic };
  }
  const seen1: Seen[] = [];
  const seen2: Seen[] = [];
  const phase1: Phase = { revoking: false };
  const phase2: Phase = { revoking: false };
  const one = slowApp(seen1, phase1);
  const two = slowApp(seen2, phase2);
  await one.app.start();
  try {
    const total = 600;
    for (let i = 0; i < total; i++) {
      await one.topic.send({ value: `v${i}`, partition: i % 2 });
    }
    // The first worker buffers far more than it has processed when the second joins.
    await waitFor(() => seen1.length >= 10, "the first worker to start");
    const atJoin = seen1.length;
    await two.app.start();
    await waitFor(() => {
      const done = new Set(
        [...seen1, ...seen2].map((s) => `${s.partition}@${s.offset}`),
      );
      return done.size === total;
    }, "every event processed");
    assert.deepEqual(violations, [], "events processed after revocation");
    assert.ok(seen2.length > 0, "the second worker took a partition");
    // The first worker's buffer held ~590 events (20 ms each): it did not
    // work through them before giving its partitions up (only those
    // processed while the join was under way, about 1-2 s).
    assert.ok(
      phase1.revokedAt !== undefined,
      "the first worker's partitions were revoked when the second joined",
    );
    const during = phase1.revokedAt - atJoin;
    assert.ok(during < 300, `processed ${during} events while revoking`);
  } finally {
    await two.app.stop();
    await one.app.stop();
  }
});

Deno.test("App on kafka:// delivers no held-back record of a partition being revoked: a graceful join processes nothing twice", async () => {
  // Records beyond the stream buffer wait undecoded in their partition's
  // backlog. The revocation drops the buffer, which used to wake that
  // backlog: the leaving worker went on processing records whose offsets it
  // could no longer commit, and the next owner processed them again (under
  // exactly_once, their outputs were committed without their offsets).
  await requireBroker();
  const id = unique("revoke-backlog");
  const topicName = `${id}-in`;
  const options = {
    broker: `kafka://${BROKER}`,
    topicPartitions: 2,
    brokerCommitInterval: 0.2,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    streamBufferMaxsize: 20,
    webEnabled: false,
  };
  const seen = new Map<string, number>();
  function slowApp() {
    const app = new App(id, options);
    const topic = app.topic(topicName, { valueType: "string", partitions: 2 });
    app.agent(topic, async (stream) => {
      for await (const event of stream.events()) {
        const k = `${event.partition}@${event.offset}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 2));
      }
    }, { name: "slow" });
    return { app, topic };
  }
  const one = slowApp();
  const two = slowApp();
  await one.app.start();
  try {
    const total = 4000;
    await Promise.all(
      Array.from(
        { length: total },
        (_, i) => one.topic.send({ value: `v${i}`, partition: i % 2 }),
      ),
    );
    await waitFor(() => seen.size >= 100, "the first worker to start");
    await two.app.start();
    await waitFor(() => seen.size === total, "every event processed", 120_000);
    const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    assert.deepEqual(
      twice.slice(0, 20),
      [],
      `${twice.length} events processed twice`,
    );
  } finally {
    await two.app.stop();
    await one.app.stop();
  }
});

Deno.test("App on kafka:// waits for events in hand at most half of brokerRebalanceTimeout on revocation, with a warning", async () => {
  await requireBroker();
  await using logs = await captureLogs();
  const id = unique("bound");
  const topicName = `${id}-stuck`;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  function stuckApp() {
    const app = new App(id, {
      broker: `kafka://${BROKER}`,
      topicPartitions: 2,
      brokerCommitInterval: 0.2,
      brokerSessionTimeout: 10,
      brokerHeartbeatInterval: 1,
      // Half of it, 2 s, bounds the wait for the event stuck in hand.
      brokerRebalanceTimeout: 4,
      webEnabled: false,
    });
    const topic = app.topic(topicName, { valueType: "string", partitions: 2 });
    let inHand = 0;
    app.agent(topic, async (stream) => {
      for await (const _ of stream) {
        inHand++;
        await gate;
      }
    }, { name: "stuck" });
    return { app, topic, inHand: () => inHand };
  }
  const one = stuckApp();
  const two = stuckApp();
  await one.app.start();
  try {
    await one.topic.send({ value: "a", partition: 0 });
    await one.topic.send({ value: "b", partition: 1 });
    await waitFor(() => one.inHand() === 1, "an event stuck in hand");
    const joined = performance.now();
    await two.app.start();
    await waitFor(
      () => logs.lines().some((l) => l.includes("still in hand after")),
      "the bound's warning",
      15_000,
    );
    const waited = performance.now() - joined;
    const line = logs.lines().find((l) => l.includes("still in hand after"))!;
    assert.match(line, /still in hand after 2000 ms/);
    assert.ok(waited >= 1900, `warned after ${waited} ms`);
    await waitFor(
      () => two.app.assignment().length > 0,
      "the second worker to get partitions",
      30_000,
    );
  } finally {
    release();
    await two.app.stop();
    await one.app.stop();
  }
});

Deno.test("App on kafka:// table lookups on the web answer 503 with Retry-After, never 404, while the worker starts or its partitions move", async () => {
  await requireBroker();
  const id = unique("web-churn");
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const make = (datadir: string, port: number) => {
    const app = new App(id, {
      broker: `kafka://${BROKER}`,
      store: "lmdb://",
      datadir,
      topicPartitions: 2,
      brokerCommitInterval: 0.2,
      brokerSessionTimeout: 10,
      brokerHeartbeatInterval: 1,
      webPort: port,
      webTablesEnabled: true,
    });
    const words = app.topic(`${id}-words`, {
      keyType: "string",
      valueType: "string",
      partitions: 2,
    });
    const counts = app.table("counts", {
      keyType: "string",
      valueType: "number",
      default: () => 0,
    });
    app.agent(words, async (stream) => {
      for await (const w of stream) counts.set(w, counts.get(w) + 1);
    });
    return { app, words, counts, web: createWeb(app).web };
  };
  const a = make(dirs[0]!, 16601);
  const b = make(dirs[1]!, 16602);
  try {
    // A request while the worker starts.
    const starting = a.app.start();
    const early = await a.web.request("/table/counts/w1");
    assert.equal(early.status, 503, await early.text());
    assert.equal(early.headers.get("Retry-After"), "1");
    await starting;
    for (const w of ["w1", "w2", "w3", "w4"]) {
      await a.words.send({ key: w, value: w });
    }
    await waitFor(() => a.counts.size === 4, "4 words counted");
    const ok = await a.web.request("/table/counts/w1");
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).value, 1);
    // While a's partitions are revoked (b joins), the published routing
    // still names a: it must not answer from its empty copy.
    const during: number[] = [];
    a.app.onPartitionsRevoked.connect(async () => {
      for (const w of ["w1", "w2", "w3", "w4"]) {
        const res = await a.web.request(`/table/counts/${w}`);
        during.push(res.status);
        await res.body?.cancel();
      }
    });
    await b.app.start();
    assert.ok(during.length > 0, "a was revoked");
    assert.deepEqual(
      during.filter((s) => s !== 503),
      [],
      `only 503 during the revocation, got ${during}`,
    );
  } finally {
    await b.app.stop();
    await a.app.stop();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("App on kafka:// creates a missing source topic of an agent at start, with topicPartitions partitions", async () => {
  // Before: the consumer subscribed to the missing topic, kafkajs failed
  // with "This server does not host this topic-partition", and the stop
  // that followed ended the process with an unhandled ClosedError instead.
  await requireBroker();
  const id = unique("undeclared");
  const topicName = `${id}-in`;
  const app = new App(id, {
    broker: `kafka://${BROKER}`,
    topicPartitions: 3,
    webEnabled: false,
  });
  const topic = app.topic(topicName, { valueType: "string" });
  const seen: string[] = [];
  app.agent(topic, async (stream) => {
    for await (const v of stream) seen.push(v);
  }, { name: "reader" });
  await app.start();
  try {
    await topic.send({ value: "hello" });
    await waitFor(() => seen.length === 1, "the event");
    assert.deepEqual(seen, ["hello"]);
    const t = await startTransport();
    try {
      assert.equal(await t.partitionCount(topicName), 3);
    } finally {
      await t.stop();
    }
  } finally {
    await app.stop();
  }
});

Deno.test("App on kafka:// with topicAllowDeclare false refuses to start on a missing source topic, naming it", async () => {
  await requireBroker();
  const id = unique("undeclared-off");
  const topicName = `${id}-in`;
  const app = new App(id, {
    broker: `kafka://${BROKER}`,
    topicAllowDeclare: false,
    webEnabled: false,
  });
  const topic = app.topic(topicName, { valueType: "string" });
  app.agent(topic, async (stream) => {
    for await (const _ of stream) { /* nothing arrives */ }
  }, { name: "reader" });
  await assert.rejects(
    app.start(),
    (e: Error) =>
      e.message.includes(`Topic "${topicName}" does not exist`) &&
      e.message.includes("topicAllowDeclare"),
  );
  await app.stop();
});
