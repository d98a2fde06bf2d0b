/**
 * The exactly-once commit: hold delivery, let the events in hand finish,
 * commit every partition's offsets inside the transactions, resume. Also
 * the bookkeeping that tells an event of the current assignment from one
 * left in hand from before a revocation or a transaction restart.
 *
 * @module
 */
import type { Event } from "../delivery/event.ts";
import { errorLine } from "../errors.ts";
import { parseTpKey, tpKey } from "../util/types.ts";
import { settle, takeQueued } from "./buffered.ts";
import type { Commits } from "./commits.ts";
import type { ConsumerState } from "./state.ts";

/**
 * Whether `event` belongs to the current assignment of its partition
 * (false for an event still in hand from before a revocation or a restart
 * of the partition's transaction).
 */
export function isCurrent(
  s: ConsumerState,
  event: Event<unknown, unknown>,
): boolean {
  const owner = s.owners.get(event);
  return owner === undefined || s.trackers.get(tpKey(event)) === owner;
}

/** Commits through the host's transactions. */
export class ExactlyOnce {
  readonly #s: ConsumerState;
  readonly #commits: Commits;
  readonly #restart: (cause: unknown) => Promise<void>;

  /**
   * Over the shared state `s`; `restart` takes every partition back to its
   * committed offset after a transaction failed to commit.
   */
  constructor(
    s: ConsumerState,
    commits: Commits,
    restart: (cause: unknown) => Promise<void>,
  ) {
    this.#s = s;
    this.#commits = commits;
    this.#restart = restart;
  }

  /**
   * Hold delivery, wait until every delivered event is done (so each
   * transaction holds exactly the output of the events before its
   * offsets), commit the transactions, resume. Always every partition: a
   * transaction cannot commit its sends without its offsets.
   */
  async commit(): Promise<void> {
    const s = this.#s;
    const { host } = s;
    const started = performance.now();
    let open!: () => void;
    s.barrier = new Promise((resolve) => open = resolve);
    await (async () => {
      // Events still queued have produced nothing: set them aside (they go
      // back in front after the commit) and wait only for those in hand.
      const { taken, offsets: queued } = takeQueued(s, () => true);
      let restarted = false;
      try {
        for (const [k, dropped] of s.dropped) {
          const set = queued.get(k) ?? new Set<number>();
          for (const o of dropped) set.add(o);
          queued.set(k, set);
        }
        const tps = [...s.trackers.keys()].map(parseTpKey);
        s.commitStep = {
          what: "waiting for the events in hand",
          since: performance.now(),
        };
        if (!await settle(s, tps, queued)) return;
        const progress = this.#commits.progress();
        if (progress.offsets.length === 0) return;
        this.#commits.resetCount();
        const t0 = performance.now();
        s.commitStep = { what: "committing the transactions", since: t0 };
        try {
          await host.commitTransaction!(progress.offsets);
        } catch (error) {
          host.monitor.count("commitErrors");
          if (s.revoking) {
            // The revocation closes the producers (aborting what is open);
            // the next owner's producer completes or aborts this one.
            host.log.warn(
              "Exactly-once commit at revocation failed; the next owner goes on from the committed offsets: {error}",
              { error: errorLine(error) },
            );
            return;
          }
          restarted = true;
          await this.#restart(error);
          return;
        }
        this.#commits.committed(progress, t0);
      } catch (error) {
        host.monitor.count("commitErrors");
        host.log.error("Exactly-once commit failed: {error}", {
          error: errorLine(error),
        });
        host.crash(
          error instanceof Error ? error : new Error(String(error)),
        );
      } finally {
        // After a restart the queued events are stale: the consumer fetches
        // them again from the committed offsets.
        if (!restarted) {
          for (const [q, events] of taken) q.putFront(events);
        }
        s.barrier = undefined;
        s.commitStep = undefined;
        const end = performance.now();
        this.#commits.notBefore = end + (end - started);
        open();
      }
    })();
  }
}
