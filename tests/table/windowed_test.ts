import assert from "node:assert/strict";
import { z } from "zod";
import { App, Record } from "../../mod.ts";

async function until(
  check: () => boolean,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Synthetic events: key u0..u2, event time in seconds. */
const EVENTS = Array.from(
  { length: 90 },
  (_, i) => ({ key: `u${i % 3}`, at: 1000 + i * 7 + (i % 4) }),
);

for (const store of ["memory://", "lmdb://"]) {
  Deno.test(`WindowedTable tumbling counts over synthetic timestamps equal hand-computed ones (${store})`, async () => {
    const datadir = await Deno.makeTempDir();
    const app = new App("tumbling", {
      broker: "memory://",
      store,
      datadir,
      tableCleanupInterval: 3600,
    });
    const clicks = app.topic("clicks", {
      keyType: "string",
      valueType: "string",
    });
    const views = app.table("views", {
      default: () => 0,
      keyType: "string",
      valueType: "number",
    })
      .tumbling(60, { keyIndex: true });
    const currents: number[] = [];
    app.agent(clicks, async (stream) => {
      for await (const event of stream.events()) {
        const key = event.key as string;
        views.update(key, (n) => n + 1);
        currents.push(views.get(key).current());
      }
    }, { name: "count" });
    await app.start();
    try {
      for (const e of EVENTS) {
        await clicks.send({ key: e.key, value: "x", timestamp: e.at * 1000 });
      }
      await until(() => currents.length === EVENTS.length, "all events");
      const expected = new Map<string, number>();
      const running: number[] = [];
      for (const e of EVENTS) {
        const id = `${e.key}@${Math.floor(e.at / 60) * 60}`;
        expected.set(id, (expected.get(id) ?? 0) + 1);
        running.push(expected.get(id)!);
      }
      assert.deepEqual(currents, running);
      await views.table.flush();
      const got = new Map(
        [...views.windows()].map(([k, r, v]) => [`${k}@${r.start}`, v]),
      );
      assert.deepEqual(got, expected);
      for (const [, r] of views.windows()) {
        assert.equal(Number((r.end - r.start).toFixed(1)), 59.9);
      }
      assert.deepEqual([...views.keys()].sort(), ["u0", "u1", "u2"]);
    } finally {
      await app.stop();
      await Deno.remove(datadir, { recursive: true });
    }
  });
}

Deno.test("WindowedTable hopping counts every overlapping window; delta() reads an earlier one", async () => {
  const app = new App("hopping", {
    broker: "memory://",
    store: "memory://",
    tableCleanupInterval: 3600,
  });
  const clicks = app.topic("clicks", {
    keyType: "string",
    valueType: "string",
  });
  const views = app.table("views", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
  })
    .hopping(60, 20, { keyIndex: true });
  const deltas: number[] = [];
  app.agent(clicks, async (stream) => {
    for await (const event of stream.events()) {
      views.update(event.key as string, (n) => n + 1);
      deltas.push(views.get(event.key as string).delta(60));
    }
  }, { name: "count" });
  await app.start();
  try {
    for (const e of EVENTS) {
      await clicks.send({ key: e.key, value: "x", timestamp: e.at * 1000 });
    }
    await until(() => deltas.length === EVENTS.length, "all events");
    const expected = new Map<string, number>();
    const expectedDeltas: number[] = [];
    for (const e of EVENTS) {
      for (
        let k = Math.floor((e.at - 60) / 20) + 1;
        k <= Math.floor(e.at / 20);
        k++
      ) {
        const id = `${e.key}@${k * 20}`;
        expected.set(id, (expected.get(id) ?? 0) + 1);
      }
      // The window current 60 s earlier started at floor((at - 60) / 20) * 20.
      expectedDeltas.push(
        expected.get(`${e.key}@${Math.floor((e.at - 60) / 20) * 20}`) ?? 0,
      );
    }
    assert.deepEqual(deltas, expectedDeltas);
    await views.table.flush();
    assert.deepEqual(
      new Map([...views.windows()].map(([k, r, v]) => [`${k}@${r.start}`, v])),
      expected,
    );
  } finally {
    await app.stop();
  }
});

