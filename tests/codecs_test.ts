import assert from "node:assert/strict";
import { type Codec, codecs } from "../src/codecs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("codecs.get() raw passes bytes through and encodes strings as UTF-8", () => {
  const raw = codecs.get("raw");
  const bytes = new Uint8Array([0, 1, 255]);
  assert.equal(raw.dumps(bytes), bytes);
  assert.deepEqual(raw.dumps("héllo"), enc.encode("héllo"));
  assert.deepEqual(raw.loads(bytes), bytes);
  assert.throws(() => raw.dumps(5), {
    name: "TypeError",
    message:
      /Codec "raw" cannot encode a number; expected a Uint8Array or a string/,
  });
});

Deno.test("codecs.get() json round-trips values and writes bytes as a string", () => {
  const json = codecs.get("json");
  const value = { a: 1, b: ["x", null, true], c: { d: 2.5 } };
  assert.equal(
    dec.decode(json.dumps(value)),
    '{"a":1,"b":["x",null,true],"c":{"d":2.5}}',
  );
  assert.deepEqual(json.loads(json.dumps(value)), value);
  assert.equal(dec.decode(json.dumps(enc.encode("hi"))), '"hi"');
  assert.throws(() => json.loads(enc.encode("{nope")), {
    name: "DecodeError",
    message: /Codec "json" cannot decode 5 bytes/,
  });
  assert.throws(() => json.dumps(undefined), { name: "TypeError" });
});

Deno.test("codecs.get() binary is base64 of bytes or of a string's UTF-8", () => {
  const binary = codecs.get("binary");
  assert.equal(dec.decode(binary.dumps(enc.encode("hello"))), "aGVsbG8=");
  assert.equal(dec.decode(binary.dumps("hello")), "aGVsbG8=");
  assert.deepEqual(binary.loads(enc.encode("aGVsbG8=")), enc.encode("hello"));
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(binary.loads(binary.dumps(all)), all);
  assert.throws(() => binary.loads(enc.encode("!!not base64!!")), {
    name: "DecodeError",
    message: /not valid base64/,
  });
});

Deno.test('codecs.get() "binary|json" dumps left to right and loads in reverse', () => {
  const codec = codecs.get("binary|json");
  const out = codec.dumps(enc.encode("hello"));
  // binary first (base64), then json (a JSON string of that text).
  assert.equal(dec.decode(out), '"aGVsbG8="');
  assert.deepEqual(codec.loads(out), enc.encode("hello"));
});

Deno.test('codecs.get() "json|binary" base64-encodes the JSON text', () => {
  const codec = codecs.get("json | binary");
  const value = { n: 1, s: "ü" };
  const out = codec.dumps(value);
  assert.equal(
    dec.decode(out),
    btoa(String.fromCharCode(...enc.encode('{"n":1,"s":"ü"}'))),
  );
  assert.deepEqual(codec.loads(out), value);
});

Deno.test("codecs.get() names the registered codecs for an unknown name", () => {
  assert.throws(() => codecs.get("yaml"), {
    name: "ConfigError",
    message: /Unknown codec "yaml"; registered codecs: binary, json, raw/,
  });
  assert.throws(() => codecs.get("json|pickle"), {
    message: /Unknown codec "pickle"/,
  });
});

Deno.test("codecs.get() returns a codec object as is", () => {
  const mine: Codec = { dumps: () => new Uint8Array([1]), loads: () => 1 };
  assert.equal(codecs.get(mine), mine);
});

Deno.test("codecs.register() adds a codec, composable by name, and refuses duplicates", async () => {
  // In a child process: the registry is process-wide and has no unregister.
  const script = new URL("./fixtures/register_codec.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", script.pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0, "the assertions in fixtures/register_codec.ts");
});
