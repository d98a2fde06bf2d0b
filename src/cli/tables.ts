/**
 * `tables`: list the app's tables (name, help).
 *
 * @module
 */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";
import { renderTable } from "./context.ts";

/**
 * Add the `tables` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addTablesCommand(program: Command, ctx: CliContext): void {
  program.command("tables")
    .description("List available tables")
    .action(() => {
      const app = ctx.requireApp();
      const tables = [...app.tables.values()].map((t) => ({
        table: t.name,
        help: t.help ?? "<N/A>",
      }));
      if (ctx.globals().json) {
        ctx.out(JSON.stringify(tables));
        return;
      }
      ctx.out(
        renderTable(
          "Tables",
          ["table", "help"],
          tables.map((t) => [t.table, t.help]),
        ),
      );
    });
}
