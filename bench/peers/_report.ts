/**
 * Results of the harness: one measurement per run, medians per system and
 * workload, ratios ours/peer, and the table as plain text and markdown.
 *
 * @module
 */

/** One run of one system on one workload. */
export interface Measure {
  /** Whether the run finished and its check passed. */
  readonly ok: boolean;
  /** Why it failed. */
  readonly error?: string;
  /** Events (or recovered records) per second. */
  readonly rate?: number | undefined;
  /** CPU-seconds per million events. */
  readonly cpuPerM?: number;
  /** Peak RSS (VmHWM) in MB. */
  readonly rssMb?: number;
  /** Recovery: seconds from spawn to ready. */
  readonly seconds?: number;
  /** Recovery: changelog records restored. */
  readonly records?: number;
  /** Recovery: CPU-seconds from spawn to ready. */
  readonly cpuSeconds?: number;
  /** GC pause time as a percentage of the timed wall time (ours with GC trace). */
  readonly gcPct?: number;
  /** KB allocated per event (ours with GC trace). */
  readonly allocKbPerEvent?: number;
  /** Latency workloads: median, ms. */
  readonly p50Ms?: number | undefined;
  /** Latency workloads: 99th percentile, ms. */
  readonly p99Ms?: number | undefined;
  /** Free text for the note column (e.g. the rate a latency run used). */
  readonly info?: string;
}

/** A row of the final table. */
export interface Row {
  /** System name. */
  readonly system: string;
  /** Workload (`forward`, `count`, `recover-warm`, `recover-empty`). */
  readonly workload: string;
  /** Median rate. */
  readonly rate: number | undefined;
  /** Median CPU-s per 1M events. */
  readonly cpuPerM: number | undefined;
  /** Median peak RSS MB. */
  readonly rssMb: number | undefined;
  /** Median seconds (recovery). */
  readonly seconds: number | undefined;
  /** Median records (recovery). */
  readonly records: number | undefined;
  /** Median CPU seconds to ready (recovery). */
  readonly cpuSeconds: number | undefined;
  /** Median GC pause %. */
  readonly gcPct: number | undefined;
  /** Median KB allocated per event. */
  readonly allocKbPerEvent: number | undefined;
  /** Median p50 latency ms. */
  readonly p50Ms: number | undefined;
  /** Median p99 latency ms. */
  readonly p99Ms: number | undefined;
  /** Info of the first passing run. */
  readonly info: string | undefined;
  /** Runs that passed / runs. */
  readonly passed: number;
  /** Runs. */
  readonly runs: number;
  /** First error, if any. */
  readonly error: string | undefined;
}

/**
 * Median of the defined numbers, or `undefined`.
 *
 * @param xs Values.
 * @returns The median.
 */
export function median(
  xs: readonly (number | undefined)[],
): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Collects measures and builds rows. */
export class Results {
  readonly #measures = new Map<string, Measure[]>();
  readonly #order: Array<[string, string]> = [];

  /**
   * Record one measure.
   *
   * @param system System name.
   * @param workload Workload name.
   * @param m The measure.
   */
  add(system: string, workload: string, m: Measure): void {
    const k = `${system}\u0000${workload}`;
    let list = this.#measures.get(k);
    if (list === undefined) {
      this.#measures.set(k, list = []);
      this.#order.push([system, workload]);
    }
    list.push(m);
  }

