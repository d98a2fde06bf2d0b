/**
 * `/`: a small HTML dashboard of an app (agents, topics with offsets and
 * lag, tables and sizes, events/s). Server-rendered, refreshed every five
 * seconds, no scripts and no external assets.
 *
 * @module
 */
import type { AppStats } from "./web_stats.ts";

function h(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const CSS = `
:root{--bg:#0f172a;--panel:#111c33;--line:#22304d;--text:#e2e8f0;--muted:#94a3b8;--accent:#38bdf8;--ok:#34d399;--warn:#fbbf24;--bad:#f87171}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:center;gap:14px;padding:18px 28px;border-bottom:1px solid var(--line);background:linear-gradient(90deg,#0b1224,#13203d)}
.logo{width:34px;height:34px;border-radius:9px;background:linear-gradient(135deg,#38bdf8,#818cf8);display:grid;place-items:center;font-weight:800;color:#0b1224}
h1{font-size:19px;margin:0}header .sub{color:var(--muted);font-size:12.5px}
.pill{margin-left:auto;padding:4px 12px;border-radius:999px;font-size:12px;font-weight:600}
.pill.ok{background:rgba(52,211,153,.15);color:var(--ok)}.pill.bad{background:rgba(248,113,113,.15);color:var(--bad)}
main{padding:22px 28px;display:grid;gap:20px}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:14px}@media(max-width:900px){.cards{grid-template-columns:repeat(3,1fr)}}
.card{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:14px 16px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}.card .v{font-size:26px;font-weight:700;margin-top:4px}
.card .v small{font-size:13px;color:var(--muted);font-weight:500}
section{background:var(--panel);border:1px solid var(--line);border-radius:12px;overflow:hidden}
section h2{font-size:14px;margin:0;padding:12px 16px;border-bottom:1px solid var(--line);display:flex;gap:8px;align-items:center}
section h2 .n{color:var(--muted);font-weight:500}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:8px 16px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.05em}
tr:last-child td{border-bottom:none}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;color:#c7d2fe}
.muted{color:var(--muted)}.empty{padding:14px 16px;color:var(--muted)}
.dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px;background:var(--ok)}.dot.off{background:var(--bad)}
.bar{height:6px;border-radius:3px;background:var(--line);overflow:hidden;min-width:80px}.bar span{display:block;height:100%;background:var(--accent)}
.lag0{color:var(--ok)}.lagN{color:var(--warn)}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:20px}@media(max-width:900px){.grid2{grid-template-columns:1fr}}
footer{padding:0 28px 22px;color:var(--muted);font-size:12px}a{color:var(--accent)}
`;

function agentsSection(s: AppStats): string {
  const rows = s.agents.map((a) =>
    `<tr><td><span class="dot${a.running ? "" : " off"}"></span><code>@${
      h(a.name)
    }</code></td><td><code>${
      h(a.topic)
    }</code></td><td class="num">${a.concurrency}</td><td class="muted">${
      h(a.help || "—")
    }</td></tr>`
  ).join("");
  return `<section><h2>Agents <span class="n">${s.agents.length}</span></h2>${
    rows === ""
      ? '<div class="empty">No agents.</div>'
      : `<table><tr><th>Name</th><th>Topic</th><th class="num">Actors</th><th>Help</th></tr>${rows}</table>`
  }</section>`;
}

function topicsSection(s: AppStats): string {
  const rows = s.topics.map((t) => {
    const read = t.partitions.reduce((n, p) => n + p.read, 0);
    const committed = t.partitions.reduce((n, p) => n + p.committed, 0);
    const end = t.partitions.reduce((n, p) => n + p.end, 0);
    const pct = end > 0 ? Math.min(100, (committed / end) * 100) : 100;
    const parts = t.partitions.length === 0
      ? '<span class="muted">—</span>'
      : String(t.partitions.length);
    return `<tr><td><code>${
      h(t.name)
    }</code></td><td class="num">${parts}</td><td class="num">${
      fmt(t.received)
    }</td><td class="num">${fmt(t.sent)}</td><td class="num">${
      fmt(read)
    }</td><td class="num">${fmt(committed)}</td><td class="num">${
      fmt(end)
    }</td><td class="num ${t.lag === 0 ? "lag0" : "lagN"}">${
      fmt(t.lag)
    }</td><td><div class="bar"><span style="width:${
      pct.toFixed(1)
    }%"></span></div></td></tr>`;
  }).join("");
  return `<section><h2>Topics <span class="n">${s.topics.length}</span></h2>${
    rows === ""
      ? '<div class="empty">No topics.</div>'
      : `<table><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Received</th><th class="num">Sent</th><th class="num">Read</th><th class="num">Committed</th><th class="num">End</th><th class="num">Lag</th><th>Progress</th></tr>${rows}</table>`
  }</section>`;
}

function tablesSection(s: AppStats): string {
  const rows = s.tables.map((t) =>
    `<tr><td><code>${h(t.name)}</code></td><td class="num">${
      fmt(t.size)
    }</td><td class="muted">${h(t.help || "—")}</td></tr>`
  ).join("");
  return `<section><h2>Tables <span class="n">${s.tables.length}</span></h2>${
    rows === ""
      ? '<div class="empty">No tables.</div>'
      : `<table><tr><th>Table</th><th class="num">Keys</th><th>Help</th></tr>${rows}</table>`
  }</section>`;
}

function countersSection(s: AppStats): string {
  const entries = Object.entries(s.counters).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  const rows = entries.map(([k, v]) =>
    `<tr><td>${h(k)}</td><td class="num">${fmt(v)}</td></tr>`
  ).join("");
  const pages = s.pages.map((p) => `<tr><td><code>${h(p)}</code></td></tr>`)
    .join("");
  return `<div class="grid2"><section><h2>Counters</h2>${
    rows === ""
      ? '<div class="empty">Nothing counted yet.</div>'
      : `<table>${rows}</table>`
  }</section><section><h2>Pages <span class="n">${s.pages.length}</span></h2>${
    pages === ""
      ? '<div class="empty">No pages.</div>'
      : `<table>${pages}</table>`
  }</section></div>`;
}

/**
 * Render the dashboard.
 *
 * @param s A snapshot from `collectStats`.
 * @returns A complete HTML document.
 */
export function renderDashboard(s: AppStats): string {
  const avg = (l: { count: number; sum: number }) =>
    l.count > 0 ? l.sum / l.count : 0;
  const processed = s.counters.eventsProcessed ?? 0;
  const lag = s.topics.reduce((n, t) => n + t.lag, 0);
  const card = (k: string, v: string) =>
    `<div class="card"><div class="k">${k}</div><div class="v">${v}</div></div>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${
    h(s.id)
  } · Faust for Deno</title><style>${CSS}</style></head>
<body><header><div class="logo">F</div><div><h1>${
    h(s.id)
  }</h1><div class="sub">broker <code>${h(s.broker)}</code> · store <code>${
    h(s.store)
  }</code> · up ${duration(s.uptimeSeconds)} · faust-deno ${
    h(s.version)
  }</div></div><span class="pill ${s.running ? "ok" : "bad"}">${
    s.running ? "running" : "stopped"
  }</span></header>
<main><div class="cards">${card("Events / s", fmt(s.eventsPerSecond, 1))}${
    card("Events processed", fmt(processed))
  }${card("Messages in", fmt(s.counters.messagesReceived ?? 0))}${
    card("Messages out", fmt(s.counters.messagesSent ?? 0))
  }${card("Total lag", fmt(lag))}${
    card("Send latency", `${fmt(avg(s.latency.send), 2)} <small>ms</small>`)
  }</div>
${agentsSection(s)}${topicsSection(s)}${tablesSection(s)}${
    countersSection(s)
  }</main>
<footer>Refreshes every 5 s · <a href="/stats">/stats</a> · <a href="/metrics">/metrics</a> · <a href="/router/">/router/</a></footer></body></html>`;
}
