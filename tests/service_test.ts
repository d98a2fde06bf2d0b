import assert from "node:assert/strict";
import { App, Service } from "../mod.ts";
import { memApp, waitFor } from "./helpers.ts";

class MyService extends Service {
  readonly log: string[] = [];
  wakes = 0;
  ticks = 0;
  override onStart(): void {
    this.log.push("MYSERVICE IS STARTING");
  }
  override onStarted(): void {
    this.log.push("started");
  }
  override onStop(): void {
    this.log.push("MYSERVICE IS STOPPING");
  }
  override onShutdown(): void {
    this.log.push("shutdown");
  }
  @Service.task
  async backgroundTask(): Promise<void> {
    while (!this.shouldStop) {
      this.wakes++;
      await this.sleep(0.01);
    }
  }
  @Service.timer(0.01)
  async tick(): Promise<void> {
    this.ticks++;
  }
}

Deno.test("app.service() starts a Service with its background task and timer, and stops it (seed service example)", async () => {
  const app = memApp("service-example");
  const svc = app.service(new MyService());
  await app.start();
  await waitFor(() => svc.wakes >= 3 && svc.ticks >= 2);
  assert.ok(svc.running);
  await app.stop();
  assert.ok(!svc.running);
  assert.deepEqual(svc.log, [
    "MYSERVICE IS STARTING",
    "started",
    "MYSERVICE IS STOPPING",
    "shutdown",
  ]);
});

Deno.test("Service children start first and stop last, in reverse order", async () => {
  const order: string[] = [];
  class Named extends Service {
    constructor(readonly n: string) {
      super();
    }
    override onStart(): void {
      order.push(`start ${this.n}`);
    }
    override onShutdown(): void {
      order.push(`stop ${this.n}`);
    }
  }
  const parent = new Named("parent");
  parent.addDependency(new Named("a"));
  parent.addDependency(new Named("b"));
  await parent.start();
  await parent.stop();
  assert.deepEqual(order, [
    "start a",
    "start b",
    "start parent",
    "stop b",
    "stop a",
    "stop parent",
  ]);
});

Deno.test("Service.stop() called while a stop runs waits for that stop to finish", async () => {
  const gate = Promise.withResolvers<void>();
  class Slow extends Service {
    shutdown = false;
    override async onStop(): Promise<void> {
      await gate.promise;
    }
    override onShutdown(): void {
      this.shutdown = true;
    }
  }
  const svc = new Slow();
  await svc.start();
  const first = svc.stop();
  let secondDone = false;
  const second = svc.stop().then(() => secondDone = true);
  // A stop() that does not wait returns within microtasks: one macrotask
  // later it would be done. Both must wait on the first one's onStop().
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(secondDone, false, "second stop() returned during the first");
  gate.resolve();
  await Promise.all([first, second]);
  assert.equal(svc.shutdown, true);
  assert.equal(svc.running, false);
});

Deno.test("Signals: instance handlers see only their app, class handlers every app; sender comes first", async () => {
  const seen: string[] = [];
  const offClass = App.onPartitionsAssigned.connect((app, assigned) => {
    seen.push(`class:${app.id}:${assigned.length}`);
  });
  const offSync = App.onAfterConfigured.connect((app) =>
    void seen.push(`configured:${app.id}`)
  );
  try {
    const app1 = memApp("sig1", { topicPartitions: 2 });
    const app2 = memApp("sig2", { topicPartitions: 2 });
    app1.onPartitionsAssigned.connect((app, assigned) =>
      void seen.push(`inst:${app.id}:${assigned.length}`)
    );
    app1.onConfigured.connect(() => void seen.push("inst-configured:sig1"));
    app1.agent(app1.topic("s1"), async (s) => {
      for await (const _ of s);
    }, { name: "s1" });
    app2.agent(app2.topic("s2"), async (s) => {
      for await (const _ of s);
    }, { name: "s2" });
    let shutdown = 0;
    app1.onBeforeShutdown.connect(() => void shutdown++);
    await app1.start();
    await app2.start();
    await app1.stop();
    await app2.stop();
    assert.equal(shutdown, 1);
    // Configuration is final at the first read of app.conf (declaring a topic).
    assert.deepEqual(seen, [
      "inst-configured:sig1",
      "configured:sig1",
      "configured:sig2",
      "class:sig1:2",
      "inst:sig1:2",
      "class:sig2:2",
    ]);
  } finally {
    offClass();
    offSync();
  }
});

Deno.test("App.onConfigured lets a handler see the settings before they become app.conf", () => {
  const seen: string[] = [];
  const off = App.onConfigured.connect((app, conf) =>
    void seen.push(`${app.id}:${conf.broker}`)
  );
  try {
    const app = memApp("configured");
    assert.deepEqual(seen, [], "not before the settings are first read");
    assert.equal(app.conf.broker, "memory://");
    assert.equal(app.conf.broker, "memory://");
  } finally {
    off();
  }
  assert.deepEqual(seen, ["configured:memory://"]);
});

