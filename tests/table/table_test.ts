import assert from "node:assert/strict";
import { App, KeyError, StateError, TableKeyError } from "../../mod.ts";
import type { Table } from "../../src/table/table.ts";

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

function memApp(
  id: string,
  store = "memory://",
  extra: Record<string, unknown> = {},
): App {
  return new App(id, { broker: "memory://", store, ...extra });
}

Deno.test("Table.get() before start reads an empty table: default(), or KeyError without one", () => {
  const app = memApp("reads-before-start");
  const withDefault = app.table("with_default", { default: () => 0 });
  const noDefault = app.table<string, number>("no_default");
  assert.equal(withDefault.get("missing"), 0);
  assert.equal(withDefault.has("missing"), false);
  assert.equal(withDefault.size, 0, "get() never stores the default");
  assert.deepEqual([...withDefault.keys()], []);
  assert.throws(() => noDefault.get("missing"), (e: unknown) => {
    assert.ok(e instanceof KeyError);
    assert.equal(e.name, "KeyError");
    assert.equal(e.key, "missing");
    assert.match(e.message, /no_default/);
    return true;
  });
});

Deno.test("Table.set() outside event processing throws StateError naming the table", async () => {
  const app = memApp("write-outside");
  const t = app.table("counts", { default: () => 0 });
  assert.throws(
    () => t.set("a", 1),
    (e: unknown) =>
      e instanceof StateError &&
      /"counts".*outside of stream processing/.test(e.message),
  );
  await app.start();
  try {
    assert.throws(() => t.set("a", 1), StateError);
    assert.throws(() => t.delete("a"), StateError);
  } finally {
    await app.stop();
  }
});

Deno.test("Table.set() from an agent with concurrency > 1 throws StateError", async () => {
  const app = memApp("write-concurrent");
  const t = app.table("counts", { default: () => 0 });
  const errors: unknown[] = [];
  const agent = app.agent(undefined, async (stream) => {
    for await (const _ of stream) {
      try {
        t.set("a", 1);
      } catch (e) {
        errors.push(e);
      }
    }
  }, { name: "concurrent", concurrency: 2 });
  await app.start();
  try {
    await agent.send({ value: 1 });
    await until(() => errors.length === 1, "the write error");
    assert.ok(errors[0] instanceof StateError);
    assert.match((errors[0] as Error).message, /concurrency 2/);
    assert.equal(t.size, 0);
  } finally {
    await app.stop();
  }
});

for (
  const [store, cache] of [
    ["memory://", true],
    ["lmdb://", true],
    ["memory://", false],
    ["lmdb://", false],
  ] as const
) {
  Deno.test(`Table set/get/has/delete read their own writes and persist offsets (${store}, tableChangelogCache ${cache})`, async () => {
    const datadir = await Deno.makeTempDir();
    // No commit during the test: the record cache keeps one window.
    const app = memApp("map-api", store, {
      datadir,
      tableChangelogCache: cache,
      brokerCommitInterval: 600,
    });
    const t: Table<string, { n: number }> = app.table("things", {
      keyType: "string",
      valueType: "json",
    }) as Table<
      string,
      { n: number }
    >;
    const seen: Array<[string, unknown, boolean]> = [];
    const agent = app.agent(undefined, async (stream) => {
      for await (const cmd of stream) {
        const [op, key, n] = cmd as [string, string, number];
        if (op === "set") t.set(key, { n });
        else if (op === "del") seen.push([key, t.delete(key), t.has(key)]);
        // Read-your-writes: visible at once, before the changelog ack.
        if (op === "set") seen.push([key, t.get(key), t.has(key)]);
      }
    }, { name: "writer" });
    await app.start();
    try {
      // One partition for all commands: a key lives in the partition of the event that wrote it.
      for (
        const value of [["set", "a", 1], ["set", "b", 2], ["set", "a", 3], [
          "del",
          "b",
          0,
        ], ["del", "zzz", 0]]
      ) {
        await agent.send({ value, partition: 0 });
      }
      await until(() => seen.length === 5, "five commands");
      assert.deepEqual(seen, [
        ["a", { n: 1 }, true],
        ["b", { n: 2 }, true],
        ["a", { n: 3 }, true],
        ["b", true, false],
        ["zzz", false, false],
      ]);
      await t.flush();
      assert.deepEqual([...t.entries()], [["a", { n: 3 }]]);
      assert.deepEqual([...t.keys()], ["a"]);
      assert.deepEqual([...t.values()], [{ n: 3 }]);
      assert.deepEqual([...t], [["a", { n: 3 }]]);
      assert.equal(t.size, 1);
      assert.throws(() => t.get("b"), KeyError);
      const records = await app.transport.read(
        { topic: "map-api-things-changelog", partition: 0 },
        0,
        100,
      );
      const dec = new TextDecoder();
      const changelog = records.map((r) => [
        dec.decode(r.key!), // keyType "string": raw UTF-8
        r.value === null ? null : JSON.parse(dec.decode(r.value)),
      ]);
      assert.deepEqual(
        changelog,
        cache
          // One window: the last change per key, in order of first change.
          ? [["a", { n: 3 }], ["b", null]]
          // One record per change: 3 sets and 1 tombstone.
          : [["a", { n: 1 }], ["b", { n: 2 }], ["a", { n: 3 }], ["b", null]],
      );
    } finally {
      await app.stop();
      await Deno.remove(datadir, { recursive: true });
    }
  });
}

