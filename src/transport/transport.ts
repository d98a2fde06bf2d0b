/**
 * The transport interface: what the stream layer needs from a message broker.
 * Drivers (`memory://`, `local://`, `kafka://`) implement it; nothing above
 * this layer knows which one is in use.
 *
 * Offsets follow Kafka's conventions: a record's offset is its position in
 * its partition, a partition's high-water mark is the offset the next record
 * will get, and a committed offset is the offset of the next record to read.
 *
 * @module
 */
import type { RawHeaders, TP } from "../types.ts";

/** A record read from a partition. */
export interface TransportRecord {
  /** Topic the record was read from. */
  readonly topic: string;
  /** Partition the record was read from. */
  readonly partition: number;
  /** Offset of the record in its partition. */
  readonly offset: number;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` (a tombstone). */
  readonly value: Uint8Array | null;
  /** Headers. */
  readonly headers: RawHeaders;
  /** Timestamp in milliseconds since the epoch. */
  readonly timestamp: number;
}

/** A record to append. The partition is always chosen by the caller. */
export interface ProduceRecord {
  /** Topic to append to. */
  readonly topic: string;
  /** Partition to append to. */
  readonly partition: number;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` (a tombstone). */
  readonly value: Uint8Array | null;
  /** Headers. */
  readonly headers?: RawHeaders;
  /** Timestamp in milliseconds; the driver uses the current time when absent. */
  readonly timestamp?: number;
}

/** Where an appended record landed. */
export interface RecordMetadata {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Offset given to the record. */
  readonly offset: number;
  /** Timestamp in milliseconds. */
  readonly timestamp: number;
}

/** How a topic should be created. */
export interface TopicSpec {
  /** Topic name. */
  readonly name: string;
  /** Number of partitions. */
  readonly partitions: number;
  /** Replication factor (Kafka only). */
  readonly replicas?: number;
  /** Retention in milliseconds; unset keeps records forever (or the broker default). */
  readonly retentionMs?: number;
  /** Keep only the latest value per key. */
  readonly compacting?: boolean;
  /** Delete old records by retention (with `compacting`: compact and delete). */
  readonly deleting?: boolean;
  /** Extra broker-specific topic configuration. */
  readonly config?: Readonly<Record<string, string>>;
  /** Whether the app owns the topic (internal topics are created with this spec). */
  readonly internal?: boolean;
}

/** An offset to commit: `offset` is the offset of the next record to read. */
export interface CommitOffset extends TP {
  /** Next offset to read. */
  readonly offset: number;
}

/** Called by a consumer when its partitions change. */
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

/** Options for {@linkcode Transport.createConsumer}. */
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

/** One member of a group assignment, as {@linkcode ConsumerOptions.onGroupAssignment} sees it. */
export interface GroupMember {
  /** What the member published in {@linkcode ConsumerOptions.memberMetadata}. */
  readonly meta: Readonly<Record<string, string>>;
  /** Partitions it owns. */
  readonly active: readonly TP[];
  /** Partitions it follows as standby. */
  readonly standby: readonly TP[];
}

/** A group-managed consumer. One per app. */
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
  /** Leave the group and release resources. Revokes nothing further. */
  close(): Promise<void>;
}

/** Transactions, for `processingGuarantee: "exactly_once"` (`kafka://`, `local://`). */
export interface TransactionalProducer {
  /** Start a transaction. */
  begin(): Promise<void>;
  /**
   * Append within the transaction. Drivers that place records only at the
   * commit (`local://`) resolve with offset -1 and set the offsets of these
   * same metadata objects when the transaction commits.
   */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]>;
  /** Commit consumer offsets within the transaction. */
  sendOffsets(groupId: string, offsets: readonly CommitOffset[]): Promise<void>;
  /** Commit the transaction. */
  commit(): Promise<void>;
  /** Abort the transaction. */
  abort(): Promise<void>;
  /** Disconnect; an open transaction is aborted first. Idempotent. */
  close(): Promise<void>;
}

/** A message broker driver. */
export interface Transport {
  /** Driver name, e.g. `"memory"`. */
  readonly driver: string;
  /** The URL it was created from. */
  readonly url: string;
  /** Connect or open files. */
  start(): Promise<void>;
  /** Flush, disconnect, close files, release locks. Idempotent. */
  stop(): Promise<void>;
  /**
   * Create a topic if missing. An existing topic with another partition
   * count is a `ConfigError` naming both counts.
   */
  createTopic(spec: TopicSpec): Promise<void>;
  /** Partition count of a topic, or `undefined` when it does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  /** Delete a topic (used for reply topics). Missing topics are ignored. */
  deleteTopic(topic: string): Promise<void>;
  /**
   * Append records; resolves once the broker acknowledged them. A topic that
   * does not exist is created with `defaultPartitions` (as Kafka's
   * auto-create does).
   */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]>;
  /** Offset the next record of the partition will get. */
  highWatermark(tp: TP): Promise<number>;
  /** Oldest offset still present in the partition. */
  lowWatermark(tp: TP): Promise<number>;
  /**
   * Read up to `maxRecords` records of one partition from `offset`, outside
   * any group (changelog recovery and standbys). Skips gaps. Resolves with
   * an empty list at the end of the partition.
   */
  read(tp: TP, offset: number, maxRecords: number): Promise<TransportRecord[]>;
  /** Create the group consumer. */
  createConsumer(options: ConsumerOptions): Consumer;
  /** A transactional producer, when the driver supports transactions. */
  createTransactionalProducer?(
    transactionalId: string,
  ): Promise<TransactionalProducer>;
}

/** Options every driver factory receives. */
export interface TransportOptions {
  /** Partitions for auto-created topics. */
  readonly defaultPartitions: number;
  /** Data directory of the app (for `local://` without a path). */
  readonly datadir: string;
  /** Client id. */
  readonly clientId: string;
  /** Extra driver settings (Kafka: acks, linger, credentials...). */
  readonly extra?: Readonly<Record<string, unknown>>;
}
