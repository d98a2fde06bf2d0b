import assert from "node:assert/strict";
import { LocalTransport } from "../../src/transport/local.ts";
import { recordingListener, transportConformance } from "./conformance.ts";

const options = {
  defaultPartitions: 3,
  datadir: "/tmp/unused",
  clientId: "test",
};

transportConformance("local://", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-" });
  const transport = new LocalTransport(`local://${dir}/broker`, options);
  await transport.start();
  return {
    transport,
    defaultPartitions: 3,
    async cleanup() {
      await transport.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

Deno.test("LocalTransport.settings resolves the path and query settings", () => {
  const def = new LocalTransport("local://", {
    ...options,
    datadir: "/var/app",
  });
  assert.equal(def.settings.path, "/var/app/broker");
  assert.equal(def.settings.pollIntervalMs, 1000);
  assert.equal(def.settings.tombstoneDelayMs, 86_400_000);
  const abs = new LocalTransport(
    "local:///srv/b/?pollInterval=250ms&maintenanceInterval=2",
    options,
  );
  assert.equal(abs.settings.path, "/srv/b");
  assert.equal(abs.settings.pollIntervalMs, 250);
  assert.equal(abs.settings.maintenanceIntervalMs, 2000);
  assert.equal(abs.settings.sync, true);
  assert.equal(
    new LocalTransport("local://x?sync=false", options).settings.sync,
    false,
  );
  assert.equal(
    new LocalTransport("local://x", { ...options, extra: { sync: false } })
      .settings.sync,
    false,
  );
  const rel = new LocalTransport("local://data/../data/broker", {
    ...options,
    extra: { tombstoneDelay: "1s", pollInterval: "5s" },
  });
  assert.equal(rel.settings.path, `${Deno.cwd()}/data/broker`);
  assert.equal(rel.settings.tombstoneDelayMs, 1000);
  assert.equal(rel.settings.pollIntervalMs, 5000);
});

Deno.test("LocalTransport rejects unknown URL parameters and bad durations", () => {
  assert.throws(
    () => new LocalTransport("local://x?retention=1", options),
    /Unknown parameter "retention".*pollInterval/,
  );
  assert.throws(
    () => new LocalTransport("local://x?pollInterval=soon", options),
    /pollInterval/,
  );
  assert.throws(
    () => new LocalTransport("local://x?sync=yes", options),
    /sync.*true or false/,
  );
  assert.throws(
    () => new LocalTransport("local://x?pollInterval=0", options),
    /above 0/,
  );
});

Deno.test("LocalTransport shares one environment between transports of a path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-" });
  const a = new LocalTransport(`local://${dir}`, options);
  const b = new LocalTransport(`local://${dir}/`, options);
  await a.start();
  await b.start();
  try {
    await a.send([{
      topic: "t",
      partition: 1,
      key: null,
      value: new Uint8Array([1]),
    }]);
    assert.equal(await b.partitionCount("t"), 3);
    assert.equal(await b.highWatermark({ topic: "t", partition: 1 }), 1);
    await a.stop();
    assert.equal((await b.read({ topic: "t", partition: 1 }, 0, 10)).length, 1);
    await assert.rejects(a.send([]), { name: "ClosedError" });
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalTransport.createConsumer() throws LockError for a second consumer of a group", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-" });
  const t = new LocalTransport(`local://${dir}`, options);
  await t.start();
  try {
    const first = t.createConsumer({
      groupId: "app/1",
      listener: recordingListener(),
    });
    assert.throws(
      () =>
        t.createConsumer({ groupId: "app/1", listener: recordingListener() }),
      (e: Error) =>
        e.name === "LockError" && /"app\/1"/.test(e.message) &&
        /kafka:\/\//.test(e.message),
    );
    const other = t.createConsumer({
      groupId: "app-2",
      listener: recordingListener(),
    });
    await first.close();
    const again = t.createConsumer({
      groupId: "app/1",
      listener: recordingListener(),
    });
    await again.close();
    await other.close();
    await assert.rejects(first.poll(1, 1), { name: "ClosedError" });
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalTransport.send() with a bad partition leaves no auto-created topic", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-" });
  const t = new LocalTransport(`local://${dir}`, options);
  await t.start();
  try {
    await assert.rejects(
      t.send([{ topic: "fresh", partition: 0, key: null, value: null }, {
        ...{ topic: "fresh", partition: 0, key: null, value: null },
        partition: 5,
      }]),
      (e: Error) =>
        e.name === "ConfigError" &&
        /partition 5 of topic "fresh"/.test(e.message),
    );
    assert.equal(await t.partitionCount("fresh"), undefined);
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
