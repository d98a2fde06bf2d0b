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
import { ackHeld, actorContext } from "./context.ts";
import type { Event } from "./event.ts";
import type { Channel } from "./channel.ts";
import type { Sensor } from "./monitor.ts";
import type { AsyncQueue } from "./queue.ts";
import type { Topic } from "./topic.ts";
import type { FieldDescriptor } from "./models.ts";
import { ConfigError } from "./errors.ts";
import { type Codec, codecs } from "./codecs.ts";

/** @internal A value and the events it came from. */
export interface Unit {
  /** Value handed to the loop. */
  readonly value: unknown;
  /** Events to ack once the loop is done with the value. */
  readonly events: readonly Event[];
}

/**
 * @internal An iterator of units that can also hand out a unit already at
 * hand without a promise: `poll()` returns it (or the end), or `undefined`
 * when only `next()` can tell. Operators pass `poll()` through, so a value
 * buffered at the source reaches the loop through every layer in one
 * synchronous call instead of one promise per layer.
 */
export interface UnitIterator extends AsyncIterator<Unit> {
  /** A unit (or the end) available now, else `undefined`. */
  poll?(): IteratorResult<Unit> | undefined;
}

type Source = () => UnitIterator;

const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/** Options of {@linkcode Stream.groupBy}. */
export interface GroupByOptions {
  /** Name used in the repartition topic; required when `key` is a function. */
  readonly name?: string;
  /** Partitions of the repartition topic (default: the source topic's). */
  readonly partitions?: number;
}

function ackUnit(unit: Unit): void {
  for (const e of unit.events) e.ack();
}

