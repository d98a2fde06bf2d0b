/**
 * Creating and registering tables: what `app.table()`, `app.globalTable()`
 * and `app.setTable()` call.
 *
 * @module
 */
import type { RuntimePort } from "../runtime/port.ts";
import type { TableOptions } from "./api.ts";
import { GlobalTable } from "./global_table.ts";
import { SetTable, type SetTableOptions } from "./set_table.ts";
import { Table } from "./table.ts";

/**
 * Create and register a table.
 *
 * @param app The app.
 * @param name Table name.
 * @param options Table options.
 * @returns The table.
 */
export function createTable<K, V>(
  app: RuntimePort,
  name: string,
  options: TableOptions<K, V> = {},
): Table<K, V> {
  const table = new Table<K, V>(app, name, options);
  app.registerTable(table);
  return table;
}

/**
 * Create and register a global table (every worker holds every partition).
 *
 * @param app The app.
 * @param name Table name.
 * @param options Table options.
 * @returns The table.
 */
export function createGlobalTable<K, V>(
  app: RuntimePort,
  name: string,
  options: TableOptions<K, V> = {},
): GlobalTable<K, V> {
  const table = new GlobalTable<K, V>(app, name, options);
  app.registerTable(table);
  return table;
}

/**
 * Create and register a set table.
 *
 * @param app The app.
 * @param name Table name.
 * @param options Table options; `valueType` is the member type.
 * @returns The table.
 */
export function createSetTable<K, M>(
  app: RuntimePort,
  name: string,
  options: SetTableOptions<K, M> = {},
): SetTable<K, M> {
  const table = new SetTable<K, M>(app, name, options);
  app.registerTable(table);
  return table;
}
