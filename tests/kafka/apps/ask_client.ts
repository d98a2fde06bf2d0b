/**
 * A client-only process: starts the word-counter app with `startClient()`,
 * asks its `double` agent (served by a worker process) and prints the reply.
 */
import { app, double } from "./word_counter.ts";

await app.startClient();
try {
  const values = Deno.args.map(Number);
  const replies = await Promise.all(
    values.map((value) => double.ask({ value })),
  );
  console.log(`REPLIES ${JSON.stringify(replies)}`);
} finally {
  await app.stop();
}