Deno.test("app.onConfigured connected after new App() adjusts the settings: broker from the environment, derived defaults follow", () => {
  const app = new App("configure-me", { store: "memory://" });
  const order: string[] = [];
  app.onConfigured.connect((_app, conf) => {
    order.push("configured");
    conf.broker = "memory://from-env";
    conf.datadir = "/tmp/elsewhere";
  });
  app.onAfterConfigured.connect(() => void order.push("after"));
  assert.equal(app.conf.broker, "memory://from-env");
  assert.equal(app.conf.tabledir, "/tmp/elsewhere/v1/tables");
  assert.ok(Object.isFrozen(app.conf));
  assert.deepEqual(order, ["configured", "after"]);
});

Deno.test("app.onConfigured: a bad value is a ConfigError naming the setting; the id cannot change", () => {
  const bad = new App("configure-bad", { store: "memory://" });
  bad.onConfigured.connect((_app, conf) => {
    conf.broker = "nats://x";
  });
  assert.throws(() => bad.conf, /broker.*nats:\/\/x/);
  const renamed = new App("configure-id", { store: "memory://" });
  renamed.onConfigured.connect((_app, conf) => {
    conf.id = "other";
  });
  assert.throws(() => renamed.conf, /changed the app id/);
});

Deno.test("app.onConfigured runs at start when nothing read the settings before", async () => {
  const app = new App("configure-start", { store: "memory://" });
  app.onConfigured.connect((_app, conf) => {
    conf.broker = "memory://";
  });
  await app.start();
  try {
    assert.equal(app.transport.url, "memory://");
  } finally {
    await app.stop();
  }
});

Deno.test("app.timer() runs on its interval, onLeader on the single worker, and survives an exception", async () => {
  const app = memApp("timers");
  let n = 0;
  let leader = 0;
  app.timer(0.01, () => {
    n++;
    if (n === 1) throw new Error("first call fails");
  });
  app.timer("10ms", () => void leader++, { onLeader: true });
  await app.start();
  await waitFor(() => n >= 3 && leader >= 2);
  await app.stop();
  assert.equal(app.monitor.get("timerErrors"), 1);
});

Deno.test("app.crontab() validates the expression and takes a name", () => {
  const app = memApp("cron");
  assert.throws(
    () => app.crontab("not a cron", () => {}),
    /Invalid crontab "not a cron"/,
  );
  const job = app.crontab("*/5 * * * *", () => {}, {
    timezone: "Europe/Oslo",
    name: "every5",
  });
  assert.equal(job.name, "every5");
  assert.throws(() => app.timer(0, () => {}), /Invalid timer interval/);
});

/** The hours `h,h+1` it is now in `timeZone` (the next in case one ends). */
function hoursNow(timeZone: string): string {
  const h = Number(
    new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hour: "numeric",
      hourCycle: "h23",
    }).format(new Date()),
  );
  return `${h},${(h + 1) % 24}`;
}

Deno.test("app.crontab() honours the timezone: an hour field matches the zone's clock, not UTC's", async () => {
  // Asia/Kolkata is UTC+05:30 all year: its hours and UTC's never coincide.
  const app = memApp("cron-tz");
  let local = 0;
  let utcHours = 0;
  app.crontab(`* * ${hoursNow("Asia/Kolkata")} * * *`, () => void local++, {
    timezone: "Asia/Kolkata",
  });
  app.crontab(`* * ${hoursNow("UTC")} * * *`, () => void utcHours++, {
    timezone: "Asia/Kolkata",
  });
  await app.start();
  try {
    await waitFor(() => local >= 2, 6000, "two runs in the Kolkata hour");
    assert.equal(utcHours, 0, "a job for UTC's hour ran in Kolkata's");
  } finally {
    await app.stop();
  }
});

Deno.test("app.crontab() fires on a per-second schedule and keeps running after an exception", async () => {
  const app = memApp("cron2");
  let n = 0;
  app.crontab("* * * * * *", () => {
    n++;
    throw new Error("cron failure is logged, not fatal");
  });
  await app.start();
  await waitFor(() => n >= 2, 4000, "two cron runs");
  await app.stop();
  assert.ok(app.monitor.get("crontabErrors") >= 2);
});

Deno.test("new App() opens nothing and app.startClient() can send without consuming", async () => {
  const app = memApp("client");
  const t = app.topic("c");
  await assert.rejects(() => t.send({ value: 1 }), /not started/);
  await app.startClient();
  const m = await t.send({ value: 1 });
  assert.equal(m.offset, 0);
  assert.deepEqual(app.assignment(), []);
  await app.stop();
});

Deno.test("A Service task that throws crashes the app through app.crashed and stops it gracefully (children too)", async () => {
  class Failing extends Service {
    @Service.task
    async fail(): Promise<void> {
      await this.sleep(0.01);
      throw new Error("TASK FAILED");
    }
  }
  class Parent extends Service {
    constructor() {
      super();
      this.addDependency(new Failing());
    }
  }
  for (const svc of [new Failing(), new Parent()]) {
    const app = memApp("service-crash");
    app.service(svc);
    let shutdown = false;
    app.onBeforeShutdown.connect(() => {
      shutdown = true;
    });
    await app.start();
    const error = await app.crashed;
    assert.match(
      error.message,
      /Background task Failing\.fail crashed: TASK FAILED/,
    );
    await waitFor(() => shutdown && !app.running && !svc.running);
    await app.stop();
  }
});
