/**
 * Table throughput (not a test).
 *
 *   deno run -A bench/table_bench.ts [--events N] [--keys N]
 *
 * For each store (memory://, lmdb://), on a memory:// broker so the numbers
 * are about tables rather than the broker:
 * 1. updates/s: N events pre-loaded on a 4-partition topic; an agent counts
 *    them per key (`counts.set(k, counts.get(k) + 1)`); timed from start
 *    until every event is processed and the table flushed (changelog acked,
 *    store written);
 * 2. recovery records/s: a fresh store (LMDB files deleted) rebuilt from the
 *    N changelog records (timed `app.start()`);
 * 3. warm restart: the store kept, nothing to replay.
 */
import { App } from "../mod.ts";
import type { Table } from "../src/table/table.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const EVENTS = flag("events", 200_000);
const KEYS = flag("keys", 10_000);
const enc = new TextEncoder();

interface Run {
  app: App;
  counts: Table<string, number>;
  processed: () => number;
}

function build(broker: string, store: string, datadir: string): Run {
  const app = new App("table-bench", {
    broker,
    store,
    datadir,
    topicPartitions: 4,
  });
  const events = app.topic("events", {
    keyType: "string",
    valueType: "string",
  });
  const counts = app.table("counts", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
  });
  let processed = 0;
  app.agent(events, async (stream) => {
    for await (const event of stream.events()) {
      const k = event.key as string;
      counts.set(k, counts.get(k) + 1);
      processed++;
    }
  }, { name: "count" });
  return { app, counts, processed: () => processed };
}

async function preload(broker: string): Promise<void> {
  const client = new App("table-bench", { broker, topicPartitions: 4 });
  await client.startClient();
  await client.transport.createTopic({ name: "events", partitions: 4 });
  const batch = 10_000;
  for (let i = 0; i < EVENTS; i += batch) {
    const records = [];
    for (let j = i; j < Math.min(EVENTS, i + batch); j++) {
      const key = `key-${j % KEYS}`;
      records.push({
        topic: "events",
        partition: j % 4,
        key: enc.encode(key),
        value: enc.encode('"x"'),
      });
    }
    await client.transport.send(records);
  }
  await client.stop();
}

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("benchmark timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const rows: Array<Record<string, string>> = [];
for (const store of ["memory://", "lmdb://"]) {
  const datadir = await Deno.makeTempDir();
  const broker = `memory://bench-${crypto.randomUUID()}`;
  try {
    await preload(broker);
    const first = build(broker, store, datadir);
    const t0 = performance.now();
    await first.app.start();
    await waitFor(() => first.processed() === EVENTS);
    await first.counts.flush();
    const updateSeconds = (performance.now() - t0) / 1000;
    const size = first.counts.size;
    const tabledir = first.app.conf.tabledir;
    await first.app.stop();
    if (size !== Math.min(KEYS, EVENTS)) {
      throw new Error(`expected ${KEYS} keys, got ${size}`);
    }

    if (store === "lmdb://") await Deno.remove(tabledir, { recursive: true });
    const cold = build(broker, store, datadir);
    const t1 = performance.now();
    await cold.app.start();
    const coldSeconds = (performance.now() - t1) / 1000;
    const replayed = cold.counts.recoveryStats.records;
    await cold.app.stop();

    let warm = "-";
    if (store === "lmdb://") {
      const again = build(broker, store, datadir);
      const t2 = performance.now();
      await again.app.start();
      warm = `${
        ((performance.now() - t2) * 1).toFixed(0)
      } ms (${again.counts.recoveryStats.records} replayed)`;
      await again.app.stop();
    }
    rows.push({
      store,
      "updates/s": Math.round(EVENTS / updateSeconds).toLocaleString("en-US"),
      "recovery records/s": Math.round(replayed / coldSeconds).toLocaleString(
        "en-US",
      ),
      "records replayed": String(replayed),
      "cold start": `${(coldSeconds * 1000).toFixed(0)} ms`,
      "warm start": warm,
    });
  } finally {
    await Deno.remove(datadir, { recursive: true });
  }
}
console.log(
  `${EVENTS} events, ${KEYS} keys, 4 partitions, memory:// broker, Deno ${Deno.version.deno}`,
);
console.table(rows);
