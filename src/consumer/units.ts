/**
 * Units: what stream operators pass along (a value and the events it was
 * made from), and the source that takes them out of a stream buffer.
 *
 * @module
 */
import { actorContext } from "../delivery/actor_context.ts";
import type { Event } from "../delivery/event.ts";
import type { Sensor } from "../sensors/monitor.ts";
import type { AsyncQueue } from "../delivery/queue.ts";

/** @internal A value and the events it came from. */
export interface Unit {
  /**
   * Value handed to the loop. A unit goes down one chain of operators and
   * each is made for it, so a map may replace its value in place.
   */
  value: unknown;
  /** Events to ack once the loop is done with the value. */
  readonly events: readonly Event[];
}

/**
 * @internal An iterator of units that can also hand out a unit already at
 * hand without a promise: `poll()` returns it (or the end), or `undefined`
 * when only `next()` can tell. Operators pass `poll()` through, so a value
 * buffered at the source reaches the loop through every layer in one
 * synchronous call instead of one promise per layer.
 */
export interface UnitIterator extends AsyncIterator<Unit> {
  /** A unit (or the end) available now, else `undefined`. */
  poll?(): IteratorResult<Unit> | undefined;
}

/** @internal Makes a fresh iterator of a stream's units. */
export type Source = () => UnitIterator;

/** The end of a stream. */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/**
 * @internal An operator's iterator over `it`: `step` gives `next()` (and
 * `poll()` when it can hand out a unit at hand); `return()` closes `it`
 * and ends, the same for every operator.
 */
export function over(
  it: UnitIterator,
  step: Pick<UnitIterator, "next" | "poll">,
): UnitIterator {
  return {
    ...step,
    async return(): Promise<IteratorResult<Unit>> {
      await it.return?.();
      return DONE;
    },
  };
}

/**
 * @internal Hand every unit of `up` to `fn`, one at a time, until the units
 * end or `signal` aborts; the iterator is closed either way. What a
 * forwarder (`through()`, `groupBy()`) runs.
 */
export async function eachUnit(
  up: Source,
  signal: AbortSignal,
  fn: (unit: Unit) => Promise<void>,
): Promise<void> {
  const it = up();
  try {
    while (!signal.aborted) {
      const r = await it.next();
      if (r.done === true) return;
      await fn(r.value);
    }
  } finally {
    await it.return?.();
  }
}

/** Ack every event of `unit`. */
export function ackUnit(unit: Unit): void {
  for (const e of unit.events) e.ack();
}

/**
 * Sensors' `onStreamEventIn` now, `onStreamEventOut` at the ack. The stream
 * is named by its agent (else its topic).
 */
function streamHooks(sensors: ReadonlySet<Sensor>, e: Event, label: string) {
  // The web server's sensor has neither hook: skip the work for it.
  let stream: string | undefined;
  let out = false;
  for (const s of sensors) {
    if (s.onStreamEventIn !== undefined) {
      stream ??= actorContext()?.agent ?? label;
      s.onStreamEventIn(e, e.offset, stream);
    }
    if (s.onStreamEventOut !== undefined) out = true;
  }
  if (!out) return;
  const name = stream ?? actorContext()?.agent ?? label;
  e.afterAck = (done) => {
    for (const s of sensors) s.onStreamEventOut?.(done, done.offset, name);
  };
}

/** @internal Units out of a stream buffer, ending when the running actor stops. */
export function queueSource(
  queue: AsyncQueue<Event>,
  sensors: ReadonlySet<Sensor>,
  label: string,
): UnitIterator {
  const signal = streamSignal();
  const unit = (e: Event): IteratorResult<Unit> => {
    // Checked per event: no sensor, no cost beyond this size test.
    if (sensors.size > 0) streamHooks(sensors, e, label);
    return { done: false, value: { value: e.value, events: [e] } };
  };
  return {
    poll(): IteratorResult<Unit> | undefined {
      if (signal?.aborted === true) return DONE;
      const e = queue.poll();
      return e === undefined ? undefined : unit(e);
    },
    async next(): Promise<IteratorResult<Unit>> {
      // A stopping actor takes no more events: it finishes the one in hand
      // and leaves the rest buffered, unacked (their offsets are not
      // committed, so the next start reads them), instead of draining a
      // whole buffer past the stop bound.
      if (signal?.aborted === true) return { done: true, value: undefined };
      const e = await queue.get(signal);
      if (e === undefined) return { done: true, value: undefined };
      return unit(e);
    },
    return(): Promise<IteratorResult<Unit>> {
      return Promise.resolve({ done: true, value: undefined });
    },
  };
}

/** The stop signal of the running actor, if any (streams end when it aborts). */
function streamSignal(): AbortSignal | undefined {
  return actorContext()?.signal;
}
