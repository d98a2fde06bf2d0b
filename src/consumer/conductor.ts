/**
 * The conductor: the app's one group consumer. It polls records, decodes
 * them once per topic description, hands an event to every subscribed
 * stream, tracks acks per partition and commits only up to the lowest
 * unacked offset. A full stream buffer pauses that partition (its fetched
 * records wait, bounded by one poll) instead of dropping anything.
 *
 * Its parts live in `consumer/`: dispatch, back-pressure, decode errors,
 * commits (at-least-once and exactly-once), rebalance, the livelock watch.
 *
 * @module
 */
import type { Event } from "../delivery/event.ts";
import type { RebalanceListener } from "../transport/transport.ts";
import type { TP } from "../util/types.ts";
import { Commits } from "./commits.ts";
import { DecodeErrors } from "./decode_errors.ts";
import { Dispatcher } from "./dispatch.ts";
import { ExactlyOnce, isCurrent } from "./exactly_once.ts";
import type { ConductorHost } from "./host.ts";
import { LivelockWatch } from "./livelock.ts";
import { Rebalance } from "./rebalance.ts";
import { type AnyTopic, ConsumerState } from "./state.ts";

export type { ConductorHost } from "./host.ts";

/** Consumes subscribed topics and delivers to streams. */
export class Conductor implements RebalanceListener {
  readonly #s: ConsumerState;
  readonly #commits: Commits;
  readonly #rebalance: Rebalance;
  readonly #eos: ExactlyOnce;
  readonly #dispatch: Dispatcher;
  readonly #livelock: LivelockWatch;
  #controller = new AbortController();
  #loop: Promise<void> | undefined;
  #commitTimer: ReturnType<typeof setInterval> | undefined;
  #livelockTimer: ReturnType<typeof setInterval> | undefined;
  #resubscribe: Promise<void> | undefined;

  /** Create the conductor for `host`. */
  constructor(host: ConductorHost) {
    const s = this.#s = new ConsumerState(host);
    const commits = this.#commits = new Commits(s, () => this.#eos.commit());
    this.#rebalance = new Rebalance(s, commits);
    this.#eos = new ExactlyOnce(
      s,
      commits,
      (cause) => this.#rebalance.restart(cause),
    );
    this.#dispatch = new Dispatcher(s, commits, new DecodeErrors(s));
    this.#livelock = new LivelockWatch(s);
  }

  /** Names of the topics subscribed: those delivered and the assignment-only ones. */
  get topicNames(): string[] {
    return [
      ...new Set([
        ...this.#s.topics.keys(),
        ...this.#s.host.assignmentOnlyTopics(),
      ]),
    ];
  }

  /** Whether events of `topic` come from this consumer. */
  consumes(topic: string): boolean {
    return this.#s.topics.has(topic);
  }

  /**
   * Whether `event` belongs to the current assignment of its partition
   * (false for an event still in hand from before a revocation or a
   * restart of the partition's transaction: its output must not go into
   * the transaction that now holds the partition).
   */
  isCurrent(event: Event<unknown, unknown>): boolean {
    return isCurrent(this.#s, event);
  }

  /** Assigned partitions. */
  assignment(): TP[] {
    return this.#s.consumer?.assignment() ?? [];
  }

  /** Group generation of the assignment in use, if the consumer tells it. */
  generation(): number | undefined {
    return this.#s.consumer?.generation?.();
  }

  /** Add a topic description with subscribed streams. */
  add(topic: AnyTopic): void {
    const s = this.#s;
    let set = s.topics.get(topic.name);
    const isNew = set === undefined;
    if (set === undefined) s.topics.set(topic.name, set = new Set());
    set.add(topic);
    if (isNew && s.consumer !== undefined) {
      const previous = this.#resubscribe ?? Promise.resolve();
      this.#resubscribe = previous.then(() =>
        s.consumer?.subscribe(this.topicNames)
      ).catch((error) => {
        s.host.log.error("Subscribing to {topic} failed: {error}", {
          topic: topic.name,
          error,
        });
      });
    }
  }

  /** Create the consumer, subscribe, and start polling. */
  async start(): Promise<void> {
    const s = this.#s;
    const { conf, transport } = s.host;
    this.#controller = new AbortController();
    s.failed = false;
    s.consumer = transport.createConsumer({
      groupId: conf.appId,
      listener: this,
      autoOffsetReset: conf.consumerAutoOffsetReset,
      memberMetadata: s.host.memberMetadata(),
      onGroupAssignment: (members) => s.host.groupAssigned?.(members),
    });
    await s.consumer.subscribe(this.topicNames);
    this.#loop = this.#dispatch.run(this.#controller.signal);
    const interval = Math.max(10, conf.brokerCommitInterval * 1000);
    this.#commitTimer = setInterval(() => this.#commits.periodic(), interval);
    const limit = conf.brokerCommitLivelockSoftTimeout * 1000;
    if (limit > 0) {
      const tick = Math.max(10, Math.min(1000, limit / 4));
      this.#livelockTimer = setInterval(
        () => this.#livelock.check(limit),
        tick,
      );
    }
  }

  /** Stop fetching; buffered events stay where they are. */
  pause(): void {
    this.#controller.abort();
    clearInterval(this.#commitTimer);
    this.#commitTimer = undefined;
    clearInterval(this.#livelockTimer);
    this.#livelockTimer = undefined;
    this.#livelock.clear();
  }

  /** Stop fetching, commit what was acked, close the consumer. */
  async stop(): Promise<void> {
    const s = this.#s;
    this.pause();
    await this.#loop;
    await this.#resubscribe;
    await this.commit();
    await s.consumer?.close();
    s.consumer = undefined;
    s.trackers.clear();
    s.blocked.clear();
    s.paused.clear();
  }

  /** Commit, for every partition, up to its lowest unacked offset. */
  async commit(only?: readonly TP[]): Promise<void> {
    await this.#commits.commit(only);
  }

  /**
   * @internal Rebalance: drop the buffered events of the revoked partitions
   * (unacked, so their offsets are not committed: the new owner reads them),
   * wait (bounded) for the events in hand to finish so their table writes
   * and sends happen before the partitions change hands, commit, forget.
   */
  async onPartitionsRevoked(revoked: readonly TP[]): Promise<void> {
    await this.#rebalance.revoked(revoked);
  }

  /** @internal Rebalance: track new partitions from their committed offsets. */
  async onPartitionsAssigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    await this.#rebalance.assigned(assigned, standbys);
  }
}
