/**
 * Takeover time on kafka://: how long the partitions of a worker that stops
 * are without an owner that processes them, with standby replicas
 * (`tableStandbyReplicas: 1`) and without (recovery from zero). Not a test.
 *
 *   bash scripts/kafka.sh start
 *   deno run -A bench/takeover.ts [--broker 127.0.0.1:9092] [--events 200000]
 *     [--keys 100000] [--runs 1] [--modes standby,cold] [--stops term,kill]
 *
 * Each run: two workers (`bench/takeover/worker.ts`, a count per key in an
 * `lmdb://` table, one changelog record per update) split a 4-partition
 * topic 2/2; `--events` events over `--keys` keys are produced and counted;
 * with standbys, the bench waits until each worker's table holds every key
 * (its own and the other's as standby). Then worker B is stopped (`term`:
 * SIGTERM, it leaves the group at once; `kill`: kill -9, the group notices
 * after `brokerSessionTimeout`, 10 s here) and 64 probe events spread over
 * all partitions are produced. The takeover time is from the stop until
 * worker A has processed every probe, so it includes the rebalance, the
 * table recovery of B's partitions on A and the first events after it.
 * "replayed" is the number of changelog records A read while taking over;
 * "changelog" the records in B's changelog partitions.
 *
 * @module
 */
import { App } from "../mod.ts";

interface Opts {
  broker: string;
  events: number;
  keys: number;
  runs: number;
  modes: ("standby" | "cold")[];
  stops: ("term" | "kill")[];
}

interface State {
  processed: number;
  probes: number;
  assignment: { topic: string; partition: number }[];
  active: number[];
  standby: number[];
  recovered: number;
  size: number;
}

const USAGE =
  "deno run -A bench/takeover.ts [--broker HOST:PORT] [--events N] [--keys N] [--runs N] [--modes standby,cold] [--stops term,kill]";

function parse(args: string[]): Opts {
  const opts: Opts = {
    broker: Deno.env.get("FAUST_TEST_KAFKA") ?? "127.0.0.1:9092",
    events: 200_000,
    keys: 100_000,
    runs: 1,
    modes: ["standby", "cold"],
    stops: ["term", "kill"],
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = args[++i];
    if (value === undefined) throw new Error(`${flag} needs a value. ${USAGE}`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) {
        throw new Error(`${flag} must be a positive integer, got "${value}"`);
      }
      return n;
    };
    const list = <T extends string>(allowed: readonly T[]): T[] => {
      const items = value.split(",");
      for (const item of items) {
        if (!allowed.includes(item as T)) {
          throw new Error(
            `${flag}: "${item}" is not one of ${allowed.join(", ")}`,
          );
        }
      }
      return items as T[];
    };
    switch (flag) {
      case "--broker":
        opts.broker = value;
        break;
      case "--events":
        opts.events = int();
        break;
      case "--keys":
        opts.keys = int();
        break;
      case "--runs":
        opts.runs = int();
        break;
      case "--modes":
        opts.modes = list(["standby", "cold"] as const);
        break;
      case "--stops":
        opts.stops = list(["term", "kill"] as const);
        break;
      default:
        throw new Error(`Unknown option ${flag}. ${USAGE}`);
    }
  }
  return opts;
}

/** A worker process with its web port and output in a log file. */
class Worker {
  readonly child: Deno.ChildProcess;
  readonly log: string;
  readonly status: Promise<Deno.CommandStatus>;
  last: State | undefined;
  #url: string | undefined;

  constructor(
    readonly name: string,
    appId: string,
    broker: string,
    standbys: number,
    readonly dir: string,
  ) {
    this.log = `${dir}/${name}.log`;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../cli.ts", import.meta.url).pathname,
        "--app",
        new URL("./takeover/worker.ts", import.meta.url).pathname,
        "--datadir",
        `${dir}/${name}-data`,
        "worker",
        "-l",
        "info",
        "-p",
        "0",
        "-h",
        "127.0.0.1",
      ],
      env: {
        NO_COLOR: "1",
        TK_APP_ID: appId,
        TK_BROKER: broker,
        TK_STANDBYS: String(standbys),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = Deno.openSync(this.log, { write: true, create: true });
    const pump = async (s: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of s) {
        out.writeSync(chunk);
        if (this.#url === undefined) {
          this.#text += dec.decode(chunk, { stream: true });
          this.#url = this.#text.match(
            /\bweb\W+(http:\/\/127\.0\.0\.1:\d+)/,
          )?.[1];
        }
      }
    };
    const pumps = Promise.all([
      pump(this.child.stdout),
      pump(this.child.stderr),
    ]);
    this.status = this.child.status.then(async (s) => {
      await pumps;
      out.close();
      return s;
    });
  }

  #text = "";

  async state(): Promise<State | undefined> {
    if (this.#url === undefined) return undefined;
    try {
      const res = await fetch(`${this.#url}/state/`);
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return this.last = await res.json() as State;
    } catch {
      return undefined;
    }
  }

  sources(topic: string): number[] {
    return (this.last?.assignment ?? []).filter((tp) => tp.topic === topic)
      .map((tp) => tp.partition).sort();
  }

  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }
}

