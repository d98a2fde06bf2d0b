/**
 * A headless Chromium driven over the DevTools protocol (a WebSocket), for
 * tests that must see what a browser sees: no driver package, only the
 * `chromium` binary (Debian's package installs it as /usr/bin/chromium).
 *
 * @module
 */

/** Where the browser is expected. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** One page of a running headless Chromium. */
export class Browser {
  readonly #child: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #profile: string;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #id = 0;
  #session = "";

  private constructor(
    child: Deno.ChildProcess,
    ws: WebSocket,
    profile: string,
  ) {
    this.#child = child;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data as string);
      const p = this.#pending.get(msg.id);
      if (p === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.error !== undefined) {
        p.reject(new Error(`${msg.error.message} (${msg.error.code})`));
      } else p.resolve(msg.result);
    };
  }

  /** Start Chromium and open a blank page of `width` x `height`. */
  static async launch(width = 1280, height = 1600): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "chromium-" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const url = await devtoolsUrl(child.stderr, 30_000);
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    });
    const b = new Browser(child, ws, profile);
    const { targetId } = await b.send("Target.createTarget", {
      url: "about:blank",
    }) as { targetId: string };
    const { sessionId } = await b.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    }) as { sessionId: string };
    b.#session = sessionId;
    await b.send("Page.enable");
    await b.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return b;
  }

  /** Send a DevTools command (to the page once attached); bounded to 30 s. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    const msg: Record<string, unknown> = { id, method, params };
    if (this.#session !== "") msg.sessionId = this.#session;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} got no answer within 30 s`));
      }, 30_000);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#ws.send(JSON.stringify(msg));
    });
  }

  /** Evaluate an expression in the page and return its value. */
  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails !== undefined) {
      throw new Error(`${expression}: ${r.exceptionDetails.text}`);
    }
    return r.result.value;
  }

  /** Navigate and wait until the document has loaded. */
  async open(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.until("document.readyState === 'complete'", 30_000);
  }

  /** Wait until `expression` is truthy in the page. */
  async until(expression: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await this.eval<boolean>(`!!(${expression})`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Timed out after ${ms} ms waiting for ${expression}`);
  }

  /** A PNG screenshot of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
    }) as { data: string };
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Close the browser and remove its profile. */
  async close(): Promise<void> {
    try {
      this.#ws.close();
    } catch {
      // Already closed.
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.#child.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

async function devtoolsUrl(
  stderr: ReadableStream<Uint8Array>,
  ms: number,
): Promise<string> {
  const reader = stderr.getReader();
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    const m = text.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m !== null) {
      // Keep draining, so that a chatty browser never blocks on a full pipe.
      void (async () => {
        try {
          while (!(await reader.read()).done);
        } catch {
          // The browser exited.
        }
      })();
      return m[1]!;
    }
  }
  throw new Error(`Chromium did not print its DevTools URL; stderr:\n${text}`);
}
