/**
 * Private: the table of settings (zod schema, default, environment parsing)
 * used by `settings.ts`.
 *
 * @module
 */
import { z } from "zod";
import { toSeconds } from "../util/duration.ts";
import { ConfigError } from "../errors.ts";
import type { SettingsInput } from "./types.ts";
import { VERSION } from "../util/version.ts";

/** Broker URL schemes this library supports. */
export const BROKER_SCHEMES: readonly string[] = ["kafka", "local", "memory"];
/** Table store URL schemes this library supports. */
export const STORE_SCHEMES: readonly string[] = ["lmdb", "memory"];

/** How an environment string is turned into a setting value. */
export type EnvKind =
  | "string"
  | "number"
  | "boolean"
  | "duration"
  | "json"
  | "flag-or-json";

/** One setting: its schema, message text, env parsing and default. */
export interface Spec {
  /** Validates the value given in code or parsed from the environment. */
  readonly schema: z.ZodType;
  /** Tail of the error message: what is allowed. */
  readonly expected: string;
  /** How to parse the `FAUST_*` variable. */
  readonly env: EnvKind;
  /** Default value; `undefined` = not set, or derived in `resolveSettings`. */
  readonly default?: unknown;
  /** Convert to seconds after validation. */
  readonly duration?: boolean;
  /** Never print the value (credentials). */
  readonly secret?: boolean;
}

const DURATION = z.custom<number | string>((v) => {
  if (typeof v !== "number" && typeof v !== "string") return false;
  try {
    toSeconds(v);
    return true;
  } catch {
    return false;
  }
});

function bool(def: boolean): Spec {
  return {
    schema: z.boolean(),
    expected: "expected true or false",
    env: "boolean",
    default: def,
  };
}

/** A boolean setting of which only `true` is implemented; `why` says what it does. */
function onlyTrue(why: string): Spec {
  return {
    schema: z.literal(true),
    expected: `only true is supported: ${why}`,
    env: "boolean",
    default: true,
  };
}

function int(min: number, def?: number, max?: number): Spec {
  const base = z.number().int().min(min);
  return {
    schema: max === undefined ? base : base.max(max),
    expected: max === undefined
      ? `expected an integer >= ${min}`
      : `expected an integer from ${min} to ${max}`,
    env: "number",
    default: def,
  };
}

function dur(def?: number): Spec {
  return {
    schema: DURATION,
    expected: 'expected seconds >= 0 or a string such as "500ms", "30s", "1h"',
    env: "duration",
    duration: true,
    default: def,
  };
}

function str(def?: string): Spec {
  return {
    schema: z.string().min(1),
    expected: "expected a non-empty string",
    env: "string",
    default: def,
  };
}

function oneOf(
  values: readonly [string, ...string[]] | readonly number[],
  def: unknown,
): Spec {
  const numeric = typeof values[0] === "number";
  return {
    schema: z.literal(values as readonly string[]),
    expected: `expected one of ${
      values.map((v) => JSON.stringify(v)).join(", ")
    }`,
    env: numeric ? "number" : "string",
    default: def,
  };
}

function url(schemes: readonly string[], def: string): Spec {
  return {
    schema: z.string().refine((v) => {
      try {
        return schemes.includes(parseUrl(v).scheme);
      } catch {
        return false;
      }
    }),
    expected: `supported schemes: ${schemes.map((s) => `${s}://`).join(", ")}`,
    env: "string",
    default: def,
  };
}

