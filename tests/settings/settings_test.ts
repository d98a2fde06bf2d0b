import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  parseUrl,
  resolveSettings,
  settingEnvName,
  settingNames,
  type SettingsInput,
  withOverrides,
} from "../../src/settings/settings.ts";
import { VERSION } from "../../src/util/version.ts";

/**
 * An environment of `vars` only, for `resolveSettings()`: the process
 * environment stays untouched (other test files run in the same process).
 */
function envOf(
  vars: Record<string, string>,
): (name: string) => string | undefined {
  return (name) => vars[name];
}

function configError(message: string | RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ConfigError");
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  };
}

Deno.test("resolveSettings() fills in the defaults", () => {
  const s = resolveSettings("word-counts", {});
  assert.equal(s.id, "word-counts");
  assert.equal(s.appId, "word-counts");
  assert.equal(s.broker, "local://");
  assert.equal(s.store, "lmdb://");
  assert.equal(s.datadir, "word-counts-data");
  assert.equal(s.tabledir, "word-counts-data/v1/tables");
  assert.equal(s.version, 1);
  assert.equal(s.webBind, "127.0.0.1");
  assert.equal(s.webPort, 6066);
  assert.equal(s.webHost, Deno.hostname()); // tests run with -A
  assert.equal(s.canonicalUrl, `http://${Deno.hostname()}:6066`);
  assert.equal(s.webEnabled, true);
  assert.equal(s.webMetricsEnabled, true);
  assert.equal(s.webTablesEnabled, false);
  assert.equal(s.webRouterEnabled, true);
  assert.deepEqual(s.webCorsOptions, {});
  assert.equal(s.decodeErrorPolicy, "skip");
  assert.equal(s.brokerClientId, `faust-deno-${VERSION}`);
  assert.equal(VERSION, "0.1.0");
  assert.equal(s.brokerCommitEvery, 10000);
  assert.equal(s.brokerCommitInterval, 2.8);
  assert.equal(s.brokerCommitLivelockSoftTimeout, 300);
  assert.equal(s.brokerSessionTimeout, 60);
  assert.equal(s.brokerMaxPollRecords, undefined);
  assert.equal(s.consumerMaxFetchSize, 1024 * 1024);
  assert.equal(s.consumerFetchMaxBytes, 1024 * 1024);
  assert.equal(s.consumerMaxBufferedRecords, 10_000);
  assert.equal(s.consumerIsolationLevel, "read_committed");
  assert.equal(s.consumerAutoOffsetReset, "earliest");
  assert.equal(s.producerAcks, -1);
  assert.equal(s.producerCompressionType, "none");
  assert.equal(s.producerMaxRequestSize, 1000000);
  assert.equal(s.producerRequestTimeout, 30);
  assert.equal(s.streamWaitEmpty, true);
  assert.equal(s.recoveryConsistencyCheck, true);
  assert.equal(s.keySerializer, "raw");
  assert.equal(s.valueSerializer, "json");
  assert.equal(s.processingGuarantee, "at_least_once");
  assert.equal(s.streamBufferMaxsize, 4096);
  assert.equal(s.replyExpires, 86400);
  assert.equal(s.replyToPrefix, "f-reply-");
  assert.equal(s.tableStandbyReplicas, 1);
  assert.equal(s.topicPartitions, 8);
  assert.equal(s.topicReplicationFactor, 1);
  assert.equal(s.agentSupervisor, "one_for_one");
  assert.equal(s.timezone, "UTC");
  assert.equal(s.autodiscover, false);
  assert.equal(s.blockingTimeout, undefined);
  assert.equal(s.loglevel, "warn");
  assert.ok(Object.isFrozen(s));
  for (const name of settingNames()) assert.ok(name in s, `missing ${name}`);
});

Deno.test("resolveSettings() derives appId, datadir, tabledir and canonicalUrl", () => {
  const s = resolveSettings("orders", {
    version: 3,
    datadir: "/var/lib/orders",
    webHost: "worker1.example",
    webPort: 7000,
  });
  assert.equal(s.appId, "orders-v3");
  assert.equal(s.tabledir, "/var/lib/orders/v3/tables");
  assert.equal(s.canonicalUrl, "http://worker1.example:7000");
  const relative = resolveSettings("orders", { tabledir: "state" });
  assert.equal(relative.tabledir, "orders-data/v1/state");
  const absolute = resolveSettings("orders", {
    tabledir: "/tmp/state",
    canonicalUrl: "https://x",
  });
  assert.equal(absolute.tabledir, "/tmp/state");
  assert.equal(absolute.canonicalUrl, "https://x");
});

