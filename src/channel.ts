/**
 * Channels: in-memory delivery from senders to the streams that iterate
 * them. A channel buffers at most `maxsize` events per subscribed stream;
 * a sender waits while that buffer is full (nothing is dropped).
 *
 * @module
 */
import { Delivery, Event } from "./delivery/event.ts";
import { AsyncQueue } from "./delivery/queue.ts";
import { Stream } from "./stream.ts";
import type { RuntimePort } from "./runtime/port.ts";
import { type HeadersInput, toRawHeaders } from "./util/types.ts";
import type { TypeSpec } from "./models.ts";
import type { RecordMetadata } from "./transport/transport.ts";

/**
 * A message to send: value, and optionally key, headers, partition, timestamp.
 *
 * @example A message with a key and headers
 * ```ts
 * import type { SendMessage } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("send-message");
 * const orders = app.topic("orders", { keyType: "string", valueType: "number" });
 * const message: SendMessage<string, number> = {
 *   key: "customer-7", // same key, same partition
 *   value: 12,
 *   headers: { source: "web" },
 * };
 * await app.start();
 * try {
 *   await orders.send(message);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export interface SendMessage<K, V> {
  /** The value. */
  readonly value: V;
  /** The key (decides the partition on topics). */
  readonly key?: K | null;
  /** Headers; strings are UTF-8 encoded. */
  readonly headers?: HeadersInput;
  /** Explicit partition (topics only). */
  readonly partition?: number;
  /** Timestamp in milliseconds (defaults to now). */
  readonly timestamp?: number;
}

/**
 * Options of {@linkcode Channel}.
 *
 * @example A small in-memory buffer
 * ```ts
 * import type { ChannelOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: ChannelOptions = { valueType: "string", maxsize: 10 };
 * const app = testApp("channel-options");
 * const jobs = app.channel(options);
 * console.log(jobs.maxsize); // senders wait while 10 events are buffered
 * ```
 */
export interface ChannelOptions {
  /** Key type (documentation and typing for in-memory channels). */
  readonly keyType?: TypeSpec;
  /** Value type. */
  readonly valueType?: TypeSpec;
  /** Events buffered per stream before senders wait (default `streamBufferMaxsize`). */
  readonly maxsize?: number;
}

let channelCount = 0;

/**
 * An in-memory channel. Topics extend it with a broker behind.
 *
 * @example An in-memory channel between agents
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("channel");
 * const jobs = app.channel({ valueType: "string" });
 * const done: string[] = [];
 * app.agent(jobs, async (stream) => {
 *   for await (const job of stream) done.push(job);
 * }, { name: "worker" });
 * await app.start();
 * try {
 *   await jobs.send({ value: "build" });
 *   await waitFor(() => done.length === 1, 5000, "the job");
 *   assert.deepEqual(done, ["build"]);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Channel<K = unknown, V = unknown> {
  /** Label used in logs and `agents` listings. */
  readonly label: string;
  /** Buffer size per subscribed stream. */
  readonly maxsize: number;
  /** Key type. */
  readonly keyType: TypeSpec | undefined;
  /** Value type. */
  readonly valueType: TypeSpec | undefined;
  /** @internal The app. */
  readonly host: RuntimePort;
  readonly #queues: AsyncQueue<Event<K, V>>[] = [];
  #unclaimed: AsyncQueue<Event<K, V>> | undefined;

  /** Create a channel for `host`. Use `app.channel()`. */
  constructor(host: RuntimePort, options: ChannelOptions = {}, label?: string) {
    this.host = host;
    this.maxsize = options.maxsize ?? host.conf.streamBufferMaxsize;
    this.keyType = options.keyType;
    this.valueType = options.valueType;
    this.label = label ?? `channel-${++channelCount}`;
  }

  /** True for broker-backed topics. */
  get isTopic(): boolean {
    return false;
  }

  /** @internal The subscribed stream buffers. */
  get queues(): readonly AsyncQueue<Event<K, V>>[] {
    return this.#queues;
  }

  /**
   * @internal Add a stream buffer. The first buffer also receives what was
   * sent before anyone subscribed.
   */
  subscribe(): AsyncQueue<Event<K, V>> {
    if (this.#unclaimed !== undefined) {
      const claimed = this.#unclaimed;
      this.#unclaimed = undefined;
      return claimed;
    }
    const q = new AsyncQueue<Event<K, V>>(this.maxsize);
    this.#queues.push(q);
    return q;
  }

  /** @internal Remove a stream buffer. */
  unsubscribe(queue: AsyncQueue<Event<K, V>>): void {
    const i = this.#queues.indexOf(queue);
    if (i >= 0) this.#queues.splice(i, 1);
    queue.close();
  }

  /**
   * Send a value to every stream of this channel, waiting while a stream's
   * buffer is full.
   */
  async send(message: SendMessage<K, V>): Promise<RecordMetadata | void> {
    if (this.#queues.length === 0) {
      this.#unclaimed = new AsyncQueue(this.maxsize);
      this.#queues.push(this.#unclaimed);
    }
    const queues = [...this.#queues];
    const delivery = new Delivery(queues.length);
    const init = {
      key: (message.key ?? null) as K,
      value: message.value,
      headers: toRawHeaders(message.headers),
      topic: this.label,
      partition: 0,
      offset: -1,
      timestamp: message.timestamp ?? Date.now(),
    };
    for (const q of queues) await q.put(new Event(init, delivery));
  }

  /** A stream over this channel (subscribes a new buffer). */
  stream(): Stream<V, K> {
    return Stream.fromChannel<K, V>(this);
  }

  /** Stream of this channel's values. */
  [Symbol.asyncIterator](): AsyncIterator<V> {
    return this.stream()[Symbol.asyncIterator]();
  }
}
