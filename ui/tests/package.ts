/**
 * The installed package: starts the desktop app as its .deb installed it (CONFIARO_INSTALLED_BIN,
 * by default /usr/bin/confiaro-desktop) in a real window under Xvfb through tauri-driver, with
 * a fresh app directory, and checks that the first-run screen renders: the setup form with its
 * password fields and one choice per network pairing (mainnet, signet, testnet4, regtest).
 * Nothing is created: the window closes on the first-run screen.
 *
 * The screenshot is test-results/package/01-first-run.png; the cold start time goes to
 * test-results/package/metrics.json. Ends with `package: N passed, N failed`.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { uiRoot } from "./paths";
import { testDir } from "./testdir";
import { Children, runOne, Session, startDriver } from "./webdriver";

const bin = process.env.CONFIARO_INSTALLED_BIN ?? "/usr/bin/confiaro-desktop";
const out = join(uiRoot, "test-results", "package");
const children = new Children(out);

async function run() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  if (!existsSync(bin)) throw new Error(`${bin} is missing: install the .deb first (scripts/test-package.sh)`);
  const appDir = testDir("package-first-run");
  const env: NodeJS.ProcessEnv = { ...process.env, CONFIARO_APP_DIR: appDir };
  const base = await startDriver(children, env);
  const launched = Date.now();
  const s = await Session.create(base, bin, out);
  try {
    await s.wait("screen-setup", 60);
    const coldStartMs = Date.now() - launched;
    for (const id of ["setup-password", "setup-password2", "setup-submit"]) await s.wait(id, 10);
    for (const network of ["mainnet", "signet", "testnet4", "regtest"]) await s.wait(`setup-network-${network}`, 10);
    // a release build has no devnet: it starts on a public test network, and regtest means
    // nodes of the user's own
    const checked = (await s.call("POST", "/execute/sync", {
      script:
        "return arguments[0].filter(function (n) {" +
        " var el = document.querySelector('[data-testid=\"setup-network-' + n + '\"]');" +
        " var input = el && (el.matches('input') ? el : el.querySelector('input'));" +
        " return input && input.checked; })[0] || null;",
      args: [["mainnet", "signet", "testnet4", "regtest"]],
    })) as string | null;
    if (checked !== "signet") throw new Error(`the first-run screen starts on ${checked}, not signet`);
    const regtest = (await s.call("POST", "/execute/sync", {
      script:
        "var el = document.querySelector('[data-testid=\"setup-network-regtest\"]');" +
        " var root = el && (el.closest('.mantine-Radio-root') || el); return root ? root.textContent : '';",
      args: [],
    })) as string;
    if (!/your own/i.test(regtest)) throw new Error(`regtest promises a built-in test stack in a release build: ${regtest}`);
    const screenshot = await s.screenshot("first-run");
    const metrics = { binary: bin, cold_start_ms: coldStartMs, screenshot };
    writeFileSync(join(out, "metrics.json"), JSON.stringify(metrics, null, 2));
    console.log(`PACKAGE-FIRST-RUN ${JSON.stringify(metrics)}`);
  } finally {
    await s.close();
    rmSync(appDir, { recursive: true, force: true });
  }
}

await runOne("package", children, run);
