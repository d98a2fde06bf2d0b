import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { App } from "../../mod.ts";
import type { Table } from "../../src/table/table.ts";
import { recoverPartition } from "../../src/table/recovery.ts";
import { StandbyFollower } from "../../src/table/standby.ts";
import { MemoryStore } from "../../src/table/memory_store.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import type { Transport } from "../../src/transport/transport.ts";

async function until(
  check: () => boolean,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Counter {
  app: App;
  counts: Table<string, number>;
  processed: () => number;
  send(words: string[]): Promise<void>;
  events: Array<{ key: unknown; value: unknown }>;
}

/** A word counter on a shared named broker, so a second instance sees the first one's topics. */
function counter(
  broker: string,
  store: string,
  datadir: string,
  extra: Record<string, unknown> = {},
): Counter {
  const app = new App("word-counter", {
    broker,
    store,
    datadir,
    topicPartitions: 4,
    ...extra,
  });
  const words = app.topic("words", { valueType: "string", keyType: "string" });
  const events: Array<{ key: unknown; value: unknown }> = [];
  const counts = app.table("counts", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
    recoveryBufferSize: 7,
    onChangelogEvent: (e) => events.push({ key: e.key, value: e.value }),
  });
  let processed = 0;
  app.agent(words, async (stream) => {
    for await (const w of stream) {
      counts.set(w, counts.get(w) + 1);
      processed++;
    }
  }, { name: "count" });
  return {
    app,
    counts,
    events,
    processed: () => processed,
    async send(list) {
      for (const w of list) await words.send({ key: w, value: w });
    },
  };
}

function wordList(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `w${(i * 5) % 11}`);
}

function tally(words: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of words) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

async function changelogLength(
  app: App,
  topic: string,
  partitions: number,
): Promise<number> {
  let n = 0;
  for (let p = 0; p < partitions; p++) {
    n += await app.transport.highWatermark({ topic, partition: p });
  }
  return n;
}

const CHANGELOG = "word-counter-counts-changelog";

/** A broker both runs of a test share: a named memory:// one, or a real local:// log. */
function brokerFor(kind: string, datadir: string): string {
  return kind === "local://"
    ? `local://${datadir}/broker`
    : `memory://${crypto.randomUUID()}`;
}

for (const kind of ["memory://", "local://"]) {
  Deno.test(`Table recovery: counts survive a restart on lmdb:// and only records past the stored offset are replayed (${kind} broker)`, async () => {
    const datadir = await Deno.makeTempDir();
    const broker = brokerFor(kind, datadir);
    try {
      const first = counter(broker, "lmdb://", datadir);
      await first.app.start();
      const words = wordList(60);
      await first.send(words);
      await until(() => first.processed() === words.length, "first run");
      assert.equal(
        first.counts.recoveryStats.records,
        0,
        "a fresh store replays nothing",
      );
      await first.app.stop();

      // Another worker (simulated) appended three changes meanwhile: exactly those are replayed.
      const client = new App("word-counter", { broker, topicPartitions: 4 });
      await client.startClient();
      await client.transport.send([
        {
          topic: CHANGELOG,
          partition: 1,
          key: enc.encode("zzz"),
          value: enc.encode("7"),
        },
        {
          topic: CHANGELOG,
          partition: 1,
          key: enc.encode("yyy"),
          value: enc.encode("1"),
        },
        { topic: CHANGELOG, partition: 1, key: enc.encode("yyy"), value: null },
      ]);
      await client.stop();

      const second = counter(broker, "lmdb://", datadir);
      await second.app.start();
      try {
        assert.equal(second.counts.recoveryStats.records, 3);
        assert.deepEqual(second.events, [{ key: "zzz", value: 7 }, {
          key: "yyy",
          value: 1,
        }, { key: "yyy", value: null }]);
        const expected = tally(words);
        expected.set("zzz", 7);
        assert.deepEqual(new Map(second.counts.entries()), expected);
        // Nothing is processed twice: the source offsets were committed (a
        // replayed word would be processed before these new ones).
        const more = wordList(11);
        await second.send(more);
        await until(() => second.processed() >= more.length, "second run");
        assert.equal(second.processed(), more.length);
        for (const [w, n] of tally(more)) {
          expected.set(w, (expected.get(w) ?? 0) + n);
        }
        await second.counts.flush();
        assert.deepEqual(new Map(second.counts.entries()), expected);
      } finally {
        await second.app.stop();
      }
    } finally {
      await Deno.remove(datadir, { recursive: true });
    }
  });
}

