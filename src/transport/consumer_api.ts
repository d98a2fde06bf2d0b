/**
 * The consumer half of the transport interface (`transport.ts`): a group
 * consumer, its options and the listener it calls on rebalances.
 *
 * @module
 */
import type { TP } from "../util/types.ts";
import type { CommitOffset, TransportRecord } from "./records.ts";

/**
 * Called by a consumer when its partitions change.
 *
 * @example Logging assignments
 * ```ts
 * import type { RebalanceListener, TP } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const held: TP[] = [];
 * const listener: RebalanceListener = {
 *   async onPartitionsAssigned(assigned) {
 *     held.push(...assigned);
 *   },
 *   async onPartitionsRevoked() {},
 * };
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 2 });
 * await transport.start();
 * const consumer = transport.createConsumer({ groupId: "g", listener });
 * try {
 *   await consumer.subscribe(["orders"]);
 *   assert.equal(held.length, 2);
 * } finally {
 *   await consumer.close();
 *   await transport.stop();
 * }
 * ```
 */
export interface RebalanceListener {
  /** Partitions are being taken away; commit and stop their streams before resolving. */
  onPartitionsRevoked(revoked: readonly TP[]): Promise<void>;
  /**
   * Partitions were given. `standbys` are partitions of subscribed topics
   * that another member owns but this member should follow (table standbys);
   * drivers without a group protocol pass an empty list.
   */
  onPartitionsAssigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void>;
}

/**
 * Options for {@linkcode Transport.createConsumer}.
 *
 * @example Reading from the start of a new group
 * ```ts
 * import type { ConsumerOptions } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 *
 * const options: ConsumerOptions = {
 *   groupId: "reports",
 *   autoOffsetReset: "earliest",
 *   listener: {
 *     onPartitionsAssigned: async () => {},
 *     onPartitionsRevoked: async () => {},
 *   },
 * };
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
 * await transport.start();
 * const consumer = transport.createConsumer(options);
 * await consumer.close();
 * await transport.stop();
 * ```
 */
export interface ConsumerOptions {
  /** Consumer group id (the app id). */
  readonly groupId: string;
  /** Receives assignment changes. */
  readonly listener: RebalanceListener;
  /** Where to start when the group has no committed offset. */
  readonly autoOffsetReset?: "earliest" | "latest";
  /** Extra data a group member publishes to the others (e.g. its web URL). */
  readonly memberMetadata?: Readonly<Record<string, string>>;
  /**
   * Called on the member that computed a group assignment (Kafka: the
   * group leader) with every member's metadata and partitions, so the app
   * can publish who owns what (table routing).
   */
  readonly onGroupAssignment?: (members: readonly GroupMember[]) => void;
  /**
   * The group is used once, by this consumer only (an `ask` client's reply
   * group): what the broker keeps for it may be removed when it closes.
   */
  readonly ephemeral?: boolean;
}

/**
 * One member of a group assignment, as {@linkcode ConsumerOptions.onGroupAssignment} sees it.
 *
 * @example Publishing who owns what
 * ```ts
 * import type { ConsumerOptions, GroupMember } from "@faust/faust";
 *
 * const owners = new Map<string, string>();
 * const onGroupAssignment = (members: readonly GroupMember[]) => {
 *   for (const m of members) {
 *     for (const tp of m.active) {
 *       owners.set(`${tp.topic}[${tp.partition}]`, m.meta.web ?? "?");
 *     }
 *   }
 * };
 * const options: Partial<ConsumerOptions> = {
 *   memberMetadata: { web: "http://127.0.0.1:6066" },
 *   onGroupAssignment,
 * };
 * console.log(options.memberMetadata);
 * ```
 */
export interface GroupMember {
  /** What the member published in {@linkcode ConsumerOptions.memberMetadata}. */
  readonly meta: Readonly<Record<string, string>>;
  /** Partitions it owns. */
  readonly active: readonly TP[];
  /** Partitions it follows as standby. */
  readonly standby: readonly TP[];
}

/**
 * A group-managed consumer. One per app.
 *
 * @example Polling a topic
 * ```ts
 * import type { Consumer } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const transport = new MemoryTransport("memory://", { defaultPartitions: 1 });
 * await transport.start();
 * const value = new TextEncoder().encode("hi");
 * await transport.send([{ topic: "t", partition: 0, key: null, value }]);
 * const consumer: Consumer = transport.createConsumer({
 *   groupId: "g",
 *   autoOffsetReset: "earliest",
 *   listener: {
 *     onPartitionsAssigned: async () => {},
 *     onPartitionsRevoked: async () => {},
 *   },
 * });
 * try {
 *   await consumer.subscribe(["t"]);
 *   const records = await consumer.poll(10, 1000);
 *   assert.equal(records.length, 1);
 * } finally {
 *   await consumer.close();
 *   await transport.stop();
 * }
 * ```
 */
export interface Consumer {
  /**
   * Set the full list of topics to consume. Calling it again with another
   * list rebalances: partitions of removed topics are revoked, new ones
   * assigned. The listener is called before this resolves.
   */
  subscribe(topics: readonly string[]): Promise<void>;
  /**
   * Wait for records from assigned, not paused partitions. Resolves with at
   * most `maxRecords` records (in offset order within each partition), or an
   * empty list after `timeoutMs` or when `signal` aborts. Never throws on
   * abort.
   */
  poll(
    maxRecords: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportRecord[]>;
  /** Commit offsets for the group. Only partitions currently assigned may be committed. */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** The group's committed offsets (next offset to read) for these partitions; absent when none. */
  committed(tps: readonly TP[]): Promise<Map<string, number>>;
  /** Move the read position of an assigned partition. */
  seek(tp: TP, offset: number): void;
  /** Stop returning records from these partitions until resumed. */
  pause(tps: readonly TP[]): void;
  /** Resume paused partitions. */
  resume(tps: readonly TP[]): void;
  /** Currently assigned partitions. */
  assignment(): TP[];
  /**
   * The group generation this member's assignment belongs to (it grows
   * with every rebalance of the group), or `undefined` without a group
   * protocol or before the first assignment. Optional.
   */
  generation?(): number | undefined;
  /** Leave the group and release resources. Revokes nothing further. */
  close(): Promise<void>;
}
