import assert from "node:assert/strict";
import { MemoryStore } from "../../src/table/memory_store.ts";
import { createStore } from "../../src/table/store_factory.ts";
import { b, storeConformance, t } from "./store_conformance.ts";

storeConformance("MemoryStore", () =>
  Promise.resolve({
    store: new MemoryStore({ table: "t", tabledir: "/nonexistent" }),
    cleanup: () => Promise.resolve(),
  }));

Deno.test("MemoryStore.close() keeps data for a later open()", async () => {
  const s = new MemoryStore({ table: "t", tabledir: "/nonexistent" });
  await s.open();
  await s.apply(0, [{ key: b("k"), value: b("v") }], 1);
  await s.close();
  await s.open();
  assert.equal(t(s.get(0, b("k"))), "v");
  assert.equal(s.persistedOffset(0), 1);
  await s.close();
});

Deno.test("createStore() picks MemoryStore for memory:// and rejects unknown schemes", async () => {
  const opts = { table: "t", tabledir: "/nonexistent" };
  const s = await createStore("memory://", opts);
  assert.equal(s.driver, "memory");
  await assert.rejects(
    createStore("rocksdb://", opts),
    (e: Error) =>
      e.name === "ConfigError" &&
      e.message ===
        'Invalid setting "store": "rocksdb://"; supported schemes: lmdb://, memory://',
  );
});
