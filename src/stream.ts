/**
 * Streams: async iteration over the events of a channel or topic, with
 * operators. An event is acked when the loop moves past it (or when the
 * loop ends or throws); `noack()` hands acking to the caller.
 *
 * Internally every operator passes "units" along: a value and the events it
 * was made from. Only the outermost iterator acks, so `take()` acks a batch
 * once the loop moves past the whole batch, and `filter()` acks what it drops.
 *
 * @module
 */
import { ackHeld, actorContext } from "./delivery/actor_context.ts";
import type { Event } from "./delivery/event.ts";
import type { Channel } from "./channel.ts";
import type { AsyncQueue } from "./delivery/queue.ts";
import type { Topic } from "./topic.ts";
import {
  combineSource,
  filterSource,
  forwarderSource,
  mapSource,
  takeSource,
} from "./consumer/stream_operators.ts";
import {
  ackUnit,
  eachUnit,
  over,
  queueSource,
  type Source,
  type Unit,
  type UnitIterator,
} from "./consumer/units.ts";

export type { Unit, UnitIterator } from "./consumer/units.ts";
import type { FieldDescriptor } from "./models.ts";
import { ConfigError } from "./errors.ts";
import { type Codec, codecs } from "./codecs.ts";

/**
 * Options of {@linkcode Stream.groupBy}.
 *
 * @example Re-keying a stream by a field
 * ```ts
 * import { type GroupByOptions, Record } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import { z } from "zod";
 *
 * const Transfer = Record("Transfer", { account: z.string(), amount: z.number() });
 * const app = testApp("group-by");
 * const transfers = app.topic("transfers", { valueType: Transfer });
 * const options: GroupByOptions = { partitions: 1 };
 * app.agent(transfers, async (stream) => {
 *   // Every transfer of one account is now processed by one partition.
 *   for await (const t of stream.groupBy(Transfer.fields.account, options)) {
 *     console.log(t.account, t.amount);
 *   }
 * }, { name: "by-account" });
 * ```
 */
export interface GroupByOptions {
  /** Name used in the repartition topic; required when `key` is a function. */
  readonly name?: string;
  /** Partitions of the repartition topic (default: the source topic's). */
  readonly partitions?: number;
}

