import assert from "node:assert/strict";
import { App } from "../mod.ts";

Deno.test("A send larger than producerMaxRequestSize is refused, naming the topic, the size and the setting; smaller ones go through", async () => {
  const dir = await Deno.makeTempDir();
  const app = new App("max-request", {
    broker: "local://",
    store: "memory://",
    datadir: dir,
    producerMaxRequestSize: 1000,
  });
  const blobs = app.topic("blobs", { valueSerializer: "raw", partitions: 1 });
  await app.startClient();
  try {
    const ok = await blobs.send({ value: new Uint8Array(900), key: "k" });
    assert.equal(ok.offset, 0);
    await assert.rejects(
      blobs.send({
        value: new Uint8Array(990),
        key: "key",
        headers: { trace: "0123456789" },
      }),
      /Cannot send to topic "blobs": the record is 1008 bytes \(key, value and headers\), more than producerMaxRequestSize \(1000\)/,
    );
    assert.equal(app.monitor.get("sendErrors"), 1);
    const end = await app.transport.highWatermark({
      topic: "blobs",
      partition: 0,
    });
    assert.equal(end, 1, "nothing of the refused record was written");
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
