/**
 * The `kafka://` URL and the Kafka settings that arrive as
 * `TransportOptions.extra`, checked and turned into kafkajs configuration.
 *
 * | extra key | meaning | default |
 * |---|---|---|
 * | `producerAcks` | `-1` (all in-sync replicas), `0` (no ack: offsets are `-1`), `1` (leader) | `-1` |
 * | `producerLinger` | seconds `send()` calls wait to be merged into one produce request | `0` |
 * | `producerCompressionType` | `"none"` or `"gzip"` (kafkajs ships no snappy/lz4/zstd codec) | `"none"` |
 * | `idempotence` | idempotent producer (needs `producerAcks: -1`) | `false` |
 * | `brokerCredentials` | `{ sasl?: { mechanism: "plain" \| "scram-sha-256" \| "scram-sha-512", username, password }, ssl?: true \| tls options }` | none |
 * | `brokerRequestTimeout` | seconds a broker request may take | `30` |
 * | `producerRequestTimeout` | seconds the broker may take to acknowledge a produce request | `30` |
 * | `brokerSessionTimeout` | seconds without heartbeat before the group drops a member | `30` |
 * | `brokerHeartbeatInterval` | seconds between heartbeats | `3` |
 * | `brokerRebalanceTimeout` | seconds members get to rejoin during a rebalance | `60` |
 * | `consumerMaxFetchSize` | bytes fetched per partition per request | `1048576` |
 * | `consumerFetchMaxBytes` | bytes of one fetch response, all partitions together | `1048576` |
 * | `consumerMaxBufferedRecords` | records fetched ahead of `poll()` before fetching pauses | `10000` |
 * | `consumerIsolationLevel` | `"read_committed"` or `"read_uncommitted"` | `"read_committed"` |
 * | `topicReplicationFactor` | replication factor of created topics without `replicas` | `1` |
 * | `topicAllowDeclare` | whether the app may create topics (`false`: `createTopic` only checks) | `true` |
 *
 * Durations accept seconds or strings such as `"500ms"`.
 *
 * @module
 */
import { CompressionTypes, type SASLOptions } from "kafkajs";
import type { ConnectionOptions } from "node:tls";
import { type Duration, toMillis } from "../../util/duration.ts";
import { ConfigError } from "../../errors.ts";

/** Kafka settings after validation; durations in milliseconds. */
export interface KafkaSettings {
  /** Broker addresses, `host:port`. */
  readonly brokers: string[];
  /** Producer acks: -1, 0 or 1. */
  readonly acks: -1 | 0 | 1;
  /** Milliseconds to merge `send()` calls. */
  readonly lingerMs: number;
  /** kafkajs compression code. */
  readonly compression: CompressionTypes;
  /** Idempotent producer. */
  readonly idempotent: boolean;
  /** SASL settings, when given. */
  readonly sasl: SASLOptions | undefined;
  /** TLS settings, when given. */
  readonly ssl: boolean | ConnectionOptions | undefined;
  /** Broker request timeout. */
  readonly requestTimeoutMs: number;
  /** Produce request timeout (the broker's wait for acknowledgements). */
  readonly produceTimeoutMs: number;
  /** Group session timeout. */
  readonly sessionTimeoutMs: number;
  /** Heartbeat interval. */
  readonly heartbeatIntervalMs: number;
  /** Rebalance timeout. */
  readonly rebalanceTimeoutMs: number;
  /** Bytes per partition per fetch. */
  readonly maxFetchBytes: number;
  /** Bytes per fetch response, all partitions together. */
  readonly fetchMaxBytes: number;
  /** Records buffered ahead of `poll()`. */
  readonly maxBufferedRecords: number;
  /** Consumer isolation level. */
  readonly readCommitted: boolean;
  /** Replication factor for created topics. */
  readonly replicationFactor: number;
  /** Whether topics may be created. */
  readonly allowDeclare: boolean;
}

/**
 * Parse `kafka://host:port[;host:port]` by hand (`new URL` would take the
 * first host for a URL host and drop the rest). The port defaults to 9092.
 *
 * @param url The broker URL.
 * @returns The `host:port` list.
 * @throws {ConfigError} When the scheme is not `kafka://` or a host is empty or a port invalid.
 */
export function parseKafkaUrl(url: string): string[] {
  const scheme = "kafka://";
  if (!url.startsWith(scheme)) {
    throw new ConfigError(
      `Invalid Kafka broker URL ${
        JSON.stringify(url)
      }; expected kafka://host:port[;host:port]`,
    );
  }
  const rest = url.slice(scheme.length).replace(/\/+$/, "");
  const parts = rest.split(/[;,]/).map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) {
    throw new ConfigError(
      `Invalid Kafka broker URL ${
        JSON.stringify(url)
      }: no host; expected kafka://host:port[;host:port]`,
    );
  }
  return parts.map((part) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(part);
    const port = m?.[2] === undefined ? 9092 : Number(m[2]);
    if (m === null || !(port > 0 && port < 65536)) {
      throw new ConfigError(
        `Invalid broker address ${JSON.stringify(part)} in ${
          JSON.stringify(url)
        }; expected host or host:port`,
      );
    }
    return `${m[1]}:${port}`;
  });
}

function duration(
  extra: Readonly<Record<string, unknown>>,
  name: string,
  fallbackMs: number,
): number {
  const v = extra[name];
  if (v === undefined) return fallbackMs;
  if (typeof v !== "number" && typeof v !== "string") {
    throw new ConfigError(
      `Invalid ${name}: ${
        JSON.stringify(v)
      }; expected seconds or a string such as "30s"`,
    );
  }
  return toMillis(v as Duration, name);
}

