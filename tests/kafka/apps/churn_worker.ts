/**
 * A worker for the churn suite, configured by environment: CH_APP_ID (app id
 * and topic prefix), CH_BROKER (host:port), CH_GUARANTEE ("at_least_once" or
 * "exactly_once"), CH_AWAIT ("0": the agent does not await its sends),
 * CH_STANDBYS (tableStandbyReplicas, default 1). It counts events per key in
 * a table and forwards each event's value to `{id}-out`. `/state/` reports
 * what this worker holds and when its tables were last ready.
 */
import { App, currentEvent } from "../../../mod.ts";

const id = Deno.env.get("CH_APP_ID") ?? "churn-missing-id";
const awaitSends = Deno.env.get("CH_AWAIT") !== "0";
const trace = Deno.env.get("CH_TRACE") === "1";

/** The app. */
export const app = new App(id, {
  broker: `kafka://${Deno.env.get("CH_BROKER") ?? "127.0.0.1:9092"}`,
  store: "lmdb://",
  topicPartitions: 6,
  processingGuarantee: Deno.env.get("CH_GUARANTEE") === "exactly_once"
    ? "exactly_once"
    : "at_least_once",
  tableStandbyReplicas: Number(Deno.env.get("CH_STANDBYS") ?? "1"),
  brokerCommitInterval: 0.2,
  brokerSessionTimeout: 6,
  brokerHeartbeatInterval: 1,
  brokerRebalanceTimeout: 10,
  // A stalled partition is reported (with what its transaction is doing)
  // within the run, not after the default 300 s.
  brokerCommitLivelockSoftTimeout: 20,
  webTablesEnabled: true,
});

const input = app.topic(`${id}-in`, {
  keyType: "string",
  valueType: "string",
  partitions: 6,
});
const out = app.topic(`${id}-out`, {
  keyType: "string",
  valueType: "string",
  partitions: 6,
});

const counts = app.table("counts", {
  keyType: "string",
  valueType: "number",
  default: () => 0,
});

let processed = 0;

app.agent(input, async (stream) => {
  for await (const [key, value] of stream.items()) {
    if (trace) {
      const e = currentEvent();
      console.error(
        `${
          performance.timeOrigin + performance.now()
        } TRACE ${value} ${e?.partition}@${e?.offset}`,
      );
    }
    counts.set(key as string, counts.get(key as string) + 1);
    const sent = out.send({ key, value });
    if (awaitSends) await sent;
    else sent.catch((e) => console.error(`send failed: ${e}`));
    processed++;
  }
}, { name: "count" });

app.page("/state/", (c) =>
  c.json({
    processed,
    assignment: app.assignment(),
    active: counts.activePartitions,
    standby: counts.standbyPartitions,
  }));