Deno.test("resolveSettings() converts durations to seconds", () => {
  const s = resolveSettings("d", {
    brokerCommitInterval: "500ms",
    replyExpires: "1h",
    streamProcessingTimeout: 12.5,
    blockingTimeout: "2s",
  });
  assert.equal(s.brokerCommitInterval, 0.5);
  assert.equal(s.replyExpires, 3600);
  assert.equal(s.streamProcessingTimeout, 12.5);
  assert.equal(s.blockingTimeout, 2);
});

Deno.test("resolveSettings() reads FAUST_* variables below options in code", () => {
  const env = envOf({
    FAUST_BROKER: "memory://",
    FAUST_WEB_PORT: "7070",
    FAUST_TOPIC_PARTITIONS: "12",
    FAUST_WEB_ENABLED: "false",
    FAUST_WEB_TABLES_ENABLED: "1",
    FAUST_BROKER_COMMIT_INTERVAL: "5s",
    FAUST_REPLY_EXPIRES: "60",
    FAUST_AUTODISCOVER: '["./agents.ts"]',
    FAUST_WEB_CORS_OPTIONS: '{"origin":"*"}',
    FAUST_PRODUCER_ACKS: "1",
  });
  const s = resolveSettings("env-app", { topicPartitions: 4 }, env);
  assert.equal(s.broker, "memory://");
  assert.equal(s.webPort, 7070);
  assert.equal(s.topicPartitions, 4); // code wins over env
  assert.equal(s.webEnabled, false);
  assert.equal(s.webTablesEnabled, true);
  assert.equal(s.brokerCommitInterval, 5);
  assert.equal(s.replyExpires, 60);
  assert.deepEqual(s.autodiscover, ["./agents.ts"]);
  assert.deepEqual(s.webCorsOptions, { origin: "*" });
  assert.equal(s.producerAcks, 1);
  assert.equal(s.canonicalUrl, `http://${s.webHost}:7070`);
  assert.equal(resolveSettings("env-app", {}, env).topicPartitions, 12);
});

Deno.test("resolveSettings() names the variable for a bad FAUST_* value", () => {
  assert.throws(
    () => resolveSettings("env-app", {}, envOf({ FAUST_WEB_PORT: "abc" })),
    configError(
      'Invalid environment variable FAUST_WEB_PORT (setting "webPort"): "abc"; expected an integer from 0 to 65535',
    ),
  );
  // An option in code means the variable is not read at all.
  assert.equal(
    resolveSettings("env-app", { webPort: 1 }, envOf({ FAUST_WEB_PORT: "abc" }))
      .webPort,
    1,
  );
  assert.throws(
    () => resolveSettings("env-app", {}, envOf({ FAUST_WEB_ENABLED: "maybe" })),
    configError(
      /FAUST_WEB_ENABLED \(setting "webEnabled"\): "maybe"; expected true or false/,
    ),
  );
  assert.throws(
    () =>
      resolveSettings(
        "env-app",
        {},
        envOf({ FAUST_WEB_CORS_OPTIONS: "{origin" }),
      ),
    configError(
      /FAUST_WEB_CORS_OPTIONS \(setting "webCorsOptions"\): "\{origin"; expected JSON/,
    ),
  );
});

