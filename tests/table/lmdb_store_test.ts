import assert from "node:assert/strict";
import { join } from "node:path";
import { lmdbPath, LmdbStore } from "../../src/table/lmdb_store.ts";
import { createStore } from "../../src/table/store_factory.ts";
import { b, storeConformance, t } from "./store_conformance.ts";

storeConformance("LmdbStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lmdb_store_test_" });
  return {
    store: new LmdbStore("lmdb://", { table: "t", tabledir: dir }),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lmdb_store_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("lmdbPath() parses lmdb:// URLs by hand", () => {
  const opts = { table: "counts", tabledir: "/data/v1/tables" };
  assert.equal(lmdbPath("lmdb://", opts), "/data/v1/tables/counts.lmdb");
  assert.equal(lmdbPath("lmdb:///abs/dir", opts), "/abs/dir/counts.lmdb");
  assert.equal(
    lmdbPath("lmdb://rel/dir", opts),
    join(Deno.cwd(), "rel/dir/counts.lmdb"),
  );
  assert.throws(
    () => lmdbPath("lmdbx://", opts),
    (e: Error) => e.name === "ConfigError",
  );
});

Deno.test("createStore() loads LmdbStore for lmdb://PATH", async () => {
  await withDir(async (dir) => {
    const s = await createStore(`lmdb://${dir}/x`, {
      table: "t",
      tabledir: "/nonexistent",
    });
    assert.equal(s.driver, "lmdb");
    await s.open();
    await s.apply(0, [{ key: b("k"), value: b("v") }], 0);
    await s.close();
    assert.ok(await exists(`${dir}/x/t.lmdb/data.mdb`));
  });
});

Deno.test("LmdbStore.close() then open() brings data and offsets back", async () => {
  await withDir(async (dir) => {
    const opts = { table: "t", tabledir: dir };
    const s1 = new LmdbStore("lmdb://", opts);
    await s1.open();
    for (let i = 0; i < 50; i++) {
      await s1.apply(i % 3, [{ key: b(`k${i}`), value: b(`v${i}`) }], i);
    }
    await s1.apply(1, [{ key: b("k1"), value: null }], 100);
    await s1.close();
    const s2 = new LmdbStore("lmdb://", opts);
    await s2.open();
    assert.deepEqual(s2.partitions(), [0, 1, 2]);
    assert.equal(s2.persistedOffset(0), 48);
    assert.equal(s2.persistedOffset(1), 100);
    assert.equal(s2.persistedOffset(2), 47);
    assert.equal(t(s2.get(0, b("k3"))), "v3");
    assert.equal(s2.get(1, b("k1")), undefined);
    assert.equal(t(s2.get(1, b("k4"))), "v4");
    assert.equal(s2.count(0) + s2.count(1) + s2.count(2), 49);
    await s2.close();
  });
});

Deno.test("LmdbStore.open() shares one environment per path; the last close() closes it", async () => {
  await withDir(async (dir) => {
    const opts = { table: "t", tabledir: dir };
    const a = new LmdbStore("lmdb://", opts);
    const c = new LmdbStore(`lmdb://${dir}`, opts); // same path, spelled differently
    await a.open();
    await c.open();
    await a.apply(0, [{ key: b("k"), value: b("from a") }], 1);
    assert.equal(t(c.get(0, b("k"))), "from a");
    await c.apply(5, [{ key: b("k5"), value: b("from c") }], 2); // new partition, seen by a
    assert.equal(t(a.get(5, b("k5"))), "from c");
    await assert.rejects(
      c.apply(0, [], 0),
      (e: Error) => e.name === "StateError",
    );
    await a.close();
    assert.equal(t(c.get(0, b("k"))), "from a"); // still open for c
    await c.reset(); // last user: files go
    assert.equal(await exists(`${dir}/t.lmdb`), false);
  });
});

Deno.test("LmdbStore.reset() keeps files another store still uses, and works unopened", async () => {
  await withDir(async (dir) => {
    const opts = { table: "t", tabledir: dir };
    const a = new LmdbStore("lmdb://", opts);
    const c = new LmdbStore("lmdb://", opts);
    await a.open();
    await c.open();
    await a.apply(0, [{ key: b("k"), value: b("v") }], 1);
    await a.reset();
    assert.equal(await exists(`${dir}/t.lmdb`), true);
    assert.equal(c.get(0, b("k")), undefined);
    assert.equal(c.persistedOffset(0), undefined);
    await c.apply(0, [{ key: b("k"), value: b("again") }], 0);
    await c.close();
    const d = new LmdbStore("lmdb://", opts);
    await d.reset(); // the `reset` command: nothing open in this process
    assert.equal(await exists(`${dir}/t.lmdb`), false);
  });
});

/** Batches each child applies at most, and seconds it runs at most. */
const CHILD_MAX_BATCHES = 200_000;
const CHILD_MAX_SECONDS = 20;
const PARTS = 4;

/** Child: apply batch i (key p{p}-k{i} = v{i}, "last" = i) to every partition at offset i, forever. */
async function childLoop(dir: string): Promise<void> {
  const s = new LmdbStore("lmdb://", { table: "crash", tabledir: dir });
  await s.open();
  const start = Math.min(
    ...[...Array(PARTS).keys()].map((p) => s.persistedOffset(p) ?? -1),
  ) + 1;
  const deadline = Date.now() + CHILD_MAX_SECONDS * 1000;
  for (
    let i = start;
    i < start + CHILD_MAX_BATCHES && Date.now() < deadline;
    i++
  ) {
    for (let p = 0; p < PARTS; p++) {
      if ((s.persistedOffset(p) ?? -1) >= i) continue;
      await s.apply(p, [
        { key: b(`p${p}-k${i}`), value: b(`v${i}`) },
        { key: b(`p${p}-last`), value: b(String(i)) },
      ], i);
    }
    if (i === start + 100) console.log("running");
  }
  await s.close();
}

function verify(s: LmdbStore): number[] {
  const offsets: number[] = [];
  for (let p = 0; p < PARTS; p++) {
    const off = s.persistedOffset(p);
    assert.notEqual(off, undefined, `partition ${p} has an offset`);
    offsets.push(off!);
    for (let i = 0; i <= off!; i++) {
      assert.equal(
        t(s.get(p, b(`p${p}-k${i}`))),
        `v${i}`,
        `partition ${p} key k${i} at offset ${off}`,
      );
    }
    assert.equal(
      s.get(p, b(`p${p}-k${off! + 1}`)),
      undefined,
      `partition ${p}: nothing past ${off}`,
    );
    assert.equal(t(s.get(p, b(`p${p}-last`))), String(off));
    assert.equal(s.count(p), off! + 2);
  }
  return offsets;
}

Deno.test("LmdbStore.apply() keeps data and offset together across kill -9", async () => {
  await withDir(async (dir) => {
    let previous = [-1, -1, -1, -1];
    for (let round = 0; round < 3; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(import.meta.url).pathname, "child", dir],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      const first = await reader.read(); // "running": at least 100 batches are in
      assert.match(first.value ?? "", /running/);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
      child.kill("SIGKILL");
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL");
      await reader.cancel();
      const s = new LmdbStore("lmdb://", { table: "crash", tabledir: dir });
      await s.open();
      try {
        const offsets = verify(s);
        offsets.forEach((o, p) =>
          assert.ok(o > previous[p]!, `round ${round}: partition ${p} advanced`)
        );
        previous = offsets;
      } finally {
        await s.close();
      }
    }
  });
});

if (import.meta.main && Deno.args[0] === "child") {
  await childLoop(Deno.args[1]!);
}
