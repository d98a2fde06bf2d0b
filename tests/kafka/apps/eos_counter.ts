/**
 * An exactly-once worker for the kill -9 test, configured by environment:
 * EOS_APP_ID (app id and topic prefix), EOS_BROKER (host:port),
 * EOS_GUARANTEE (default "exactly_once"). It counts words in a table and
 * forwards every word to `{id}-out`; `/state/` shows the table.
 */
import { App } from "../../../mod.ts";

const id = Deno.env.get("EOS_APP_ID") ?? "eos-missing-id";
const guarantee = Deno.env.get("EOS_GUARANTEE") === "at_least_once"
  ? "at_least_once"
  : "exactly_once";

/** The app. */
export const app = new App(id, {
  broker: `kafka://${Deno.env.get("EOS_BROKER") ?? "127.0.0.1:9092"}`,
  store: "lmdb://",
  topicPartitions: 2,
  processingGuarantee: guarantee,
  brokerCommitInterval: 0.1,
  brokerSessionTimeout: 6,
  brokerHeartbeatInterval: 1,
  brokerRebalanceTimeout: 10,
});

const words = app.topic(`${id}-words`, {
  keyType: "string",
  valueType: "string",
  partitions: 2,
});
const out = app.topic(`${id}-out`, {
  keyType: "string",
  valueType: "string",
  partitions: 2,
});

const counts = app.table("counts", {
  keyType: "string",
  valueType: "number",
  default: () => 0,
});

app.agent(words, async (stream) => {
  for await (const [key, w] of stream.items()) {
    counts.set(w, counts.get(w) + 1);
    // Not awaited: the commit must wait for these sends itself.
    out.send({ key, value: w }).catch((e) => console.error(`send: ${e}`));
    await new Promise((r) => setTimeout(r, 1));
  }
}, { name: "count" });

app.page(
  "/state/",
  (c) => c.json({ counts: Object.fromEntries(counts.entries()) }),
);
