/**
 * Which changelog partitions a table holds on this worker, active (served
 * and written) or standby (followed), and the changelog replays that bring
 * a partition's store up to date when it starts being held.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { actorContext } from "../delivery/actor_context.ts";
import type { Transport, TransportRecord } from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import type { Serde } from "../models.ts";
import type { ChangelogEvent } from "./api.ts";
import { keyId, type OverlayEntry } from "./changelog_change.ts";
import { MAX_STORE_KEY_BYTES } from "./memory_store.ts";
import {
  recoverPartitions,
  type RecoveryOptions,
  type RecoveryStats,
} from "./recovery.ts";
import { StandbyFollower } from "./standby.ts";
import type { Store } from "./store.ts";
import type { GenerationFence } from "./changelog_generation.ts";

/** What {@linkcode Holdings} replays from. */
export interface HoldingsOptions {
  /** Table name (for messages). */
  readonly table: string;
  /** Changelog topic. */
  readonly topic: string;
  /** Reads the changelog and logs (read when a replay starts: the app's transport opens at start). */
  readonly host: { readonly transport: Transport; readonly log: Logger };
  /** Records per read when recovering an active partition. @default 1000 */
  readonly recoveryBufferSize?: number | undefined;
  /** Records per read when following a standby. @default 1000 */
  readonly standbyBufferSize?: number | undefined;
  /** Totals of replays (the table's). */
  readonly stats: RecoveryStats;
  /** Called with every replayed record (the table's `onChangelogEvent`). */
  readonly onRecord?: ((r: TransportRecord) => unknown) | undefined;
  /** Leaves out records of writers that were no longer the owner (shared with the table's writer). */
  readonly fence?: GenerationFence | undefined;
  /**
   * A partition becoming active had records left out by the fence (in its
   * recovery, or earlier while followed as standby): the table appends its
   * values of their keys again, so the changelog's last record of each key
   * is the owner's.
   */
  readonly onStale?:
    | ((partition: number, keys: Map<string, Uint8Array>) => void)
    | undefined;
}

/** The partitions a table holds, and their recovery. */
export class Holdings {
  /** Changelog partitions served (active). */
  readonly active: Set<number> = new Set();
  /** Changelog partitions followed as standby. */
  readonly standby: Set<number> = new Set();
  readonly #o: HoldingsOptions;
  #store: Store | undefined;
  #follower: StandbyFollower | undefined;
  /** Per partition not active here, keys whose late records a replay left out. */
  readonly #stale = new Map<number, Map<string, Uint8Array>>();

  /**
   * Create empty holdings.
   *
   * @param options Where to replay from.
   */
  constructor(options: HoldingsOptions) {
    this.#o = options;
  }

