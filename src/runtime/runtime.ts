/**
 * The runtime of a started app: the transport, the batching producer, the
 * consumer (the conductor), replies and exactly-once transactions, and the
 * port every layer below calls back into (`produce`, `partitionsOf`,
 * `declare`, `subscribed`, `reply`, `ask`). Topics, channels, agents,
 * tables and jobs are given the runtime, not the app; the app decides when
 * each step below runs (`app.start()`, `app.stop()`).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Agent, AskMessage } from "../agent.ts";
import type { TableLike } from "../app/registrations.ts";
import { Conductor } from "../conductor.ts";
import { StateError } from "../errors.ts";
import type { Event } from "../event.ts";
import type { AppHost } from "../host.ts";
import type { InFlight } from "../inflight.ts";
import type { Monitor } from "../monitor.ts";
import { Producer, type SendBinding, type SendCounter } from "../producer.ts";
import { Replies } from "../replies.ts";
import type { GroupRouting } from "../routing.ts";
import type { Settings } from "../settings/settings.ts";
import type { TableApp } from "../table/api.ts";
import type { JobHost } from "../timer.ts";
import type { Topic, TopicOptions } from "../topic.ts";
import { TransactionManager } from "../transactions.ts";
import { createTransport } from "../transport/factory.ts";
import type {
  CommitOffset,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  Transport,
} from "../transport/transport.ts";
import type { TP } from "../types.ts";
import { deadLetterRecord } from "./dead_letter.ts";
import { Group } from "./group.ts";

/** What the runtime reads of the app (the app itself). */
export interface RuntimeOwner {
  /** The app id. */
  readonly id: string;
  /** Settings (final once read). */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** Counters. */
  readonly monitor: Monitor;
  /** Topic sends in progress. */
  readonly sends: InFlight;
  /** Whether the app is running. */
  readonly running: boolean;
  /** Topic descriptions by name. */
  readonly topics: ReadonlyMap<string, Topic<unknown, unknown>[]>;
  /** Tables by name. */
  readonly tables: ReadonlyMap<string, TableLike>;
  /** Stop the app because of `error`. */
  crash(error: Error): void;
  /** Register a table. */
  registerTable(table: TableLike): void;
}

/** What the runtime hands back to the app. */
export interface RuntimeHooks {
  /** Describe a topic (registered with the app). */
  makeTopic(name: string, options: TopicOptions): Topic<unknown, unknown>;
  /** A record is about to be produced (`onProduceMessage`). */
  produced(record: ProduceRecord): void;
  /** Partitions were assigned and tables recovered (`onPartitionsAssigned`, `onRebalanceComplete`). */
  assigned(assigned: readonly TP[]): Promise<void>;
  /** Partitions were revoked (`onPartitionsRevoked`). */
  revoked(revoked: readonly TP[]): Promise<void>;
}

/** The transport, producer, consumer, replies and transactions of one app. */
export class Runtime implements AppHost, TableApp, JobHost {
  readonly #app: RuntimeOwner;
  readonly #hooks: RuntimeHooks;
  #transport: Transport | undefined;
  #producer: Producer | undefined;
  #conductor: Conductor | undefined;
  #replies: Replies | undefined;
  #transactions: TransactionManager | undefined;
  #declared = new Map<string, Promise<number>>();
  /** Partition counts of `#declared` that are known (resolved). */
  #partitionCounts = new Map<string, number>();
  #client = false;
  #tick: ReturnType<typeof setInterval> | undefined;
  /** Leader election and group routing. */
  readonly group: Group;

  /** The runtime of `app` (opens nothing). */
  constructor(app: RuntimeOwner, hooks: RuntimeHooks) {
    this.#app = app;
    this.#hooks = hooks;
    this.group = new Group(this);
  }

  /** The transport while started, else `undefined`. */
  get openTransport(): Transport | undefined {
    return this.#transport;
  }

  /** The producer while started, else `undefined`. */
  get openProducer(): Producer | undefined {
    return this.#producer;
  }

  /** Whether the consumer runs. */
  get consuming(): boolean {
    return this.#conductor !== undefined;
  }

  /** Settings. */
  get conf(): Settings {
    return this.#app.conf;
  }

  /** Logger. */
  get log(): Logger {
    return this.#app.log;
  }

  /** Counters. */
  get monitor(): Monitor {
    return this.#app.monitor;
  }

