/**
 * What every CLI command receives: the app (if one was given), the global
 * options, and output helpers (text tables with a title in the top border,
 * as Faust prints them, or JSON with `--json`).
 *
 * @module
 */
import Table from "cli-table3";
import type { App } from "../app.ts";
import { ConfigError } from "../errors.ts";

/** Global options (`faust [options] COMMAND`). */
export interface GlobalOptions {
  /** `-A/--app`. */
  app?: string;
  /** `--json`. */
  json?: boolean;
  /** `-D/--datadir`. */
  datadir?: string;
  /** `-W/--workdir`. */
  workdir?: string;
  /** `-q/--quiet`. */
  quiet?: boolean;
  /** `--debug`. */
  debug?: boolean;
}

/** Shared state of one CLI run. */
export interface CliContext {
  /** The app, when `--app` was given or `app.main()` runs the CLI. */
  readonly app: App | undefined;
  /** The app, or a clear error telling how to name one. */
  requireApp(): App;
  /** The global options as parsed. */
  globals(): GlobalOptions;
  /** Set the exit code of the run. */
  exit(code: number): void;
  /** Write a line to stdout. */
  out(text: string): void;
}

/**
 * The app of the context, or a `ConfigError` saying how to give one.
 *
 * @param app The app, if any.
 * @returns The app.
 */
export function appOrThrow(app: App | undefined): App {
  if (app === undefined) {
    throw new ConfigError(
      "No app: pass -A/--app ./module.ts[:export] (the export defaults to app, then the default export)",
    );
  }
  return app;
}

/**
 * Render rows as a box table with the title in the top border, or as JSON.
 *
 * @param title Title, e.g. `"Agents"`.
 * @param head Column names.
 * @param rows Cells.
 * @returns The table text (no trailing newline).
 */
export function renderTable(
  title: string,
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const table = new Table({
    head: [...head],
    chars: NO_ROW_LINES,
    style: { head: [], border: [] },
  });
  for (const r of rows) table.push([...r]);
  const lines = table.toString().split("\n");
  const top = lines[0] ?? "";
  // One rule under the header row, none between data rows (as Faust prints them).
  lines.splice(
    2,
    0,
    top.replace("┌", "├").replaceAll("┬", "┼").replace("┐", "┤"),
  );
  return titled(lines, title).join("\n");
}

/** cli-table3 characters without the rules between rows. */
export const NO_ROW_LINES = {
  mid: "",
  "left-mid": "",
  "mid-mid": "",
  "right-mid": "",
};

/**
 * Put a title into the top border of a rendered table when it fits.
 *
 * @param lines The table's lines.
 * @param title The title.
 * @returns The lines, the first one titled.
 */
export function titled(lines: string[], title: string): string[] {
  const top = lines[0];
  const firstCell = top === undefined
    ? -1
    : top.indexOf("┬") === -1
    ? top.length - 1
    : top.indexOf("┬");
  if (top !== undefined && firstCell > title.length) {
    lines[0] = top[0] + title + top.slice(1 + title.length);
  }
  return lines;
}
