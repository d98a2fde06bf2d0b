/**
 * Settings of the `local://` broker, from its URL and `TransportOptions.extra`.
 *
 * `local://` uses `{datadir}/broker`; `local://PATH` uses PATH (relative to
 * the working directory unless it starts with `/`). Query parameters (or the
 * same names in `extra`; the URL wins) take durations as seconds or strings
 * such as `"500ms"`:
 * - `maintenanceInterval` (default 30 s): how often the consumer process
 *   runs retention and compaction;
 * - `tombstoneDelay` (default 24 h): how long compaction keeps a tombstone;
 * - `pollInterval` (default 1 s): the slow re-check behind the doorbell.
 *
 * `sync=false` (or `extra.sync: false`) turns off LMDB's flush to disk at
 * each commit: a send is then acknowledged once it is in the OS page cache
 * (like Kafka's default, which does not fsync either). It survives a crash
 * of any process, even `kill -9`, but a power loss may lose or corrupt the
 * latest writes. The default (`sync=true`) flushes every commit.
 *
 * @module
 */
import { type Duration, toMillis } from "../../util/duration.ts";
import { ConfigError } from "../../errors.ts";
import type { TransportOptions } from "../transport.ts";

/** Resolved settings of a `local://` transport. */
export interface LocalSettings {
  /** Absolute broker directory. */
  readonly path: string;
  /** Background maintenance interval in ms. */
  readonly maintenanceIntervalMs: number;
  /** Tombstone delay in ms. */
  readonly tombstoneDelayMs: number;
  /** Fallback poll interval in ms. */
  readonly pollIntervalMs: number;
  /** Flush to disk at each commit. */
  readonly sync: boolean;
}

const DEFAULTS = {
  maintenanceInterval: 30,
  tombstoneDelay: 86_400,
  pollInterval: 1,
} as const;
type Name = keyof typeof DEFAULTS;
const NAMES = Object.keys(DEFAULTS) as Name[];

function absolute(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const parts: string[] = [];
  for (const part of abs.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

function duration(name: Name, value: unknown, source: string): number {
  if (typeof value !== "number" && typeof value !== "string") {
    throw new ConfigError(
      `Invalid ${name} in ${source}: ${
        JSON.stringify(value)
      }; expected seconds or a string such as "500ms", "30s"`,
    );
  }
  const text = typeof value === "string" && /^\d+(\.\d+)?$/.test(value)
    ? Number(value)
    : value;
  const ms = toMillis(text as Duration, `${name} in ${source}`);
  if (ms <= 0 && name !== "tombstoneDelay") {
    throw new ConfigError(
      `Invalid ${name} in ${source}: ${value}; expected a duration above 0`,
    );
  }
  return ms;
}

function syncFlag(value: unknown, source: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  if (value === "true" || value === "false") return value === "true";
  throw new ConfigError(
    `Invalid sync in ${source}: ${
      JSON.stringify(value)
    }; expected true or false`,
  );
}

/**
 * Parse a `local://` URL.
 *
 * @param url The broker URL, e.g. `local://`, `local:///var/lib/app/broker?pollInterval=500ms`.
 * @param options Transport options (datadir for the default path, `extra` settings).
 * @returns The resolved settings.
 * @throws {ConfigError} For another scheme, an unknown query parameter or a bad duration.
 */
export function parseLocalUrl(
  url: string,
  options: TransportOptions,
): LocalSettings {
  if (!url.startsWith("local://")) {
    throw new ConfigError(
      `Invalid local broker URL: ${
        JSON.stringify(url)
      }; expected local://[path]`,
    );
  }
  const rest = url.slice("local://".length);
  const q = rest.indexOf("?");
  const pathPart = decodeURIComponent(q < 0 ? rest : rest.slice(0, q));
  const values: Partial<Record<Name, number>> = {};
  let sync = syncFlag(options.extra?.["sync"], "TransportOptions.extra") ??
    true;
  for (const name of NAMES) {
    const extra = options.extra?.[name];
    if (extra !== undefined) {
      values[name] = duration(name, extra, "TransportOptions.extra");
    }
  }
  if (q >= 0) {
    for (const [name, value] of new URLSearchParams(rest.slice(q + 1))) {
      if (name === "sync") {
        sync = syncFlag(value, `broker URL ${url}`)!;
        continue;
      }
      if (!(NAMES as string[]).includes(name)) {
        throw new ConfigError(
          `Unknown parameter "${name}" in broker URL ${url}; accepted: ${
            NAMES.join(", ")
          }`,
        );
      }
      values[name as Name] = duration(name as Name, value, `broker URL ${url}`);
    }
  }
  const ms = (name: Name): number => values[name] ?? DEFAULTS[name] * 1000;
  return {
    path: absolute(pathPart === "" ? `${options.datadir}/broker` : pathPart),
    maintenanceIntervalMs: ms("maintenanceInterval"),
    tombstoneDelayMs: ms("tombstoneDelay"),
    pollIntervalMs: ms("pollInterval"),
    sync,
  };
}
