import assert from "node:assert/strict";
import { Doorbell } from "../../../src/transport/local/doorbell.ts";
import { LocalTransport } from "../../../src/transport/local.ts";
import { recordingListener } from "../conformance.ts";

Deno.test("Doorbell.wait() ends on a ring from another Doorbell, a timeout or an abort", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-bell-" });
  const watching = new Doorbell(`${dir}/doorbell`);
  const ringing = new Doorbell(`${dir}/doorbell`);
  try {
    watching.watch();
    let gen = watching.generation;
    const started = performance.now();
    const woken = watching.wait(gen, 10_000);
    setTimeout(() => ringing.ring(), 20);
    await woken;
    assert.ok(performance.now() - started < 5000);
    assert.notEqual(watching.generation, gen);
    gen = watching.generation;
    const t0 = performance.now();
    await watching.wait(gen, 50);
    assert.ok(performance.now() - t0 >= 40);
    // An abort ends a 10 s wait early; so does a generation already passed.
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    let t1 = performance.now();
    await watching.wait(watching.generation, 10_000, ac.signal);
    assert.ok(performance.now() - t1 < 5000, "the abort ended the wait");
    t1 = performance.now();
    await watching.wait(watching.generation, 10_000, ac.signal);
    assert.ok(performance.now() - t1 < 5000, "an aborted signal: no wait");
    t1 = performance.now();
    await watching.wait(gen - 1, 10_000);
    assert.ok(performance.now() - t1 < 5000, "a stale generation: no wait");
  } finally {
    await watching.close();
    await ringing.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalTransport wakes a waiting consumer when another process sends", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-bell-" });
  // A 30 s fallback poll: only the doorbell can deliver within the test.
  const t = new LocalTransport(`local://${dir}?pollInterval=30s`, {
    defaultPartitions: 1,
    datadir: dir,
    clientId: "t",
  });
  await t.start();
  try {
    await t.createTopic({ name: "bell", partitions: 1 });
    const c = t.createConsumer({ groupId: "g", listener: recordingListener() });
    await c.subscribe(["bell"]);
    const pending = c.poll(10, 20_000);
    const script = new URL("./fixtures/producer.ts", import.meta.url).pathname;
    const producer = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, dir, "bell", "1", "1", "1"],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const recs = await pending;
    const latency = Date.now() - recs[0]!.timestamp;
    assert.equal((await producer.status).code, 0);
    assert.equal(recs.length, 1);
    // The fallback poll would take 30 s: anything well below is the doorbell.
    assert.ok(latency < 10_000, `delivered ${latency} ms after the send`);
    await c.close();
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Doorbell wakes its waiters on a file event only when the broker committed since their last wake-up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-bell-" });
  let version = 7;
  let reads = 0;
  const seen = Promise.withResolvers<void>();
  const watching = new Doorbell(`${dir}/doorbell`, () => {
    // The first read is the ring's own wake-up; the second, the file event.
    if (++reads === 2) seen.resolve();
    return version;
  });
  const other = new Doorbell(`${dir}/doorbell`);
  try {
    watching.watch();
    const gen = watching.generation;
    watching.ring();
    assert.equal(watching.generation, gen + 1, "its own ring wakes at once");
    await seen.promise;
    assert.equal(
      watching.generation,
      gen + 1,
      "the file event of its own ring, with nothing committed since, wakes no one again",
    );
    // Another process committed and rang.
    version++;
    const before = watching.generation;
    const woken = watching.wait(before, 20_000);
    other.ring();
    const t0 = performance.now();
    await woken;
    assert.ok(performance.now() - t0 < 10_000, "woken by the file event");
    assert.ok(watching.generation > before);
  } finally {
    await watching.close();
    await other.close();
    await Deno.remove(dir, { recursive: true });
  }
});
