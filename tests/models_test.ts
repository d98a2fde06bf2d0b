import assert from "node:assert/strict";
import { z } from "zod";
import {
  describeModel,
  type FieldDescriptor,
  type Infer,
  isRecordType,
  listModels,
  makeSerde,
  Record,
  type TypeSpec,
} from "../src/models.ts";
import { codecs } from "../src/codecs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const Transfer = Record("Transfer", {
  account: z.string(),
  amount: z.number(),
});
type Transfer = Infer<typeof Transfer>;

/** Compile-time equality check: fails `deno check` when A and B differ. */
type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends
  (<X>() => X extends B ? 1 : 2) ? true
  : false;

/**
 * Compiles only when `T` is `true`: a type-level assertion, checked by the
 * type check `deno test` runs first (a mismatch fails the whole file).
 */
function assertType<T extends true>(): void {}

Deno.test("Infer<> maps every type spec to a plain type", () => {
  assertType<Equals<Transfer, { account: string; amount: number }>>();
  assertType<Equals<Infer<"string">, string>>();
  assertType<Equals<Infer<"number">, number>>();
  assertType<Equals<Infer<"bytes">, Uint8Array>>();
  assertType<Equals<Infer<"json">, unknown>>();
  assertType<Equals<Infer<z.ZodArray<z.ZodString>>, string[]>>();
  // A typed assignment: a Transfer is a plain object.
  const t: Transfer = { account: "a1", amount: 5 };
  const plain: { account: string; amount: number } = t;
  const spec: TypeSpec = Transfer;
  assert.equal(plain.account, "a1");
  assert.ok(isRecordType(spec));
});

Deno.test("Record() parse() validates and returns the value", () => {
  const t: Transfer = Transfer.parse({ account: "a1", amount: 5 });
  assert.deepEqual(t, { account: "a1", amount: 5 });
  assert.equal(Transfer.name, "Transfer");
  assert.ok(Transfer.schema instanceof z.ZodObject);
  assert.ok(Transfer.validate({ account: "a", amount: 1 }));
  assert.ok(!Transfer.validate({ account: "a" }));
});

Deno.test("Record() parse() throws DecodeError naming the model and the issues", () => {
  assert.throws(() => Transfer.parse({ account: 1 }), (error: Error) => {
    assert.equal(error.name, "DecodeError");
    assert.match(error.message, /^Invalid Transfer: /);
    assert.match(
      error.message,
      /account: Invalid input: expected string, received number/,
    );
    assert.match(
      error.message,
      /amount: Invalid input: expected number, received undefined/,
    );
    assert.ok(error.cause instanceof z.ZodError);
    return true;
  });
  assert.throws(() => Transfer.parse("nope"), {
    message: /Invalid Transfer: \(value\)/,
  });
});

Deno.test("Record() fields describe and read each field", () => {
  const field: FieldDescriptor<string> = Transfer.fields.account;
  assert.equal(field.name, "account");
  assert.equal(field.qualifiedName, "Transfer.account");
  assert.equal(field.model, Transfer);
  assert.equal(field.get({ account: "a7", amount: 1 }), "a7");
  assert.deepEqual(Object.keys(Transfer.fields), ["account", "amount"]);
  assert.throws(() => Transfer.fields.amount.get(null), {
    name: "TypeError",
    message: /Cannot read field "Transfer.amount" of null/,
  });
});

Deno.test("Record() rejects an empty name", () => {
  assert.throws(() => Record("", {}), {
    name: "ConfigError",
    message: /Invalid model name ""/,
  });
});

Deno.test("isRecordType() tells Records from zod schemas and names", () => {
  assert.ok(isRecordType(Transfer));
  assert.ok(!isRecordType(z.string()));
  assert.ok(!isRecordType("json"));
  assert.ok(!isRecordType(null));
});

