/**
 * The conductor: the app's one group consumer. It polls records, decodes
 * them once per topic description, hands an event to every subscribed
 * stream, tracks acks per partition and commits only up to the lowest
 * unacked offset. A full stream buffer pauses that partition (its fetched
 * records wait, bounded by one poll) instead of dropping anything.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { PartitionTracker } from "./acks.ts";
import { Delivery, Event, type EventInit, type Releaser } from "./event.ts";
import { errorLine } from "./errors.ts";
import type { AsyncQueue } from "./queue.ts";
import type { Monitor } from "./monitor.ts";
import type { Settings } from "./settings/settings.ts";
import type { Topic } from "./topic.ts";
import type {
  CommitOffset,
  Consumer,
  GroupMember,
  RebalanceListener,
  Transport,
  TransportRecord,
} from "./transport/transport.ts";
import { parseTpKey, type TP, tpKey, tpString } from "./types.ts";

/** What the conductor needs from the app. */
export interface ConductorHost {
  /** Settings. */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** Counters. */
  readonly monitor: Monitor;
  /** The transport. */
  readonly transport: Transport;
  /** Send an undecodable record to the dead-letter topic. */
  deadLetter(record: TransportRecord, error: Error): Promise<void>;
  /**
   * Partitions were assigned, before their committed offsets are read
   * (exactly-once fences the partitions' previous owners here, so an offset
   * commit of a worker that lost them cannot land after the read).
   */
  fence?(assigned: readonly TP[]): Promise<void>;
  /** Partitions were assigned (tables recover here, before delivery resumes). */
  assigned(assigned: readonly TP[], standbys: readonly TP[]): Promise<void>;
  /** Partitions are being revoked (after their offsets were committed). */
  revoked(revoked: readonly TP[]): Promise<void>;
  /** Stop the app because of `error`. */
  crash(error: Error): void;
  /** Make everything the acked events produced durable before their offsets commit. */
  beforeCommit(): Promise<void>;
  /**
   * Topics the group must assign to this member without delivering them
   * (table changelogs on a group-managed broker: the assignor co-partitions
   * them with the sources and hands out standbys; tables read them).
   */
  assignmentOnlyTopics(): readonly string[];
  /** What this member publishes to the group (its web URL, standby count). */
  memberMetadata(): Readonly<Record<string, string>>;
  /**
   * `undefined`, or a promise to wait on before delivering more events:
   * too many sends are still waiting for the broker.
   */
  producerEbb?(): Promise<void> | undefined;
  /** This member computed the group's assignment (publish it for routing). */
  groupAssigned?(members: readonly GroupMember[]): void;
  /**
   * Exactly-once: make the offsets (and everything the events before them
   * produced) durable inside the Kafka transactions, instead of committing
   * through the consumer. Absent for at-least-once.
   */
  readonly commitTransaction?: (
    offsets: readonly CommitOffset[],
  ) => Promise<void>;
  /** Exactly-once: what the transactions are doing, for a stall warning. */
  describeTransactions?(): string;
}

type AnyTopic = Topic<unknown, unknown>;

/**
 * The acks of one partition's single-stream events, straight into its
 * tracker: one object per assignment instead of one closure per event.
 */
class PartitionAcks implements Releaser {
  readonly #tracker: PartitionTracker;
  readonly #done: (offset: number, tracker: PartitionTracker) => void;

  constructor(
    tracker: PartitionTracker,
    done: (offset: number, tracker: PartitionTracker) => void,
  ) {
    this.#tracker = tracker;
    this.#done = done;
  }

  release(offset: number): void {
    this.#done(offset, this.#tracker);
  }
}

interface Blocked {
  readonly records: TransportRecord[];
  at: number;
}

