/**
 * What the web views show: a snapshot of an app's agents, topics (with
 * offsets and lag), tables, rates and latencies, shared by `/`, `/stats`
 * and `/metrics`. No Hono here.
 *
 * @module
 */
import type { App } from "../app.ts";
import type { Sensor } from "../sensors/monitor.ts";
import type { RecoveryStats } from "../table/recovery.ts";
import type { TP } from "../util/types.ts";

/** Count, sum and maximum of latencies in milliseconds. */
export interface Latency {
  /** Observations. */
  count: number;
  /** Sum of observations. */
  sum: number;
  /** Largest observation. */
  max: number;
}

/**
 * A sensor the web server adds to its app: commit latency, rebalances and
 * the time of the last commit, which the monitor does not keep itself.
 */
export class MetricsSensor implements Sensor {
  /** Commit latency. */
  readonly commitLatency: Latency = { count: 0, sum: 0, max: 0 };
  /** Number of assignments seen (rebalances). */
  rebalances = 0;
  /** When offsets were last committed (ms since the epoch), or 0. */
  lastCommitAt = 0;

  /** @internal Offsets were committed. */
  onCommitCompleted(latencyMs: number): void {
    this.commitLatency.count++;
    this.commitLatency.sum += latencyMs;
    this.commitLatency.max = Math.max(this.commitLatency.max, latencyMs);
    this.lastCommitAt = Date.now();
  }

  /** @internal Partitions were assigned. */
  onAssignment(_assigned: readonly TP[]): void {
    this.rebalances++;
  }
}

/** One partition's positions. */
export interface PartitionRow {
  /** Partition number. */
  partition: number;
  /** Next offset to read. */
  read: number;
  /** Committed offset. */
  committed: number;
  /** High-water mark. */
  end: number;
  /** `end - committed` (what a restart would replay; Prometheus `faust_partition_lag`). */
  lag: number;
  /** `end - read`: records not read yet. */
  behind: number;
}

/** A table's recovery in progress. */
export interface RecoveryRow {
  /** `"active"` or `"standby"`. */
  kind: "active" | "standby";
  /** Records replayed. */
  done: number;
  /** Records to replay. */
  total: number;
  /** Records per second. */
  rate: number;
  /** Seconds left, when known. */
  etaSeconds: number | null;
}

/** A snapshot of an app for the web views. */
export interface AppStats {
  /** App id (with version). */
  id: string;
  /** Package version. */
  version: string;
  /** Broker URL. */
  broker: string;
  /** Store URL. */
  store: string;
  /** Whether the app is running. */
  running: boolean;
  /** Seconds since the monitor started. */
  uptimeSeconds: number;
  /** Events processed per second (last ~10 s). */
  eventsPerSecond: number;
  /** Named counters. */
  counters: Record<string, number>;
  /** Agents. */
  agents: {
    name: string;
    topic: string;
    local: boolean;
    concurrency: number;
    running: boolean;
    help: string;
  }[];
  /** Topics with their consumed partitions. */
  topics: {
    name: string;
    /** `"changelog"` of a table, `"source"` when consumed, else `"sink"`. */
    kind: "source" | "changelog" | "sink";
    received: number;
    sent: number;
    partitions: PartitionRow[];
    /** Sum of `end - committed`. */
    lag: number;
    /** Sum of `end - read`. */
    behind: number;
  }[];
  /** Tables, sizes and the recovery running now, if any. */
  tables: {
    name: string;
    help: string;
    size: number;
    changelog: string;
    recovery: RecoveryRow | null;
  }[];
  /** Pages registered by the app. */
  pages: string[];
  /** HTTP responses by status code. */
  httpResponses: Record<string, number>;
  /** Latencies in milliseconds. */
  latency: { send: Latency; web: Latency; commit: Latency };
  /** Assignments seen. */
  rebalances: number;
}

