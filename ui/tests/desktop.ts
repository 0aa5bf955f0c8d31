/**
 * The real end-to-end run: the Tauri app (the release build of confiaro-desktop, found by
 * `desktopBinary()` in paths.ts) in a real window
 * under Xvfb, driven through tauri-driver and WebKitWebDriver. It creates a wallet on regtest
 * (the app starts its own devnet and demo maker), gets play money, buys XMR from the demo maker
 * through the swap wizard, follows the live view to `completed` and checks the balances; then
 * sells XMR to the demo maker through the same wizard (the built-in BTC wallet, the deposit step
 * with play money when the unlocked XMR is short), follows that swap to `completed` and checks
 * that the BTC balance rose and the XMR balance fell. Screenshots go to test-results/desktop/;
 * cold start time, memory and both swaps' wall times to test-results/desktop/metrics.json.
 * Ends with `desktop: N passed, N failed`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { desktopBinary, uiRoot } from "./paths";
import { testDir } from "./testdir";
import { Children, ELEMENT, runOne, Session, sleep, startDriver } from "./webdriver";

const bin = desktopBinary();
const out = join(uiRoot, "test-results", "desktop");
const children = new Children(out);

function log(message: string) {
  console.log(`desktop: ${message}`);
}

type Memory = { rss_kib: number; peak_kib: number; processes: { name: string; rss_kib: number }[] };

/** Resident and peak memory (KiB) of a process and its descendants: the app (its own process
 *  and WebKit's) apart from the devnet it started (monerod, monero-wallet-rpc). */
function memoryOf(pid: number): { app: Memory; devnet: Memory } {
  const parent = new Map<number, number>();
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const family = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pp] of parent) {
      if (family.has(pp) && !family.has(p)) {
        family.add(p);
        grew = true;
      }
    }
  }
  const app: Memory = { rss_kib: 0, peak_kib: 0, processes: [] };
  const devnet: Memory = { rss_kib: 0, peak_kib: 0, processes: [] };
  for (const p of family) {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const name = /Name:\s+(\S+)/.exec(status)?.[1] ?? "?";
      const into = /^monero/.test(name) ? devnet : app;
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      into.rss_kib += rss;
      into.peak_kib += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      into.processes.push({ name, rss_kib: rss });
    } catch {
      /* gone */
    }
  }
  return { app, devnet };
}

function appPid(): number | null {
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0")[0];
      if (cmd === bin) return Number(p);
    } catch {
      /* gone */
    }
  }
  return null;
}

/** "1.5 XMR" or "1.5" → piconero (exact). */
function piconeroOf(text: string): bigint {
  const match = /([0-9]+)(?:\.([0-9]+))?/.exec(text.replace(/[\s,]/g, ""));
  if (!match) throw new Error(`no amount in ${JSON.stringify(text)}`);
  return BigInt(match[1]!) * 10n ** 12n + BigInt((match[2] ?? "").padEnd(12, "0").slice(0, 12) || "0");
}

/** Satoshi shown as "0.00357142 BTC" (exact). */
function satOf(text: string): bigint {
  return piconeroOf(text) / 10_000n; // 12 → 8 decimals
}

/** Whether the element is there now (no waiting). */
async function present(s: Session, testId: string): Promise<boolean> {
  return (await s.find(testId)) !== null;
}

const SELL_XMR = 500_000_000_000n; // 0.5 XMR
/** 0.5 XMR at the demo maker's bid of 140 XMR per BTC: floor(0.5e12 * 1e8 / 140e12). */
const SELL_SAT = 357_142n;

/**
 * Sells 0.5 XMR to the demo maker through the wizard and the live view; checks the balances.
 * Starts from any ready screen, after the buy.
 */
