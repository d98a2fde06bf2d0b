/**
 * The web server of a worker: Hono on `Deno.serve`, bound to `webBind`
 * (127.0.0.1 by default) on `webPort` (6066). Serves the app's pages
 * (functions and class-based views), `app.web(...)` setup hooks, and the
 * built-ins: `/` (dashboard), `/stats` (JSON), `/metrics` (Prometheus),
 * `/router/...` (which worker owns a table key) and, opt-in with
 * `webTablesEnabled`, `/table/...` (table contents; a key another worker
 * owns is forwarded to it). The only file that
 * imports Hono's runtime.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import type { App } from "../app.ts";
import type { PageHandler, View } from "../app/registrations.ts";
import { ConfigError } from "../errors.ts";
import { routingTable } from "../rpc/routing.ts";
import {
  type BrowsableTable,
  keyCandidates,
  keyOwner,
  routeToOwner,
} from "./table_route.ts";
import { VERSION } from "../util/version.ts";
import { renderDashboard, renderLive } from "./dashboard.ts";
import { StatsHistory } from "./history.ts";
import { PROMETHEUS_CONTENT_TYPE, toPrometheus } from "./metrics.ts";
import { collectStats, MetricsSensor } from "./stats.ts";

/** Milliseconds between the dashboard's samples. */
const SAMPLE_INTERVAL_MS = 2000;

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

function isClass(fn: unknown): fn is new () => View {
  return typeof fn === "function" &&
    /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

function mountPage(
  web: Hono,
  given: string,
  handler: PageHandler | View | (new () => View),
): void {
  // Faust paths end with "/"; the server is not strict about it, so register without it.
  const path = given.length > 1 && given.endsWith("/")
    ? given.slice(0, -1)
    : given;
  if (typeof handler === "function" && !isClass(handler)) {
    const fn = handler as PageHandler;
    web.all(path, (c) => fn(c));
    return;
  }
  const view: View = isClass(handler) ? new handler() : handler as View;
  const allowed: string[] = [];
  for (const m of METHODS) {
    const method = view[m];
    if (typeof method !== "function") continue;
    allowed.push(m.toUpperCase());
    web.on(m.toUpperCase(), path, (c) => method.call(view, c));
  }
  web.all(
    path,
    (c) =>
      c.json({ error: `Method ${c.req.method} not allowed`, allowed }, 405, {
        Allow: allowed.join(", "),
      }),
  );
}

function routes(
  app: App,
  web: Hono,
  sensor: MetricsSensor,
  history: StatsHistory,
): void {
  const conf = app.conf;
  web.get("/", async (c) => {
    const stats = await collectStats(app, sensor, VERSION);
    // ?live=1: the changing part only, which the page's script swaps in.
    return c.html(
      c.req.query("live") !== undefined
        ? renderLive(stats, history.samples)
        : renderDashboard(stats, history.samples),
    );
  });
  web.get("/stats", async (c) => {
    const stats = await collectStats(app, sensor, VERSION);
    return c.json({
      ...stats,
      history: history.samples,
      monitor: app.monitor.snapshot(),
    });
  });
  if (conf.webMetricsEnabled) {
    web.get(
      "/metrics",
      async (c) =>
        c.body(toPrometheus(await collectStats(app, sensor, VERSION)), 200, {
          "Content-Type": PROMETHEUS_CONTENT_TYPE,
        }),
    );
  }
  if (conf.webRouterEnabled) {
    web.get(
      "/router",
      async (c) => c.json(routingTable(await app.routing())),
    );
    web.get("/router/:table/:key", async (c) => {
      const owner = await keyOwner(
        app,
        c.req.param("table"),
        c.req.param("key"),
      );
      if (owner === undefined) {
        return c.json(
          { error: `Unknown table "${c.req.param("table")}"` },
          404,
        );
      }
      return c.json(owner);
    });
  }
  const tablesOff = (c: Context) =>
    c.json({
      error:
        "Table views are off: set the webTablesEnabled setting (FAUST_WEB_TABLES_ENABLED=true) to serve /table/",
    }, 404);
  const tableOf = (c: Context): BrowsableTable | Response => {
    const name = c.req.param("name") ?? "";
    const t = app.tables.get(name) as BrowsableTable | undefined;
    return t ??
      c.json({
        error: `Unknown table "${name}"; tables: ${
          [...app.tables.keys()].join(", ") || "none"
        }`,
      }, 404);
  };
  web.get("/table", (c) => {
    if (!conf.webTablesEnabled) return tablesOff(c);
    return c.json(
      [...app.tables.values()].map((t) => ({
        name: t.name,
        help: t.help ?? null,
        size: t.size,
      })),
    );
  });
  web.get("/table/:name", (c) => {
    if (!conf.webTablesEnabled) return tablesOff(c);
    const t = tableOf(c);
    if (t instanceof Response) return t;
    const limit = Math.max(
      1,
      Math.min(10_000, Number(c.req.query("limit") ?? 1000) || 1000),
    );
    const items: [unknown, unknown][] = [];
    if (typeof t.entries === "function") {
      for (const e of t.entries()) {
        if (items.length >= limit) break;
        items.push(e);
      }
    }
    return c.json({
      name: t.name,
      size: t.size,
      items: Object.fromEntries(items.map(([k, v]) => [String(k), v])),
    });
  });
  web.get("/table/:name/:key", async (c) => {
    if (!conf.webTablesEnabled) return tablesOff(c);
    const t = tableOf(c);
    if (t instanceof Response) return t;
    const text = c.req.param("key");
    const routed = await routeToOwner(app, t.name, text, c);
    if (routed !== undefined) return routed;
    for (const key of keyCandidates(text)) {
      try {
        if (t.has?.(key) === true) {
          return c.json({ key, value: t.get?.(key) ?? null });
        }
      } catch {
        // A key the table's key type rejects: try the next reading.
      }
    }
    return c.json(
      { error: `Key "${text}" not found in table "${t.name}"` },
      404,
    );
  });
}

/** The host part of a `Host` header or URL authority, lower-case, without the port. */
function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith("[")) return a.slice(0, a.indexOf("]") + 1);
  const colon = a.indexOf(":");
  return colon < 0 ? a : a.slice(0, colon);
}

