/**
 * Dispatch: a poll's records go to the streams one partition run at a time.
 * Room in the stream buffers is checked once per stretch of records; each
 * record is decoded once per topic description and handed to every
 * subscribed stream. With exactly one stream the event acks straight into
 * its partition's tracker; with several, a shared reference count acks the
 * record when the last stream is done.
 *
 * @module
 */
import type { PartitionTracker } from "../delivery/acks.ts";
import {
  Delivery,
  Event,
  type EventInit,
  type Mutable,
  type Releaser,
} from "../delivery/event.ts";
import { errorLine } from "../errors.ts";
import type { AsyncQueue } from "../delivery/queue.ts";
import type { TransportRecord } from "../transport/transport.ts";
import { nextTurn } from "../util/turn.ts";
import { parseTpKey, tpKey, tpString } from "../util/types.ts";
import { BackPressure } from "./back_pressure.ts";
import type { Commits } from "./commits.ts";
import type { DecodeErrors } from "./decode_errors.ts";
import type { AnyTopic, ConsumerState } from "./state.ts";

/**
 * Decoded events kept ahead of one stream, at most. Records fetched beyond
 * wait undecoded in their partition's backlog (bounded by one poll, the
 * partition paused) and are decoded when the buffer is half empty: a
 * decoded event (its `Event`, key and value) that waits through several
 * young-generation collections costs far more to collect than one that is
 * handed out soon after it is made (measured on local:// forward: about 10%
 * less CPU per event than decoding 4096 ahead).
 */
export const DECODE_AHEAD = 512;

/** How many decoded events may wait in `q`: its size, up to {@linkcode DECODE_AHEAD}. */
function decodeAhead(q: { readonly maxsize: number }): number {
  return q.maxsize < DECODE_AHEAD ? q.maxsize : DECODE_AHEAD;
}

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

