/**
 * Application signals (the guide's "Application Signals" section).
 *
 *   deno run -A examples/signals.ts worker -l info
 *
 * @module
 */
import { App, type Settings, type TP } from "../mod.ts";

// Before the app exists, connect on the class: called for every app.
App.onBeforeConfigured.connect((app) =>
  console.log(`App ${app.id} is being configured`)
);
App.onConfigured.connect((app, conf: Settings) =>
  console.log(`App ${app.id} configured with broker ${conf.broker}`)
);

export const app = new App("signals-example");

app.onAfterConfigured.connect((app) =>
  console.log(`App ${app.id} has been configured.`)
);
app.onWorkerInit.connect((app) =>
  console.log(`Worker starting for app ${app.id}`)
);

const show = (tps: readonly TP[]) =>
  tps.map((tp) => `${tp.topic}[${tp.partition}]`).join(", ");

app.onPartitionsAssigned.connect(async (_app, assigned) => {
  console.log(`Partitions are being assigned: ${show(assigned)}`);
});

app.onPartitionsRevoked.connect(async (_app, revoked) => {
  console.log(`Partitions are being revoked: ${show(revoked)}`);
});

app.onBeforeShutdown.connect(async (app) =>
  console.log(`App ${app.id} is shutting down`)
);

// A topic consumed by an agent, so that the app is assigned partitions.
app.agent("signals-example-events", async function events(stream) {
  for await (const value of stream) console.log(`EVENT ${Deno.inspect(value)}`);
}, { partitions: 2 });

if (import.meta.main) await app.main();
