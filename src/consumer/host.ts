/**
 * What the consumer needs from the app: settings, counters, the transport,
 * and the app's part of a rebalance, a commit and a crash.
 *
 * @module
 */
import type { RuntimePort } from "../runtime/port.ts";
import type {
  CommitOffset,
  GroupMember,
  TransportRecord,
} from "../transport/transport.ts";
import type { TP } from "../util/types.ts";

/**
 * What the conductor needs from the app: the runtime port's settings,
 * logger, counters, transport and crash, and the app's part of a
 * rebalance and a commit.
 */
export interface ConductorHost
  extends
    Pick<RuntimePort, "conf" | "log" | "monitor" | "transport" | "crash"> {
  /** Send an undecodable record to the dead-letter topic. */
  deadLetter(record: TransportRecord, error: Error): Promise<void>;
  /**
   * Partitions were assigned, before their committed offsets are read
   * (exactly-once fences the partitions' previous owners here, so an offset
   * commit of a worker that lost them cannot land after the read).
   */
  fence?(assigned: readonly TP[]): Promise<void>;
  /** Partitions were assigned (tables recover here, before delivery resumes). */
  assigned(assigned: readonly TP[], standbys: readonly TP[]): Promise<void>;
  /** Partitions are being revoked (after their offsets were committed). */
  revoked(revoked: readonly TP[]): Promise<void>;
  /** Make everything the acked events produced durable before their offsets commit. */
  beforeCommit(): Promise<void>;
  /**
   * Topics the group must assign to this member without delivering them
   * (table changelogs on a group-managed broker: the assignor co-partitions
   * them with the sources and hands out standbys; tables read them).
   */
  assignmentOnlyTopics(): readonly string[];
  /** What this member publishes to the group (its web URL, standby count). */
  memberMetadata(): Readonly<Record<string, string>>;
  /**
   * `undefined`, or a promise to wait on before delivering more events:
   * too many sends are still waiting for the broker.
   */
  producerEbb?(): Promise<void> | undefined;
  /** This member computed the group's assignment (publish it for routing). */
  groupAssigned?(members: readonly GroupMember[]): void;
  /**
   * Exactly-once: make the offsets (and everything the events before them
   * produced) durable inside the Kafka transactions, instead of committing
   * through the consumer. Absent for at-least-once.
   */
  readonly commitTransaction?: (
    offsets: readonly CommitOffset[],
  ) => Promise<void>;
  /**
   * Exactly-once: the highest offset of `tp` a transaction of this worker
   * committed, or undefined. An assignment goes on from the higher of this
   * and the group's committed offset.
   */
  transactionCommitted?(tp: TP): number | undefined;
  /** Exactly-once: what the transactions are doing, for a stall warning. */
  describeTransactions?(): string;
}
