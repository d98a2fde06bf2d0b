/**
 * The worker of `bench/takeover.ts`: counts events per key in an `lmdb://`
 * table on kafka://, configured by environment:
 * TK_APP_ID (app id and topic prefix), TK_BROKER (host:port),
 * TK_STANDBYS (`tableStandbyReplicas`, 0 or 1).
 * The changelog record cache is off, so the changelog holds one record per
 * update and its size does not depend on commit timing.
 * `/state/` reports what this worker holds and how many probe events
 * (keys starting with `probe-`) it has processed.
 *
 * @module
 */
import { App } from "../../mod.ts";

const id = Deno.env.get("TK_APP_ID") ?? "tk-missing-id";

/** The app. */
export const app = new App(id, {
  broker: `kafka://${Deno.env.get("TK_BROKER") ?? "127.0.0.1:9092"}`,
  store: "lmdb://",
  topicPartitions: 4,
  tableStandbyReplicas: Number(Deno.env.get("TK_STANDBYS") ?? "1"),
  tableChangelogCache: false,
  brokerCommitInterval: 0.2,
  brokerSessionTimeout: 10,
  brokerHeartbeatInterval: 1,
  brokerRebalanceTimeout: 20,
});

const events = app.topic(`${id}-events`, {
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
let probes = 0;

app.agent(events, async (stream) => {
  for await (const event of stream.events()) {
    const key = event.key as string;
    counts.set(key, counts.get(key) + 1);
    processed++;
    if (key.startsWith("probe-")) probes++;
  }
}, { name: "count" });

app.page("/state/", (c) =>
  c.json({
    processed,
    probes,
    assignment: app.assignment(),
    active: counts.activePartitions,
    standby: counts.standbyPartitions,
    recovered: counts.recoveryStats.records,
    size: counts.size,
  }));
