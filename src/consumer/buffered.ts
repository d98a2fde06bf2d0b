/**
 * Delivered events that are not done yet: those still queued in stream
 * buffers can be taken out (a revocation drops them, an exactly-once commit
 * sets them aside); those in an agent's hand are waited for, within a bound.
 *
 * @module
 */
import type { Event } from "../delivery/event.ts";
import type { AsyncQueue } from "../delivery/queue.ts";
import { type TP, tpKey, tpString } from "../util/types.ts";
import type { ConsumerState } from "./state.ts";

/** Events taken out of stream buffers. */
export interface Taken {
  /** Each buffer with the events taken from it, in order. */
  readonly taken: Array<
    [AsyncQueue<Event<unknown, unknown>>, Event<unknown, unknown>[]]
  >;
  /** Their offsets per partition (`tpKey`). */
  readonly offsets: Map<string, Set<number>>;
}

/** Take the queued (not yet in hand) events `match` selects out of every stream buffer. */
export function takeQueued(
  s: ConsumerState,
  match: (e: Event<unknown, unknown>) => boolean,
): Taken {
  const taken: Taken["taken"] = [];
  const offsets = new Map<string, Set<number>>();
  for (const set of s.topics.values()) {
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
export function dropBuffered(
  s: ConsumerState,
  tps: readonly TP[],
): Map<string, Set<number>> {
  const keys = new Set(tps.map(tpKey));
  const dropped = takeQueued(s, (e) => keys.has(tpKey(e))).offsets;
  let n = 0;
  for (const offsets of dropped.values()) n += offsets.size;
  if (n > 0) {
    s.host.log.info(
      "Dropped {n} buffered events of revoked partitions (the new owner reads them)",
      { n },
    );
  }
  return dropped;
}

/** Wait until only dropped events of `tps` are unacked; false when the bound passed. */
export async function settle(
  s: ConsumerState,
  tps: readonly TP[],
  dropped: Map<string, Set<number>>,
): Promise<boolean> {
  const busy = () =>
    tps.filter((tp) => {
      const t = s.trackers.get(tpKey(tp));
      return t !== undefined &&
        t.inFlight > (dropped.get(tpKey(tp))?.size ?? 0);
    });
  const limitMs = Math.min(
    30_000,
    Math.max(1000, s.host.conf.brokerRebalanceTimeout * 500),
  );
  const deadline = Date.now() + limitMs;
  while (busy().length > 0) {
    if (Date.now() > deadline) {
      s.host.log.warn(
        "Events of {tps} still in hand after {ms} ms; committing only what was acked",
        { tps: busy().map(tpString).join(", "), ms: limitMs },
      );
      return false;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