Deno.test("describeModel() lists fields with type, optionality and default", () => {
  const Point = Record("ModelsTestPoint", { x: z.number(), y: z.number() });
  Record("ModelsTestShape", {
    name: z.string(),
    tags: z.array(z.string()).optional(),
    scale: z.number().default(1),
    origin: Point.schema,
    kind: z.enum(["circle", "square"]),
    note: z.string().nullable(),
  }, { namespace: "geo", help: "A shape" });
  const d = describeModel("geo.ModelsTestShape");
  assert.equal(d.name, "geo.ModelsTestShape");
  assert.equal(d.help, "A shape");
  assert.deepEqual(d.fields, [
    { name: "name", type: "string", optional: false },
    { name: "tags", type: "array<string>", optional: true },
    { name: "scale", type: "number", optional: true, default: 1 },
    { name: "origin", type: "ModelsTestPoint", optional: false },
    { name: "kind", type: '"circle" | "square"', optional: false },
    { name: "note", type: "string | null", optional: false },
  ]);
  const names = listModels().map((m) => m.name);
  assert.ok(names.includes("Transfer"));
  assert.ok(names.includes("ModelsTestPoint"));
  assert.ok(
    names.indexOf("ModelsTestPoint") < names.indexOf("geo.ModelsTestShape"),
  );
  assert.throws(() => describeModel("Nope"), {
    name: "ConfigError",
    message: /Unknown model "Nope"; defined models: .*Transfer/,
  });
});

Deno.test('makeSerde() "string" uses raw UTF-8 and decodes to a string', () => {
  const serde = makeSerde<string>("string", undefined, "json");
  assert.deepEqual(serde.encode("héllo"), enc.encode("héllo"));
  assert.equal(serde.decode(enc.encode("héllo")), "héllo");
  assert.throws(() => serde.decode(new Uint8Array([0xff, 0xfe])), {
    name: "DecodeError",
    message: /not valid UTF-8/,
  });
  assert.throws(() => serde.encode(5 as unknown as string), {
    name: "TypeError",
    message: /Cannot encode a number as "string"/,
  });
  const asJson = makeSerde<string>("string", "json", "raw");
  assert.equal(dec.decode(asJson.encode("hi")), '"hi"');
  assert.equal(asJson.decode(enc.encode('"hi"')), "hi");
  assert.throws(() => asJson.decode(enc.encode("5")), {
    message: /Cannot decode a number as "string"/,
  });
});

Deno.test('makeSerde() "number" uses json and checks the type', () => {
  const serde = makeSerde<number>("number", undefined, "raw");
  assert.equal(dec.decode(serde.encode(2.5)), "2.5");
  assert.equal(serde.decode(enc.encode("42")), 42);
  assert.throws(() => serde.decode(enc.encode('"42"')), {
    name: "DecodeError",
    message: /Cannot decode a string as "number"/,
  });
  assert.throws(() => serde.encode(NaN), {
    message: /expected a finite number/,
  });
});

Deno.test('makeSerde() "bytes" passes bytes through', () => {
  const serde = makeSerde<Uint8Array>("bytes", undefined, "json");
  const b = new Uint8Array([1, 2, 3]);
  assert.deepEqual(serde.encode(b), b);
  assert.deepEqual(serde.decode(b), b);
  const b64 = makeSerde<Uint8Array>("bytes", "binary", "json");
  assert.equal(dec.decode(b64.encode(b)), "AQID");
  assert.deepEqual(b64.decode(enc.encode("AQID")), b);
});

Deno.test('makeSerde() "json" round-trips any JSON value', () => {
  const serde = makeSerde<unknown>("json", undefined, "raw");
  for (const v of [null, 1, "s", [1, { a: 2 }], { x: [true] }]) {
    assert.deepEqual(serde.decode(serde.encode(v)), v);
  }
  assert.throws(() => serde.decode(enc.encode("{")), { name: "DecodeError" });
});

