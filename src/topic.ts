/**
 * Topics: named, partitioned logs on the broker. Sending encodes the key and
 * value with the topic's codecs, picks the partition (explicit, else
 * murmur2 of the key bytes as Kafka's default partitioner, else round-robin)
 * and hands the record to the app's producer.
 *
 * @module
 */
import { Channel, type ChannelOptions, type SendMessage } from "./channel.ts";
import type { RuntimePort } from "./runtime/port.ts";
import type { Codec } from "./codecs.ts";
import { makeSerde } from "./models.ts";
import type { SendSerde } from "./models/serde.ts";
import { partitionForKey } from "./producer/partitioner.ts";
import { toRawHeaders } from "./util/types.ts";
import type {
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  TransportRecord,
} from "./transport/transport.ts";
import { type Duration, toMillis } from "./util/duration.ts";
import { ConfigError } from "./errors.ts";
import type { EventInit, Mutable } from "./delivery/event.ts";

/** Makes a topic of the same app, registered with it (what `app.topic()` does). */
export type TopicMaker = (
  name: string,
  options: TopicOptions,
) => Topic<unknown, unknown>;

/** Encoded bytes of a recent key, and its partition among `n`. */
interface CachedKey {
  readonly bytes: Uint8Array;
  n: number;
  partition: number;
}

/** Distinct recent keys whose encoding a topic keeps. */
const KEY_CACHE_SIZE = 10_000;

/**
 * Options of `app.topic()`.
 *
 * @example A compacted topic with three partitions
 * ```ts
 * import type { TopicOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const options: TopicOptions = {
 *   partitions: 3,
 *   compacting: true, // keep the latest value per key
 *   valueSerializer: "json",
 * };
 * const app = testApp("topic-options");
 * const profiles = app.topic("profiles", options);
 * assert.equal(profiles.spec().compacting, true);
 * ```
 */
export interface TopicOptions extends ChannelOptions {
  /** Codec for keys (default: the app's `keySerializer`). */
  readonly keySerializer?: string | Codec;
  /** Codec for values (default: the app's `valueSerializer`). */
  readonly valueSerializer?: string | Codec;
  /** Partitions (default `topicPartitions` for topics the app declares). */
  readonly partitions?: number;
  /** Keep records this long (seconds or `"7d"`). */
  readonly retention?: Duration;
  /** Keep only the latest value per key. */
  readonly compacting?: boolean;
  /** Delete by retention (with `compacting`: both). */
  readonly deleting?: boolean;
  /** Events are acked automatically when the loop advances (default true). */
  readonly acks?: boolean;
  /** The app owns the topic and creates it. */
  readonly internal?: boolean;
  /** Replication factor (Kafka). */
  readonly replicas?: number;
  /** Extra broker topic configuration. */
  readonly config?: Readonly<Record<string, string>>;
}

