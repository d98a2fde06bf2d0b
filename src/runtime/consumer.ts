/**
 * The consumer side of an app's runtime: the conductor (the group
 * consumer, partitions to streams, commits), what an assignment and a
 * revocation do to the tables, and exactly-once transactions with the
 * commit that goes through them.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { TableLike } from "../app/registrations.ts";
import { Conductor } from "../consumer/conductor.ts";
import type { InFlight } from "../producer/inflight.ts";
import type { Monitor } from "../sensors/monitor.ts";
import type { Producer } from "../producer/producer.ts";
import type { Settings } from "../settings/settings.ts";
import type { Topic } from "../topic.ts";
import { TransactionManager } from "../producer/transactions.ts";
import type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  Transport,
} from "../transport/transport.ts";
import { nextTurn } from "../util/turn.ts";
import type { TP } from "../util/types.ts";
import { deadLetterRecord } from "./dead_letter.ts";
import type { SubscribedTopic } from "./port.ts";
import type { Group } from "./group.ts";

/** What the consumer side reads of the runtime. */
export interface ConsumptionView {
  /** Settings. */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** Counters. */
  readonly monitor: Monitor;
  /** Topic sends in progress. */
  readonly sends: InFlight;
  /** Topic descriptions by name. */
  readonly topics: ReadonlyMap<string, Topic<unknown, unknown>[]>;
  /** Tables by name. */
  readonly tables: ReadonlyMap<string, TableLike>;
  /** Leader election and group routing. */
  readonly group: Group;
  /** The transport while started, else `undefined`. */
  readonly openTransport: Transport | undefined;
  /** The producer while started, else `undefined`. */
  readonly openProducer: Producer | undefined;
  /** Append a record through the producer. */
  produce(record: ProduceRecord): Promise<RecordMetadata>;
  /** Stop the app because of `error`. */
  crash(error: Error): void;
  /** Create a topic on the broker. */
  declare(spec: TopicSpec): Promise<void>;
  /** Partition count of a topic; creates it from its description when missing. */
  partitionsOf(topic: string): Promise<number>;
}

/** What the app does after the tables saw an assignment or a revocation. */
export interface ConsumptionHooks {
  /** Partitions were assigned and tables recovered. */
  assigned(assigned: readonly TP[]): Promise<void>;
  /** Partitions were revoked. */
  revoked(revoked: readonly TP[]): Promise<void>;
}

/** The conductor and the transactions of one app. */
export class Consumption {
  readonly #view: ConsumptionView;
  readonly #hooks: ConsumptionHooks;
  #conductor: Conductor | undefined;
  #transactions: TransactionManager | undefined;

  /** The consumer side of the runtime `view` describes. */
  constructor(view: ConsumptionView, hooks: ConsumptionHooks) {
    this.#view = view;
    this.#hooks = hooks;
  }

  /** Whether the consumer runs. */
  get consuming(): boolean {
    return this.#conductor !== undefined;
  }

  /** Whether offsets commit through Kafka transactions (exactly-once). */
  get transactional(): boolean {
    return this.#transactions !== undefined;
  }

  /** Partitions assigned to this app (empty before start). */
  assignment(): TP[] {
    return this.#conductor?.assignment() ?? [];
  }

  /** Group generation of the assignment in use, if known. */
  generation(): number | undefined {
    return this.#conductor?.generation();
  }

  /** Forget the consumer and the transactions (after the last stop step). */
  reset(): void {
    this.#conductor = undefined;
    this.#transactions = undefined;
  }

