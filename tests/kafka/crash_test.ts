/**
 * A worker that crashes on kafka:// must leave its group: every stop step
 * runs even when one fails, so the consumer leaves and the process exits
 * non-zero, and the group's partitions go to the remaining workers at once
 * instead of after the session timeout (or never, while the process lives).
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { CONFIG, Proc, ROOT } from "../cli/_helpers.ts";
import { BROKER, requireBroker, unique } from "./_helpers.ts";

Deno.test("kafka://: a worker whose crash stop has a failing step leaves the group and exits 1", async () => {
  await requireBroker();
  const dir = await Deno.makeTempDir();
  const id = unique("crash-leave");
  try {
    const mod = `${dir}/app.ts`;
    await Deno.writeTextFile(
      mod,
      `import { App, StateError } from ${
        JSON.stringify(new URL("mod.ts", ROOT).href)
      };
export const app = new App(${JSON.stringify(id)}, {
  broker: "kafka://${BROKER}", store: "memory://", agentSupervisor: "crashing",
  topicPartitions: 1, brokerSessionTimeout: 60, brokerHeartbeatInterval: 1,
});
app.registerTable({
  name: "broken", help: undefined, size: 0,
  changelogSpec: () => ({ name: ${
        JSON.stringify(`${id}-broken-changelog`)
      }, partitions: 1, internal: true }),
  open: async () => {}, assigned: async () => {}, revoked: async () => {}, close: async () => {},
  flush: async () => { throw new StateError("changes are not durable (injected)"); },
});
const boom = app.agent(undefined, async function boom(stream) {
  for await (const v of stream) throw new Error("BOOM " + v);
});
app.task(async () => { await boom.send({ value: 1 }); });
`,
    );
    const kafka = new Kafka({
      clientId: "crash-test-verifier",
      brokers: [BROKER],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Created beforehand: this test is about the stop, not topic creation.
      await admin.createTopics({
        waitForLeaders: true,
        topics: [`${id}-broken-changelog`, `${id}-boom`].map((topic) => ({
          topic,
          numPartitions: 1,
        })),
      });
    } finally {
      await admin.disconnect();
    }
    const p = new Proc([
      "run",
      "-A",
      "--config",
      CONFIG,
      new URL("cli.ts", ROOT).pathname,
      "-A",
      mod,
      "-D",
      dir,
      "worker",
      "-l",
      "info",
      "--without-web",
    ]);
    const status = await p.exit(90_000);
    assert.equal(status.code, 1, p.output);
    assert.match(p.stderr, /BOOM 1/);
    assert.match(p.stderr, /"flushing table broken" failed/);
    // The session timeout is 60 s: an empty group right after the exit
    // means the consumer left it.
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([id]);
      assert.deepEqual(groups[0]?.members, [], JSON.stringify(groups));
    } finally {
      await admin.disconnect();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
