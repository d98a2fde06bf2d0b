/**
 * The base of every table kind (Faust's `Collection`): the store, the
 * changelog write path, which partitions this worker holds (active and
 * standby), their recovery, and access to encoded keys and values. The
 * Map-like API is in {@linkcode Table}.
 *
 * @module
 */
import type { TableLike } from "../app/registrations.ts";
import { ConfigError, KeyError, StateError } from "../errors.ts";
import { makeSerde, type Serde } from "../models.ts";
import type { Sensor } from "../sensors/monitor.ts";
import type { TopicSpec } from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import type { TableHost, TableOptions, TableWindowing } from "./api.ts";
import { ChangelogWriter } from "./changelog.ts";
import { keyId } from "./changelog_change.ts";
import { GenerationFence } from "./changelog_generation.ts";
import type { RecoveryStats } from "./recovery.ts";
import {
  allPartitions,
  changelogEvent,
  Holdings,
  partitionsToHold,
} from "./holdings.ts";
import {
  checkStoreKey,
  checkTableOptions,
  writePartitionOf,
} from "./table_checks.ts";
import type { Store } from "./store.ts";
import { createStore } from "./store_factory.ts";

/**
 * What every table kind shares: store, changelog, partitions, recovery.
 *
 * @typeParam K Key type.
 * @typeParam V Value type.
 *
 * @example What every kind of table has
 * ```ts
 * import type { Collection } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * function describe<K, V>(table: Collection<K, V>): string {
 *   return `${table.name}: ${table.partitionCount} partitions, changelog ${table.changelogTopic}`;
 * }
 * const app = testApp("collection");
 * const counts = app.table<string, number>("counts", { default: () => 0 });
 * assert.equal(
 *   describe(counts),
 *   "counts: 8 partitions, changelog collection-counts-changelog",
 * );
 * assert.match(describe(app.setTable("tags")), /^tags: 8 partitions/);
 * ```
 */
export class Collection<K = unknown, V = unknown> implements TableLike {
  /** Table name. */
  readonly name: string;
  /** Help text. */
  readonly help: string | undefined;
  /** Options given at creation. */
  readonly options: TableOptions<K, V>;
  /** @internal Key codec. */
  readonly keySerde: Serde<K>;
  /** @internal Value codec. */
  readonly valueSerde: Serde<V>;
  /** Totals of changelog replays since the table was created (active and standby). */
  readonly recoveryStats: RecoveryStats = {
    records: 0,
    seconds: 0,
    partitions: 0,
    skipped: 0,
  };
  readonly #host: TableHost;
  readonly #sensors: ReadonlySet<Sensor> | undefined;
  #store: Store | undefined;
  #writer: ChangelogWriter | undefined;
  /** Partitions held (active, standby) and their recovery. */
  readonly #h: Holdings;
  /** Highest writer generation per changelog partition (writer and replays share it). */
  readonly #fence = new GenerationFence();
  #windowing: TableWindowing | undefined;

