/**
 * `/`: a small HTML dashboard of an app (agents, topics with offsets and
 * lag, tables with sizes and recovery progress, charts of the last minutes).
 * Server-rendered; a short inline script fetches the live part again
 * (`/?live=1`) every two seconds and swaps it in, without reloading the
 * page. No external assets.
 *
 * @module
 */
import type { Sample } from "./history.ts";
import type { AppStats } from "./stats.ts";

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
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:14px}
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
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:20px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:20px}
.chart{padding:10px 14px}.chart svg{width:100%;height:120px;display:block}.chart .legend{font-size:12px;color:var(--muted);display:flex;flex-wrap:wrap;gap:10px;margin-top:4px}
.chart .legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
.scroll{overflow-x:auto}.kind{font-size:11px;padding:1px 7px;border-radius:999px;background:var(--line);color:var(--muted);margin-left:6px}
header{flex-wrap:wrap}@media(max-width:600px){header,main{padding-left:12px;padding-right:12px}th,td{padding:6px 8px}.card .v{font-size:20px}}
footer{padding:0 28px 22px;color:var(--muted);font-size:12px}a{color:var(--accent)}
`;

const COLORS = [
  "#38bdf8",
  "#a78bfa",
  "#34d399",
  "#fbbf24",
  "#f87171",
  "#f472b6",
];

/** A line chart of the samples as inline SVG (time on x, auto-scaled y). */
export function chart(
  title: string,
  samples: readonly Sample[],
  series: readonly { name: string; value: (s: Sample) => number | undefined }[],
  unit: string,
): string {
  const W = 300, H = 110;
  const t1 = samples[samples.length - 1]?.t ?? 0;
  const t0 = Math.min(samples[0]?.t ?? 0, t1 - 60_000);
  let max = 0;
  for (const line of series) {
    for (const s of samples) max = Math.max(max, line.value(s) ?? 0);
  }
  max = max > 0 ? max * 1.1 : 1;
  const x = (t: number) => ((t - t0) / Math.max(1, t1 - t0)) * W;
  const y = (v: number) => H - (v / max) * (H - 4);
  const lines = series.map((line, i) => {
    const pts = samples.flatMap((s) => {
      const v = line.value(s);
      return v === undefined ? [] : [`${x(s.t).toFixed(1)},${y(v).toFixed(1)}`];
    });
    const color = COLORS[i % COLORS.length];
    const last = pts[pts.length - 1]?.split(",");
    // The newest point as a dot: a single sample is visible too.
    return last === undefined
      ? ""
      : `<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${
        pts.join(" ")
      }"/><circle cx="${last[0]}" cy="${last[1]}" r="2.5" fill="${color}"/>`;
  }).join("");
  const legend = series.map((line, i) => {
    const last = [...samples].reverse().map(line.value).find((v) =>
      v !== undefined
    );
    return `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${
      h(line.name)
    } <b>${last === undefined ? "—" : fmt(last, last < 10 ? 2 : 0)}</b> ${
      h(unit)
    }</span>`;
  }).join("");
  const minutes = Math.round((t1 - t0) / 60_000);
  return `<section class="chart" data-chart="${h(title)}"><h2>${
    h(title)
  } <span class="n">last ${minutes < 1 ? 1 : minutes} min</span></h2>
<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${
    h(title)
  }"><line x1="0" y1="${H}" x2="${W}" y2="${H}" stroke="#22304d"/>${lines}</svg>
<div class="legend">${
    legend || '<span class="muted">No data yet.</span>'
  }</div></section>`;
}

