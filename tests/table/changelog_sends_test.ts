/**
 * Changelog appends count as sends in progress (the app's `sends`), so the
 * consumer's hold on delivery while too many sends wait for the broker
 * covers tables too.
 */
import assert from "node:assert/strict";
import { InFlight } from "../../src/producer/inflight.ts";
import type { SendCounter } from "../../src/producer/producer.ts";
import { ChangelogWriter } from "../../src/table/changelog.ts";
import { MemoryStore } from "../../src/table/memory_store.ts";
import type {
  ProduceRecord,
  RecordMetadata,
} from "../../src/transport/transport.ts";

Deno.test("ChangelogWriter counts each append in the host's sends until the broker acknowledged it", async () => {
  const store = new MemoryStore({ table: "s", tabledir: "" });
  await store.open();
  const sends = new InFlight();
  const held: Array<() => void> = [];
  let offset = 0;
  const logs: string[] = [];
  const host = {
    log: { error: (m: string) => logs.push(m) } as never,
    sends,
    // A broker that acknowledges only when told to; like the app's
    // producer, the counter ends at the outcome.
    produce: (r: ProduceRecord, _b?: unknown, counter?: SendCounter) =>
      new Promise<RecordMetadata>((resolve) => {
        held.push(() => {
          counter?.end();
          resolve({
            topic: r.topic,
            partition: r.partition,
            offset: offset++,
            timestamp: 0,
          });
        });
      }),
    crash: (e: Error) => logs.push(e.message),
  };
  const enc = new TextEncoder();
  const w = new ChangelogWriter("s", "s-changelog", store, host, {
    cache: false,
  });
  try {
    for (let i = 0; i < 5; i++) {
      w.write(0, enc.encode(`k${i}`), enc.encode("1"));
    }
    assert.equal(sends.count, 5, "five appends in progress");
    assert.notEqual(sends.ebb(4), undefined, "delivery would be held");
    for (const ack of held.splice(0)) ack();
    await w.flush();
    assert.equal(sends.count, 0);
    assert.deepEqual(logs, []);
  } finally {
    await w.close();
    await store.close();
  }
});

Deno.test("App.onProduceMessage hears a table's changelog records with their topic, partition, key and value", async () => {
  const { testApp, waitFor } = await import("../../testing.ts");
  const app = testApp("produce-hook");
  const words = app.topic("words", { keyType: "string", valueType: "string" });
  const counts = app.table<string, number>("counts", { default: () => 0 });
  app.agent(words, async (stream) => {
    for await (const w of stream) counts.set(w, counts.get(w) + 1);
  }, { name: "count" });
  const dec = new TextDecoder();
  // The last value heard per key (a commit may come between two updates).
  const heard = new Map<string, string>();
  app.onProduceMessage.connect((_app, r) => {
    if (r.topic !== counts.changelogTopic) return;
    assert.ok(Number.isInteger(r.partition) && r.partition >= 0);
    heard.set(dec.decode(r.key!), dec.decode(r.value!));
  });
  await app.start();
  try {
    for (const w of ["a", "b", "a"]) await words.send({ key: w, value: w });
    await waitFor(() => counts.get("a") === 2, 5000, "two a's");
    await counts.flush();
    assert.deepEqual([...heard].sort(), [['"a"', "2"], ['"b"', "1"]]);
  } finally {
    await app.stop();
  }
});
