/**
 * The state the consumer's parts share: subscriptions, one ack tracker per
 * assigned partition, the partitions held back by back-pressure, and the
 * flags a commit or a failure sets to hold delivery.
 *
 * @module
 */
import type { PartitionTracker } from "../delivery/acks.ts";
import type { Event } from "../delivery/event.ts";
import type { Consumer, TransportRecord } from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import type { SubscribedTopic } from "../runtime/port.ts";
import type { ConductorHost } from "./host.ts";

/** A topic description of any key and value type. */
export type AnyTopic = SubscribedTopic;

/** Records of one partition waiting for buffer space (from `at` on). */
export interface Blocked {
  /** The records, in offset order. */
  readonly records: TransportRecord[];
  /** The first one not delivered yet. */
  at: number;
}

/** Shared by the dispatcher, back-pressure, commits and rebalance. */
export class ConsumerState {
  /** The app. */
  readonly host: ConductorHost;
  /** Topic name to the descriptions with subscribed streams. */
  readonly topics = new Map<string, Set<AnyTopic>>();
  /** Per assigned partition (`tpKey`), its ack bookkeeping. */
  readonly trackers = new Map<string, PartitionTracker>();
  /** Per partition, records waiting for buffer space. */
  readonly blocked = new Map<string, Blocked>();
  /** Partitions this consumer paused because a stream buffer was full. */
  readonly paused = new Set<string>();
  /** Exactly-once: the tracker each delivered event was counted in. */
  readonly owners = new WeakMap<Event<unknown, unknown>, PartitionTracker>();
  /** The group consumer, while started. */
  consumer: Consumer | undefined;
  /** An exactly-once commit runs: deliver nothing until it settles. */
  barrier: Promise<void> | undefined;
  /** A record failed to decode under `decodeErrorPolicy: "fail"`: deliver nothing more. */
  failed = false;
  /**
   * Bumped when the trackers are replaced outside a rebalance: what a poll
   * begun before returns is stale (the consumer reads it again).
   */
  generation = 0;
  /**
   * Stop the poll in progress (if any) and resolve once the dispatcher has
   * it back: a restart seeks only after that, so no record read after its
   * seek is taken for a stale one.
   */
  stopPoll: (() => Promise<void>) | undefined;
  /** A revocation runs: a failed commit is left to it. */
  revoking = false;
  /**
   * Partitions (`tpKey`) whose revocation runs: nothing more of them is
   * delivered (the records held back for them are dropped with the buffer).
   */
  readonly leaving = new Set<string>();
  /** Events of partitions being revoked that were dropped unprocessed. */
  dropped = new Map<string, Set<number>>();
  /**
   * Exactly-once: per assigned partition that had no committed offset, the
   * offset of the first record polled from it since its assignment (where
   * a transaction restart takes it back to; the group has no offset there).
   */
  readonly origins = new Map<string, number>();
  /** The last assignment (active, standbys), to take it again after a failed transaction. */
  assignment: { active: readonly TP[]; standbys: readonly TP[] } | undefined;
  /** Exactly-once commit in progress: its step and since when (stall warnings). */
  commitStep: { what: string; since: number } | undefined;

  /** State for a consumer of `host`. */
  constructor(host: ConductorHost) {
    this.host = host;
  }
}
