/**
 * Benchmark of the embedded `local://` broker, producer and consumer in
 * separate processes:
 * 1. throughput: a producer process sends N records (100-byte values,
 *    batches of B, P partitions) while a consumer process reads them;
 *    then a fresh group drains the same topic alone;
 * 2. cross-process delivery latency p50/p99, one record at a time;
 * 3. CPU used by a consumer waiting 10 s with nothing to read.
 *
 * Usage: deno run -A bench/local_broker_bench.ts [--records 1000000]
 *          [--partitions 8] [--batch 1000] [--samples 1000] [--idle 10]
 *
 * @module
 */
import { LocalTransport } from "../src/transport/local.ts";
import type { Consumer, ProduceRecord } from "../src/transport/transport.ts";

const args = Deno.args;
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

const listener = {
  onPartitionsAssigned: () => Promise.resolve(),
  onPartitionsRevoked: () => Promise.resolve(),
};

function open(dir: string): Promise<LocalTransport> {
  const t = new LocalTransport(
    `local://${dir}${args.includes("--nosync") ? "?sync=false" : ""}`,
    {
      defaultPartitions: 8,
      datadir: dir,
      clientId: "bench",
    },
  );
  return t.start().then(() => t);
}

function cpuMs(): number {
  // utime + stime in clock ticks (fields 14 and 15), 100 ticks per second on Linux.
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const now = (): number => performance.timeOrigin + performance.now();

async function produce(
  dir: string,
  topic: string,
  n: number,
  p: number,
  batch: number,
): Promise<void> {
  const t = await open(dir);
  await t.createTopic({ name: topic, partitions: p });
  const value = new Uint8Array(100).fill(120);
  const started = performance.now();
  const cpu0 = cpuMs();
  // Up to `inflight` sends pending at once, as the app's producer buffer does;
  // lmdb-js commits the sends issued together in one LMDB transaction.
  const inflight = flag("inflight", 4);
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i += batch) {
    const records: ProduceRecord[] = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      records.push({ topic, partition: j % p, key: null, value });
    }
    const sent = t.send(records);
    pending.add(sent);
    sent.finally(() => pending.delete(sent));
    if (pending.size >= inflight) await Promise.race(pending);
  }
  await Promise.all(pending);
  const secs = (performance.now() - started) / 1000;
  await t.stop();
  console.log(
    JSON.stringify({
      produced: n,
      secs,
      rate: n / secs,
      cpuMs: cpuMs() - cpu0,
    }),
  );
}

async function drain(
  c: Consumer,
  n: number,
): Promise<{ secs: number; count: number }> {
  let count = 0;
  let started = 0;
  const deadline = Date.now() + 600_000;
  while (count < n && Date.now() < deadline) {
    const recs = await c.poll(5000, 1000);
    if (recs.length > 0 && started === 0) started = performance.now();
    count += recs.length;
  }
  return { secs: (performance.now() - started) / 1000, count };
}

async function consume(
  dir: string,
  topic: string,
  group: string,
  n: number,
): Promise<void> {
  const t = await open(dir);
  const c = t.createConsumer({ groupId: group, listener });
  await c.subscribe([topic]);
  console.log("ready");
  const cpu0 = cpuMs();
  const { secs, count } = await drain(c, n);
  await t.stop();
  console.log(
    JSON.stringify({
      consumed: count,
      secs,
      rate: count / secs,
      cpuMs: cpuMs() - cpu0,
    }),
  );
}

async function latencyConsumer(dir: string, samples: number): Promise<void> {
  const t = await open(dir);
  await t.createTopic({ name: "lat", partitions: 1 });
  const c = t.createConsumer({ groupId: "lat", listener });
  await c.subscribe(["lat"]);
  console.log("ready");
  const lat: number[] = [];
  const deadline = Date.now() + 120_000;
  while (lat.length < samples && Date.now() < deadline) {
    for (const r of await c.poll(10, 1000)) lat.push(now() - r.timestamp);
  }
  await t.stop();
  lat.sort((a, b) => a - b);
  const q = (x: number): number =>
    lat[Math.min(lat.length - 1, Math.floor(x * lat.length))]!;
  console.log(
    JSON.stringify({
      samples: lat.length,
      p50: q(0.5),
      p99: q(0.99),
      max: lat.at(-1),
    }),
  );
}