async function sellXmr(s: Session): Promise<{ wallMs: number; btcReceivedSat: bigint; xmrSpentPiconero: bigint }> {
  await s.click("nav-wallets");
  const btcBefore = satOf(await s.textOf("balance-btc-confirmed"));
  let xmrBefore = piconeroOf(await s.textOf("balance-xmr-total"));
  log(`before the sale: ${btcBefore} sat, ${xmrBefore} piconero`);
  const started = Date.now();

  await s.click("nav-sell");
  await s.wait("wizard-offer", 30);
  // the demo maker quotes its sell side beside the buy side; refresh until it is listed
  await s.wait("offer-pick", 120, undefined, async () => {
    if (await present(s, "wizard-offers-refresh")) await s.click("wizard-offers-refresh");
    await sleep(2000);
  });
  await s.screenshot("sell-wizard-offer");
  await s.click("offer-pick");
  await s.type("sell-amount", "0.5");
  await s.wait("sell-btc", 10);
  const expectedSat = satOf(await s.textOf("sell-btc"));
  if (expectedSat !== SELL_SAT) throw new Error(`0.5 XMR at 140 XMR/BTC should bring ${SELL_SAT} sat, the wizard says ${expectedSat}`);
  await s.screenshot("sell-wizard-amount");
  await s.click("wizard-next");
  await s.wait("wizard-receive", 10);
  if (!/Where should the BTC go/.test(await s.textOf("wizard-receive"))) throw new Error("the receive step does not ask where the BTC goes");
  await s.screenshot("sell-wizard-receive");
  await s.click("wizard-next"); // the built-in BTC wallet (the default)

  // the deposit step only when the unlocked XMR does not cover 0.5 XMR and the 0.01 XMR lock fee
  const deadline = Date.now() + 30_000;
  while (!(await present(s, "wizard-deposit")) && !(await present(s, "wizard-confirm"))) {
    if (Date.now() > deadline) throw new Error("after the receive step, neither the deposit nor the confirm step appeared");
    await sleep(500);
  }
  const steps = ["offer", "amount", "receive"];
  if (await present(s, "wizard-deposit")) {
    steps.push("deposit");
    await s.screenshot("sell-wizard-deposit");
    if (!/monero|XMR/i.test(await s.textOf("deposit-status"))) throw new Error(`the deposit step is not about XMR: ${await s.textOf("deposit-status")}`);
    if (!/^[0-9A-Za-z]{95}$/.test((await s.textOf("deposit-address")).trim())) throw new Error(`the deposit address is not a Monero address: ${await s.textOf("deposit-address")}`);
    // play money when the XMR bought earlier has not unlocked yet (or does not cover the sale)
    if (await present(s, "devnet-fund")) await s.click("devnet-fund");
    await s.wait("deposit-status", 900, (t) => /Funds arrived/.test(t));
    // what the wallet holds now, play money included: unlocked + not unlocked yet
    const balance = await s.wait("deposit-balance", 10);
    const attribute = async (name: string) =>
      BigInt((await s.call("POST", "/execute/sync", { script: "return arguments[0].getAttribute(arguments[1]);", args: [{ [ELEMENT]: balance }, name] })) as string);
    xmrBefore = (await attribute("data-balance")) + (await attribute("data-coming"));
    await s.screenshot("sell-wizard-funded");
    await s.click("wizard-next");
  }
  await s.wait("wizard-confirm", 10);
  const notDone = (await s.call("POST", "/execute/sync", {
    script:
      "return arguments[0].filter(function (id) {" +
      " var el = document.querySelector('[data-testid=\"wizard-step-' + id + '\"]');" +
      " return !(el && el.hasAttribute('data-completed') && el.querySelector('svg')); });",
    args: [steps],
  })) as string[];
  if (notDone.length > 0) throw new Error(`at Confirm, these steps do not show as done: ${notDone.join(", ")}`);
  if (piconeroOf(await s.textOf("confirm-xmr")) !== SELL_XMR) throw new Error(`the confirm step sells ${await s.textOf("confirm-xmr")}, not 0.5 XMR`);
  if (!/about .* XMR/.test(await s.textOf("confirm-pay-total"))) throw new Error("the confirm step shows no XMR total with the network fee");
  if (!/about .* BTC/.test(await s.textOf("confirm-get-net"))) throw new Error("the confirm step shows no BTC received after the redeem fee");
  if (!/built-in BTC wallet/.test(await s.textOf("confirm-receive"))) throw new Error("the BTC does not go to the built-in wallet");
  await s.screenshot("sell-wizard-confirm");
  await s.click("sell-submit");

  await s.wait("screen-live", 60);
  if (!/Selling XMR/i.test(await s.textOf("swap-side"))) throw new Error("the live view does not say the swap sells XMR");
  if (await s.find("swap-cancel-refund")) throw new Error("a sale shows Cancel & refund");
  await s.screenshot("sell-live-started");
  await s.wait("swap-phase", 600, (t) => /locked|executing|completed/i.test(t));
  await s.screenshot("sell-live-locked");
  await s.wait("swap-phase", 900, (t) => /completed|refunded|failed|aborted/i.test(t));
  const phase = await s.textOf("swap-phase");
  await s.screenshot("sell-live-finished");
  if (!/completed/i.test(phase)) throw new Error(`the sale ended ${phase}, not completed`);
  await s.wait("swap-txs-on-chain", 30, (t) => t.includes("Lock") && t.includes("Redeem") && !/Cancel|Punish|Early refund/.test(t));
  if (await s.find("swap-abort")) throw new Error("a finished sale still shows Abort");
  const stage = await s.textOf("swap-state");
  if (/[a-z][A-Z]|_/.test(stage)) throw new Error(`the live view shows an internal state name: ${stage}`);
  const wallMs = Date.now() - started;

  await s.click("nav-wallets");
  // the BTC the maker locked, less the redeem's fee, once the redeem confirms
  const maxRedeemFee = 20_000n;
  const btcElement = await s.wait("balance-btc-confirmed", 300, (t) => satOf(t) >= btcBefore + SELL_SAT - maxRedeemFee);
  const btcAfter = satOf(await s.text(btcElement));
  const btcReceivedSat = btcAfter - btcBefore;
  if (btcReceivedSat > SELL_SAT) throw new Error(`the BTC wallet gained ${btcReceivedSat} sat, more than the ${SELL_SAT} sat the maker locked`);
  // 0.5 XMR and the lock's Monero fee left the wallet
  const maxLockFee = 50_000_000_000n; // 0.05 XMR
  const xmrElement = await s.wait("balance-xmr-total", 120, (t) => piconeroOf(t) <= xmrBefore - SELL_XMR);
  const xmrSpentPiconero = xmrBefore - piconeroOf(await s.text(xmrElement));
  if (xmrSpentPiconero > SELL_XMR + maxLockFee) throw new Error(`the XMR wallet lost ${xmrSpentPiconero} piconero selling ${SELL_XMR}: more than a lock fee of ${maxLockFee}`);
  await s.screenshot("wallets-after-sell");
  await s.click("nav-history");
  await s.wait("history-side", 30, (t) => /Sold XMR/.test(t));
  await s.screenshot("history-after-sell");
  log(`sold ${SELL_XMR} piconero (${xmrSpentPiconero} with the fee) for ${btcReceivedSat} sat in ${wallMs} ms`);
  return { wallMs, btcReceivedSat, xmrSpentPiconero };
}