/**
 * A stream of values of type `V` (keys of type `K`).
 *
 * @typeParam V Value type.
 * @typeParam K Key type.
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
    return {
      next: async (): Promise<IteratorResult<V>> => {
        ackHeld(ctx);
        finish(false);
        const r = it.poll?.() ?? await it.next();
        if (r.done === true) return { done: true, value: undefined };
        prev = r.value;
        if (ctx !== undefined) ctx.event = prev.events[prev.events.length - 1];
        return { done: false, value: prev.value as V };
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
    const up = this.#source;
    return this.#derive<V>(() => {
      const it = up();
      // A unit taken by poll() whose predicate answered with a promise:
      // next() settles it first.
      let parked: [IteratorResult<Unit>, Promise<boolean>] | undefined;
      return {
        poll(): IteratorResult<Unit> | undefined {
          if (parked !== undefined) return undefined;
          for (;;) {
            const r = it.poll?.();
            if (r === undefined || r.done === true) return r;
            const keep = predicate(r.value.value as V);
            if (typeof keep !== "boolean") {
              parked = [r, Promise.resolve(keep)];
              return undefined;
            }
            if (keep) return r;
            ackUnit(r.value);
          }
        },
        async next(): Promise<IteratorResult<Unit>> {
          if (parked !== undefined) {
            const [r, keep] = parked;
            parked = undefined;
            if (await keep) return r;
            ackUnit(r.value);
          }
          for (;;) {
            const r = it.poll?.() ?? await it.next();
            if (r.done === true) return r;
            if (await predicate(r.value.value as V)) return r;
            ackUnit(r.value);
          }
        },
        async return(): Promise<IteratorResult<Unit>> {
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    });
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
    const up = this.#source;
    return this.#derive<V[]>(() => {
      const it = up();
      let pending: Promise<IteratorResult<Unit>> | undefined;
      let ended = false;
      return {
        async next(): Promise<IteratorResult<Unit>> {
          if (ended) return { done: true, value: undefined };
          const values: unknown[] = [];
          const events: Event[] = [];
          let deadline: number | undefined;
          while (values.length < max) {
            let r: IteratorResult<Unit> | "timeout" | undefined = pending ===
                undefined
              ? it.poll?.()
              : undefined;
            if (r !== undefined) {
              // At hand: no promise, no timer.
            } else if (deadline === undefined || within === undefined) {
              pending ??= it.next();
              r = await pending;
            } else {
              pending ??= it.next();
              let timer: ReturnType<typeof setTimeout> | undefined;
              const left = Math.max(0, deadline - Date.now());
              r = await Promise.race([
                pending,
                new Promise<"timeout">((resolve) =>
                  timer = setTimeout(() => resolve("timeout"), left)
                ),
              ]);
              clearTimeout(timer);
            }
            if (r === "timeout") break;
            pending = undefined;
            if (r.done === true) {
              ended = true;
              break;
            }
            if (values.length === 0 && within !== undefined) {
              deadline = Date.now() + within * 1000;
            }
            values.push(r.value.value);
            events.push(...r.value.events);
          }
          if (values.length === 0) return { done: true, value: undefined };
          return { done: false, value: { value: values, events } };
        },
        async return(): Promise<IteratorResult<Unit>> {
          ended = true;
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    });
  }

  /** Send every value on to `channels`, then pass it along. */
  echo(...channels: Channel<unknown, unknown>[]): Stream<V, K> {
    const up = this.#source;
    return this.#derive<V>(() => {
      const it = up();
      return {
        async next(): Promise<IteratorResult<Unit>> {
          const r = await it.next();
          if (r.done === true) return r;
          const e = r.value.events[r.value.events.length - 1];
          for (const ch of channels) {
            await ch.send({ value: r.value.value, key: e?.key ?? null });
          }
          return r;
        },
        async return(): Promise<IteratorResult<Unit>> {
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    });
  }

  /**
   * Forward every value to `channel` and continue from that channel's
   * stream. A source event is acked once the forward is sent.
   */
  through<U = V>(channel: Channel<K, U>): Stream<U, K> {
    const target = channel.stream();
    const up = this.#source;
    const forward = async (signal: AbortSignal) => {
      const it = up();
      try {
        while (!signal.aborted) {
          const r = await it.next();
          if (r.done === true) return;
          const e = r.value.events[r.value.events.length - 1];
          await channel.send({
            value: r.value.value as U,
            key: (e?.key ?? null) as K,
          });
          ackUnit(r.value);
        }
      } finally {
        await it.return?.();
      }
    };
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
    const repartition = host.makeTopic<NK, V>(
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
    const forward = async (signal: AbortSignal) => {
      const it = up();
      try {
        while (!signal.aborted) {
          const r = await it.next();
          if (r.done === true) return;
          const e = r.value.events[r.value.events.length - 1];
          let key: Uint8Array | null;
          try {
            // Encoded here so that a key no codec can encode is skipped like
            // a key function that throws, not a crash on every restart.
            const newKey = getKey(r.value.value as V);
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
            ackUnit(r.value);
            continue;
          }
          const value = r.value.value as V;
          await repartition.sendRaw(
            key,
            value === null ? null : repartition.valueSerde.encode(value),
            e ? { headers: e.headers } : {},
          );
          ackUnit(r.value);
        }
      } finally {
        await it.return?.();
      }
    };
    return withForwarder(target, forward) as Stream<V, NK>;
  }

  /** Values of this stream and `others`, interleaved as they arrive. */
  combine(...others: Stream<V, K>[]): Stream<V, K> {
    const sources = [this.#source, ...others.map((s) => s.#source)];
    return this.#derive<V>(() => {
      const its = sources.map((s) => s());
      const pending = new Map<
        number,
        Promise<[number, IteratorResult<Unit>]>
      >();
      const pull = (i: number) =>
        pending.set(i, its[i]!.next().then((r) => [i, r]));
      its.forEach((_, i) => pull(i));
      return {
        async next(): Promise<IteratorResult<Unit>> {
          while (pending.size > 0) {
            const [i, r] = await Promise.race(pending.values());
            pending.delete(i);
            if (r.done === true) continue;
            pull(i);
            return r;
          }
          return { done: true, value: undefined };
        },
        async return(): Promise<IteratorResult<Unit>> {
          await Promise.all(its.map((it) => it.return?.()));
          return { done: true, value: undefined };
        },
      };
    });
  }

  #map<U>(fn: (u: Unit) => unknown): Stream<U, K> {
    const up = this.#source;
    return this.#derive<U>(() => {
      const it = up();
      const map = (r: IteratorResult<Unit>): IteratorResult<Unit> =>
        r.done === true ? r : {
          done: false,
          value: { value: fn(r.value), events: r.value.events },
        };
      return {
        poll(): IteratorResult<Unit> | undefined {
          const r = it.poll?.();
          return r === undefined ? undefined : map(r);
        },
        async next(): Promise<IteratorResult<Unit>> {
          return map(it.poll?.() ?? await it.next());
        },
        async return(): Promise<IteratorResult<Unit>> {
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    });
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

