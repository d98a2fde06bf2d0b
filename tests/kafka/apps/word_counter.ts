/**
 * A word-count worker on kafka:// for the multi-process tests, configured by
 * environment: WC_APP_ID (app id and topic prefix), WC_BROKER (host:port).
 * Web port and data directory come from the CLI (`-p`, `--datadir`).
 * `/state/` reports what this worker holds; the `double` agent answers asks.
 */
import { App } from "../../../mod.ts";

const id = Deno.env.get("WC_APP_ID") ?? "wc-missing-id";

/** The app. */
export const app = new App(id, {
  broker: `kafka://${Deno.env.get("WC_BROKER") ?? "127.0.0.1:9092"}`,
  store: "lmdb://",
  topicPartitions: 4,
  brokerCommitInterval: 0.2,
  brokerSessionTimeout: 10,
  brokerHeartbeatInterval: 1,
  brokerRebalanceTimeout: 20,
  webTablesEnabled: true,
});

const words = app.topic(`${id}-words`, {
  keyType: "string",
  valueType: "string",
  partitions: 4,
});

const counts = app.table("counts", {
  keyType: "string",
  valueType: "number",
  default: () => 0,
});

let processed = 0;

app.agent(words, async (stream) => {
  for await (const w of stream) {
    counts.set(w, counts.get(w) + 1);
    processed++;
  }
}, { name: "count" });

/** Replies with twice the value. */
export const double = app.agent(undefined, async function* double(stream) {
  for await (const n of stream) yield n * 2;
}, { name: "double", valueType: "number" });

app.page(
  "/count/:word/",
  app.tableRoute(counts, { matchInfo: "word" }, (c) => {
    const word = c.req.param("word");
    return c.json({
      word,
      count: counts.get(word),
      servedBy: app.conf.canonicalUrl,
    });
  }),
);

app.page("/state/", (c) =>
  c.json({
    leader: app.isLeader(),
    processed,
    assignment: app.assignment(),
    active: counts.activePartitions,
    standby: counts.standbyPartitions,
    recovered: counts.recoveryStats.records,
    counts: Object.fromEntries(counts.entries()),
  }));