/**
 * A topic description: where to send, and what streams iterate.
 *
 * @example Sending to a topic an agent reads
 * ```ts
 * import { Record } from "@faust/faust";
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const Order = Record("Order", { id: z.string(), total: z.number() });
 * const app = testApp("topic");
 * const orders = app.topic("orders", { keyType: "string", valueType: Order });
 * let revenue = 0;
 * app.agent(orders, async (stream) => {
 *   for await (const order of stream) revenue += order.total;
 * }, { name: "revenue" });
 * await app.start();
 * try {
 *   await orders.send({ key: "o-1", value: { id: "o-1", total: 10 } });
 *   await waitFor(() => revenue === 10, 5000, "the order");
 *   assert.equal(orders.valueSerde.decode(orders.valueSerde.encode({ id: "x", total: 1 })).total, 1);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Topic<K = unknown, V = unknown> extends Channel<K, V> {
  /** Topic name. */
  readonly name: string;
  /** Declared options. */
  readonly options: TopicOptions;
  /** @internal Key codec+schema. */
  readonly keySerde: SendSerde<K>;
  /** @internal Value codec+schema. */
  readonly valueSerde: SendSerde<V>;
  #rr = 0;
  readonly #keys = new Map<string | number, CachedKey>();
  readonly #derive: TopicMaker | undefined;

  /** Create a topic description. Use `app.topic()`. */
  constructor(
    host: RuntimePort,
    name: string,
    options: TopicOptions = {},
    derive?: TopicMaker,
  ) {
    super(host, options, name);
    if (name === "" || !/^[a-zA-Z0-9._-]+$/.test(name)) {
      throw new ConfigError(
        `Invalid topic name ${
          JSON.stringify(name)
        }: use letters, digits, ".", "_" and "-"`,
      );
    }
    if (
      options.partitions !== undefined &&
      !(Number.isInteger(options.partitions) && options.partitions >= 1)
    ) {
      throw new ConfigError(
        `Invalid option "partitions" of topic "${name}": ${options.partitions}; expected an integer >= 1`,
      );
    }
    this.name = name;
    this.options = options;
    this.#derive = derive;
    this.keySerde = makeSerde<K>(
      options.keyType,
      options.keySerializer,
      host.conf.keySerializer,
    );
    this.valueSerde = makeSerde<V>(
      options.valueType,
      options.valueSerializer,
      host.conf.valueSerializer,
    );
  }

  /** True: topics are broker-backed. */
  override get isTopic(): boolean {
    return true;
  }

  /** Whether streams ack automatically. */
  get autoAck(): boolean {
    return this.options.acks ?? true;
  }

  /** The spec used to create this topic on the broker. */
  spec(): TopicSpec {
    const o = this.options;
    return {
      name: this.name,
      partitions: o.partitions ?? this.host.conf.topicPartitions,
      ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
      ...(o.retention !== undefined
        ? {
          retentionMs: toMillis(
            o.retention,
            `retention of topic "${this.name}"`,
          ),
        }
        : {}),
      ...(o.compacting !== undefined ? { compacting: o.compacting } : {}),
      ...(o.deleting !== undefined ? { deleting: o.deleting } : {}),
      ...(o.config !== undefined ? { config: o.config } : {}),
      ...(o.internal !== undefined ? { internal: o.internal } : {}),
    };
  }

  /** @internal Subscribe a stream buffer and tell the app to consume this topic. */
  override subscribe(): ReturnType<Channel<K, V>["subscribe"]> {
    const q = super.subscribe();
    this.host.subscribed(this as Topic<unknown, unknown>);
    return q;
  }

  /**
   * @internal A topic of the same app, registered with it like one from
   * `app.topic()` (`groupBy()` makes its repartition topic here).
   */
  derive<NK, NV>(name: string, options: TopicOptions): Topic<NK, NV> {
    const topic = this.#derive?.(name, options) ??
      new Topic(this.host, name, options);
    return topic as unknown as Topic<NK, NV>;
  }

  /**
   * Send a record to the broker. Resolves with its metadata once the broker
   * acknowledged it.
   *
   * Nothing is awaited between the call and the producer's queue: the
   * record is queued (and, exactly-once, bound to the current event's
   * transaction) before `send` returns, and a promise is made only when the
   * result is awaited. Keys of type string or number are encoded once and
   * reused (with their partition) for later sends of the same key: a key
   * codec must encode a key to the same bytes every time, which Kafka's
   * partitioning also relies on.
   */
  override send(message: SendMessage<K, V>): Promise<RecordMetadata> {
    let key: Uint8Array | null = null;
    let cached: CachedKey | undefined;
    let value: Uint8Array | null;
    try {
      const k = message.key;
      if (k !== undefined && k !== null) {
        if (typeof k === "string" || typeof k === "number") {
          cached = this.#keys.get(k);
          if (cached === undefined) {
            cached = { bytes: this.keySerde.encode(k), n: 0, partition: 0 };
            // Bounded: a topic with more distinct keys starts over.
            if (this.#keys.size >= KEY_CACHE_SIZE) this.#keys.clear();
            this.#keys.set(k, cached);
          }
          key = cached.bytes;
        } else key = this.keySerde.encodeShortLived(k);
      }
      // The broker copies the bytes: they may share a buffer (no
      // allocation per record); cached keys above are kept, so have their own.
      value = message.value === null
        ? null
        : this.valueSerde.encodeShortLived(message.value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(key, value, message, cached);
  }

  /** @internal Send already encoded key and value. */
  sendRaw(
    key: Uint8Array | null,
    value: Uint8Array | null,
    message: Omit<SendMessage<K, V>, "value" | "key">,
  ): Promise<RecordMetadata> {
    return this.#send(key, value, message, undefined);
  }

  #send(
    key: Uint8Array | null,
    value: Uint8Array | null,
    message: Omit<SendMessage<K, V>, "value" | "key">,
    cached: CachedKey | undefined,
  ): Promise<RecordMetadata> {
    const host = this.host;
    let partition = message.partition;
    if (partition === undefined) {
      const n = host.knownPartitions(this.name);
      if (n === undefined) return this.#sendOnceKnown(key, value, message);
      if (key === null) partition = this.#rr++ % n;
      else if (cached === undefined) partition = partitionForKey(key, n);
      else {
        if (cached.n !== n) {
          cached.partition = partitionForKey(key, n);
          cached.n = n;
        }
        partition = cached.partition;
      }
    }
    // Counted from the call: the consumer holds delivery while too many
    // sends are in progress. The producer ends the count at the outcome.
    host.sends.begin();
    // Routed now, while the caller's event is still the actor's current
    // one (exactly-once: the record joins that event's transaction).
    return host.produce(
      this.#record(key, value, partition, message),
      undefined,
      host.sends,
    );
  }

  /** The first sends to a topic whose partition count is not known yet. */
  async #sendOnceKnown(
    key: Uint8Array | null,
    value: Uint8Array | null,
    message: Omit<SendMessage<K, V>, "value" | "key">,
  ): Promise<RecordMetadata> {
    const host = this.host;
    host.sends.begin();
    // Bound now, while the caller's event is still the actor's current one:
    // exactly-once puts the record in that event's transaction even when
    // the agent does not await the send and has moved on by the time the
    // partition count is known.
    const binding = host.bindSend();
    let counted = true;
    try {
      const n = await host.partitionsOf(this.name);
      const partition = key !== null
        ? partitionForKey(key, n)
        : (this.#rr++ % n);
      counted = false; // the producer ends the count from here on
      const sent = host.produce(
        this.#record(key, value, partition, message),
        binding,
        host.sends,
      );
      // Queued in the producer under its binding: a commit may go ahead.
      binding.release();
      return await sent;
    } finally {
      binding.release();
      if (counted) host.sends.end();
    }
  }

  #record(
    key: Uint8Array | null,
    value: Uint8Array | null,
    partition: number,
    message: Omit<SendMessage<K, V>, "value" | "key">,
  ): ProduceRecord {
    const topic = this.name;
    const headers = message.headers;
    const timestamp = message.timestamp;
    if (headers === undefined && timestamp === undefined) {
      return { topic, partition, key, value };
    }
    return {
      topic,
      partition,
      key,
      value,
      headers: toRawHeaders(headers),
      ...(timestamp !== undefined ? { timestamp } : {}),
    };
  }

  /**
   * @internal Decode a record into `into` (a reused object an event copies:
   * no object per record) and return it. Throws DecodeError, leaving `into`
   * as it was.
   */
  decodeInto(
    record: TransportRecord,
    into: Mutable<EventInit<K, V>>,
  ): EventInit<K, V> {
    const key =
      (record.key === null ? null : this.keySerde.decode(record.key)) as K;
    const value =
      (record.value === null
        ? null
        : this.valueSerde.decode(record.value)) as V;
    into.key = key;
    into.value = value;
    into.headers = record.headers;
    into.topic = record.topic;
    into.partition = record.partition;
    into.offset = record.offset;
    into.timestamp = record.timestamp;
    into.rawKey = record.key;
    into.rawValue = record.value;
    return into;
  }

  /** @internal Decode a record into what an event is made of. Throws DecodeError. */
  decode(record: TransportRecord): EventInit<K, V> {
    return {
      key: (record.key === null ? null : this.keySerde.decode(record.key)) as K,
      value:
        (record.value === null
          ? null
          : this.valueSerde.decode(record.value)) as V,
      headers: record.headers,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      rawKey: record.key,
      rawValue: record.value,
    };
  }
}
