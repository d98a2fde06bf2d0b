/**
 * The caches of the table read and write path: Table's decoded values and
 * encoded keys (answers must equal what the store and the pending writes
 * hold, whatever happened since), and the changelog record cache (one
 * record per key between commits, bounded, switchable).
 */
import assert from "node:assert/strict";
import { App, ConfigError } from "../../mod.ts";
import { ChangelogWriter } from "../../src/table/changelog.ts";
import { MemoryStore } from "../../src/table/memory_store.ts";
import { KEY_CACHE_SIZE, type Table } from "../../src/table/table.ts";
import { MemoryTransport } from "../../src/transport/memory.ts";

async function until(
  check: () => boolean,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What the table holds for `key` without any cache: pending writes, then the stores. */
/**
 * A ChangelogWriter's surroundings on memory://: a started transport with the
 * two-partition topic `w-changelog`, an open store, and a host that records
 * errors and crashes in `logs`.
 */
async function writerRig(name: string) {
  const transport = new MemoryTransport(
    `memory://${name}-${crypto.randomUUID()}`,
    { defaultPartitions: 2 },
  );
  await transport.start();
  const store = new MemoryStore({ table: "w", tabledir: "" });
  await store.open();
  const logs: string[] = [];
  const host = {
    log: { error: (m: string) => logs.push(m) } as never,
    produce: async (r: Parameters<typeof transport.send>[0][number]) =>
      (await transport.send([r]))[0]!,
    crash: (e: Error) => logs.push(e.message),
  };
  const enc = new TextEncoder();
  const b = (s: string) => enc.encode(s);
  await transport.createTopic({ name: "w-changelog", partitions: 2 });
  return { transport, store, logs, host, b, dec: new TextDecoder() };
}

function uncached(t: Table<string, number>, key: string): number | undefined {
  const v = t.rawGet(t.keySerde.encode(key));
  return v === undefined ? undefined : t.valueSerde.decode(v);
}

for (const store of ["memory://", "lmdb://"]) {
  Deno.test(`Table.get()/has() answer what the store and pending writes hold, across partitions, writes, deletes and flushes (${store})`, async () => {
    const datadir = await Deno.makeTempDir();
    const app = new App("cache-oracle", {
      broker: "memory://",
      store,
      datadir,
      topicPartitions: 4,
    });
    const cmds = app.topic("cmds", { valueType: "json", partitions: 4 });
    const t = app.table("t", {
      keyType: "string",
      valueType: "number",
      partitions: 4,
    }) as Table<string, number>;
    const mismatches: string[] = [];
    let processed = 0;
    const check = (where: string, k: string) => {
      const want = uncached(t, k);
      const got = t.has(k) ? t.get(k) : undefined;
      if (got !== want) {
        mismatches.push(`${where} ${k}: got ${got}, uncached ${want}`);
      }
    };
    app.agent(cmds, async (stream) => {
      for await (const event of stream.events()) {
        const [op, k, n] = event.value as [string, string, number];
        const where = `#${processed} p${event.partition} ${op}`;
        check(`${where} before`, k);
        if (op === "set") t.set(k, n);
        else if (op === "add") t.set(k, (t.has(k) ? t.get(k) : 0) + n);
        else if (op === "del") t.delete(k);
        check(`${where} after`, k);
        processed++;
      }
    }, { name: "ops" });
    await app.start();
    try {
      // A fixed pseudo-random script: few keys, written from every partition.
      let seed = 42;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const ops = ["set", "add", "add", "get", "del"];
      let sent = 0;
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 40; i++) {
          await cmds.send({
            value: [ops[rnd(ops.length)], `k${rnd(3)}`, rnd(100)],
            partition: rnd(4),
          });
          sent++;
        }
        await until(() => processed === sent, "the commands");
        // Pending writes reach the store: reads now come from there.
        if (round % 2 === 1) await t.flush();
      }
      assert.deepEqual(mismatches, []);
    } finally {
      await app.stop();
      await Deno.remove(datadir, { recursive: true });
    }
  });
}

