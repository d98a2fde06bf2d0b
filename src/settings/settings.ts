/**
 * App settings: defaults, environment fallback (`FAUST_<UPPER_SNAKE_NAME>`)
 * and validation with zod. The shapes are in `types.ts`, the table
 * of settings in `specs.ts`.
 *
 * @module
 */
import type { z } from "zod";
import { toSeconds } from "../util/duration.ts";
import { readEnv } from "./env.ts";
import { ConfigError } from "../errors.ts";
import type { Settings, SettingsInput } from "./types.ts";
import { NAMES, parseEnv, show, SPECS, UNSUPPORTED } from "./specs.ts";

export { BROKER_SCHEMES, parseUrl, STORE_SCHEMES } from "./specs.ts";
export type {
  BrokerCredentials,
  LogLevel,
  Settings,
  SettingsInput,
  WebCorsOptions,
} from "./types.ts";

/**
 * The environment variable a setting falls back to.
 *
 * @param name A setting name, e.g. `"webPort"`.
 * @returns The variable name, e.g. `"FAUST_WEB_PORT"`.
 */
export function settingEnvName(name: string): string {
  return `FAUST_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/**
 * The names of every supported setting.
 *
 * @returns Setting names in camelCase.
 */
export function settingNames(): string[] {
  return [...NAMES];
}

function norm(s: string): string {
  return s.toLowerCase().replace(/[_-]/g, "");
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function suggest(name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const candidate of NAMES) {
    const d = distance(norm(name), norm(candidate));
    if (d < bestD) [best, bestD] = [candidate, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

const ID_PATTERN = /^[a-zA-Z0-9._-]+$/;

function checkId(id: unknown): asserts id is string {
  if (
    typeof id !== "string" || !ID_PATTERN.test(id) || id.length > 240 ||
    id === "." || id === ".."
  ) {
    throw new ConfigError(
      `Invalid app id ${
        show(id)
      }; expected a non-empty string of at most 240 letters, digits, ".", "_" and "-" (Kafka's topic name characters)`,
    );
  }
}

function issueDetail(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined || issue.path.length === 0) return "";
  return ` (at ${issue.path.join(".")}: ${issue.message})`;
}

const origins = new WeakMap<Settings, { id: string; input: SettingsInput }>();

function defaultHost(): string {
  try {
    const st = Deno.permissions.querySync({ name: "sys", kind: "hostname" });
    if (st.state === "granted") return Deno.hostname();
  } catch {
    // Not permitted or not available: fall through.
  }
  return "localhost";
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || path.startsWith("\\") ||
    /^[A-Za-z]:[\\/]/.test(path);
}

/**
 * Validate settings and fill in environment values and defaults.
 *
 * @param id The app id: letters, digits, `.`, `_` and `-`.
 * @param input Settings given in code; they win over `FAUST_*` variables.
 * @param env Where `FAUST_*` variables are read (default: the process
 *   environment, when readable without a prompt).
 * @returns Frozen, complete settings with durations in seconds.
 * @throws {ConfigError} For a bad id, an unknown setting or a bad value; the
 *   message names the setting (or variable), the value and what is allowed.
 */
