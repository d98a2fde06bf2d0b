/**
 * A local channel fed by a timer (the guide's `app.channel()` example).
 *
 *   deno run -A examples/channel.ts worker -l info
 *
 * @module
 */
import { App, Record } from "../mod.ts";
import { z } from "zod";

export const app = new App("channel");

const MyModel = Record("MyModel", { x: z.number() });

const channel = app.channel({ valueType: MyModel });

app.agent(channel, async function process(stream) {
  for await (const event of stream) {
    console.log(`Received: ${Deno.inspect(event)}`);
  }
});

app.timer(1.0, async function populate() {
  await channel.send({ value: MyModel.parse({ x: 303 }) });
});

if (import.meta.main) await app.main();
