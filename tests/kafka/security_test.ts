/**
 * kafka:// with `brokerCredentials`: SASL (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512) and TLS against the extra listeners of
 * `scripts/kafka.sh start` (SASL_PLAINTEXT on the test port + 2, SSL on
 * + 3, CA certificate in the script's work dir), and what the user sees
 * when the credentials or the CA are wrong.
 */
import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { FaustError } from "../../src/errors.ts";
import {
  type KafkaLogEntry,
  KafkaTransport,
  setKafkaLogSink,
} from "../../src/transport/kafka.ts";
import type { BrokerCredentials } from "../../src/settings/types.ts";
import { BROKER, bytes, text, unique, waitFor } from "./_helpers.ts";

const HOST = BROKER.split(":")[0]!;
const PORT = Number(BROKER.split(":")[1] ?? 9092);
/** SASL_PLAINTEXT listener of scripts/kafka.sh. */
const SASL = `${HOST}:${PORT + 2}`;
/** SSL listener of scripts/kafka.sh. */
const SSL = `${HOST}:${PORT + 3}`;
/** The CA certificate scripts/kafka.sh writes for the SSL listener. */
const CA_FILE = `${
  Deno.env.get("KAFKA_WORK_DIR") ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/faust-kafka-${PORT}`
}/ca.pem`;
/** The test user of scripts/kafka.sh (all three mechanisms). */
const USER = "faust";
const PASSWORD = "faust-secret";

type Mechanism = "plain" | "scram-sha-256" | "scram-sha-512";

/** Throws a clear error when the listener is not there. */
async function requireListener(address: string, what: string): Promise<void> {
  const [hostname, port] = address.split(":");
  try {
    const conn = await Deno.connect({
      hostname: hostname!,
      port: Number(port),
    });
    conn.close();
  } catch (e) {
    throw new Error(
      `No ${what} listener at ${address} (FAUST_TEST_KAFKA ${BROKER} + ${
        what === "SSL" ? 3 : 2
      }): start the broker with scripts/kafka.sh start, or stop and start one that an older kafka.sh started (${
        (e as Error).message
      })`,
    );
  }
}

async function readCa(): Promise<string> {
  try {
    return await Deno.readTextFile(CA_FILE);
  } catch (e) {
    throw new Error(
      `No CA certificate at ${CA_FILE}: scripts/kafka.sh start writes it (set KAFKA_WORK_DIR if the broker uses another work dir) (${
        (e as Error).message
      })`,
    );
  }
}

function sasl(mechanism: Mechanism, password = PASSWORD): BrokerCredentials {
  return { sasl: { mechanism, username: USER, password } };
}

/** A transport with the credentials as the App passes them (`extra`). */
function transport(
  address: string,
  brokerCredentials: BrokerCredentials,
): KafkaTransport {
  return new KafkaTransport(`kafka://${address}`, {
    defaultPartitions: 1,
    datadir: "/nonexistent",
    clientId: "faust-security-test",
    extra: { brokerCredentials, brokerRequestTimeout: 10 },
  });
}

/** Create a topic, send two records, read them back, delete the topic. */
async function roundTrip(t: KafkaTransport, prefix: string): Promise<void> {
  const topic = unique(prefix);
  await t.createTopic({ name: topic, partitions: 1 });
  try {
    const meta = await t.send([
      {
        topic,
        partition: 0,
        key: bytes("k"),
        value: bytes("v0"),
        headers: { h: bytes("x") },
      },
      { topic, partition: 0, key: null, value: bytes("v1") },
    ]);
    assert.deepEqual(meta.map((m) => m.offset), [0, 1]);
    const got = await t.read({ topic, partition: 0 }, 0, 10);
    assert.deepEqual(
      got.map((r) => [r.offset, text(r.key), text(r.value)]),
      [[0, "k", "v0"], [1, null, "v1"]],
    );
    assert.equal(text(got[0]!.headers.h!), "x");
  } finally {
    await t.deleteTopic(topic);
  }
}

