/**
 * The shapes of app settings: {@linkcode SettingsInput} as given to
 * `new App(id, options)` and {@linkcode Settings} once resolved.
 *
 * @module
 */
import type { Duration } from "../util/duration.ts";

/**
 * SASL and TLS credentials for `kafka://` brokers.
 *
 * @example SASL over TLS
 * ```ts
 * import { App, type BrokerCredentials } from "@faust/faust";
 *
 * const credentials: BrokerCredentials = {
 *   sasl: { mechanism: "scram-sha-256", username: "app", password: "secret" },
 *   ssl: true,
 * };
 * // Settings are checked here; nothing connects until app.start().
 * const app = new App("secure", {
 *   broker: "kafka://127.0.0.1:9093",
 *   brokerCredentials: credentials,
 * });
 * console.log(app.conf.broker);
 * ```
 */
export interface BrokerCredentials {
  /** SASL authentication. */
  sasl?: {
    /** SASL mechanism. */
    mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    /** User name. */
    username: string;
    /** Password. */
    password: string;
  };
  /** `true` for TLS with the system's CAs, or the TLS options. */
  ssl?: boolean | {
    /** CA certificate(s), PEM. */
    ca?: string | string[];
    /** Client certificate, PEM. */
    cert?: string;
    /** Client private key, PEM. */
    key?: string;
    /** Verify the server certificate. @default true */
    rejectUnauthorized?: boolean;
  };
}

/**
 * CORS headers for the web server; an empty object sends none.
 *
 * @example Allowing one origin
 * ```ts
 * import type { WebCorsOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const cors: WebCorsOptions = { origin: "https://example.com", maxAge: 600 };
 * const app = testApp("cors", { webCorsOptions: cors });
 * console.log(app.conf.webCorsOptions);
 * ```
 */
export interface WebCorsOptions {
  /** Allowed origins (`"*"` for any). */
  origin?: string | string[];
  /** Allowed methods. */
  allowMethods?: string[];
  /** Allowed request headers. */
  allowHeaders?: string[];
  /** Response headers exposed to the browser. */
  exposeHeaders?: string[];
  /** Seconds a preflight response may be cached. */
  maxAge?: number;
  /** Whether credentials are allowed. */
  credentials?: boolean;
}

/**
 * Log levels, as in Faust's `-l/--loglevel`.
 *
 * @example Starting a worker that logs warnings only
 * ```ts
 * import { type LogLevel, Worker } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const loglevel: LogLevel = "warn";
 * const worker = new Worker(testApp("quiet", { webEnabled: false }), { loglevel });
 * console.log(worker.loglevel);
 * ```
 */
export type LogLevel = "crit" | "error" | "warn" | "info" | "debug";

/**
 * Settings given to `new App(id, options)`. Every field is optional; each
 * one can also come from the environment variable `FAUST_<UPPER_SNAKE_NAME>`
 * (e.g. `FAUST_WEB_PORT` for `webPort`). Precedence: CLI flag > option in
 * code > environment > default. Durations are seconds or strings such as
 * `"500ms"`, `"30s"`, `"1h"`.
 *
 * @example Settings in code
 * ```ts
 * import { App, type SettingsInput } from "@faust/faust";
 *
 * const settings: SettingsInput = {
 *   broker: "memory://",
 *   store: "memory://",
 *   topicPartitions: 4,
 *   processingGuarantee: "at_least_once",
 * };
 * const app = new App("orders", settings);
 * console.log(app.conf.topicPartitions); // 4
 * ```
 */
