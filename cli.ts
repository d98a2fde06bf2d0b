/**
 * The `faust` command line: `deno run -A cli.ts --app ./app.ts worker -l info`.
 *
 * @module
 */
import { runCli } from "./src/cli/main.ts";

export { runCli };

if (import.meta.main) Deno.exitCode = await runCli(Deno.args);
