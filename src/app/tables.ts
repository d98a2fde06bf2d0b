/**
 * The tables of an app and the methods that declare them (`app.table()`,
 * `app.globalTable()`, `app.setTable()`); the tables themselves are made
 * in `table/create.ts`.
 *
 * @module
 */
import type { TableLike } from "./registrations.ts";
import { ConfigError } from "../errors.ts";
import type { TypeSpec } from "../models.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { TableKey, TableValue, TypedTableOptions } from "../table/api.ts";
import {
  createGlobalTable,
  createSetTable,
  createTable,
} from "../table/create.ts";
import type { Table, TableOptions } from "../table/table.ts";
import type { GlobalTable } from "../table/global_table.ts";
import type { SetTable, SetTableOptions } from "../table/set_table.ts";

/** The runtime each registry hands to what it declares (set once by `App`). */
const runtimes = new WeakMap<TableRegistry, Runtime>();

/** Give `registry` the runtime its topics, agents, tables and jobs call into. */
export function attachRuntime(registry: TableRegistry, runtime: Runtime): void {
  runtimes.set(registry, runtime);
}

/** The runtime given to `registry` by {@linkcode attachRuntime}. */
export function runtimeOf(registry: TableRegistry): Runtime {
  const runtime = runtimes.get(registry);
  if (runtime === undefined) {
    throw new Error("An app registry is made by new App(), never alone");
  }
  return runtime;
}

/**
 * The tables of an {@linkcode App} and the methods that declare them. Every
 * app is one; create apps with `new App()`.
 *
 * @example The tables of an app
 * ```ts
 * import { App, type TableRegistry } from "@faust/faust";
 *
 * const app = new App("tables", { broker: "memory://", store: "memory://" });
 * app.table("counts", { default: () => 0 });
 * const registry: TableRegistry = app;
 * console.log([...registry.tables.keys()]); // ["counts"]
 * ```
 */
export class TableRegistry {
  /** Tables by name. */
  readonly tables: Map<string, TableLike> = new Map();

  /**
   * Define a table: Map-like state with a changelog, recovered on assignment.
   * Key and value types are inferred from `keyType`/`valueType` (or the
   * return type of `default`), or given explicitly: `app.table<string, number>(...)`.
   *
   * @param name Table name (also names the changelog `{appId}-{name}-changelog`).
   * @param options Default, types, store, partitions, recovery options...
   * @returns The table.
   */
  table<
    KT extends TypeSpec | undefined = undefined,
    VT extends TypeSpec | undefined = undefined,
    D = never,
  >(
    name: string,
    options?: TypedTableOptions<KT, VT, D>,
  ): Table<TableKey<KT>, TableValue<VT, D>>;
  /** Define a table with explicit key and value types. */
  table<K, V>(name: string, options?: TableOptions<K, V>): Table<K, V>;
  table(
    name: string,
    options: TableOptions<unknown, unknown> = {},
  ): Table<unknown, unknown> {
    return createTable(runtimeOf(this), name, options);
  }

  /**
   * Define a global table: every worker holds every partition.
   *
   * @param name Table name.
   * @param options As for {@linkcode App.table}.
   * @returns The table.
   */
  globalTable<
    KT extends TypeSpec | undefined = undefined,
    VT extends TypeSpec | undefined = undefined,
    D = never,
  >(
    name: string,
    options?: TypedTableOptions<KT, VT, D>,
  ): GlobalTable<TableKey<KT>, TableValue<VT, D>>;
  /** Define a global table with explicit key and value types. */
  globalTable<K, V>(
    name: string,
    options?: TableOptions<K, V>,
  ): GlobalTable<K, V>;
  globalTable(
    name: string,
    options: TableOptions<unknown, unknown> = {},
  ): GlobalTable<unknown, unknown> {
    return createGlobalTable(runtimeOf(this), name, options);
  }

  /**
   * Define a table of sets (`add`, `discard`, `clear`, set algebra).
   *
   * @param name Table name.
   * @param options As for {@linkcode App.table}; `valueType` is the member type.
   * @returns The table.
   */
  setTable<
    KT extends TypeSpec | undefined = undefined,
    VT extends TypeSpec | undefined = undefined,
  >(
    name: string,
    options?:
      & Omit<
        SetTableOptions<TableKey<KT>, TableKey<VT>>,
        "keyType" | "valueType"
      >
      & {
        readonly keyType?: KT;
        readonly valueType?: VT;
      },
  ): SetTable<TableKey<KT>, TableKey<VT>>;
  /** Define a set table with explicit key and member types. */
  setTable<K, M>(name: string, options?: SetTableOptions<K, M>): SetTable<K, M>;
  setTable(
    name: string,
    options: SetTableOptions<unknown, unknown> = {},
  ): SetTable<unknown, unknown> {
    return createSetTable(runtimeOf(this), name, options);
  }

  /** @internal Register a table (used by `app.table()`). */
  registerTable(table: TableLike): void {
    if (this.tables.has(table.name)) {
      throw new ConfigError(
        `Duplicate table name "${table.name}": two tables would share a changelog topic`,
      );
    }
    this.tables.set(table.name, table);
  }
}
