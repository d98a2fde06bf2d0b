/**
 * `models`: list the Records defined by the app's modules.
 *
 * @module
 */
import type { Command } from "commander";
import { listModels } from "../models/registry.ts";
import type { CliContext } from "./context.ts";
import { renderTable } from "./context.ts";

/**
 * Add the `models` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addModelsCommand(program: Command, ctx: CliContext): void {
  program.command("models")
    .description("List all available models as a tabulated list")
    .action(() => {
      const models = listModels().map((m) => ({
        name: m.name,
        help: m.help ?? "<N/A>",
      }));
      if (ctx.globals().json) {
        ctx.out(JSON.stringify(models));
        return;
      }
      ctx.out(
        renderTable(
          "Models",
          ["name", "help"],
          models.map((m) => [m.name, m.help]),
        ),
      );
    });
}
