/**
 * Factories behind `app.table()`, `app.globalTable()` and `app.setTable()`,
 * and the types that infer a table's key and value types from its options.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { TableLike } from "../app_types.ts";
import type { Codec } from "../codecs.ts";
import type { Infer, TypeSpec } from "../models.ts";
import type { Sensor } from "../monitor.ts";
import type { Settings } from "../settings.ts";
import type { Transport } from "../transport/transport.ts";
import type { ChangelogHost } from "./changelog.ts";
import { GlobalTable } from "./global_table.ts";
import { SetTable, type SetTableOptions } from "./set_table.ts";
import { Table } from "./table.ts";

/** A changelog record as `onChangelogEvent` sees it (decoded). */
export interface ChangelogEvent<K, V> {
  /** Decoded key. */
  readonly key: K;
  /** Decoded value, or `null` for a delete. */
  readonly value: V | null;
  /** Changelog partition. */
  readonly partition: number;
  /** Changelog offset. */
  readonly offset: number;
  /** Timestamp in milliseconds. */
  readonly timestamp: number;
}

/** Options of `app.table()`. */
export interface TableOptions<K = unknown, V = unknown> {
  /** Value of missing keys (not stored); without it a missing key throws `KeyError`. */
  readonly default?: () => V;
  /** Key type: a Record, zod schema or `"string" | "number" | "bytes" | "json"`. */
  readonly keyType?: TypeSpec;
  /** Value type. */
  readonly valueType?: TypeSpec;
  /** Key codec (default: the app's `keySerializer`, with `"raw"` read as `"json"`). */
  readonly keySerializer?: string | Codec;
  /** Value codec (default: the app's `valueSerializer`). */
  readonly valueSerializer?: string | Codec;
  /** Store URL (default: the app's `store`). */
  readonly store?: string;
  /** Changelog partitions (default: `topicPartitions`); must match the source topics. */
  readonly partitions?: number;
  /** Changelog topic name (default `{appId}-{name}-changelog`). */
  readonly changelogTopic?: string;
  /** One line of help (the `tables` command). */
  readonly help?: string;
  /** Changelog records per read and store transaction during recovery. @default 1000 */
  readonly recoveryBufferSize?: number;
  /** Changelog records per read while following standbys. @default 1000 */
  readonly standbyBufferSize?: number;
  /**
   * Keep only the last change per key between two commits and append it to
   * the changelog at the commit (the changelog record cache); `false`
   * appends one changelog record per change. @default the app's `tableChangelogCache`
   */
  readonly changelogCache?: boolean;
  /** Called for every changelog record replayed (recovery and standbys). */
  readonly onChangelogEvent?: (event: ChangelogEvent<K, V>) => unknown;
  /** Windowed tables: called with key and value when a window expires. */
  readonly onWindowClose?: (key: K, value: V) => unknown;
  /** Windowed tables: allow `keys()`, `items()`, `entries()`. @default false */
  readonly keyIndex?: boolean;
}

/** What a table needs from its app. */
export interface TableHost extends ChangelogHost {
  /** Sensors to tell about table reads and writes (`onTableOp`), if any. */
  readonly monitor?: { readonly sensors: ReadonlySet<Sensor> };
  /** Settings. */
  readonly conf: Settings;
  /** The transport (after start). */
  readonly transport: Transport;
  /** Logger. */
  readonly log: Logger;
}

/** Window settings a windowed view installs on its table. */
export interface TableWindowing {
  /** Seconds a window is kept after it closes (changelog retention), if any. */
  readonly expires: number | undefined;
  /** Remove expired windows (called every `tableCleanupInterval`). */
  cleanup(): Promise<void>;
}

/** The app as the table factories see it. */
export interface TableApp extends TableHost {
  /** Register a table (its changelog is created and recovered with the app). */
  registerTable(table: TableLike): void;
}

/** Key type of a table with `keyType: KT` (`unknown` when untyped). */
export type TableKey<KT> = KT extends TypeSpec ? Infer<KT> : unknown;

/** Value type of a table with `valueType: VT` and `default: () => D`. */
export type TableValue<VT, D> = VT extends TypeSpec ? Infer<VT>
  : [D] extends [never] ? unknown
  : D;

/** Options of `app.table()` with the type parameters inference reads. */
export type TypedTableOptions<KT, VT, D> =
  & Omit<
    TableOptions<TableKey<KT>, TableValue<VT, D>>,
    "keyType" | "valueType" | "default"
  >
  & {
    readonly keyType?: KT;
    readonly valueType?: VT;
    readonly default?: () => D;
  };

/**
 * Create and register a table.
 *
 * @param app The app.
 * @param name Table name.
 * @param options Table options.
 * @returns The table.
 */
export function createTable<K, V>(
  app: TableApp,
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
  app: TableApp,
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
  app: TableApp,
  name: string,
  options: SetTableOptions<K, M> = {},
): SetTable<K, M> {
  const table = new SetTable<K, M>(app, name, options);
  app.registerTable(table);
  return table;
}