Deno.test("Table.get() returns a partition's recovered value after the partition was held again, not the value read before", async () => {
  const broker = `memory://cache-recovery-${crypto.randomUUID()}`;
  const changelogTopic = "cache-recovery-changelog";
  const make = (id: string, input: string) => {
    const app = new App(id, { broker, store: "memory://", topicPartitions: 1 });
    const topic = app.topic(input, { valueType: "json", partitions: 1 });
    const t = app.table("counts", {
      keyType: "string",
      valueType: "number",
      default: () => 0,
      partitions: 1,
      changelogTopic,
    }) as Table<string, number>;
    const reads: number[] = [];
    let processed = 0;
    app.agent(topic, async (stream) => {
      for await (const v of stream) {
        if (v === "get") reads.push(t.get("k"));
        else t.set("k", v as number);
        processed++;
      }
    }, { name: "rw" });
    return { app, topic, t, reads, processed: () => processed };
  };
  const x = make("cache-x", "x-in");
  const y = make("cache-y", "y-in");
  await x.app.start();
  await y.app.start();
  try {
    await x.topic.send({ value: 1 });
    await x.topic.send({ value: "get" });
    await until(() => x.processed() === 2, "x's events");
    assert.deepEqual(x.reads, [1]);
    await x.t.flush();
    // Another writer appends to the same changelog partition.
    await y.topic.send({ value: 7 });
    await until(() => y.processed() === 1, "y's event");
    await y.t.flush();
    // x lets the partition go (standby), then holds it again: recovery
    // replays y's record into x's store.
    const tp = { topic: changelogTopic, partition: 0 };
    await x.t.assigned([], [tp]);
    await x.t.assigned([tp], []);
    await x.topic.send({ value: "get" });
    await until(() => x.processed() === 3, "x's read");
    assert.deepEqual(x.reads, [1, 7]);
  } finally {
    await y.app.stop();
    await x.app.stop();
  }
});

Deno.test("Table.get() decodes object values afresh: mutating a value read does not change the table", async () => {
  const app = new App("cache-objects", {
    broker: "memory://",
    store: "memory://",
  });
  const t = app.table<string, { n: number }>("objs", {
    keyType: "string",
    valueType: "json",
  });
  const reads: number[] = [];
  const agent = app.agent(undefined, async (stream) => {
    for await (const _ of stream) {
      t.set("k", { n: 1 });
      t.get("k").n = 99; // not a write
      reads.push(t.get("k").n);
      const again = t.get("k");
      again.n = 50;
      reads.push(t.get("k").n);
    }
  }, { name: "mutator" });
  await app.start();
  try {
    await agent.send({ value: 1 });
    await until(() => reads.length === 2, "the reads");
    assert.deepEqual(reads, [1, 1]);
  } finally {
    await app.stop();
  }
});

Deno.test("tableChangelogCache and the table option changelogCache refuse a value that is not a boolean, naming the setting", () => {
  assert.throws(
    () =>
      new App("bad-cache", {
        broker: "memory://",
        tableChangelogCache: "yes" as unknown as boolean,
      }),
    (e: unknown) =>
      e instanceof ConfigError && /tableChangelogCache/.test(e.message) &&
      /true or false/.test(e.message),
  );
  const app = new App("bad-cache-option", { broker: "memory://" });
  assert.throws(
    () => app.table("t", { changelogCache: 1 as unknown as boolean }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /option "changelogCache" of table "t": 1; expected true or false/.test(
        e.message,
      ),
  );
});

Deno.test("The table option changelogCache: false appends one record per update although the app caches", async () => {
  const app = new App("cache-per-table", {
    broker: "memory://",
    store: "memory://",
    topicPartitions: 1,
    brokerCommitInterval: 600,
  });
  const cached = app.table("cached", { default: () => 0, partitions: 1 });
  const plain = app.table("plain", {
    default: () => 0,
    partitions: 1,
    changelogCache: false,
  });
  let processed = 0;
  const agent = app.agent(undefined, async (stream) => {
    for await (const _ of stream) {
      cached.set("k", cached.get("k") + 1);
      plain.set("k", plain.get("k") + 1);
      processed++;
    }
  }, { name: "both" });
  await app.start();
  try {
    for (let i = 0; i < 5; i++) await agent.send({ value: i, partition: 0 });
    await until(() => processed === 5, "five events");
    await cached.flush();
    await plain.flush();
    const tp = (name: string) => ({
      topic: `cache-per-table-${name}-changelog`,
      partition: 0,
    });
    assert.equal(await app.transport.highWatermark(tp("cached")), 1);
    assert.equal(await app.transport.highWatermark(tp("plain")), 5);
    assert.equal(cached.get("k"), 5);
    assert.equal(plain.get("k"), 5);
  } finally {
    await app.stop();
  }
});

Deno.test("ChangelogWriter with the record cache appends the last change per key at stage(), and early when over its byte bound", async () => {
  const { transport, store, logs, host, b } = await writerRig("writer");
  try {
    const end = (partition: number) =>
      transport.highWatermark({ topic: "w-changelog", partition });
    const w = new ChangelogWriter("w", "w-changelog", store, host, {
      cache: true,
      // Two small changes fit (key + value + 64 bytes each), three do not.
      cacheMaxBytes: 150,
    });
    w.write(0, b("a"), b("1"));
    w.write(0, b("a"), b("2"));
    w.write(1, b("a"), b("3"));
    assert.equal(w.pending, 2, "one cached change per key and partition");
    assert.equal(w.overlay.get("a")?.value?.[0], "3".charCodeAt(0));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await end(0), 0, "nothing appended before stage()");
    w.stage();
    await w.flush();
    assert.equal(await end(0), 1);
    assert.equal(await end(1), 1);
    assert.equal(new TextDecoder().decode(store.get(0, b("a"))), "2");
    assert.equal(new TextDecoder().decode(store.get(1, b("a"))), "3");
    // Over the bound: the third distinct key appends all three at once.
    w.write(0, b("x"), b("1"));
    w.write(0, b("y"), b("1"));
    assert.equal(await end(0), 1);
    w.write(0, b("z"), b("1"));
    await w.flush();
    assert.equal(await end(0), 4);
    assert.equal(w.pending, 0);
    assert.deepEqual(logs, []);
    await w.close();
  } finally {
    await store.close();
    await transport.stop();
  }
});

