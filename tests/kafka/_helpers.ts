/**
 * Shared setup of the Kafka tests: they need a running broker
 * (`scripts/kafka.sh start`; address in FAUST_TEST_KAFKA, default
 * 127.0.0.1:9092) and fail loudly when it is not reachable.
 */
import { KafkaTransport } from "../../src/transport/kafka.ts";
import type {
  RebalanceListener,
  TransportRecord,
} from "../../src/transport/transport.ts";
import type { TP } from "../../src/util/types.ts";

/** Broker address of the tests. */
export const BROKER = Deno.env.get("FAUST_TEST_KAFKA") ?? "127.0.0.1:9092";

let checked = false;

/** Throws a clear error when nothing listens at {@linkcode BROKER}. */
export async function requireBroker(): Promise<void> {
  if (checked) return;
  const [host, port] = BROKER.split(":");
  try {
    const conn = await Deno.connect({
      hostname: host!,
      port: Number(port ?? 9092),
    });
    conn.close();
    checked = true;
  } catch (e) {
    throw new Error(
      `No Kafka broker at ${BROKER} (FAUST_TEST_KAFKA): start one with scripts/kafka.sh start (${
        (e as Error).message
      })`,
    );
  }
}

/** A started transport on the test broker. */
export async function startTransport(
  extra: Record<string, unknown> = {},
): Promise<KafkaTransport> {
  await requireBroker();
  const t = new KafkaTransport(`kafka://${BROKER}`, {
    defaultPartitions: 3,
    datadir: "/nonexistent",
    clientId: "faust-test",
    extra: {
      brokerSessionTimeout: 10,
      brokerHeartbeatInterval: 1,
      brokerRebalanceTimeout: 20,
      ...extra,
    },
  });
  await t.start();
  return t;
}

/** A topic or group name no other test run uses. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${
    crypto.randomUUID().slice(0, 8)
  }`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** UTF-8 bytes. */
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

/** UTF-8 text of bytes (or null). */
export function text(b: Uint8Array | null): string | null {
  return b === null ? null : dec.decode(b);
}

/** A listener that records its calls. */
export class RecordingListener implements RebalanceListener {
  /** Calls in order: ["revoked", tps] or ["assigned", tps]. */
  readonly calls: ["revoked" | "assigned", TP[]][] = [];
  /** Optional work to do on revocation (e.g. commit). */
  onRevoke: ((tps: readonly TP[]) => Promise<void>) | undefined;

  /** Records the revocation. */
  async onPartitionsRevoked(revoked: readonly TP[]): Promise<void> {
    this.calls.push(["revoked", [...revoked]]);
    await this.onRevoke?.(revoked);
  }

  /** Records the assignment. */
  onPartitionsAssigned(assigned: readonly TP[]): Promise<void> {
    this.calls.push(["assigned", [...assigned]]);
    return Promise.resolve();
  }

  /** The latest assignment seen. */
  last(): TP[] {
    for (let i = this.calls.length - 1; i >= 0; i--) {
      if (this.calls[i]![0] === "assigned") return this.calls[i]![1];
    }
    return [];
  }
}

/** Poll until `n` records arrived or `ms` passed. */
export async function pollN(
  consumer: {
    poll(max: number, timeoutMs: number): Promise<TransportRecord[]>;
  },
  n: number,
  ms = 20_000,
): Promise<TransportRecord[]> {
  const out: TransportRecord[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) {
    out.push(...await consumer.poll(n - out.length, 500));
  }
  return out;
}

/** Wait until `cond()` or fail after `ms`. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sort partitions for comparisons. */
export function sortTps(tps: readonly TP[]): TP[] {
  return [...tps].sort((a, b) =>
    a.topic.localeCompare(b.topic) || a.partition - b.partition
  );
}

/**
 * The web port a worker started with `-p 0` bound, read back from the
 * `web` row of its banner (printed once the server listens, before the
 * apps start); `undefined` until it printed it.
 */
export function webPort(output: string): number | undefined {
  const m = output.match(/│ web\s*│ http:\/\/[^:\s]+:(\d+)/);
  return m === null ? undefined : Number(m[1]);
}

/**
 * A TCP port free on 127.0.0.1 right now, for a worker whose URL must be
 * known to the group: with `-p 0` a worker publishes `http://host:0` as its
 * canonical URL for routing. Prefer `-p 0` and {@linkcode webPort} elsewhere.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** How often each word occurs. */
export function tally(words: readonly string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const w of words) m[w] = (m[w] ?? 0) + 1;
  return m;
}
