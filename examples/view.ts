/**
 * A web view (the guide's `examples/view.py`), a class-based view, and a
 * view with a path parameter.
 *
 *   deno run -A examples/view.ts worker -l info
 *   curl 'http://127.0.0.1:6066/path/to/view/?foo=bar'
 *
 * @module
 */
import type { Context } from "hono";
import { App } from "../mod.ts";

export const app = new App("view-example");

app.page("/path/to/view/", (c) => {
  console.log(`FOO PARAM: ${c.req.query("foo")}`);
  return c.json({ foo: c.req.query("foo") ?? null });
});

app.page("/hello/:name", (c) => c.text(`Hello, ${c.req.param("name")}!`));

class Counter {
  #n = 0;
  get(c: Context): Response {
    return c.json({ count: this.#n });
  }
  post(c: Context): Response {
    return c.json({ count: ++this.#n });
  }
}
app.page("/counter/", new Counter());

if (import.meta.main) await app.main();