function chartsSection(s: AppStats, samples: readonly Sample[]): string {
  const sources = s.topics.filter((t) => t.kind === "source").map((t) =>
    t.name
  );
  return `<div class="charts">${
    chart("Events / s", samples, [{
      name: "events/s",
      value: (x) => x.eventsPerSecond,
    }], "")
  }${
    chart(
      "Lag per topic",
      samples,
      sources.map((name) => ({ name, value: (x) => x.lag[name] })),
      "records",
    )
  }${
    chart("Latency", samples, [
      { name: "commit", value: (x) => x.commitMs },
      { name: "send", value: (x) => x.sendMs },
    ], "ms")
  }</div>`;
}

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
      : `<div class="scroll"><table><tr><th>Name</th><th>Topic</th><th class="num">Actors</th><th>Help</th></tr>${rows}</table></div>`
  }</section>`;
}

function topicsSection(s: AppStats): string {
  const changelogOf = new Map(s.tables.map((t) => [t.changelog, t.name]));
  const rows = s.topics.map((t) => {
    const read = t.partitions.reduce((n, p) => n + p.read, 0);
    const committed = t.partitions.reduce((n, p) => n + p.committed, 0);
    const end = t.partitions.reduce((n, p) => n + p.end, 0);
    const parts = t.partitions.length === 0
      ? '<span class="muted">—</span>'
      : String(t.partitions.length);
    const name = `<code>${h(t.name)}</code>${
      t.kind === "changelog"
        ? `<span class="kind">changelog of ${
          h(changelogOf.get(t.name) ?? "a table")
        }</span>`
        : t.kind === "sink"
        ? '<span class="kind">sent to</span>'
        : ""
    }`;
    const none = '<td class="num muted">—</td>';
    if (t.kind !== "source") {
      // Not consumed here: only what this app wrote counts.
      return `<tr data-topic="${
        h(t.name)
      }"><td>${name}</td><td class="num">${parts}</td><td class="num">${
        fmt(t.received)
      }</td><td class="num">${
        fmt(t.sent)
      }</td>${none}${none}${none}${none}${none}<td></td></tr>`;
    }
    const pct = end > 0 ? Math.min(100, (read / end) * 100) : 100;
    return `<tr data-topic="${
      h(t.name)
    }"><td>${name}</td><td class="num">${parts}</td><td class="num">${
      fmt(t.received)
    }</td><td class="num">${fmt(t.sent)}</td><td class="num">${
      fmt(read)
    }</td><td class="num">${fmt(end)}</td><td class="num ${
      t.behind === 0 ? "lag0" : "lagN"
    }">${fmt(t.behind)}</td><td class="num">${
      fmt(committed)
    }</td><td class="num">${
      fmt(Math.max(0, read - committed))
    }</td><td><div class="bar"><span style="width:${
      pct.toFixed(1)
    }%"></span></div></td></tr>`;
  }).join("");
  return `<section><h2>Topics <span class="n">${s.topics.length}</span></h2>${
    rows === ""
      ? '<div class="empty">No topics.</div>'
      : `<div class="scroll"><table><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Received</th><th class="num">Sent</th><th class="num">Read</th><th class="num">End</th><th class="num" title="end - read">Lag</th><th class="num">Committed</th><th class="num" title="read - committed">Uncommitted</th><th>Read</th></tr>${rows}</table></div>`
  }</section>`;
}

function recoveryCell(t: AppStats["tables"][number]): string {
  const r = t.recovery;
  if (r === null) return '<span class="muted">—</span>';
  const pct = r.total > 0 ? Math.min(100, (r.done / r.total) * 100) : 100;
  return `<div class="recovery">${fmt(r.done)} / ${fmt(r.total)} (${
    fmt(pct, 0)
  }%) · ${fmt(r.rate)}/s · ETA ${
    r.etaSeconds === null ? "?" : duration(r.etaSeconds)
  } <span class="kind">${r.kind}</span></div><div class="bar"><span style="width:${
    pct.toFixed(1)
  }%"></span></div>`;
}