  /**
   * Create a table. Use `app.table()`, which also registers it.
   *
   * @param host The app.
   * @param name Table name (letters, digits, `.`, `_`, `-`).
   * @param options Options.
   * @throws {ConfigError} For an invalid name or option.
   */
  constructor(host: TableHost, name: string, options: TableOptions<K, V> = {}) {
    checkTableOptions(name, options);
    this.#host = host;
    this.#sensors = host.monitor?.sensors;
    this.name = name;
    this.help = options.help;
    this.options = options;
    const keyFallback = host.conf.keySerializer === "raw"
      ? "json"
      : host.conf.keySerializer;
    this.keySerde = makeSerde<K>(
      options.keyType,
      options.keySerializer,
      keyFallback,
    );
    this.valueSerde = makeSerde<V>(
      options.valueType,
      options.valueSerializer,
      host.conf.valueSerializer,
    );
    const onEvent = options.onChangelogEvent;
    const keys = () => this.windowed ? undefined : this.keySerde;
    this.#h = new Holdings({
      table: name,
      topic: this.changelogTopic,
      host,
      recoveryBufferSize: options.recoveryBufferSize,
      standbyBufferSize: options.standbyBufferSize,
      stats: this.recoveryStats,
      onRecord: onEvent &&
        ((r) => onEvent(changelogEvent(r, keys(), this.valueSerde))),
      fence: this.#fence,
      onStale: (p, stale) => this.#writer?.reappend(p, stale),
    });
  }

  /** The changelog topic name. */
  get changelogTopic(): string {
    return this.options.changelogTopic ??
      `${this.#host.conf.appId}-${this.name}-changelog`;
  }

  /** Number of changelog partitions. */
  get partitionCount(): number {
    return this.options.partitions ?? this.#host.conf.topicPartitions;
  }

  /** Changelog partitions this worker holds and serves (active). */
  get activePartitions(): number[] {
    return [...this.#h.active].sort((a, b) => a - b);
  }

  /** Changelog partitions this worker follows as standby. */
  get standbyPartitions(): number[] {
    return [...this.#h.standby].sort((a, b) => a - b);
  }

  // ------------------------------------------------------------ TableLike

  /** The changelog topic spec: compacted, internal (windowed: also deleted after `expires`). */
  changelogSpec(): TopicSpec {
    const expires = this.#windowing?.expires;
    return {
      name: this.changelogTopic,
      partitions: this.partitionCount,
      compacting: true,
      internal: true,
      ...(expires !== undefined
        ? { deleting: true, retentionMs: Math.round(expires * 1000) }
        : {}),
    };
  }

  /**
   * Open the store. With `memory://` and `local://` brokers (one consumer
   * per group) every partition belongs to this worker: they are recovered
   * here.
   */
  async open(): Promise<void> {
    if (this.#store !== undefined) return;
    const conf = this.#host.conf;
    const store = await createStore(this.options.store ?? conf.store, {
      table: this.name,
      tabledir: conf.tabledir,
    });
    await store.open();
    this.#store = store;
    this.#writer = new ChangelogWriter(
      this.name,
      this.changelogTopic,
      store,
      this.#host,
      {
        held: this.#host.conf.processingGuarantee === "exactly_once",
        cache: this.options.changelogCache ??
          this.#host.conf.tableChangelogCache,
        fence: this.#fence,
      },
    );
    // Changes dropped unapplied (exactly-once abort): cached reads of them go too.
    this.#writer.onDiscard = () => this.dropCaches();
    this.#h.open(store);
    if (!this.groupManaged()) {
      await this.#hold(allPartitions(this.partitionCount), new Set());
    }
  }

  /**
   * Partitions were assigned: replay the changelog partitions that became
   * active or standby, then follow the standbys. Resolves when recovered.
   *
   * @param active Assigned source partitions (partition P makes changelog partition P active).
   * @param standbys Partitions to follow as standby.
   */
  async assigned(
    active: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    const { active: a, standby: s } = this.partitionsFor(active, standbys);
    await this.#hold(a, s);
  }

  /** Partitions `revoked`: flush, stop serving them (their data stays in the store). */
  async revoked(revoked: readonly TP[]): Promise<void> {
    if (!this.groupManaged()) return;
    await this.flush();
    // Exactly-once: what no commit released belongs to an aborted transaction.
    this.#writer?.discardUnreleased(revoked.map((tp) => tp.partition));
    this.#writer?.forgetPartitions(revoked.map((tp) => tp.partition));
    for (const tp of revoked) this.#h.active.delete(tp.partition);
    this.dropCaches();
  }

  /** Append what the record cache holds (a commit, before it flushes the producer). */
  stage(): void {
    this.#writer?.stage();
  }

  /** Resolve once every change made so far is in the changelog and the store. */
  flush(): Promise<void> {
    return this.#writer?.flush() ?? Promise.resolve();
  }

  /** @internal Resolve once every change made so far is in the changelog. */
  durable(): Promise<void> {
    return this.#writer?.durable() ?? Promise.resolve();
  }

  /** Exactly-once: the transaction carrying the changes so far committed; let them reach the store. */
  release(): void {
    this.#writer?.release();
  }

  /** Stop following standbys, flush, close the store. */
  async close(): Promise<void> {
    await this.#h.stop();
    try {
      await this.#writer?.close();
    } finally {
      await this.#store?.close();
      this.#store = undefined;
      this.#writer = undefined;
      this.#h.clear();
      this.dropCaches();
    }
  }

  /** Periodic work: remove expired windows (windowed tables). */
  async tick(): Promise<void> {
    if (this.#store !== undefined) await this.#windowing?.cleanup();
  }

  /** Number of keys held (active and standby partitions), pending writes included. */
  get size(): number {
    return this.rawCount();
  }

  // ------------------------------------------------------------ @internal raw layer

  /** @internal `default()` for a missing key, or KeyError. */
  missing(key: unknown): V {
    if (this.options.default !== undefined) return this.options.default();
    throw new KeyError(key, this.name);
  }

  /** @internal The partition of the current event, checking that a write is allowed. */
  writePartition(what: string): number {
    return writePartitionOf(
      this.name,
      what,
      this.partitionCount,
      this.changelogTopic,
      this.#writer !== undefined,
    );
  }

  /**
   * @internal Throw {@linkcode TableKeyError} when an encoded key (plus
   * `overhead` bytes the store key adds, e.g. a window) cannot be stored.
   * Checked before the changelog is written: a record the store rejects
   * must never reach the changelog.
   */
  checkKey(key: Uint8Array, overhead = 0, what = "key"): void {
    checkStoreKey(this.name, key.length + overhead, what);
  }

  /**
   * @internal Forget every value read or written through a cache of a
   * subclass (Table's decoded values): called whenever the data may change
   * behind the write path (recovery, assignment, revocation, discarded
   * changes, close).
   */
  dropCaches(): void {}

  /**
   * @internal Write encoded key/value (`null` deletes) to `partition`.
   * `id` is `keyId(key)` when the caller has it.
   */
  rawWrite(
    partition: number,
    key: Uint8Array,
    value: Uint8Array | null,
    id?: string,
  ): void {
    this.#openWriter(key).write(partition, key, value, id);
    this.noteOp(value === null ? "del" : "set");
  }

  /**
   * @internal {@linkcode rawWrite} of a value `encode` turns into bytes
   * when they are needed (see {@linkcode ChangelogWriter.writeDeferred}).
   */
  rawWriteDeferred(
    partition: number,
    key: Uint8Array,
    value: unknown,
    encode: (value: unknown) => Uint8Array,
    id?: string,
  ): void {
    this.#openWriter(key).writeDeferred(partition, key, value, encode, id);
    this.noteOp("set");
  }

  #openWriter(key: Uint8Array): ChangelogWriter {
    this.checkKey(key);
    if (this.#writer === undefined) {
      throw new StateError(
        `Cannot write to table "${this.name}": the table is not open (start the app first)`,
      );
    }
    return this.#writer;
  }

  #tableOp(op: "get" | "set" | "del"): void {
    for (const s of this.#sensors!) s.onTableOp?.(this.name, op);
  }

  /** @internal Tell sensors about a read answered without {@linkcode rawGet}. */
  noteOp(op: "get" | "set" | "del"): void {
    if (this.#sensors !== undefined && this.#sensors.size > 0) {
      this.#tableOp(op);
    }
  }

  /** @internal Encoded value of an encoded key: pending writes first, then the store. */
  rawGet(key: Uint8Array, id?: string): Uint8Array | undefined {
    return this.rawFind(key, id, -1);
  }

  /**
   * @internal {@linkcode rawGet}, telling where the value was found:
   * `found.partition` is set to `p` when the value is the current event's
   * partition `p` own (a pending write to `p`, or `p`'s store, `p` active),
   * else to -1. Only such a value stays the answer until the next write of
   * the key or the next {@linkcode dropCaches}.
   */
  rawFind(
    key: Uint8Array,
    id: string | undefined,
    p: number,
    found?: { partition: number },
  ): Uint8Array | undefined {
    if (found !== undefined) found.partition = -1;
    if (this.#sensors !== undefined && this.#sensors.size > 0) {
      this.#tableOp("get");
    }
    const overlay = this.#writer?.overlay;
    if (overlay === undefined || this.#store === undefined) return undefined;
    return this.#h.find(overlay, id ?? keyId(key), key, p, found);
  }

  /** @internal Encoded entries with their partition: store entries overlaid with pending writes. */
  *rawEntries(): Generator<[Uint8Array, Uint8Array, number]> {
    const overlay = this.#writer?.overlay;
    if (this.#store !== undefined && overlay !== undefined) {
      yield* this.#h.entries(overlay);
    }
  }

  /** @internal Number of stored keys, pending writes included. */
  rawCount(): number {
    const overlay = this.#writer?.overlay;
    if (this.#store === undefined || overlay === undefined) return 0;
    return this.#h.count(overlay);
  }

  /** @internal Install windowing (by `tumbling()` and friends). */
  setWindowing(windowing: TableWindowing): void {
    if (this.#windowing !== undefined) {
      throw new ConfigError(
        `Table "${this.name}" is already windowed: call tumbling()/hopping()/sliding() once`,
      );
    }
    this.#windowing = windowing;
  }

  /** @internal Whether a windowed view was installed. */
  get windowed(): boolean {
    return this.#windowing !== undefined;
  }

  /**
   * @internal Which changelog partitions to hold: P when changelog partition
   * P is assigned as active (with source partition P); GlobalTable overrides.
   */
  partitionsFor(
    active: readonly TP[],
    standbys: readonly TP[],
  ): { active: Set<number>; standby: Set<number> } {
    return partitionsToHold(
      this.groupManaged() ? this.changelogTopic : undefined,
      this.partitionCount,
      active,
      standbys,
    );
  }

  /** @internal Whether partitions come from a group protocol (Kafka) rather than all being ours. */
  groupManaged(): boolean {
    return this.#host.transport.driver === "kafka";
  }

  async #hold(active: Set<number>, standby: Set<number>): Promise<void> {
    if (this.#store === undefined) return;
    this.dropCaches();
    try {
      await this.#h.hold(active, standby, () => this.flush());
    } finally {
      // Recovery wrote to the store behind the write path.
      this.dropCaches();
    }
  }
}
