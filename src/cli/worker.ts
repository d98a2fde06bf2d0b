/**
 * `worker`: run the app as a worker process, with its banner.
 *
 * @module
 */
import { type Command, Option } from "commander";
import Table from "cli-table3";
import type { App } from "../app.ts";
import { ConfigError } from "../errors.ts";
import {
  type LogLevel,
  parseUrl,
  withOverrides,
} from "../settings/settings.ts";
import { VERSION } from "../util/version.ts";
import { Worker } from "../worker.ts";
import { type CliContext, NO_ROW_LINES, titled } from "./context.ts";

/** Options of `worker`. */
interface WorkerCliOptions {
  loglevel?: LogLevel;
  logfile?: string;
  webPort?: number;
  webBind?: string;
  webHost?: string;
  withWeb?: boolean;
  withoutWeb?: boolean;
  blockingTimeout?: number;
}

const DRIVERS: Record<string, string> = {
  kafka: "kafkajs",
  local: "local (lmdb)",
  memory: "memory",
  lmdb: "lmdb",
};

function absolute(path: string): string {
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) return path;
  try {
    return `${Deno.cwd()}/${path.replace(/^\.\//, "")}`;
  } catch {
    return path;
  }
}

function hostname(app: App): string {
  try {
    if (
      Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state ===
        "granted"
    ) return Deno.hostname();
  } catch {
    // Fall through to the configured host.
  }
  return app.conf.webHost;
}

/**
 * The worker banner: id, transport, store, web, log, pid, hostname,
 * platform, drivers, datadir, appdir.
 *
 * @param worker The worker (after its web server listens).
 * @returns The banner text.
 */
export function banner(worker: Worker): string {
  const app = worker.app;
  const conf = app.conf;
  const scheme = (url: string) => parseUrl(url).scheme;
  const drivers = [
    `transport=${DRIVERS[scheme(conf.broker)] ?? scheme(conf.broker)}`,
    `store=${DRIVERS[scheme(conf.store)] ?? scheme(conf.store)}`,
    ...(worker.webEnabled ? ["web=hono"] : []),
  ];
  const rows: [string, string][] = [
    [
      "id",
      conf.appId +
      (worker.apps.length > 1
        ? ` (+${worker.apps.slice(1).map((a) => a.conf.appId).join(", ")})`
        : ""),
    ],
    ["transport", conf.broker],
    ["store", conf.store],
    [
      "web",
      worker.webEnabled ? (worker.webUrl ?? conf.canonicalUrl) : "disabled",
    ],
    ["log", `${worker.logfile ?? "-stderr-"} (${worker.loglevel})`],
    ["pid", String(Deno.pid)],
    ["hostname", hostname(app)],
    [
      "platform",
      `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}) ${Deno.build.os}/${Deno.build.arch}`,
    ],
    ["drivers", drivers.join(" ")],
    ["datadir", absolute(conf.datadir)],
    ["appdir", absolute(`${conf.datadir}/v${conf.version}`)],
  ];
  const table = new Table({
    chars: NO_ROW_LINES,
    style: { head: [], border: [] },
  });
  for (const [k, v] of rows) table.push({ [k]: v });
  return titled(table.toString().split("\n"), `ƒaust v${VERSION}`).join("\n");
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(
      `Invalid -p/--web-port: ${
        JSON.stringify(value)
      }; expected a port number 0-65535 (0 picks a free one)`,
    );
  }
  return n;
}

function secs(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new ConfigError(
      `Invalid --blocking-timeout: ${
        JSON.stringify(value)
      }; expected seconds > 0`,
    );
  }
  return n;
}

/**
 * Add the `worker` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addWorkerCommand(program: Command, ctx: CliContext): void {
  program.command("worker")
    .description("Start worker instance for given app")
    .helpOption("--help", "Display help for command")
    .addOption(
      new Option("-l, --loglevel <level>", "Logging level").choices([
        "crit",
        "error",
        "warn",
        "info",
        "debug",
      ]),
    )
    .option("-f, --logfile <path>", "Path to logfile (default: stderr)")
    .addOption(
      new Option(
        "-p, --web-port <port>",
        "Port to run web server on (default: 6066)",
      ).argParser(port),
    )
    .option(
      "-b, --web-bind <host>",
      "Interface the web server listens on (default: 127.0.0.1)",
    )
    .option(
      "-h, --web-host <host>",
      "Canonical host name for the web server (as in Faust; help is --help)",
    )
    .option("--with-web", "Enable the web server")
    .option("--without-web", "Disable the web server")
    .addOption(
      new Option(
        "--blocking-timeout <seconds>",
        "Warn when the event loop is blocked this long",
      ).argParser(secs),
    )
    .action(async (opts: WorkerCliOptions) => {
      const app = ctx.requireApp();
      const g = ctx.globals();
      const web = opts.withoutWeb ? false : opts.withWeb ? true : undefined;
      app.conf = withOverrides(app.conf, {
        ...(opts.webPort !== undefined ? { webPort: opts.webPort } : {}),
        ...(opts.webBind !== undefined ? { webBind: opts.webBind } : {}),
        ...(opts.webHost !== undefined ? { webHost: opts.webHost } : {}),
        ...(opts.loglevel !== undefined ? { loglevel: opts.loglevel } : {}),
        ...(opts.blockingTimeout !== undefined
          ? { blockingTimeout: opts.blockingTimeout }
          : {}),
        ...(web !== undefined ? { webEnabled: web } : {}),
      });
      const worker = new Worker(app, {
        ...(opts.logfile !== undefined ? { logfile: opts.logfile } : {}),
        onStartup: (w) => {
          if (!g.quiet) console.log(banner(w));
        },
        onForceExit: (code) => Deno.exit(code),
      });
      ctx.exit(await worker.run());
    });
}
