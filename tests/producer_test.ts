import assert from "node:assert/strict";
import { Monitor } from "../src/monitor.ts";
import { Producer } from "../src/producer.ts";
import { MemoryTransport } from "../src/transport/memory.ts";
import type {
  ProduceRecord,
  RecordMetadata,
} from "../src/transport/transport.ts";

/** A memory broker whose acknowledgements wait until released. */
class GatedTransport extends MemoryTransport {
  gate: PromiseWithResolvers<void> = Promise.withResolvers();
  override async send(
    records: readonly ProduceRecord[],
  ): Promise<RecordMetadata[]> {
    await this.gate.promise;
    return await super.send(records);
  }
}

Deno.test("Producer.ebb() holds delivery while too many sends wait for the broker, until half are acked", async () => {
  const transport = new GatedTransport("memory://", {
    defaultPartitions: 1,
  });
  await transport.start();
  const producer = new Producer(transport, 0, new Monitor());
  const record = (i: number): ProduceRecord => ({
    topic: "ebb",
    partition: 0,
    key: null,
    value: new TextEncoder().encode(String(i)),
  });
  assert.equal(producer.ebb(10), undefined, "nothing outstanding");
  const acks = Array.from({ length: 12 }, (_, i) => producer.send(record(i)));
  assert.equal(producer.outstanding, 12);
  const ebb = producer.ebb(10);
  assert.ok(ebb !== undefined, "12 outstanding >= 10");
  let ebbed = false;
  ebb.then(() => ebbed = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(ebbed, false, "still waiting for the broker");
  transport.gate.resolve();
  await Promise.all(acks);
  await ebb;
  assert.equal(producer.outstanding, 0);
  assert.equal(producer.ebb(10), undefined);
  await producer.close();
  await transport.stop();
});
