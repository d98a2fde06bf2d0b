/**
 * `agents [--local]`: list the app's agents (name, topic, help).
 *
 * @module
 */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";
import { renderTable } from "./context.ts";

/**
 * Add the `agents` command.
 *
 * @param program The root command.
 * @param ctx The CLI context.
 */
export function addAgentsCommand(program: Command, ctx: CliContext): void {
  program.command("agents")
    .description("List agents")
    .option("--local", "Include agents using a local channel", false)
    .action((opts: { local: boolean }) => {
      const app = ctx.requireApp();
      const agents = [...app.agents.values()]
        .filter((a) => opts.local || a.channel.isTopic)
        .map((a) => ({
          name: `@${a.name}`,
          topic: a.channel.isTopic ? a.channel.label : "<LOCAL>",
          help: a.help ?? "<N/A>",
        }));
      if (ctx.globals().json) {
        ctx.out(JSON.stringify(agents));
        return;
      }
      ctx.out(
        renderTable(
          "Agents",
          ["name", "topic", "help"],
          agents.map((a) => [a.name, a.topic, a.help]),
        ),
      );
    });
}