/** Consumes subscribed topics and delivers to streams. */
export class Conductor implements RebalanceListener {
  readonly #host: ConductorHost;
  readonly #topics = new Map<string, Set<AnyTopic>>();
  readonly #trackers = new Map<string, PartitionTracker>();
  /** Per partition, records waiting for buffer space (from `at` on). */
  readonly #blocked = new Map<string, Blocked>();
  /** Partitions this conductor paused because a stream buffer was full. */
  readonly #paused = new Set<string>();
  /** Per assignment (tracker), where its single-stream events ack. */
  readonly #acks = new WeakMap<PartitionTracker, PartitionAcks>();
  #consumer: Consumer | undefined;
  #controller = new AbortController();
  #loop: Promise<void> | undefined;
  #commitTimer: ReturnType<typeof setInterval> | undefined;
  #livelockTimer: ReturnType<typeof setInterval> | undefined;
  /** Per partition: the committed offset last seen, since when, last warning. */
  readonly #progressSeen = new Map<
    string,
    { committed: number; since: number; warned: number }
  >();
  #acksSinceCommit = 0;
  #commitDue = false;
  #commitChain: Promise<void> = Promise.resolve();
  /** Commits queued or running on `#commitChain`. */
  #commitsQueued = 0;
  /**
   * Exactly-once: no periodic commit before this time (`performance.now()`),
   * so that events get at least as much time as the last commit held
   * delivery. Without it, commits slower than `brokerCommitInterval` (a
   * loaded broker) ran back to back, and an agent that awaits its sends
   * processed about one event per commit.
   */
  #commitNotBefore = 0;
  #resubscribe: Promise<void> | undefined;
  #barrier: Promise<void> | undefined;
  /** Exactly-once commit in progress: its step and since when (stall warnings). */
  #commitStep: { what: string; since: number } | undefined;
  /** Events of partitions being revoked that were dropped unprocessed. */
  #dropped = new Map<string, Set<number>>();
  /** A record failed to decode under `decodeErrorPolicy: "fail"`: deliver nothing more. */
  #failed = false;
  /** The last assignment (active, standbys), to take it again after a failed transaction. */
  #assignment: { active: readonly TP[]; standbys: readonly TP[] } | undefined;
  /** Exactly-once: the tracker each delivered event was counted in. */
  readonly #owners = new WeakMap<Event<unknown, unknown>, PartitionTracker>();
  /** Bumped when the trackers are replaced outside a rebalance (records polled before are stale). */
  #generation = 0;
  /** A revocation runs: a failed commit is left to it. */
  #revoking = false;

  /** Create the conductor for `host`. */
  constructor(host: ConductorHost) {
    this.#host = host;
  }

  /** Names of the topics subscribed: those delivered and the assignment-only ones. */
  get topicNames(): string[] {
    return [
      ...new Set([
        ...this.#topics.keys(),
        ...this.#host.assignmentOnlyTopics(),
      ]),
    ];
  }

  /** Whether events of `topic` come from this consumer. */
  consumes(topic: string): boolean {
    return this.#topics.has(topic);
  }

  /**
   * Whether `event` belongs to the current assignment of its partition
   * (false for an event still in hand from before a revocation or a
   * restart of the partition's transaction: its output must not go into
   * the transaction that now holds the partition).
   */
  isCurrent(event: Event<unknown, unknown>): boolean {
    const owner = this.#owners.get(event);
    return owner === undefined || this.#trackers.get(tpKey(event)) === owner;
  }

  /** Assigned partitions. */
  assignment(): TP[] {
    return this.#consumer?.assignment() ?? [];
  }