/** Run `fn` with kafkajs log entries captured instead of printed. */
async function capturingKafkaLog<T>(
  fn: (entries: KafkaLogEntry[]) => Promise<T>,
): Promise<T> {
  const entries: KafkaLogEntry[] = [];
  setKafkaLogSink((entry) => entries.push(entry));
  try {
    return await fn(entries);
  } finally {
    setKafkaLogSink(undefined);
  }
}

for (
  const [mechanism, label] of [
    ["plain", "PLAIN"],
    ["scram-sha-256", "SCRAM-SHA-256"],
    ["scram-sha-512", "SCRAM-SHA-512"],
  ] as const
) {
  Deno.test(`KafkaTransport authenticates with SASL/${label}`, async () => {
    await requireListener(SASL, "SASL_PLAINTEXT");
    const t = transport(SASL, sasl(mechanism));
    try {
      await t.start();
      await roundTrip(t, `sasl-${mechanism}`);
    } finally {
      await t.stop();
    }
  });
}

Deno.test("KafkaTransport connects over TLS with brokerCredentials.ssl.ca", async () => {
  await requireListener(SSL, "SSL");
  const ca = await readCa();
  const t = transport(SSL, { ssl: { ca } });
  try {
    await t.start();
    await roundTrip(t, "tls");
  } finally {
    await t.stop();
  }
  // By name too: the certificate has DNS:localhost besides IP:127.0.0.1.
  if (HOST === "127.0.0.1") {
    const byName = transport(`localhost:${PORT + 3}`, { ssl: { ca } });
    try {
      await byName.start();
      assert.equal(await byName.partitionCount(unique("none")), undefined);
    } finally {
      await byName.stop();
    }
  }
});

Deno.test("KafkaTransport.start() names the mechanism and the broker when the SASL password is wrong", async () => {
  await requireListener(SASL, "SASL_PLAINTEXT");
  const expected: Record<Mechanism, RegExp> = {
    "plain": /SASL PLAIN authentication failed.*Invalid username or password/,
    "scram-sha-256": /SASL SCRAM SHA256 authentication failed.*SCRAM-SHA-256/,
    "scram-sha-512": /SASL SCRAM SHA512 authentication failed.*SCRAM-SHA-512/,
  };
  for (const mechanism of Object.keys(expected) as Mechanism[]) {
    await capturingKafkaLog(async (entries) => {
      const t = transport(SASL, sasl(mechanism, "wrong-password"));
      try {
        await assert.rejects(t.start(), (e: Error) => {
          assert.ok(e instanceof FaustError, `${e.name}: ${e.message}`);
          assert.match(
            e.message,
            new RegExp(`^Cannot connect to Kafka at ${SASL}: `),
          );
          assert.match(e.message, expected[mechanism]);
          assert.equal(
            (e.cause as Error).name,
            "KafkaJSSASLAuthenticationError",
          );
          return true;
        });
      } finally {
        await t.stop();
      }
      // kafkajs logs it at ERROR, with the broker, once: an authentication
      // failure is not retried.
      const failures = entries.filter((e) =>
        e.label === "ERROR" && e.log.broker === SASL &&
        /authentication failed/.test(e.log.message)
      );
      assert.equal(
        failures.length,
        1,
        JSON.stringify(entries.map((e) => e.log.message)),
      );
    });
  }
});