Deno.test("resolveSettings() error messages name the setting, value and what is allowed", () => {
  const cases: [Record<string, unknown>, string | RegExp][] = [
    [
      { topicPartitions: -3 },
      'Invalid setting "topicPartitions": -3; expected an integer >= 1',
    ],
    [
      { topicPartitions: 2.5 },
      'Invalid setting "topicPartitions": 2.5; expected an integer >= 1',
    ],
    [
      { broker: "rocksdb://" },
      'Invalid setting "broker": "rocksdb://"; supported schemes: kafka://, local://, memory://',
    ],
    [
      { broker: "localhost:9092" },
      'Invalid setting "broker": "localhost:9092"; supported schemes: kafka://, local://, memory://',
    ],
    [
      { store: "rocksdb://" },
      'Invalid setting "store": "rocksdb://"; supported schemes: lmdb://, memory://',
    ],
    [
      { webPort: 70000 },
      'Invalid setting "webPort": 70000; expected an integer from 0 to 65535',
    ],
    [
      { debug: "yes" },
      'Invalid setting "debug": "yes"; expected true or false',
    ],
    [
      { consumerFetchMaxBytes: 0 },
      'Invalid setting "consumerFetchMaxBytes": 0; expected an integer >= 1',
    ],
    [
      { consumerMaxBufferedRecords: 0 },
      'Invalid setting "consumerMaxBufferedRecords": 0; expected an integer >= 1',
    ],
    [
      { consumerIsolationLevel: "committed" },
      'Invalid setting "consumerIsolationLevel": "committed"; expected one of "read_committed", "read_uncommitted"',
    ],
    [
      { consumerAutoOffsetReset: "newest" },
      'Invalid setting "consumerAutoOffsetReset": "newest"; expected one of "earliest", "latest"',
    ],
    [
      { producerAcks: 2 },
      'Invalid setting "producerAcks": 2; expected one of -1, 0, 1',
    ],
    [
      { processingGuarantee: "exactly-once" },
      /"processingGuarantee": "exactly-once"; expected one of "at_least_once", "exactly_once"/,
    ],
    [
      { agentSupervisor: "one_for_none" },
      /"agentSupervisor": "one_for_none"; expected one of "one_for_one", "one_for_all", "crashing"/,
    ],
    [
      { decodeErrorPolicy: "ignore" },
      /"decodeErrorPolicy": "ignore"; expected one of "skip", "fail", "dead-letter"/,
    ],
    [
      { brokerCommitInterval: "5 minutes" },
      'Invalid setting "brokerCommitInterval": "5 minutes"; expected seconds >= 0 or a string such as "500ms", "30s", "1h"',
    ],
    [{ replyExpires: -1 }, /"replyExpires": -1; expected seconds >= 0/],
    [
      { timezone: "Mars/Olympus" },
      /"timezone": "Mars\/Olympus"; expected an IANA time zone/,
    ],
    [{ valueSerializer: "" }, /"valueSerializer": ""; expected a codec name/],
    [
      { datadir: "" },
      'Invalid setting "datadir": ""; expected a non-empty string',
    ],
    [
      { autodiscover: "yes" },
      /"autodiscover": "yes"; expected true, false or a list of module paths/,
    ],
    [
      { canonicalUrl: "ftp://x" },
      /"canonicalUrl": "ftp:\/\/x"; expected an http:\/\/ or https:\/\/ URL/,
    ],
    [
      { webCorsOptions: { maxAge: "x" } },
      /"webCorsOptions": \{"maxAge":"x"\}; expected an object .* \(at maxAge: Invalid input: expected number/,
    ],
    [{ version: 0 }, 'Invalid setting "version": 0; expected an integer >= 1'],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => resolveSettings("app", input as SettingsInput),
      configError(message),
    );
  }
});

Deno.test("resolveSettings() never prints broker credentials", () => {
  const creds = {
    sasl: { mechanism: "md5", username: "u", password: "hunter2" },
  };
  assert.throws(
    () =>
      resolveSettings(
        "app",
        { brokerCredentials: creds } as unknown as SettingsInput,
      ),
    (error: Error) => {
      assert.equal(error.name, "ConfigError");
      assert.match(
        error.message,
        /^Invalid setting "brokerCredentials" \(value hidden\); expected/,
      );
      assert.match(error.message, /at sasl\.mechanism/);
      assert.ok(!error.message.includes("hunter2"));
      return true;
    },
  );
  const ok = resolveSettings("app", {
    brokerCredentials: {
      sasl: { mechanism: "scram-sha-256", username: "u", password: "p" },
      ssl: true,
    },
  });
  assert.equal(ok.brokerCredentials?.sasl?.mechanism, "scram-sha-256");
});

Deno.test("resolveSettings() rejects unknown settings and suggests the nearest name", () => {
  assert.throws(
    () =>
      resolveSettings(
        "app",
        { topic_partitions: 3 } as unknown as SettingsInput,
      ),
    configError(
      'Unknown setting "topic_partitions" (did you mean "topicPartitions"?) for app "app"',
    ),
  );
  assert.throws(
    () =>
      resolveSettings(
        "app",
        { webprot: 1, zzz: 2 } as unknown as SettingsInput,
      ),
    configError(
      'Unknown settings "webprot" (did you mean "webPort"?), "zzz" for app "app"',
    ),
  );
});

Deno.test("resolveSettings() checks the app id against Kafka's topic characters", () => {
  for (const id of ["", "has space", "a/b", "é", ".", "x".repeat(241)]) {
    assert.throws(
      () => resolveSettings(id, {}),
      configError(/^Invalid app id .*; expected a non-empty string/),
    );
  }
  assert.throws(
    () => resolveSettings(5 as unknown as string, {}),
    configError(/^Invalid app id 5;/),
  );
  assert.equal(resolveSettings("a.b_c-D9", {}).id, "a.b_c-D9");
});

Deno.test("parseUrl() splits scheme and rest without reading a host", () => {
  assert.deepEqual(parseUrl("local://data/broker"), {
    scheme: "local",
    rest: "data/broker",
  });
  assert.deepEqual(parseUrl("KAFKA://h1:9092;h2:9092"), {
    scheme: "kafka",
    rest: "h1:9092;h2:9092",
  });
  assert.deepEqual(parseUrl("memory://"), { scheme: "memory", rest: "" });
  assert.throws(
    () => parseUrl("localhost:9092"),
    configError(/Invalid URL "localhost:9092"; expected "scheme:\/\/\.\.\."/),
  );
});

