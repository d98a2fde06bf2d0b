import assert from "node:assert/strict";
import { App } from "../mod.ts";
import { acquireEnv, releaseEnv } from "../src/transport/local/env.ts";

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
