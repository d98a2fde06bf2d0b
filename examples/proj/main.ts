/**
 * The project's entry point (the guide's `proj/__main__.py`):
 *
 *   deno run -A examples/proj/main.ts worker -l info
 *   deno run -A examples/proj/main.ts create-user alice
 *
 * @module
 */
import { app } from "./app.ts";

if (import.meta.main) await app.main();