function positiveInt(
  extra: Readonly<Record<string, unknown>>,
  name: string,
  fallback: number,
): number {
  const v = extra[name];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new ConfigError(
      `Invalid ${name}: ${JSON.stringify(v)}; expected an integer >= 1`,
    );
  }
  return v;
}

function bool(
  extra: Readonly<Record<string, unknown>>,
  name: string,
  fallback: boolean,
): boolean {
  const v = extra[name];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") {
    throw new ConfigError(
      `Invalid ${name}: ${JSON.stringify(v)}; expected true or false`,
    );
  }
  return v;
}

function acks(v: unknown): -1 | 0 | 1 {
  if (v === undefined) return -1;
  if (v === -1 || v === 0 || v === 1) return v;
  throw new ConfigError(
    `Invalid producerAcks: ${JSON.stringify(v)}; expected -1, 0 or 1`,
  );
}

function compression(v: unknown): CompressionTypes {
  if (v === undefined || v === null || v === "none") {
    return CompressionTypes.None;
  }
  if (v === "gzip") return CompressionTypes.GZIP;
  throw new ConfigError(
    `Invalid producerCompressionType: ${
      JSON.stringify(v)
    }; expected "none" or "gzip" ` +
      `(kafkajs has no built-in snappy, lz4 or zstd codec)`,
  );
}

const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"];

function credentials(
  v: unknown,
): {
  sasl: SASLOptions | undefined;
  ssl: boolean | ConnectionOptions | undefined;
} {
  if (v === undefined || v === null) return { sasl: undefined, ssl: undefined };
  if (typeof v !== "object") {
    throw new ConfigError(
      `Invalid brokerCredentials: expected { sasl?: { mechanism, username, password }, ssl? }`,
    );
  }
  const { sasl, ssl } = v as { sasl?: unknown; ssl?: unknown };
  let saslOut: SASLOptions | undefined;
  if (sasl !== undefined) {
    const s = sasl as {
      mechanism?: unknown;
      username?: unknown;
      password?: unknown;
    };
    if (
      typeof s !== "object" || s === null || typeof s.mechanism !== "string" ||
      !SASL_MECHANISMS.includes(s.mechanism.toLowerCase()) ||
      typeof s.username !== "string" ||
      typeof s.password !== "string"
    ) {
      throw new ConfigError(
        `Invalid brokerCredentials.sasl; expected { mechanism: ${
          SASL_MECHANISMS.map((m) => `"${m}"`).join(" | ")
        }, ` +
          `username: string, password: string }`,
      );
    }
    saslOut = {
      mechanism: s.mechanism.toLowerCase() as "plain",
      username: s.username,
      password: s.password,
    };
  }
  if (
    ssl !== undefined && typeof ssl !== "boolean" &&
    (typeof ssl !== "object" || ssl === null)
  ) {
    throw new ConfigError(
      `Invalid brokerCredentials.ssl; expected true, false or TLS connection options`,
    );
  }
  return { sasl: saslOut, ssl: ssl as boolean | ConnectionOptions | undefined };
}

/**
 * Check the Kafka settings of `TransportOptions.extra` (see the module table).
 *
 * @param url The `kafka://` URL.
 * @param extra The extra settings, possibly absent.
 * @returns The validated settings.
 * @throws {ConfigError} Naming the setting, its value and what is accepted.
 */
export function readKafkaSettings(
  url: string,
  extra: Readonly<Record<string, unknown>> = {},
): KafkaSettings {
  const { sasl, ssl } = credentials(extra.brokerCredentials);
  const producerAcks = acks(extra.producerAcks);
  const idempotent = bool(extra, "idempotence", false);
  if (idempotent && producerAcks !== -1) {
    throw new ConfigError(
      `Invalid producerAcks: ${producerAcks} with idempotence: true; an idempotent producer needs -1`,
    );
  }
  const isolation = extra.consumerIsolationLevel ?? "read_committed";
  if (isolation !== "read_committed" && isolation !== "read_uncommitted") {
    throw new ConfigError(
      `Invalid consumerIsolationLevel: ${
        JSON.stringify(isolation)
      }; expected "read_committed" or "read_uncommitted"`,
    );
  }
  return {
    brokers: parseKafkaUrl(url),
    acks: producerAcks,
    lingerMs: duration(extra, "producerLinger", 0),
    compression: compression(extra.producerCompressionType),
    idempotent,
    sasl,
    ssl,
    requestTimeoutMs: duration(extra, "brokerRequestTimeout", 30_000),
    produceTimeoutMs: duration(extra, "producerRequestTimeout", 30_000),
    sessionTimeoutMs: duration(extra, "brokerSessionTimeout", 30_000),
    heartbeatIntervalMs: duration(extra, "brokerHeartbeatInterval", 3_000),
    rebalanceTimeoutMs: duration(extra, "brokerRebalanceTimeout", 60_000),
    maxFetchBytes: positiveInt(extra, "consumerMaxFetchSize", 1_048_576),
    fetchMaxBytes: positiveInt(extra, "consumerFetchMaxBytes", 1_048_576),
    maxBufferedRecords: positiveInt(
      extra,
      "consumerMaxBufferedRecords",
      10_000,
    ),
    readCommitted: isolation === "read_committed",
    replicationFactor: positiveInt(extra, "topicReplicationFactor", 1),
    allowDeclare: bool(extra, "topicAllowDeclare", true),
  };
}