Deno.test("WindowedTable.relativeToField() picks windows by a field; value(), now() and keys() without keyIndex", async () => {
  const Reading = Record("Reading", { sensor: z.string(), at: z.number() });
  const app = new App("by-field", {
    broker: "memory://",
    store: "memory://",
    tableCleanupInterval: 3600,
  });
  const readings = app.topic("readings", { valueType: Reading });
  const table = app.table("per_minute", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
  });
  const perMinute = table.tumbling("1m").relativeToField(Reading.fields.at);
  const values: number[] = [];
  app.agent(readings, async (stream) => {
    for await (const r of stream) {
      perMinute.update(r.sensor, (n) => n + 1);
      values.push(perMinute.get(r.sensor).value());
    }
  }, { name: "count" });
  await app.start();
  try {
    for (const at of [0, 10, 59, 60, 61, 200]) {
      await readings.send({ value: { sensor: "s", at }, partition: 0 });
    }
    await until(() => values.length === 6, "all readings");
    assert.deepEqual(values, [1, 2, 3, 1, 2, 1]);
    // Event timestamps are now, the windows by field are in 1970: nothing in the window of now.
    assert.equal(perMinute.get("s").now(), 0);
    assert.throws(() => [...perMinute.keys()], /keyIndex: true/);
    assert.throws(() => table.get("s"), /windowed table "per_minute"/);
    assert.throws(() => perMinute.get("s").value(), /needs the current event/);
  } finally {
    await app.stop();
  }
});

Deno.test("WindowedTable onWindowClose fires from the cleanup timer with no later event", async () => {
  const app = new App("window-close", {
    broker: "memory://",
    store: "memory://",
    tableCleanupInterval: 0.1,
  });
  const clicks = app.topic("clicks", {
    keyType: "string",
    valueType: "string",
    partitions: 1,
  });
  const closed: Array<[string, number]> = [];
  const closedAt: number[] = [];
  const views = app.table("views", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
    partitions: 1,
    onWindowClose: (key: string, value: number) => {
      closed.push([key, value]);
      closedAt.push(Date.now());
    },
  }).tumbling(1, { expires: 1, keyIndex: true });
  let processed = 0;
  app.agent(clicks, async (stream) => {
    for await (const event of stream.events()) {
      views.update(event.key as string, (n) => n + 1);
      processed++;
    }
  }, { name: "count" });
  await app.start();
  try {
    const now = Date.now();
    for (const key of ["a", "a", "b"]) {
      await clicks.send({ key, value: "x", timestamp: now });
    }
    await until(() => processed === 3, "three events");
    await until(() => closed.length === 2, "both windows to close", 8000);
    assert.deepEqual(closed.sort(), [["a", 2], ["b", 1]]);
    // Not before the window ended and expired: its 1 s, then 1 s more (Faust
    // ends a window 0.1 s before the next starts).
    const expired = (Math.floor(now / 1000) + 1 + 1 - 0.1) * 1000;
    for (const at of closedAt) {
      assert.ok(at >= expired, `closed ${expired - at} ms before it expired`);
    }
    await views.table.flush();
    assert.deepEqual([...views.windows()], []);
    const changelog = await app.transport.read(
      { topic: "window-close-views-changelog", partition: 0 },
      0,
      100,
    );
    // Per window key, the last record is the tombstone of the expiry
    // (earlier updates may be merged by the changelog record cache).
    const last = new Map<string, boolean>();
    for (const r of changelog) last.set(String(r.key), r.value === null);
    assert.deepEqual([...last.values()], [true, true]);
  } finally {
    await app.stop();
  }
});

