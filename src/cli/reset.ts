/**
 * `reset`: delete the local table state (the `tabledir`); tables rebuild
 * from their changelogs at the next start.
 *
 * @module
 */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";

/**
 * Remove a directory tree if it exists.
 *
 * @param path Directory.
 * @returns Whether something was removed.
 */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await Deno.remove(path, { recursive: true });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Add the `reset` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addResetCommand(program: Command, ctx: CliContext): void {
  program.command("reset")
    .description(
      "Delete local table state (tables are rebuilt from their changelogs at the next start)",
    )
    .action(async () => {
      const app = ctx.requireApp();
      const dir = app.conf.tabledir;
      const removed = await removeIfExists(dir);
      if (ctx.globals().json) {
        ctx.out(JSON.stringify({ removed: removed ? [dir] : [] }));
      } else if (!ctx.globals().quiet) {
        ctx.out(
          removed
            ? `Removed local table state: ${dir}`
            : `No local table state at ${dir}`,
        );
      }
    });
}
