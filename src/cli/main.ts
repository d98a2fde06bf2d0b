/**
 * The command line: `faust [global options] COMMAND [options]`, with the
 * built-in commands (one file each) and the app's own. `runCli()` is what
 * `cli.ts` and `app.main()` call; it returns the exit code and never exits
 * the process itself (except `worker` on a forced stop).
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import type { App } from "../app.ts";
import { autodiscover } from "../app/autodiscover.ts";
import { withOverrides } from "../settings/settings.ts";
import { VERSION } from "../util/version.ts";
import { addAgentsCommand } from "./agents.ts";
import { addCleanVersionsCommand } from "./clean_versions.ts";
import { appOrThrow, type CliContext, type GlobalOptions } from "./context.ts";
import { addCustomCommands } from "./custom.ts";
import { loadApp } from "./load_app.ts";
import { cliRan } from "../app/main_hint.ts";
import { addModelCommand } from "./model.ts";
import { addModelsCommand } from "./models.ts";
import { addResetCommand } from "./reset.ts";
import { addSendCommand } from "./send.ts";
import { addTablesCommand } from "./tables.ts";
import { addWorkerCommand } from "./worker.ts";

/**
 * Read `-A/--app` and `-W/--workdir` before parsing, since the app's own
 * commands must be known to build the parser.
 *
 * @param args Command-line arguments.
 * @returns The values given, if any.
 */
export function prescan(
  args: readonly string[],
): { app?: string; workdir?: string } {
  const out: { app?: string; workdir?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    for (
      const [short, long, key] of [["-A", "--app", "app"], [
        "-W",
        "--workdir",
        "workdir",
      ]] as const
    ) {
      if ((a === short || a === long) && i + 1 < args.length) {
        out[key] = args[++i]!;
      } else if (a.startsWith(`${long}=`)) out[key] = a.slice(long.length + 1);
      else if (a.startsWith(short) && a.length > 2 && !a.startsWith("--")) {
        out[key] = a.slice(2);
      }
    }
  }
  return out;
}

function programName(): string {
  try {
    const main = Deno.mainModule;
    const base = main.slice(main.lastIndexOf("/") + 1);
    return base === "cli.ts" || base === "" ? "faust" : base;
  } catch {
    return "faust";
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    return `${error.name === "Error" ? "Error" : error.name}: ${error.message}`;
  }
  return `Error: ${String(error)}`;
}

/**
 * Modules being loaded by a command line, shared by every copy of this
 * module in the process (a module may import the library by another URL).
 */
const loading: { count: number } =
  ((globalThis as Record<symbol, unknown>)[Symbol.for("faust.cli.loading")] ??=
    { count: 0 }) as { count: number };

/**
 * Run the command line.
 *
 * @param args Arguments after the program (`Deno.args`).
 * @param app The app, when called by `app.main()`; else `-A/--app` names it.
 * @returns The exit code: 0 on success, 1 on a failure, 2 on a usage error.
 *
 * @example Running a custom command of an app
 * ```ts
 * import { runCli } from "@faust/faust/cli";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("cli");
 * const greeted: string[] = [];
 * // A command that returns a number sets the exit code; this one returns nothing.
 * app.command("greet", ({ args }) => {
 *   greeted.push(...args);
 * }, {
 *   arguments: ["<name>"],
 * });
 * assert.equal(await runCli(["greet", "Ada"], app), 0);
 * assert.deepEqual(greeted, ["Ada"]);
 * ```
 */
export async function runCli(
  args: readonly string[],
  app?: App,
): Promise<number> {
  cliRan();
  if (app !== undefined && loading.count > 0) {
    // The module being loaded (by `--app` or autodiscovery) runs
    // `await app.main()` at its top level: running the command here would
    // start the app a second time, inside the import.
    console.error(
      "app.main() was called while the command line loads the app's module: ignored. " +
        "Guard the call: `if (import.meta.main) await app.main();`",
    );
    return 0;
  }
  const pre = prescan(args);
  let code = 0;
  loading.count++;
  try {
    if (pre.workdir !== undefined) Deno.chdir(pre.workdir);
    if (app === undefined && pre.app !== undefined) {
      app = await loadApp(pre.app);
    }
    if (app !== undefined) await autodiscover(app);
  } catch (error) {
    console.error(errorText(error));
    return 1;
  } finally {
    loading.count--;
  }
  const program = new Command();
  const ctx: CliContext = {
    app,
    requireApp: () => appOrThrow(app),
    globals: () => program.opts<GlobalOptions>(),
    exit: (c) => code = c,
    // -q silences stdout for every command; errors still go to stderr.
    out: (text) => {
      if (program.opts<GlobalOptions>().quiet !== true) console.log(text);
    },
  };
  program
    .name(programName())
    .description(
      "Faust for Deno: stream processing. Run a worker, send to agents, inspect tables and models.",
    )
    .version(VERSION, "--version", "Show the version and exit")
    .option(
      "-A, --app <module[:export]>",
      "Module of the app (export defaults to app, then the default export)",
    )
    .option("--json", "Prefer data to be emitted in JSON format")
    .option("-D, --datadir <path>", "Directory to keep application state")
    .option(
      "-W, --workdir <path>",
      "Working directory to change to after start",
    )
    .option("-q, --quiet", "Silence output to stdout")
    .option("--debug", "Enable debugging output and the blocking detector")
    .helpOption("--help", "Display help")
    .helpCommand("help [command]", "Display help for a command")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)),
      writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
    })
    .hook("preAction", () => {
      const g = program.opts<GlobalOptions>();
      if (
        app === undefined || (g.datadir === undefined && g.debug === undefined)
      ) return;
      app.conf = withOverrides(app.conf, {
        ...(g.datadir !== undefined ? { datadir: g.datadir } : {}),
        ...(g.debug !== undefined ? { debug: g.debug } : {}),
      });
    });
  addWorkerCommand(program, ctx);
  addAgentsCommand(program, ctx);
  addSendCommand(program, ctx);
  addTablesCommand(program, ctx);
  addModelsCommand(program, ctx);
  addModelCommand(program, ctx);
  addResetCommand(program, ctx);
  addCleanVersionsCommand(program, ctx);
  try {
    if (app !== undefined) addCustomCommands(program, ctx, app);
  } catch (error) {
    console.error(errorText(error));
    return 1;
  }
  for (const c of program.commands) c.exitOverride();
  program.allowExcessArguments(true).action(() => {
    const extra = program.args[0];
    if (extra === undefined) {
      program.outputHelp();
      return;
    }
    console.error(
      `error: unknown command "${extra}"; commands: ${
        program.commands.map((c) => c.name()).join(", ")
      } (see --help)`,
    );
    code = 2;
  });
  try {
    await program.parseAsync([...args], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 || error.code === "commander.helpDisplayed" ||
          error.code === "commander.version"
        ? 0
        : 2;
    }
    console.error(errorText(error));
    return 1;
  }
  return code;
}
