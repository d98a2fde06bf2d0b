/**
 * At-least-once tables on kafka:// when another worker appends to a
 * changelog partition this worker owns: a worker expelled from the group
 * during a broker outage or a stall (it does not know yet) keeps appending
 * its own, older values. The owner must append its values of those keys
 * again, or a later recovery starts from the stale ones (counts end below
 * the truth). The other worker here is a real producer writing such a
 * record to the changelog. Appends carry the writer's group generation:
 * a late record of an older generation is left out by the next owner's
 * replay, and a writer that finds a newer generation's records knows it
 * lost the partition and does not append over them.
 */
import assert from "node:assert/strict";
import { counter } from "./_counter.ts";
import {
  requireBroker,
  startTransport,
  text,
  unique,
  waitFor,
} from "./_helpers.ts";
import {
  generationHeaders,
  generationOf,
} from "../../src/table/changelog_generation.ts";

Deno.test("Table on kafka:// (at_least_once) appends its own values again over records another worker appended to its changelog partition", async () => {
  await requireBroker();
  const id = unique("foreign");
  const datadir = await Deno.makeTempDir();
  const enc = new TextEncoder();
  try {
    const owner = counter(id, datadir, 1);
    await owner.app.start();
    try {
      await owner.send(["a", "b", "a", "b", "a"]);
      await waitFor(() => owner.processed() === 5, "first events");
      await owner.counts.flush();
      // The old owner of the partition, not yet aware it lost it, appends
      // its stale value of "a".
      const zombie = await startTransport();
      try {
        await zombie.send([{
          topic: `${id}-counts-changelog`,
          partition: 0,
          key: enc.encode("a"),
          value: enc.encode("1"),
        }]);
      } finally {
        await zombie.stop();
      }
      // The owner's next change of another key lands after it.
      await owner.send(["b"]);
      await waitFor(() => owner.processed() === 6, "last event");
      await owner.counts.flush();
      assert.deepEqual(
        [...owner.counts.entries()].sort(),
        [["a", 3], ["b", 3]],
      );
    } finally {
      await owner.app.stop();
    }
    // A worker without the store rebuilds the table from the changelog
    // alone: it must find the owner's counts, not the stale one.
    await Deno.remove(owner.app.conf.tabledir, { recursive: true });
    const next = counter(id, datadir, 1);
    await next.app.start();
    try {
      assert.deepEqual(
        [...next.counts.entries()].sort(),
        [["a", 3], ["b", 3]],
      );
    } finally {
      await next.app.stop();
    }
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
});

Deno.test("Table on kafka:// (at_least_once) leaves out a record appended after the owner's last one by a worker of an older group generation, and its next owner appends its value again", async () => {
  await requireBroker();
  const id = unique("foreign-late");
  const datadir = await Deno.makeTempDir();
  const enc = new TextEncoder();
  const topic = `${id}-counts-changelog`;
  const tp = { topic, partition: 0 };
  try {
    const owner = counter(id, datadir, 1);
    await owner.app.start();
    try {
      await owner.send(["a", "b", "a", "b", "a"]);
      await waitFor(() => owner.processed() === 5, "first events");
      await owner.counts.flush();
    } finally {
      await owner.app.stop();
    }
    const t = await startTransport();
    let generation: number;
    try {
      // The owner's appends carry its group generation.
      const written = await t.read(tp, 0, 100);
      const stamps = written.map((r) => generationOf(r.headers));
      assert.ok(
        stamps.length > 0 && stamps.every((g) => typeof g === "number"),
        `every append stamped with a generation: ${JSON.stringify(stamps)}`,
      );
      generation = Math.max(...(stamps as number[]));
      // A worker that owned the partition in an earlier generation, not yet
      // aware it lost it, appends its stale value of "a" after the owner's
      // last append; the owner is gone and never appends there again.
      await t.send([{
        topic,
        partition: 0,
        key: enc.encode("a"),
        value: enc.encode("1"),
        headers: generationHeaders(generation - 1),
      }]);
    } finally {
      await t.stop();
    }
    // The next owner rebuilds the table from the changelog alone.
    await Deno.remove(owner.app.conf.tabledir, { recursive: true });
    const next = counter(id, datadir, 1);
    await next.app.start();
    try {
      assert.deepEqual(
        [...next.counts.entries()].sort(),
        [["a", 3], ["b", 2]],
      );
      await next.counts.flush();
    } finally {
      await next.app.stop();
    }
    // And its own value of "a" is the changelog's last record of the key.
    const t2 = await startTransport();
    try {
      const all = await t2.read(tp, 0, 100);
      const lastA = all.filter((r) => text(r.key) === "a").at(-1);
      assert.equal(text(lastA?.value ?? null), "3");
    } finally {
      await t2.stop();
    }
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
});

Deno.test("Table on kafka:// (at_least_once) does not append its values again over records of a newer group generation: it lost the partition", async () => {
  await requireBroker();
  const id = unique("foreign-newer");
  const datadir = await Deno.makeTempDir();
  const enc = new TextEncoder();
  const topic = `${id}-counts-changelog`;
  const tp = { topic, partition: 0 };
  try {
    const owner = counter(id, datadir, 1);
    await owner.app.start();
    try {
      await owner.send(["a", "b", "a"]);
      await waitFor(() => owner.processed() === 3, "first events");
      await owner.counts.flush();
      const t = await startTransport();
      try {
        const written = await t.read(tp, 0, 100);
        const generation = Math.max(
          ...written.map((r) => generationOf(r.headers) ?? -1),
        );
        assert.ok(generation >= 0, "the owner stamps its appends");
        // The partition's next owner (a later generation) appends "a".
        await t.send([{
          topic,
          partition: 0,
          key: enc.encode("a"),
          value: enc.encode("7"),
          headers: generationHeaders(generation + 1),
        }]);
      } finally {
        await t.stop();
      }
      // This worker's next append lands after it: the record is foreign,
      // but newer than this worker's generation.
      await owner.send(["b"]);
      await waitFor(() => owner.processed() === 4, "last event");
      await owner.counts.flush();
    } finally {
      await owner.app.stop();
    }
    const t2 = await startTransport();
    try {
      const all = await t2.read(tp, 0, 100);
      const lastA = all.filter((r) => text(r.key) === "a").at(-1);
      assert.equal(
        text(lastA?.value ?? null),
        "7",
        "the newer owner's value stays the last of its key",
      );
    } finally {
      await t2.stop();
    }
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
});
