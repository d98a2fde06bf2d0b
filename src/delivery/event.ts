/**
 * Events: one delivered message as one stream sees it. A message delivered
 * to several streams has one `Delivery` shared by their events; it is done
 * when every stream has acked its event.
 *
 * @module
 */
import type { RawHeaders } from "../util/types.ts";

/**
 * @internal What an event tells when it is acked: its delivery (several
 * streams) or its partition's ack bookkeeping directly (one stream, no
 * object per message).
 */
export interface Releaser {
  /** The event at `offset` is done (for this stream). */
  release(offset: number): void;
}

/** Reference count of one delivered message across the streams that got it. */
export class Delivery implements Releaser {
  #refs: number;
  readonly #onDone: (() => void) | undefined;

  /** A delivery to `refs` streams; `onDone` runs when the last acks. */
  constructor(refs: number, onDone?: () => void) {
    this.#refs = refs;
    this.#onDone = onDone;
    if (refs === 0) onDone?.();
  }

  /** One stream is done with the message. */
  release(_offset?: number): void {
    if (--this.#refs === 0) this.#onDone?.();
  }
}

/** @internal `T` without `readonly`. */
export type Mutable<T> = { -readonly [P in keyof T]: T[P] };

/** What an {@linkcode Event} is made from. */
export interface EventInit<K, V> {
  /** Decoded key. */
  readonly key: K;
  /** Decoded value. */
  readonly value: V;
  /** Headers as bytes. */
  readonly headers: RawHeaders;
  /** Source topic, or the channel label for in-memory channels. */
  readonly topic: string;
  /** Source partition (0 for channels). */
  readonly partition: number;
  /** Source offset (-1 for channels). */
  readonly offset: number;
  /** Timestamp in milliseconds since the epoch. */
  readonly timestamp: number;
  /** Encoded key, when the event came from a topic. */
  readonly rawKey?: Uint8Array | null;
  /** Encoded value, when the event came from a topic. */
  readonly rawValue?: Uint8Array | null;
}

/**
 * One message as seen by one stream: key, value, headers and where it came from.
 *
 * @example Reading keys, offsets and headers
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("events");
 * const clicks = app.topic("clicks", { keyType: "string", valueType: "string" });
 * const seen: string[] = [];
 * app.agent(clicks, async (stream) => {
 *   for await (const event of stream.events()) {
 *     const source = new TextDecoder().decode(event.headers.source);
 *     seen.push(`${event.key}@${event.offset}: ${event.value} from ${source}`);
 *   }
 * }, { name: "clicks" });
 * await app.start();
 * try {
 *   await clicks.send({ key: "u1", value: "/home", headers: { source: "web" } });
 *   await waitFor(() => seen.length === 1, 5000, "the click");
 *   assert.equal(seen[0], "u1@0: /home from web");
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Event<K = unknown, V = unknown> {
  /** Decoded key. */
  readonly key: K;
  /** Decoded value. */
  readonly value: V;
  /** Headers as bytes. */
  readonly headers: RawHeaders;
  /** Source topic (or channel label). */
  readonly topic: string;
  /** Source partition. */
  readonly partition: number;
  /** Source offset (-1 for in-memory channels). */
  readonly offset: number;
  /** Timestamp in milliseconds since the epoch. */
  readonly timestamp: number;
  /** Encoded key as received (`undefined` for in-memory channels). */
  readonly rawKey: Uint8Array | null | undefined;
  /** Encoded value as received (`undefined` for in-memory channels). */
  readonly rawValue: Uint8Array | null | undefined;
  readonly #delivery: Releaser;
  #acked = false;
  /** @internal Called once when acked (sensors' `onStreamEventOut`); unset when no sensor listens. */
  afterAck: ((event: Event<K, V>) => void) | undefined = undefined;

  /**
   * Create an event sharing `delivery` with the other streams that got the
   * message (or acking straight to its partition when it is the only one).
   */
  constructor(init: EventInit<K, V>, delivery: Releaser) {
    this.key = init.key;
    this.value = init.value;
    this.headers = init.headers;
    this.topic = init.topic;
    this.partition = init.partition;
    this.offset = init.offset;
    this.timestamp = init.timestamp;
    this.rawKey = init.rawKey;
    this.rawValue = init.rawValue;
    this.#delivery = delivery;
  }

  /** True once acked. */
  get acked(): boolean {
    return this.#acked;
  }

  /** Acknowledge the event; returns false when it was already acked. */
  ack(): boolean {
    if (this.#acked) return false;
    this.#acked = true;
    this.#delivery.release(this.offset);
    if (this.afterAck !== undefined) this.afterAck(this);
    return true;
  }
}