function tablesSection(s: AppStats): string {
  const rows = s.tables.map((t) =>
    `<tr data-table="${h(t.name)}"><td><code>${
      h(t.name)
    }</code></td><td class="num">${fmt(t.size)}</td><td>${
      recoveryCell(t)
    }</td><td class="muted">${h(t.help || "—")}</td></tr>`
  ).join("");
  return `<section><h2>Tables <span class="n">${s.tables.length}</span></h2>${
    rows === ""
      ? '<div class="empty">No tables.</div>'
      : `<div class="scroll"><table><tr><th>Table</th><th class="num">Keys</th><th>Recovery</th><th>Help</th></tr>${rows}</table></div>`
  }</section>`;
}

function countersSection(s: AppStats): string {
  const entries = Object.entries(s.counters).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  const rows = entries.map(([k, v]) =>
    `<tr><td>${h(k)}</td><td class="num">${fmt(v)}</td></tr>`
  ).join("");
  // Paths with parameters (":word") cannot be opened as they are.
  const pages = s.pages.map((p) =>
    `<tr><td>${
      p.includes(":") || p.includes("*")
        ? `<code>${h(p)}</code>`
        : `<a href="${h(p)}"><code>${h(p)}</code></a>`
    }</td></tr>`
  ).join("");
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
 * Render the part of the dashboard that changes: cards, charts, sections.
 *
 * @param s A snapshot from `collectStats`.
 * @param samples The history for the charts.
 * @returns An HTML fragment (the content of `<main>`).
 */
export function renderLive(s: AppStats, samples: readonly Sample[]): string {
  const avg = (l: { count: number; sum: number }) =>
    l.count > 0 ? l.sum / l.count : 0;
  const processed = s.counters.eventsProcessed ?? 0;
  const lag = s.topics.reduce(
    (n, t) => n + (t.kind === "source" ? t.behind : 0),
    0,
  );
  const card = (k: string, v: string) =>
    `<div class="card"><div class="k">${k}</div><div class="v" data-card="${k}">${v}</div></div>`;
  return `<div class="cards">${card("Events / s", fmt(s.eventsPerSecond, 1))}${
    card("Events processed", fmt(processed))
  }${card("Messages in", fmt(s.counters.messagesReceived ?? 0))}${
    card("Messages out", fmt(s.counters.messagesSent ?? 0))
  }${card("Lag", fmt(lag))}${
    card("Send latency", `${fmt(avg(s.latency.send), 2)} <small>ms</small>`)
  }${card("Up", duration(s.uptimeSeconds))}</div>
${chartsSection(s, samples)}${agentsSection(s)}${topicsSection(s)}${
    tablesSection(s)
  }${countersSection(s)}`;
}

/** Fetch the live part again every 2 s and swap it in (no page reload). */
const SCRIPT = `(()=>{const m=document.getElementById("live");let busy=false;
async function tick(){if(busy)return;busy=true;try{const r=await fetch("?live=1",{cache:"no-store"});
if(r.ok){m.innerHTML=await r.text();document.body.dataset.updates=String(Number(document.body.dataset.updates||0)+1);
document.getElementById("status").textContent="live";}}catch{document.getElementById("status").textContent="offline";}finally{busy=false;}}
setInterval(tick,2000);})();`;

/**
 * Render the dashboard.
 *
 * @param s A snapshot from `collectStats`.
 * @param samples The history for the charts.
 * @returns A complete HTML document.
 */
export function renderDashboard(
  s: AppStats,
  samples: readonly Sample[] = [],
): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${
    h(s.id)
  } · Faust for Deno</title><style>${CSS}</style></head>
<body><header><div class="logo">F</div><div><h1>${
    h(s.id)
  }</h1><div class="sub">broker <code>${h(s.broker)}</code> · store <code>${
    h(s.store)
  }</code> · faust-deno ${h(s.version)}</div></div><span class="pill ${
    s.running ? "ok" : "bad"
  }">${s.running ? "running" : "stopped"}</span></header>
<main id="live">${renderLive(s, samples)}</main>
<footer>Updates every 2 s (<span id="status">loading</span>) · <a href="/stats">/stats</a> · <a href="/metrics">/metrics</a> · <a href="/router/">/router/</a></footer>
<script>${SCRIPT}</script></body></html>`;
}
