/**
 * Agent RPC: `ask` sends a request carrying Faust's reply headers
 * (`Faust-Ag-ReplyTo`, `Faust-Ag-CorrelationId`); the agent sends what it
 * yields to that reply topic as `{ key, value, correlation_id }`; a separate
 * consumer reads the app's reply topic (`{replyToPrefix}{uuid}`, one
 * partition) and resolves the waiting call.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Consumer, Transport } from "../transport/transport.ts";
import { headerText } from "../util/types.ts";
import type { Event } from "../delivery/event.ts";
import type { Settings } from "../settings/settings.ts";
import type { Producer } from "../producer/producer.ts";
import { ClosedError, errorLine, FaustError } from "../errors.ts";

/** Header naming the reply topic. */
export const REPLY_TO_HEADER = "Faust-Ag-ReplyTo";
/** Header carrying the correlation id. */
export const CORRELATION_HEADER = "Faust-Ag-CorrelationId";

/** Least time between two commits of the reply consumer's offset. */
const REPLY_COMMIT_MS = 1000;

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends replies and waits for them. */
export class Replies {
  /** The reply topic of this app. */
  readonly topic: string;
  readonly #transport: () => Transport;
  readonly #producer: () => Producer;
  readonly #log: Logger;
  readonly #waiters = new Map<string, Waiter>();
  readonly #retentionMs: number;
  #consumer: Consumer | undefined;
  #started: Promise<void> | undefined;
  readonly #controller = new AbortController();
  #loop: Promise<void> | undefined;

  /** Create the reply machinery of an app. */
  constructor(
    conf: Settings,
    transport: () => Transport,
    producer: () => Producer,
    log: Logger,
  ) {
    this.topic = `${conf.replyToPrefix}${crypto.randomUUID()}`;
    this.#retentionMs = Math.round(conf.replyExpires * 1000);
    this.#transport = transport;
    this.#producer = producer;
    this.#log = log;
  }

  /**
   * Headers to put on a request; starts the reply consumer on first use.
   * `cancel()` forgets the request (its send failed or timed out).
   */
  async request(
    timeoutSeconds?: number,
  ): Promise<
    {
      headers: Record<string, string>;
      reply: Promise<unknown>;
      cancel: () => void;
    }
  > {
    if (this.#controller.signal.aborted) {
      throw new ClosedError("Cannot ask: the app is stopping");
    }
    await this.prepare();
    const id = crypto.randomUUID();
    const reply = new Promise<unknown>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutSeconds !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#waiters.delete(id);
          reject(
            new FaustError(
              `No reply within ${timeoutSeconds}s (correlation id ${id})`,
            ),
          );
        }, timeoutSeconds * 1000);
      }
      this.#waiters.set(id, waiter);
    });
    return {
      headers: { [REPLY_TO_HEADER]: this.topic, [CORRELATION_HEADER]: id },
      reply,
      cancel: () => {
        clearTimeout(this.#waiters.get(id)?.timer);
        this.#waiters.delete(id);
      },
    };
  }

  /**
   * Create the reply topic and start reading it (at the first `ask`, or
   * at start with `replyCreateTopic`).
   */
  async prepare(): Promise<void> {
    this.#started ??= this.#start();
    await this.#started;
  }

  /** If `event` is a request, send `value` to its reply topic. */
  async reply(event: Event, value: unknown): Promise<void> {
    const to = headerText(event.headers, REPLY_TO_HEADER);
    const id = headerText(event.headers, CORRELATION_HEADER);
    if (to === undefined || id === undefined) return;
    const body = JSON.stringify({
      key: event.key ?? null,
      value: value ?? null,
      correlation_id: id,
    });
    const producer = this.#producer();
    // Outside a transaction (at-least-once) an asker in this process gets
    // the reply now, without waiting for the reply record's flush: the
    // record still goes to the reply topic (and the request's offset is
    // committed only once it is acked), the asker is the only one who reads
    // it, and a crash that loses it takes the asker with it. What the asker
    // sends after the reply queues behind it on the same producer, so it
    // cannot reach the log while the reply does not. Sequential asks then
    // share a flush: the next request leaves with this reply. Under
    // exactly-once the reply waits for the commit of its transaction.
    const local = to === this.topic && producer.route() === undefined;
    const sent = producer.send({
      topic: to,
      partition: 0,
      key: null,
      value: encoder.encode(body),
    });
    if (local) this.#deliver(body);
    await sent;
  }

  /** Resolve the waiting `ask` a reply body answers (none: already answered, or gone). */
  #deliver(text: string): void {
    const body = JSON.parse(text) as {
      value: unknown;
      correlation_id: string;
    };
    const waiter = this.#waiters.get(body.correlation_id);
    if (waiter === undefined) return;
    this.#waiters.delete(body.correlation_id);
    clearTimeout(waiter.timer);
    waiter.resolve(body.value);
  }

  async #start(): Promise<void> {
    const transport = this.#transport();
    await transport.createTopic({
      name: this.topic,
      partitions: 1,
      internal: true,
      // Replies nobody read (the asker died) go after replyExpires.
      retentionMs: this.#retentionMs,
    });
    const consumer = transport.createConsumer({
      groupId: this.topic,
      autoOffsetReset: "earliest",
      ephemeral: true,
      listener: {
        onPartitionsAssigned: () => Promise.resolve(),
        onPartitionsRevoked: () => Promise.resolve(),
      },
    });
    this.#consumer = consumer;
    await consumer.subscribe([this.topic]);
    this.#loop = this.#run(consumer);
  }

  async #run(consumer: Consumer): Promise<void> {
    const signal = this.#controller.signal;
    let committedAt = -Infinity;
    while (!signal.aborted) {
      const records = await consumer.poll(500, 1000, signal).catch((error) => {
        this.#log.error("Reading replies failed: {error}", {
          error: errorLine(error),
        });
        return [];
      });
      for (const r of records) {
        if (r.value === null) continue;
        try {
          // Already answered when the reply was sent from this process.
          this.#deliver(decoder.decode(r.value));
        } catch (error) {
          this.#log.error("Bad reply at {topic}@{offset}: {error}", {
            topic: r.topic,
            offset: r.offset,
            error,
          });
        }
      }
      // The reply topic and its group live as long as this app, so its
      // offset only shows progress: commit it at most once per
      // REPLY_COMMIT_MS. A commit per reply was a write transaction per
      // round trip, on local:// sometimes one more flush in front of the
      // next request.
      const now = performance.now();
      if (records.length > 0 && now - committedAt >= REPLY_COMMIT_MS) {
        committedAt = now;
        const last = records[records.length - 1]!;
        await consumer.commit([{
          topic: last.topic,
          partition: last.partition,
          offset: last.offset + 1,
        }]).catch(
          () => {},
        );
      }
    }
  }

  /** Stop reading replies; pending asks fail. */
  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#started?.catch(() => {});
    await this.#loop;
    await this.#consumer?.close();
    for (const [id, w] of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(
        new ClosedError(`The app stopped before the reply to ${id} arrived`),
      );
    }
    this.#waiters.clear();
    if (this.#consumer !== undefined) {
      await this.#transport().deleteTopic(this.topic).catch(() => {});
    }
  }
}
