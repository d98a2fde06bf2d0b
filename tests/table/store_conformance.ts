/**
 * Cases every Store driver must pass. Each driver's test file calls
 * {@linkcode storeConformance} with a factory for a fresh, unopened store.
 */
import assert from "node:assert/strict";
import type { Store } from "../../src/table/store.ts";

/** A fresh store plus what removes its files afterwards. */
export interface StoreFixture {
  /** The store, not opened yet. */
  store: Store;
  /** Remove temp files (called after the store is closed). */
  cleanup(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** UTF-8 bytes of `s`. */
export function b(s: string): Uint8Array {
  return enc.encode(s);
}

/** Text of `bytes`, or undefined. */
export function t(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : dec.decode(bytes);
}

function entriesText(store: Store, p: number): [string, string][] {
  return [...store.entries(p)].map(([k, v]) => [dec.decode(k), dec.decode(v)]);
}

/**
 * Register the conformance tests for one driver.
 *
 * @param name Class name used in test names, e.g. `"LmdbStore"`.
 * @param make Creates a fresh fixture.
 */
export function storeConformance(
  name: string,
  make: () => Promise<StoreFixture>,
): void {
  function test(what: string, fn: (store: Store) => Promise<void>): void {
    Deno.test(`${name}.${what}`, async () => {
      const fx = await make();
      try {
        await fx.store.open();
        await fn(fx.store);
      } finally {
        await fx.store.close();
        await fx.cleanup();
      }
    });
  }

  test("apply() puts, overwrites and deletes; get() reads back", async (s) => {
    assert.equal(s.get(0, b("a")), undefined);
    await s.apply(0, [{ key: b("a"), value: b("1") }, {
      key: b("b"),
      value: b("2"),
    }], 0);
    assert.equal(t(s.get(0, b("a"))), "1");
    assert.equal(t(s.get(0, b("b"))), "2");
    await s.apply(0, [{ key: b("a"), value: b("3") }, {
      key: b("b"),
      value: null,
    }], 1);
    assert.equal(t(s.get(0, b("a"))), "3");
    assert.equal(s.get(0, b("b")), undefined);
    // Deleting a missing key is fine; ops apply in order within a batch.
    await s.apply(0, [
      { key: b("zz"), value: null },
      { key: b("c"), value: b("x") },
      { key: b("c"), value: b("y") },
    ], 2);
    assert.equal(t(s.get(0, b("c"))), "y");
    assert.equal(s.count(0), 2);
  });

  test("apply() stores copies: caller buffers may be reused", async (s) => {
    const key = b("k");
    const value = b("v1");
    await s.apply(0, [{ key, value }], 0);
    value[1] = "9".charCodeAt(0);
    key[0] = "j".charCodeAt(0);
    assert.equal(t(s.get(0, b("k"))), "v1");
    assert.equal(s.get(0, b("j")), undefined);
    // Values read earlier stay valid after later writes and reads.
    const before = s.get(0, b("k"))!;
    await s.apply(0, [{ key: b("k"), value: b("v2") }, {
      key: b("k2"),
      value: b("zz"),
    }], 1);
    s.get(0, b("k2"));
    assert.equal(t(before), "v1");
    const listed = [...s.entries(0)];
    await s.apply(0, [{ key: b("k"), value: null }], 2);
    assert.deepEqual(listed.map(([k, v]) => [t(k), t(v)]), [["k", "v2"], [
      "k2",
      "zz",
    ]]);
  });

  test("get() returns plain Uint8Array values and binary-safe keys", async (s) => {
    const key = new Uint8Array([0, 255, 0, 1]);
    const value = new Uint8Array([0, 0, 7, 255]);
    await s.apply(3, [{ key, value }], 5);
    const got = s.get(3, new Uint8Array([0, 255, 0, 1]));
    assert.ok(got instanceof Uint8Array);
    assert.deepEqual([...got], [0, 0, 7, 255]);
    assert.equal(s.get(3, new Uint8Array([0, 255, 0])), undefined);
  });

  test("persistedOffset() is per partition", async (s) => {
    assert.equal(s.persistedOffset(0), undefined);
    await s.apply(0, [{ key: b("a"), value: b("1") }], 10);
    await s.apply(1, [], 3);
    assert.equal(s.persistedOffset(0), 10);
    assert.equal(s.persistedOffset(1), 3);
    assert.equal(s.persistedOffset(2), undefined);
    assert.equal(s.get(1, b("a")), undefined);
    await s.apply(0, [], 10); // equal offset: allowed (an empty or replayed batch)
    assert.equal(s.persistedOffset(0), 10);
  });

  test("apply() refuses an offset that goes backwards and writes nothing", async (s) => {
    await s.apply(0, [{ key: b("a"), value: b("1") }], 7);
    await assert.rejects(
      s.apply(0, [{ key: b("a"), value: b("2") }, {
        key: b("n"),
        value: b("n"),
      }], 6),
      (e: Error) =>
        e.name === "StateError" &&
        /offset 6 is below the stored offset 7/.test(e.message),
    );
    assert.equal(t(s.get(0, b("a"))), "1");
    assert.equal(s.get(0, b("n")), undefined);
    assert.equal(s.persistedOffset(0), 7);
    await assert.rejects(s.apply(0, [], -1), RangeError);
    await assert.rejects(s.apply(0, [], 1.5), RangeError);
  });

  test("applyMany() applies several partitions' batches and offsets", async (s) => {
    assert.ok(s.applyMany !== undefined, "the built-in stores implement it");
    await s.applyMany([
      { partition: 0, ops: [{ key: b("a"), value: b("1") }], offset: 4 },
      {
        partition: 2,
        ops: [{ key: b("b"), value: b("2") }, { key: b("c"), value: b("3") }],
        offset: 9,
      },
    ]);
    await s.applyMany([
      { partition: 2, ops: [{ key: b("c"), value: null }], offset: 10 },
    ]);
    assert.equal(t(s.get(0, b("a"))), "1");
    assert.deepEqual(entriesText(s, 2), [["b", "2"]]);
    assert.equal(s.persistedOffset(0), 4);
    assert.equal(s.persistedOffset(2), 10);
  });

  test("applyMany() is atomic across partitions: one bad batch writes nothing", async (s) => {
    await s.apply(1, [{ key: b("x"), value: b("old") }], 5);
    for (
      const bad of [
        // An offset going backwards in the second batch...
        { partition: 1, ops: [{ key: b("x"), value: b("new") }], offset: 4 },
        // ...or a key no store can hold.
        {
          partition: 1,
          ops: [{ key: new Uint8Array(0), value: b("v") }],
          offset: 6,
        },
      ]
    ) {
      await assert.rejects(s.applyMany!([
        { partition: 0, ops: [{ key: b("a"), value: b("1") }], offset: 3 },
        bad,
      ]));
      assert.equal(s.get(0, b("a")), undefined);
      assert.equal(s.persistedOffset(0), undefined);
      assert.equal(t(s.get(1, b("x"))), "old");
      assert.equal(s.persistedOffset(1), 5);
    }
  });

  test("apply() is atomic: a bad key leaves data and offset untouched", async (s) => {
    await s.apply(0, [{ key: b("a"), value: b("1") }], 1);
    await assert.rejects(
      s.apply(0, [
        { key: b("a"), value: b("2") },
        { key: new Uint8Array(0), value: b("x") },
      ], 2),
      (e: Error) =>
        e instanceof RangeError && /1 to 1978 bytes/.test(e.message),
    );
    await assert.rejects(
      s.apply(0, [{ key: b("a"), value: b("2") }, {
        key: new Uint8Array(5000),
        value: b("x"),
      }], 2),
      RangeError,
    );
    assert.equal(t(s.get(0, b("a"))), "1");
    assert.equal(s.persistedOffset(0), 1);
    assert.equal(s.get(0, new Uint8Array(0)), undefined);
    assert.equal(s.get(0, new Uint8Array(5000)), undefined);
  });

  test("entries() are in key byte order", async (s) => {
    const keys = ["b", "a", "ab", "\u00ff", "B", "aa"];
    await s.apply(
      2,
      keys.map((k, i) => ({ key: b(k), value: b(String(i)) })),
      0,
    );
    await s.apply(2, [{ key: new Uint8Array([0]), value: b("zero") }], 1);
    await s.apply(2, [{ key: new Uint8Array([0x80]), value: b("hi") }], 2);
    const got = [...s.entries(2)].map(([k]) => [...k]);
    const want = [...got].sort((x, y) => {
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] !== y[i]) return x[i]! - y[i]!;
      }
      return x.length - y.length;
    });
    assert.deepEqual(got, want);
    assert.equal(got.length, 8);
    assert.deepEqual(got[7], [0xc3, 0xbf]);
    assert.deepEqual(got[0], [0]);
    assert.deepEqual(entriesText(s, 2).slice(1, 5), [["B", "4"], ["a", "1"], [
      "aa",
      "5",
    ], ["ab", "2"]]);
    assert.deepEqual([...s.entries(9)], []);
  });

  test("count() and partitions() reflect data and offsets", async (s) => {
    assert.deepEqual(s.partitions(), []);
    assert.equal(s.count(0), 0);
    await s.apply(4, [{ key: b("x"), value: b("1") }, {
      key: b("y"),
      value: b("2"),
    }], 0);
    await s.apply(1, [], 0);
    await s.apply(0, [{ key: b("x"), value: b("1") }], 0);
    assert.equal(s.count(4), 2);
    assert.equal(s.count(1), 0);
    assert.deepEqual(s.partitions(), [0, 1, 4]);
  });

  test("dropPartition() forgets data and offset of that partition only", async (s) => {
    await s.apply(0, [{ key: b("x"), value: b("0") }], 5);
    await s.apply(1, [{ key: b("x"), value: b("1") }], 6);
    await s.dropPartition(0);
    assert.equal(s.get(0, b("x")), undefined);
    assert.equal(s.persistedOffset(0), undefined);
    assert.equal(s.count(0), 0);
    assert.deepEqual(s.partitions(), [1]);
    assert.equal(t(s.get(1, b("x"))), "1");
    // A dropped partition starts over: lower offsets are accepted again.
    await s.apply(0, [{ key: b("y"), value: b("0") }], 0);
    assert.equal(s.persistedOffset(0), 0);
    await s.dropPartition(7); // unknown partition: no-op
  });

  test("reset() deletes everything and leaves the store closed", async (s) => {
    await s.apply(0, [{ key: b("x"), value: b("0") }], 5);
    await s.apply(2, [{ key: b("y"), value: b("2") }], 1);
    await s.reset();
    assert.throws(
      () => s.get(0, b("x")),
      (e: Error) => e.name === "ClosedError",
    );
    await s.open();
    assert.deepEqual(s.partitions(), []);
    assert.equal(s.get(0, b("x")), undefined);
    assert.equal(s.persistedOffset(0), undefined);
  });

  test("close() is idempotent and closed stores fail fast", async (s) => {
    await s.close();
    await s.close();
    assert.throws(
      () => s.persistedOffset(0),
      (e: Error) => e.name === "ClosedError" && /closed/.test(e.message),
    );
    await assert.rejects(
      s.apply(0, [], 0),
      (e: Error) => e.name === "ClosedError",
    );
    await assert.rejects(
      s.dropPartition(0),
      (e: Error) => e.name === "ClosedError",
    );
  });
}