  /** Topic sends in progress (from the call until acknowledged or failed). */
  get sends(): InFlight {
    return this.#app.sends;
  }

  /** Whether the app is running (started and not stopping). */
  get running(): boolean {
    return this.#app.running;
  }

  /** Tables by name. */
  get tables(): ReadonlyMap<string, TableLike> {
    return this.#app.tables;
  }

  /** True when started with `startClient()`. */
  get isClient(): boolean {
    return this.#client;
  }

  /** Whether offsets commit through Kafka transactions (exactly-once). */
  get transactional(): boolean {
    return this.#transactions !== undefined;
  }

  /** The transport (after start). */
  get transport(): Transport {
    if (this.#transport === undefined) {
      throw new StateError(
        `App "${this.#app.id}" is not started: call app.start() or app.startClient() first`,
      );
    }
    return this.#transport;
  }

  /** Partitions assigned to this app (empty before start). */
  assignment(): TP[] {
    return this.#conductor?.assignment() ?? [];
  }

  /** Whether this worker is the leader (see {@linkcode Group.isLeader}). */
  isLeader(): boolean {
    return this.group.isLeader();
  }

  /** Who owns which partitions across the group (see {@linkcode Group.routing}). */
  routing(): Promise<GroupRouting> {
    return this.group.routing();
  }

  /** Stop the app because of `error`. */
  crash(error: Error): void {
    this.#app.crash(error);
  }

  /** Create a topic description (used by `groupBy` for repartition topics). */
  makeTopic<K, V>(name: string, options: TopicOptions): Topic<K, V> {
    return this.#hooks.makeTopic(name, options) as unknown as Topic<K, V>;
  }

  /** Register a table (used by `app.table()`). */
  registerTable(table: TableLike): void {
    this.#app.registerTable(table);
  }

  // ---------------------------------------------------------------- steps the app orders

