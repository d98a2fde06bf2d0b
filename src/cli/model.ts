/**
 * `model NAME`: the fields of one Record (field, type, default).
 *
 * @module
 */
import type { Command } from "commander";
import { describeModel } from "../models/registry.ts";
import type { CliContext } from "./context.ts";
import { renderTable } from "./context.ts";

/**
 * Add the `model` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addModelCommand(program: Command, ctx: CliContext): void {
  program.command("model")
    .description("Show model detail")
    .argument("<name>", "Model name")
    .action((name: string) => {
      const model = describeModel(name);
      if (ctx.globals().json) {
        ctx.out(JSON.stringify(model));
        return;
      }
      const rows = model.fields.map((f) => [
        f.name,
        f.optional ? `${f.type} (optional)` : f.type,
        "default" in f ? JSON.stringify(f.default) : "*",
      ]);
      ctx.out(renderTable(model.name, ["field", "type", "default"], rows));
    });
}
