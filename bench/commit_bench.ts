/**
 * The commit path of a table alone: K keys changed, then committed (their
 * changelog records appended to a `local://` topic and acknowledged), R
 * times; the store applies what the writer lets it. Prints CPU (all threads)
 * and wall time per change. Not a test.
 *
 *   deno run -A bench/commit_bench.ts [--keys 10000] [--rounds 40] [--writes 1] [--tree PATH]
 *
 * `--writes W` writes every key W times between two commits (hot keys: the
 * record cache keeps the last).
 *
 * `--tree PATH` runs the library of another checkout (an older one waits for
 * the store at every commit: its writer has no `durable()`).
 *
 * @module
 */
import process from "node:process";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? fallback : fallback;
}

const tree = flag("tree", new URL("..", import.meta.url).pathname);
const K = Number(flag("keys", "10000"));
const R = Number(flag("rounds", "40"));
const W = Number(flag("writes", "1"));
const lib = (path: string) => import(`${tree}/src/${path}`);
const { LocalTransport } = await lib("transport/local.ts");
const { Producer } = await lib("producer/producer.ts");
const { Monitor } = await lib("sensors/monitor.ts");
const { InFlight } = await lib("producer/inflight.ts");
const { ChangelogWriter } = await lib("table/changelog.ts");
const { LmdbStore } = await lib("table/lmdb_store.ts");
const { keyId } = await lib("table/changelog_change.ts");
// What the table encodes deferred values with (a slab where the tree has one).
const { Slab } = await lib("util/slab.ts").catch(() => ({ Slab: undefined }));

const dir = await Deno.makeTempDir();
const transport = new LocalTransport(`local://${dir}/broker`, {
  defaultPartitions: 4,
  datadir: dir,
  clientId: "commit-bench",
});
await transport.start();
await transport.createTopic({ name: "t-changelog", partitions: 4 });
const producer = new Producer(transport, 0, new Monitor());
const store = new LmdbStore("lmdb://", { table: "t", tabledir: dir });
await store.open();
const quiet = () => {};
const host = {
  log: { error: console.error, warn: quiet, info: quiet, debug: quiet },
  sends: new InFlight(),
  crash: (e: Error) => {
    throw e;
  },
  produce: (r: unknown, _b: unknown, c: unknown) =>
    producer.enqueue(r, undefined, c),
  produceBatch: producer.enqueueBatch === undefined
    ? undefined
    : (rs: unknown, _b: unknown, c: unknown, l: unknown) =>
      producer.enqueueBatch(rs, undefined, c, l),
};
const writer = new ChangelogWriter("t", "t-changelog", store, host, {
  cache: true,
});
const enc = new TextEncoder();
const slab = Slab === undefined ? undefined : new Slab();
const encode = (v: unknown) => {
  const text = JSON.stringify(v);
  return slab === undefined ? enc.encode(text) : slab.encode(text);
};
const keys = Array.from({ length: K }, (_, i) => enc.encode(`k${i}`));
const ids = keys.map((k) => keyId(k));

const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let r = 0; r < R; r++) {
  for (let w = 0; w < W; w++) {
    for (let i = 0; i < K; i++) {
      writer.writeDeferred(i % 4, keys[i]!, r * W + w + 1, encode, ids[i]!);
    }
  }
  // What an offset commit waits for.
  if (typeof writer.durable === "function") await writer.durable();
  else await writer.flush();
}
await writer.flush();
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const n = K * R * W;
console.log(JSON.stringify({
  tree,
  changes: n,
  cpuUsPerChange: Number(((cpu.user + cpu.system) / n).toFixed(2)),
  wallUsPerChange: Number((wallMs * 1000 / n).toFixed(2)),
}));
await writer.close();
await store.close();
await producer.close();
await transport.stop();
await Deno.remove(dir, { recursive: true });