Deno.test("App.table() rejects bad names, bad options and duplicates", () => {
  const app = memApp("bad-options");
  assert.throws(() => app.table("no spaces"), /Invalid table name/);
  assert.throws(
    () => app.table("t", { partitions: 0 }),
    /"partitions" of table "t"/,
  );
  app.table("dup");
  assert.throws(() => app.table("dup"), /Duplicate table name "dup"/);
});

Deno.test("Table.changelogSpec() is compacted, internal, with the app's partitions", () => {
  const app = memApp("spec", "memory://", { topicPartitions: 3 });
  const t = app.table("t");
  assert.deepEqual(t.changelogSpec(), {
    name: "spec-t-changelog",
    partitions: 3,
    compacting: true,
    internal: true,
  });
  const w = app.table("w", { partitions: 2, changelogTopic: "custom" });
  w.tumbling(60, { expires: "1h" });
  assert.deepEqual(w.changelogSpec(), {
    name: "custom",
    partitions: 2,
    compacting: true,
    internal: true,
    deleting: true,
    retentionMs: 3_600_000,
  });
});

Deno.test("Table.set() from a partition the changelog does not have names both counts", async () => {
  const app = memApp("copartition", "memory://", { topicPartitions: 4 });
  const t = app.table("small", { partitions: 2, default: () => 0 });
  const src = app.topic("src", { partitions: 4, valueType: "number" });
  const errors: Error[] = [];
  app.agent(src, async (stream) => {
    for await (const n of stream) {
      try {
        t.set("k", n);
      } catch (e) {
        errors.push(e as Error);
      }
    }
  }, { name: "w" });
  await app.start();
  try {
    await src.send({ value: 1, partition: 3 });
    await until(() => errors.length === 1, "the error");
    assert.match(errors[0]!.message, /src\[3\].*has 2 partitions/);
  } finally {
    await app.stop();
  }
});

Deno.test("App.table() infers key and value types from keyType/valueType, default, or type arguments", () => {
  const app = memApp("types");
  const byDefault = app.table("by_default", { default: () => 0 });
  const n: number = byDefault.get("x") + 1;
  const typed = app.table("typed", { keyType: "string", valueType: "number" });
  const keys: string[] = [...typed.keys()];
  const explicit = app.table<string, { n: number }>("explicit", {
    default: () => ({ n: 1 }),
  });
  const v: { n: number } = explicit.get("k");
  const tumbling = app.table("windowed", {
    default: () => 0,
    keyType: "string",
  }).tumbling(10);
  const w: number = tumbling.get("k").now();
  assert.deepEqual([n, keys, v, w], [1, [], { n: 1 }, 0]);
});

Deno.test("Table.set()/delete(), WindowedTable.update() and SetTable.add() reject an empty or too-long key with TableKeyError before the changelog is written", async () => {
  const app = memApp("key-limits", "memory://", {
    topicPartitions: 1,
    keySerializer: "raw",
  });
  const t = app.table<string, number>("plain", {
    default: () => 0,
    keySerializer: "raw",
  });
  const w = app.table<string, number>("win", {
    default: () => 0,
    keySerializer: "raw",
  }).tumbling(60);
  const s = app.setTable<string, string>("sets", { keySerializer: "raw" });
  const src = app.topic("src", { valueType: "string" });
  const errors: TableKeyError[] = [];
  let done = 0;
  const attempt = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof TableKeyError)) throw e;
      errors.push(e);
    }
  };
  app.agent(src, async (stream) => {
    for await (const key of stream) {
      attempt(() => t.set(key, 1));
      attempt(() => t.delete(key));
      attempt(() => w.update(key, (n) => n + 1));
      attempt(() => s.add(key, "m"));
      done++;
    }
  }, { name: "writer" });
  await app.start();
  try {
    await src.send({ value: "" });
    await src.send({ value: "k".repeat(2000) });
    await src.send({ value: "ok" });
    await until(() => done === 3, "three events");
    // Window keys carry 20 bytes of window: the empty key fits there. A
    // delete of a key that cannot be stored finds nothing and writes nothing.
    assert.equal(errors.length, 5);
    const e = errors.find((x) => x.size === 2000)!;
    assert.equal(e.name, "TableKeyError");
    assert.equal(e.table, "plain");
    assert.equal(e.limit, 1978);
    assert.match(
      e.message,
      /key of 2000 bytes in table "plain".*1 to 1978 bytes/,
    );
    assert.ok(
      errors.some((x) =>
        x.table === "win" && x.size === 2020 && /window key/.test(x.message)
      ),
    );
    assert.ok(errors.some((x) => x.table === "plain" && x.size === 0));
    await t.flush();
    assert.equal(t.has("ok"), false);
    // Only storable writes reached the changelog: set and delete of "ok"
    // (merged into the tombstone by the changelog record cache).
    const tp = { topic: "key-limits-plain-changelog", partition: 0 };
    const records = await app.transport.read(tp, 0, 10);
    assert.deepEqual(
      records.map((r) => [new TextDecoder().decode(r.key!), r.value]),
      [["ok", null]],
    );
  } finally {
    await app.stop();
  }
});
