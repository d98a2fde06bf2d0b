/**
 * The in-process word counter of the one-process Kafka tests: an App on
 * kafka:// counting words of `{id}-words` in an `lmdb://` table "counts".
 */
import { App } from "../../mod.ts";
import type { Table } from "../../src/table/table.ts";
import { BROKER } from "./_helpers.ts";

/** A word-count app and handles on its table and input. */
export interface Counter {
  /** The app (not started). */
  app: App;
  /** Its table of counts per word. */
  counts: Table<string, number>;
  /** Words its agent has counted so far. */
  processed: () => number;
  /** Send words to its input topic, each awaited. */
  send(words: readonly string[]): Promise<void>;
}

/**
 * Build a word counter.
 *
 * @param id App id and topic prefix.
 * @param datadir Its data directory (the LMDB table lives there).
 * @param partitions Partitions of the input topic (and so of the changelog).
 * @returns The app and its handles.
 */
export function counter(
  id: string,
  datadir: string,
  partitions: number,
): Counter {
  const app = new App(id, {
    broker: `kafka://${BROKER}`,
    store: "lmdb://",
    datadir,
    topicPartitions: partitions,
    brokerCommitInterval: 0.2,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    webEnabled: false,
  });
  const words = app.topic(`${id}-words`, {
    keyType: "string",
    valueType: "string",
    partitions,
  });
  const counts = app.table("counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
  });
  let processed = 0;
  app.agent(words, async (stream) => {
    for await (const w of stream) {
      counts.set(w, counts.get(w) + 1);
      processed++;
    }
  }, { name: "count" });
  return {
    app,
    counts,
    processed: () => processed,
    async send(list) {
      for (const w of list) await words.send({ key: w, value: w });
    },
  };
}