async function until(
  workers: Worker[],
  cond: () => boolean,
  what: string,
  ms: number,
  pollMs = 250,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (true) {
    await Promise.all(workers.map((w) => w.state()));
    if (cond()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${ms} ms waiting for ${what}; states: ${
          JSON.stringify(workers.map((w) => ({ ...w.last, name: w.name })))
        }; logs: ${workers.map((w) => w.log).join(", ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

interface Result {
  mode: string;
  stop: string;
  seconds: number;
  replayed: number;
  changelog: number;
}

async function runOnce(
  opts: Opts,
  mode: "standby" | "cold",
  stop: "term" | "kill",
  run: number,
): Promise<Result> {
  const appId = `tk-${mode}-${stop}-${run}-${Date.now().toString(36)}`;
  const topic = `${appId}-events`;
  const dir = await Deno.makeTempDir({ prefix: "takeover-" });
  const standbys = mode === "standby" ? 1 : 0;
  const a = new Worker("a", appId, opts.broker, standbys, dir);
  const b = new Worker("b", appId, opts.broker, standbys, dir);
  const sender = new App(`${appId}-sender`, {
    broker: `kafka://${opts.broker}`,
    topicPartitions: 4,
  });
  const events = sender.topic(topic, {
    keyType: "string",
    valueType: "string",
    partitions: 4,
  });
  try {
    await until(
      [a, b],
      () => a.sources(topic).length === 2 && b.sources(topic).length === 2,
      "a 2/2 split",
      180_000,
    );
    await sender.startClient();
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < opts.events; i++) {
      const key = `k${i % opts.keys}`;
      last = events.send({ key, value: "x" });
      if (i % 5000 === 4999) await last;
    }
    await last;
    await until(
      [a, b],
      () =>
        a.last!.processed + b.last!.processed === opts.events &&
        (standbys === 0 ||
          a.last!.size === Math.min(opts.keys, opts.events)),
      "every event counted (and A's standbys caught up)",
      600_000,
      1000,
    );
    const bPartitions = b.sources(topic);
    const recoveredBefore = a.last!.recovered;
    const t0 = performance.now();
    b.kill(stop === "term" ? "SIGTERM" : "SIGKILL");
    if (stop === "term") await b.status;
    const probes = 64;
    for (let i = 0; i < probes; i++) {
      last = events.send({ key: `probe-${i}`, value: "x" });
    }
    await last;
    await until(
      [a],
      () => a.last!.probes === probes,
      "A processing every probe",
      600_000,
      50,
    );
    const seconds = (performance.now() - t0) / 1000;
    let changelog = 0;
    const changelogTopic = `${appId}-counts-changelog`;
    for (const partition of bPartitions) {
      changelog += await sender.transport.highWatermark({
        topic: changelogTopic,
        partition,
      });
    }
    return {
      mode,
      stop,
      seconds,
      replayed: a.last!.recovered - recoveredBefore,
      changelog,
    };
  } finally {
    await sender.stop();
    for (const w of [a, b]) {
      w.kill("SIGTERM");
      const timer = setTimeout(() => w.kill("SIGKILL"), 30_000);
      await w.status;
      clearTimeout(timer);
    }
    await Deno.remove(dir, { recursive: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

if (import.meta.main) {
  let opts: Opts;
  try {
    opts = parse(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  const results: Result[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const stop of opts.stops) {
      for (const mode of opts.modes) {
        const r = await runOnce(opts, mode, stop, run);
        console.error(
          `run ${run} ${mode} ${stop}: ${
            r.seconds.toFixed(1)
          } s, replayed ${r.replayed} of ${r.changelog} changelog records`,
        );
        results.push(r);
      }
    }
  }
  console.log(
    `\nTakeover on kafka:// (${opts.events} events, ${opts.keys} keys, 4 partitions, 2 workers; median of ${opts.runs})\n`,
  );
  console.log(
    "| stop of worker B | tables on A | takeover (s) | changelog records replayed | B's changelog records |",
  );
  console.log("|---|---|---:|---:|---:|");
  for (const stop of opts.stops) {
    for (const mode of opts.modes) {
      const rs = results.filter((r) => r.mode === mode && r.stop === stop);
      console.log(
        `| ${stop === "term" ? "SIGTERM" : "kill -9"} | ${
          mode === "standby" ? "standby replica" : "recovery from zero"
        } | ${median(rs.map((r) => r.seconds)).toFixed(1)} | ${
          median(rs.map((r) => r.replayed))
        } | ${median(rs.map((r) => r.changelog))} |`,
      );
    }
  }
}
