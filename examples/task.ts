/**
 * A task run once the app is operational, and a timer (the guide's
 * `@app.task()` and `@app.timer()` examples).
 *
 *   deno run -A examples/task.ts worker -l info
 *
 * @module
 */
import { App } from "../mod.ts";

export const app = new App("task-example");

app.task(async function mytask() {
  console.log("APP STARTED AND OPERATIONAL");
});

app.timer(30.0, async function myPeriodicTask() {
  console.log("THIRTY SECONDS PASSED");
});

if (import.meta.main) await app.main();
