/**
 * Windowed aggregation: page views counted per page in tumbling 10-second
 * windows that are kept for one minute; each closed window is printed by
 * `onWindowClose`, also when no later view arrives.
 *
 *   deno run -A examples/windowed.ts worker -l info
 *   deno run -A examples/windowed.ts send page_views '{"page":"/home"}'
 *   curl http://127.0.0.1:6066/views/home/
 *
 * @module
 */
import { App, Record } from "../mod.ts";
import { z } from "zod";

export const app = new App("windowed-views", { tableCleanupInterval: 1 });

const PageView = Record("PageView", { page: z.string() });

const views = app.topic("page_views", { valueType: PageView });

const counts = app.table("views_per_page", {
  keyType: "string",
  valueType: "number",
  default: () => 0,
  help: "Views per page in 10 s windows.",
}).tumbling(10, {
  expires: 60,
  onWindowClose: (key, value) =>
    console.log(`WINDOW CLOSED ${JSON.stringify(key)}: ${value} views`),
}).relativeToNow();

app.agent(views, async function countViews(stream) {
  for await (const view of stream.groupBy(PageView.fields.page)) {
    counts.update(view.page, (n) => n + 1);
    console.log(
      `${view.page}: ${counts.get(view.page).now()} views in this window`,
    );
  }
});

app.page(
  "/views/:page/",
  (c) => c.json({ views: counts.get(`/${c.req.param("page")}`).now() }),
);

if (import.meta.main) await app.main();
