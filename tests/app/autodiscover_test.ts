import assert from "node:assert/strict";
import { autodiscover } from "../../src/app/autodiscover.ts";

const MOD = new URL("../../mod.ts", import.meta.url).href;

Deno.test("autodiscover() imports a project's modules (true, or a list relative to origin) so agents, commands and pages register", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.mkdir(`${dir}/users`);
    await Deno.mkdir(`${dir}/orders`);
    await Deno.mkdir(`${dir}/_private`);
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      `import { App } from ${JSON.stringify(MOD)};
export const app = new App("disc", { broker: "memory://", store: "memory://", autodiscover: true, origin: import.meta.url });
export const listed = new App("disc2", { broker: "memory://", store: "memory://", autodiscover: ["./orders"], origin: import.meta.url });`,
    );
    await Deno.writeTextFile(
      `${dir}/users/agents.ts`,
      `import { app } from "../app.ts";
app.agent("users", async function users(s) { for await (const _ of s); });
app.command("hello", () => {});`,
    );
    await Deno.writeTextFile(
      `${dir}/orders/views.ts`,
      `import { app, listed } from "../app.ts";
app.page("/orders", (c) => c.text("o"));
listed.page("/listed", (c) => c.text("l"));`,
    );
    await Deno.writeTextFile(
      `${dir}/users/agents_test.ts`,
      `throw new Error("tests are not imported");`,
    );
    await Deno.writeTextFile(
      `${dir}/_private/x.ts`,
      `throw new Error("private folders are not imported");`,
    );
    const { app, listed } = await import(`file://${dir}/app.ts`);
    const found = await autodiscover(app);
    assert.deepEqual(found.map((u) => u.slice(`file://${dir}/`.length)), [
      "app.ts",
      "orders/views.ts",
      "users/agents.ts",
    ]);
    assert.ok(app.agents.has("users"));
    assert.ok(app.commands.has("hello"));
    assert.deepEqual(app.pages.map((p: { path: string }) => p.path), [
      "/orders",
    ]);
    assert.equal(await autodiscover(app), found, "runs once per app");
    const listedFound = await autodiscover(listed);
    assert.deepEqual(listedFound.map((u) => u.slice(`file://${dir}/`.length)), [
      "orders/views.ts",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("autodiscover() without origin is a clear error", async () => {
  const conf = { autodiscover: true, origin: undefined } as never;
  await assert.rejects(autodiscover({ conf }), /needs "origin"/);
});
