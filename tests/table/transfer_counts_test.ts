import assert from "node:assert/strict";
import { z } from "zod";
import { App, type Infer, Record } from "../../mod.ts";

const Transfer = Record("Transfer", {
  account: z.string(),
  amount: z.number(),
});
type Transfer = Infer<typeof Transfer>;

/** Wait until `check()` holds, polling; bounded in time. */
async function until(
  check: () => boolean,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const store of ["memory://", "lmdb://"]) {
  Deno.test(`App.table() counts transfers per account through groupBy (seed transfer_counts, ${store})`, async () => {
    const datadir = await Deno.makeTempDir();
    try {
      const app = new App("transfer-counts", {
        broker: "memory://",
        store,
        datadir,
      });
      const transfers = app.topic("transfers", { valueType: Transfer });
      const counts = app.table("transfer_counts", {
        default: () => 0,
        keyType: "string",
        valueType: "number",
      });
      let processed = 0;
      app.agent(transfers, async (stream) => {
        for await (const t of stream.groupBy(Transfer.fields.account)) {
          counts.set(t.account, counts.get(t.account) + 1);
          processed++;
        }
      }, { name: "transfer" });
      await app.start();
      const expected = new Map<string, number>();
      const sent: Transfer[] = [];
      for (let i = 0; i < 300; i++) {
        const account = `acct-${(i * 7) % 13}`;
        sent.push({ account, amount: i });
        expected.set(account, (expected.get(account) ?? 0) + 1);
      }
      // Keys unrelated to the account, so groupBy really repartitions.
      for (const [i, t] of sent.entries()) {
        await transfers.send({ key: `k${i % 5}`, value: t });
      }
      await until(() => processed === sent.length, "all transfers");
      await counts.flush();
      assert.equal(counts.size, expected.size);
      for (const [account, n] of expected) {
        assert.equal(counts.get(account), n, account);
      }
      assert.deepEqual(new Map(counts.entries()), expected);
      assert.equal(counts.get("nobody"), 0);
      assert.equal(counts.has("nobody"), false);
      // The changelog, keyed by account, ends with each account's count;
      // the record cache merged the updates between commits.
      const dec = new TextDecoder();
      const last = new Map<string, number>();
      let records = 0;
      for (let p = 0; p < counts.partitionCount; p++) {
        const tp = {
          topic: "transfer-counts-transfer_counts-changelog",
          partition: p,
        };
        const end = await app.transport.highWatermark(tp);
        for (const r of await app.transport.read(tp, 0, end)) {
          records++;
          last.set(dec.decode(r.key!), JSON.parse(dec.decode(r.value!)));
        }
      }
      assert.deepEqual(last, expected);
      assert.ok(
        records < sent.length,
        `${records} changelog records for ${sent.length} updates`,
      );
      await app.stop();
    } finally {
      await Deno.remove(datadir, { recursive: true });
    }
  });
}