  /** Open the transport and the producer (`client`: for `startClient()`). */
  async open(client = false): Promise<void> {
    // Once a client, always reported as one (as before the runtime existed).
    if (client) this.#client = true;
    const conf = this.#app.conf;
    this.#transport = await createTransport(conf.broker, {
      defaultPartitions: conf.topicPartitions,
      datadir: conf.datadir,
      clientId: conf.brokerClientId,
      extra: { ...conf },
    });
    await this.#transport.start();
    this.#producer = new Producer(
      this.#transport,
      conf.producerLinger,
      this.#app.monitor,
      conf.producerMaxRequestSize,
    );
  }

  /** Declare the topics the app owns, the table changelogs and the leader topic. */
  async declareAll(): Promise<void> {
    for (const topic of this.#declarable()) await this.declare(topic);
    for (const t of this.#app.tables.values()) {
      await this.declare(t.changelogSpec());
    }
    if (this.group.managed) await this.declare(this.group.leaderSpec());
  }

  /** Create the consumer, give it the subscribed topics and join the group. */
  async startConsumer(): Promise<void> {
    const conf = this.#app.conf;
    this.#conductor = new Conductor({
      conf,
      log: this.log,
      monitor: this.monitor,
      transport: this.#transport!,
      deadLetter: async (r, e) => {
        await this.produce(deadLetterRecord(conf.appId, r, e));
      },
      fence: (a) =>
        this.#transactions?.assign(this.#consumedPartitions(a)) ??
          Promise.resolve(),
      assigned: (a, s) => this.#assigned(a, s),
      revoked: (r) => this.#revoked(r),
      crash: (e) => this.crash(e),
      beforeCommit: () => this.#flushForCommit(),
      assignmentOnlyTopics: () => this.#assignmentOnlyTopics(),
      ...this.#exactlyOnce(),
      groupAssigned: (members) => this.group.publishRouting(members),
      // Agents that send without awaiting: at most this many records wait
      // for the broker before delivery pauses (until half have been acked).
      producerEbb: () =>
        this.sends.ebb(Math.max(1000, 4 * conf.streamBufferMaxsize)),
      memberMetadata: () => ({
        web: conf.canonicalUrl,
        tableStandbyReplicas: String(conf.tableStandbyReplicas),
      }),
    });
    // Agents may have declared topics while starting (groupBy's repartition topics).
    for (const list of this.#app.topics.values()) {
      for (const t of list) {
        if (t.queues.length === 0) continue;
        if (t.options.internal === true) await this.declare(t.spec());
        this.#conductor.add(t);
      }
    }
    if (this.#transactions !== undefined) {
      this.#producer!.setRouter(() => this.#transactions?.route());
    }
    await this.#conductor.start();
  }

  /** Create the reply topic when `replyCreateTopic` is set. */
  async prepareReplies(): Promise<void> {
    if (this.#app.conf.replyCreateTopic) await this.#repliesOf().prepare();
  }

  /** Run the tables' cleanup every `tableCleanupInterval`. */
  startTableTicks(): void {
    const cleanup = Math.max(0.01, this.#app.conf.tableCleanupInterval) * 1000;
    this.#tick = setInterval(() => void this.#tickTables(), cleanup);
  }

  /** Stop the tables' cleanup. */
  stopTableTicks(): void {
    clearInterval(this.#tick);
    this.#tick = undefined;
  }

  /** Run every table's periodic cleanup (each failure logged). */
  async #tickTables(): Promise<void> {
    for (const t of this.#app.tables.values()) {
      try {
        await t.tick?.();
      } catch (error) {
        this.log.error("Table {table} cleanup raised: {error}", {
          table: t.name,
          error,
        });
      }
    }
  }

  /** The consumer stops delivering (the events in hand go on). */
  pause(): void {
    this.#conductor?.pause();
  }

  /** Commit what is acked now (flushing the producer and tables first). */
  async commit(): Promise<void> {
    await this.#conductor?.commit();
  }

  /** Stop waiting for replies. */
  async stopReplies(): Promise<void> {
    await this.#replies?.stop();
  }

  /** Wait until every record handed to the producer is acknowledged. */
  async flushProducer(): Promise<void> {
    await this.#producer?.flush();
  }

  /** Commit what is durable and leave the group. */
  async stopConsumer(): Promise<void> {
    await this.#conductor?.stop();
  }

  /** Close the exactly-once transactions. */
  async closeTransactions(): Promise<void> {
    await this.#transactions?.close();
  }

  /** Close the producer. */
  async closeProducer(): Promise<void> {
    await this.#producer?.close();
  }

  /** Close the transport. */
  async stopTransport(): Promise<void> {
    await this.#transport?.stop();
  }

  /** Forget everything opened (after the last stop step). */
  reset(): void {
    this.#conductor = undefined;
    this.#producer = undefined;
    this.#transport = undefined;
    this.#replies = undefined;
    this.#transactions = undefined;
    this.#declared.clear();
    this.#partitionCounts.clear();
  }

  *#declarable(): Iterable<TopicSpec> {
    for (const list of this.#app.topics.values()) {
      for (const t of list) {
        if (t.options.internal === true || t.options.partitions !== undefined) {
          yield t.spec();
          break;
        }
      }
    }
  }

  async #assigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    const delay = this.#app.conf.streamRecoveryDelay;
    if (delay > 0) {
      // Let more workers join or leave before tables recover and streams resume.
      this.log.info(
        "Waiting {seconds} s (streamRecoveryDelay) before recovery",
        { seconds: delay },
      );
      await new Promise((resolve) => setTimeout(resolve, delay * 1000));
    }
    // Exactly-once: the partitions' previous owners were fenced already
    // (ConductorHost.fence), before their committed offsets were read.
    for (const t of this.#app.tables.values()) {
      await t.assigned(assigned, standbys);
    }
    await this.#hooks.assigned(assigned);
  }

  async #revoked(revoked: readonly TP[]): Promise<void> {
    for (const t of this.#app.tables.values()) await t.revoked(revoked);
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
  } {
    const conf = this.#app.conf;
    if (conf.processingGuarantee !== "exactly_once") return {};
    const tables = this.#app.tables;
    const txm = new TransactionManager(
      this.#transport!,
      conf.appId,
      this.log,
      (topic) => this.#conductor?.consumes(topic) ?? false,
      (event) => this.#conductor?.isCurrent(event) ?? true,
    );
    this.#transactions = txm;
    return {
      commitTransaction: async (offsets) => {
        // Table changes the record cache held back go into these transactions.
        for (const t of tables.values()) t.stage?.();
        // Sends bound to these transactions but still on their way to the
        // producer (not awaited by their agent) belong in this commit.
        await txm.handedOver();
        await this.#producer?.flush();
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
    if (!this.group.managed) return [];
    return [
      this.group.leaderSpec().name,
      ...[...this.#app.tables.values()].map((t) => t.changelogSpec().name),
    ];
  }

  async #flushForCommit(): Promise<void> {
    for (const t of this.#app.tables.values()) t.stage?.();
    await this.#producer?.flush();
    for (const t of this.#app.tables.values()) await t.flush();
  }

  // ---------------------------------------------------------------- the port

  /** Bind a send to the current event's transaction (exactly-once). */
  bindSend(): SendBinding {
    return this.#producer?.bind() ?? { target: undefined, release: () => {} };
  }

  /**
   * Append an encoded record through the batching producer. No
   * await before the record is queued; the promise is made only when the
   * result is awaited.
   */
  produce(
    record: ProduceRecord,
    binding?: SendBinding,
    counter?: SendCounter,
  ): Promise<RecordMetadata> {
    const producer = this.#producer;
    if (producer === undefined) {
      counter?.end();
      return Promise.reject(
        new StateError(
          `Cannot send to topic "${record.topic}": app "${this.#app.id}" is not started (call app.start() or app.startClient())`,
        ),
      );
    }
    this.#hooks.produced(record);
    return producer.enqueue(
      record,
      binding !== undefined ? binding.target : producer.route(),
      counter,
    );
  }

  /** Partition count of a topic; declares it from its description when missing. */
  partitionsOf(topic: string): Promise<number> {
    let p = this.#declared.get(topic);
    if (p === undefined) {
      p = (async () => {
        const n = await this.transport.partitionCount(topic);
        if (n !== undefined) return n;
        const desc = this.#app.topics.get(topic)?.[0];
        const spec = desc?.spec() ??
          { name: topic, partitions: this.#app.conf.topicPartitions };
        await this.transport.createTopic(spec);
        return spec.partitions;
      })();
      const declared = p;
      p.then((n) => {
        if (this.#declared.get(topic) === declared) {
          this.#partitionCounts.set(topic, n);
        }
      }, () => this.#declared.delete(topic));
      this.#declared.set(topic, p);
    }
    return p;
  }

  /** Partition count of a topic when already known, else `undefined`. */
  knownPartitions(topic: string): number | undefined {
    return this.#partitionCounts.get(topic);
  }

  /** Create a topic on the broker (with `topicAllowDeclare`). */
  async declare(spec: TopicSpec): Promise<void> {
    if (this.#transport === undefined) return;
    if (this.#app.conf.topicAllowDeclare) {
      await this.#transport.createTopic(spec);
    }
    this.#declared.set(spec.name, Promise.resolve(spec.partitions));
    this.#partitionCounts.set(spec.name, spec.partitions);
  }

  /** A stream subscribed to `topic`. */
  subscribed(topic: Topic<unknown, unknown>): void {
    if (this.#conductor === undefined) return;
    void (async () => {
      if (topic.options.internal === true) await this.declare(topic.spec());
      this.#conductor?.add(topic);
    })().catch((error) =>
      // The stream would wait forever for a topic never consumed.
      this.crash(
        new Error(
          `Subscribing to topic "${topic.name}" failed: ${
            (error as Error)?.message ?? error
          }`,
          { cause: error },
        ),
      )
    );
  }

  /** Reply to an RPC request. */
  async reply(event: Event, value: unknown): Promise<void> {
    if (this.#producer === undefined) return;
    await this.#repliesOf().reply(event, value);
  }

  /** Send an RPC request and wait for the reply. */
  async ask(
    agent: Agent<unknown, unknown, unknown>,
    message: AskMessage<unknown, unknown>,
    timeout?: number,
  ): Promise<unknown> {
    const { headers, reply, cancel } = await this.#repliesOf().request(
      timeout,
    );
    const sending = agent.channel.send({
      ...message,
      headers: { ...(message.headers ?? {}), ...headers },
    });
    // The timeout covers the send too: while the send is blocked (a full
    // buffer, a slow broker) the reply may time out first. Whichever fails
    // first is the caller's error; neither may reject unobserved.
    reply.catch(() => {});
    sending.catch((error) =>
      this.log.debug("Request to agent {agent} failed: {error}", {
        agent: agent.name,
        error,
      })
    );
    try {
      await Promise.race([sending, reply]);
    } catch (error) {
      cancel();
      throw error;
    }
    return await reply;
  }

  #repliesOf(): Replies {
    return this.#replies ??= new Replies(
      this.#app.conf,
      () => this.transport,
      () => this.#producer!,
      this.log,
    );
  }
}