export interface SettingsInput {
  /** Discover agents, commands and pages in modules: `true`, or a list of module paths. @default false */
  autodiscover?: boolean | string[];
  /** The module the app lives in, as used by the CLI's `--app`. @default undefined */
  origin?: string;
  /** Directory for the app's local data. @default "{id}-data" */
  datadir?: string;
  /** Directory for table stores; a relative path is under `{datadir}/v{version}`. @default "{datadir}/v{version}/tables" */
  tabledir?: string;
  /** Debug mode (extra web pages, more checks). @default false */
  debug?: boolean;
  /** App version: bumping it starts from fresh state (`{id}-v{version}` group id and topics). @default 1 */
  version?: number;
  /** Time zone for crontab timers, an IANA name. @default "UTC" */
  timezone?: string;
  /** Warn when the event loop is blocked for longer than this. @default undefined (off) */
  blockingTimeout?: Duration;
  /** Broker URL: `local://[path]`, `memory://[name]` or `kafka://host:port[;host:port]`. @default "local://" */
  broker?: string;
  /** SASL/TLS credentials for Kafka. @default undefined */
  brokerCredentials?: BrokerCredentials;
  /** Client id sent to the broker. @default "faust-deno-{packageVersion}" */
  brokerClientId?: string;
  /** Commit after this many acked messages. @default 10000 */
  brokerCommitEvery?: number;
  /** Commit acked offsets this often. @default 2.8 */
  brokerCommitInterval?: Duration;
  /**
   * Warn (and count `commitLivelocks`) when a partition's committed offset
   * has not moved for this long while it has events delivered and not
   * committed; again each further period. 0 turns it off. @default 300
   */
  brokerCommitLivelockSoftTimeout?: Duration;
  /** Consumer heartbeat interval. @default 3 */
  brokerHeartbeatInterval?: Duration;
  /** Maximum records per poll. @default undefined (no limit) */
  brokerMaxPollRecords?: number;
  /** Time allowed for a rebalance. @default 60 */
  brokerRebalanceTimeout?: Duration;
  /** Broker request timeout. @default 90 */
  brokerRequestTimeout?: Duration;
  /** Consumer session timeout. @default 60 */
  brokerSessionTimeout?: Duration;
  /** Maximum bytes fetched per partition per request. @default 1048576 */
  consumerMaxFetchSize?: number;
  /**
   * Maximum bytes of one fetch response, all partitions together (Kafka's
   * `fetch.max.bytes`). kafkajs decodes a whole response at once and its
   * records stay in memory until the agents took them, so this bounds the
   * records held ahead of processing; the first record batch of a response
   * comes back even when it is larger, so it never stops progress.
   * @default 1048576
   */
  consumerFetchMaxBytes?: number;
  /**
   * `kafka://`: records fetched ahead of the agents (of partitions not
   * paused) beyond which fetching waits. @default 10000
   */
  consumerMaxBufferedRecords?: number;
  /**
   * `kafka://`: whether the consumer reads only committed transactional
   * records (`"read_committed"`, needed to consume what an exactly-once app
   * produced) or also those of open and aborted transactions.
   * @default "read_committed"
   */
  consumerIsolationLevel?: "read_committed" | "read_uncommitted";
  /** Where a consumer group with no committed offset starts. @default "earliest" */
  consumerAutoOffsetReset?: "earliest" | "latest";
  /** Producer acks: -1 (all in-sync replicas), 0 (none) or 1 (leader). @default -1 */
  producerAcks?: -1 | 0 | 1;
  /** Producer compression. @default "none" */
  producerCompressionType?: "none" | "gzip" | "snappy" | "lz4" | "zstd";
  /** Time the producer waits to batch messages. @default 0 */
  producerLinger?: Duration;
  /**
   * Largest record a send accepts, in bytes (key, value and headers): a
   * larger one is refused at `send()` with an error naming the topic, the
   * size and this setting, on every broker. @default 1000000
   */
  producerMaxRequestSize?: number;
  /**
   * Kafka: how long the broker may take to acknowledge a produce request
   * (the produce request's timeout). @default 30
   */
  producerRequestTimeout?: Duration;
  /** Default codec for keys (a name such as `"raw"` or `"binary|json"`). @default "raw" */
  keySerializer?: string;
  /** Default codec for values. @default "json" */
  valueSerializer?: string;
  /** Delivery guarantee; `exactly_once` needs `kafka://` or `local://`. @default "at_least_once" */
  processingGuarantee?: "at_least_once" | "exactly_once";
  /** Events buffered per stream before the consumer pauses. @default 4096 */
  streamBufferMaxsize?: number;
  /**
   * Warn (once per event, and count `stuckEvents`) when an agent actor has
   * held one event for longer than this: the log names the agent, the
   * event's topic, partition and offset and how long. 0 turns it off.
   * @default 300
   */
  streamProcessingTimeout?: Duration;
  /**
   * Wait this long after partitions are assigned before tables recover and
   * streams resume (lets more workers join or leave first). @default 0
   */
  streamRecoveryDelay?: Duration;
  /**
   * On stop and rebalance, agents finish the event in hand; events still
   * buffered are not processed (their offsets stay uncommitted, the next
   * owner reads them). Only `true` is supported. @default true
   */
  streamWaitEmpty?: true;
  /**
   * After recovery, a store whose offset is past the changelog's end (the
   * changelog was recreated) is rebuilt from the changelog. Only `true` is
   * supported. @default true
   */
  recoveryConsistencyCheck?: true;
  /** Table store URL: `lmdb://[path]` or `memory://`. @default "lmdb://" */
  store?: string;
  /** Create the app's reply topic (and start reading it) at start instead of at the first `ask`. @default false */
  replyCreateTopic?: boolean;
  /** Retention of the app's reply topic: replies older than this are deleted. @default 86400 (1 day) */
  replyExpires?: Duration;
  /** Prefix of reply topic names. @default "f-reply-" */
  replyToPrefix?: string;
  /**
   * The changelog record cache: between two commits a table keeps only the
   * last change per key and appends it to the changelog at the commit
   * (before the offsets commit; exactly-once: in the same transaction).
   * A key updated many times between commits costs one changelog record
   * and one store write. `false` appends one record per change, at once.
   * Per table: the `changelogCache` option. @default true
   */
  tableChangelogCache?: boolean;
  /** How often expired windows are removed from tables. @default 30 */
  tableCleanupInterval?: Duration;
  /** Standby replicas per table partition (Kafka). @default 1 */
  tableStandbyReplicas?: number;
  /** Create topics the app declares. @default true */
  topicAllowDeclare?: boolean;
  /** Default partition count of new topics. @default 8 */
  topicPartitions?: number;
  /** Default replication factor of new topics (Kafka). @default 1 */
  topicReplicationFactor?: number;
  /** What a crashing agent restarts: itself, every agent, or the worker exits. @default "one_for_one" */
  agentSupervisor?: "one_for_one" | "one_for_all" | "crashing";
  /** Run the web server in the worker. @default true */
  webEnabled?: boolean;
  /** Interface the web server listens on. @default "127.0.0.1" */
  webBind?: string;
  /** Host name other workers use to reach this one. @default the machine's host name, or "localhost" without permission */
  webHost?: string;
  /** Web server port (0 picks a free one). @default 6066 */
  webPort?: number;
  /** CORS headers for the web server. @default {} */
  webCorsOptions?: WebCorsOptions;
  /** URL other workers use to reach this one. @default "http://{webHost}:{webPort}" */
  canonicalUrl?: string;
  /**
   * Extra host names the web server answers to. A request whose `Host`
   * header names another host is refused with 421 (a page in a browser
   * cannot reach the worker through a DNS name rebound to 127.0.0.1).
   * Always allowed: `127.0.0.1`, `localhost`, `[::1]`, `webBind`,
   * `webHost` and the host of `canonicalUrl`, on any port. `["*"]` allows
   * every host.
   * @default []
   */
  webAllowedHosts?: string[];
  /** Serve `/router/` (which worker owns a key). @default true */
  webRouterEnabled?: boolean;
  /** Serve table contents under `/table/` (opt-in: it exposes values). @default false */
  webTablesEnabled?: boolean;
  /** Serve Prometheus metrics on `/metrics`. @default true */
  webMetricsEnabled?: boolean;
  /**
   * What to do with a message that cannot be decoded: `"skip"` logs and
   * commits past it; `"fail"` stops the app (the worker exits non-zero)
   * without committing it; `"dead-letter"` writes it to
   * `{appId}-dead-letter` (source topic, partition, offset and error in
   * `faust-dead-letter-*` headers) and commits past it once written.
   * @default "skip"
   */
  decodeErrorPolicy?: "skip" | "fail" | "dead-letter";
  /** Log level of the worker. @default "warn" */
  loglevel?: LogLevel;
}

