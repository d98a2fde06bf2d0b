/**
 * Custom commands (the guide's `examples/command.py`).
 *
 *   deno run -A examples/command.ts            # lists the commands
 *   deno run -A examples/command.ts example    # RUNNING EXAMPLE COMMAND
 *   deno run -A examples/command.ts greet --times 2 World
 *
 * @module
 */
import { App } from "../mod.ts";

export const app = new App("example-subcommand");

app.command("example", () => {
  console.log("RUNNING EXAMPLE COMMAND");
}, { description: "This description is used as the command help in --help." });

app.command("greet", ({ args, options }) => {
  for (let i = 0; i < Number(options.times); i++) {
    console.log(`Hello, ${args[0]}!`);
  }
}, {
  description: "Greet someone",
  arguments: ["<name>"],
  options: [{
    flags: "-t, --times <n>",
    description: "How many times",
    default: "1",
  }],
});

if (import.meta.main) await app.main();
