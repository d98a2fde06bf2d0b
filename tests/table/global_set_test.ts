import assert from "node:assert/strict";
import { App } from "../../mod.ts";

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

Deno.test("GlobalTable holds every partition and a second worker sees and follows all of it", async () => {
  const broker = `memory://global-${crypto.randomUUID()}`;
  const owner = new App("geo", {
    broker,
    store: "memory://",
    topicPartitions: 4,
  });
  const updates = owner.topic("updates", {
    keyType: "string",
    valueType: "string",
  });
  const places = owner.globalTable("places", {
    keyType: "string",
    valueType: "string",
  });
  let processed = 0;
  owner.agent(updates, async (stream) => {
    for await (const event of stream.events()) {
      places.set(event.key as string, event.value as string);
      processed++;
    }
  }, { name: "writer" });
  const other = new App("geo", {
    broker,
    store: "memory://",
    topicPartitions: 4,
  });
  const replica = other.globalTable("places", {
    keyType: "string",
    valueType: "string",
  });
  await owner.start();
  try {
    const cities = [
      "oslo",
      "rome",
      "lima",
      "pune",
      "kyiv",
      "baku",
      "doha",
      "riga",
    ];
    for (const c of cities) {
      await updates.send({ key: c, value: c.toUpperCase() });
    }
    await until(() => processed === cities.length, "all updates");
    await places.flush();
    assert.deepEqual(places.activePartitions, [0, 1, 2, 3]);
    assert.equal(places.size, cities.length);
    await other.start();
    // The other worker owns nothing: every partition is followed as standby.
    const standbys = [0, 1, 2, 3].map((partition) => ({
      topic: "geo-places-changelog",
      partition,
    }));
    await replica.assigned([], standbys);
    assert.deepEqual(replica.standbyPartitions, [0, 1, 2, 3]);
    assert.deepEqual(
      new Map(replica.entries()),
      new Map(cities.map((c) => [c, c.toUpperCase()])),
    );
    await updates.send({ key: "oslo", value: "Oslo!" });
    await until(
      () => replica.get("oslo") === "Oslo!",
      "the replica to follow",
      5000,
    );
  } finally {
    await other.stop();
    await owner.stop();
  }
});

for (const store of ["memory://", "lmdb://"]) {
  Deno.test(`SetTable add/discard/clear and set algebra, stored as JSON arrays, recovered after restart (${store})`, async () => {
    const datadir = await Deno.makeTempDir();
    const broker = `memory://sets-${crypto.randomUUID()}`;
    const build = () => {
      const app = new App("tags", {
        broker,
        store,
        datadir,
        topicPartitions: 1,
        // One changelog record per change: the test reads the second one.
        tableChangelogCache: false,
      });
      const ops = app.topic("ops", { keyType: "string", valueType: "json" });
      const tags = app.setTable("tags", {
        keyType: "string",
        valueType: "string",
      });
      const results: string[][] = [];
      app.agent(ops, async (stream) => {
        for await (const event of stream.events()) {
          const [op, ...members] = event.value as string[];
          const k = event.key as string;
          let out: Set<string> | undefined;
          if (op === "add") out = tags.add(k, members[0]!);
          else if (op === "discard") out = tags.discard(k, members[0]!);
          else if (op === "union") out = tags.union(k, members);
          else if (op === "intersection") out = tags.intersection(k, members);
          else if (op === "difference") out = tags.difference(k, members);
          else if (op === "xor") out = tags.symmetricDifference(k, members);
          else if (op === "clear") tags.clear(k);
          else if (op === "bad") {
            try {
              tags.add(k, 42 as unknown as string);
            } catch (e) {
              results.push(["error", (e as Error).name]);
              continue;
            }
          }
          results.push([...(out ?? tags.get(k))].sort());
        }
      }, { name: "tagger" });
      return { app, ops, tags, results };
    };
    const first = build();
    await first.app.start();
    try {
      const script: Array<[string, string[]]> = [
        ["a", ["add", "x"]],
        ["a", ["add", "y"]],
        ["a", ["add", "x"]],
        ["a", ["union", "z", "w"]],
        ["a", ["discard", "w"]],
        ["a", ["intersection", "x", "z", "q"]],
        ["a", ["xor", "z", "k"]],
        ["a", ["difference", "k"]],
        ["b", ["add", "1"]],
        ["b", ["clear"]],
        ["c", ["union", "m", "n"]],
        ["c", ["bad"]],
      ];
      for (const [key, value] of script) await first.ops.send({ key, value });
      await until(() => first.results.length === script.length, "all ops");
      assert.deepEqual(first.results, [
        ["x"],
        ["x", "y"],
        ["x", "y"],
        ["w", "x", "y", "z"],
        ["x", "y", "z"],
        ["x", "z"],
        ["k", "x"],
        ["x"],
        ["1"],
        [],
        ["m", "n"],
        ["error", "TypeError"],
      ]);
      await first.tags.flush();
      assert.deepEqual([...first.tags.keys()].sort(), ["a", "c"]);
      assert.deepEqual(first.tags.get("b"), new Set());
      const records = await first.app.transport.read(
        { topic: "tags-tags-changelog", partition: 0 },
        0,
        100,
      );
      assert.deepEqual(
        JSON.parse(new TextDecoder().decode(records[1]!.value!)),
        ["x", "y"],
      );
    } finally {
      await first.app.stop();
    }
    const second = build();
    await second.app.start();
    try {
      assert.deepEqual(second.tags.get("a"), new Set(["x"]));
      assert.deepEqual(second.tags.get("c"), new Set(["m", "n"]));
      assert.equal(second.tags.has("b"), false);
    } finally {
      await second.app.stop();
      await Deno.remove(datadir, { recursive: true });
    }
  });
}
