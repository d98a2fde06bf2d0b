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
