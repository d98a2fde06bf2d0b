/**
 * The group consumer for `kafka://`: kafkajs' push-based `eachBatch` adapted
 * to our pull-based `poll()`.
 *
 * - `eachBatch` appends the batch to `fetch_buffer.ts` (dropped only for
 *   partitions revoked or re-positioned by `seek`), then waits, heartbeating,
 *   while more than `consumerMaxBufferedRecords` records of unpaused
 *   partitions are buffered: one `eachBatch` at a time, so memory stays
 *   bounded by that limit plus one fetch. `pause`/`resume` also hide
 *   buffered records of paused partitions from `poll()`.
 * - Rebalances are eager: `onPartitionsRevoked` (the whole old assignment)
 *   runs while the old generation still commits, from a waiting batch's
 *   heartbeat or before kafkajs' JoinGroup (`rejoin_patch.ts`), at a
 *   GROUP_JOIN otherwise, and at once on a kafkajs crash (it rejoins after a
 *   backoff); `onPartitionsAssigned(active, standbys)` follows, and batches
 *   of the new generation wait for it. Listener calls never overlap.
 * - Assignment: the Faust assignor (`assigner.ts`); standby changelog
 *   partitions go to the listener as such, paused, never polled or committed.
 * - `subscribe()` with another topic list replaces the kafkajs consumer (it
 *   can neither subscribe while running nor unsubscribe): one rebalance.
 * - Offsets are committed only by `commit()` (autoCommit off); no offset is
 *   buffered twice between seeks (`refetch.ts`).
 *
 * @module
 */
import type {
  Admin,
  Consumer as KConsumer,
  EachBatchPayload,
  Kafka,
} from "kafkajs";
import { ClosedError, StateError } from "../../errors.ts";
import { type TP, tpKey, tpString } from "../../util/types.ts";
import type {
  CommitOffset,
  Consumer,
  ConsumerOptions,
  TransportRecord,
} from "../transport.ts";
import { splitStandbys } from "./assigner.ts";
import { BufferedPositions } from "./refetch.ts";
import type { KafkaSettings } from "./options.ts";
import { FetchBuffer } from "./fetch_buffer.ts";
import { wakePausedFetches } from "./paused_fetch_patch.ts";
import { fromMessage } from "./records.ts";
import type { GroupLike } from "./rejoin_patch.ts";
import { isGroupUnavailable } from "./errors.ts";
import {
  committedOffsets,
  consumerConfig,
  groupByTopic,
  joinedWithin,
  logConsumerError,
  MAX_REJOINS,
  REBALANCING,
  rejoinLater,
  tpsOf,
  unlessRestarting,
  type Waiter,
} from "./consumer_parts.ts";

/** A kafkajs group consumer behind the pull-based {@linkcode Consumer} interface. */
export class KafkaConsumer implements Consumer {
  #kafka: Kafka;
  #admin: () => Promise<Admin>;
  #settings: KafkaSettings;
  #options: ConsumerOptions;
  #consumer: KConsumer | undefined;
  #topics: string[] = [];
  #assigned = new Map<string, TP>();
  #previous: { active: TP[]; standby: TP[] } = { active: [], standby: [] };
  #buffer = new FetchBuffer();
  #chain: Promise<void> = Promise.resolve();
  #revoked = false;
  readonly #pushed = new BufferedPositions();
  /** kafkajs' group object of the current consumer (handed to the rejoin hook). */
  #group: GroupLike | undefined;
  /** Generation of the assignment in use (set when it is applied). */
  #generation: number | undefined;
  #joinWaiters: Waiter[] = [];
  #error: unknown;
  #closed = false;
  /** Joins again after kafkajs gave up on the group, since the last assignment. */
  #rejoins = 0;
  #onClose: () => void;

  /**
   * @param kafka The kafkajs client.
   * @param admin The transport's connected admin client.
   * @param settings Kafka settings.
   * @param options Group id, listener, offset reset, member metadata.
   * @param onClose Called once when the consumer closes.
   */
  constructor(
    kafka: Kafka,
    admin: () => Promise<Admin>,
    settings: KafkaSettings,
    options: ConsumerOptions,
    onClose: () => void = () => {},
  ) {
    this.#onClose = onClose;
    this.#kafka = kafka;
    this.#admin = admin;
    this.#settings = settings;
    this.#options = options;
  }

