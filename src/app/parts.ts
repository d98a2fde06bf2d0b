/**
 * The parts of an app in the order they start, each with why it starts
 * there; `app.stop()` runs them backwards in three phases (see
 * `service/lifecycle.ts`): stop (reverse), flush (this order), close
 * (reverse).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Agent } from "../agent.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Part, StopStep } from "../service/lifecycle.ts";
import type { Job } from "../service/timer.ts";
import type { Service } from "../service.ts";
import type { Settings } from "../settings/settings.ts";
import type { TableLike } from "./registrations.ts";

/** What the parts read of the app. */
export interface PartsView {
  /** Settings. */
  readonly conf: Settings;
  /** Logger. */
  readonly log: Logger;
  /** The runtime. */
  readonly runtime: Runtime;
  /** Tables by name. */
  readonly tables: ReadonlyMap<string, TableLike>;
  /** Services, in the order added. */
  readonly services: readonly Service[];
  /** Agents by name. */
  readonly agents: ReadonlyMap<string, Agent<unknown, unknown, unknown>>;
  /** Timers, crontabs and tasks. */
  readonly jobs: readonly Job[];
  /** Count actors a stop left behind on their event. */
  leftBehind(n: number): void;
}

/** How this stop goes. */
export interface StopOptions {
  /** Seconds all agents together get to finish their event in hand. */
  readonly agentTimeout?: number;
}

const named = <T>(
  items: Iterable<T>,
  what: (item: T) => string,
  fn: (item: T) => unknown,
): StopStep[] => [...items].map((item) => [what(item), () => fn(item)]);

/**
 * The parts of the app `app` describes, in start order.
 *
 * @param app The app's view.
 * @param options How a stop goes.
 * @returns The parts.
 */
export function appParts(app: PartsView, options: StopOptions = {}): Part[] {
  const rt = app.runtime;
  return [
    {
      name: "transport and producer",
      why: "everything below may send; the producer is flushed after every " +
        "part stopped working and closed only before the transport",
      start: async () => {
        await rt.open();
        app.log.debug("Broker {broker} open", { broker: app.conf.broker });
      },
      flush: () => [["flushing the producer", () => rt.flushProducer()]],
      close: () => [
        ["closing the producer", () => rt.closeProducer()],
        ["stopping the transport", () => rt.stopTransport()],
      ],
    },
    {
      name: "topics",
      why: "declared topics, table changelogs and the leader topic exist " +
        "before anything reads or writes them",
      start: () => rt.declareAll(),
    },
    {
      name: "tables",
      why: "stores open before services and agents read them (they recover " +
        "later, on assignment); flushed after the producer, closed after the " +
        "consumer left",
      start: async () => {
        for (const t of app.tables.values()) await t.open();
        app.log.debug("Topics declared, {n} table stores open", {
          n: app.tables.size,
        });
      },
      flush: () =>
        named(
          app.tables.values(),
          (t) => `flushing table ${t.name}`,
          (t) => t.flush(),
        ),
      close: () =>
        named(
          [...app.tables.values()].reverse(),
          (t) => `closing table ${t.name}`,
          (t) => t.close(),
        ),
    },
    {
      name: "replies",
      why: "the reply topic exists before services and agents can ask; " +
        "waiting for replies stops after they stopped",
      start: () => rt.prepareReplies(),
      stop: () => [["stopping replies", () => rt.stopReplies()]],
    },
    {
      name: "services",
      why: "agents may use them",
      start: async () => {
        for (const s of app.services) await s.start();
      },
      stop: () =>
        named(
          [...app.services].reverse(),
          (s) => `stopping service ${s.label}`,
          (s) => s.stop(),
        ),
    },
    {
      name: "agents",
      why: "their buffers subscribe before the consumer joins, so no " +
        "assigned record finds no stream; actors then wait for events",
      start: () => {
        for (const a of app.agents.values()) a.subscribe();
        for (const a of app.agents.values()) a.start();
        app.log.debug("{services} services and {agents} agents started", {
          services: app.services.length,
          agents: app.agents.size,
        });
      },
      stop: () => {
        // One deadline for all agents together, from the moment they stop.
        const timeout = options.agentTimeout;
        const deadline = timeout === undefined
          ? undefined
          : performance.now() + timeout * 1000;
        return named(
          [...app.agents.values()].reverse(),
          (a) => `stopping agent ${a.name}`,
          async (a) => {
            const wait = deadline === undefined
              ? undefined
              : Math.max(0, deadline - performance.now());
            app.leftBehind(await a.stop(wait));
          },
        );
      },
    },
    {
      name: "consumer",
      why: "joins the group once every stream is subscribed; on assignment " +
        "tables recover before delivery. Stops delivering first among the " +
        "processors, leaves the group only after the flush",
      start: async () => {
        await rt.startConsumer();
        app.log.debug("Consumer started; starting {n} timers and tasks", {
          n: app.jobs.length,
        });
      },
      stop: () => [
        () => rt.pause(),
        // Commit what is acked now (it flushes the producer and tables
        // first): an agent that never finishes its event must not also
        // cost the work acked since the last periodic commit. Not under
        // exactly_once, whose commit waits for every event in hand.
        ...(rt.transactional
          ? []
          : [["committing acked offsets", () => rt.commit()] as const]),
      ],
      close: () => [
        // Commits only what is durable (it flushes again first), then
        // leaves the group.
        ["stopping the consumer", () => rt.stopConsumer()],
        ["closing transactions", () => rt.closeTransactions()],
      ],
    },
    {
      name: "jobs",
      why: "timers, crontabs and tasks run only in an operational app",
      running: true,
      start: () => {
        for (const job of app.jobs) job.start();
      },
      stop: () =>
        named(
          [...app.jobs].reverse(),
          (j) => `stopping job ${j.name}`,
          (j) => j.stop(),
        ),
    },
    {
      name: "table cleanup",
      why: "expired windows are removed only while the app runs",
      start: () => rt.startTableTicks(),
      stop: () => [() => rt.stopTableTicks()],
    },
  ];
}
