/**
 * Application signals (the guide's "Application Signals" section).
 *
 *   deno run -A examples/signals.ts worker -l info
 *   BROKER_URL=memory:// deno run -A examples/signals.ts worker -l info
 *
 * Prints, in this order: the app is being configured, the broker it is
 * configured with (from `BROKER_URL` when set), that it has been configured,
 * that the worker starts, the partitions assigned, and at shutdown (Ctrl-C)
 * that it is shutting down. Partitions are revoked in a rebalance (on
 * `kafka://`, when another worker joins), not at shutdown.
 *
 * @module
 */
import { App, type TP } from "../mod.ts";

// Before the app exists, connect on the class: called for every app.
App.onBeforeConfigured.connect((app) =>
  console.log(`App ${app.id} is being configured`)
);

export const app = new App("signals-example");

// The guide's on_configured example: settings from the environment, adjusted
// before they become final (the first read of app.conf, or start).
app.onConfigured.connect((app, conf) => {
  conf.broker = Deno.env.get("BROKER_URL") ?? conf.broker;
  console.log(`App ${app.id} configured with broker ${conf.broker}`);
});
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
