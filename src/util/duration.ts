/**
 * Durations: seconds as numbers (as in Faust) or strings such as `"500ms"`,
 * `"30s"`, `"5m"`, `"1h"`, `"1d"`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * A duration in seconds, or a string with a unit (`ms`, `s`, `m`, `h`, `d`).
 *
 * @example Seconds or a string with a unit
 * ```ts
 * import type { Duration } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const every: Duration = "30s"; // or 30, "500ms", "5m", "1h", "1d"
 * const app = testApp("duration");
 * app.timer(every, () => console.log("tick"), { name: "tick" });
 * ```
 */
export type Duration = number | string;

const UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/**
 * Convert a duration to seconds.
 *
 * @param value A number of seconds or a string such as `"30s"`.
 * @param what Name of the setting or argument, used in the error message.
 * @returns The duration in seconds.
 * @throws {ConfigError} When the value is negative, not finite or not understood.
 */
export function toSeconds(value: Duration, what = "duration"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigError(
        `Invalid ${what}: ${value}; expected seconds >= 0 or a string such as "500ms", "30s", "1h"`,
      );
    }
    return value;
  }
  const m = PATTERN.exec(value);
  if (m === null) {
    throw new ConfigError(
      `Invalid ${what}: ${
        JSON.stringify(value)
      }; expected seconds >= 0 or a string such as "500ms", "30s", "1h"`,
    );
  }
  return Number(m[1]) * UNITS[m[2] ?? "s"]!;
}

/** Convert a duration to whole milliseconds. */
export function toMillis(value: Duration, what = "duration"): number {
  return Math.round(toSeconds(value, what) * 1000);
}