for (
  const [store, kind] of [
    ["lmdb://", "memory://"],
    ["memory://", "memory://"],
    ["lmdb://", "local://"],
  ]
) {
  Deno.test(`Table recovery: with the store gone the table is rebuilt from the changelog alone (${store} store, ${kind} broker)`, async () => {
    const datadir = await Deno.makeTempDir();
    const broker = brokerFor(kind!, datadir);
    try {
      const first = counter(broker, store!, datadir);
      await first.app.start();
      const words = wordList(80);
      await first.send(words);
      await until(() => first.processed() === words.length, "first run");
      await first.counts.flush();
      const before = new Map(first.counts.entries());
      const total = await changelogLength(first.app, CHANGELOG, 4);
      const tabledir = first.app.conf.tabledir;
      await first.app.stop();
      if (store === "lmdb://") {
        assert.ok(
          (await Array.fromAsync(Deno.readDir(tabledir))).length > 0,
          "the LMDB files exist",
        );
        await Deno.remove(tabledir, { recursive: true });
      }
      const second = counter(broker, store!, datadir);
      await second.app.start();
      try {
        // The record cache merges updates of a key between commits.
        assert.ok(total > 0 && total <= words.length, `${total} records`);
        assert.equal(second.counts.recoveryStats.records, total);
        assert.equal(second.counts.recoveryStats.partitions, 4);
        assert.deepEqual(new Map(second.counts.entries()), before);
        assert.deepEqual(before, tally(words));
      } finally {
        await second.app.stop();
      }
    } finally {
      await Deno.remove(datadir, { recursive: true });
    }
  });
}

Deno.test("Table recovery over empty changelog partitions finishes", async () => {
  const app = new App("empty-recovery", {
    broker: "memory://",
    store: "memory://",
    topicPartitions: 6,
  });
  const t = app.table("nothing", { default: () => 0 });
  const started = Date.now();
  await app.start();
  try {
    assert.deepEqual(t.recoveryStats.records, 0);
    assert.equal(t.recoveryStats.partitions, 6);
    assert.deepEqual(t.activePartitions, [0, 1, 2, 3, 4, 5]);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await app.stop();
  }
});

