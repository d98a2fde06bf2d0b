/**
 * Which time picks the window of an event in a windowed table: the event's
 * timestamp (stream time) or a field of its value.
 *
 * @module
 */
import { StateError } from "../errors.ts";
import type { Event } from "../delivery/event.ts";

/** Picks the time (seconds) of an event that chooses its window. */
export type TimeOf = (event: Event | undefined) => number;

/**
 * Time from the event's timestamp (stream time).
 *
 * @param table Table name (for the error without an event).
 * @returns The event's timestamp in seconds.
 */
export function streamTime(table: string): TimeOf {
  return (event) => {
    if (event === undefined) {
      throw new StateError(
        `Windowed table "${table}" needs the current event to pick a window (relative to stream time): call it while processing an event, pass an event, or use .now()`,
      );
    }
    return event.timestamp / 1000;
  };
}

/**
 * A field value as seconds: numbers are seconds (as Faust), Dates and date
 * strings are converted.
 *
 * @param value The field's value.
 * @param field Field name (for the error).
 * @returns Seconds since the epoch.
 */
export function fieldSeconds(value: unknown, field: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (value instanceof Date) return value.getTime() / 1000;
  if (typeof value === "string" && !Number.isNaN(Date.parse(value))) {
    return Date.parse(value) / 1000;
  }
  throw new StateError(
    `Cannot use field "${field}" as window time: ${
      JSON.stringify(value)
    }; expected seconds since the epoch, a Date or a date string`,
  );
}
