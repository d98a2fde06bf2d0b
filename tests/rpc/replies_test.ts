import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { acquireEnv, releaseEnv } from "../../src/transport/local/env.ts";
import { currentEvent } from "../../src/delivery/actor_context.ts";
import { headerText } from "../../src/util/types.ts";

/** Reply topics of the local:// broker under `datadir`, with their retention. */
async function replyTopics(
  datadir: string,
): Promise<Array<{ name: string; retentionMs: number | undefined }>> {
  const env = acquireEnv(`${datadir}/broker`);
  try {
    return [...env.topics.getRange({})]
      .filter(({ key }) => key.startsWith("f-reply-"))
      .map(({ key, value }) => ({
        name: key,
        retentionMs: value.retentionMs,
      }));
  } finally {
    await releaseEnv(env);
  }
}

Deno.test("replyCreateTopic creates the reply topic at start, with replyExpires as its retention; without it none exists before the first ask", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const eager = new App("replies-eager", {
      broker: "local://",
      store: "memory://",
      datadir: `${dir}/eager`,
      replyCreateTopic: true,
      replyExpires: "1h",
    });
    await eager.startClient();
    try {
      const topics = await replyTopics(`${dir}/eager`);
      assert.equal(topics.length, 1);
      assert.equal(topics[0]!.retentionMs, 3_600_000);
    } finally {
      await eager.stop();
    }

    const lazy = new App("replies-lazy", {
      broker: "local://",
      store: "memory://",
      datadir: `${dir}/lazy`,
    });
    await lazy.startClient();
    try {
      assert.deepEqual(await replyTopics(`${dir}/lazy`), []);
    } finally {
      await lazy.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Counts the transport's appends (each is one LMDB write and flush on local://). */
function countSends(app: App): { calls: number } {
  const counter = { calls: 0 };
  const transport = app.transport;
  const send = transport.send.bind(transport);
  transport.send = (records) => {
    counter.calls++;
    return send(records);
  };
  return counter;
}

Deno.test("Agent.ask() at-least-once on local://: a reply reaches an asker in the same process without waiting for its flush, so sequential asks share one write per round trip", async () => {
  const dir = await Deno.makeTempDir();
  const app = new App("replies-shared", {
    broker: "local://",
    store: "memory://",
    datadir: dir,
  });
  const echo = app.agent(undefined, async function* (stream) {
    for await (const v of stream) yield v;
  }, { name: "echo" });
  try {
    await app.start();
    assert.equal(await echo.ask({ value: -1 }), -1);
    const sends = countSends(app);
    const asks = 40;
    for (let i = 0; i < asks; i++) {
      assert.deepEqual(await echo.ask({ value: { i } }), { i });
    }
    // Without the shortcut each round trip is two writes (request, then
    // reply), one after the other.
    assert.ok(
      sends.calls <= asks + 5,
      `${sends.calls} writes for ${asks} asks`,
    );
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Agent.ask() under exactly_once on local:// resolves only once the reply's transaction committed (the reply is in the reply topic by then)", async () => {
  const dir = await Deno.makeTempDir();
  const app = new App("replies-eos", {
    broker: "local://",
    store: "memory://",
    datadir: dir,
    processingGuarantee: "exactly_once",
    brokerCommitInterval: 0.5,
  });
  let replyTo: string | undefined;
  const echo = app.agent(undefined, async function* (stream) {
    for await (const v of stream) {
      replyTo = headerText(currentEvent()!.headers, "Faust-Ag-ReplyTo");
      yield v;
    }
  }, { name: "echo" });
  try {
    await app.start();
    for (let i = 0; i < 3; i++) {
      assert.equal(await echo.ask({ value: `v${i}` }), `v${i}`);
      const tp = { topic: replyTo!, partition: 0 };
      assert.equal(
        await app.transport.highWatermark(tp),
        i + 1,
        "the reply record is committed when ask() resolves",
      );
    }
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