/**
 * Sensors' `onStreamEventIn` now, `onStreamEventOut` at the ack. The stream
 * is named by its agent (else its topic).
 */
function streamHooks(sensors: ReadonlySet<Sensor>, e: Event, label: string) {
  // The web server's sensor has neither hook: skip the work for it.
  let stream: string | undefined;
  let out = false;
  for (const s of sensors) {
    if (s.onStreamEventIn !== undefined) {
      stream ??= actorContext()?.agent ?? label;
      s.onStreamEventIn(e, e.offset, stream);
    }
    if (s.onStreamEventOut !== undefined) out = true;
  }
  if (!out) return;
  const name = stream ?? actorContext()?.agent ?? label;
  e.afterAck = (done) => {
    for (const s of sensors) s.onStreamEventOut?.(done, done.offset, name);
  };
}

function queueSource(
  queue: AsyncQueue<Event>,
  sensors: ReadonlySet<Sensor>,
  label: string,
): UnitIterator {
  const signal = streamSignal();
  const unit = (e: Event): IteratorResult<Unit> => {
    // Checked per event: no sensor, no cost beyond this size test.
    if (sensors.size > 0) streamHooks(sensors, e, label);
    return { done: false, value: { value: e.value, events: [e] } };
  };
  return {
    poll(): IteratorResult<Unit> | undefined {
      if (signal?.aborted === true) return DONE;
      const e = queue.poll();
      return e === undefined ? undefined : unit(e);
    },
    async next(): Promise<IteratorResult<Unit>> {
      // A stopping actor takes no more events: it finishes the one in hand
      // and leaves the rest buffered, unacked (their offsets are not
      // committed, so the next start reads them), instead of draining a
      // whole buffer past the stop bound.
      if (signal?.aborted === true) return { done: true, value: undefined };
      const e = await queue.get(signal);
      if (e === undefined) return { done: true, value: undefined };
      return unit(e);
    },
    return(): Promise<IteratorResult<Unit>> {
      return Promise.resolve({ done: true, value: undefined });
    },
  };
}

/** The stop signal of the running actor, if any (streams end when it aborts). */
function streamSignal(): AbortSignal | undefined {
  return actorContext()?.signal;
}

/** A stream whose iteration also runs `forward` in the background until the loop ends. */
function withForwarder<V, K>(
  target: Stream<V, K>,
  forward: (signal: AbortSignal) => Promise<void>,
): Stream<V, K> {
  return new Stream<V, K>(
    () => {
      const it = target.units();
      const controller = new AbortController();
      const outer = actorContext()?.signal;
      outer?.addEventListener("abort", () => controller.abort(), {
        once: true,
      });
      const running = forward(controller.signal).catch((error) => {
        target.channel?.host.log.error("Stream forwarder failed: {error}", {
          error,
        });
        throw error;
      });
      const failed = running.then(() => new Promise<never>(() => {}));
      let pending: Promise<IteratorResult<Unit>> | undefined;
      return {
        poll(): IteratorResult<Unit> | undefined {
          // A failed forwarder shows once the buffer is empty (next()).
          return pending === undefined ? it.poll?.() : undefined;
        },
        async next(): Promise<IteratorResult<Unit>> {
          pending ??= it.next();
          const r = await Promise.race([pending, failed]);
          pending = undefined;
          return r;
        },
        async return(): Promise<IteratorResult<Unit>> {
          controller.abort();
          await it.return?.();
          await running.catch(() => {});
          return { done: true, value: undefined };
        },
      };
    },
    target.channel,
    true,
  );
}
