/**
 * At-least-once tables on kafka:// when another worker appends to a
 * changelog partition this worker owns: a worker expelled from the group
 * during a broker outage or a stall (it does not know yet) keeps appending
 * its own, older values. The owner must append its values of those keys
 * again, or a later recovery starts from the stale ones (counts end below
 * the truth). The other worker here is a real producer writing such a
 * record to the changelog.
 */
import assert from "node:assert/strict";
import { counter } from "./_counter.ts";
import { requireBroker, startTransport, unique, waitFor } from "./_helpers.ts";

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
