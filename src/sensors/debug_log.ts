/**
 * What `-l debug` adds to the worker log beyond the app's own lines: the
 * assignments and revocations of every rebalance, each commit with the
 * offsets it wrote, and shutdown. Attached by the worker only at debug
 * level, so nothing is computed for it otherwise.
 *
 * @module
 */
import type { App } from "../app.ts";
import type { Sensor } from "./monitor.ts";
import type { TP } from "../util/types.ts";

/** `topic[0,1,2]` per topic, for one log line. */
export function showPartitions(tps: readonly TP[]): string {
  const by = new Map<string, number[]>();
  for (const tp of tps) {
    const list = by.get(tp.topic) ?? [];
    list.push(tp.partition);
    by.set(tp.topic, list);
  }
  return [...by].map(([t, ps]) => `${t}[${ps.sort((a, b) => a - b)}]`)
    .join(" ") || "none";
}

/**
 * Log the lifecycle, assignments and commits of `app` at debug level.
 *
 * @param app The app.
 * @returns A function that detaches the logging.
 */
export function attachDebugLog(app: App): () => void {
  const log = app.log;
  const sensor: Sensor = {
    onAssignment(assigned) {
      log.debug("Assignment received: {partitions}", {
        partitions: showPartitions(assigned),
      });
    },
    onCommitCompleted(latencyMs) {
      log.debug("Committed offsets in {ms} ms: {offsets}", () => ({
        ms: Number(latencyMs.toFixed(1)),
        offsets: [...app.monitor.partitions.values()]
          .filter((p) => p.committed > 0)
          .map((p) => `${p.topic}[${p.partition}]=${p.committed}`)
          .join(" "),
      }));
    },
  };
  app.sensors.add(sensor);
  const offs = [
    app.onPartitionsAssigned.connect((_app, assigned) => {
      log.debug("Partitions assigned, tables recovered: {partitions}", {
        partitions: showPartitions(assigned),
      });
    }),
    app.onPartitionsRevoked.connect((_app, revoked) => {
      log.debug("Partitions revoked: {partitions}", {
        partitions: showPartitions(revoked),
      });
    }),
    app.onBeforeShutdown.connect(() => {
      log.debug("Stopping: jobs, agents, services, commits, tables, broker");
    }),
  ];
  return () => {
    app.sensors.delete(sensor);
    for (const off of offs) off();
  };
}