export function resolveSettings(
  id: string,
  input: SettingsInput = {},
  env: (name: string) => string | undefined = readEnv,
): Settings {
  checkId(id);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError(
      `Invalid settings for app "${id}": ${show(input)}; expected an object`,
    );
  }
  for (const [name, why] of Object.entries(UNSUPPORTED)) {
    const variable = settingEnvName(name);
    const where = Object.hasOwn(input, name)
      ? `Setting "${name}"`
      : readEnv(variable) !== undefined
      ? `Environment variable ${variable} (setting "${name}")`
      : undefined;
    if (where !== undefined) {
      throw new ConfigError(`${where} is not supported: ${why}`);
    }
  }
  const unknown = Object.keys(input).filter((k) => !Object.hasOwn(SPECS, k));
  if (unknown.length > 0) {
    const parts = unknown.map((k) => {
      const near = suggest(k);
      return near === undefined ? `"${k}"` : `"${k}" (did you mean "${near}"?)`;
    });
    throw new ConfigError(
      `Unknown setting${unknown.length > 1 ? "s" : ""} ${
        parts.join(", ")
      } for app "${id}"`,
    );
  }
  const out: Record<string, unknown> = {};
  const given = input as Record<string, unknown>;
  for (const name of NAMES) {
    const spec = SPECS[name];
    let value = given[name];
    let variable: string | undefined;
    if (value === undefined) {
      const envName = settingEnvName(name);
      const raw = env(envName);
      if (raw !== undefined) {
        variable = envName;
        value = parseEnv(spec.env, raw, envName, name);
      }
    }
    if (value === undefined) {
      out[name] = spec.default;
      continue;
    }
    const result = spec.schema.safeParse(value);
    if (!result.success) {
      const where = variable === undefined
        ? `setting "${name}"`
        : `environment variable ${variable} (setting "${name}")`;
      const shown = spec.secret ? " (value hidden)" : `: ${show(value)}`;
      throw new ConfigError(
        `Invalid ${where}${shown}; ${spec.expected}${
          issueDetail(result.error)
        }`,
      );
    }
    out[name] = spec.duration
      ? toSeconds(value as number | string)
      : result.data;
  }
  const version = out.version as number;
  out.datadir ??= `${id}-data`;
  const appdir = `${out.datadir as string}/v${version}`;
  const tabledir = out.tabledir as string | undefined;
  out.tabledir = tabledir === undefined
    ? `${appdir}/tables`
    : isAbsolute(tabledir)
    ? tabledir
    : `${appdir}/${tabledir}`;
  out.webHost ??= defaultHost();
  out.canonicalUrl ??= `http://${out.webHost as string}:${out
    .webPort as number}`;
  const settings = Object.freeze({
    id,
    appId: version > 1 ? `${id}-v${version}` : id,
    ...out,
  }) as unknown as Settings;
  origins.set(settings, { id, input: { ...input } });
  return settings;
}

/**
 * Settings with some values replaced (e.g. CLI flags), validated again.
 * Derived defaults follow: overriding `webPort` changes a default
 * `canonicalUrl`, overriding `datadir` a default `tabledir`.
 *
 * @param settings Settings from {@linkcode resolveSettings}.
 * @param overrides Values that win over code, environment and defaults.
 * @returns New frozen settings.
 * @throws {ConfigError} When an override is not valid.
 */
export function withOverrides(
  settings: Settings,
  overrides: Partial<SettingsInput>,
): Settings {
  const origin = origins.get(settings);
  let base: SettingsInput;
  if (origin !== undefined) {
    base = origin.input;
  } else {
    // Not from resolveSettings: keep every value, but let derived defaults follow.
    const { id: _id, appId: _appId, ...rest } = settings;
    const entries = Object.entries(rest).filter(([k, v]) =>
      v !== undefined &&
      !(k === "tabledir" && v === `${rest.datadir}/v${rest.version}/tables`) &&
      !(k === "canonicalUrl" && v === `http://${rest.webHost}:${rest.webPort}`)
    );
    base = Object.fromEntries(entries) as SettingsInput;
  }
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) merged[k] = v;
  }
  return resolveSettings(origin?.id ?? settings.id, merged as SettingsInput);
}

/**
 * Settings whose default `canonicalUrl` names the port the web server
 * actually bound. With `webPort` 0 the OS picks the port at bind time, so
 * the URL derived at resolve time says port 0, which no peer can reach
 * (table routes, `/router/`, group member metadata). An explicit
 * `canonicalUrl`, or a `webPort` other than 0, is kept as given.
 *
 * @param settings Settings from {@linkcode resolveSettings}.
 * @param port The port the web server listens on.
 * @returns `settings` itself when nothing changes, else new frozen settings.
 */
export function withBoundWebPort(settings: Settings, port: number): Settings {
  if (
    settings.webPort !== 0 ||
    settings.canonicalUrl !== `http://${settings.webHost}:0`
  ) return settings;
  return withOverrides(settings, {
    canonicalUrl: `http://${settings.webHost}:${port}`,
  });
}
