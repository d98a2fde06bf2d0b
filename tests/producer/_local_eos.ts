/** Helpers of the exactly-once tests on `local://` (one app, topics "in" and "out" of 2 partitions). */
import { LocalTransport } from "../../src/transport/local.ts";

/** Wait (bounded: 60 s) until `ok` holds; the error names `what`. */
export async function waitUntil(
  what: string,
  ok: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!await ok()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Records of topic "out" (both partitions) visible in the `local://` broker under `dir`. */
export async function outputs(dir: string): Promise<number> {
  const t = new LocalTransport(`local://${dir}/broker`, {
    defaultPartitions: 2,
    datadir: dir,
    clientId: "check",
  });
  await t.start();
  try {
    let n = 0;
    for (const partition of [0, 1]) {
      n += await t.highWatermark({ topic: "out", partition });
    }
    return n;
  } finally {
    await t.stop();
  }
}