Deno.test("ChangelogWriter with the record cache appends one record per key and partition when a key is written from another partition in between", async () => {
  const { transport, store, logs, host, b, dec } = await writerRig("writer-x");
  try {
    const w = new ChangelogWriter("w", "w-changelog", store, host, {
      cache: true,
    });
    w.write(0, b("a"), b("1"));
    w.write(0, b("b"), b("1"));
    w.write(1, b("a"), b("2"));
    w.write(0, b("a"), b("3"));
    w.write(0, b("a"), b("4"));
    w.write(1, b("a"), b("5"));
    await w.flush();
    const records = async (partition: number) =>
      (await transport.read({ topic: "w-changelog", partition }, 0, 100))
        .map((r) => `${dec.decode(r.key!)}=${dec.decode(r.value!)}`);
    assert.deepEqual(await records(0), ["a=4", "b=1"]);
    assert.deepEqual(await records(1), ["a=5"]);
    assert.equal(dec.decode(store.get(0, b("a"))), "4");
    assert.equal(dec.decode(store.get(1, b("a"))), "5");
    assert.deepEqual(logs, []);
    await w.close();
  } finally {
    await store.close();
    await transport.stop();
  }
});

Deno.test("Table remembers at most KEY_CACHE_SIZE encoded keys in two generations: a key used again stays, a key not used again is forgotten whole", () => {
  const app = new App("key-cache", { broker: "memory://" });
  const t = app.table("t", { keyType: "string", valueType: "number" });
  const hot = t.encodeKey("hot");
  const cold = t.encodeKey("cold");
  assert.equal(t.encodeKey("hot"), hot, "remembered");
  // Three times as many other keys as the cache holds; "hot" is used
  // again every 1,000 of them.
  for (let i = 0; i < 3 * KEY_CACHE_SIZE; i++) {
    t.encodeKey(`k${i}`);
    if (i % 1000 === 0) assert.equal(t.encodeKey("hot"), hot, `hot at ${i}`);
  }
  assert.notEqual(t.encodeKey("cold"), cold, "cold was forgotten");
  assert.deepEqual(t.encodeKey("cold"), cold, "and encodes the same");
  assert.equal(
    t.encodeKey(`k${3 * KEY_CACHE_SIZE - 1}`),
    t.encodeKey(`k${3 * KEY_CACHE_SIZE - 1}`),
  );
});

Deno.test("ChangelogWriter with the record cache rewrites the key's cached change for a later write, never one already staged", async () => {
  const { transport, store, logs, host, b, dec } = await writerRig("writer-r");
  try {
    const w = new ChangelogWriter("w", "w-changelog", store, host, {
      cache: true,
    });
    w.write(0, b("a"), b("1"));
    const first = w.overlay.get("a");
    w.write(0, b("a"), b("22"));
    assert.equal(w.overlay.get("a"), first, "the cached change, rewritten");
    assert.equal(dec.decode(w.overlay.get("a")!.value!), "22");
    // Staged (on its way to the broker): a later write is a new change,
    // and the staged record keeps its value.
    w.stage();
    w.write(0, b("b"), b("1"));
    w.write(0, b("a"), b("333"));
    assert.notEqual(w.overlay.get("a"), first);
    assert.equal(dec.decode(first!.value!), "22");
    w.stage();
    await w.flush();
    const records = (
      await transport.read({ topic: "w-changelog", partition: 0 }, 0, 100)
    ).map((r) => `${dec.decode(r.key!)}=${dec.decode(r.value!)}`);
    assert.deepEqual(records, ["a=22", "b=1", "a=333"]);
    assert.equal(dec.decode(store.get(0, b("a"))), "333");
    assert.equal(w.pending, 0);
    assert.deepEqual(logs, []);
    await w.close();
  } finally {
    await store.close();
    await transport.stop();
  }
});
