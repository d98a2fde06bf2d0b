import assert from "node:assert/strict";
import { encodeShortLived, Slab } from "../../src/util/slab.ts";
import { codecs, dumpsShortLived } from "../../src/codecs.ts";
import { makeSerde } from "../../src/models.ts";

const enc = new TextEncoder();

Deno.test("encodeShortLived() gives every string its own bytes across slab refills", () => {
  // Enough text to fill several 16 KiB slabs, with multi-byte characters
  // (up to 3 bytes per UTF-16 unit, 4 per surrogate pair) and long strings
  // that bypass the slab.
  const texts: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const s = i % 7 === 0
      ? `é€😀${i}`.repeat(i % 50)
      : i % 101 === 0
      ? "x".repeat(5000 + i)
      : JSON.stringify({ id: i, word: `k${i}` });
    texts.push(s);
  }
  const out = texts.map(encodeShortLived);
  for (let i = 0; i < texts.length; i++) {
    assert.deepEqual(out[i], enc.encode(texts[i]), `text ${i}`);
  }
  assert.equal(encodeShortLived("").length, 0);
});

Deno.test("Slab.encode() encodes short texts with a non-ASCII character after ASCII ones as TextEncoder does", () => {
  // Short texts take an ASCII loop that stops at the first non-ASCII unit.
  const slab = new Slab();
  const texts = [
    "12",
    "ab\u00e9",
    "x\u20acy",
    "a\ud83d\ude00",
    "\u00e9",
    "7".repeat(32),
  ];
  for (let round = 0; round < 2000; round++) {
    for (const t of texts) assert.deepEqual(slab.encode(t), enc.encode(t), t);
  }
});

Deno.test("dumpsShortLived() encodes as dumps() does for json, raw and other codecs", () => {
  const json = codecs.get("json");
  const raw = codecs.get("raw");
  const values: unknown[] = [{ a: 1, b: "é" }, [1, 2], "s", 5, null, true];
  for (const v of values) {
    assert.deepEqual(dumpsShortLived(json, v), json.dumps(v));
  }
  // A Uint8Array is written as the string it holds.
  const bytes = enc.encode('{"x":1}');
  assert.deepEqual(dumpsShortLived(json, bytes), json.dumps(bytes));
  assert.throws(() => dumpsShortLived(json, undefined), {
    name: "TypeError",
    message: /Codec "json" cannot encode undefined/,
  });
  assert.deepEqual(dumpsShortLived(raw, "héllo"), raw.dumps("héllo"));
  assert.equal(dumpsShortLived(raw, bytes), bytes);
  const binary = codecs.get("binary");
  assert.deepEqual(dumpsShortLived(binary, "hi"), binary.dumps("hi"));
});

Deno.test("makeSerde() encodeShortLived() checks the type as encode() does", () => {
  const serde = makeSerde<number>("number", undefined, "json");
  assert.deepEqual(serde.encodeShortLived(42), serde.encode(42));
  assert.throws(
    () => serde.encodeShortLived("x" as unknown as number),
    { name: "TypeError", message: /expected a finite number/ },
  );
});