/**
 * Resolved, validated settings: every field present, durations in seconds.
 *
 * @example Reading resolved settings
 * ```ts
 * import type { Settings } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const conf: Settings = testApp("orders", { version: 2 }).conf;
 * assert.equal(conf.appId, "orders-v2"); // also the consumer group id
 * ```
 */
export interface Settings {
  /** The app id as given. */
  readonly id: string;
  /** `{id}-v{version}` when version > 1, else `id`; also the consumer group id. */
  readonly appId: string;
  /** See {@linkcode SettingsInput.autodiscover}. */
  readonly autodiscover: boolean | readonly string[];
  /** See {@linkcode SettingsInput.origin}. */
  readonly origin: string | undefined;
  /** See {@linkcode SettingsInput.datadir}. */
  readonly datadir: string;
  /** See {@linkcode SettingsInput.tabledir}. */
  readonly tabledir: string;
  /** See {@linkcode SettingsInput.debug}. */
  readonly debug: boolean;
  /** See {@linkcode SettingsInput.version}. */
  readonly version: number;
  /** See {@linkcode SettingsInput.timezone}. */
  readonly timezone: string;
  /** Seconds; see {@linkcode SettingsInput.blockingTimeout}. */
  readonly blockingTimeout: number | undefined;
  /** See {@linkcode SettingsInput.broker}. */
  readonly broker: string;
  /** See {@linkcode SettingsInput.brokerCredentials}. */
  readonly brokerCredentials: BrokerCredentials | undefined;
  /** See {@linkcode SettingsInput.brokerClientId}. */
  readonly brokerClientId: string;
  /** See {@linkcode SettingsInput.brokerCommitEvery}. */
  readonly brokerCommitEvery: number;
  /** Seconds; see {@linkcode SettingsInput.brokerCommitInterval}. */
  readonly brokerCommitInterval: number;
  /** Seconds; see {@linkcode SettingsInput.brokerCommitLivelockSoftTimeout}. */
  readonly brokerCommitLivelockSoftTimeout: number;
  /** Seconds; see {@linkcode SettingsInput.brokerHeartbeatInterval}. */
  readonly brokerHeartbeatInterval: number;
  /** See {@linkcode SettingsInput.brokerMaxPollRecords}. */
  readonly brokerMaxPollRecords: number | undefined;
  /** Seconds; see {@linkcode SettingsInput.brokerRebalanceTimeout}. */
  readonly brokerRebalanceTimeout: number;
  /** Seconds; see {@linkcode SettingsInput.brokerRequestTimeout}. */
  readonly brokerRequestTimeout: number;
  /** Seconds; see {@linkcode SettingsInput.brokerSessionTimeout}. */
  readonly brokerSessionTimeout: number;
  /** See {@linkcode SettingsInput.consumerMaxFetchSize}. */
  readonly consumerMaxFetchSize: number;
  /** See {@linkcode SettingsInput.consumerFetchMaxBytes}. */
  readonly consumerFetchMaxBytes: number;
  /** See {@linkcode SettingsInput.consumerMaxBufferedRecords}. */
  readonly consumerMaxBufferedRecords: number;
  /** See {@linkcode SettingsInput.consumerIsolationLevel}. */
  readonly consumerIsolationLevel: "read_committed" | "read_uncommitted";
  /** See {@linkcode SettingsInput.consumerAutoOffsetReset}. */
  readonly consumerAutoOffsetReset: "earliest" | "latest";
  /** See {@linkcode SettingsInput.producerAcks}. */
  readonly producerAcks: -1 | 0 | 1;
  /** See {@linkcode SettingsInput.producerCompressionType}. */
  readonly producerCompressionType: "none" | "gzip" | "snappy" | "lz4" | "zstd";
  /** Seconds; see {@linkcode SettingsInput.producerLinger}. */
  readonly producerLinger: number;
  /** See {@linkcode SettingsInput.producerMaxRequestSize}. */
  readonly producerMaxRequestSize: number;
  /** Seconds; see {@linkcode SettingsInput.producerRequestTimeout}. */
  readonly producerRequestTimeout: number;
  /** See {@linkcode SettingsInput.keySerializer}. */
  readonly keySerializer: string;
  /** See {@linkcode SettingsInput.valueSerializer}. */
  readonly valueSerializer: string;
  /** See {@linkcode SettingsInput.processingGuarantee}. */
  readonly processingGuarantee: "at_least_once" | "exactly_once";
  /** See {@linkcode SettingsInput.streamBufferMaxsize}. */
  readonly streamBufferMaxsize: number;
  /** Seconds; see {@linkcode SettingsInput.streamProcessingTimeout}. */
  readonly streamProcessingTimeout: number;
  /** Seconds; see {@linkcode SettingsInput.streamRecoveryDelay}. */
  readonly streamRecoveryDelay: number;
  /** See {@linkcode SettingsInput.streamWaitEmpty}. */
  readonly streamWaitEmpty: true;
  /** See {@linkcode SettingsInput.recoveryConsistencyCheck}. */
  readonly recoveryConsistencyCheck: true;
  /** See {@linkcode SettingsInput.store}. */
  readonly store: string;
  /** See {@linkcode SettingsInput.replyCreateTopic}. */
  readonly replyCreateTopic: boolean;
  /** Seconds; see {@linkcode SettingsInput.replyExpires}. */
  readonly replyExpires: number;
  /** See {@linkcode SettingsInput.replyToPrefix}. */
  readonly replyToPrefix: string;
  /** See {@linkcode SettingsInput.tableChangelogCache}. */
  readonly tableChangelogCache: boolean;
  /** Seconds; see {@linkcode SettingsInput.tableCleanupInterval}. */
  readonly tableCleanupInterval: number;
  /** See {@linkcode SettingsInput.tableStandbyReplicas}. */
  readonly tableStandbyReplicas: number;
  /** See {@linkcode SettingsInput.topicAllowDeclare}. */
  readonly topicAllowDeclare: boolean;
  /** See {@linkcode SettingsInput.topicPartitions}. */
  readonly topicPartitions: number;
  /** See {@linkcode SettingsInput.topicReplicationFactor}. */
  readonly topicReplicationFactor: number;
  /** See {@linkcode SettingsInput.agentSupervisor}. */
  readonly agentSupervisor: "one_for_one" | "one_for_all" | "crashing";
  /** See {@linkcode SettingsInput.webEnabled}. */
  readonly webEnabled: boolean;
  /** See {@linkcode SettingsInput.webBind}. */
  readonly webBind: string;
  /** See {@linkcode SettingsInput.webHost}. */
  readonly webHost: string;
  /** See {@linkcode SettingsInput.webPort}. */
  readonly webPort: number;
  /** See {@linkcode SettingsInput.webCorsOptions}. */
  readonly webCorsOptions: WebCorsOptions;
  /** See {@linkcode SettingsInput.canonicalUrl}. */
  readonly canonicalUrl: string;
  /** See {@linkcode SettingsInput.webAllowedHosts}. */
  readonly webAllowedHosts: readonly string[];
  /** See {@linkcode SettingsInput.webRouterEnabled}. */
  readonly webRouterEnabled: boolean;
  /** See {@linkcode SettingsInput.webTablesEnabled}. */
  readonly webTablesEnabled: boolean;
  /** See {@linkcode SettingsInput.webMetricsEnabled}. */
  readonly webMetricsEnabled: boolean;
  /** See {@linkcode SettingsInput.decodeErrorPolicy}. */
  readonly decodeErrorPolicy: "skip" | "fail" | "dead-letter";
  /** See {@linkcode SettingsInput.loglevel}. */
  readonly loglevel: LogLevel;
}
