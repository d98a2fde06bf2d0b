/**
 * The actors of an agent: `concurrency` loops over the agent's stream, each
 * in its own actor context, restarted by the agent's supervisor when one
 * raises, watched for events held longer than `streamProcessingTimeout`, and
 * stopped within a bound (an actor still on its event is left behind).
 *
 * @module
 */
import {
  ackHeld,
  type ActorContext,
  runAsActor,
} from "../delivery/actor_context.ts";
import type { RuntimePort } from "../runtime/port.ts";
import type { Event } from "../delivery/event.ts";
import { PartitionRevokedError } from "../errors.ts";
import type { Supervisor } from "../service/supervisor.ts";

/** What an agent and its actors read of the runtime. */
export type AgentPort = Pick<
  RuntimePort,
  "conf" | "log" | "monitor" | "crash" | "rpc"
>;

/** What the actors need of their agent. */
export interface ActorsAgent {
  /** Agent name (for logs). */
  readonly name: string;
  /** Number of actors. */
  readonly concurrency: number;
  /** Decides what a raising actor leads to. */
  readonly supervisor: Supervisor;
  /** The app as the agent sees it. */
  readonly host: AgentPort;
  /** One actor's work: the agent's function over its stream, in `context`. */
  run(context: ActorContext): Promise<void>;
  /** The agent's `onError` hook, if any. */
  onError(error: Error): Promise<void> | void;
}

interface Actor {
  controller: AbortController;
  done: Promise<void>;
  index: number;
  context: ActorContext;
  /** The event last reported as stuck (reported once). */
  stuck?: Event;
  /** The event the watchdog last saw in hand, and when it first saw it. */
  seen?: Event | undefined;
  seenAt?: number;
}

/** The running actors of one agent. */
export class Actors {
  readonly #agent: ActorsAgent;
  #actors: Actor[] = [];
  #running = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;

  /** The actors of `agent` (none runs until {@linkcode Actors.start}). */
  constructor(agent: ActorsAgent) {
    this.#agent = agent;
  }

  /** True while actors run. */
  get running(): boolean {
    return this.#running;
  }

  /** Start the actors, and the watchdog that reports stuck ones. */
  start(): void {
    this.#running = true;
    for (let i = 0; i < this.#agent.concurrency; i++) {
      this.#actors.push(this.#spawn(i));
    }
    const limit = this.#agent.host.conf.streamProcessingTimeout * 1000;
    if (limit > 0) {
      const tick = Math.max(10, Math.min(1000, limit / 4));
      this.#watchdog = setInterval(() => this.#reportStuck(limit), tick);
    }
  }