/**
 * A stream of values of type `V` (keys of type `K`).
 *
 * @typeParam V Value type.
 * @typeParam K Key type.
 *
 * @example Filtering and batching
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("stream");
 * const numbers = app.topic("numbers", { valueType: "number" });
 * const batches: number[][] = [];
 * app.agent(numbers, async (stream) => {
 *   for await (const batch of stream.filter((n) => n % 2 === 0).take(2, 1)) {
 *     batches.push(batch);
 *   }
 * }, { name: "evens" });
 * await app.start();
 * try {
 *   for (const value of [1, 2, 3, 4]) await numbers.send({ value });
 *   await waitFor(() => batches.length === 1, 5000, "a batch");
 *   assert.deepEqual(batches[0], [2, 4]);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class Stream<V = unknown, K = unknown> implements AsyncIterable<V> {
  readonly #source: Source;
  readonly #autoAck: boolean;
  /** @internal The channel this stream (or its first ancestor) reads. */
  readonly channel: Channel<unknown, unknown> | undefined;

  /** @internal Use `channel.stream()` or the stream an agent receives. */
  constructor(
    source: Source,
    channel: Channel<unknown, unknown> | undefined,
    autoAck = true,
  ) {
    this.#source = source;
    this.channel = channel;
    this.#autoAck = autoAck;
  }

  /** @internal A stream reading a new buffer of `channel`. */
  static fromChannel<K, V>(
    channel: Channel<K, V>,
    queue?: AsyncQueue<Event<K, V>>,
  ): Stream<V, K> {
    const q = queue ?? channel.subscribe();
    const autoAck = channel.isTopic
      ? (channel as unknown as Topic<K, V>).autoAck
      : true;
    const label = channel.isTopic
      ? (channel as unknown as Topic<K, V>).name
      : "channel";
    return new Stream<V, K>(
      () =>
        queueSource(
          q as AsyncQueue<Event>,
          channel.host.monitor.sensors,
          label,
        ),
      channel as Channel<unknown, unknown>,
      autoAck,
    );
  }

  /** Iterate values; each is acked when the loop asks for the next. */
  [Symbol.asyncIterator](): AsyncIterator<V> {
    const it = this.#source();
    const autoAck = this.#autoAck;
    const ctx = actorContext();
    let prev: Unit | undefined;
    const finish = (early: boolean) => {
      if (prev !== undefined && autoAck) {
        // Left early inside an agent: whether the loop broke off or threw is
        // known only when the agent function returns or rejects.
        if (early && ctx !== undefined) {
          (ctx.held ??= []).push(...prev.events);
        } else ackUnit(prev);
      }
      prev = undefined;
      if (ctx !== undefined) ctx.event = undefined;
    };
    const step = (r: IteratorResult<Unit>): IteratorResult<V> => {
      if (r.done === true) return { done: true, value: undefined };
      prev = r.value;
      if (ctx !== undefined) ctx.event = prev.events[prev.events.length - 1];
      return { done: false, value: prev.value as V };
    };
    return {
      // Not an async function: a unit already buffered (the common case)
      // costs one resolved promise, without an async function's frame.
      next: (): Promise<IteratorResult<V>> => {
        let r: IteratorResult<Unit> | undefined;
        try {
          ackHeld(ctx);
          finish(false);
          r = it.poll?.();
        } catch (error) {
          return Promise.reject(error);
        }
        return r !== undefined
          ? Promise.resolve(step(r))
          : it.next().then(step);
      },
      return: async (): Promise<IteratorResult<V>> => {
        finish(true);
        await it.return?.();
        return { done: true, value: undefined };
      },
      throw: async (error: unknown): Promise<IteratorResult<V>> => {
        finish(true);
        await it.return?.();
        throw error;
      },
    };
  }

  /** @internal The raw units of this stream, not acked. */
  units(): UnitIterator {
    return this.#source();
  }

  #derive<U, KK = K>(source: Source, autoAck = this.#autoAck): Stream<U, KK> {
    return new Stream<U, KK>(source, this.channel, autoAck);
  }

  /** A stream that does not ack; call {@linkcode Stream.ack} with each event. */
  noack(): Stream<V, K> {
    return this.#derive<V>(this.#source, false);
  }

  /** Ack an event (for `noack()` streams). Returns false if it was already acked. */
  ack(event: Event): boolean {
    return event.ack();
  }

  /** Events instead of values. */
  events(): Stream<Event<K, V>, K> {
    return this.#map((u) => u.events[u.events.length - 1]);
  }

  /** `[key, value]` pairs. */
  items(): Stream<[K, V], K> {
    return this.#map((u) => [u.events[u.events.length - 1]?.key, u.value]);
  }

  /** `[index, value]` pairs, counting from `start`. */
  enumerate(start = 0): Stream<[number, V], K> {
    let i = start;
    return this.#map((u) => [i++, u.value]);
  }

  /** Only values for which `predicate` is true; the others are acked right away. */
  filter(predicate: (value: V) => boolean | Promise<boolean>): Stream<V, K> {
    return this.#derive<V>(
      filterSource(
        this.#source,
        predicate as (v: unknown) => boolean | Promise<boolean>,
      ),
    );
  }

  /**
   * Batches of up to `max` values; a batch is yielded early when `within`
   * seconds passed since its first value. A batch is acked when the loop
   * moves past it.
   */
  take(max: number, within?: number): Stream<V[], K> {
    if (!(Number.isInteger(max) && max >= 1)) {
      throw new ConfigError(
        `Invalid max for take(): ${max}; expected an integer >= 1`,
      );
    }
    return this.#derive<V[]>(takeSource(this.#source, max, within));
  }

  /** Send every value on to `channels`, then pass it along. */
  echo(...channels: Channel<unknown, unknown>[]): Stream<V, K> {
    const up = this.#source;
    return this.#derive<V>(() => {
      const it = up();
      return over(it, {
        async next(): Promise<IteratorResult<Unit>> {
          const r = await it.next();
          if (r.done === true) return r;
          const e = r.value.events[r.value.events.length - 1];
          for (const ch of channels) {
            await ch.send({ value: r.value.value, key: e?.key ?? null });
          }
          return r;
        },
      });
    });
  }

  /**
   * Forward every value to `channel` and continue from that channel's
   * stream. A source event is acked once the forward is sent.
   */
  through<U = V>(channel: Channel<K, U>): Stream<U, K> {
    const target = channel.stream();
    const up = this.#source;
    const forward = (signal: AbortSignal) =>
      eachUnit(up, signal, async (unit) => {
        const e = unit.events[unit.events.length - 1];
        await channel.send({
          value: unit.value as U,
          key: (e?.key ?? null) as K,
        });
        ackUnit(unit);
      });
    return withForwarder(target, forward);
  }

  /**
   * Re-key the stream through a repartition topic named
   * `{agent}-{source}-{name}-repartition` so that every value of one key is
   * processed by the same partition. `key` is a field descriptor
   * (`Model.fields.account`) or a function (then `options.name` is required).
   * The new key is encoded with the source's key codec, or as JSON when
   * that codec cannot encode it (a number or an object under the default
   * `raw`). A key function that throws, or a key no codec can encode, is
   * logged with the event's topic, partition and offset, and the value skipped.
   */
  groupBy<NK = unknown>(
    key: FieldDescriptor | ((value: V) => NK),
    options: GroupByOptions = {},
  ): Stream<V, NK> {
    const source = this.channel;
    if (source === undefined || !source.isTopic) {
      throw new ConfigError("groupBy() needs a stream that reads a topic");
    }
    const topic = source as unknown as Topic<unknown, V>;
    const isField = typeof key !== "function";
    const name = options.name ?? (isField ? key.qualifiedName : undefined);
    if (name === undefined) {
      throw new ConfigError(
        "groupBy() with a key function needs options.name (it names the repartition topic)",
      );
    }
    const agent = actorContext()?.agent ?? topic.host.conf.appId;
    const host = topic.host;
    const repartition = topic.derive<NK, V>(
      `${agent}-${topic.name}-${name}-repartition`,
      {
        keySerializer: repartitionKeyCodec(
          topic.options.keySerializer ?? host.conf.keySerializer,
        ),
        ...(topic.valueType !== undefined
          ? { valueType: topic.valueType }
          : {}),
        ...(topic.options.valueSerializer !== undefined
          ? { valueSerializer: topic.options.valueSerializer }
          : {}),
        internal: true,
        ...(options.partitions !== undefined
          ? { partitions: options.partitions }
          : topic.options.partitions !== undefined
          ? { partitions: topic.options.partitions }
          : {}),
      },
    );
    const getKey = isField ? (v: V) => key.get(v) as NK : key;
    const up = this.#source;
    const target = repartition.stream();
    const forward = (signal: AbortSignal) =>
      eachUnit(up, signal, async (unit) => {
        const e = unit.events[unit.events.length - 1];
        let key: Uint8Array | null;
        try {
          // Encoded here so that a key no codec can encode is skipped like
          // a key function that throws, not a crash on every restart.
          const newKey = getKey(unit.value as V);
          key = newKey === undefined || newKey === null
            ? null
            : repartition.keySerde.encode(newKey);
        } catch (error) {
          host.monitor.count("groupByKeyErrors");
          host.log.error(
            "groupBy key of {topic}[{partition}]@{offset} failed, value skipped: {error}",
            {
              topic: e?.topic,
              partition: e?.partition,
              offset: e?.offset,
              error,
            },
          );
          ackUnit(unit);
          return;
        }
        const value = unit.value as V;
        await repartition.sendRaw(
          key,
          value === null ? null : repartition.valueSerde.encode(value),
          e ? { headers: e.headers } : {},
        );
        ackUnit(unit);
      });
    return withForwarder(target, forward) as Stream<V, NK>;
  }

  /** Values of this stream and `others`, interleaved as they arrive. */
  combine(...others: Stream<V, K>[]): Stream<V, K> {
    const sources = [this.#source, ...others.map((s) => s.#source)];
    return this.#derive<V>(combineSource(sources));
  }

  #map<U>(fn: (u: Unit) => unknown): Stream<U, K> {
    return this.#derive<U>(mapSource(this.#source, fn));
  }
}

/**
 * The key codec of a repartition topic: the source's key codec when it can
 * encode the new key (strings and bytes keep their usual bytes and
 * partition), else JSON, so that keys of any JSON type (a number field,
 * a boolean, an object) can be grouped by. Decoding is the source codec's.
 */
function repartitionKeyCodec(serializer: string | Codec): Codec {
  const base = codecs.get(serializer);
  const json = codecs.get("json");
  return {
    dumps(value: unknown): Uint8Array {
      try {
        return base.dumps(value);
      } catch (error) {
        if (typeof value === "string" || value instanceof Uint8Array) {
          throw error;
        }
        return json.dumps(value);
      }
    },
    loads: (bytes) => base.loads(bytes),
  };
}

/** A stream whose iteration also runs `forward` in the background until the loop ends. */
function withForwarder<V, K>(
  target: Stream<V, K>,
  forward: (signal: AbortSignal) => Promise<void>,
): Stream<V, K> {
  return new Stream<V, K>(
    forwarderSource(() => target.units(), forward, (error) => {
      target.channel?.host.log.error("Stream forwarder failed: {error}", {
        error,
      });
    }),
    target.channel,
    true,
  );
}
