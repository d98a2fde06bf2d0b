/**
 * The app's own commands (`app.command(name, fn, { description, options,
 * arguments })`), each a subcommand with its options and arguments in
 * `--help`.
 *
 * @module
 */
import type { Command } from "commander";
import type { App } from "../app.ts";
import { ConfigError } from "../errors.ts";
import type { CliContext } from "./context.ts";

/**
 * Add a subcommand for every `app.command()`.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 * @param app The app whose commands are added.
 */
export function addCustomCommands(
  program: Command,
  ctx: CliContext,
  app: App,
): void {
  const builtins = new Set(program.commands.map((c) => c.name()));
  for (const reg of app.commands.values()) {
    if (builtins.has(reg.name)) {
      throw new ConfigError(
        `app.command("${reg.name}") clashes with the built-in command "${reg.name}"; rename it`,
      );
    }
    const cmd = program.command(reg.name).description(
      reg.options.description ?? reg.fn.name ?? "",
    );
    for (const a of reg.options.arguments ?? []) cmd.argument(a);
    for (const o of reg.options.options ?? []) {
      if (o.default !== undefined) {
        cmd.option(o.flags, o.description ?? "", o.default as string | boolean);
      } else cmd.option(o.flags, o.description ?? "");
    }
    cmd.action(async (...params: unknown[]) => {
      const self = params[params.length - 1] as Command;
      const result = await reg.fn({
        args: [...self.args],
        options: { ...self.opts() },
      });
      if (typeof result === "number" && Number.isInteger(result)) {
        ctx.exit(result);
      }
    });
  }
}
