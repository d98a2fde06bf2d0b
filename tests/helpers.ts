import { App, type AppOptions } from "../mod.ts";

/** An app on a private in-memory broker and store. */
export function memApp(id: string, extra: AppOptions = {}): App {
  return new App(id, { broker: "memory://", store: "memory://", ...extra });
}

/** Wait until `cond()` is true, polling every 5 ms, failing after `ms`. */
export async function waitFor(
  cond: () => boolean,
  ms = 3000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${ms}ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
