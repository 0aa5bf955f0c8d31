/**
 * What the tests of the real desktop app share: a display (Xvfb when there is none),
 * tauri-driver (with WebKitWebDriver behind it), child processes whose output goes to log files,
 * and a minimal W3C WebDriver client that finds elements by `data-testid`, types, clicks and
 * takes screenshots. Used by desktop.ts (the built app buying and selling XMR) and package.ts
 * (the installed package's first-run screen).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** The W3C web element identifier. */
export const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Child processes started for one test run, each logging to `<out>/<name>.log`. */
export class Children {
  readonly all: ChildProcess[] = [];

  constructor(readonly out: string) {}

  start(command: string, args: string[], env: NodeJS.ProcessEnv, name: string): ChildProcess {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const logFile = join(this.out, `${name}.log`);
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      lines.push(chunk.toString());
      writeFileSync(logFile, lines.join(""));
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("error", (e) => {
      lines.push(`cannot start ${command}: ${e.message}\n`);
      writeFileSync(logFile, lines.join(""));
    });
    this.all.push(child);
    return child;
  }

  /** Stops them all, the last started first. */
  async stopAll() {
    for (const child of [...this.all].reverse()) child.kill("SIGTERM");
    await sleep(500);
  }
}

/**
 * Runs one test of the real app: `run`, then stops `children` whatever happened; prints
 * `<name>: N passed, N failed` (with the error and where the logs are on a failure) and exits
 * with 0 or 1.
 */
export async function runOne(name: string, children: Children, run: () => Promise<void>): Promise<never> {
  let failed = 0;
  try {
    await run();
  } catch (e) {
    failed = 1;
    console.error(`${name}: FAILED: ${(e as Error).stack ?? e}`);
    console.error(`${name}: logs and screenshots in ${children.out}`);
  } finally {
    await children.stopAll();
  }
  console.log(`${name}: ${1 - failed} passed, ${failed} failed`);
  process.exit(failed);
}

/**
 * A display for the app (Xvfb on a free-looking display number when `env.DISPLAY` is unset)
 * and tauri-driver on a random port; returns the driver's base URL once it answers.
 */
export async function startDriver(children: Children, env: NodeJS.ProcessEnv): Promise<string> {
  if (!env.DISPLAY) {
    const display = `:${90 + Math.floor(Math.random() * 100)}`;
    children.start("Xvfb", [display, "-screen", "0", "1280x900x24", "-nolisten", "tcp"], env, "xvfb");
    env.DISPLAY = display;
    await sleep(1000);
  }
  const driverPort = 4444 + Math.floor(Math.random() * 500);
  children.start("tauri-driver", ["--port", String(driverPort), "--native-port", String(driverPort + 1000)], env, "tauri-driver");
  const base = `http://127.0.0.1:${driverPort}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${base}/status`);
      return base;
    } catch {
      if (i > 100) throw new Error("tauri-driver did not answer (is it installed? cargo install tauri-driver)");
      await sleep(100);
    }
  }
}

/** A WebDriver session on one app window; screenshots go to `out`, numbered in order. */
export class Session {
  private shot = 0;

  constructor(
    readonly base: string,
    readonly id: string,
    readonly out: string,
  ) {}

  /** Starts `application` (a desktop binary) in a new window. */
  static async create(base: string, application: string, out: string): Promise<Session> {
    const answer = await wd(base, "POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application } } },
    });
    return new Session(base, (answer.value?.sessionId ?? answer.sessionId) as string, out);
  }

  async call(method: string, path: string, body?: unknown): Promise<any> {
    const answer = await wd(this.base, method, `/session/${this.id}${path}`, body);
    return answer.value;
  }

  async find(testId: string): Promise<string | null> {
    const found = await this.call("POST", "/elements", { using: "css selector", value: `[data-testid="${testId}"]` });
    return found.length > 0 ? (found[0][ELEMENT] as string) : null;
  }

  /** Waits until the element is there (and `until` holds for its text), up to `seconds`. */
  async wait(testId: string, seconds: number, until?: (text: string) => boolean, poll?: () => Promise<void>): Promise<string> {
    const deadline = Date.now() + seconds * 1000;
    let last = "";
    for (;;) {
      const element = await this.find(testId);
      if (element) {
        last = await this.text(element);
        if (!until || until(last)) return element;
      }
      if (Date.now() > deadline) {
        await this.screenshot(`timeout-${testId}`);
        throw new Error(`${testId} ${element ? `still says ${JSON.stringify(last)}` : "never appeared"} after ${seconds} s`);
      }
      if (poll) await poll();
      await sleep(500);
    }
  }

  /** The element's text content (WebKitWebDriver's rendered-text answer is empty for some
   *  Mantine containers). */
  async text(element: string): Promise<string> {
    return (await this.call("POST", "/execute/sync", {
      script: "return arguments[0].textContent;",
      args: [{ [ELEMENT]: element }],
    })) as string;
  }

  async textOf(testId: string): Promise<string> {
    const element = await this.wait(testId, 30);
    return this.text(element);
  }

  /** Clicks through the DOM (Mantine hides some inputs behind styled boxes). */
  async click(testId: string) {
    const element = await this.wait(testId, 30);
    await this.call("POST", "/execute/sync", { script: "arguments[0].click();", args: [{ [ELEMENT]: element }] });
  }

  async type(testId: string, text: string) {
    const element = await this.wait(testId, 30);
    await this.call("POST", `/element/${element}/clear`, {});
    await this.call("POST", `/element/${element}/value`, { text });
  }

  /** Saves a screenshot as `<out>/<NN>-<name>.png` and returns its path. */
  async screenshot(name: string): Promise<string> {
    this.shot += 1;
    const png = (await this.call("GET", "/screenshot")) as string;
    const file = join(this.out, `${String(this.shot).padStart(2, "0")}-${name}.png`);
    writeFileSync(file, Buffer.from(png, "base64"));
    return file;
  }

  async close() {
    await wd(this.base, "DELETE", `/session/${this.id}`).catch(() => undefined);
  }
}

async function wd(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await response.json()) as any;
  if (!response.ok || answer?.value?.error) {
    throw new Error(`${method} ${path}: ${JSON.stringify(answer?.value ?? answer)}`);
  }
  return answer;
}