  /** Set the topics; resolves once the listener saw the new assignment. */
  async subscribe(topics: readonly string[]): Promise<void> {
    if (this.#closed) {
      throw new ClosedError(
        `Cannot subscribe: consumer of group "${this.#options.groupId}" is closed`,
      );
    }
    const next = [...new Set(topics)].sort();
    if (
      this.#consumer !== undefined &&
      next.join("\n") === this.#topics.join("\n")
    ) return;
    if (this.#consumer !== undefined) {
      this.#enqueue(() => this.#revokeAll());
      await this.#chain;
      const old = this.#consumer;
      this.#consumer = undefined;
      this.#buffer.wakeAll();
      await old.disconnect();
    }
    this.#topics = next;
    if (next.length === 0) return;
    const joined = new Promise<void>((resolve, reject) =>
      this.#joinWaiters.push({ resolve, reject })
    );
    // Awaited only once connect/subscribe/run below succeeded: when one of
    // them throws, the stop that follows rejects the waiter, and that
    // rejection must not end the process in place of the error that
    // caused the stop.
    joined.catch(() => {});
    const consumer: KConsumer = this.#kafka.consumer(
      consumerConfig(
        this.#settings,
        this.#options,
        () => this.#previous,
        async (group) => {
          // Revoke (and commit, in the old generation) before every JoinGroup.
          if (this.#consumer !== consumer) return;
          this.#group = group;
          this.#enqueue(() => this.#revokeAll());
          await this.#chain;
        },
      ),
    );
    this.#consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (this.#consumer !== consumer) return;
      const tps = tpsOf(e.payload.memberAssignment);
      // Read now (kafkajs set it for this join), used once the revocations
      // queued before it ran: their table appends carry the old generation.
      const generation = this.#group?.generationId ?? undefined;
      this.#enqueue(() => {
        if (typeof generation === "number") this.#generation = generation;
        return this.#assign(consumer, tps, next);
      });
    });
    consumer.on(consumer.events.REBALANCING, () => {
      if (this.#consumer === consumer) this.#enqueue(() => this.#revokeAll());
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.#consumer !== consumer) return;
      const error = e.payload.error;
      if (
        !e.payload.restart &&
        (!isGroupUnavailable(error) || this.#rejoins >= MAX_REJOINS)
      ) {
        this.#fail(error);
        return;
      }
      // kafkajs restarts by joining the group again, after a backoff that
      // can outlast the session timeout (the broker was unreachable): by
      // then the partitions may be another member's. Revoke now, so that
      // buffered records are not processed (and their table changes not
      // appended) by a worker that may have lost the partitions.
      this.#enqueue(() => this.#revokeAll());
      // kafkajs does not restart after it found no group coordinator within
      // its retries (a broker restarting slowly): the member would stay out
      // of the group for good. Join again with a new kafkajs consumer.
      if (!e.payload.restart) this.#rejoin(consumer, next, error);
    });
    await consumer.connect();
    await consumer.subscribe({
      topics: next,
      fromBeginning: this.#options.autoOffsetReset !== "latest",
    });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#onBatch(consumer, payload),
    });
    await joinedWithin(
      joined,
      this.#settings.rebalanceTimeoutMs + this.#settings.sessionTimeoutMs +
        30_000,
      `Consumer of group "${this.#options.groupId}"`,
      next,
    );
  }

  /** Records from assigned, unpaused partitions; empty after `timeoutMs` or abort. */
  async poll(
    maxRecords: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportRecord[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      this.#throwFailure();
      const out = this.#buffer.take(maxRecords);
      if (out.length > 0 || this.#closed || signal?.aborted) return out;
      const left = deadline - Date.now();
      if (left <= 0) return out;
      await this.#buffer.waitForData(left, signal);
    }
  }

  /** Commit offsets (next offset to read) of assigned partitions. */
  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const consumer = this.#consumer;
    if (consumer === undefined) {
      throw new StateError(
        `Cannot commit: consumer of group "${this.#options.groupId}" is not subscribed`,
      );
    }
    for (const o of offsets) {
      if (!this.#assigned.has(tpKey(o))) {
        throw new StateError(
          `Cannot commit ${
            tpString(o)
          } for group "${this.#options.groupId}": the partition is not assigned to this consumer`,
        );
      }
    }
    await consumer.commitOffsets(
      offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: String(o.offset),
      })),
    );
  }

  /** Committed offsets of the group; partitions without one are absent. */
  async committed(tps: readonly TP[]): Promise<Map<string, number>> {
    if (tps.length === 0) return new Map();
    return committedOffsets(await this.#admin(), this.#options.groupId, tps);
  }

  /** Move the read position of an assigned partition; buffered records of it are dropped. */
  seek(tp: TP, offset: number): void {
    const consumer = this.#requireAssigned(tp, "seek");
    this.#buffer.drop((key) => key === tpKey(tp));
    this.#pushed.forget(tpKey(tp));
    unlessRestarting(() =>
      consumer.seek({
        topic: tp.topic,
        partition: tp.partition,
        offset: String(offset),
      })
    );
  }

  /** Stop returning and fetching records of these partitions. */
  pause(tps: readonly TP[]): void {
    this.#buffer.pause(tps.map(tpKey));
    const consumer = this.#consumer;
    unlessRestarting(() => consumer?.pause(groupByTopic(tps)));
  }

  /** Resume paused partitions. */
  resume(tps: readonly TP[]): void {
    const consumer = this.#consumer;
    unlessRestarting(() => consumer?.resume(groupByTopic(tps)));
    this.#buffer.resume(tps.map(tpKey));
    wakePausedFetches();
  }

  /** Currently assigned partitions. */
  assignment(): TP[] {
    return [...this.#assigned.values()];
  }

  /** Generation of the assignment in use (`undefined` before the first, or when kafkajs' internals changed). */
  generation(): number | undefined {
    return this.#generation;
  }

  /** Leave the group and disconnect; calls no listener. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#buffer.wakeAll();
    const consumer = this.#consumer;
    this.#consumer = undefined;
    for (const w of this.#joinWaiters.splice(0)) {
      w.reject(
        new ClosedError(
          `Consumer of group "${this.#options.groupId}" closed before it was assigned partitions`,
        ),
      );
    }
    if (consumer !== undefined) await consumer.disconnect();
    this.#buffer.drop(() => true);
    this.#pushed.clear();
    this.#assigned.clear();
  }

  async #onBatch(
    consumer: KConsumer,
    payload: EachBatchPayload,
  ): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    await this.#chain;
    const key = tpKey(batch);
    if (
      this.#closed || this.#consumer !== consumer || !isRunning() ||
      isStale() || !this.#assigned.has(key)
    ) return;
    const { messages, skipped, below } = this.#pushed.admit(
      key,
      batch.messages,
    );
    if (skipped > 0) {
      // An error line (the default sink prints only those): it follows one.
      logConsumerError(
        this.#kafka,
        this.#options.groupId,
        `Skipped ${skipped} records of ${batch.topic}[${batch.partition}] fetched again (below offset ${below}, already buffered)`,
      );
    }
    if (messages.length === 0) return;
    const { topic, partition } = batch;
    this.#buffer.push(key, messages, (m) => fromMessage(topic, partition, m));
    const interval = Math.max(100, this.#settings.heartbeatIntervalMs);
    while (
      !this.#closed && this.#consumer === consumer && isRunning() &&
      this.#buffer.active() > this.#settings.maxBufferedRecords
    ) {
      await this.#buffer.waitForSpace(interval);
      try {
        await heartbeat();
      } catch (e) {
        if (REBALANCING.has((e as { type?: string }).type ?? "")) {
          // Still in the old generation: the listener's commits are accepted.
          this.#enqueue(() => this.#revokeAll());
          await this.#chain;
        }
        throw e;
      }
    }
  }

  /**
   * Replace `old` (given up by kafkajs) by a new kafkajs consumer of the
   * same topics after a backoff (1 s doubling up to 30 s); after
   * {@linkcode MAX_REJOINS} in a row without an assignment, the next such
   * crash fails the consumer.
   */
  #rejoin(old: KConsumer, topics: string[], cause: unknown): void {
    rejoinLater(
      this.#kafka,
      this.#options.groupId,
      ++this.#rejoins,
      cause,
      () => {
        if (this.#closed || this.#consumer !== old) return undefined;
        this.#consumer = undefined;
        this.#buffer.wakeAll();
        return old.disconnect().catch(() => {}).then(() => {
          if (this.#closed || this.#consumer !== undefined) return;
          return this.subscribe(topics);
        });
      },
    );
  }

  #requireAssigned(tp: TP, what: string): KConsumer {
    if (this.#consumer === undefined || !this.#assigned.has(tpKey(tp))) {
      throw new StateError(
        `Cannot ${what} ${
          tpString(tp)
        } for group "${this.#options.groupId}": the partition is not assigned to this consumer`,
      );
    }
    return this.#consumer;
  }

  #enqueue(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch((e) => this.#fail(e));
  }

  async #revokeAll(): Promise<void> {
    if (this.#revoked || this.#assigned.size === 0) return;
    this.#revoked = true;
    const old = [...this.#assigned.values()];
    this.#buffer.drop(() => true);
    this.#pushed.clear();
    try {
      await this.#options.listener.onPartitionsRevoked(old);
    } finally {
      this.#assigned.clear();
    }
  }

  async #assign(
    consumer: KConsumer,
    tps: TP[],
    subscribed: readonly string[],
  ): Promise<void> {
    this.#rejoins = 0;
    await this.#revokeAll();
    this.#revoked = false;
    const { active, standby } = splitStandbys(tps, subscribed);
    const wasStandby = new Set(this.#previous.standby.map(tpKey));
    this.#previous = { active, standby };
    this.#assigned = new Map(active.map((tp) => [tpKey(tp), tp]));
    // Standbys are followed by the tables (Transport.read), never fetched here;
    // kafkajs keeps pauses across assignments, so resume former standbys.
    if (this.#consumer === consumer) {
      const promoted = active.filter((tp) =>
        wasStandby.has(tpKey(tp)) && !this.#buffer.isPaused(tpKey(tp))
      );
      if (promoted.length > 0) consumer.resume(groupByTopic(promoted));
      if (standby.length > 0) consumer.pause(groupByTopic(standby));
      if (promoted.length > 0) wakePausedFetches();
    }
    await this.#options.listener.onPartitionsAssigned(active, standby);
    for (const w of this.#joinWaiters.splice(0)) w.resolve();
  }

  #fail(e: unknown): void {
    const waiters = this.#joinWaiters.splice(0);
    if (waiters.length > 0) { for (const w of waiters) w.reject(e); }
    else this.#error ??= e;
    this.#buffer.wakeData();
  }

  #throwFailure(): void {
    if (this.#error === undefined) return;
    const e = this.#error;
    this.#error = undefined;
    throw e;
  }
}