  /** Whether any run failed. */
  get failed(): boolean {
    return [...this.#measures.values()].some((l) => l.some((m) => !m.ok));
  }

  /**
   * Median rows, systems in `systems` order, workloads in `workloads` order.
   *
   * @param systems Order of systems.
   * @param workloads Order of workloads.
   * @returns The rows.
   */
  rows(systems: readonly string[], workloads: readonly string[]): Row[] {
    const rows: Row[] = [];
    for (const w of workloads) {
      for (const s of systems) {
        const list = this.#measures.get(`${s}\u0000${w}`);
        if (list === undefined) continue;
        const ok = list.filter((m) => m.ok);
        rows.push({
          system: s,
          workload: w,
          rate: median(ok.map((m) => m.rate)),
          cpuPerM: median(ok.map((m) => m.cpuPerM)),
          rssMb: median(ok.map((m) => m.rssMb)),
          seconds: median(ok.map((m) => m.seconds)),
          records: median(ok.map((m) => m.records)),
          cpuSeconds: median(ok.map((m) => m.cpuSeconds)),
          gcPct: median(ok.map((m) => m.gcPct)),
          allocKbPerEvent: median(ok.map((m) => m.allocKbPerEvent)),
          p50Ms: median(ok.map((m) => m.p50Ms)),
          p99Ms: median(ok.map((m) => m.p99Ms)),
          info: ok.find((m) => m.info !== undefined)?.info,
          passed: ok.length,
          runs: list.length,
          error: list.find((m) => !m.ok)?.error,
        });
      }
    }
    return rows;
  }
}

const fmtInt = (x: number | undefined): string =>
  x === undefined ? "-" : Math.round(x).toLocaleString("en-US");
const fmt = (x: number | undefined, digits: number): string =>
  x === undefined ? "-" : x.toFixed(digits);

/** Speed ratio ours/peer: rates for throughput, inverse seconds for recovery. */
function ratio(row: Row, ours: Row | undefined): string {
  if (ours === undefined || ours.passed === 0 || row.passed === 0) return "-";
  if (row.workload.startsWith("recover")) {
    if (ours.seconds === undefined || row.seconds === undefined) return "-";
    return (row.seconds / ours.seconds).toFixed(2);
  }
  if (ours.p99Ms !== undefined && row.p99Ms !== undefined) {
    return (row.p99Ms / ours.p99Ms).toFixed(2);
  }
  if (ours.rate === undefined || row.rate === undefined) return "-";
  return (ours.rate / row.rate).toFixed(2);
}

/**
 * The row `row` is compared with: for `X-old` (a system of ours on an old
 * checkout) the row of `X`; for a peer run with its cache off (`-nocache`)
 * the row of `ours-nocache` (ours with the table record cache off) when
 * there is one; else the row of `ours`, same workload.
 */
function oursRow(rows: readonly Row[], row: Row): Row | undefined {
  const find = (base: string) =>
    rows.find((o) => o.system === base && o.workload === row.workload);
  if (row.system.endsWith("-old")) return find(row.system.slice(0, -4));
  if (row.system.endsWith("-nocache")) {
    return find("ours-nocache") ?? find("ours");
  }
  return find("ours");
}

const HEADER = [
  "system",
  "workload",
  "events/s",
  "CPU-s/1M",
  "peak RSS MB",
  "GC %",
  "KB/event",
  "p50 ms",
  "p99 ms",
  "ours/peer",
  "check",
  "note",
];

/** Columns right-aligned (the numbers). */
const NUMERIC = new Set([2, 3, 4, 5, 6, 7, 8, 9]);

/**
 * The table cells, one array per row (header first).
 *
 * @param rows Median rows.
 * @returns Cells.
 */
export function cells(rows: readonly Row[]): string[][] {
  const out = [HEADER];
  for (const r of rows) {
    const ours = oursRow(rows, r);
    const recover = r.workload.startsWith("recover");
    let note = "";
    if (recover && r.passed > 0) {
      note = `ready in ${fmt(r.seconds, 2)} s, ${
        fmtInt(r.records)
      } records restored, ${fmt(r.cpuSeconds, 2)} CPU-s`;
    }
    if (recover && r.system === "raw") {
      note = `no state: start + group join only${
        note === "" ? "" : `; ${note}`
      }`;
    }
    if (r.info !== undefined) {
      note = note === "" ? r.info : `${note}; ${r.info}`;
    }
    if (r.passed < r.runs) {
      note = `${r.runs - r.passed}/${r.runs} failed: ${r.error ?? "?"}` +
        (note === "" ? "" : `; ${note}`);
    }
    out.push([
      r.system,
      r.workload,
      recover && (r.records ?? 0) === 0 ? "-" : fmtInt(r.rate),
      recover ? "-" : fmt(r.cpuPerM, 2),
      fmt(r.rssMb, 0),
      fmt(r.gcPct, 1),
      fmt(r.allocKbPerEvent, 2),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      r.system === "ours" || r.system === "ours-nocache"
        ? (r.passed > 0 ? "1.00" : "-")
        : recover && r.system === "raw"
        ? "-"
        : ratio(r, ours),
      r.passed === r.runs && r.runs > 0 ? "OK" : "FAILED",
      note,
    ]);
  }
  return out;
}

/**
 * Plain text table with aligned columns.
 *
 * @param table Cells, header first.
 * @returns The text.
 */
export function plain(table: readonly string[][]): string {
  const widths = table[0]!.map((_, i) =>
    Math.max(...table.map((r) => (r[i] ?? "").length))
  );
  const line = (r: readonly string[]) =>
    r.map((c, i) =>
      NUMERIC.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)
    )
      .join("  ").trimEnd();
  return [
    line(table[0]!),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...table.slice(1).map(line),
  ].join("\n");
}

/**
 * Markdown table.
 *
 * @param table Cells, header first.
 * @returns The markdown.
 */
export function markdown(table: readonly string[][]): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  const line = (r: readonly string[]) => `| ${r.map(esc).join(" | ")} |`;
  const align = table[0]!.map((_, i) => NUMERIC.has(i) ? "---:" : "---");
  return [line(table[0]!), line(align), ...table.slice(1).map(line)].join("\n");
}
