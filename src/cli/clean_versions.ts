/**
 * `clean-versions`: delete the data of older app versions (`{datadir}/v<N>`
 * with N below the app's `version`, as Faust does). Newer versions are kept:
 * they belong to a deployment being rolled out, or rolled back from.
 *
 * @module
 */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";
import { removeIfExists } from "./reset.ts";

/**
 * Add the `clean-versions` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addCleanVersionsCommand(
  program: Command,
  ctx: CliContext,
): void {
  program.command("clean-versions")
    .description("Delete old version directories")
    .action(async () => {
      const app = ctx.requireApp();
      const { datadir, version } = app.conf;
      const removed: string[] = [];
      try {
        for await (const e of Deno.readDir(datadir)) {
          const m = /^v(\d+)$/.exec(e.name);
          if (!e.isDirectory || m === null || Number(m[1]) >= version) {
            continue;
          }
          const path = `${datadir}/${e.name}`;
          if (await removeIfExists(path)) removed.push(path);
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (ctx.globals().json) ctx.out(JSON.stringify({ removed }));
      else if (!ctx.globals().quiet) {
        ctx.out(
          removed.length === 0
            ? `No old versions under ${datadir}`
            : removed.map((p) => `Removed ${p}`).join("\n"),
        );
      }
    });
}
