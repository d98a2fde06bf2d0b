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
import type { TableLike } from "../app/registrations.ts";
import { StateError } from "../errors.ts";
import type { InFlight } from "../producer/inflight.ts";
import type { Monitor } from "../sensors/monitor.ts";
import {
  type BatchListener,
  Producer,
  type SendBinding,
  type SendCounter,
} from "../producer/producer.ts";
import type { GroupRouting } from "../rpc/routing.ts";
import type { Settings } from "../settings/settings.ts";
import type { Topic } from "../topic.ts";
import { createTransport } from "../transport/factory.ts";
import type {
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  Transport,
} from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import { DeclaredTopics } from "./declared.ts";
import { Group } from "./group.ts";
import { Rpc } from "./rpc.ts";
import { Consumption } from "./consumer.ts";
import type { RpcPort, RuntimePort, SubscribedTopic } from "./port.ts";

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
  /** A record is about to be produced (`onProduceMessage`). */
  produced(record: ProduceRecord): void;
  /** Partitions were assigned and tables recovered (`onPartitionsAssigned`, `onRebalanceComplete`). */
  assigned(assigned: readonly TP[]): Promise<void>;
  /** Partitions were revoked (`onPartitionsRevoked`). */
  revoked(revoked: readonly TP[]): Promise<void>;
}

/** The transport, producer, consumer, replies and transactions of one app. */
export class Runtime implements RuntimePort {
  readonly #app: RuntimeOwner;
  readonly #hooks: RuntimeHooks;
  #transport: Transport | undefined;
  #producer: Producer | undefined;
  readonly #consumer: Consumption;
  readonly #rpc: Rpc;
  readonly #declared: DeclaredTopics;
  #client = false;
  #tick: ReturnType<typeof setInterval> | undefined;
  /** Leader election and group routing. */
  readonly group: Group;

  /** The runtime of `app` (opens nothing). */
  constructor(app: RuntimeOwner, hooks: RuntimeHooks) {
    this.#app = app;
    this.#hooks = hooks;
    this.group = new Group(this);
    this.#declared = new DeclaredTopics(this);
    this.#rpc = new Rpc(this);
    this.#consumer = new Consumption(this, hooks);
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
    return this.#consumer.consuming;
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

  /** Topic descriptions by name. */
  get topics(): ReadonlyMap<string, Topic<unknown, unknown>[]> {
    return this.#app.topics;
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
    return this.#consumer.transactional;
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
    return this.#consumer.assignment();
  }

  /** Group generation of the assignment in use, if known (stamped on changelog appends). */
  generation(): number | undefined {
    return this.#consumer.generation();
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
    await this.#consumer.start();
  }

  /** Create the reply topic when `replyCreateTopic` is set. */
  async prepareReplies(): Promise<void> {
    await this.#rpc.prepare();
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
    this.#consumer.pause();
  }

  /** Commit what is acked now (flushing the producer and tables first). */
  async commit(): Promise<void> {
    await this.#consumer.commit();
  }

  /** Stop waiting for replies. */
  async stopReplies(): Promise<void> {
    await this.#rpc.stop();
  }

  /** Wait until every record handed to the producer is acknowledged. */
  async flushProducer(): Promise<void> {
    await this.#producer?.flush();
  }

  /** Commit what is durable and leave the group. */
  async stopConsumer(): Promise<void> {
    await this.#consumer.stop();
  }

  /** Close the exactly-once transactions. */
  async closeTransactions(): Promise<void> {
    await this.#consumer.closeTransactions();
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
    this.#producer = undefined;
    this.#transport = undefined;
    this.#rpc.reset();
    this.#consumer.reset();
    this.#declared.clear();
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

  /**
   * Append encoded records of one topic through the batching producer as
   * one item, with one outcome told to `listener` (a table's changelog
   * appends at a commit).
   */
  produceBatch(
    records: readonly ProduceRecord[],
    binding: SendBinding | undefined,
    counter: SendCounter | undefined,
    listener: BatchListener,
  ): void {
    const producer = this.#producer;
    if (producer === undefined) {
      const error = new StateError(
        `Cannot send to topic "${
          records[0]?.topic
        }": app "${this.#app.id}" is not started (call app.start() or app.startClient())`,
      );
      for (let i = 0; i < records.length; i++) counter?.end();
      listener.failed(error);
      return;
    }
    for (const r of records) this.#hooks.produced(r);
    producer.enqueueBatch(
      records,
      binding !== undefined ? binding.target : producer.route(),
      counter,
      listener,
    );
  }

  /** Partition count of a topic; declares it from its description when missing. */
  partitionsOf(topic: string): Promise<number> {
    return this.#declared.partitionsOf(topic);
  }

  /** Partition count of a topic when already known, else `undefined`. */
  knownPartitions(topic: string): number | undefined {
    return this.#declared.knownPartitions(topic);
  }

  /** Create a topic on the broker (with `topicAllowDeclare`). */
  declare(spec: TopicSpec): Promise<void> {
    return this.#declared.declare(spec);
  }

  /** A stream subscribed to `topic`. */
  subscribed(topic: SubscribedTopic): void {
    this.#consumer.subscribed(topic);
  }

  /** Requests to agents and their replies. */
  get rpc(): RpcPort {
    return this.#rpc;
  }
}
