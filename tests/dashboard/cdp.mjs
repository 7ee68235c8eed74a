// A minimal Chrome DevTools Protocol driver for the dashboard test: starts
// Debian's headless `chromium` (no browser download, no npm dependency; Node
// 22's global WebSocket and fetch), attaches to its page and offers the few
// things the test needs. The browser runs in its own process group, which
// close() ends, with its throw-away profile directory.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `probe()` returns a truthy value, and returns it. */
export async function until(what, probe, timeoutMs = 30_000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
    }
    await sleep(everyMs);
  }
}

/** One DevTools WebSocket: numbered commands, events to listeners. */
class Connection {
  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.pending = new Map();
    this.listeners = new Map();
    ws.addEventListener("message", (ev) => this.#onMessage(JSON.parse(ev.data)));
    ws.addEventListener("close", () => {
      for (const { reject } of this.pending.values()) reject(new Error("DevTools connection closed"));
      this.pending.clear();
    });
  }
  static async open(url) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
    return new Connection(ws);
  }
  #onMessage(msg) {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result);
      return;
    }
    for (const fn of this.listeners.get(msg.method) || []) fn(msg.params);
  }
  send(method, params = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
  on(method, fn) {
    if (!this.listeners.has(method)) this.listeners.set(method, []);
    this.listeners.get(method).push(fn);
  }
  close() {
    this.ws.close();
  }
}

/** A headless chromium with one page attached. */
export class Browser {
  static async launch({ executable, width = 1280, height = 1000 }) {
    const profile = await mkdtemp(join(tmpdir(), "switchboard-chromium-"));
    const args = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--no-first-run", "--no-default-browser-check", "--disable-extensions",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
      "--hide-scrollbars", "--mute-audio", "--force-color-profile=srgb",
      `--window-size=${width},${height}`, `--user-data-dir=${profile}`,
      "--remote-debugging-port=0", "about:blank",
    ];
    const child = spawn(executable, args, { detached: true, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-4000); });
    const exited = new Promise((r) => child.once("exit", r));
    const browser = new Browser(child, profile, exited);
    // Never leave a browser behind, even when this process is killed (the
    // test's caller turns SIGTERM/SIGINT into an exit).
    process.once("exit", () => {
      try { process.kill(-child.pid, "SIGKILL"); } catch (_) { /* already gone */ }
      rmSync(profile, { recursive: true, force: true });
    });
    try {
      // Chromium writes its port to DevToolsActivePort in the profile.
      const port = await until("chromium's DevToolsActivePort", async () => {
        if (child.exitCode !== null) throw new Error(`chromium exited ${child.exitCode}: ${stderr}`);
        const text = await readFile(join(profile, "DevToolsActivePort"), "utf8").catch(() => "");
        return text.split("\n")[0].trim();
      }, 30_000, 100);
      const targets = await until("a page target", async () => {
        const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
        return list.find((t) => t.type === "page");
      }, 15_000, 100);
      browser.page = await Connection.open(targets.webSocketDebuggerUrl);
      await browser.page.send("Page.enable");
      await browser.page.send("Runtime.enable");
      await browser.page.send("Emulation.setDeviceMetricsOverride",
        { width, height, deviceScaleFactor: 1, mobile: false });
    } catch (e) {
      await browser.close();
      throw e;
    }
    return browser;
  }

  constructor(child, profile, exited) {
    this.child = child;
    this.profile = profile;
    this.exited = exited;
    this.page = null;
  }

  /** Navigates and waits for the load event (bounded). */
  async goto(url) {
    const loaded = new Promise((r) => this.page.on("Page.loadEventFired", r));
    const res = await this.page.send("Page.navigate", { url });
    if (res.errorText) throw new Error(`navigating to ${url}: ${res.errorText}`);
    await Promise.race([loaded, sleep(15_000).then(() => { throw new Error(`${url} did not load`); })]);
  }

  /** Evaluates an expression in the page and returns its (JSON) value. */
  async eval(expression) {
    const res = await this.page.send("Runtime.evaluate",
      { expression, returnByValue: true, awaitPromise: true });
    if (res.exceptionDetails) {
      throw new Error(`page threw: ${res.exceptionDetails.exception?.description || res.exceptionDetails.text}`);
    }
    return res.result.value;
  }

  /** The text of the element with this data-testid, or null. */
  text(testid) {
    return this.eval(`document.querySelector('[data-testid="${testid}"]')?.textContent ?? null`);
  }

  /** A real mouse click in the middle of the element `selector` selects. */
  async click(selector) {
    const box = await this.eval(`(() => {
      const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return null;
      e.scrollIntoView({ block: "center" });
      const r = e.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (!box) throw new Error(`nothing to click at ${selector}`);
    const at = { x: box.x, y: box.y, button: "left", clickCount: 1 };
    await this.page.send("Input.dispatchMouseEvent", { type: "mouseMoved", ...at });
    await this.page.send("Input.dispatchMouseEvent", { type: "mousePressed", ...at });
    await this.page.send("Input.dispatchMouseEvent", { type: "mouseReleased", ...at });
  }

  /** Answers every alert/confirm/prompt with `accept`; records their messages. */
  answerDialogs(accept) {
    this.dialogs = [];
    this.page.on("Page.javascriptDialogOpening", (p) => {
      this.dialogs.push({ type: p.type, message: p.message });
      this.page.send("Page.handleJavaScriptDialog", { accept }).catch(() => {});
    });
  }

  /** A PNG of the whole page. */
  async screenshot() {
    const res = await this.page.send("Page.captureScreenshot",
      { format: "png", captureBeyondViewport: true });
    return Buffer.from(res.data, "base64");
  }

  async close() {
    try { this.page?.close(); } catch (_) { /* already gone */ }
    if (this.child.exitCode === null) {
      try { process.kill(-this.child.pid, "SIGTERM"); } catch (_) { /* already gone */ }
      const gone = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!gone) { try { process.kill(-this.child.pid, "SIGKILL"); } catch (_) { /* gone */ } }
    }
    await rm(this.profile, { recursive: true, force: true }).catch(() => {});
  }
}