const CODEC_NAME = z.string().regex(/^[^|\s]+(\s*\|\s*[^|\s]+)*$/);
const STRINGS = z.array(z.string());
const CREDENTIALS = z.strictObject({
  sasl: z.strictObject({
    mechanism: z.enum(["plain", "scram-sha-256", "scram-sha-512"]),
    username: z.string(),
    password: z.string(),
  }).optional(),
  ssl: z.union([
    z.boolean(),
    z.strictObject({
      ca: z.union([z.string(), STRINGS]).optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      rejectUnauthorized: z.boolean().optional(),
    }),
  ]).optional(),
});
const CORS = z.strictObject({
  origin: z.union([z.string(), STRINGS]).optional(),
  allowMethods: STRINGS.optional(),
  allowHeaders: STRINGS.optional(),
  exposeHeaders: STRINGS.optional(),
  maxAge: z.number().int().min(0).optional(),
  credentials: z.boolean().optional(),
});

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Every setting; `undefined` default = not set, or derived in resolveSettings. */
export const SPECS: { readonly [K in keyof SettingsInput]-?: Spec } = {
  autodiscover: {
    schema: z.union([z.boolean(), STRINGS]),
    expected: "expected true, false or a list of module paths",
    env: "flag-or-json",
    default: false,
  },
  origin: str(),
  datadir: str(),
  tabledir: str(),
  debug: bool(false),
  version: int(1, 1),
  timezone: {
    schema: z.string().refine(isTimeZone),
    expected: 'expected an IANA time zone name such as "UTC" or "Europe/Oslo"',
    env: "string",
    default: "UTC",
  },
  blockingTimeout: dur(),
  broker: url(BROKER_SCHEMES, "local://"),
  brokerCredentials: {
    schema: CREDENTIALS,
    expected:
      'expected { sasl?: { mechanism: "plain" | "scram-sha-256" | "scram-sha-512", username, password }, ssl?: boolean | { ca?, cert?, key?, rejectUnauthorized? } }',
    env: "json",
    secret: true,
  },
  brokerClientId: str(`faust-deno-${VERSION}`),
  brokerCommitEvery: int(1, 10000),
  brokerCommitInterval: dur(2.8),
  brokerCommitLivelockSoftTimeout: dur(300),
  brokerHeartbeatInterval: dur(3),
  brokerMaxPollRecords: int(1),
  brokerRebalanceTimeout: dur(60),
  brokerRequestTimeout: dur(90),
  brokerSessionTimeout: dur(60),
  consumerMaxFetchSize: int(1, 1024 * 1024),
  consumerFetchMaxBytes: int(1, 1024 * 1024),
  consumerMaxBufferedRecords: int(1, 10_000),
  consumerIsolationLevel: oneOf(
    ["read_committed", "read_uncommitted"],
    "read_committed",
  ),
  consumerAutoOffsetReset: oneOf(["earliest", "latest"], "earliest"),
  producerAcks: oneOf([-1, 0, 1], -1),
  producerCompressionType: oneOf(
    ["none", "gzip", "snappy", "lz4", "zstd"],
    "none",
  ),
  producerLinger: dur(0),
  producerMaxRequestSize: int(1, 1000000),
  producerRequestTimeout: dur(30),
  keySerializer: {
    schema: CODEC_NAME,
    expected: 'expected a codec name such as "raw", "json" or "binary|json"',
    env: "string",
    default: "raw",
  },
  valueSerializer: {
    schema: CODEC_NAME,
    expected: 'expected a codec name such as "raw", "json" or "binary|json"',
    env: "string",
    default: "json",
  },
  processingGuarantee: oneOf(
    ["at_least_once", "exactly_once"],
    "at_least_once",
  ),
  streamBufferMaxsize: int(1, 4096),
  streamProcessingTimeout: dur(300),
  streamRecoveryDelay: dur(0),
  streamWaitEmpty: onlyTrue(
    "on stop and rebalance agents always finish the event in hand and leave buffered events uncommitted for the next owner",
  ),
  recoveryConsistencyCheck: onlyTrue(
    "recovery always checks a store's offset against the changelog and rebuilds a partition whose offset is past the changelog's end",
  ),
  store: url(STORE_SCHEMES, "lmdb://"),
  replyCreateTopic: bool(false),
  replyExpires: dur(86400),
  replyToPrefix: str("f-reply-"),
  tableChangelogCache: bool(true),
  tableCleanupInterval: dur(30),
  tableStandbyReplicas: int(0, 1),
  topicAllowDeclare: bool(true),
  topicPartitions: int(1, 8),
  topicReplicationFactor: int(1, 1),
  agentSupervisor: oneOf(
    ["one_for_one", "one_for_all", "crashing"],
    "one_for_one",
  ),
  webEnabled: bool(true),
  webBind: str("127.0.0.1"),
  webHost: str(),
  webPort: int(0, 6066, 65535),
  webCorsOptions: {
    schema: CORS,
    expected:
      "expected an object with origin, allowMethods, allowHeaders, exposeHeaders, maxAge, credentials",
    env: "json",
    default: {},
  },
  canonicalUrl: {
    schema: z.string().regex(/^https?:\/\/[^\s/]+/),
    expected: 'expected an http:// or https:// URL such as "http://host:6066"',
    env: "string",
  },
  webAllowedHosts: {
    schema: z.array(z.string().regex(/^(\*|[^\s/:]+|\[[0-9a-fA-F:.]+\])$/)),
    expected:
      'expected a list of host names without ports, such as ["faust.example.com"], or ["*"] for any host',
    env: "json",
    default: [],
  },
  webRouterEnabled: bool(true),
  webTablesEnabled: bool(false),
  webMetricsEnabled: bool(true),
  decodeErrorPolicy: oneOf(["skip", "fail", "dead-letter"], "skip"),
  loglevel: oneOf(["crit", "error", "warn", "info", "debug"], "warn"),
};

