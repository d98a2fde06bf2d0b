/**
 * Pick a table store driver from the `store` URL. Drivers load lazily: a
 * `memory://` app never loads lmdb (a Node-API addon that needs FFI).
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import type { Store, StoreOptions } from "./store.ts";

/**
 * Create (not open) the store for one table.
 *
 * @param url `memory://` or `lmdb://[path]` (a directory; the table's
 *   environment is `{path}/{table}.lmdb`, `{tabledir}/{table}.lmdb` when empty).
 * @param options Table name and default table directory.
 * @returns The store; call `open()` before use.
 * @throws {ConfigError} For any other scheme.
 */
export async function createStore(
  url: string,
  options: StoreOptions,
): Promise<Store> {
  if (url.startsWith("memory://")) {
    const { MemoryStore } = await import("./memory_store.ts");
    return new MemoryStore(options);
  }
  if (url.startsWith("lmdb://")) {
    const { LmdbStore } = await import("./lmdb_store.ts");
    return new LmdbStore(url, options);
  }
  throw new ConfigError(
    `Invalid setting "store": "${url}"; supported schemes: lmdb://, memory://`,
  );
}
