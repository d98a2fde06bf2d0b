/**
 * The event being processed, per actor. Each agent actor runs inside its own
 * async context, so `currentEvent()` and table writes see that actor's event
 * even with concurrency > 1 and several apps in one process.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Event } from "./event.ts";

/** Per-actor state. */
export interface ActorContext {
  /** The event being processed, if any. */
  event: Event | undefined;
  /**
   * Events of the value a stream loop was on when it was left early
   * (`break`, `return` or a throw). Not acked yet: the agent acks them when
   * the actor goes on or returns, and decides after a throw (see Agent).
   */
  held?: Event[] | undefined;
  /** Name of the agent the actor belongs to. */
  readonly agent: string;
  /** Concurrency of that agent (table writes need 1). */
  readonly concurrency: number;
  /** Aborted when the actor must stop: its streams end. */
  readonly signal: AbortSignal;
}

const storage = new AsyncLocalStorage<ActorContext>();

/** Run `fn` as an actor with its own context. */
export function runAsActor<T>(context: ActorContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The context of the running actor, if any. */
export function actorContext(): ActorContext | undefined {
  return storage.getStore();
}

/**
 * The event the current agent actor is processing, or `undefined` outside
 * an agent.
 *
 * @returns The current event.
 *
 * @example The event behind a value
 * ```ts
 * import { currentEvent } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("current-event");
 * const agent = app.agent(undefined, async function* (stream) {
 *   for await (const _value of stream) yield currentEvent()?.offset;
 * }, { name: "offsets" });
 * await using ctx = await agent.testContext().start();
 * const event = await ctx.put("a");
 * assert.equal(ctx.results.get(event.offset), event.offset);
 * assert.equal(currentEvent(), undefined); // outside an agent
 * ```
 */
export function currentEvent(): Event | undefined {
  return storage.getStore()?.event;
}

/**
 * Ack the events a loop of this actor left early (see
 * {@linkcode ActorContext.held}).
 *
 * @param context The actor's context.
 */
export function ackHeld(context: ActorContext | undefined): void {
  const held = context?.held;
  if (held === undefined) return;
  context!.held = undefined;
  for (const e of held) e.ack();
}