/**
 * Faust settings this library does not implement, with what to do
 * instead: giving one is a `ConfigError` rather than a value that would
 * silently do nothing.
 */
export const UNSUPPORTED: Readonly<Record<string, string>> = {
  brokerMaxPollInterval:
    "the Kafka client used (kafkajs) has no max.poll.interval; a stuck agent is reported by streamProcessingTimeout and brokerCommitLivelockSoftTimeout, and a dead worker leaves the group after brokerSessionTimeout",
  consumerGroupInstanceId:
    "static group membership is not available in the Kafka client used (kafkajs); remove the setting (members rejoin with a new id)",
  producerMaxBatchSize:
    "the Kafka client used (kafkajs) has no batch size limit; records are grouped by producerLinger, and producerMaxRequestSize bounds one record",
};

/** Every setting name, in declaration order. */
export const NAMES: readonly (keyof SettingsInput)[] = Object.keys(
  SPECS,
) as (keyof SettingsInput)[];

/**
 * Split a URL into its scheme and the rest, without `new URL` (which would
 * read the first path segment of `local://data/broker` as a host).
 *
 * @param url A URL such as `"kafka://host1:9092;host2:9092"`.
 * @returns The lower-case scheme (without `://`) and everything after `://`.
 * @throws {ConfigError} When the string has no `scheme://` prefix.
 */
export function parseUrl(url: string): { scheme: string; rest: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (m === null) {
    throw new ConfigError(
      `Invalid URL ${
        JSON.stringify(url)
      }; expected "scheme://..." such as "kafka://localhost:9092"`,
    );
  }
  return { scheme: m[1]!.toLowerCase(), rest: m[2]! };
}

/**
 * A value as shown in error messages (strings quoted, long values cut).
 *
 * @param value Anything.
 * @returns Short text.
 */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (value === null || typeof value !== "object") return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  "1": true,
  yes: true,
  on: true,
  false: false,
  "0": false,
  no: false,
  off: false,
};

/**
 * Turn an environment string into a value of the setting's type; values
 * that do not parse are returned as is so validation reports them.
 *
 * @param kind How to parse.
 * @param raw The variable's value.
 * @param variable The variable name, for errors.
 * @param name The setting name, for errors.
 * @returns The parsed value.
 * @throws {ConfigError} When a JSON value does not parse.
 */
export function parseEnv(
  kind: EnvKind,
  raw: string,
  variable: string,
  name: string,
): unknown {
  const text = raw.trim();
  const num = text !== "" && Number.isFinite(Number(text))
    ? Number(text)
    : undefined;
  switch (kind) {
    case "string":
      return raw;
    case "number":
      return num ?? raw;
    case "duration":
      return num ?? text;
    case "boolean":
      return BOOLEANS[text.toLowerCase()] ?? raw;
    case "flag-or-json":
      if (text.toLowerCase() in BOOLEANS) return BOOLEANS[text.toLowerCase()];
      // falls through to JSON
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        throw new ConfigError(
          `Invalid environment variable ${variable} (setting "${name}"): ${
            show(raw)
          }; expected JSON`,
        );
      }
  }
}