  /** Add a topic description with subscribed streams. */
  add(topic: AnyTopic): void {
    let set = this.#topics.get(topic.name);
    const isNew = set === undefined;
    if (set === undefined) this.#topics.set(topic.name, set = new Set());
    set.add(topic);
    if (isNew && this.#consumer !== undefined) {
      const previous = this.#resubscribe ?? Promise.resolve();
      this.#resubscribe = previous.then(() =>
        this.#consumer?.subscribe(this.topicNames)
      ).catch((error) => {
        this.#host.log.error("Subscribing to {topic} failed: {error}", {
          topic: topic.name,
          error,
        });
      });
    }
  }

  /** Create the consumer, subscribe, and start polling. */
  async start(): Promise<void> {
    const { conf, transport } = this.#host;
    this.#controller = new AbortController();
    this.#failed = false;
    this.#consumer = transport.createConsumer({
      groupId: conf.appId,
      listener: this,
      autoOffsetReset: conf.consumerAutoOffsetReset,
      memberMetadata: this.#host.memberMetadata(),
      onGroupAssignment: (members) => this.#host.groupAssigned?.(members),
    });
    await this.#consumer.subscribe(this.topicNames);
    this.#loop = this.#run();
    const interval = Math.max(10, conf.brokerCommitInterval * 1000);
    this.#commitTimer = setInterval(() => this.#periodicCommit(), interval);
    const limit = conf.brokerCommitLivelockSoftTimeout * 1000;
    if (limit > 0) {
      const tick = Math.max(10, Math.min(1000, limit / 4));
      this.#livelockTimer = setInterval(() => this.#checkLivelock(limit), tick);
    }
  }

  /**
   * Warn about every partition whose committed offset has not moved for
   * `brokerCommitLivelockSoftTimeout` while it has events delivered and
   * not committed (a stuck agent, or commits that keep failing); again
   * each further period it stays so.
   */
  #checkLivelock(limit: number): void {
    const now = performance.now();
    for (const [k, t] of this.#trackers) {
      const seen = this.#progressSeen.get(k);
      const waiting = t.inFlight > 0 || t.committable() > t.committed;
      if (seen === undefined || seen.committed !== t.committed || !waiting) {
        this.#progressSeen.set(k, {
          committed: t.committed,
          since: now,
          warned: now,
        });
        continue;
      }
      if (now - seen.since <= limit || now - seen.warned <= limit) continue;
      seen.warned = now;
      this.#host.monitor.count("commitLivelocks");
      const step = this.#commitStep;
      this.#host.log.warn(
        "Partition {tp} has not committed for {seconds} s while events wait: committed offset {committed}, {unacked} events delivered and not acked (lowest {offset}) (brokerCommitLivelockSoftTimeout {limit} s){commit}{transactions}",
        {
          tp: tpString(parseTpKey(k)),
          seconds: Math.round(now - seen.since) / 1000,
          committed: t.committed,
          unacked: t.inFlight,
          offset: t.inFlight > 0 ? t.committable() : "none",
          limit: limit / 1000,
          commit: step === undefined
            ? ""
            : `; commit ${step.what} for ${
              ((now - step.since) / 1000).toFixed(1)
            } s`,
          transactions: this.#host.describeTransactions === undefined
            ? ""
            : `; transactions: ${this.#host.describeTransactions()}`,
        },
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
    this.#progressSeen.clear();
  }

  /** Stop fetching, commit what was acked, close the consumer. */
  async stop(): Promise<void> {
    this.pause();
    await this.#loop;
    await this.#resubscribe;
    await this.commit();
    await this.#consumer?.close();
    this.#consumer = undefined;
    this.#trackers.clear();
    this.#blocked.clear();
    this.#paused.clear();
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    const max = this.#host.conf.brokerMaxPollRecords ?? 1000;
    while (!signal.aborted) {
      let records: TransportRecord[];
      try {
        records = await this.#consumer!.poll(max, 1000, signal);
      } catch (error) {
        if (signal.aborted) return;
        this.#host.log.error(
          "Polling the broker failed, retrying in 1s: {error}",
          { error: errorLine(error) },
        );
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const generation = this.#generation;
      while (this.#barrier !== undefined) await this.#barrier;
      // Polled before the partitions went back to their committed offsets
      // (a restart ended meanwhile): the consumer fetches them again.
      if (generation !== this.#generation) continue;
      // A poll returns each partition's records together and in order: hand
      // them over one partition run at a time.
      let i = 0;
      while (i < records.length) {
        const first = records[i]!;
        let j = i + 1;
        while (
          j < records.length && records[j]!.partition === first.partition &&
          records[j]!.topic === first.topic
        ) j++;
        this.#dispatchRun(tpKey(first), records.slice(i, j), 0);
        i = j;
      }
    }
  }

  /**
   * Deliver `records[from..]`, all of partition `k`, in order, until a
   * stream buffer is full; the rest then waits (its partition paused) until
   * that buffer is half empty.
   */
  #dispatchRun(k: string, records: TransportRecord[], from: number): void {
    if (this.#failed) return;
    const tracker = this.#trackers.get(k);
    if (tracker === undefined) return; // revoked meanwhile; the new owner reads it
    // Below the committed offset: fetched from a position read before the
    // previous owner's last transaction completed (see onPartitionsAssigned).
    while (
      this.#host.commitTransaction !== undefined && from < records.length &&
      records[from]!.offset < tracker.committed
    ) {
      from++;
    }
    if (from === records.length) return;
    const blocked = this.#blocked.get(k);
    if (blocked !== undefined) {
      for (let i = from; i < records.length; i++) {
        blocked.records.push(records[i]!);
      }
      return;
    }
    // Too many sends wait for the broker (agents that do not await them):
    // hold this partition until the producer ebbs.
    const ebb = this.#host.producerEbb?.();
    if (ebb !== undefined) {
      this.#block(k, records, from, "producerBufferFull");
      void ebb.then(() => this.#unblock(k));
      return;
    }
    const first = records[from]!;
    const topics = this.#topics.get(first.topic);
    let acks = this.#acks.get(tracker);
    if (acks === undefined) {
      acks = new PartitionAcks(tracker, (o, t) => this.#acked(k, o, t));
      this.#acks.set(tracker, acks);
    }
    let i = from;
    while (i < records.length) {
      // Room in every buffer of the topic: deliver that many without
      // checking each record (deliveries below only fill the buffers).
      let room = records.length - i;
      let full: AsyncQueue<Event<unknown, unknown>> | undefined;
      // The one stream of the topic, when there is exactly one.
      let single: AnyTopic | undefined;
      let subscribers = 0;
      if (topics !== undefined) {
        for (const t of topics) {
          subscribers += t.queues.length;
          if (t.queues.length > 0) single = t;
          for (const q of t.queues) {
            const r = q.maxsize - q.size;
            if (r <= 0) {
              full = q;
              break;
            }
            if (r < room) room = r;
          }
          if (full !== undefined) break;
        }
      }
      if (full !== undefined) {
        this.#block(k, records, i, "topicBufferFull");
        full.onEbb(() => this.#unblock(k));
        return;
      }
      const end = i + room;
      this.#host.monitor.messagesIn(records[end - 1]!, room);
      if (subscribers !== 1) single = undefined;
      for (; i < end; i++) {
        const ok = this.#deliver(records[i]!, topics, single, tracker, acks, k);
        if (!ok) return;
      }
    }
  }

  /**
   * Deliver one record to every stream of its topic (`single`: the topic
   * description of its only stream); false when the app must stop.
   */
  #deliver(
    record: TransportRecord,
    topics: Set<AnyTopic> | undefined,
    single: AnyTopic | undefined,
    tracker: PartitionTracker,
    acks: PartitionAcks,
    k: string,
  ): boolean {
    tracker.delivered(record.offset);
    const sensors = this.#host.monitor.sensors;
    if (sensors.size > 0) {
      for (const s of sensors) s.onMessageIn?.(record, record.offset);
    }
    if (single !== undefined) {
      // The common case: one stream, whose ack goes straight to the
      // partition's bookkeeping (no reference count, no closure).
      let init: EventInit<unknown, unknown>;
      try {
        init = single.decode(record);
      } catch (error) {
        return this.#decodeFailed(record, error, tracker, acks, k);
      }
      const event = new Event(init, acks);
      if (this.#host.commitTransaction !== undefined) {
        this.#owners.set(event, tracker);
      }
      single.queues[0]!.forcePut(event);
      return true;
    }
    const targets: Array<[AnyTopic, EventInit<unknown, unknown>]> = [];
    let deadLetter: Error | undefined;
    let failed: Error | undefined;
    for (const t of topics ?? []) {
      if (t.queues.length === 0) continue;
      try {
        targets.push([t, t.decode(record)]);
      } catch (error) {
        const err = this.#decodeError(record, error);
        const policy = this.#host.conf.decodeErrorPolicy;
        if (policy === "fail") failed ??= err;
        else if (policy === "dead-letter") deadLetter = err;
      }
    }
    if (failed !== undefined) {
      this.#fail(record, failed);
      return false;
    }
    let refs = deadLetter !== undefined ? 1 : 0;
    for (const [t] of targets) refs += t.queues.length;
    // The ack goes to this tracker only: an event still in hand when its
    // partition was revoked must not count in the tracker of a later
    // assignment of the same partition (it would hide an event in hand
    // there, and a commit would go ahead without waiting for it).
    const delivery = new Delivery(
      refs,
      () => this.#acked(k, record.offset, tracker),
    );
    const track = this.#host.commitTransaction !== undefined;
    for (const [t, init] of targets) {
      for (const q of t.queues) {
        const event = new Event(init, delivery);
        if (track) this.#owners.set(event, tracker);
        q.forcePut(event);
      }
    }
    if (deadLetter !== undefined) {
      this.#deadLetter(record, deadLetter, delivery);
    }
    return true;
  }

  /** Count and log an undecodable record; the error to act on. */
  #decodeError(record: TransportRecord, error: unknown): Error {
    const err = error instanceof Error ? error : new Error(String(error));
    const policy = this.#host.conf.decodeErrorPolicy;
    this.#host.monitor.count("decodeErrors");
    this.#host.log.error(
      "Cannot decode {tp}@{offset} ({policy}): {error}",
      {
        tp: tpString(record),
        offset: record.offset,
        policy,
        error: err.message,
      },
    );
    return err;
  }

  /** The one stream's record did not decode: apply `decodeErrorPolicy`. */
  #decodeFailed(
    record: TransportRecord,
    error: unknown,
    tracker: PartitionTracker,
    acks: PartitionAcks,
    k: string,
  ): boolean {
    const err = this.#decodeError(record, error);
    const policy = this.#host.conf.decodeErrorPolicy;
    if (policy === "fail") {
      this.#fail(record, err);
      return false;
    }
    if (policy === "dead-letter") {
      this.#deadLetter(
        record,
        err,
        new Delivery(1, () => this.#acked(k, record.offset, tracker)),
      );
    } else acks.release(record.offset);
    return true;
  }

  /** Write `record` to the dead-letter topic, then release `delivery`. */
  #deadLetter(record: TransportRecord, error: Error, delivery: Delivery): void {
    this.#host.deadLetter(record, error).then(
      () => delivery.release(),
      (error) =>
        this.#host.crash(
          new Error(`Cannot write to the dead-letter topic: ${error}`, {
            cause: error,
          }),
        ),
    );
  }

  /**
   * `decodeErrorPolicy: "fail"`: stop the app at `record`. It stays
   * delivered and never acked, so no commit passes it and the next start
   * reads it (and fails on it) again; nothing after it is delivered.
   */
  #fail(record: TransportRecord, error: Error): void {
    this.#failed = true;
    this.#consumer?.pause(this.assignment());
    this.#host.crash(
      new Error(
        `Cannot decode ${
          tpString(record)
        }@${record.offset} (decodeErrorPolicy "fail"; its offset is not committed): ${error.message}`,
        { cause: error },
      ),
    );
  }

  /** Hold `records[from..]` (and what follows) and pause their partition, once per stall. */
  #block(
    k: string,
    records: TransportRecord[],
    from: number,
    counter: string,
  ): void {
    this.#blocked.set(k, { records, at: from });
    if (!this.#paused.has(k)) {
      this.#paused.add(k);
      this.#host.monitor.count(counter);
      this.#consumer?.pause([records[from]!]);
    }
  }

  #unblock(k: string): void {
    // An exactly-once commit empties the buffers (which calls this): an
    // event delivered now would send into the transaction being committed
    // without its offset. Deliver after the commit.
    const barrier = this.#barrier;
    if (barrier !== undefined) {
      void barrier.then(() => this.#unblock(k));
      return;
    }
    const blocked = this.#blocked.get(k);
    this.#blocked.delete(k);
    if (blocked === undefined || !this.#trackers.has(k) || this.#failed) {
      return;
    }
    // Delivered in place (no copying: a long backlog costs O(1) per record);
    // when full again, #block keeps the same array from where it stopped.
    this.#dispatchRun(k, blocked.records, blocked.at);
    const again = this.#blocked.get(k);
    if (again !== undefined) {
      if (again.at > 1024 && again.at * 2 > again.records.length) {
        again.records.splice(0, again.at);
        again.at = 0;
      }
      return;
    }
    this.#paused.delete(k);
    this.#consumer?.resume([parseTpKey(k)]);
  }

  #acked(k: string, offset: number, from: PartitionTracker): void {
    const tracker = this.#trackers.get(k);
    if (tracker === undefined || tracker !== from) return;
    tracker.acked(offset);
    this.#host.monitor.eventDone();
    if (
      ++this.#acksSinceCommit >= this.#host.conf.brokerCommitEvery &&
      !this.#commitDue
    ) {
      // One commit per threshold: acks that arrive while it waits (for the
      // producer to flush) must not each queue another commit.
      this.#commitDue = true;
      void this.commit().finally(() => this.#commitDue = false);
    }
  }

  /** Offsets that advanced since the last commit, with their trackers. */
  #progress(only?: readonly TP[]): {
    offsets: CommitOffset[];
    trackers: Array<[PartitionTracker, number]>;
  } {
    const wanted = only === undefined ? undefined : new Set(only.map(tpKey));
    const offsets: CommitOffset[] = [];
    const trackers: Array<[PartitionTracker, number]> = [];
    for (const [k, t] of this.#trackers) {
      if (wanted !== undefined && !wanted.has(k)) continue;
      const c = t.committable();
      if (c > t.committed) {
        offsets.push({ ...parseTpKey(k), offset: c });
        trackers.push([t, c]);
      }
    }
    return { offsets, trackers };
  }

  #committed(
    offsets: readonly CommitOffset[],
    trackers: ReadonlyArray<[PartitionTracker, number]>,
    t0: number,
  ): void {
    for (const [t, c] of trackers) t.committed = c;
    for (const o of offsets) {
      this.#host.monitor.partition(o).committed = o.offset;
    }
    this.#host.monitor.count("commits");
    for (const s of this.#host.monitor.sensors) {
      s.onCommitCompleted?.(performance.now() - t0);
    }
  }

  /**
   * The timer's commit: skipped while another commit is queued or running
   * (they would pile up behind a slow one), and under exactly-once until
   * the events had as much time as the last commit took.
   */
  #periodicCommit(): void {
    if (this.#commitsQueued > 0) return;
    if (performance.now() < this.#commitNotBefore) return;
    void this.commit();
  }

  /** Commit, for every partition, up to its lowest unacked offset. */
  async commit(only?: readonly TP[]): Promise<void> {
    // Strictly one at a time: two commits computing the same offsets while
    // the producer flushes would both send them.
    this.#commitsQueued++;
    const run = this.#commitChain.then(() => this.#commitNow(only)).finally(
      () => this.#commitsQueued--,
    );
    this.#commitChain = run.catch(() => {});
    await run;
  }

  async #commitNow(only?: readonly TP[]): Promise<void> {
    const consumer = this.#consumer;
    if (consumer === undefined) return;
    if (this.#host.commitTransaction !== undefined) {
      return await this.#commitExactlyOnce();
    }
    const { offsets, trackers } = this.#progress(only);
    if (offsets.length === 0) return;
    this.#acksSinceCommit = 0;
    try {
      await this.#host.beforeCommit();
    } catch (error) {
      // What the acked events produced is not durable: committing now could lose it.
      this.#host.monitor.count("commitErrors");
      this.#host.log.error(
        "Not committing: flushing sends and tables failed: {error}",
        { error: errorLine(error) },
      );
      this.#host.crash(
        error instanceof Error ? error : new Error(String(error)),
      );
      return;
    }
    const t0 = performance.now();
    await consumer.commit(offsets).then(() => {
      this.#committed(offsets, trackers, t0);
    }, (error) => {
      this.#host.monitor.count("commitErrors");
      this.#host.log.error(
        "Commit failed (will retry at the next interval): {error}",
        { error: errorLine(error) },
      );
    });
  }

  /**
   * Exactly-once commit: hold delivery, wait until every delivered event is
   * done (so each transaction holds exactly the output of the events before
   * its offsets), commit the transactions, resume. Always every partition:
   * a transaction cannot commit its sends without its offsets.
   */
  async #commitExactlyOnce(): Promise<void> {
    const started = performance.now();
    let open!: () => void;
    this.#barrier = new Promise((resolve) => open = resolve);
    await (async () => {
      // Events still queued have produced nothing: set them aside (they go
      // back in front after the commit) and wait only for those in hand.
      const { taken, offsets: queued } = this.#takeQueued(() => true);
      let restarted = false;
      try {
        for (const [k, dropped] of this.#dropped) {
          const set = queued.get(k) ?? new Set<number>();
          for (const o of dropped) set.add(o);
          queued.set(k, set);
        }
        const tps = [...this.#trackers.keys()].map(parseTpKey);
        this.#commitStep = {
          what: "waiting for the events in hand",
          since: performance.now(),
        };
        if (!await this.#settle(tps, queued)) return;
        const { offsets, trackers } = this.#progress();
        if (offsets.length === 0) return;
        this.#acksSinceCommit = 0;
        const t0 = performance.now();
        this.#commitStep = { what: "committing the transactions", since: t0 };
        try {
          await this.#host.commitTransaction!(offsets);
        } catch (error) {
          this.#host.monitor.count("commitErrors");
          if (this.#revoking) {
            // The revocation closes the producers (aborting what is open);
            // the next owner's producer completes or aborts this one.
            this.#host.log.warn(
              "Exactly-once commit at revocation failed; the next owner goes on from the committed offsets: {error}",
              { error: errorLine(error) },
            );
            return;
          }
          restarted = true;
          await this.#restart(error);
          return;
        }
        this.#committed(offsets, trackers, t0);
      } catch (error) {
        this.#host.monitor.count("commitErrors");
        this.#host.log.error("Exactly-once commit failed: {error}", {
          error: errorLine(error),
        });
        this.#host.crash(
          error instanceof Error ? error : new Error(String(error)),
        );
      } finally {
        // After a restart the queued events are stale: the consumer fetches
        // them again from the committed offsets.
        if (!restarted) {
          for (const [q, events] of taken) q.putFront(events);
        }
        this.#barrier = undefined;
        this.#commitStep = undefined;
        const end = performance.now();
        this.#commitNotBefore = end + (end - started);
        open();
      }
    })();
  }

  /**
   * Exactly-once: a transaction failed to commit (fenced or expired by
   * the broker, e.g. after an outage longer than its timeout, or its
   * outcome unknown). Handled like a revocation of every partition
   * followed by their assignment to this worker again: the producers
   * close (aborting what is open), tables drop the changes no commit
   * released, new producers fence the old ones (completing or aborting
   * the failed transaction), and every partition goes back to its
   * committed offset; tables recover from their changelogs. Runs under
   * the commit's barrier (no delivery); events still in hand from before
   * count for nothing ({@linkcode isCurrent}). Throws (the caller
   * crashes the app) when that fails too.
   */
  async #restart(cause: unknown): Promise<void> {
    const consumer = this.#consumer;
    const assignment = this.#assignment;
    if (consumer === undefined || assignment === undefined) throw cause;
    const tps = [...this.#trackers.keys()].map(parseTpKey);
    this.#host.log.warn(
      "Exactly-once commit failed ({error}): aborting the transactions of {tps} and going back to their committed offsets",
      { error: errorLine(cause), tps: tps.map(tpString).join(", ") },
    );
    const paused = tps.filter((tp) => this.#paused.delete(tpKey(tp)));
    if (paused.length > 0) consumer.resume(paused);
    for (const tp of tps) {
      this.#trackers.delete(tpKey(tp));
      this.#blocked.delete(tpKey(tp));
    }
    await this.#host.revoked(assignment.active);
    await this.onPartitionsAssigned(assignment.active, assignment.standbys);
    for (const tp of tps) {
      const t = this.#trackers.get(tpKey(tp));
      if (t === undefined) continue;
      if (t.committed < 0) {
        throw new Error(
          `Cannot go back to the committed offset of ${
            tpString(tp)
          } after a failed exactly-once commit: the group has none`,
          { cause },
        );
      }
    }
    // Records polled until now (still under this barrier) predate the seek.
    this.#generation++;
    this.#host.monitor.count("transactionRestarts");
  }

  /**
   * @internal Rebalance: drop the buffered events of the revoked partitions
   * (unacked, so their offsets are not committed: the new owner reads them),
   * wait (bounded) for the events in hand to finish so their table writes
   * and sends happen before the partitions change hands, commit, forget.
   */
  async onPartitionsRevoked(revoked: readonly TP[]): Promise<void> {
    // A commit in progress holds queued events aside (exactly-once): let it
    // put them back, or they would count as in hand and the wait below
    // would run into its bound.
    await this.#commitChain;
    const dropped = this.#dropBuffered(revoked);
    this.#dropped = dropped;
    this.#revoking = true;
    try {
      await this.#settle(revoked, dropped);
      await this.commit(revoked);
    } finally {
      this.#dropped = new Map();
      this.#revoking = false;
    }
    // Pauses outlive assignments in the consumer: lift ours, or a partition
    // that comes back would stay paused.
    const paused = revoked.filter((tp) => this.#paused.delete(tpKey(tp)));
    if (paused.length > 0) this.#consumer?.resume(paused);
    for (const tp of revoked) {
      this.#trackers.delete(tpKey(tp));
      this.#blocked.delete(tpKey(tp));
    }
    await this.#host.revoked(revoked);
  }

  /** Take the queued (not yet in hand) events `match` selects out of every stream buffer. */
  #takeQueued(match: (e: Event<unknown, unknown>) => boolean): {
    taken: Array<
      [AsyncQueue<Event<unknown, unknown>>, Event<unknown, unknown>[]]
    >;
    offsets: Map<string, Set<number>>;
  } {
    const taken: Array<
      [AsyncQueue<Event<unknown, unknown>>, Event<unknown, unknown>[]]
    > = [];
    const offsets = new Map<string, Set<number>>();
    for (const set of this.#topics.values()) {
      for (const t of set) {
        for (const q of t.queues) {
          const events = q.removeWhere(match);
          if (events.length === 0) continue;
          taken.push([q, events]);
          for (const e of events) {
            let list = offsets.get(tpKey(e));
            if (list === undefined) offsets.set(tpKey(e), list = new Set());
            list.add(e.offset);
          }
        }
      }
    }
    return { taken, offsets };
  }

  /** Remove queued events of `tps` from every stream buffer; offsets per partition. */
  #dropBuffered(tps: readonly TP[]): Map<string, Set<number>> {
    const keys = new Set(tps.map(tpKey));
    const dropped = this.#takeQueued((e) => keys.has(tpKey(e))).offsets;
    let n = 0;
    for (const offsets of dropped.values()) n += offsets.size;
    if (n > 0) {
      this.#host.log.info(
        "Dropped {n} buffered events of revoked partitions (the new owner reads them)",
        { n },
      );
    }
    return dropped;
  }

  /** Wait until only dropped events of `tps` are unacked; false when the bound passed. */
  async #settle(
    tps: readonly TP[],
    dropped: Map<string, Set<number>>,
  ): Promise<boolean> {
    const busy = () =>
      tps.filter((tp) => {
        const t = this.#trackers.get(tpKey(tp));
        return t !== undefined &&
          t.inFlight > (dropped.get(tpKey(tp))?.size ?? 0);
      });
    const limitMs = Math.min(
      30_000,
      Math.max(1000, this.#host.conf.brokerRebalanceTimeout * 500),
    );
    const deadline = Date.now() + limitMs;
    while (busy().length > 0) {
      if (Date.now() > deadline) {
        this.#host.log.warn(
          "Events of {tps} still in hand after {ms} ms; committing only what was acked",
          { tps: busy().map(tpString).join(", "), ms: limitMs },
        );
        return false;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  /** @internal Rebalance: track new partitions from their committed offsets. */
  async onPartitionsAssigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    // Assignment-only partitions (changelogs) are read by the tables, not
    // fetched here: pause them, never track or commit them.
    this.#assignment = { active: assigned, standbys };
    const silent = assigned.filter((tp) => !this.#topics.has(tp.topic));
    if (silent.length > 0) this.#consumer?.pause(silent);
    await this.#host.fence?.(assigned);
    const fresh = assigned.filter((tp) =>
      this.#topics.has(tp.topic) && !this.#trackers.has(tpKey(tp))
    );
    const committed = fresh.length > 0
      ? await this.#consumer!.committed(fresh)
      : new Map<string, number>();
    for (const tp of fresh) {
      const c = committed.get(tpKey(tp));
      // kafkajs fetches from the offset it read when the group assigned the
      // partition, before the fence above let the previous owner's last
      // transaction complete (its offsets were not yet visible): fetch from
      // the offset read now instead, or those events are processed twice.
      if (c !== undefined && this.#host.commitTransaction !== undefined) {
        this.#consumer!.seek(tp, c);
      }
      const start = c ?? -1;
      const tracker = new PartitionTracker(Math.max(0, start));
      if (c === undefined) tracker.committed = -1;
      this.#trackers.set(tpKey(tp), tracker);
      const stats = this.#host.monitor.partition(tp);
      stats.committed = Math.max(0, start);
      stats.read = Math.max(stats.read, stats.committed);
      void this.#host.transport.highWatermark(tp).then(
        (hw) => stats.end = Math.max(stats.end, hw),
        () => {},
      );
    }
    if (fresh.length > 0) {
      this.#host.log.info("Assigned {tps}", {
        tps: fresh.map((tp) =>
          `${tpString(tp)}@${committed.get(tpKey(tp)) ?? "none"}`
        ).join(", "),
      });
    }
    for (const s of this.#host.monitor.sensors) s.onAssignment?.(assigned);
    await this.#host.assigned(assigned, standbys);
  }
}