  /**
   * The store is open: replays can start (and standbys be followed).
   *
   * @param store The table's store.
   */
  open(store: Store): void {
    this.#store = store;
    this.#follower = new StandbyFollower(
      this.#recoveryOptions(this.#o.standbyBufferSize),
      1000,
    );
  }

  /**
   * Whether partition `p` is held (active or standby).
   *
   * @param p Changelog partition.
   * @returns `true` when held.
   */
  holds(p: number): boolean {
    return this.active.has(p) || this.standby.has(p);
  }

  /** Held partitions (active and standby), ascending. */
  held(): number[] {
    return [...new Set([...this.active, ...this.standby])].sort((a, b) =>
      a - b
    );
  }

  /**
   * Hold exactly `active` and `standby`: replay the partitions that become
   * held, then follow the standbys. Resolves when recovered.
   *
   * @param active Partitions to serve.
   * @param standby Partitions to follow.
   * @param flush Flushes the table's writes (before partitions are dropped).
   */
  async hold(
    active: Set<number>,
    standby: Set<number>,
    flush: () => Promise<void>,
  ): Promise<void> {
    const dropped = [...this.held()].filter((p) =>
      !active.has(p) && !standby.has(p)
    );
    if (dropped.length > 0) await flush();
    const newActive = [...active].filter((p) => !this.active.has(p)).sort((
      a,
      b,
    ) => a - b);
    const newStandby = [...standby].filter((p) =>
      !this.standby.has(p) && !this.active.has(p)
    ).sort((a, b) => a - b);
    // Stop following partitions that become active before replaying them.
    this.#follower?.follow([...standby].filter((p) => this.standby.has(p)));
    for (const p of dropped) {
      this.active.delete(p);
      this.#stale.delete(p);
    }
    for (const p of [...this.standby]) {
      if (!standby.has(p)) this.standby.delete(p);
    }
    await recoverPartitions(
      this.#recoveryOptions(this.#o.recoveryBufferSize),
      newActive,
      this.#o.stats,
      "active",
    );
    for (const p of newActive) this.active.add(p);
    // Left out while recovering, or earlier while following as standby.
    for (const p of newActive) {
      const keys = this.#stale.get(p);
      if (keys === undefined) continue;
      this.#stale.delete(p);
      this.#o.onStale?.(p, keys);
    }
    for (const p of [...this.active]) {
      if (!active.has(p)) this.active.delete(p);
    }
    for (const p of active) this.standby.delete(p);
    await recoverPartitions(
      this.#recoveryOptions(this.#o.standbyBufferSize),
      newStandby,
      this.#o.stats,
      "standby",
    );
    for (const p of standby) this.standby.add(p);
    this.#follower?.follow([...this.standby].sort((a, b) => a - b));
  }

  /** Stop following standbys (before the store closes). */
  async stop(): Promise<void> {
    await this.#follower?.stop();
  }

  /** Forget everything held (the store closed). */
  clear(): void {
    this.#stale.clear();
    this.#store = undefined;
    this.#follower = undefined;
    this.active.clear();
    this.standby.clear();
  }

  /**
   * The value of `key`: its pending write, else partition `p`'s stored
   * value (when held), else the other held partitions'.
   *
   * @param overlay Pending writes by key id.
   * @param id Key id of `key`.
   * @param key Encoded key.
   * @param p The current event's partition, or -1 (then the actor's event's).
   * @param found Set to `p` when the value is `p`'s own and `p` is active, else -1.
   * @returns The encoded value, or `undefined`.
   */
  find(
    overlay: ReadonlyMap<string, OverlayEntry>,
    id: string,
    key: Uint8Array,
    p: number,
    found?: { partition: number },
  ): Uint8Array | undefined {
    const pending = overlay.get(id);
    if (pending !== undefined) {
      if (
        found !== undefined && pending.partition === p && this.active.has(p)
      ) found.partition = p;
      return pending.value ?? undefined;
    }
    if (p < 0) p = actorContext()?.event?.partition ?? -1;
    const store = this.#store!;
    if (p >= 0 && this.holds(p)) {
      const v = store.get(p, key);
      if (v !== undefined) {
        if (found !== undefined && this.active.has(p)) found.partition = p;
        return v;
      }
    }
    for (const set of [this.active, this.standby]) {
      for (const q of set) {
        if (q === p) continue;
        const v = store.get(q, key);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  }

  /**
   * Encoded entries of the held partitions with their partition, overlaid
   * with the pending writes.
   *
   * @param overlay Pending writes by key id.
   */
  *entries(
    overlay: ReadonlyMap<string, OverlayEntry>,
  ): Generator<[Uint8Array, Uint8Array, number]> {
    const store = this.#store!;
    for (const p of this.held()) {
      for (const [k, v] of store.entries(p)) {
        if (overlay.size === 0 || !overlay.has(keyId(k))) yield [k, v, p];
      }
    }
    for (const e of [...overlay.values()]) {
      if (e.value !== null) yield [e.key, e.value, e.partition];
    }
  }

  /**
   * Number of keys in the held partitions, pending writes included.
   *
   * @param overlay Pending writes by key id.
   * @returns The count.
   */
  count(overlay: ReadonlyMap<string, OverlayEntry>): number {
    const store = this.#store!;
    let n = 0;
    for (const p of this.held()) n += store.count(p);
    for (const e of overlay.values()) {
      const stored = this.holds(e.partition) &&
        store.get(e.partition, e.key) !== undefined;
      if (e.value !== null && !stored) n++;
      else if (e.value === null && stored) n--;
    }
    return n;
  }

  #recoveryOptions(bufferSize: number | undefined): RecoveryOptions {
    const o = this.#o;
    return {
      table: o.table,
      topic: o.topic,
      transport: o.host.transport,
      store: this.#store!,
      bufferSize: bufferSize ?? 1000,
      log: o.host.log,
      ...(o.fence !== undefined ? { fence: o.fence } : {}),
      onStale: (r) => {
        if (r.key === null) return;
        let keys = this.#stale.get(r.partition);
        if (keys === undefined) this.#stale.set(r.partition, keys = new Map());
        keys.set(keyId(r.key), r.key);
      },
      onSkip: (r) => {
        o.stats.skipped++;
        o.host.log.error(
          "Table {table}: skipped changelog record {topic}[{partition}]@{offset}: its key of {size} bytes cannot be stored (1 to {limit} bytes)",
          {
            table: o.table,
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            size: r.key?.length ?? 0,
            limit: MAX_STORE_KEY_BYTES,
          },
        );
      },
      ...(o.onRecord !== undefined ? { onRecord: o.onRecord } : {}),
    };
  }
}