  /** Create the consumer, give it the subscribed topics and join the group. */
  async start(): Promise<void> {
    const conf = this.#view.conf;
    // Agents that send without awaiting: at most this many records wait
    // for the broker before delivery pauses (until half have been acked).
    const general = Math.max(1000, 4 * conf.streamBufferMaxsize);
    const driver = this.#view.openTransport!.sendWindow;
    const sendLimit = driver === undefined
      ? general
      : Math.min(general, driver);
    this.#conductor = new Conductor({
      conf,
      log: this.#view.log,
      monitor: this.#view.monitor,
      transport: this.#view.openTransport!,
      deadLetter: async (r, e) => {
        await this.#view.produce(deadLetterRecord(conf.appId, r, e));
      },
      fence: (a) =>
        this.#transactions?.assign(this.#consumedPartitions(a)) ??
          Promise.resolve(),
      assigned: (a, s) => this.#assigned(a, s),
      revoked: (r) => this.#revoked(r),
      crash: (e) => this.#view.crash(e),
      beforeCommit: () => this.#flushForCommit(),
      assignmentOnlyTopics: () => this.#assignmentOnlyTopics(),
      ...this.#exactlyOnce(),
      groupAssigned: (members) => this.#view.group.publishRouting(members),
      producerEbb: () => this.#view.sends.ebb(sendLimit),
      memberMetadata: () => ({
        web: conf.canonicalUrl,
        tableStandbyReplicas: String(conf.tableStandbyReplicas),
      }),
    });
    // Agents may have declared topics while starting (groupBy's repartition topics).
    for (const list of this.#view.topics.values()) {
      for (const t of list) {
        if (t.queues.length === 0) continue;
        if (t.options.internal === true) await this.#view.declare(t.spec());
        // A source topic that does not exist yet is created now (with
        // `topicAllowDeclare`; without it, the error names the topic), as
        // a send to it would: the broker's consumer cannot subscribe to a
        // missing topic (kafka://: "This server does not host this
        // topic-partition").
        else await this.#view.partitionsOf(t.name);
        this.#conductor.add(t);
      }
    }
    if (this.#transactions !== undefined) {
      this.#view.openProducer!.setRouter(() => this.#transactions?.route());
    }
    await this.#conductor.start();
  }

  /** The consumer stops delivering (the events in hand go on). */
  pause(): void {
    this.#conductor?.pause();
  }

  /** Commit what is acked now (flushing the producer and tables first). */
  async commit(): Promise<void> {
    await this.#conductor?.commit();
  }

  /** Commit what is durable and leave the group. */
  async stop(): Promise<void> {
    await this.#conductor?.stop();
  }

  /** Close the exactly-once transactions. */
  async closeTransactions(): Promise<void> {
    await this.#transactions?.close();
  }

  async #assigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    const delay = this.#view.conf.streamRecoveryDelay;
    if (delay > 0) {
      // Let more workers join or leave before tables recover and streams resume.
      this.#view.log.info(
        "Waiting {seconds} s (streamRecoveryDelay) before recovery",
        { seconds: delay },
      );
      await new Promise((resolve) => setTimeout(resolve, delay * 1000));
    }
    // Exactly-once: the partitions' previous owners were fenced already
    // (ConductorHost.fence), before their committed offsets were read.
    for (const t of this.#view.tables.values()) {
      await t.assigned(assigned, standbys);
    }
    await this.#hooks.assigned(assigned);
  }

  async #revoked(revoked: readonly TP[]): Promise<void> {
    for (const t of this.#view.tables.values()) await t.revoked(revoked);
    await this.#transactions?.revoke(this.#consumedPartitions(revoked));
    await this.#hooks.revoked(revoked);
  }

  /** Partition numbers of consumed (not assignment-only) topics among `tps`. */
  #consumedPartitions(tps: readonly TP[]): number[] {
    return tps.filter((tp) => this.#conductor?.consumes(tp.topic) ?? false)
      .map((tp) => tp.partition);
  }

  /**
   * With `processingGuarantee: "exactly_once"`: the transactions and the
   * commit that goes through them (producer flushed into the open
   * transactions, offsets and sends committed together, then the tables
   * let the committed changes reach their stores).
   */
  #exactlyOnce(): {
    commitTransaction?: (offsets: readonly CommitOffset[]) => Promise<void>;
    describeTransactions?: () => string;
    transactionCommitted?: (tp: TP) => number | undefined;
  } {
    const conf = this.#view.conf;
    if (conf.processingGuarantee !== "exactly_once") return {};
    const tables = this.#view.tables;
    const txm = new TransactionManager(
      this.#view.openTransport!,
      conf.appId,
      this.#view.log,
      (topic) => this.#conductor?.consumes(topic) ?? false,
      (event) => this.#conductor?.isCurrent(event) ?? true,
      // A send or commit still running after four produce timeouts (120 s
      // by default) is stuck; Kafka aborts a transaction open for longer
      // than a minute anyway.
      Math.max(4 * conf.producerRequestTimeout * 1000, 1000),
    );
    this.#transactions = txm;
    return {
      describeTransactions: () => txm.describe(),
      transactionCommitted: (tp) => txm.committedOffset(tp),
      commitTransaction: async (offsets) => {
        // Table changes the record cache held back go into these transactions.
        for (const t of tables.values()) t.stage?.();
        // Sends bound to these transactions but still on their way to the
        // producer (not awaited by their agent) belong in this commit.
        await txm.handedOver();
        await this.#view.openProducer?.flush();
        await txm.commit(conf.appId, offsets);
        for (const t of tables.values()) t.release?.();
        for (const t of tables.values()) await t.flush();
      },
    };
  }

  /**
   * Table changelogs join the group subscription on a group-managed broker
   * (Kafka): the assignor gives changelog partition N with source partition
   * N and spreads standbys. Brokers without a group protocol give every
   * partition to the one consumer, so the tables hold them all anyway.
   */
  #assignmentOnlyTopics(): string[] {
    if (!this.#view.group.managed) return [];
    return [
      this.#view.group.leaderSpec().name,
      ...[...this.#view.tables.values()].map((t) => t.changelogSpec().name),
    ];
  }

  async #flushForCommit(): Promise<void> {
    // The record caches are staged once the commit gets a turn of the event
    // loop, not when it was asked for: changes made meanwhile (delivery
    // that did not let the loop run) join the same changelog batch instead
    // of following in a second one. The offsets were taken before: the
    // changelog holds at least the changes of the events they cover.
    await nextTurn();
    for (const t of this.#view.tables.values()) t.stage?.();
    await this.#view.openProducer?.flush();
    // The changelog must hold the changes of the events committed; the
    // stores follow in their own group commits (a restart replays the
    // changelog from the offset a store holds).
    for (const t of this.#view.tables.values()) {
      await (t.durable?.() ?? t.flush());
    }
  }

  /** A stream subscribed to `topic`. */
  subscribed(topic: SubscribedTopic): void {
    if (this.#conductor === undefined) return;
    void (async () => {
      if (topic.options.internal === true) {
        await this.#view.declare(topic.spec());
      }
      this.#conductor?.add(topic);
    })().catch((error) =>
      // The stream would wait forever for a topic never consumed.
      this.#view.crash(
        new Error(
          `Subscribing to topic "${topic.name}" failed: ${
            (error as Error)?.message ?? error
          }`,
          { cause: error },
        ),
      )
    );
  }
}
