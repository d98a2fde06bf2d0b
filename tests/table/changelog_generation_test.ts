import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import {
  GenerationFence,
  generationHeaders,
  generationOf,
} from "../../src/table/changelog_generation.ts";
import { recoverPartition } from "../../src/table/recovery.ts";
import { Holdings } from "../../src/table/holdings.ts";
import { MemoryStore } from "../../src/table/memory_store.ts";
import { MemoryTransport } from "../../src/transport/memory.ts";
import type { TransportRecord } from "../../src/transport/transport.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("GenerationFence leaves out a record stamped lower than one read before it in its partition, never an unstamped one", () => {
  const fence = new GenerationFence();
  const g = (n: number) => generationHeaders(n);
  assert.equal(generationOf(g(7)), 7);
  assert.equal(generationOf({}), undefined);
  assert.equal(fence.stale(0, g(3)), false);
  assert.equal(fence.stale(0, g(5)), false);
  assert.equal(fence.stale(0, g(5)), false, "same generation: same owner");
  assert.equal(fence.stale(0, g(4)), true, "older writer after a newer one");
  assert.equal(fence.stale(0, {}), false, "unstamped records always count");
  assert.equal(fence.stale(1, g(1)), false, "partitions are apart");
  assert.equal(fence.max(0), 5);
  fence.saw(0, 9);
  assert.equal(fence.stale(0, g(8)), true, "an own append raises the bar");
  fence.forget(0);
  assert.equal(fence.knows(0), false);
  assert.equal(fence.stale(0, g(1)), false);
});

Deno.test("generationHeaders() shares one frozen headers object per generation (a change per update no longer holds its own)", () => {
  const a = generationHeaders(5);
  assert.equal(generationHeaders(5), a, "same generation: same object");
  assert.ok(Object.isFrozen(a));
  const b = generationHeaders(6);
  assert.notEqual(b, a);
  assert.equal(generationOf(b), 6);
  assert.equal(generationOf(generationHeaders(5)), 5, "back to 5");
  assert.equal(generationOf(a), 5, "an object handed out is never changed");
});

Deno.test("recoverPartition() with a fence keeps the owner's values over a late record of an older generation and reports it", async () => {
  const transport = new MemoryTransport(
    `memory://fence-${crypto.randomUUID()}`,
    { defaultPartitions: 1 },
  );
  await transport.start();
  const store = new MemoryStore({ table: "t", tabledir: "" });
  await store.open();
  try {
    await transport.createTopic({ name: "cl", partitions: 1 });
    const rec = (k: string, v: string, gen: number | undefined) => ({
      topic: "cl",
      partition: 0,
      key: enc.encode(k),
      value: enc.encode(v),
      ...(gen === undefined ? {} : { headers: generationHeaders(gen) }),
    });
    await transport.send([
      rec("a", "1", 4), // the old owner
      rec("a", "2", 4),
      rec("a", "3", 6), // the next owner
      rec("b", "1", 6),
      rec("a", "2", 4), // the old owner again, late: stale
      rec("b", "0", undefined), // unstamped: applied
    ]);
    const fence = new GenerationFence();
    const stale: TransportRecord[] = [];
    await recoverPartition({
      table: "t",
      topic: "cl",
      transport,
      store,
      bufferSize: 2,
      log: getLogger(["faust", "test"]),
      fence,
      onStale: (r) => stale.push(r),
    }, 0);
    assert.deepEqual(
      [...store.entries(0)].map(([k, v]) => [dec.decode(k), dec.decode(v)]),
      [["a", "3"], ["b", "0"]],
    );
    assert.deepEqual(stale.map((r) => r.offset), [4]);
    assert.equal(store.persistedOffset(0), 5);
    assert.equal(fence.max(0), 6);
  } finally {
    await store.close();
    await transport.stop();
  }
});

Deno.test("GenerationFence.stamp() never goes below a generation seen in the partition (generations restart when a group is deleted)", () => {
  const fence = new GenerationFence();
  assert.equal(fence.stamp(0, 3), 3);
  fence.saw(0, 57);
  assert.equal(fence.stamp(0, 2), 57);
  assert.equal(fence.stamp(0, 60), 60);
  assert.equal(fence.stamp(1, 2), 2);
});

Deno.test("Holdings: keys whose late records were left out while following a partition as standby are handed for appending again when it becomes active", async () => {
  const transport = new MemoryTransport(
    `memory://fence-holdings-${crypto.randomUUID()}`,
    { defaultPartitions: 1 },
  );
  await transport.start();
  const store = new MemoryStore({ table: "t", tabledir: "" });
  await store.open();
  try {
    await transport.createTopic({ name: "cl", partitions: 1 });
    const rec = (k: string, v: string, gen: number) => ({
      topic: "cl",
      partition: 0,
      key: enc.encode(k),
      value: enc.encode(v),
      headers: generationHeaders(gen),
    });
    await transport.send([rec("a", "5", 6), rec("a", "2", 4)]);
    const handed: Array<[number, string[]]> = [];
    const h = new Holdings({
      table: "t",
      topic: "cl",
      host: { transport, log: getLogger(["faust", "test"]) },
      stats: { records: 0, seconds: 0, partitions: 0, skipped: 0 },
      fence: new GenerationFence(),
      onStale: (p, keys) =>
        handed.push([p, [...keys.values()].map((k) => dec.decode(k))]),
    });
    h.open(store);
    await h.hold(new Set(), new Set([0]), () => Promise.resolve());
    assert.equal(dec.decode(store.get(0, enc.encode("a"))!), "5");
    assert.deepEqual(handed, [], "a standby does not append");
    await h.hold(new Set([0]), new Set(), () => Promise.resolve());
    assert.deepEqual(handed, [[0, ["a"]]]);
    await h.stop();
  } finally {
    await store.close();
    await transport.stop();
  }
});
