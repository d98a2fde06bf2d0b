import assert from "node:assert/strict";
import { withOverrides } from "../src/settings/settings.ts";
import { waitFor } from "../testing.ts";

Deno.test("examples/windowed.ts counts page views per window", async () => {
  const { app } = await import("../examples/windowed.ts");
  app.conf = withOverrides(app.conf, {
    broker: "memory://",
    store: "memory://",
  });
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    await app.start();
    await app.send("page_views", { value: { page: "/home" } });
    await app.send("page_views", { value: { page: "/home" } });
    await waitFor(
      () => lines.some((l) => l.includes("/home: 2 views")),
      5000,
      "two views counted",
    );
  } finally {
    await app.stop();
    console.log = log;
  }
  assert.ok(lines.includes("/home: 1 views in this window"));
});
