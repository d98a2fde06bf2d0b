/**
 * The store half of the table write path: group commits that lag the
 * changelog, write the last change of each key only, and run at once when
 * a flush waits; offset commits wait for the changelog acks only.
 */
import assert from "node:assert/strict";
import {
  APPLY_BATCH,
  APPLY_DELAY_MS,
  type PendingWrite,
  StoreApplier,
} from "../../src/table/changelog_apply.ts";
import { ChangelogWriter } from "../../src/table/changelog.ts";
import { MemoryStore } from "../../src/table/memory_store.ts";
import type { StoreBatch } from "../../src/table/store.ts";
import type {
  ProduceRecord,
  RecordMetadata,
} from "../../src/transport/transport.ts";
import { waitFor } from "../helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A memory store that records every batch it is given. */
class CountingStore extends MemoryStore {
  readonly batches: StoreBatch[] = [];
  constructor() {
    super({ table: "t", tabledir: "" });
  }
  override applyMany(batches: readonly StoreBatch[]): Promise<void> {
    this.batches.push(...batches);
    return super.applyMany(batches);
  }
}

function write(
  id: string,
  value: string,
  seq: number,
): PendingWrite & { meta: RecordMetadata | undefined } {
  return {
    id,
    key: enc.encode(id),
    value: enc.encode(value),
    seq,
    aseq: seq,
    meta: undefined,
  };
}

function ack(w: { meta: RecordMetadata | undefined }, offset: number): void {
  w.meta = { topic: "t-changelog", partition: 0, offset, timestamp: 0 };
}

Deno.test("StoreApplier writes the last change of each key of a group commit, with the highest offset, once a flush urges it", async () => {
  const store = new CountingStore();
  await store.open();
  const applied: PendingWrite[] = [];
  let woken = 0;
  const applier = new StoreApplier(store, false, {
    applied: (done) => applied.push(...done),
    fail: (e) => assert.fail(String(e)),
    wake: () => woken++,
  });
  try {
    const ws = [
      write("a", "1", 1),
      write("b", "1", 2),
      write("a", "2", 3),
      write("a", "3", 4),
    ];
    for (const w of ws) applier.push(0, w);
    ws.forEach((w, i) => ack(w, 10 + i));
    applier.acked(ws.length);
    // Acked, not urged: the group commit waits for its delay (1 s).
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(store.batches.length, 0, "no group commit yet");
    applier.urge(4);
    await waitFor(() => applier.doneThrough(4), 5000, "the group commit");
    assert.equal(store.batches.length, 1);
    assert.deepEqual(
      store.batches[0]!.ops.map((o) =>
        dec.decode(o.key) + "=" + dec.decode(o.value!)
      ),
      ["b=1", "a=3"],
    );
    assert.equal(store.batches[0]!.offset, 13);
    assert.equal(dec.decode(store.get(0, enc.encode("a"))), "3");
    assert.equal(store.persistedOffset(0), 13);
    // Superseded changes are not reported (the overlay holds newer ones).
    assert.deepEqual(applied.map((w) => w.seq).sort(), [2, 4]);
    assert.equal(applier.applied, 4);
    assert.ok(woken >= 1);
  } finally {
    await applier.close();
    await store.close();
  }
});

Deno.test("StoreApplier group-commits without waiting for its delay once APPLY_BATCH changes were acked", async () => {
  const store = new CountingStore();
  await store.open();
  const applier = new StoreApplier(store, false, {
    applied: () => {},
    fail: (e) => assert.fail(String(e)),
    wake: () => {},
  });
  try {
    const ws: ReturnType<typeof write>[] = [];
    for (let i = 0; i < APPLY_BATCH; i++) {
      const w = write(`k${i % 100}`, String(i), i + 1);
      applier.push(0, w);
      ack(w, i);
      ws.push(w);
    }
    applier.acked(ws.length);
    await waitFor(
      () => applier.doneThrough(APPLY_BATCH),
      APPLY_DELAY_MS - 100,
      "the group commit, before its delay",
    );
    assert.equal(store.batches.length, 1);
    assert.equal(store.batches[0]!.ops.length, 100, "one op per key");
    assert.equal(store.persistedOffset(0), APPLY_BATCH - 1);
  } finally {
    await applier.close();
    await store.close();
  }
});

Deno.test("StoreApplier.ackedThrough() tells whether the changes up to an append are acked, whatever the store holds", async () => {
  const store = new CountingStore();
  await store.open();
  const applier = new StoreApplier(store, false, {
    applied: () => {},
    fail: (e) => assert.fail(String(e)),
    wake: () => {},
  });
  try {
    const [w1, w2, w3] = [
      write("a", "1", 1),
      write("b", "1", 2),
      write("c", "1", 3),
    ];
    applier.push(0, w1!);
    applier.push(1, w2!);
    applier.push(0, w3!);
    assert.equal(applier.ackedThrough(1), false);
    ack(w1!, 0);
    assert.equal(applier.ackedThrough(1), true);
    assert.equal(applier.ackedThrough(2), false);
    ack(w3!, 1);
    assert.equal(applier.ackedThrough(3), false, "w2 is not acked");
    ack(w2!, 0);
    assert.equal(applier.ackedThrough(3), true);
    assert.equal(store.batches.length, 0, "nothing in the store");
  } finally {
    await applier.close();
    await store.close();
  }
});

Deno.test("ChangelogWriter.durable() resolves once the appends are acked, before the store has them; flush() writes them", async () => {
  const store = new CountingStore();
  await store.open();
  const held: Array<() => void> = [];
  let offset = 0;
  const host = {
    log: { error: () => {} } as never,
    produce: (r: ProduceRecord) =>
      new Promise<RecordMetadata>((resolve) => {
        held.push(() =>
          resolve({
            topic: r.topic,
            partition: r.partition,
            offset: offset++,
            timestamp: 0,
          })
        );
      }),
    crash: (e: Error) => assert.fail(e.message),
  };
  const w = new ChangelogWriter("t", "t-changelog", store, host, {
    cache: true,
  });
  try {
    w.write(0, enc.encode("a"), enc.encode("1"));
    w.write(0, enc.encode("a"), enc.encode("2"));
    let durable = false;
    const done = w.durable().then(() => durable = true);
    // Staged: one record for the key, not acked yet.
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(held.length, 1);
    assert.equal(durable, false, "not durable before the ack");
    for (const a of held.splice(0)) a();
    await done;
    assert.equal(store.batches.length, 0, "the store follows later");
    await w.flush();
    assert.equal(dec.decode(store.get(0, enc.encode("a"))), "2");
    assert.equal(store.persistedOffset(0), 0);
  } finally {
    await w.close();
    await store.close();
  }
});
