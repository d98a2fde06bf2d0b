/**
 * Table store throughput through the Store interface (not a test).
 *
 *   deno run -A bench/store_bench.ts [--ops N] [--batch N]
 *
 * For each driver (memory, lmdb) and key space (10k, 1M keys): N puts as
 * `apply()` batches of `batch` ops with 100-byte values (keys drawn at
 * random from the key space, offset + 1 per batch), then N synchronous
 * `get()`s of random keys. Also compares two ways of writing one LMDB batch
 * (the choice made in src/table/lmdb_store.ts).
 */
import { open, TransactionFlags } from "lmdb";
import { createStore } from "../src/table/store_factory.ts";
import type { StoreOp } from "../src/table/store.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const OPS = flag("ops", 1_000_000);
const BATCH = flag("batch", 1000);
const VALUE = new Uint8Array(100).fill(42);

/** Small deterministic PRNG so every run draws the same keys. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function makeKeys(n: number): Uint8Array[] {
  const enc = new TextEncoder();
  return Array.from(
    { length: n },
    (_, i) => enc.encode(`key-${String(i).padStart(8, "0")}`),
  );
}

function rate(n: number, ms: number): string {
  return `${Math.round(n / (ms / 1000)).toLocaleString("en-US")}/s`;
}

interface Row {
  driver: string;
  keys: string;
  puts: string;
  gets: string;
  stored: number;
}

async function run(url: string, keySpace: number, dir: string): Promise<Row> {
  const keys = makeKeys(keySpace);
  const store = await createStore(url, {
    table: `bench${keySpace}`,
    tabledir: dir,
  });
  await store.open();
  const next = rng(1);
  let t0 = performance.now();
  for (let done = 0, offset = 0; done < OPS; done += BATCH, offset++) {
    const ops: StoreOp[] = [];
    for (let i = 0; i < BATCH; i++) {
      ops.push({ key: keys[(next() * keySpace) | 0]!, value: VALUE });
    }
    await store.apply(0, ops, offset);
  }
  const putMs = performance.now() - t0;
  const pick = rng(2);
  let found = 0;
  t0 = performance.now();
  for (let i = 0; i < OPS; i++) {
    if (store.get(0, keys[(pick() * keySpace) | 0]!) !== undefined) found++;
  }
  const getMs = performance.now() - t0;
  const stored = store.count(0);
  if (found === 0) throw new Error("no key found");
  await store.reset();
  return {
    driver: store.driver,
    keys: keySpace.toLocaleString("en-US"),
    puts: rate(OPS, putMs),
    gets: rate(OPS, getMs),
    stored,
  };
}

/**
 * Raw lmdb, same random 10k-key workload: a batch as an async transaction
 * with put() vs transactionSync with putSync(). Rounds alternate; medians.
 */
async function compareTxn(dir: string): Promise<[string, string][]> {
  const env = open({ path: `${dir}/txn.lmdb`, maxDbs: 4 });
  const db = env.openDB({
    name: "p0",
    keyEncoding: "binary",
    encoding: "binary",
  });
  const offs = env.openDB({
    name: "offsets",
    keyEncoding: "uint32",
    encoding: "ordered-binary",
  });
  const keys = makeKeys(10_000);
  const next = rng(3);
  const order = Array.from(
    { length: Math.min(OPS, 300_000) },
    () => keys[(next() * 10_000) | 0]!,
  );
  const flags = TransactionFlags.ABORTABLE |
    TransactionFlags.SYNCHRONOUS_COMMIT |
    TransactionFlags.NO_SYNC_FLUSH;
  const asyncMs: number[] = [];
  const syncMs: number[] = [];
  for (let round = 0; round < 3; round++) {
    let t0 = performance.now();
    for (let b = 0; b < order.length; b += BATCH) {
      await env.transaction(() => {
        for (let i = b; i < b + BATCH; i++) db.put(order[i]!, VALUE);
        offs.put(0, b);
      });
    }
    asyncMs.push(performance.now() - t0);
    t0 = performance.now();
    for (let b = 0; b < order.length; b += BATCH) {
      env.transactionSync(() => {
        for (let i = b; i < b + BATCH; i++) db.putSync(order[i]!, VALUE);
        offs.putSync(0, b);
      }, flags);
    }
    syncMs.push(performance.now() - t0);
  }
  await env.close();
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
  return [
    ["await transaction(() => put())", rate(order.length, median(asyncMs))],
    [
      "transactionSync(() => putSync(), NO_SYNC_FLUSH) [used]",
      rate(order.length, median(syncMs)),
    ],
  ];
}

const dir = await Deno.makeTempDir({ prefix: "store_bench_" });
try {
  console.log(
    `Store bench: ${
      OPS.toLocaleString("en-US")
    } puts as apply() batches of ${BATCH}, 100-byte values, ` +
      `random keys; then ${
        OPS.toLocaleString("en-US")
      } random get()s. Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores, files in ${dir}`,
  );
  const rows: Row[] = [];
  for (const url of ["memory://", "lmdb://"]) {
    for (const keySpace of [10_000, 1_000_000]) {
      rows.push(await run(url, keySpace, dir));
    }
  }
  console.table(rows);
  console.log(
    `LMDB batch write (raw lmdb, random keys of 10k, batches of ${BATCH}, median of 3):`,
  );
  console.table(Object.fromEntries(await compareTxn(dir)));
} finally {
  await Deno.remove(dir, { recursive: true });
}