Deno.test("settingEnvName() is FAUST_ and the name in UPPER_SNAKE case", () => {
  assert.equal(settingEnvName("broker"), "FAUST_BROKER");
  assert.equal(settingEnvName("webPort"), "FAUST_WEB_PORT");
  assert.equal(
    settingEnvName("brokerCommitLivelockSoftTimeout"),
    "FAUST_BROKER_COMMIT_LIVELOCK_SOFT_TIMEOUT",
  );
});

Deno.test("withOverrides() replaces values, re-derives defaults and re-validates", () => {
  const base = resolveSettings("ov", { webPort: 7000, broker: "memory://" });
  const s = withOverrides(base, { webPort: 7001, datadir: "/srv/ov" });
  assert.equal(s.webPort, 7001);
  assert.equal(s.broker, "memory://"); // kept from code
  assert.equal(s.canonicalUrl, `http://${s.webHost}:7001`);
  assert.equal(s.tabledir, "/srv/ov/v1/tables");
  assert.equal(base.webPort, 7000); // the original is unchanged
  assert.throws(
    () => withOverrides(base, { webPort: -1 }),
    configError(/"webPort": -1/),
  );
  // Settings not made by resolveSettings still work, and derived defaults follow.
  const copy = { ...base };
  const c = withOverrides(copy, { webPort: 7002, version: 2 });
  assert.equal(c.appId, "ov-v2");
  assert.equal(c.canonicalUrl, `http://${c.webHost}:7002`);
  assert.equal(c.tabledir, "ov-data/v2/tables");
});

Deno.test("readEnv() returns a granted variable and undefined for an unset one", async () => {
  // In a child process given its own environment: this one stays untouched.
  const envUrl = new URL("../../src/settings/env.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { readEnv } from "${envUrl}";` +
      `console.log(JSON.stringify([readEnv("FAUST_TEST_READ_ENV"), ` +
      `readEnv("FAUST_TEST_SURELY_UNSET_VARIABLE") ?? null]));`,
    ],
    env: { FAUST_TEST_READ_ENV: "x" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
    "x",
    null,
  ]);
});

async function runWithout(
  permissions: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/print_settings.ts`;
    const settingsUrl =
      new URL("../../src/settings/settings.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { resolveSettings } from ${JSON.stringify(settingsUrl)};\n` +
        `const s = resolveSettings("sub", {});\n` +
        `console.log(JSON.stringify({ broker: s.broker, webHost: s.webHost, port: s.webPort }));\n`,
    );
    const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--config", config, ...permissions, script],
      env: { FAUST_BROKER: "memory://", FAUST_WEB_PORT: "7777" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout).trim(),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("resolveSettings() works without --allow-env and never prompts", async () => {
  const r = await runWithout([]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    broker: "local://",
    webHost: "localhost",
    port: 6066,
  });
  assert.doesNotMatch(r.stderr, /permission|prompt/i);
});

Deno.test("resolveSettings() reads only the variables --allow-env grants", async () => {
  const r = await runWithout(["--allow-env=FAUST_BROKER"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    broker: "memory://",
    webHost: "localhost",
    port: 6066,
  });
});

Deno.test("resolveSettings() refuses Faust settings it does not implement, saying what to do instead", () => {
  for (
    const [name, value, advice] of [
      ["brokerMaxPollInterval", 100, /streamProcessingTimeout/],
      ["consumerGroupInstanceId", "member-1", /static group membership/],
      ["producerMaxBatchSize", 1000, /producerLinger/],
    ] as const
  ) {
    assert.throws(
      () =>
        resolveSettings("app", { [name]: value } as unknown as SettingsInput),
      configError(
        new RegExp(`^Setting "${name}" is not supported: .*${advice.source}`),
      ),
    );
  }
  for (const name of ["streamWaitEmpty", "recoveryConsistencyCheck"]) {
    assert.throws(
      () =>
        resolveSettings("app", { [name]: false } as unknown as SettingsInput),
      configError(
        new RegExp(`"${name}": false; only true is supported: `),
      ),
    );
  }
});

Deno.test("resolveSettings() refuses a FAUST_* variable of a setting it does not implement, naming the variable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/unsupported.ts`;
    const settingsUrl =
      new URL("../../src/settings/settings.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { resolveSettings } from ${JSON.stringify(settingsUrl)};\n` +
        `try { resolveSettings("sub", {}); console.log("accepted"); }\n` +
        `catch (e) { console.log(e.name + ": " + e.message); }\n`,
    );
    const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--config", config, "--allow-env", script],
      env: { FAUST_CONSUMER_GROUP_INSTANCE_ID: "member-1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.match(
      new TextDecoder().decode(output.stdout),
      /^ConfigError: Environment variable FAUST_CONSUMER_GROUP_INSTANCE_ID \(setting "consumerGroupInstanceId"\) is not supported: /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
