/** Reading kafkajs errors: which failures are waited out. */
import assert from "node:assert/strict";
import {
  isGroupUnavailable,
  retryWhileUnreachable,
} from "../../src/transport/kafka/errors.ts";

/** An error as kafkajs gives it up after its retries: the broker's code in `cause`. */
function kafkajsGaveUp(type: string): Error {
  const cause = Object.assign(new Error(`broker said ${type}`), {
    name: "KafkaJSProtocolError",
    type,
  });
  return Object.assign(new Error(cause.message, { cause }), {
    name: "KafkaJSNumberOfRetriesExceeded",
  });
}

Deno.test("retryWhileUnreachable with isGroupUnavailable waits out a transaction coordinator that is loading (a restarted broker), and gives other errors up at once", async () => {
  let calls = 0;
  const got = await retryWhileUnreachable(
    () => {
      calls++;
      if (calls < 3) throw kafkajsGaveUp("GROUP_LOAD_IN_PROGRESS");
      return Promise.resolve("ready");
    },
    30_000,
    isGroupUnavailable,
  );
  assert.equal(got, "ready");
  assert.equal(calls, 3);
  let other = 0;
  await assert.rejects(
    retryWhileUnreachable(
      () => {
        other++;
        throw kafkajsGaveUp("TRANSACTIONAL_ID_AUTHORIZATION_FAILED");
      },
      30_000,
      isGroupUnavailable,
    ),
    /TRANSACTIONAL_ID_AUTHORIZATION_FAILED/,
  );
  assert.equal(other, 1);
});