Deno.test("recoverPartition() on a real local:// log skips a retention-trimmed head, compacted gaps and a compacted tail", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-recovery-" });
  const transport = new LocalTransport(`local://${dir}?tombstoneDelay=1h`, {
    defaultPartitions: 1,
    datadir: dir,
    clientId: "t",
  });
  await transport.start();
  const store = new MemoryStore({ table: "t", tabledir: "" });
  await store.open();
  try {
    // A windowed table's changelog: compacted, and deleted by retention.
    await transport.createTopic({
      name: "cl",
      partitions: 1,
      compacting: true,
      deleting: true,
      retentionMs: 3_600_000,
    });
    const old = Date.now() - 7_200_000;
    const rec = (key: string, value: string | null, timestamp?: number) => ({
      topic: "cl",
      partition: 0,
      key: enc.encode(key),
      value: value === null ? null : enc.encode(value),
      ...(timestamp === undefined ? {} : { timestamp }),
    });
    await transport.send([
      // 0-3: older than retention, removed from the head.
      ...[0, 1, 2, 3].map((i) => rec(`k${i}`, String(i), old)),
      // 4-9: x at 5 and 7 superseded by x at 9.
      rec("k4", "4"),
      rec("x", "5"),
      rec("k6", "6"),
      rec("x", "7"),
      rec("k8", "8"),
      rec("x", "9"),
      // 10-14: t superseded, then deleted by an old tombstone: an empty tail.
      ...[10, 11, 12, 13].map((i) => rec("t", String(i))),
      rec("t", null, old),
    ]);
    const report = await transport.maintain();
    assert.deepEqual(report, { retained: 4, compacted: 6, tombstones: 1 });
    const tp = { topic: "cl", partition: 0 };
    assert.equal(await transport.lowWatermark(tp), 4);
    assert.equal(await transport.highWatermark(tp), 15);
    const seen: number[] = [];
    const records = await recoverPartition({
      table: "t",
      topic: "cl",
      transport,
      store,
      bufferSize: 2,
      log: getLogger(["faust", "test"]),
      onRecord: (r) => seen.push(r.offset),
    }, 0);
    assert.equal(records, 4);
    assert.deepEqual(seen, [4, 6, 8, 9]);
    assert.equal(store.persistedOffset(0), 9);
    assert.deepEqual(
      [...store.entries(0)].map(([k, v]) => [dec.decode(k), dec.decode(v)])
        .sort(),
      [["k4", "4"], ["k6", "6"], ["k8", "8"], ["x", "9"]],
    );
  } finally {
    await store.close();
    await transport.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Table recovery: a stored offset above the changelog's high-water mark rebuilds the partition", async () => {
  const datadir = await Deno.makeTempDir();
  const broker = `memory://recreated-${crypto.randomUUID()}`;
  try {
    const first = counter(broker, "lmdb://", datadir);
    await first.app.start();
    await first.send(wordList(20));
    await until(() => first.processed() === 20, "first run");
    await first.app.stop();
    // The changelog (and the source) are deleted and recreated empty.
    const client = new App("word-counter", { broker });
    await client.startClient();
    await client.transport.deleteTopic(CHANGELOG);
    await client.stop();
    const second = counter(broker, "lmdb://", datadir);
    await second.app.start();
    try {
      assert.equal(
        second.counts.size,
        0,
        "state the changelog no longer has is dropped",
      );
      await second.send(["again"]);
      await until(() => second.processed() === 1, "a new event");
      await second.counts.flush();
      assert.equal(second.counts.get("again"), 1);
    } finally {
      await second.app.stop();
    }
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
});

Deno.test("Table.assigned() with standbys replays them and keeps following new changelog records", async () => {
  const broker = `memory://standby-${crypto.randomUUID()}`;
  const datadir = await Deno.makeTempDir();
  const owner = counter(broker, "memory://", datadir);
  const follower = new App("word-counter", {
    broker,
    store: "memory://",
    topicPartitions: 4,
  });
  const replica = follower.table("counts", {
    keyType: "string",
    valueType: "number",
    standbyBufferSize: 3,
  });
  try {
    await owner.app.start();
    const words = wordList(30);
    await owner.send(words);
    await until(() => owner.processed() === words.length, "owner run");
    await owner.counts.flush();
    await follower.start();
    // A simulated assignment: nothing active, every changelog partition standby.
    const standbys = [0, 1, 2, 3].map((partition) => ({
      topic: CHANGELOG,
      partition,
    }));
    await replica.assigned([], standbys);
    assert.deepEqual(replica.activePartitions, []);
    assert.deepEqual(replica.standbyPartitions, [0, 1, 2, 3]);
    assert.deepEqual(new Map(replica.entries()), tally(words));
    const more = ["late", "late", "w0"];
    await owner.send(more);
    const expected = tally([...words, ...more]);
    await until(
      () => replica.size === expected.size && replica.get("late") === 2,
      "the standby to follow",
      5000,
    );
    assert.deepEqual(new Map(replica.entries()), expected);
  } finally {
    await follower.stop();
    await owner.app.stop();
    await Deno.remove(datadir, { recursive: true });
  }
});

Deno.test("Table recovery skips, logs and counts changelog records whose key cannot be stored, and recovers the rest", async () => {
  const datadir = await Deno.makeTempDir();
  const broker = `memory://bad-keys-${crypto.randomUUID()}`;
  try {
    // Records already in the changelog (written by an older version):
    // a 2,000-byte key, an empty key, and a good one.
    const client = new App("word-counter", { broker, topicPartitions: 4 });
    await client.startClient();
    await client.transport.createTopic({ name: CHANGELOG, partitions: 4 });
    await client.transport.send([
      {
        topic: CHANGELOG,
        partition: 2,
        key: enc.encode("k".repeat(2000)),
        value: enc.encode("1"),
      },
      { topic: CHANGELOG, partition: 2, key: new Uint8Array(), value: null },
      {
        // The partition a "good" event goes to (murmur2 of the key, of 4):
        // in another one, the count below would depend on which partition
        // a read outside any event looks at first.
        topic: CHANGELOG,
        partition: 3,
        key: enc.encode("good"),
        value: enc.encode("5"),
      },
    ]);
    await client.stop();

    const app = counter(broker, "lmdb://", datadir);
    await app.app.start();
    try {
      assert.equal(app.counts.get("good"), 5);
      assert.equal(app.counts.recoveryStats.skipped, 2);
      assert.deepEqual(app.events, [{ key: "good", value: 5 }]);
      await app.send(["good"]);
      await until(() => app.processed() === 1, "processing after recovery");
      assert.equal(app.counts.get("good"), 6);
    } finally {
      await app.app.stop();
    }
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
});

Deno.test("StandbyFollower: a round that began before its partition was promoted to active neither drops nor overwrites what the table then wrote", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-standby-" });
  const transport = new LocalTransport(`local://${dir}`, {
    defaultPartitions: 1,
    datadir: dir,
    clientId: "t",
  });
  await transport.start();
  const store = new MemoryStore({ table: "t", tabledir: "" });
  await store.open();
  const tp = { topic: "cl", partition: 0 };
  const rec = (value: string) => ({
    topic: "cl",
    partition: 0,
    key: enc.encode("k"),
    value: enc.encode(value),
  });
  let reached!: () => void;
  const atWatermark = new Promise<void>((r) => reached = r);
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  // The real log, with the high-water mark answering late (a broker
  // restarting).
  const slow = {
    lowWatermark: (p: typeof tp) => transport.lowWatermark(p),
    read: (p: typeof tp, offset: number, max: number) =>
      transport.read(p, offset, max),
    highWatermark: async (p: typeof tp) => {
      const hw = await transport.highWatermark(p);
      reached();
      await gate;
      return hw;
    },
  } as unknown as Transport;
  const follower = new StandbyFollower({
    table: "t",
    topic: "cl",
    transport: slow,
    store,
    bufferSize: 10,
    log: getLogger(["faust", "test"]),
  }, 10);
  try {
    await transport.createTopic({ name: "cl", partitions: 1 });
    await transport.send([rec("1"), rec("2")]);
    await store.apply(0, [{ key: enc.encode("k"), value: enc.encode("2") }], 1);
    follower.follow([0]);
    await atWatermark; // high-water mark 2 read, answer held
    // Promoted: the table owns the partition and writes offset 2.
    follower.follow([]);
    await transport.send([rec("3")]);
    await store.apply(0, [{ key: enc.encode("k"), value: enc.encode("3") }], 2);
    release();
    await follower.stop();
    assert.equal(store.persistedOffset(0), 2);
    assert.equal(dec.decode(store.get(0, enc.encode("k"))!), "3");
  } finally {
    release();
    await follower.stop();
    await store.close();
    await transport.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