  /**
   * Log (once per event) every actor that has held one event for longer
   * than `streamProcessingTimeout`: a stuck agent stalls its partitions'
   * commits, and without this nothing would say so.
   */
  #reportStuck(limit: number): void {
    const now = performance.now();
    for (const actor of this.#actors) {
      // Timed here, from the first tick that sees the event, not by the
      // stream per event (a clock read per event costs more than the rest
      // of handing it over): reported at most one tick later.
      const event = actor.context.event;
      if (event !== actor.seen) {
        actor.seen = event;
        actor.seenAt = now;
        continue;
      }
      const since = actor.seenAt!;
      if (event === undefined) continue;
      if (actor.stuck === event || now - since <= limit) continue;
      actor.stuck = event;
      this.#agent.host.monitor.count("stuckEvents");
      this.#agent.host.log.warn(
        "Agent {agent} actor {index} has been processing {topic}[{partition}]@{offset} for {seconds} s (streamProcessingTimeout {limit} s): it may be stuck",
        {
          agent: this.#agent.name,
          index: actor.index,
          topic: event.topic,
          partition: event.partition,
          offset: event.offset,
          seconds: Math.round(now - since) / 1000,
          limit: limit / 1000,
        },
      );
    }
  }

  /**
   * Stop the actors: their streams end; wait for them to return.
   *
   * @param timeout Milliseconds to wait at most. An actor still on its
   *   event then is left behind with a warning naming the event: it stays
   *   unacked, so its offset is not committed and the next start processes
   *   it again. Without it, wait as long as the actors take.
   * @returns The number of actors left behind.
   */
  async stop(timeout?: number): Promise<number> {
    this.#running = false;
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    const actors = this.#actors;
    this.#actors = [];
    for (const a of actors) a.controller.abort();
    const pending = new Set(actors);
    const all = Promise.allSettled(
      actors.map((a) => a.done.finally(() => pending.delete(a))),
    );
    if (timeout === undefined) {
      await all;
      return 0;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      all,
      new Promise<void>((r) => timer = setTimeout(r, timeout)),
    ]);
    clearTimeout(timer);
    for (const a of pending) {
      const event = a.context.event;
      this.#agent.host.monitor.count("stuckEvents");
      this.#agent.host.log.warn(
        "Stopping: agent {agent} actor {index} did not finish {topic}[{partition}]@{offset} within {seconds} s; leaving it behind (the event is not acked: its offset is not committed and the next start processes it again)",
        {
          agent: this.#agent.name,
          index: a.index,
          topic: event?.topic ?? "-",
          partition: event?.partition ?? "-",
          offset: event?.offset ?? "-",
          seconds: Math.round(timeout / 100) / 10,
        },
      );
    }
    return pending.size;
  }

  #spawn(index: number): Actor {
    const controller = new AbortController();
    const context: ActorContext = {
      event: undefined,
      agent: this.#agent.name,
      concurrency: this.#agent.concurrency,
      signal: controller.signal,
    };
    const actor: Actor = {
      controller,
      index,
      context,
      done: Promise.resolve(),
    };
    actor.done = runAsActor(context, () => this.#agent.run(context)).then(
      () => {
        // Returned normally: a loop it left early is done with its value.
        ackHeld(context);
        if (this.#running && !controller.signal.aborted) {
          // Its buffer keeps filling and nothing reads it: never a silent
          // stall. The supervisor restarts it (or crashes the worker).
          return this.#crashed(
            actor,
            new Error(
              `Agent "${this.#agent.name}" actor ${index} returned while its stream still delivers`,
            ),
          );
        }
      },
      (error) => this.#crashed(actor, error),
    );
    return actor;
  }

  async #crashed(actor: Actor, error: unknown): Promise<void> {
    const err = error instanceof Error ? error : new Error(String(error));
    this.#agent.host.monitor.count("agentErrors");
    this.#agent.host.log.error("Agent {agent} actor {index} raised: {error}", {
      agent: this.#agent.name,
      index: actor.index,
      error: err,
    });
    try {
      await this.#agent.onError(err);
    } catch (hookError) {
      this.#agent.host.log.error("onError of agent {agent} raised: {error}", {
        agent: this.#agent.name,
        error: hookError,
      });
    }
    // The events the actor was on when it raised (a stream loop it left).
    const failed = actor.context.held ?? [];
    actor.context.held = undefined;
    if (!this.#running) return; // stopping: left unacked, read again at the next start
    const decision = this.#agent.supervisor.decide(this.#agent.name, err);
    if (decision.action === "crash") {
      // Not acked: the offset is not committed and the event is processed
      // again after the restart.
      for (const e of failed) this.#logFailedEvent(e, err, false);
      this.#running = false;
      this.#agent.host.crash(decision.error);
      return;
    }
    // As in Faust, a restarting supervisor moves past the event the agent
    // raised on (else one poison event would stop its partition for good):
    // acked, so never processed again, and each one logged and counted.
    for (const e of failed) {
      this.#logFailedEvent(e, err, true);
      e.ack();
    }
    this.#agent.host.monitor.count("agentRestarts");
    const i = this.#actors.indexOf(actor);
    if (decision.which === "one") {
      if (i >= 0) this.#actors[i] = this.#spawn(actor.index);
      this.#agent.host.log.warn(
        "Restarted agent {agent} actor {index} (one_for_one)",
        {
          agent: this.#agent.name,
          index: actor.index,
        },
      );
      return;
    }
    const others = this.#actors.filter((a) => a !== actor);
    for (const a of others) a.controller.abort();
    await Promise.allSettled(others.map((a) => a.done));
    if (!this.#running) return;
    this.#actors = [];
    for (let k = 0; k < this.#agent.concurrency; k++) {
      this.#actors.push(this.#spawn(k));
    }
    this.#agent.host.log.warn(
      "Restarted all {n} actors of agent {agent} (one_for_all)",
      {
        agent: this.#agent.name,
        n: this.#agent.concurrency,
      },
    );
  }

  #logFailedEvent(event: Event, error: Error, acked: boolean): void {
    this.#agent.host.monitor.count("agentEventErrors");
    // Exactly-once: an event whose send was refused because its partition's
    // transaction cannot commit (revoked, fenced, stalled) is acked in vain:
    // its offset never commits with that transaction, so it is processed
    // again, by the partition's new owner or after the transaction restarts.
    const again = acked &&
      this.#agent.host.conf.processingGuarantee === "exactly_once" &&
      revokedCause(error);
    this.#agent.host.log.error(
      again
        ? "Agent {agent} raised on {topic}[{partition}]@{offset}; its exactly-once transaction does not commit, so the event will be processed again from the committed offset (by the partition's new owner or after the transaction restarts): {error}"
        : acked
        ? "Agent {agent} raised on {topic}[{partition}]@{offset}; the event is acked and will not be processed again: {error}"
        : "Agent {agent} raised on {topic}[{partition}]@{offset}; the event is not acked and will be processed again after a restart: {error}",
      {
        agent: this.#agent.name,
        topic: event.topic,
        partition: event.partition,
        offset: event.offset,
        error: error.message,
      },
    );
  }
}

/** Whether `error`, or an error it was caused by, is a {@linkcode PartitionRevokedError}. */
function revokedCause(error: unknown): boolean {
  for (let e = error, depth = 0; e != null && depth < 10; depth++) {
    if (e instanceof PartitionRevokedError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
