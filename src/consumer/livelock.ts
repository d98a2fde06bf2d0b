/**
 * The commit livelock watchdog: a partition whose committed offset does
 * not move for `brokerCommitLivelockSoftTimeout` while events wait (a stuck
 * agent, or commits that keep failing) is counted and logged, again each
 * further period it stays so.
 *
 * @module
 */
import { parseTpKey, tpString } from "../util/types.ts";
import type { ConsumerState } from "./state.ts";

/** Watches every tracked partition's committed offset. */
export class LivelockWatch {
  readonly #s: ConsumerState;
  /** Per partition: the committed offset last seen, since when, last warning. */
  readonly #seen = new Map<
    string,
    { committed: number; since: number; warned: number }
  >();

  /** Over the shared consumer state `s`. */
  constructor(s: ConsumerState) {
    this.#s = s;
  }

  /** Forget what was seen (the consumer paused). */
  clear(): void {
    this.#seen.clear();
  }

  /** Look at every partition now; warn about those stuck longer than `limit` ms. */
  check(limit: number): void {
    const now = performance.now();
    const { host } = this.#s;
    for (const [k, t] of this.#s.trackers) {
      const seen = this.#seen.get(k);
      const waiting = t.inFlight > 0 || t.committable() > t.committed;
      if (seen === undefined || seen.committed !== t.committed || !waiting) {
        this.#seen.set(k, {
          committed: t.committed,
          since: now,
          warned: now,
        });
        continue;
      }
      if (now - seen.since <= limit || now - seen.warned <= limit) continue;
      seen.warned = now;
      host.monitor.count("commitLivelocks");
      const step = this.#s.commitStep;
      host.log.warn(
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
          transactions: host.describeTransactions === undefined
            ? ""
            : `; transactions: ${host.describeTransactions()}`,
        },
      );
    }
  }
}