Deno.test("WindowedTable sliding(before, after) keeps one [t - before, t + after] window per event time; delta() reads an earlier event's", async () => {
  const app = new App("sliding", {
    broker: "memory://",
    store: "memory://",
    tableCleanupInterval: 3600,
  });
  const clicks = app.topic("clicks", {
    keyType: "string",
    valueType: "string",
  });
  const views = app.table("views", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
  }).sliding(10, 5, { keyIndex: true });
  const seen: Array<[number, number]> = [];
  app.agent(clicks, async (stream) => {
    for await (const event of stream.events()) {
      views.update(event.key as string, (n) => n + 1);
      const w = views.get(event.key as string);
      seen.push([w.current(), w.delta(3)]);
    }
  }, { name: "count" });
  await app.start();
  try {
    for (const at of [100, 100, 103, 110]) {
      await clicks.send({ key: "u", value: "x", timestamp: at * 1000 });
    }
    await until(() => seen.length === 4, "all events");
    // current(): this event's window; delta(3): the window of t - 3.
    assert.deepEqual(seen, [[1, 0], [2, 0], [1, 2], [1, 0]]);
    await views.table.flush();
    assert.deepEqual(
      [...views.windows()].map(([k, r, v]) => [k, r.start, r.end, v]).sort(),
      [["u", 100, 115, 1], ["u", 90, 105, 2], ["u", 93, 108, 1]],
    );
  } finally {
    await app.stop();
  }
});

Deno.test("WindowedTable.update() after delete() of the same window starts from the default", async () => {
  const app = new App("window-delete", {
    broker: "memory://",
    store: "memory://",
    tableCleanupInterval: 3600,
  });
  const ops = app.topic("ops", {
    keyType: "string",
    valueType: "string",
    partitions: 1,
  });
  const sums = app.table("sums", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
    partitions: 1,
  }).tumbling(60, { keyIndex: true });
  const after: number[] = [];
  app.agent(ops, async (stream) => {
    for await (const event of stream.events()) {
      const key = event.key as string;
      if (event.value === "del") sums.delete(key);
      else sums.update(key, (n) => n + 1);
      after.push(sums.get(key).current());
    }
  }, { name: "sums" });
  await app.start();
  try {
    const at = 1_000_000;
    for (const op of ["add", "add", "del", "add", "add", "del", "del", "add"]) {
      await ops.send({ key: "k", value: op, timestamp: at });
    }
    await until(() => after.length === 8, "eight events");
    assert.deepEqual(after, [1, 2, 0, 1, 2, 0, 0, 1]);
    await sums.table.flush();
    assert.deepEqual([...sums.windows()].map(([k, , v]) => [k, v]), [["k", 1]]);
  } finally {
    await app.stop();
  }
});

Deno.test("WindowedTable.update() of a window the cleanup expired starts from the default", async () => {
  const app = new App("window-reopen", {
    broker: "memory://",
    store: "memory://",
    tableCleanupInterval: 0.1,
  });
  const clicks = app.topic("clicks", {
    keyType: "string",
    valueType: "string",
    partitions: 1,
  });
  const closed: Array<[string, number]> = [];
  const views = app.table("views", {
    default: () => 0,
    keyType: "string",
    valueType: "number",
    partitions: 1,
    onWindowClose: (key: string, value: number) => {
      closed.push([key, value]);
    },
  }).tumbling(1, { expires: 1, keyIndex: true });
  const after: number[] = [];
  app.agent(clicks, async (stream) => {
    for await (const event of stream.events()) {
      views.update(event.key as string, (n) => n + 1);
      after.push(views.get(event.key as string).current());
    }
  }, { name: "count" });
  await app.start();
  try {
    const now = Date.now();
    await clicks.send({ key: "a", value: "x", timestamp: now });
    await clicks.send({ key: "a", value: "x", timestamp: now });
    await until(() => after.length === 2, "two events");
    await until(() => closed.length === 1, "the window to close", 8000);
    assert.deepEqual(closed, [["a", 2]]);
    // A late event of the expired window opens it afresh.
    await clicks.send({ key: "a", value: "x", timestamp: now });
    await until(() => after.length === 3, "the late event");
    assert.deepEqual(after, [1, 2, 1]);
  } finally {
    await app.stop();
  }
});