/** Polls the consumer and hands records to the streams. */
export class Dispatcher {
  readonly #s: ConsumerState;
  readonly #commits: Commits;
  readonly #errors: DecodeErrors;
  readonly #back: BackPressure;
  /** Per assignment (tracker), where its single-stream events ack. */
  readonly #acks = new WeakMap<PartitionTracker, PartitionAcks>();
  /** What an event of a single-stream topic is decoded into (it copies it). */
  readonly #scratch: Mutable<EventInit<unknown, unknown>> = {
    key: null,
    value: null,
    headers: {},
    topic: "",
    partition: 0,
    offset: 0,
    timestamp: 0,
    rawKey: null,
    rawValue: null,
  };

  /** Over the shared consumer state `s`. */
  constructor(s: ConsumerState, commits: Commits, errors: DecodeErrors) {
    this.#s = s;
    this.#commits = commits;
    this.#errors = errors;
    this.#back = new BackPressure(
      s,
      (k, records, at) => this.dispatchRun(k, records, at),
    );
  }

  /** Poll and dispatch until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const s = this.#s;
    const max = s.host.conf.brokerMaxPollRecords ?? 1000;
    const eos = s.host.commitTransaction !== undefined;
    while (!signal.aborted) {
      // Delivery runs on promise callbacks only while records are at hand
      // (local:// polls without I/O): let the event loop run once per poll
      // (at most brokerMaxPollRecords events apart), or timers (the commit
      // interval, web requests, signals), the producer's writes and their
      // acknowledgements would all wait until the backlog is drained or
      // delivery pauses. One setImmediate per poll costs next to nothing.
      await nextTurn();
      let records: TransportRecord[];
      // Taken before the poll: a restart that begins while it runs makes
      // what it returns stale (see stopPoll).
      const generation = s.generation;
      const stop = eos ? new AbortController() : undefined;
      let polling: Promise<TransportRecord[]>;
      try {
        polling = s.consumer!.poll(
          max,
          1000,
          stop === undefined ? signal : AbortSignal.any([signal, stop.signal]),
        );
        if (stop !== undefined) {
          s.stopPoll = () => {
            stop.abort();
            return polling.then(() => {}, () => {});
          };
        }
        records = await polling;
      } catch (error) {
        if (signal.aborted) return;
        s.host.log.error(
          "Polling the broker failed, retrying in 1s: {error}",
          { error: errorLine(error) },
        );
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      } finally {
        s.stopPoll = undefined;
      }
      if (eos) this.#noteOrigins(records);
      while (s.barrier !== undefined) await s.barrier;
      // Polled before the partitions went back to their committed offsets
      // (a restart ran meanwhile): the consumer fetches them again.
      if (generation !== s.generation) continue;
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
        this.dispatchRun(tpKey(first), records.slice(i, j), 0);
        i = j;
      }
    }
  }

  /**
   * Exactly-once: remember where each partition without a committed offset
   * began (its first record polled), before a restart can make these
   * records stale: the restart goes back there.
   */
  #noteOrigins(records: readonly TransportRecord[]): void {
    const s = this.#s;
    let last: TransportRecord | undefined;
    for (const r of records) {
      if (
        last !== undefined && r.partition === last.partition &&
        r.topic === last.topic
      ) continue;
      last = r;
      const k = tpKey(r);
      if (s.origins.has(k) || !((s.trackers.get(k)?.committed ?? 0) < 0)) {
        continue;
      }
      s.origins.set(k, r.offset);
    }
  }

  /**
   * Deliver `records[from..]`, all of partition `k`, in order, until a
   * stream buffer holds its {@linkcode DECODE_AHEAD} events; the rest then
   * waits undecoded (its partition paused) until that buffer is half empty.
   */
  dispatchRun(k: string, records: TransportRecord[], from: number): void {
    const s = this.#s;
    if (s.failed) return;
    const tracker = s.trackers.get(k);
    // Revoked meanwhile, or being revoked: the new owner reads it.
    if (tracker === undefined || s.leaving.has(k)) return;
    // Below where this assignment's delivery stands: delivered already (a
    // record's ack in this tracker decides its commit), or below the
    // committed offset (fetched from a position read before the previous
    // owner's last commit, see onPartitionsAssigned). Processed again, it
    // would be twice in one exactly-once transaction.
    if (from < records.length && records[from]!.offset < tracker.next) {
      from = this.#skipDelivered(k, tracker, records, from);
    }
    if (from === records.length) return;
    const blocked = s.blocked.get(k);
    if (blocked !== undefined) {
      for (let i = from; i < records.length; i++) {
        blocked.records.push(records[i]!);
      }
      return;
    }
    // Too many sends wait for the broker (agents that do not await them):
    // hold this partition until the producer ebbs.
    const ebb = s.host.producerEbb?.();
    if (ebb !== undefined) {
      this.#back.block(k, records, from, "producerBufferFull");
      void ebb.then(() => this.#back.unblock(k));
      return;
    }
    const first = records[from]!;
    const topics = s.topics.get(first.topic);
    let acks = this.#acks.get(tracker);
    if (acks === undefined) {
      acks = new PartitionAcks(tracker, (o, t) => this.#commits.acked(k, o, t));
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
            const r = decodeAhead(q) - q.size;
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
        this.#back.block(k, records, i, "topicBufferFull");
        full.onEbb(() => this.#back.unblock(k), decodeAhead(full) >> 1);
        return;
      }
      const end = i + room;
      s.host.monitor.messagesIn(records[end - 1]!, room);
      if (subscribers !== 1) single = undefined;
      for (; i < end; i++) {
        const ok = this.#deliver(records[i]!, topics, single, tracker, acks, k);
        if (!ok) return;
      }
    }
  }

  /**
   * Skip the records of `k` from `from` on below `tracker.next`; returns
   * the index of the first one to deliver. Those at or above the committed
   * offset were delivered by this assignment already: the consumer returned
   * them again, which is logged.
   */
  #skipDelivered(
    k: string,
    tracker: PartitionTracker,
    records: TransportRecord[],
    from: number,
  ): number {
    const next = tracker.next;
    let i = from;
    let again = 0;
    for (; i < records.length && records[i]!.offset < next; i++) {
      if (records[i]!.offset >= tracker.committed) again++;
    }
    if (again > 0) {
      this.#s.host.log.warn(
        "Partition {tp}: the consumer returned {count} records again that this assignment delivered already (offsets {first}-{last}, delivery stands at {next}); skipped",
        {
          tp: tpString(parseTpKey(k)),
          count: again,
          first: records[from]!.offset,
          last: records[i - 1]!.offset,
          next,
        },
      );
    }
    return i;
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
    const s = this.#s;
    tracker.delivered(record.offset);
    const sensors = s.host.monitor.sensors;
    if (sensors.size > 0) {
      for (const s of sensors) s.onMessageIn?.(record, record.offset);
    }
    if (single !== undefined) {
      // The common case: one stream, whose ack goes straight to the
      // partition's bookkeeping (no reference count, no closure).
      let init: EventInit<unknown, unknown>;
      try {
        init = single.decodeInto(record, this.#scratch);
      } catch (error) {
        return this.#errors.single(record, error, acks);
      }
      const event = new Event(init, acks);
      if (s.host.commitTransaction !== undefined) {
        s.owners.set(event, tracker);
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
        const err = this.#errors.report(record, error);
        const policy = s.host.conf.decodeErrorPolicy;
        if (policy === "fail") failed ??= err;
        else if (policy === "dead-letter") deadLetter = err;
      }
    }
    if (failed !== undefined) {
      this.#errors.fail(record, failed);
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
      () => this.#commits.acked(k, record.offset, tracker),
    );
    const track = s.host.commitTransaction !== undefined;
    for (const [t, init] of targets) {
      for (const q of t.queues) {
        const event = new Event(init, delivery);
        if (track) s.owners.set(event, tracker);
        q.forcePut(event);
      }
    }
    if (deadLetter !== undefined) {
      this.#errors.deadLetter(record, deadLetter, delivery);
    }
    return true;
  }
}
