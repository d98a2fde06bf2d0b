/**
 * The shapes of tables: options, what a table needs from its app, and the
 * types that infer a table's key and value types from its options. Types
 * only (the factories are in `create.ts`), so every table module can name
 * them without an import cycle.
 *
 * @module
 */
import type { Codec } from "../codecs.ts";
import type { Infer, TypeSpec } from "../models.ts";
import type { RuntimePort } from "../runtime/port.ts";

/**
 * A changelog record as `onChangelogEvent` sees it (decoded).
 *
 * @example Watching a table's replay
 * ```ts
 * import type { ChangelogEvent } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const replayed: ChangelogEvent<string, number>[] = [];
 * const app = testApp("changelog-event");
 * app.table<string, number>("counts", {
 *   default: () => 0,
 *   onChangelogEvent: (event) => replayed.push(event),
 * });
 * ```
 */
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

/**
 * Options of `app.table()`.
 *
 * @example A table with a default and its own partitions
 * ```ts
 * import type { TableOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const options: TableOptions<string, number> = {
 *   default: () => 0,
 *   partitions: 4, // as many as the topics that write it
 *   help: "Page views by path",
 * };
 * const app = testApp("table-options");
 * const views = app.table("views", options);
 * assert.equal(views.partitionCount, 4);
 * ```
 */
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

/** What a table reads of the runtime. */
export type TableHost = Pick<
  RuntimePort,
  | "conf"
  | "log"
  | "monitor"
  | "transport"
  | "produce"
  | "sends"
  | "bindSend"
  | "crash"
>;

/**
 * Window settings a windowed view installs on its table.
 *
 * @example What a windowed view installs on its table
 * ```ts
 * import type { TableWindowing } from "@faust/faust";
 *
 * const windowing: TableWindowing = {
 *   expires: 3600, // keep a window an hour after it closes
 *   cleanup: async () => {},
 * };
 * console.log(windowing.expires);
 * ```
 */
export interface TableWindowing {
  /** Seconds a window is kept after it closes (changelog retention), if any. */
  readonly expires: number | undefined;
  /** Remove expired windows (called every `tableCleanupInterval`). */
  cleanup(): Promise<void>;
}

/**
 * Key type of a table with `keyType: KT` (`unknown` when untyped).
 *
 * @example The key type a key spec gives
 * ```ts
 * import type { TableKey } from "@faust/faust";
 *
 * const key: TableKey<"string"> = "user-1"; // string
 * const anything: TableKey<undefined> = { any: "thing" }; // unknown
 * console.log(key, anything);
 * ```
 */
export type TableKey<KT> = KT extends TypeSpec ? Infer<KT> : unknown;

/**
 * Value type of a table with `valueType: VT` and `default: () => D`.
 *
 * @example The value type from a spec or a default
 * ```ts
 * import type { TableValue } from "@faust/faust";
 *
 * const fromSpec: TableValue<"number", never> = 1; // number
 * const fromDefault: TableValue<undefined, string[]> = []; // string[]
 * console.log(fromSpec, fromDefault);
 * ```
 */
export type TableValue<VT, D> = VT extends TypeSpec ? Infer<VT>
  : [D] extends [never] ? unknown
  : D;

/**
 * Options of `app.table()` with the type parameters inference reads.
 *
 * @example Options whose types infer the table's
 * ```ts
 * import type { TypedTableOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: TypedTableOptions<"string", undefined, number> = {
 *   keyType: "string",
 *   default: () => 0,
 * };
 * const app = testApp("typed-options");
 * const counts = app.table("counts", options); // Table<string, number>
 * console.log(counts.name);
 * ```
 */
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
