/**
 * Rebalance: partitions assigned start tracking from their committed
 * offsets; partitions revoked drop their buffered events, let the events in
 * hand finish (bounded), commit and are forgotten. An exactly-once
 * transaction that fails to commit is handled as a revocation of every
 * partition followed by their assignment again.
 *
 * @module
 */
import { PartitionTracker } from "../delivery/acks.ts";
import { errorLine } from "../errors.ts";
import { parseTpKey, type TP, tpKey, tpString } from "../util/types.ts";
import { dropBuffered, settle } from "./buffered.ts";
import type { Commits } from "./commits.ts";
import type { ConsumerState } from "./state.ts";

/** Assignment and revocation of partitions. */
export class Rebalance {
  readonly #s: ConsumerState;
  readonly #commits: Commits;

  /** Over the shared consumer state `s`, committing through `commits`. */
  constructor(s: ConsumerState, commits: Commits) {
    this.#s = s;
    this.#commits = commits;
  }

  /**
   * Drop the buffered events of the revoked partitions (unacked, so their
   * offsets are not committed: the new owner reads them), wait (bounded)
   * for the events in hand to finish so their table writes and sends
   * happen before the partitions change hands, commit, forget.
   */
  async revoked(revoked: readonly TP[]): Promise<void> {
    const s = this.#s;
    // A commit in progress holds queued events aside (exactly-once): let it
    // put them back, or they would count as in hand and the wait below
    // would run into its bound.
    await this.#commits.settled;
    // Deliver nothing more of them: dropping the buffer below would wake the
    // records held back behind it, and the events made of those would be
    // processed here although their offsets can no longer be committed
    // (the next owner processes them again; under exactly-once, their
    // outputs would be committed without their offsets).
    for (const tp of revoked) {
      s.leaving.add(tpKey(tp));
      s.blocked.delete(tpKey(tp));
    }
    const dropped = dropBuffered(s, revoked);
    s.dropped = dropped;
    s.revoking = true;
    try {
      await settle(s, revoked, dropped);
      await this.#commits.commit(revoked);
    } finally {
      s.dropped = new Map();
      s.revoking = false;
      for (const tp of revoked) s.leaving.delete(tpKey(tp));
    }
    // Pauses outlive assignments in the consumer: lift ours, or a partition
    // that comes back would stay paused.
    const paused = revoked.filter((tp) => s.paused.delete(tpKey(tp)));
    if (paused.length > 0) s.consumer?.resume(paused);
    for (const tp of revoked) {
      s.trackers.delete(tpKey(tp));
      s.blocked.delete(tpKey(tp));
      s.origins.delete(tpKey(tp));
    }
    await s.host.revoked(revoked);
  }

  /** Track new partitions from their committed offsets. */
  async assigned(
    assigned: readonly TP[],
    standbys: readonly TP[],
  ): Promise<void> {
    const s = this.#s;
    const { host } = s;
    // Assignment-only partitions (changelogs) are read by the tables, not
    // fetched here: pause them, never track or commit them.
    s.assignment = { active: assigned, standbys };
    const silent = assigned.filter((tp) => !s.topics.has(tp.topic));
    if (silent.length > 0) s.consumer?.pause(silent);
    await host.fence?.(assigned);
    const fresh = assigned.filter((tp) =>
      s.topics.has(tp.topic) && !s.trackers.has(tpKey(tp))
    );
    const committed = new Map(
      fresh.length > 0 ? await s.consumer!.committed(fresh) : [],
    );
    for (const tp of fresh) {
      let c = committed.get(tpKey(tp));
      // A transaction of this worker committed further than the group
      // reports: its records are committed, its offsets did not reach the
      // group (Kafka can complete a transaction without writing its marker
      // to `__consumer_offsets` when the broker restarts mid-commit). Going
      // back to the group's offset would process those events twice.
      const mine = host.transactionCommitted?.(tp);
      if (mine !== undefined && (c === undefined || c < mine)) {
        host.log.warn(
          "The group's committed offset of {tp} is {group}, but a transaction of this worker committed offset {mine} with its records: going on from {mine}",
          { tp: tpString(tp), group: c ?? "none", mine },
        );
        c = mine;
        committed.set(tpKey(tp), mine);
      }
      // kafkajs fetches from the offset it read when the group assigned the
      // partition, before the fence above let the previous owner's last
      // transaction complete (its offsets were not yet visible): fetch from
      // the offset read now instead, or those events are processed twice.
      if (c !== undefined && host.commitTransaction !== undefined) {
        s.consumer!.seek(tp, c);
      }
      const start = c ?? -1;
      const tracker = new PartitionTracker(Math.max(0, start));
      if (c === undefined) tracker.committed = -1;
      s.trackers.set(tpKey(tp), tracker);
      const stats = host.monitor.partition(tp);
      stats.committed = Math.max(0, start);
      stats.read = Math.max(stats.read, stats.committed);
      void host.transport.highWatermark(tp).then(
        (hw) => stats.end = Math.max(stats.end, hw),
        () => {},
      );
    }
    if (fresh.length > 0) {
      host.log.info("Assigned {tps}", {
        tps: fresh.map((tp) =>
          `${tpString(tp)}@${committed.get(tpKey(tp)) ?? "none"}`
        ).join(", "),
      });
    }
    for (const sensor of host.monitor.sensors) sensor.onAssignment?.(assigned);
    await host.assigned(assigned, standbys);
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
   * count for nothing (`isCurrent`). A partition without a committed
   * offset goes back to the first offset this worker read of it. Throws
   * (the caller crashes the app) when that fails too.
   */
  async restart(cause: unknown): Promise<void> {
    const s = this.#s;
    const consumer = s.consumer;
    const assignment = s.assignment;
    if (consumer === undefined || assignment === undefined) throw cause;
    const tps = [...s.trackers.keys()].map(parseTpKey);
    s.host.log.warn(
      "Exactly-once commit failed ({error}): aborting the transactions of {tps} and going back to their committed offsets",
      { error: errorLine(cause), tps: tps.map(tpString).join(", ") },
    );
    // What a poll in progress returns is stale from here on; wait for it
    // before seeking, or records it reads after a seek would be dropped as
    // stale while the consumer's position has moved past them (a stall).
    s.generation++;
    await s.stopPoll?.();
    const paused = tps.filter((tp) => s.paused.delete(tpKey(tp)));
    if (paused.length > 0) consumer.resume(paused);
    for (const tp of tps) {
      s.trackers.delete(tpKey(tp));
      s.blocked.delete(tpKey(tp));
    }
    await s.host.revoked(assignment.active);
    await this.assigned(assignment.active, assignment.standbys);
    // A partition the group has no offset for yet (no transaction of it
    // committed since the app began) goes back to where this worker began
    // reading it. Nothing read from it yet: its position did not move.
    for (const tp of tps) {
      const k = tpKey(tp);
      const t = s.trackers.get(k);
      const origin = s.origins.get(k);
      if (t === undefined || t.committed >= 0 || origin === undefined) {
        continue;
      }
      consumer.seek(tp, origin);
      const tracker = new PartitionTracker(origin);
      tracker.committed = -1;
      s.trackers.set(k, tracker);
    }
    s.host.monitor.count("transactionRestarts");
  }
}