async function latencyProducer(dir: string, samples: number): Promise<void> {
  const t = await open(dir);
  for (let i = 0; i < samples; i++) {
    await t.send([{
      topic: "lat",
      partition: 0,
      key: null,
      value: new Uint8Array(100),
      timestamp: now(),
    }]);
    await new Promise((r) => setTimeout(r, 3));
  }
  await t.stop();
  console.log(JSON.stringify({ sent: samples }));
}

async function idle(dir: string, seconds: number): Promise<void> {
  const t = await open(dir);
  const c = t.createConsumer({ groupId: "idle", listener });
  await c.subscribe(["idle"]);
  const cpu0 = cpuMs();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) await c.poll(100, end - performance.now());
  const used = cpuMs() - cpu0;
  await t.stop();
  console.log(
    JSON.stringify({
      idleSeconds: seconds,
      cpuMs: used,
      cpuPercent: used / (seconds * 10),
    }),
  );
}

function spawn(role: string, rest: (string | number)[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--role",
      role,
      ...rest.map(String),
      "--",
      ...Deno.args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function waitReady(
  child: Deno.ChildProcess,
): Promise<ReadableStreamDefaultReader<string>> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("child exited before it was ready");
    buf += value;
  }
  return reader;
}

async function result(
  reader: ReadableStreamDefaultReader<string>,
): Promise<Record<string, number>> {
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  return JSON.parse(buf.trim().split("\n").at(-1)!);
}

async function output(
  child: Deno.ChildProcess,
): Promise<Record<string, number>> {
  const out = new TextDecoder().decode((await child.output()).stdout);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

async function main(): Promise<void> {
  const n = flag("records", 1_000_000);
  const p = flag("partitions", 8);
  const batch = flag("batch", 1000);
  const samples = flag("samples", 1000);
  const idleSecs = flag("idle", 10);
  const dir = await Deno.makeTempDir({ prefix: "faust-local-bench-" });
  try {
    const consumer = spawn("consume", [dir, "tput", "g1", n]);
    const reader = await waitReady(consumer);
    const prod = await output(spawn("produce", [dir, "tput", n, p, batch]));
    const cons = await result(reader);
    await consumer.status;
    const drainer = spawn("consume", [dir, "tput", "g2", n]);
    const drained = await result(await waitReady(drainer));
    await drainer.status;
    const latChild = spawn("latency-consumer", [dir, samples]);
    const latReader = await waitReady(latChild);
    await output(spawn("latency-producer", [dir, samples]));
    const lat = await result(latReader);
    await latChild.status;
    const idleRes = await output(spawn("idle", [dir, idleSecs]));
    const f = (x: number | undefined): string =>
      Math.round(x ?? 0).toLocaleString("en-US");
    console.log(
      `local:// broker, ${n} records x 100 B, ${p} partitions, batches of ${batch}`,
    );
    console.log(
      `  produce (concurrent):  ${f(prod.rate)} records/s (${
        prod.secs?.toFixed(2)
      } s)`,
    );
    console.log(
      `  consume (concurrent):  ${
        f(cons.rate)
      } records/s (${cons.consumed} records)`,
    );
    console.log(
      `  consume (drain alone): ${f(drained.rate)} records/s (${
        drained.secs?.toFixed(2)
      } s)`,
    );
    console.log(
      `  delivery latency:      p50 ${lat.p50?.toFixed(2)} ms, p99 ${
        lat.p99?.toFixed(2)
      } ms, ` +
        `max ${lat.max?.toFixed(2)} ms (${lat.samples} samples)`,
    );
    console.log(
      `  idle consumer CPU:     ${idleRes.cpuMs} ms over ${idleSecs} s (${
        idleRes.cpuPercent?.toFixed(2)
      } %)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const i = args.indexOf("--role");
  if (i < 0) await main();
  else {
    const [role, ...rest] = args.slice(i + 1);
    const dir = rest[0]!;
    if (role === "produce") {
      await produce(
        dir,
        rest[1]!,
        Number(rest[2]),
        Number(rest[3]),
        Number(rest[4]),
      );
    } else if (role === "consume") {
      await consume(dir, rest[1]!, rest[2]!, Number(rest[3]));
    } else if (role === "latency-consumer") {
      await latencyConsumer(dir, Number(rest[1]));
    } else if (role === "latency-producer") {
      await latencyProducer(dir, Number(rest[1]));
    } else if (role === "idle") await idle(dir, Number(rest[1]));
  }
}
