/**
 * The group consumer for `kafka://`: kafkajs' push-based `eachBatch` adapted
 * to our pull-based `poll()`.
 *
 * - Buffer (`fetch_buffer.ts`): `eachBatch` appends the whole batch (records are never dropped,
 *   except those of partitions revoked or re-positioned by `seek`) and then
 *   waits while more than `consumerMaxBufferedRecords` records of unpaused
 *   partitions are buffered, heartbeating every `brokerHeartbeatInterval`.
 *   kafkajs runs one `eachBatch` at a time, so a waiting batch stops fetching:
 *   memory stays bounded by the limit plus one fetch.
 * - `pause`/`resume` map to kafkajs' and also hide already-buffered records of
 *   paused partitions from `poll()` (they do not count against the limit).
 * - Rebalances are eager. The listener's `onPartitionsRevoked` gets the whole
 *   old assignment and runs before the new assignment is used; it runs when a
 *   heartbeat of a waiting batch reports the rebalance, or else before
 *   kafkajs sends its JoinGroup (`rejoin_patch.ts`): either way still in the
 *   old generation, which the broker accepts commits from while the group
 *   prepares the rebalance, so the listener's commits succeed and the next
 *   owners do not process those events again (GROUP_JOIN revokes too, in
 *   case the patch could not be applied). A kafkajs crash that restarts the
 *   consumer (the broker unreachable) revokes at once: the restart rejoins
 *   only after a backoff, by which time the group may have moved on.
 *   `onPartitionsAssigned(active, standbys)` follows;
 *   batches of the new generation wait for it. Listener calls never overlap.
 * - Assignment: the Faust assignor (`assigner.ts`). Changelog partitions
 *   whose number is not one of this member's source partitions are standbys:
 *   passed to the listener as such, paused in kafkajs, never returned by
 *   `poll()`, not in `assignment()`, not committable.
 *   `memberMetadata.tableStandbyReplicas` sets the standby count (default 1).
 * - `subscribe()` with another topic list stops the kafkajs consumer (leaving
 *   the group), creates a new one and joins again: kafkajs can neither
 *   subscribe while running nor unsubscribe. Cost: one full rebalance of the
 *   group (about a second with `group.initial.rebalance.delay.ms=0`, else
 *   the broker's delay, 3 s by default).
 * - Offsets are committed only by `commit()` (autoCommit off).
 *
 * @module
 */
import type {
  Admin,
  Consumer as KConsumer,
  EachBatchPayload,
  Kafka,
} from "kafkajs";
import { ClosedError, FaustError, StateError } from "../../errors.ts";
import { type TP, tpKey, tpString } from "../../util/types.ts";
import type {
  CommitOffset,
  Consumer,
  ConsumerOptions,
  TransportRecord,
} from "../transport.ts";
import {
  partitionAssigners,
  splitStandbys,
  standbyReplicasOf,
} from "./assigner.ts";
import type { KafkaSettings } from "./options.ts";
import { FetchBuffer } from "./fetch_buffer.ts";
import { fromMessage } from "./records.ts";
import { BEFORE_REJOIN, type GroupLike } from "./rejoin_patch.ts";

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const REBALANCING = new Set([
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR_FOR_GROUP",
  "NOT_COORDINATOR",
  "ILLEGAL_GENERATION",
]);

function groupByTopic(
  tps: readonly TP[],
): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const tp of tps) {
    let list = m.get(tp.topic);
    if (list === undefined) m.set(tp.topic, list = []);
    list.push(tp.partition);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

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
  /** kafkajs' group object of the current consumer (handed to the rejoin hook). */
  #group: GroupLike | undefined;
  /** Generation of the assignment in use (set when it is applied). */
  #generation: number | undefined;
  #joinWaiters: Waiter[] = [];
  #error: unknown;
  #closed = false;
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
    const consumer = this.#kafka.consumer({
      groupId: this.#options.groupId,
      partitionAssigners: partitionAssigners({
        memberMetadata: this.#options.memberMetadata ?? {},
        standbyReplicas: standbyReplicasOf(this.#options.memberMetadata),
        previous: () => this.#previous,
        ...(this.#options.onGroupAssignment === undefined
          ? {}
          : { onAssignment: this.#options.onGroupAssignment }),
      }).map((make) => (args) =>
        // Revoke (and commit, in the old generation) before every JoinGroup.
        Object.assign(make(args), {
          [BEFORE_REJOIN]: async (group: GroupLike) => {
            if (this.#consumer !== consumer) return;
            this.#group = group;
            this.#enqueue(() => this.#revokeAll());
            await this.#chain;
          },
        })
      ),
      sessionTimeout: this.#settings.sessionTimeoutMs,
      rebalanceTimeout: this.#settings.rebalanceTimeoutMs,
      heartbeatInterval: this.#settings.heartbeatIntervalMs,
      maxBytesPerPartition: this.#settings.maxFetchBytes,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      readUncommitted: !this.#settings.readCommitted,
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (this.#consumer !== consumer) return;
      const tps: TP[] = [];
      for (
        const [topic, partitions] of Object.entries(e.payload.memberAssignment)
      ) {
        for (const partition of partitions) tps.push({ topic, partition });
      }
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
      if (!e.payload.restart) this.#fail(e.payload.error);
      // kafkajs restarts by joining the group again, after a backoff that
      // can outlast the session timeout (the broker was unreachable): by
      // then the partitions may be another member's. Revoke now, so that
      // buffered records are not processed (and their table changes not
      // appended) by a worker that may have lost the partitions.
      else this.#enqueue(() => this.#revokeAll());
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
    const limit = this.#settings.rebalanceTimeoutMs +
      this.#settings.sessionTimeoutMs + 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        joined,
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new FaustError(
                  `Consumer of group "${this.#options.groupId}" got no assignment within ${limit} ms ` +
                    `(topics ${next.join(", ")})`,
                ),
              ),
            limit,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
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
    const out = new Map<string, number>();
    if (tps.length === 0) return out;
    const admin = await this.#admin();
    const topics = [...new Set(tps.map((tp) => tp.topic))];
    const res = await admin.fetchOffsets({
      groupId: this.#options.groupId,
      topics,
    });
    const wanted = new Set(tps.map(tpKey));
    for (const t of res) {
      for (const p of t.partitions) {
        const key = tpKey({ topic: t.topic, partition: p.partition });
        const offset = Number(p.offset);
        if (wanted.has(key) && offset >= 0) out.set(key, offset);
      }
    }
    return out;
  }

  /** Move the read position of an assigned partition; buffered records of it are dropped. */
  seek(tp: TP, offset: number): void {
    const consumer = this.#requireAssigned(tp, "seek");
    this.#buffer.drop((key) => key === tpKey(tp));
    consumer.seek({
      topic: tp.topic,
      partition: tp.partition,
      offset: String(offset),
    });
  }

  /** Stop returning and fetching records of these partitions. */
  pause(tps: readonly TP[]): void {
    this.#buffer.pause(tps.map(tpKey));
    this.#consumer?.pause(groupByTopic(tps));
  }

  /** Resume paused partitions. */
  resume(tps: readonly TP[]): void {
    this.#consumer?.resume(groupByTopic(tps));
    this.#buffer.resume(tps.map(tpKey));
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
    this.#buffer.push(
      key,
      batch.messages.map((m) => fromMessage(batch.topic, batch.partition, m)),
    );
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
