/**
 * The `kafka://host:port[;host:port]` transport: Apache Kafka through
 * kafkajs. This directory (`kafka.ts`, `kafka/*.ts`) is the only place that
 * imports kafkajs; the app loads it with a dynamic `import()`.
 *
 * Settings come as `TransportOptions.extra` (see `kafka/options.ts` for the
 * table: `producerAcks`, `producerLinger`, `producerCompressionType`,
 * `idempotence`, `brokerCredentials`, `brokerRequestTimeout`,
 * `brokerSessionTimeout`, `brokerHeartbeatInterval`,
 * `brokerRebalanceTimeout`, `consumerMaxFetchSize`,
 * `consumerMaxBufferedRecords`, `consumerIsolationLevel`,
 * `topicReplicationFactor`, `topicAllowDeclare`).
 *
 * Watermarks come from ListOffsets with `read_committed`: `highWatermark()`
 * is the last stable offset, equal to the high-water mark unless a
 * transaction is open on the partition.
 *
 * @module
 */
import { patchKafkajsReadCommitted } from "./kafka/aborted_patch.ts";
import { patchKafkajsIdleLoop } from "./kafka/idle_patch.ts";
import { patchKafkajsPausedFetch } from "./kafka/paused_fetch_patch.ts";
import { patchKafkajsRejoin } from "./kafka/rejoin_patch.ts";
import { patchKafkajsVarints } from "./kafka/varint_patch.ts";
import { patchKafkajsRecords } from "./kafka/record_patch.ts";
import { patchKafkajsDecoder } from "./kafka/decode_patch.ts";
import {
  connectHint,
  hasKafkaErrorType,
  retryWhileTopicPropagates,
  retryWhileUnreachable,
} from "./kafka/errors.ts";
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";
import { ClosedError, ConfigError, FaustError } from "../errors.ts";
import { type TP, tpString } from "../util/types.ts";
import { KafkaConsumer } from "./kafka/consumer.ts";
import { kafkaLogCreator } from "./kafka/log.ts";
import { type KafkaSettings, readKafkaSettings } from "./kafka/options.ts";
import { LingeringSender, SEND_WINDOW, sendRecords } from "./kafka/producer.ts";
import { PartitionReader } from "./kafka/reader.ts";
import { KafkaTransactionalProducer } from "./kafka/transactions.ts";
import type {
  Consumer,
  ConsumerOptions,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportOptions,
  TransportRecord,
} from "./transport.ts";

export {
  type KafkaLogEntry,
  type KafkaLogSink,
  setKafkaLogSink,
} from "./kafka/log.ts";
// Re-exported so this module documents on its own (`deno doc --lint`).
export type {
  CommitOffset,
  Consumer,
  ConsumerOptions,
  ProduceRecord,
  RebalanceListener,
  RecordMetadata,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportOptions,
  TransportRecord,
} from "./transport.ts";
export type { RawHeaders, TP } from "../util/types.ts";
export { parseKafkaUrl } from "./kafka/options.ts";

/**
 * Retries of the producers' requests: waits of 0.3 s doubling up to 10 s,
 * 12 times, about 70 s in all (see the transport's constructor).
 */
const PRODUCER_RETRY = {
  retries: 12,
  initialRetryTime: 300,
  maxRetryTime: 10_000,
};

/** Topic configuration for a spec: retention, cleanup policy, extra config. */
function topicConfig(spec: TopicSpec): { name: string; value: string }[] {
  const config: Record<string, string> = {};
  if (spec.retentionMs !== undefined) {
    config["retention.ms"] = String(spec.retentionMs);
  }
  if (spec.compacting === true) {
    config["cleanup.policy"] = spec.deleting === true
      ? "compact,delete"
      : "compact";
  } else if (spec.deleting === true) config["cleanup.policy"] = "delete";
  Object.assign(config, spec.config ?? {});
  return Object.entries(config).map(([name, value]) => ({ name, value }));
}