Deno.test("makeSerde() with a Record validates on decode and encode", () => {
  const serde = makeSerde<Transfer>(Transfer, undefined, "json");
  const bytes = serde.encode({ account: "a1", amount: 5 });
  assert.equal(dec.decode(bytes), '{"account":"a1","amount":5}');
  assert.deepEqual(serde.decode(bytes), { account: "a1", amount: 5 });
  assert.throws(
    () => serde.decode(enc.encode('{"account":"a1"}')),
    (e: Error) => {
      assert.equal(e.name, "DecodeError");
      assert.match(
        e.message,
        /Invalid Transfer: amount: Invalid input: expected number/,
      );
      return true;
    },
  );
  assert.throws(
    () => serde.encode({ account: 1 } as unknown as Transfer),
    {
      name: "TypeError",
      message: /Cannot encode an object as Transfer: account/,
    },
  );
  // The app's raw key serializer cannot hold objects: Records fall back to json.
  const key = makeSerde<Transfer>(Transfer, undefined, "raw");
  assert.equal(
    dec.decode(key.encode({ account: "k", amount: 0 })),
    '{"account":"k","amount":0}',
  );
});

Deno.test("makeSerde() uses the serializer given, then the Record's own, then the fallback", () => {
  const Tagged = Record("ModelsTestTagged", { t: z.string() }, {
    serializer: "json|binary",
  });
  const own = makeSerde(Tagged, undefined, "json");
  const bytes = own.encode({ t: "x" });
  assert.equal(dec.decode(bytes), btoa('{"t":"x"}'));
  assert.deepEqual(own.decode(bytes), { t: "x" });
  const given = makeSerde(Tagged, "json", "binary|json");
  assert.equal(dec.decode(given.encode({ t: "x" })), '{"t":"x"}');
  const fallback = makeSerde(Transfer, undefined, "json|binary");
  assert.equal(
    dec.decode(fallback.encode({ account: "a", amount: 1 })),
    btoa('{"account":"a","amount":1}'),
  );
});

Deno.test("makeSerde() with a zod schema validates and applies defaults", () => {
  const schema = z.object({ n: z.number(), label: z.string().default("none") });
  const serde = makeSerde<z.output<typeof schema>>(schema, undefined, "json");
  assert.deepEqual(serde.decode(enc.encode('{"n":1}')), {
    n: 1,
    label: "none",
  });
  assert.throws(() => serde.decode(enc.encode('{"n":"1"}')), {
    name: "DecodeError",
    message:
      /Invalid zod schema: n: Invalid input: expected number, received string/,
  });
});

Deno.test("makeSerde() without a spec uses the codec and no checks", () => {
  const json = makeSerde<unknown>(undefined, undefined, "json");
  assert.deepEqual(json.decode(json.encode({ a: [1] })), { a: [1] });
  const raw = makeSerde<unknown>(undefined, undefined, "raw");
  assert.deepEqual(raw.encode("text"), enc.encode("text"));
  assert.deepEqual(raw.decode(enc.encode("text")), enc.encode("text"));
  const custom = makeSerde<unknown>(undefined, codecs.get("binary"), "raw");
  assert.equal(dec.decode(custom.encode("hi")), "aGk=");
  assert.throws(() => makeSerde(undefined, "yaml", "json"), {
    name: "ConfigError",
    message: /Unknown codec "yaml"/,
  });
});

Deno.test("makeSerde() wraps a custom codec's failure in DecodeError", () => {
  const failing = {
    dumps: (v: unknown) => enc.encode(String(v)),
    loads: (): unknown => {
      throw new RangeError("boom");
    },
  };
  const serde = makeSerde<unknown>("json", failing, "json");
  assert.throws(() => serde.decode(enc.encode("1")), (e: Error) => {
    assert.equal(e.name, "DecodeError");
    assert.match(e.message, /Cannot decode 1 bytes as "json": boom/);
    assert.ok(e.cause instanceof RangeError);
    return true;
  });
});
