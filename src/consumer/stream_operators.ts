/**
 * Stream operators over units: map, filter, take, combine, and a forwarder
 * that runs beside a stream. Those that can hand out a unit already at hand
 * without a promise do so (`poll()`), so buffered values cross every layer
 * in one synchronous call.
 *
 * @module
 */
import { actorContext } from "../delivery/actor_context.ts";
import type { Event } from "../delivery/event.ts";
import { ackUnit, over, type Source, type Unit } from "./units.ts";

/** @internal Units whose value `predicate` keeps; the others are acked right away. */
export function filterSource<V>(
  up: Source,
  predicate: (value: V) => boolean | Promise<boolean>,
): Source {
  return () => {
    const it = up();
    // A unit taken by poll() whose predicate answered with a promise:
    // next() settles it first.
    let parked: [IteratorResult<Unit>, Promise<boolean>] | undefined;
    return over(it, {
      poll(): IteratorResult<Unit> | undefined {
        if (parked !== undefined) return undefined;
        for (;;) {
          const r = it.poll?.();
          if (r === undefined || r.done === true) return r;
          const keep = predicate(r.value.value as V);
          if (typeof keep !== "boolean") {
            parked = [r, Promise.resolve(keep)];
            return undefined;
          }
          if (keep) return r;
          ackUnit(r.value);
        }
      },
      async next(): Promise<IteratorResult<Unit>> {
        if (parked !== undefined) {
          const [r, keep] = parked;
          parked = undefined;
          if (await keep) return r;
          ackUnit(r.value);
        }
        for (;;) {
          const r = it.poll?.() ?? await it.next();
          if (r.done === true) return r;
          if (await predicate(r.value.value as V)) return r;
          ackUnit(r.value);
        }
      },
    });
  };
}

/**
 * @internal Batches of up to `max` units as one unit; a batch is handed
 * out early when `within` seconds passed since its first value.
 */
export function takeSource(up: Source, max: number, within?: number): Source {
  return () => {
    const it = up();
    let pending: Promise<IteratorResult<Unit>> | undefined;
    let ended = false;
    return {
      async next(): Promise<IteratorResult<Unit>> {
        if (ended) return { done: true, value: undefined };
        const values: unknown[] = [];
        const events: Event[] = [];
        let deadline: number | undefined;
        while (values.length < max) {
          let r: IteratorResult<Unit> | "timeout" | undefined = pending ===
              undefined
            ? it.poll?.()
            : undefined;
          if (r !== undefined) {
            // At hand: no promise, no timer.
          } else if (deadline === undefined || within === undefined) {
            pending ??= it.next();
            r = await pending;
          } else {
            pending ??= it.next();
            let timer: ReturnType<typeof setTimeout> | undefined;
            const left = Math.max(0, deadline - Date.now());
            r = await Promise.race([
              pending,
              new Promise<"timeout">((resolve) =>
                timer = setTimeout(() => resolve("timeout"), left)
              ),
            ]);
            clearTimeout(timer);
          }
          if (r === "timeout") break;
          pending = undefined;
          if (r.done === true) {
            ended = true;
            break;
          }
          if (values.length === 0 && within !== undefined) {
            deadline = Date.now() + within * 1000;
          }
          values.push(r.value.value);
          events.push(...r.value.events);
        }
        if (values.length === 0) return { done: true, value: undefined };
        return { done: false, value: { value: values, events } };
      },
      async return(): Promise<IteratorResult<Unit>> {
        ended = true;
        await it.return?.();
        return { done: true, value: undefined };
      },
    };
  };
}

/** @internal Units of every source, interleaved as they arrive. */
export function combineSource(sources: readonly Source[]): Source {
  return () => {
    const its = sources.map((s) => s());
    const pending = new Map<
      number,
      Promise<[number, IteratorResult<Unit>]>
    >();
    const pull = (i: number) =>
      pending.set(i, its[i]!.next().then((r) => [i, r]));
    its.forEach((_, i) => pull(i));
    return {
      async next(): Promise<IteratorResult<Unit>> {
        while (pending.size > 0) {
          const [i, r] = await Promise.race(pending.values());
          pending.delete(i);
          if (r.done === true) continue;
          pull(i);
          return r;
        }
        return { done: true, value: undefined };
      },
      async return(): Promise<IteratorResult<Unit>> {
        await Promise.all(its.map((it) => it.return?.()));
        return { done: true, value: undefined };
      },
    };
  };
}

/** @internal Units with their value replaced by `fn(unit)`. */
export function mapSource(up: Source, fn: (u: Unit) => unknown): Source {
  return () => {
    const it = up();
    // In place: the unit and its result were made for this chain alone
    // (no object per value and layer).
    const map = (r: IteratorResult<Unit>): IteratorResult<Unit> => {
      if (r.done !== true) r.value.value = fn(r.value);
      return r;
    };
    return over(it, {
      poll(): IteratorResult<Unit> | undefined {
        const r = it.poll?.();
        return r === undefined ? undefined : map(r);
      },
      async next(): Promise<IteratorResult<Unit>> {
        return map(it.poll?.() ?? await it.next());
      },
    });
  };
}

/**
 * @internal The units of `target`, while `forward` runs in the background
 * until the loop ends (or the running actor stops); `onError` hears of a
 * forwarder that throws, whose error then ends the iteration.
 */
export function forwarderSource(
  target: Source,
  forward: (signal: AbortSignal) => Promise<void>,
  onError: (error: unknown) => void,
): Source {
  return () => {
    const it = target();
    const controller = new AbortController();
    const outer = actorContext()?.signal;
    outer?.addEventListener("abort", () => controller.abort(), {
      once: true,
    });
    const running = forward(controller.signal).catch((error) => {
      onError(error);
      throw error;
    });
    const failed = running.then(() => new Promise<never>(() => {}));
    let pending: Promise<IteratorResult<Unit>> | undefined;
    return {
      poll(): IteratorResult<Unit> | undefined {
        // A failed forwarder shows once the buffer is empty (next()).
        return pending === undefined ? it.poll?.() : undefined;
      },
      async next(): Promise<IteratorResult<Unit>> {
        pending ??= it.next();
        const r = await Promise.race([pending, failed]);
        pending = undefined;
        return r;
      },
      async return(): Promise<IteratorResult<Unit>> {
        controller.abort();
        await it.return?.();
        await running.catch(() => {});
        return { done: true, value: undefined };
      },
    };
  };
}