/**
 * Refuse requests whose `Host` header names a host this worker is not
 * known as (DNS rebinding: a web page whose name resolves to 127.0.0.1
 * would otherwise read and drive the worker from the victim's browser).
 */
function hostCheck(
  app: App,
): (c: Context, next: () => Promise<void>) => Promise<Response | void> {
  const conf = app.conf;
  // A bare IPv6 address (webBind "::1") is written "[::1]" in Host headers.
  const bracket = (h: string) =>
    h.split(":").length > 2 && !h.startsWith("[") ? `[${h}]` : h;
  const allowed = new Set(
    [
      "127.0.0.1",
      "localhost",
      "[::1]",
      conf.webBind,
      conf.webHost,
      new URL(conf.canonicalUrl).host,
      ...conf.webAllowedHosts,
    ].map((h) => hostName(bracket(h))),
  );
  const any = allowed.has("*");
  return async (c, next) => {
    const header = c.req.header("host");
    if (any || header === undefined || allowed.has(hostName(header))) {
      return await next();
    }
    app.monitor.count("webHostRefused");
    return c.json({
      error: `Host ${
        JSON.stringify(header)
      } is not one this worker answers to; add it to the webAllowedHosts setting (FAUST_WEB_ALLOWED_HOSTS) to allow it`,
    }, 421);
  };
}

/**
 * Build the Hono app a worker serves for `app` (no socket: use
 * `createWeb(app).web.request("/metrics")` in tests).
 *
 * @param app The app whose pages, setup hooks and stats are served.
 * @returns The Hono app, the sensor it added to `app.sensors`, and the
 *   history of samples the dashboard charts (the server fills it).
 */