async function run() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it with cargo build -p confiaro-desktop --release --features devnet`);
  const appDir = testDir("desktop-e2e");
  const env: NodeJS.ProcessEnv = { ...process.env, CONFIARO_APP_DIR: appDir, CONFIARO_LOG: "info" };
  const base = await startDriver(children, env);

  const launched = Date.now();
  const s = await Session.create(base, bin, out);
  try {
    await s.wait("screen-setup", 60);
    const coldStartMs = Date.now() - launched;
    const pid = appPid();
    const atStart = pid ? memoryOf(pid) : null;
    log(`first screen after ${coldStartMs} ms`);
    await s.screenshot("first-run");

    await s.type("setup-password", "correct horse battery");
    await s.type("setup-password2", "correct horse battery");
    await s.click("setup-submit");
    await s.wait("screen-starting", 30).catch(() => undefined);
    await s.screenshot("starting-devnet");
    await s.wait("screen-words", 600);
    const list = await s.wait("words-list", 10);
    const items = (await s.call("POST", "/execute/sync", {
      script: "return Array.from(arguments[0].querySelectorAll('li')).map((li) => li.textContent.trim());",
      args: [{ [ELEMENT]: list }],
    })) as string[];
    const words = items.map((item) => item.replace(/^\d+\.\s*/, "")).filter((w) => /^[a-z]+$/.test(w));
    if (words.length !== 24) throw new Error(`expected 24 recovery words, saw ${words.length}`);
    await s.screenshot("recovery-words");
    await s.click("words-confirm");
    await s.click("words-done");
    await s.wait("app-shell", 300);
    const ready = Date.now();
    await s.screenshot("ready");

    // the demo maker registers at the devnet's rendezvous point; refresh until it is listed
    await s.click("nav-offers");
    await s.wait("offer-row", 120, undefined, async () => {
      const refresh = await s.find("offers-refresh");
      if (refresh) await s.click("offers-refresh");
      await sleep(2000);
    });
    await s.screenshot("offers");
    await s.click("offer-pick");
    await s.type("buy-amount", "0.01");
    await s.wait("buy-xmr", 10);
    const expectedXmr = piconeroOf(await s.textOf("buy-xmr"));
    if (expectedXmr !== 1_500_000_000_000n) throw new Error(`0.01 BTC at 150 XMR/BTC should be 1.5 XMR, the wizard says ${expectedXmr} piconero`);
    await s.screenshot("wizard-amount");
    await s.click("wizard-next");
    await s.wait("wizard-receive", 10);
    await s.click("wizard-next");
    await s.wait("wizard-deposit", 30);
    await s.screenshot("wizard-deposit");
    await s.click("devnet-fund");
    await s.wait("deposit-status", 120, (t) => /arrived/i.test(t));
    await s.click("wizard-next");
    await s.wait("wizard-confirm", 10);
    // at once (no frame waited for), every earlier step shows done with its check mark
    const steps = (await s.call("POST", "/execute/sync", {
      script:
        "return ['offer', 'amount', 'receive', 'deposit'].filter(function (id) {" +
        " var el = document.querySelector('[data-testid=\"wizard-step-' + id + '\"]');" +
        " return !(el && el.hasAttribute('data-completed') && el.querySelector('svg')); });",
      args: [],
    })) as string[];
    if (steps.length > 0) throw new Error(`at Confirm, these steps do not show as done: ${steps.join(", ")}`);
    if (!/about .* BTC/.test(await s.textOf("confirm-pay-total"))) throw new Error("the confirm step shows no total with the network fee");
    await s.screenshot("wizard-confirm");
    await s.click("buy-submit");
    await s.wait("screen-live", 60);
    await s.screenshot("live-started");
    await s.wait("swap-phase", 600, (t) => /locked/i.test(t) || /executing/i.test(t) || /completed/i.test(t));
    await s.screenshot("live-locked");
    await s.wait("swap-phase", 900, (t) => /completed|refunded|failed|aborted/i.test(t));
    const phase = await s.textOf("swap-phase");
    await s.screenshot("live-finished");
    if (!/completed/i.test(phase)) throw new Error(`the swap ended ${phase}, not completed`);
    // a finished swap: lock and redeem on chain, the rest apart; no buttons; no internal names
    await s.wait("swap-txs-on-chain", 30, (t) => t.includes("Lock") && t.includes("Redeem") && !/Cancel|Punish|Early refund/.test(t));
    if (await s.find("swap-cancel-refund")) throw new Error("a finished swap still shows Cancel & refund");
    if (await s.find("swap-abort")) throw new Error("a finished swap still shows Abort");
    const stage = await s.textOf("swap-state");
    if (/[a-z][A-Z]|_/.test(stage)) throw new Error(`the live view shows an internal state name: ${stage}`);
    const swapMs = Date.now() - ready;

    await s.click("nav-wallets");
    // the 1.5 XMR locked by the maker, less the Monero fee of sweeping it into the wallet
    const maxSweepFee = 10_000_000_000n; // 0.01 XMR
    const total = await s.wait("balance-xmr-total", 60, (t) => piconeroOf(t) > expectedXmr - maxSweepFee);
    const xmr = piconeroOf(await s.text(total));
    if (xmr > expectedXmr || expectedXmr - xmr > maxSweepFee) {
      throw new Error(`the XMR wallet holds ${xmr} piconero; expected ${expectedXmr} less a sweep fee below ${maxSweepFee}`);
    }
    const btc = piconeroOf(await s.textOf("balance-btc-confirmed")) / 10_000n; // 12 → 8 decimals: sat
    // the wizard asked the devnet for what the swap lacked (0.01 BTC plus a fee margin)
    if (btc >= 100_000n) throw new Error(`the BTC wallet still holds ${btc} sat after paying 0.01 BTC`);
    await s.screenshot("wallets-after");
    await s.click("nav-history");
    await s.wait("history-row", 30);
    await s.screenshot("history");

    // the Settings screen's connection test, against the app's own devnet and the
    // monero-wallet-rpc it found: every part works and says what it found
    await s.click("nav-settings");
    await s.click("settings-test");
    await s.wait("settings-test-result", 90);
    for (const [part, found] of [["bitcoin", /height \d+/], ["monero", /synced/], ["wallet-rpc", /monero-wallet-rpc \(v0\.18\./]] as const) {
      const text = await s.textOf(`settings-test-${part}`);
      if (!/works/.test(text) || !found.test(text)) throw new Error(`the connection test of ${part} says: ${text}`);
    }
    await s.call("POST", "/execute/sync", { script: "document.querySelector('[data-testid=\"settings-test-result\"]').scrollIntoView(); return null;", args: [] });
    await s.screenshot("settings-test");

    const after = pid ? memoryOf(pid) : null;
    const metrics: Record<string, unknown> = {
      cold_start_ms: coldStartMs,
      memory_at_first_screen: atStart,
      memory_after_swap: after,
      swap_wall_ms: swapMs,
      xmr_received_piconero: xmr.toString(),
      btc_left_sat: btc.toString(),
    };
    writeFileSync(join(out, "metrics.json"), JSON.stringify(metrics, null, 2));
    log(JSON.stringify(metrics));

    // ---- selling XMR: 0.5 XMR to the demo maker (it bids 140 XMR per BTC, for 0.0001..0.1 BTC) ----
    const sale = await sellXmr(s);
    Object.assign(metrics, {
      memory_after_sell: pid ? memoryOf(pid) : null,
      sell_swap_wall_ms: sale.wallMs,
      sell_btc_received_sat: sale.btcReceivedSat.toString(),
      sell_xmr_spent_piconero: sale.xmrSpentPiconero.toString(),
    });
    writeFileSync(join(out, "metrics.json"), JSON.stringify(metrics, null, 2));
    log(JSON.stringify(metrics));
  } finally {
    await s.close();
  }
  // closing the session closes the window: the app stops its engine and devnet
  await sleep(3000);
  rmSync(appDir, { recursive: true, force: true });
}

await runOne("desktop", children, run);
