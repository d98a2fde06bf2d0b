/**
 * `/metrics`: an app's snapshot in the Prometheus text exposition format
 * (version 0.0.4), written by hand.
 *
 * @module
 */
import type { AppStats, Latency } from "./stats.ts";

/** The content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

function esc(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(
    /"/g,
    '\\"',
  );
}

function labels(l: Record<string, string | number>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(String(v))}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function num(n: number): string {
  return Number.isFinite(n)
    ? String(n)
    : n > 0
    ? "+Inf"
    : n < 0
    ? "-Inf"
    : "NaN";
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(
    /[^a-zA-Z0-9_]/g,
    "_",
  );
}

class Writer {
  readonly lines: string[] = [];
  metric(
    name: string,
    type: "counter" | "gauge" | "summary",
    help: string,
    samples: [Record<string, string | number>, number][],
  ): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) {
      this.lines.push(`${name}${labels(l)} ${num(v)}`);
    }
  }
  latency(
    name: string,
    help: string,
    l: Latency,
    base: Record<string, string>,
  ): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`);
    this.lines.push(
      `${name}_sum${labels(base)} ${num(l.sum)}`,
      `${name}_count${labels(base)} ${num(l.count)}`,
    );
    this.metric(
      `${name}_max`,
      "gauge",
      `Largest ${help.charAt(0).toLowerCase()}${help.slice(1)}`,
      [[base, l.max]],
    );
  }
}

/**
 * Render a snapshot as Prometheus metrics, every series labelled with `app`.
 *
 * @param stats From `collectStats`.
 * @returns The text body for `/metrics`.
 */
export function toPrometheus(stats: AppStats): string {
  const app = { app: stats.id };
  const w = new Writer();
  w.metric("faust_info", "gauge", "Faust for Deno worker information", [[{
    ...app,
    version: stats.version,
    broker: stats.broker,
    store: stats.store,
  }, 1]]);
  w.metric("faust_up", "gauge", "1 while the app is running", [[
    app,
    stats.running ? 1 : 0,
  ]]);
  w.metric(
    "faust_uptime_seconds",
    "gauge",
    "Seconds since the app's monitor started",
    [[app, stats.uptimeSeconds]],
  );
  w.metric(
    "faust_events_per_second",
    "gauge",
    "Events processed per second over the last ten seconds",
    [[app, stats.eventsPerSecond]],
  );
  for (const [name, value] of Object.entries(stats.counters).sort()) {
    w.metric(`faust_${snake(name)}_total`, "counter", `Counter ${name}`, [[
      app,
      value,
    ]]);
  }
  w.metric(
    "faust_topic_messages_received_total",
    "counter",
    "Messages received per topic",
    stats.topics.map((t) => [{ ...app, topic: t.name }, t.received]),
  );
  w.metric(
    "faust_topic_messages_sent_total",
    "counter",
    "Messages sent per topic",
    stats.topics.map((t) => [{ ...app, topic: t.name }, t.sent]),
  );
  const parts = stats.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.name, ...p }))
  );
  const tp = (p: { topic: string; partition: number }) => ({
    ...app,
    topic: p.topic,
    partition: p.partition,
  });
  w.metric(
    "faust_partition_read_offset",
    "gauge",
    "Next offset to read per partition",
    parts.map((p) => [tp(p), p.read]),
  );
  w.metric(
    "faust_partition_committed_offset",
    "gauge",
    "Committed offset per partition",
    parts.map((p) => [tp(p), p.committed]),
  );
  w.metric(
    "faust_partition_end_offset",
    "gauge",
    "High-water mark per partition",
    parts.map((p) => [tp(p), p.end]),
  );
  w.metric(
    "faust_partition_lag",
    "gauge",
    "End offset minus committed offset per partition",
    parts.map((p) => [tp(p), p.lag]),
  );
  w.metric(
    "faust_agent_running",
    "gauge",
    "1 while the agent's actors run",
    stats.agents.map((a) => [{ ...app, agent: a.name }, a.running ? 1 : 0]),
  );
  w.metric(
    "faust_agent_concurrency",
    "gauge",
    "Actors per agent",
    stats.agents.map((a) => [{ ...app, agent: a.name }, a.concurrency]),
  );
  w.metric(
    "faust_table_keys",
    "gauge",
    "Keys held per table",
    stats.tables.map((t) => [{ ...app, table: t.name }, t.size]),
  );
  w.metric(
    "faust_http_responses_total",
    "counter",
    "Web responses by status code",
    Object.entries(stats.httpResponses).map((
      [code, n],
    ) => [{ ...app, code }, n]),
  );
  w.metric("faust_rebalances_total", "counter", "Partition assignments seen", [[
    app,
    stats.rebalances,
  ]]);
  w.latency(
    "faust_send_latency_ms",
    "Send latency in milliseconds",
    stats.latency.send,
    app,
  );
  w.latency(
    "faust_commit_latency_ms",
    "Commit latency in milliseconds",
    stats.latency.commit,
    app,
  );
  w.latency(
    "faust_web_latency_ms",
    "Web request latency in milliseconds",
    stats.latency.web,
    app,
  );
  return `${w.lines.join("\n")}\n`;
}