/** A {@linkcode Transport} on Apache Kafka (kafkajs 2.2). */
export class KafkaTransport implements Transport {
  /** Driver name. */
  readonly driver = "kafka";
  /** The URL it was created from. */
  readonly url: string;
  /** Records in flight worth having: see {@linkcode SEND_WINDOW}. */
  readonly sendWindow: number = SEND_WINDOW;
  #options: TransportOptions;
  #settings: KafkaSettings;
  #kafka: Kafka;
  /** The client of the producers: the same, with retries that outlast a broker restart. */
  #producerKafka: Kafka;
  #admin: Admin | undefined;
  #producer: Producer | undefined;
  #sender: LingeringSender;
  #reader: PartitionReader | undefined;
  #partitions = new Map<string, number>();
  #creating = new Map<string, Promise<void>>();
  #closeables = new Set<{ close(): Promise<void> }>();
  #state: "new" | "started" | "stopped" = "new";

  /**
   * Check the URL and settings; opens nothing.
   *
   * @param url `kafka://host:port[;host:port]` (port defaults to 9092).
   * @param options Default partitions, client id and the Kafka settings in `extra`.
   * @throws {ConfigError} For a malformed URL or setting.
   */
  constructor(url: string, options: TransportOptions) {
    this.url = url;
    this.#options = options;
    this.#settings = readKafkaSettings(url, options.extra);
    patchKafkajsIdleLoop((message) => console.error(`kafka://: ${message}`));
    patchKafkajsPausedFetch((message) => console.error(`kafka://: ${message}`));
    patchKafkajsRejoin((message) => console.error(`kafka://: ${message}`));
    patchKafkajsVarints((message) => console.error(`kafka://: ${message}`));
    patchKafkajsRecords((message) => console.error(`kafka://: ${message}`));
    patchKafkajsDecoder((message) => console.error(`kafka://: ${message}`));
    patchKafkajsReadCommitted((message) =>
      console.error(`kafka://: ${message}`)
    );
    const s = this.#settings;
    const config = {
      clientId: options.clientId,
      brokers: s.brokers,
      requestTimeout: s.requestTimeoutMs,
      logCreator: kafkaLogCreator,
      // kafkajs builds every entry at or below this level, even ones the
      // sink drops (an INFO line per pause/resume showed up at 6% of CPU).
      logLevel: logLevel.WARN,
      ...(s.sasl === undefined ? {} : { sasl: s.sasl }),
      ...(s.ssl === undefined ? {} : { ssl: s.ssl }),
    };
    this.#kafka = new Kafka(config);
    // kafkajs gives up after 5 retries (about 10 s); a broker that restarts
    // takes longer, and a send or transaction step that fails leaves a
    // table change undurable (the worker must stop) or an exactly-once
    // transaction in doubt. Producers retry for about a minute instead
    // (connecting, the admin client and the consumer keep the default, so
    // a wrong address or password is still reported within seconds).
    this.#producerKafka = new Kafka({ ...config, retry: PRODUCER_RETRY });
    this.#sender = new LingeringSender(
      (records) => this.#sendNow(records),
      s.lingerMs,
    );
  }

  /** Connect the admin client and the producer. */
  async start(): Promise<void> {
    if (this.#state === "started") return;
    if (this.#state === "stopped") {
      throw new ClosedError(
        `Cannot start: Kafka transport ${this.url} was stopped`,
      );
    }
    this.#state = "started";
    this.#admin = this.#kafka.admin();
    this.#producer = this.#producerKafka.producer({
      allowAutoTopicCreation: false,
      idempotent: this.#settings.idempotent,
      ...(this.#settings.idempotent ? { maxInFlightRequests: 1 } : {}),
    });
    try {
      await this.#admin.connect();
      await this.#producer.connect();
      // A first request: a listener that wants credentials refuses it here.
      await this.#admin.listTopics();
    } catch (e) {
      await this.stop();
      throw new FaustError(
        `Cannot connect to Kafka at ${this.#settings.brokers.join(", ")}: ${
          (e as Error).message
        }${connectHint(e)}`,
        {
          cause: e,
        },
      );
    }
  }

  /** Flush lingering sends, close consumers and producers, disconnect. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    if (this.#state === "started") await this.#sender.drain();
    this.#state = "stopped";
    for (const c of [...this.#closeables]) await c.close().catch(() => {});
    this.#closeables.clear();
    await this.#reader?.close().catch(() => {});
    await this.#producer?.disconnect().catch(() => {});
    await this.#admin?.disconnect().catch(() => {});
  }

  #requireAdmin(what: string): Admin {
    if (this.#state !== "started" || this.#admin === undefined) {
      throw new ClosedError(
        `Cannot ${what}: Kafka transport ${this.url} is ${
          this.#state === "new" ? "not started" : "stopped"
        }`,
      );
    }
    return this.#admin;
  }

  /** Create a topic if missing; an existing one with another partition count is a ConfigError. */
  async createTopic(spec: TopicSpec): Promise<void> {
    const admin = this.#requireAdmin(`create topic "${spec.name}"`);
    if (this.#settings.allowDeclare) {
      await retryWhileTopicPropagates(() =>
        admin.createTopics({
          waitForLeaders: true,
          topics: [{
            topic: spec.name,
            numPartitions: spec.partitions,
            replicationFactor: spec.replicas ??
              this.#settings.replicationFactor,
            configEntries: topicConfig(spec),
          }],
        })
      );
    }
    const count = () =>
      retryWhileTopicPropagates(() => this.partitionCount(spec.name));
    let actual = await count();
    // Another member may have created it a moment ago (we got "already
    // exists"): the broker lists it once the creation completes.
    for (let i = 0; actual === undefined && this.#settings.allowDeclare; i++) {
      if (i >= 40) {
        throw new ConfigError(
          `Topic "${spec.name}" was declared but the broker still does not list it after 10 s`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
      actual = await count();
    }
    if (actual === undefined) {
      throw new ConfigError(
        `Topic "${spec.name}" does not exist and topicAllowDeclare is false; create it on the broker`,
      );
    }
    if (actual !== spec.partitions) {
      throw new ConfigError(
        `Topic "${spec.name}" exists with ${actual} partitions but ${spec.partitions} were asked for; ` +
          `use partitions: ${actual} or delete the topic`,
      );
    }
  }

  /** Partition count from the topic's metadata, or `undefined` when it does not exist. */
  async partitionCount(topic: string): Promise<number | undefined> {
    const admin = this.#requireAdmin(`read metadata of topic "${topic}"`);
    const names = await admin.listTopics();
    if (!names.includes(topic)) return undefined;
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const n = meta.topics.find((t) => t.name === topic)?.partitions.length;
    if (n !== undefined) this.#partitions.set(topic, n);
    return n;
  }

  /** Delete a topic; a missing topic is ignored. */
  async deleteTopic(topic: string): Promise<void> {
    const admin = this.#requireAdmin(`delete topic "${topic}"`);
    this.#partitions.delete(topic);
    if (!(await admin.listTopics()).includes(topic)) return;
    try {
      await admin.deleteTopics({ topics: [topic] });
    } catch (e) {
      if (!hasKafkaErrorType(e, "UNKNOWN_TOPIC_OR_PARTITION")) throw e;
    }
  }

  /** Append records (creating unknown topics with `defaultPartitions`); metadata in input order. */
  async send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    this.#requireAdmin("send");
    if (records.length === 0) return [];
    await this.#ensureTopics(records);
    return this.#sender.send(records);
  }

  #sendNow(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    const producer = this.#producer;
    if (this.#state !== "started" || producer === undefined) {
      return Promise.reject(
        new ClosedError(`Cannot send: Kafka transport ${this.url} is stopped`),
      );
    }
    return retryWhileUnreachable(() =>
      sendRecords(producer, records, {
        acks: this.#settings.acks,
        compression: this.#settings.compression,
        timeoutMs: this.#settings.produceTimeoutMs,
      })
    );
  }

  async #ensureTopics(records: readonly ProduceRecord[]): Promise<void> {
    const wanted = new Map<string, number>();
    for (const r of records) {
      wanted.set(r.topic, Math.max(wanted.get(r.topic) ?? 0, r.partition));
    }
    for (const [topic, maxPartition] of wanted) {
      let count = this.#partitions.get(topic);
      if (count === undefined) {
        let creating = this.#creating.get(topic);
        if (creating === undefined) {
          creating = this.#createForSend(topic).finally(() =>
            this.#creating.delete(topic)
          );
          this.#creating.set(topic, creating);
        }
        await creating;
        count = this.#partitions.get(topic);
      }
      if (count !== undefined && maxPartition >= count) {
        throw new ConfigError(
          `Cannot send to ${
            tpString({ topic, partition: maxPartition })
          }: topic "${topic}" has ${count} partitions (0-${count - 1})`,
        );
      }
    }
  }

  async #createForSend(topic: string): Promise<void> {
    if (
      await this.partitionCount(topic) !== undefined ||
      !this.#settings.allowDeclare
    ) return;
    await this.createTopic({
      name: topic,
      partitions: this.#options.defaultPartitions,
    });
  }

  async #offsets(tp: TP): Promise<{ high: number; low: number }> {
    const admin = this.#requireAdmin(`read offsets of ${tpString(tp)}`);
    const all = await admin.fetchTopicOffsets(tp.topic);
    const p = all.find((o) => o.partition === tp.partition);
    if (p === undefined) {
      throw new ConfigError(`Partition ${tpString(tp)} does not exist`);
    }
    return { high: Number(p.high), low: Number(p.low) };
  }

  /** Offset the next record of the partition will get (the last stable offset). */
  async highWatermark(tp: TP): Promise<number> {
    return (await this.#offsets(tp)).high;
  }

  /** Oldest offset still present in the partition. */
  async lowWatermark(tp: TP): Promise<number> {
    return (await this.#offsets(tp)).low;
  }

  /** Read a partition by offset outside any group (see `kafka/reader.ts`). */
  read(tp: TP, offset: number, maxRecords: number): Promise<TransportRecord[]> {
    this.#requireAdmin(`read ${tpString(tp)}`);
    this.#reader ??= new PartitionReader(this.#kafka, {
      readCommitted: this.#settings.readCommitted,
      maxBytes: this.#settings.maxFetchBytes,
      lowWatermark: (p) => this.lowWatermark(p),
    });
    return this.#reader.read(tp, offset, maxRecords);
  }

  /** Create the group consumer (not subscribed yet). */
  createConsumer(options: ConsumerOptions): Consumer {
    this.#requireAdmin(`create a consumer for group "${options.groupId}"`);
    const consumer: KafkaConsumer = new KafkaConsumer(
      this.#kafka,
      () => Promise.resolve(this.#requireAdmin("read committed offsets")),
      this.#settings,
      options,
      () => this.#closeables.delete(consumer),
    );
    this.#closeables.add(consumer);
    return consumer;
  }

  /** A connected transactional producer (idempotent, one in-flight request). */
  async createTransactionalProducer(
    transactionalId: string,
  ): Promise<TransactionalProducer> {
    this.#requireAdmin(`create transactional producer "${transactionalId}"`);
    const producer = this.#producerKafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await retryWhileUnreachable(() => producer.connect());
    const tx = new KafkaTransactionalProducer(
      producer,
      transactionalId,
      this.#settings.compression,
      this.#settings.produceTimeoutMs,
    );
    const closeable = { close: () => tx.close() };
    this.#closeables.add(closeable);
    return tx;
  }
}

/**
 * Create a Kafka transport (the factory the app's driver loader calls).
 *
 * @param url `kafka://host:port[;host:port]`.
 * @param options Transport options.
 * @returns A transport; call `start()` before use.
 */
export function createKafkaTransport(
  url: string,
  options: TransportOptions,
): KafkaTransport {
  return new KafkaTransport(url, options);
}