/**
 * Every partition of a changelog.
 *
 * @param n Its partition count.
 * @returns `0 .. n - 1`.
 */
export function allPartitions(n: number): Set<number> {
  return new Set(Array.from({ length: n }, (_, i) => i));
}

/**
 * Which changelog partitions to hold for an assignment. Without a group
 * protocol every partition is ours: those not given as standby are active.
 * With one, changelog partition P is active when it is assigned (the group
 * gives it with source partition P).
 *
 * @param topic The changelog topic when a group assigns partitions, else `undefined`.
 * @param n Its partition count.
 * @param active Assigned partitions.
 * @param standbys Partitions to follow as standby.
 * @returns Active and standby changelog partitions.
 */
export function partitionsToHold(
  topic: string | undefined,
  n: number,
  active: readonly TP[],
  standbys: readonly TP[],
): { active: Set<number>; standby: Set<number> } {
  const standby = new Set(
    standbys.map((tp) => tp.partition).filter((p) => p < n),
  );
  if (topic === undefined) {
    const all = allPartitions(n);
    for (const p of standby) all.delete(p);
    return { active: all, standby };
  }
  // Only this table's changelog partitions: other topics (the leader
  // topic, other counts) say nothing about which of ours are active.
  const mine = active.filter((tp) => tp.topic === topic);
  const numbers = mine.length > 0 ||
      [...active, ...standbys].some((tp) => tp.topic === topic)
    ? mine
    : active.filter((tp) => !tp.topic.endsWith("-__assignor-__leader"));
  const a = new Set(numbers.map((tp) => tp.partition).filter((p) => p < n));
  for (const p of a) standby.delete(p);
  return { active: a, standby };
}

/**
 * A replayed changelog record as the table's `onChangelogEvent` sees it.
 *
 * @param r The record.
 * @param keys Decodes keys (`undefined`: keys stay bytes, as windowed keys).
 * @param values Decodes values.
 * @returns The decoded event.
 */
export function changelogEvent<K, V>(
  r: TransportRecord,
  keys: Serde<K> | undefined,
  values: Serde<V>,
): ChangelogEvent<K, V> {
  const key = keys === undefined || r.key === null ? r.key : keys.decode(r.key);
  return {
    key: key as K,
    value: r.value === null ? null : values.decode(r.value),
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
  };
}
