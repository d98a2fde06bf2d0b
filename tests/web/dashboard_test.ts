import assert from "node:assert/strict";
import { Browser, hasChromium } from "../_browser.ts";
import { denoRun, Proc, run } from "../cli/_helpers.ts";

const CI = Deno.env.get("CI") === "true";

Deno.test({
  name:
    "Dashboard in headless Chromium: numbers and charts change without a reload; the layout holds at phone width",
  // CI installs Chromium (.ci/run): there a missing browser is a failure.
  ignore: !CI && !hasChromium(),
  async fn() {
    assert.ok(hasChromium(), "Chromium is installed (/usr/bin/chromium)");
    const dir = await Deno.makeTempDir();
    const worker = new Proc(
      denoRun(
        "examples/word_count.ts",
        "-D",
        dir,
        "worker",
        "-l",
        "info",
        "-p",
        "0",
      ),
    );
    let browser: Browser | undefined;
    try {
      await worker.waitFor(/Worker ready/, 60_000);
      const [, url] = await worker.waitFor(/│ web\s+│ (http:\/\/[^\s│]+)/);
      await worker.waitFor(/WORD COUNTS: the=\d+/);
      browser = await Browser.launch(1280, 1600);
      await browser.open(`${url}/`);
      // A mark on the window: gone if the page reloaded.
      await browser.eval("window.__notReloaded = true");
      const card =
        `document.querySelector('[data-card="Messages in"]').textContent`;
      const before = await browser.eval<string>(card);
      const shot1 = await browser.screenshot();
      await Deno.writeFile(`${dir}/dashboard-1.png`, shot1);

      for (const text of ["the fox again", "the dog again", "a fox"]) {
        const sent = await run(
          denoRun("examples/word_count.ts", "-D", dir, "send", "posts", text),
        );
        assert.equal(sent.code, 0, sent.stderr);
      }
      // The script swaps the live part in: the number changes, no reload.
      await browser.until(`${card} !== ${JSON.stringify(before)}`, 30_000);
      await browser.until(
        "document.querySelectorAll('section.chart polyline').length >= 1",
        30_000,
      );
      assert.equal(await browser.eval<boolean>("window.__notReloaded"), true);
      assert.ok(
        Number(await browser.eval<string>("document.body.dataset.updates")) >=
          1,
      );
      const after = await browser.eval<string>(card);
      assert.ok(
        Number(after.replace(/,/g, "")) > Number(before.replace(/,/g, "")),
        `${before} -> ${after}`,
      );
      const shot2 = await browser.screenshot();
      await Deno.writeFile(`${dir}/dashboard-2.png`, shot2);
      for (const shot of [shot1, shot2]) {
        assert.deepEqual([...shot.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
      }
      assert.notDeepEqual(shot1, shot2, "the two screenshots differ");
      // Page links: a page without parameters is a link.
      assert.equal(
        await browser.eval<string>(
          `document.querySelector('a[href="/count/"]')?.textContent ?? ""`,
        ),
        "/count/",
      );

      // Phone width: the page does not scroll sideways (wide tables scroll inside).
      await browser.send("Emulation.setDeviceMetricsOverride", {
        width: 390,
        height: 844,
        deviceScaleFactor: 1,
        mobile: true,
      });
      await browser.until("window.innerWidth === 390", 10_000);
      const width = await browser.eval<number>(
        "document.documentElement.scrollWidth",
      );
      assert.ok(width <= 390, `page is ${width}px wide at 390px`);
      await Deno.writeFile(
        `${dir}/dashboard-phone.png`,
        await browser.screenshot(),
      );
    } finally {
      await browser?.close();
      worker.kill("SIGTERM");
      await worker.exit(30_000);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