async function refreshEnds(app: App, keys: TP[]): Promise<void> {
  if (!app.running || keys.length === 0) return;
  let transport;
  try {
    transport = app.transport;
  } catch {
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((r) => timer = setTimeout(r, 500));
  const work = Promise.all(keys.map(async (tp) => {
    try {
      const hw = await transport.highWatermark(tp);
      const s = app.monitor.partition(tp);
      s.end = Math.max(s.end, hw);
    } catch {
      // A partition that cannot be read now keeps its last known end.
    }
  }));
  await Promise.race([work, bound]);
  clearTimeout(timer);
}

/** The recovery a table runs now (tables that keep `recoveryStats`). */
function recoveryOf(table: unknown): RecoveryRow | null {
  const p = (table as { recoveryStats?: RecoveryStats }).recoveryStats
    ?.current;
  if (p === undefined) return null;
  return {
    kind: p.kind,
    done: p.done,
    total: p.total,
    rate: p.rate,
    etaSeconds: p.etaSeconds ?? null,
  };
}

/**
 * Take a snapshot of an app (refreshing high-water marks, bounded to 0.5 s).
 *
 * @param app The app.
 * @param sensor The web server's sensor, for commit latency and rebalances.
 * @param version The package version shown.
 * @returns The snapshot.
 */
export async function collectStats(
  app: App,
  sensor: MetricsSensor | undefined,
  version: string,
): Promise<AppStats> {
  const m = app.monitor;
  await refreshEnds(
    app,
    [...m.partitions.values()].map((p) => ({
      topic: p.topic,
      partition: p.partition,
    })),
  );
  const byTopic = new Map<string, PartitionRow[]>();
  for (const p of m.partitions.values()) {
    const rows = byTopic.get(p.topic) ?? [];
    rows.push({
      partition: p.partition,
      read: p.read,
      committed: p.committed,
      end: p.end,
      lag: Math.max(0, p.end - p.committed),
      behind: Math.max(0, p.end - p.read),
    });
    byTopic.set(p.topic, rows);
  }
  const names = new Set<string>([
    ...app.topics.keys(),
    ...byTopic.keys(),
    ...m.sentByTopic.keys(),
  ]);
  const changelogs = new Map<string, string>();
  for (const t of app.tables.values()) {
    changelogs.set(t.name, t.changelogSpec().name);
  }
  const changelogNames = new Set(changelogs.values());
  const topics = [...names].sort().map((name) => {
    const partitions = (byTopic.get(name) ?? []).sort((a, b) =>
      a.partition - b.partition
    );
    const kind: "source" | "changelog" | "sink" = changelogNames.has(name)
      ? "changelog"
      : partitions.length > 0
      ? "source"
      : "sink";
    return {
      name,
      kind,
      received: m.receivedByTopic.get(name) ?? 0,
      sent: m.sentByTopic.get(name) ?? 0,
      partitions,
      lag: partitions.reduce((n, p) => n + p.lag, 0),
      behind: partitions.reduce((n, p) => n + p.behind, 0),
    };
  });
  const agents = [...app.agents.values()].map((a) => ({
    name: a.name,
    topic: a.channel.isTopic ? a.channel.label : "<LOCAL>",
    local: !a.channel.isTopic,
    concurrency: a.concurrency,
    running: a.running,
    help: a.help ?? "",
  }));
  const tables = [...app.tables.values()].map((t) => {
    let size = 0;
    try {
      size = t.size;
    } catch {
      size = 0;
    }
    return {
      name: t.name,
      help: t.help ?? "",
      size,
      changelog: changelogs.get(t.name) ?? "",
      recovery: recoveryOf(t),
    };
  });
  const latency = (
    l: { count: number; sum: number; max: number },
  ): Latency => ({ ...l });
  return {
    id: app.conf.appId,
    version,
    broker: app.conf.broker,
    store: app.conf.store,
    running: app.running,
    uptimeSeconds: (Date.now() - m.startedAt) / 1000,
    eventsPerSecond: m.eventsPerSecond(),
    counters: Object.fromEntries(m.counters),
    agents,
    topics,
    tables,
    pages: app.pages.map((p) => p.path),
    httpResponses: Object.fromEntries(
      [...m.httpResponses].map(([k, v]) => [String(k), v]),
    ),
    latency: {
      send: latency(m.sendLatency),
      web: latency(m.webLatency),
      commit: latency(sensor?.commitLatency ?? { count: 0, sum: 0, max: 0 }),
    },
    rebalances: sensor?.rebalances ?? 0,
  };
}