export function createWeb(
  app: App,
): { web: Hono; sensor: MetricsSensor; history: StatsHistory } {
  const web = new Hono({ strict: false });
  const sensor = new MetricsSensor();
  const history = new StatsHistory();
  app.sensors.add(sensor);
  web.use("*", async (c, next) => {
    const t0 = performance.now();
    await next();
    app.monitor.webRequest(
      c.req.method,
      c.req.path,
      c.res.status,
      performance.now() - t0,
    );
  });
  web.use("*", hostCheck(app));
  const corsOptions = app.conf.webCorsOptions;
  if (corsOptions.origin !== undefined) {
    web.use("*", cors({ ...corsOptions, origin: corsOptions.origin }));
  }
  web.onError((error, c) => {
    app.log.error("Web request {method} {path} raised: {error}", {
      method: c.req.method,
      path: c.req.path,
      error,
    });
    return c.json({ error: error.message }, 500);
  });
  for (const setup of app.webSetup) setup(web);
  for (const page of app.pages) mountPage(web, page.path, page.handler);
  routes(app, web, sensor, history);
  web.notFound((c) => c.json({ error: `Not found: ${c.req.path}` }, 404));
  return { web, sensor, history };
}

/** Serves an app's web views on `webBind`:`webPort`. */
export class WebServer {
  readonly #app: App;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #sensor: MetricsSensor | undefined;
  #sampler: ReturnType<typeof setInterval> | undefined;

  /**
   * Create a server for an app; opens nothing until `start()`.
   *
   * @param app The app to serve.
   */
  constructor(app: App) {
    this.#app = app;
  }

  /** The port listened on (after start; differs from `webPort` when that is 0). */
  get port(): number | undefined {
    return this.#server?.addr.port;
  }

  /** The URL listened on (after start). */
  get url(): string | undefined {
    const addr = this.#server?.addr;
    if (addr === undefined) return undefined;
    const host = addr.hostname.includes(":")
      ? `[${addr.hostname}]`
      : addr.hostname;
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`;
  }

  /**
   * Listen.
   *
   * @throws {ConfigError} When the port is in use or not permitted, naming the port and `-p`.
   */
  start(): Promise<void> {
    if (this.#server !== undefined) return Promise.resolve();
    const conf = this.#app.conf;
    const { web, sensor, history } = createWeb(this.#app);
    this.#sensor = sensor;
    const where = `${conf.webBind}:${conf.webPort}`;
    try {
      this.#server = Deno.serve({
        hostname: conf.webBind,
        port: conf.webPort,
        onListen: () => {},
      }, web.fetch);
    } catch (error) {
      this.#app.sensors.delete(sensor);
      if (error instanceof Deno.errors.AddrInUse) {
        return Promise.reject(
          new ConfigError(
            `Web port ${conf.webPort} on ${conf.webBind} is already in use: stop the other process, pick another port with ` +
              `-p/--web-port (webPort setting, FAUST_WEB_PORT), or run with --without-web`,
            { cause: error },
          ),
        );
      }
      return Promise.reject(
        new ConfigError(
          `Cannot serve the web views on ${where}: ${(error as Error).message}`,
          { cause: error },
        ),
      );
    }
    // The dashboard's charts: a sample every 2 s while the server runs.
    let sampling = false;
    this.#sampler = setInterval(async () => {
      if (sampling) return;
      sampling = true;
      try {
        history.record(await collectStats(this.#app, sensor, VERSION));
      } catch {
        // A sample that cannot be taken now (app starting or stopping) is skipped.
      } finally {
        sampling = false;
      }
    }, SAMPLE_INTERVAL_MS);
    return Promise.resolve();
  }

  /** Stop listening and wait for open requests. */
  async stop(): Promise<void> {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
    const server = this.#server;
    this.#server = undefined;
    if (this.#sensor !== undefined) this.#app.sensors.delete(this.#sensor);
    await server?.shutdown();
  }
}
