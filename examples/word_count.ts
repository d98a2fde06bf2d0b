/**
 * Word count: a topic of posts, an agent that splits them into words keyed
 * by word, a table of counts that survives restarts, and web pages.
 *
 *   deno run -A examples/word_count.ts worker -l info
 *   curl http://127.0.0.1:6066/count/         # every count
 *   curl http://127.0.0.1:6066/count/the/     # one word
 *   open http://127.0.0.1:6066/               # the dashboard
 *
 * Runs on the embedded defaults (`local://` broker, `lmdb://` tables under
 * `./word-counts-data`). On a fresh data directory it posts a few sentences
 * itself; send more with
 * `deno run -A examples/word_count.ts send posts "the quick brown fox"`.
 *
 * @module
 */
import { App } from "../mod.ts";

export const app = new App("word-counts");

const SENTENCES = [
  "the quick brown fox jumps over the lazy dog",
  "the dog barks and the fox runs",
  "a stream of words is a stream of events",
  "tables keep the counts across restarts",
];

const posts = app.topic("posts", { valueType: "string" });

const wordCounts = app.table("word_counts", {
  keyType: "string",
  valueType: "number",
  default: () => 0,
  help: "Keep count of words (string to number).",
});

const countWords = app.agent(undefined, async function countWords(words) {
  for await (const word of words) {
    wordCounts.set(word, wordCounts.get(word) + 1);
  }
}, { valueType: "string", help: "Count each word in the word_counts table." });

app.agent(posts, async function shuffleWords(stream) {
  for await (const post of stream) {
    for (
      const word of post.toLowerCase().split(/\W+/).filter((w) => w !== "")
    ) {
      await countWords.send({ key: word, value: word });
    }
  }
}, {
  help:
    "Split posts into words, keyed by word (so one partition owns each word).",
});

app.page("/count/", (c) => c.json(Object.fromEntries(wordCounts.entries())));
// On kafka:// with several workers, a word another worker owns is forwarded there.
app.page(
  "/count/:word/",
  app.tableRoute(wordCounts, { matchInfo: "word" }, (c) => {
    const word = c.req.param("word");
    return c.json({ [word]: wordCounts.get(word) });
  }),
);

app.task(async function sender() {
  if (wordCounts.size > 0) return; // Posted on an earlier run: the table kept the counts.
  for (const value of SENTENCES) await posts.send({ value });
});

let shown = "";
app.timer(1.0, function printCounts() {
  const top = [...wordCounts.entries()].sort((a, b) =>
    b[1] - a[1] || a[0].localeCompare(b[0])
  ).slice(0, 8);
  const line = top.map(([w, n]) => `${w}=${n}`).join(" ");
  if (line !== "" && line !== shown) console.log(`WORD COUNTS: ${line}`);
  shown = line;
});

if (import.meta.main) await app.main();