Deno.test("KafkaTransport.start() without brokerCredentials.ssl.ca fails with the certificate error", async () => {
  await requireListener(SSL, "SSL");
  await capturingKafkaLog(async (entries) => {
    const t = transport(SSL, { ssl: true });
    try {
      await assert.rejects(t.start(), (e: Error) => {
        assert.ok(e instanceof FaustError, `${e.name}: ${e.message}`);
        assert.ok(
          e.message.startsWith(`Cannot connect to Kafka at ${SSL}: `),
          e.message,
        );
        assert.match(e.message, /self-signed certificate in certificate chain/);
        assert.match(e.message, /set brokerCredentials\.ssl\.ca/);
        // The TLS error code sits at the bottom of kafkajs' retry wrapper.
        let cause: unknown = e.cause;
        let code: unknown;
        for (let i = 0; i < 5 && cause !== undefined; i++) {
          code ??= (cause as { code?: unknown }).code;
          cause = (cause as { cause?: unknown }).cause;
        }
        assert.equal(code, "SELF_SIGNED_CERT_IN_CHAIN");
        return true;
      });
    } finally {
      await t.stop();
    }
    // kafkajs retries the connection (its default: 5 retries) and logs each try.
    const tries = entries.filter((e) =>
      e.namespace === "Connection" &&
      /self-signed certificate/.test(e.log.message)
    );
    assert.ok(
      tries.length >= 1,
      JSON.stringify(entries.map((e) => e.log.message)),
    );
  });
});

Deno.test("KafkaTransport without brokerCredentials is refused by the SASL listener", async () => {
  await requireListener(SASL, "SASL_PLAINTEXT");
  await capturingKafkaLog(async () => {
    const t = transport(SASL, {});
    try {
      // kafkajs' connect only sends ApiVersions, which a SASL listener
      // answers before authentication: start() makes a first real request.
      await assert.rejects(
        () => t.start(),
        (e: Error) => {
          assert.ok(e instanceof FaustError, `${e.name}: ${e.message}`);
          assert.match(e.message, /^Cannot connect to Kafka at /);
          assert.match(e.message, /Closed connection/);
          assert.match(e.message, /need brokerCredentials/);
          return true;
        },
      );
    } finally {
      await t.stop();
    }
  });
});

/** An app whose agent collects what it receives. */
function collectingApp(
  id: string,
  address: string,
  brokerCredentials: BrokerCredentials,
): { app: App; send(v: string): Promise<void>; seen: string[] } {
  const app = new App(id, {
    broker: `kafka://${address}`,
    brokerCredentials,
    store: "memory://",
    topicPartitions: 2,
    brokerCommitInterval: 0.2,
    brokerSessionTimeout: 10,
    brokerHeartbeatInterval: 1,
    webEnabled: false,
  });
  const topic = app.topic(`${id}-in`, { valueType: "string", partitions: 2 });
  const seen: string[] = [];
  app.agent(topic, async (stream) => {
    for await (const v of stream) seen.push(v);
  }, { name: "collect" });
  return {
    app,
    seen,
    async send(v) {
      await topic.send({ value: v });
    },
  };
}

async function appRoundTrip(
  prefix: string,
  address: string,
  brokerCredentials: BrokerCredentials,
): Promise<void> {
  const id = unique(prefix);
  const { app, send, seen } = collectingApp(id, address, brokerCredentials);
  await app.start();
  try {
    for (const v of ["a", "b", "c"]) await send(v);
    await waitFor(() => seen.length === 3, "the agent to get 3 events", 30_000);
    assert.deepEqual([...seen].sort(), ["a", "b", "c"]);
  } finally {
    await app.stop();
  }
  // Clean up the topics with a plain transport on the same listener.
  const t = transport(address, brokerCredentials);
  try {
    await t.start();
    await t.deleteTopic(`${id}-in`);
  } finally {
    await t.stop();
  }
}

Deno.test("App with brokerCredentials SCRAM-SHA-512 runs an agent in a consumer group", async () => {
  await requireListener(SASL, "SASL_PLAINTEXT");
  await appRoundTrip("app-scram", SASL, sasl("scram-sha-512"));
});

Deno.test("App with brokerCredentials.ssl.ca runs an agent in a consumer group over TLS", async () => {
  await requireListener(SSL, "SSL");
  await appRoundTrip("app-tls", SSL, { ssl: { ca: await readCa() } });
});
