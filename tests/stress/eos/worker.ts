/**
 * The worker of the exactly-once kill -9 rotation on `local://`, configured
 * by environment: EOS_BROKER (a `local://` URL), EOS_GUARANTEE (default
 * "exactly_once"). For each input event `{ key, seq }` it sends the event
 * to `out-awaited` (awaiting the send) and to `out-loose` (not awaiting),
 * and counts it per key in the table `counts` (lmdb://). `/state/` shows
 * the table.
 */
import { App } from "../../../mod.ts";

const guarantee = Deno.env.get("EOS_GUARANTEE") === "at_least_once"
  ? "at_least_once"
  : "exactly_once";

/** The app. */
export const app = new App("eos-stress", {
  broker: Deno.env.get("EOS_BROKER") ?? "local://",
  store: "lmdb://",
  topicPartitions: 4,
  processingGuarantee: guarantee,
  // Commit often, so kills land between, during and after commits.
  brokerCommitInterval: 0.05,
  brokerCommitEvery: 50,
});

const input = app.topic("in", {
  keyType: "string",
  valueType: "json",
  partitions: 4,
});
const awaited = app.topic("out-awaited", {
  keyType: "string",
  valueType: "json",
  partitions: 4,
});
const loose = app.topic("out-loose", {
  keyType: "string",
  valueType: "json",
  partitions: 4,
});

const counts = app.table("counts", {
  keyType: "string",
  valueType: "number",
  default: () => 0,
});

app.agent(input, async (stream) => {
  for await (const [key, value] of stream.items()) {
    const k = String(key);
    counts.set(k, counts.get(k) + 1);
    // Not awaited: the commit must take this send along by itself.
    loose.send({ key: k, value }).catch((e) =>
      console.error(`loose send failed: ${e}`)
    );
    await awaited.send({ key: k, value });
  }
}, { name: "forward" });

app.page(
  "/state/",
  (c) => c.json({ counts: Object.fromEntries(counts.entries()) }),
);
