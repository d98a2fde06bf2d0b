/**
 * Side-by-side benchmark on kafka://: ours, bare kafkajs, faust-streaming
 * and Kafka Streams (with and without its record cache) on one broker,
 * same data, one table of medians. See bench/peers/harness.ts for the
 * workloads and flags; not a test.
 *
 *   deno run -A bench/peers.ts [--events 200000] [--runs 3]
 *     [--systems ours,ours-nocache,raw,faust,kstreams,kstreams-nocache]
 *     [--workloads forward,count,recover,window,count-1m,latency,ask]
 *     [--port 39092] [--out results.md] [--old-tree PATH]
 *
 * @module
 */
import { parseHarnessArgs, runHarness, USAGE } from "./peers/harness.ts";

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`deno task bench:peers ${USAGE}`);
  } else {
    let opts;
    try {
      opts = parseHarnessArgs(Deno.args);
    } catch (e) {
      console.error((e as Error).message);
      Deno.exit(2);
    }
    Deno.exitCode = await runHarness(opts);
  }
}
