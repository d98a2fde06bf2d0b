/** Helpers shared by the consumer tests. */
import type { App } from "../../src/app.ts";
import { waitFor } from "../helpers.ts";

const enc = new TextEncoder();

/** Append raw records to a partition, bypassing the app's producer. */
export async function append(
  app: App,
  topic: string,
  partition: number,
  values: string[],
): Promise<void> {
  await app.transport.send(values.map((v) => ({
    topic,
    partition,
    key: null,
    value: enc.encode(v),
  })));
}

/** The committed offset of a partition, as the monitor reports it. */
export function committed(app: App, topic: string, partition: number): number {
  return app.monitor.partition({ topic, partition }).committed;
}

/**
 * A marker topic with its own agent. `passed()` sends one record and waits
 * until it is committed: a commit pass ran after the call, so an offset
 * still uncommitted then was held back, not merely not yet reached.
 */
export function commitMarker(app: App): { passed(): Promise<void> } {
  const name = `${app.id}-marker`;
  const t = app.topic(name, { valueType: "number", partitions: 1 });
  app.agent(t, async (s) => {
    for await (const _ of s) { /* ack */ }
  }, { name: "marker" });
  let n = 0;
  return {
    async passed() {
      n++;
      await t.send({ value: n, partition: 0 });
      await waitFor(
        () =>
          app.monitor.partition({ topic: name, partition: 0 }).committed >= n,
        5000,
        "a commit pass after the marker",
      );
    },
  };
}
