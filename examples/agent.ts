/**
 * An agent on an anonymous topic (the guide's `examples/agent.py`).
 *
 *   deno run -A examples/agent.ts worker -l info
 *   deno run -A examples/agent.ts send @myagent hello   # in another terminal
 *
 * The worker prints `MYAGENT RECEIVED -- "hello"`.
 *
 * @module
 */
import { App } from "../mod.ts";

export const app = new App("stream-example");

app.agent(undefined, async function* myagent(stream) {
  for await (const value of stream) {
    console.log(`MYAGENT RECEIVED -- ${Deno.inspect(value)}`);
    yield value;
  }
}, { help: "Example agent." });

if (import.meta.main) await app.main();
