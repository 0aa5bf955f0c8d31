/**
 * Walks every stage and screen of the built app (dist/) in Debian's Chromium with the Tauri
 * IPC replaced by the scripted fake backend (tests/fake), asserts what each screen shows and
 * writes a PNG per screen to test-results/screens/NN-name.png.
 *
 *   npm run build && npm run test:screens
 *
 * Exits non-zero on any failure; the last line reads `screens: N passed, M failed`.
 */
import { createServer, type Server } from "node:http";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import type { AddressInfo } from "node:net";
import { buildSync } from "esbuild";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import type { AppStage } from "../src/bindings/AppStage";
import type { SwapDetail } from "../src/bindings/SwapDetail";
import type { FakeConfig } from "./fake/backend";
import { EXTERNAL_BTC, PEER_A, PEER_B, SELL_ONLY_OFFER, SOLD_SWAP, STUCK_SWAP } from "./fake/fixtures";
import { uiDist, uiRoot } from "./paths";

const ROOT = uiRoot;
const DIST = uiDist;
const OUT = join(ROOT, "test-results", "screens");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT = 8000;

// ---- static server for dist/ ---------------------------------------------------------------

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let path = normalize(join(DIST, decodeURIComponent(url.pathname)));
    if (!path.startsWith(DIST)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (statSync(path).isDirectory()) path = join(path, "index.html");
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

// ---- the fake backend as an init script -----------------------------------------------------

const FAKE_SCRIPT = (() => {
  const out = buildSync({ entryPoints: [join(ROOT, "tests/fake/browser-entry.ts")], bundle: true, format: "iife", target: "es2022", write: false, logLevel: "silent" });
  return out.outputFiles[0]!.text;
})();

// ---- tiny assertion kit -------------------------------------------------------------------------

class Failure extends Error {}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeout = TIMEOUT): Promise<T> {
  const end = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Failure(`timed out: ${what}${last ? ` (${String(last).split("\n")[0]})` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the element is visible and (if given) its text matches; returns the text. */
async function see(page: Page | Locator, testId: string, text?: string | RegExp): Promise<string> {
  const loc = page.getByTestId(testId).first();
  return until(`[data-testid=${testId}]${text ? ` to show ${String(text)}` : ""}`, async () => {
    if (!(await loc.isVisible())) return undefined;
    const t = (await loc.innerText()).replace(/\s+/g, " ").trim();
    if (text === undefined) return t;
    // Case-insensitive for plain strings: badges are upper-cased by CSS (innerText shows that).
    return (typeof text === "string" ? t.toLowerCase().includes(text.toLowerCase()) : text.test(t)) ? t : undefined;
  });
}

async function seeText(page: Page, text: string | RegExp): Promise<void> {
  await until(`text ${String(text)}`, async () => (await page.getByText(text).first().isVisible()) || undefined);
}

async function count(page: Page, testId: string, n: number): Promise<void> {
  await until(`${n} × [data-testid=${testId}]`, async () => (await page.getByTestId(testId).count()) === n || undefined);
}

function check(cond: unknown, what: string): void {
  if (!cond) throw new Failure(what);
}

/** The engine's own names (`XmrRedeemed`, `btc_locked`, `early_refund`) never reach the screen. */
async function noInternalNames(page: Page): Promise<void> {
  const text = await page.locator("body").innerText();
  const found = /\b(?:Btc|Xmr|Enc)[A-Z]\w*|\b[a-z]+_[a-z_]+\b/.exec(text);
  check(found === null, `an internal name is shown: ${found?.[0]}`);
}

async function disabled(page: Page, testId: string): Promise<boolean> {
  return page.getByTestId(testId).first().isDisabled();
}

// ---- runner -------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
let shot = 0;

async function screen(page: Page, name: string, body: () => Promise<void>): Promise<void> {
  const file = join(OUT, `${String(++shot).padStart(2, "0")}-${name}.png`);
  try {
    await body();
    await page.waitForTimeout(250); // let transitions settle before the picture
    await page.screenshot({ path: file, fullPage: true });
    passed++;
    console.log(`ok   ${shot} ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${shot} ${name}: ${e instanceof Error ? e.message : String(e)}`);
    await page.screenshot({ path: file.replace(/\.png$/, "-FAILED.png"), fullPage: true }).catch(() => undefined);
  }
}

interface Session {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

async function open(browser: Browser, base: string, config: FakeConfig, scheme: "light" | "dark" = "light"): Promise<Session> {
  const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 860 }, reducedMotion: "reduce" });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  // The app runs offline: anything not from the local server is a bug.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith("data:")) return route.continue();
    problems.push(`external request: ${url}`);
    return route.abort();
  });
  await page.addInitScript(`window.__FAKE_CONFIG__ = ${JSON.stringify(config)};`);
  await page.addInitScript(FAKE_SCRIPT);
  await page.goto(base + "/index.html");
  return { context, page, problems };
}

const setStage = (page: Page, stage: AppStage) => page.evaluate((s) => window.__fake!.setStage(s), stage);
const pushSwap = (page: Page, patch: Partial<SwapDetail> & { swap_id: string }) => page.evaluate((p) => void window.__fake!.pushSwap(p), patch);
const READY: AppStage = { stage: "ready" };
const FUNDED = { btc_confirmed_sat: "150000000", btc_pending_sat: "0", xmr_total_piconero: "2500000000000", xmr_unlocked_piconero: "1500000000000" };

async function main() {
  check(statSync(join(DIST, "index.html")).isFile(), "dist/index.html missing: run npm run build first");
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const server = await serve();
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const sessions: Session[] = [];
  try {
    // -- 1. First run: waiting for the backend, setup, words, starting, failed ------------------
    {
      const s = await open(browser, base, { stage: { stage: "needs_setup" }, delays: { app_status: 1500 } });
      sessions.push(s);
      const { page } = s;
      await screen(page, "connecting", async () => {
        await see(page, "connecting-text", "Waiting for the app's backend");
      });
      await screen(page, "setup", async () => {
        await see(page, "screen-setup", "Welcome to Confiaro");
        check(await page.getByTestId("setup-network-regtest").isChecked(), "regtest is the default network");
        await page.getByTestId("setup-network-mainnet").check();
        await see(page, "setup-mainnet-warning", "real bitcoin");
        await page.getByTestId("setup-network-regtest").check();
        await until("mainnet warning gone", async () => !(await page.getByTestId("setup-mainnet-warning").isVisible()) || undefined);
        await page.getByTestId("setup-password").fill("Correct horse 42!");
        await see(page, "setup-strength", "Strong");
        await page.getByTestId("setup-password2").fill("Correct horse 43!");
        await page.getByTestId("setup-submit").click();
        await seeText(page, "The passwords differ");
        await page.getByTestId("setup-password2").fill("Correct horse 42!");
      });
      await screen(page, "setup-restore", async () => {
        await page.getByText("Restore from words").click();
        await page.getByTestId("setup-words").fill("abandon ability able");
        await page.getByTestId("setup-submit").click();
        await seeText(page, "Enter 12 or 24 words (you entered 3)");
        await page.getByText("Create a new wallet").click();
      });
      await screen(page, "words", async () => {
        await page.getByTestId("setup-submit").click();
        await see(page, "words-list", "12. accident");
        check(await disabled(page, "words-done"), "continue disabled until confirmed");
      });
      await screen(page, "starting", async () => {
        await page.getByTestId("words-confirm").check();
        await page.getByTestId("words-done").click();
        await see(page, "starting-step", "Starting the local devnet");
        await setStage(page, { stage: "starting", step: "Syncing the Monero wallet", done: 2, total: 4 });
        await see(page, "starting-step", "Syncing the Monero wallet");
        await see(page, "starting-count", "Step 3 of 4 (2 done)");
      });
      await screen(page, "failed", async () => {
        await setStage(page, { stage: "failed", error: "bitcoind did not answer on 127.0.0.1:18443", next_step: "Check that nothing else uses port 18443, then retry." });
        await see(page, "failed-error-message", "bitcoind did not answer");
        await see(page, "failed-error-next-step", "Next step: Check that nothing else uses port 18443");
        await see(page, "failed-retry", "Retry");
      });
      await screen(page, "failed-settings", async () => {
        await page.getByTestId("failed-settings").click();
        await until("settings form", async () => (await page.getByTestId("settings-network").inputValue()) === "regtest" || undefined);
        await page.getByTestId("settings-btc-url").fill("http://127.0.0.1:18443");
        await page.getByTestId("settings-save").click();
        await see(page, "settings-saved", "Saved");
      });
      await screen(page, "failed-retry-starting", async () => {
        await page.getByTestId("failed-password").fill("Correct horse 42!");
        await page.getByTestId("failed-retry").click();
        await see(page, "starting-step", "Opening the wallet");
      });
    }

    // -- 2. Locked: wrong password, then in; every ready screen --------------------------------------
    {
      const s = await open(browser, base, { stage: { stage: "locked" }, password: "right password", balances: { ...FUNDED, btc_confirmed_sat: "500000" } });
      sessions.push(s);
      const { page } = s;
      await screen(page, "locked-wrong-password", async () => {
        await see(page, "screen-unlock", "Unlock your wallet");
        await page.getByTestId("unlock-password").fill("wrong password");
        await page.getByTestId("unlock-password").press("Enter");
        await see(page, "unlock-error-message", "Wrong password");
        await see(page, "unlock-error-next-step", "Next step: Type the password you chose");
      });
      await screen(page, "offers", async () => {
        await page.getByTestId("unlock-password").fill("right password");
        await page.getByTestId("unlock-submit").click();
        await see(page, "starting-step", "Opening the wallet");
        await setStage(page, READY);
        await see(page, "screen-offers", "Offers");
        await see(page, "app-shell");
        await see(page, "network-badge", "regtest");
        await count(page, "offer-row", 4);
        const prices = await page.getByTestId("offer-price").allInnerTexts();
        check(prices[0] === "153.123456789012 XMR", `best price first, full precision (got ${prices[0]})`);
        await see(page, "offer-error", "unreachable");
      });
      await screen(page, "offers-filtered", async () => {
        await page.getByTestId("offers-proof").check();
        await count(page, "offer-row", 2);
        await page.getByTestId("offers-amount").fill("0.5");
        await count(page, "offer-row", 1);
        await see(page, "offers-count", "1 of 4 offers shown");
        await page.getByTestId("offers-amount").fill("0.000000001");
        await seeText(page, "At most 8 decimals");
        await page.getByTestId("offers-amount").fill("");
        await page.getByTestId("offers-proof").uncheck();
        await page.getByTestId("offers-sort").click();
        await page.getByRole("option", { name: "Minimum: largest first" }).click();
        await until("sorted by min desc", async () => (await page.getByTestId("offer-min").first().innerText()) === "0.01 BTC" || undefined);
      });
      await screen(page, "wizard-amount", async () => {
        // a limit of 0.005 BTC (Settings): the 0.01 BTC swap below needs a second yes
        await page.evaluate(() => {
          window.__fake!.settings.confirm_above_sat = "500000";
        });
        await page.getByTestId("offers-sort").click();
        await page.getByRole("option", { name: "Price: most XMR per BTC first" }).click();
        await page.getByTestId("offer-pick").first().click();
        await see(page, "screen-swap", "Buy XMR");
        await page.getByTestId("buy-amount").fill("1.5");
        await seeText(page, "Above this maker's maximum of 1 BTC");
        await page.getByTestId("buy-amount").fill("0.012345678");
        await seeText(page, "At most 8 decimals");
        await page.getByTestId("buy-amount").fill("0.01");
        await see(page, "buy-xmr", "1.53123456789 XMR");
        await see(page, "buy-shortfall", "deposit 0.005 BTC more");
      });
      await screen(page, "wizard-receive", async () => {
        await page.getByTestId("wizard-next").click();
        await see(page, "wizard-receive", "Where should the XMR go?");
        await page.getByTestId("receive-external").check();
        await page.getByTestId("wizard-next").click();
        await seeText(page, "Enter the Monero address");
        await page.getByTestId("receive-builtin").check();
      });
      await screen(page, "wizard-deposit", async () => {
        await page.getByTestId("wizard-next").click();
        await see(page, "deposit-status", "Deposit bitcoin first");
        await see(page, "wizard-step-deposit", "Deposit");
        await see(page, "deposit-address", "bcrt1qfake0deposit");
        await until("QR code rendered", async () => (await page.getByTestId("deposit-qr").evaluate((img) => (img as HTMLImageElement).naturalWidth)) > 0 || undefined);
        check(await disabled(page, "wizard-next"), "Next disabled until the deposit confirms");
        await see(page, "devnet-fund", "Get play money");
      });
      await screen(page, "wizard-funded", async () => {
        await page.getByTestId("devnet-fund").click();
        await see(page, "deposit-status", "Funds arrived");
        check(!(await disabled(page, "wizard-next")), "Next enabled once funded");
      });
      await screen(page, "wizard-confirm", async () => {
        // A window that paints no frame for a while (hidden, busy, or shot at once as the
        // desktop test does) must still show every earlier step as done, with its check
        // mark, and Confirm as the current one: nothing may wait for an animation frame.
        const stopFrames = () =>
          page.evaluate(() => {
            const w = window as unknown as { __raf?: typeof requestAnimationFrame };
            w.__raf = window.requestAnimationFrame;
            window.requestAnimationFrame = () => 0;
          });
        const resumeFrames = () =>
          page.evaluate(() => {
            const w = window as unknown as { __raf?: typeof requestAnimationFrame };
            if (w.__raf) window.requestAnimationFrame = w.__raf;
          });
        await stopFrames();
        try {
          await page.getByTestId("wizard-next").click();
          await see(page, "wizard-confirm");
          for (const id of ["offer", "amount", "receive", "deposit"]) {
            const step = page.getByTestId(`wizard-step-${id}`);
            check((await step.getAttribute("data-completed")) !== null, `${id} is marked done`);
            const mark = step.locator("svg").first();
            check(await mark.isVisible(), `${id} shows its check mark`);
            const opacity = await mark.evaluate((el) => getComputedStyle(el.parentElement!).opacity);
            check(opacity === "1", `${id}'s check mark is fully drawn (opacity ${opacity})`);
            check((await step.getAttribute("aria-current")) === null, `${id} is not the current step`);
          }
          const current = page.getByTestId("wizard-step-confirm");
          check((await current.getAttribute("data-progress")) !== null && (await current.getAttribute("aria-current")) === "step", "Confirm is the current step");
        } finally {
          await resumeFrames();
        }
        await see(page, "confirm-btc", "0.01 BTC");
        await see(page, "confirm-xmr", "1.53123456789 XMR");
        await see(page, "confirm-receive", "built-in XMR wallet");
        // the network fees and what that makes in all
        await see(page, "confirm-fee-btc", "about 0.0000153 BTC");
        await see(page, "confirm-pay-total", "about 0.0100153 BTC");
        await see(page, "confirm-fee-xmr-lock", "Paid by the maker");
        await see(page, "confirm-fee-xmr-sweep", "about 0.002 XMR");
        await see(page, "confirm-get-net", "about 1.52923456789 XMR");
        await see(page, "confirm-fee-note", "estimates");
      });
      let swapId = "";
      await screen(page, "live-negotiating", async () => {
        await see(page, "confirm-above-limit", "0.01 BTC is more than your limit of 0.005 BTC");
        check(await disabled(page, "buy-submit"), "Start disabled until the second confirmation");
        await page.getByTestId("confirm-above-limit-yes").check();
        await page.getByTestId("buy-submit").click();
        await see(page, "swap-phase", "Negotiating");
        await see(page, "swap-step", "Exchanging keys");
        swapId = (await page.getByTestId("screen-live").getAttribute("data-swap-id")) ?? "";
        check(swapId !== "", "live view names the swap");
        check(!(await disabled(page, "swap-abort")), "Abort enabled before the lock");
        check(await disabled(page, "swap-cancel-refund"), "Cancel & refund disabled while negotiating");
      });
      await screen(page, "live-locked", async () => {
        await pushSwap(page, {
          swap_id: swapId,
          phase: "locked",
          state: "BtcLockPublished",
          step: "Bitcoin locked; waiting for the maker to lock XMR",
          waiting: { for: "confirmations", chain: "monero", what: "the maker's XMR lock", have: 3, need: 10 },
          deadline: { what: "you can cancel and refund", blocks: 72, eta_seconds: 43200, automatic: "If the maker has not locked XMR by then, the app cancels and refunds your bitcoin." },
          txs: [
            { label: "lock", txid: "ab".repeat(32), on_chain: { status: "unknown" } },
            { label: "early_refund", txid: "ef".repeat(32), on_chain: { status: "unknown" } },
          ],
          can_abort: false,
        });
        await see(page, "swap-phase", "Locked");
        await see(page, "swap-waiting", "3 of 10 confirmations");
        await see(page, "swap-countdown", /In 72 Bitcoin blocks, about 1[12] h \d\d min/);
        await see(page, "swap-automatic", "cancels and refunds your bitcoin");
        await see(page, "swap-txs-agreed", "ab".repeat(32));
        await see(page, "swap-txs-agreed", "Early refund");
        await count(page, "swap-txs-on-chain", 0);
        await see(page, "swap-state", "Stage: Your BTC lock is published");
        await see(page, "swap-waiting", "the maker's XMR lock on Monero");
        await noInternalNames(page);
        check(await disabled(page, "swap-abort"), "Abort disabled once locked");
      });
      await screen(page, "live-completed", async () => {
        await pushSwap(page, { swap_id: swapId, phase: "executing", state: "BtcRedeemed", step: "Redeeming the XMR", waiting: null, deadline: null });
        await see(page, "swap-phase", "Executing");
        await see(page, "swap-state", "moving your XMR to your wallet");
        await noInternalNames(page);
        await pushSwap(page, {
          swap_id: swapId,
          phase: "completed",
          state: "XmrRedeemed",
          step: "Done: 1.53123456789 XMR is in your wallet",
          txs: [
            { label: "lock", txid: "ab".repeat(32), on_chain: { status: "seen", confirmations: 12 } },
            { label: "redeem", txid: "cd".repeat(32), on_chain: { status: "seen", confirmations: 0 } },
            { label: "cancel", txid: "c0".repeat(32), on_chain: { status: "not_seen" } },
            { label: "refund", txid: "d1".repeat(32), on_chain: { status: "not_seen" } },
            { label: "punish", txid: "e2".repeat(32), on_chain: { status: "not_seen" } },
            { label: "early_refund", txid: "ef".repeat(32), on_chain: { status: "not_seen" } },
          ],
        });
        await see(page, "swap-phase", "Completed");
        await see(page, "swap-step", "Done");
        await see(page, "swap-timeline", "Completed");
        await see(page, "swap-state", "Stage: XMR received");
        // what reached the chain, with confirmations; the four never published apart, folded
        await count(page, "swap-txs-agreed", 0);
        const onChain = page.getByTestId("swap-txs-on-chain");
        await until("two transactions on chain", async () => (await onChain.getByTestId("swap-tx").count()) === 2 || undefined);
        check((await onChain.getByTestId("swap-tx-confirmations").allInnerTexts()).join("|") === "12 confirmations|Unconfirmed when last checked", "confirmations of lock and redeem");
        const onChainText = await onChain.innerText();
        check(!onChainText.includes("c0".repeat(32)) && !/Cancel|Refund|Punish/.test(onChainText), "nothing unpublished among the published");
        await count(page, "swap-txs-unpublished", 0);
        await page.getByTestId("swap-txs-unpublished-toggle").click();
        await until("four never published", async () => (await page.getByTestId("swap-txs-unpublished").getByTestId("swap-tx").count()) === 4 || undefined);
        await see(page, "swap-txs-unpublished", "Early refund");
        await noInternalNames(page);
        await count(page, "swap-cancel-refund", 0);
        await count(page, "swap-abort", 0);
      });
      await screen(page, "history", async () => {
        await page.getByTestId("nav-history").click();
        await count(page, "history-row", 3);
        await see(page, "history-phase", "Completed");
        const row = page.locator(`[data-testid=history-row][data-swap-id="${STUCK_SWAP.swap_id}"]`);
        await see(row, "history-phase", "Locked");
        await see(row, "history-cancel-refund", "Cancel & refund");
        await row.getByTestId("history-receipt").click();
        await see(page, "history-receipt-path", `receipts/${STUCK_SWAP.swap_id}.json`);
      });
      await screen(page, "live-refund-possible", async () => {
        await page.locator(`[data-testid=history-row][data-swap-id="${STUCK_SWAP.swap_id}"]`).getByTestId("history-open").click();
        await see(page, "swap-phase", "Locked");
        await see(page, "swap-deadline", "the maker can punish");
        check(!(await disabled(page, "swap-cancel-refund")), "Cancel & refund enabled");
      });
      await screen(page, "live-refunding", async () => {
        await page.getByTestId("swap-cancel-refund").click();
        await see(page, "swap-phase", "Executing");
        await see(page, "swap-step", "refunding your bitcoin");
        await see(page, "swap-state", "Stage: Cancelled; your BTC refund follows");
        await see(page, "swap-waiting", "on Bitcoin");
        await noInternalNames(page);
        check(await disabled(page, "swap-cancel-refund"), "Cancel & refund disabled after use");
        await pushSwap(page, { swap_id: STUCK_SWAP.swap_id, phase: "refunded", step: "Refunded: your bitcoin is back (minus fees)", waiting: null, deadline: null });
        await see(page, "swap-phase", "Refunded");
        await noInternalNames(page);
        await count(page, "swap-cancel-refund", 0);
        await count(page, "swap-abort", 0);
      });
      await screen(page, "wallets", async () => {
        await page.getByTestId("nav-wallets").click();
        await see(page, "balance-btc", "0.001 BTC"); // 0.005 + 0.006 play money - 0.01 locked
        await see(page, "balance-btc-pending", "Pending: 0 BTC");
        await see(page, "balance-xmr", "2.5 XMR");
        await see(page, "balance-xmr-unlocked", "1.5 XMR");
        await see(page, "address-btc", "bcrt1q");
        await see(page, "address-xmr", "4AdUnd");
        await until("both QR codes", async () => (await page.locator("img[data-testid$=-qr]").count()) === 2 || undefined);
        await page.getByTestId("withdraw-to").fill("bcrt1qdestination000000000000000000000000");
        await see(page, "withdraw-submit", "Send everything");
        await page.getByTestId("withdraw-submit").click();
        await see(page, "withdraw-sent", "d00d");
        await page.evaluate(() => window.__fake!.setBalances({ btc_confirmed_sat: "1", btc_pending_sat: "0", xmr_total_piconero: "18446744073709551615", xmr_unlocked_piconero: "0" }));
        await see(page, "balance-btc", "0.00000001 BTC");
        await see(page, "balance-xmr", "18446744.073709551615 XMR");
      });
      await screen(page, "settings", async () => {
        await page.getByTestId("nav-settings").click();
        check((await page.getByTestId("settings-network").inputValue()) === "regtest", "network shown");
        check(await page.getByTestId("settings-network").evaluate((el) => (el as HTMLInputElement).readOnly), "network read-only");
        await page.getByTestId("settings-btc-url").fill("http://127.0.0.1:18443");
        await page.getByTestId("settings-save").click();
        await see(page, "settings-saved", "Saved");
        const saved = await page.evaluate(() => window.__fake!.settings.bitcoin_url);
        check(saved === "http://127.0.0.1:18443", "settings sent to the backend");
      });
      await screen(page, "settings-test", async () => {
        check((await page.getByTestId("settings-btc-user").count()) === 1, "bitcoind asks for its RPC user");
        await page.getByTestId("settings-btc-source").getByText("Electrum").click();
        check((await page.getByTestId("settings-btc-user").count()) === 0, "Electrum asks for no RPC user");
        await page.getByTestId("settings-btc-url").fill("http://electrum.example.org:50002");
        await page.getByTestId("settings-test").click();
        await see(page, "settings-error", "tcp:// or ssl://");
        await page.getByTestId("settings-btc-url").fill("ssl://electrum.example.org:50002");
        await page.getByTestId("settings-btc-ca").fill("/home/me/electrum-ca.pem");
        await page.getByTestId("settings-wallet-rpc").fill("/nonexistent/monero-wallet-rpc");
        await page.getByTestId("settings-test").click();
        await see(page, "settings-test-bitcoin", "height 1234");
        check((await page.getByTestId("settings-test-bitcoin").getAttribute("data-outcome")) === "ok", "the source works");
        check((await page.getByTestId("settings-test-wallet-rpc").getAttribute("data-outcome")) === "failed", "the missing program fails");
        await see(page, "settings-test-wallet-rpc", "apt install monero");
        check((await page.getByTestId("settings-error").count()) === 0, "the earlier error is gone");
        await page.getByTestId("settings-save").click();
        await see(page, "settings-saved", "Saved");
        const saved = await page.evaluate(() => window.__fake!.settings);
        check(saved.bitcoin_source === "electrum" && saved.bitcoin_ca_file === "/home/me/electrum-ca.pem", "the source kind and CA file saved");
      });
      await screen(page, "logs", async () => {
        await page.getByTestId("nav-logs").click();
        await count(page, "log-line", 4);
        await page.evaluate(() => window.__fake!.log("info", "a new block: height 211"));
        await count(page, "log-line", 5);
        await seeText(page, "a new block: height 211");
        await page.getByText("Errors", { exact: true }).click();
        await count(page, "log-line", 1);
        await page.getByTestId("logs-export").click();
        await see(page, "logs-exported", "confiaro-redacted.log with 17 values redacted");
      });
      await screen(page, "error-notification", async () => {
        await page.evaluate(() => {
          window.__fake!.failing.offers = { message: "No rendezvous point answered", next_step: "Check your internet connection or the rendezvous list in Settings." };
        });
        await page.getByTestId("nav-offers").click();
        await see(page, "error-message", "No rendezvous point answered");
        await see(page, "error-next-step", "Next step: Check your internet connection");
      });
    }

    // -- 3. Dark theme (from the system), toggle persisted ----------------------------------------
    {
      const s = await open(browser, base, { stage: READY, balances: FUNDED, swaps: [STUCK_SWAP, SOLD_SWAP] }, "dark");
      sessions.push(s);
      const { page } = s;
      const scheme = () => page.evaluate(() => document.documentElement.getAttribute("data-mantine-color-scheme"));
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await screen(page, "dark-offers", async () => {
        await count(page, "offer-row", 4);
        check((await scheme()) === "dark", "dark from the system preference");
        const rgb = (await bg()).match(/\d+/g)!.map(Number);
        check(rgb[0]! < 80 && rgb[1]! < 80 && rgb[2]! < 80, `dark background (got ${await bg()})`);
      });
      await screen(page, "dark-live", async () => {
        await page.getByTestId("nav-history").click();
        await page.getByTestId("history-open").first().click();
        await see(page, "swap-countdown", "130 Bitcoin blocks");
        check(!(await disabled(page, "swap-cancel-refund")), "Cancel & refund enabled");
      });
      await screen(page, "dark-sold", async () => {
        await page.getByTestId("nav-history").click();
        const row = page.locator(`[data-testid=history-row][data-swap-id="${SOLD_SWAP.swap_id}"]`);
        await see(row, "history-side", "Sold XMR");
        await row.getByTestId("history-open").click();
        await see(page, "swap-side", "Selling XMR");
        await see(page, "swap-state", "Stage: BTC received");
        await see(page, "swap-receive", "BTC goes to: the built-in BTC wallet");
        await count(page, "swap-cancel-refund", 0);
        await noInternalNames(page);
      });
      await screen(page, "dark-wallets", async () => {
        await page.getByTestId("nav-wallets").click();
        await see(page, "balance-btc", "1.5 BTC");
      });
      await screen(page, "light-after-toggle", async () => {
        await page.getByTestId("theme-toggle").click();
        await until("light scheme", async () => (await scheme()) === "light" || undefined);
        await page.reload();
        await see(page, "screen-offers", "Offers");
        check((await scheme()) === "light", "the choice survives a reload");
        const rgb = (await bg()).match(/\d+/g)!.map(Number);
        check(rgb[0]! > 200, `light background (got ${await bg()})`);
      });
    }

    // -- 4. Keyboard only: Tab/Enter to Offers and through the wizard -----------------------------------
    {
      const s = await open(browser, base, { stage: READY, balances: FUNDED });
      sessions.push(s);
      const { page } = s;
      const focused = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid ?? document.activeElement?.tagName ?? "");
      async function tabTo(testId: string, max = 60) {
        for (let i = 0; i < max; i++) {
          await page.keyboard.press("Tab");
          if ((await focused()) === testId) return;
        }
        throw new Failure(`Tab never reached ${testId}`);
      }
      await screen(page, "keyboard-offers", async () => {
        await see(page, "screen-offers");
        await tabTo("nav-wallets");
        await page.keyboard.press("Enter");
        await see(page, "screen-wallets");
        // back over Sell XMR and Buy XMR
        await page.keyboard.press("Shift+Tab");
        await page.keyboard.press("Shift+Tab");
        await page.keyboard.press("Shift+Tab");
        await page.keyboard.press("Shift+Tab");
        check((await focused()) === "nav-offers", `Shift+Tab back to nav-offers (at ${await focused()})`);
        await page.keyboard.press("Enter");
        await count(page, "offer-row", 4);
        await tabTo("offer-pick");
        const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
        check(outline !== "none", "focus is visible");
      });
      await screen(page, "keyboard-wizard", async () => {
        await page.keyboard.press("Enter");
        await see(page, "wizard-amount");
        check((await focused()) === "buy-amount", "the amount field has focus");
        await page.keyboard.type("0.02");
        await page.keyboard.press("Enter");
        await see(page, "wizard-receive");
        await tabTo("wizard-next");
        await page.keyboard.press("Enter");
        await see(page, "wizard-confirm");
        await see(page, "confirm-xmr", "3.06246913578 XMR");
        await tabTo("buy-submit");
        await page.keyboard.press("Enter");
        await see(page, "swap-phase", "Negotiating");
      });
      await screen(page, "keyboard-sell", async () => {
        // to Offers, the side switch by arrow key, a maker, then the sell wizard to the start
        await tabTo("nav-offers");
        await page.keyboard.press("Enter");
        await count(page, "offer-row", 4);
        const inSwitch = () => page.evaluate(() => !!document.activeElement?.closest("[data-testid=offers-side]"));
        for (let i = 0; i < 30 && !(await inSwitch()); i++) await page.keyboard.press("Tab");
        check(await inSwitch(), "Tab reaches the Buy/Sell switch");
        await page.keyboard.press("ArrowRight");
        await see(page, "offers-side-text", "you pay XMR and get BTC");
        await until("sell prices", async () => (await page.getByTestId("offer-price").first().innerText()) === "156.25 XMR" || undefined);
        await tabTo("offer-pick");
        await page.keyboard.press("Enter");
        await see(page, "wizard-amount", "This maker buys XMR");
        check((await focused()) === "sell-amount", "the XMR amount field has focus");
        await page.keyboard.type("0.5");
        await page.keyboard.press("Enter");
        await see(page, "wizard-receive", "Where should the BTC go?");
        await tabTo("wizard-next");
        await page.keyboard.press("Enter");
        // 1.5 XMR unlocked covers 0.5 XMR and the 0.01 XMR allowance: no deposit step
        await see(page, "wizard-confirm");
        await count(page, "wizard-step-deposit", 0);
        await see(page, "confirm-btc", "0.0032 BTC");
        await tabTo("sell-submit");
        await page.keyboard.press("Enter");
        await see(page, "swap-side", "Selling XMR");
      });
    }

    // -- 5. Selling XMR: the offers' sell side, every wizard step, the sale run to completed ------------
    {
      const s = await open(browser, base, {
        stage: READY,
        balances: { btc_confirmed_sat: "2000000", btc_pending_sat: "0", xmr_total_piconero: "300000000000", xmr_unlocked_piconero: "200000000000" },
        sellStepMs: 1200,
        fundConfirmMs: 1500,
      });
      sessions.push(s);
      const { page } = s;
      const rowOf = (peer: string) => page.locator(`[data-testid=offer-row][data-peer="${peer}"]`);
      await screen(page, "sell-offers", async () => {
        await see(page, "nav-swap", "Buy XMR");
        await see(page, "nav-sell", "Sell XMR");
        await count(page, "offer-row", 4);
        await page.getByTestId("offers-side-sell").click();
        await see(page, "offers-side-text", "you pay XMR and get BTC");
        await seeText(page, "Price (XMR you pay per BTC)");
        await until("best sell price first", async () => (await page.getByTestId("offer-price").allInnerTexts()).join("|") === "156.25 XMR|160 XMR" || undefined);
        await see(rowOf(PEER_A), "offer-btc-per-xmr", "1 XMR brings 0.0064 BTC");
        await see(rowOf(PEER_A), "offer-min", "0.001 BTC");
        await see(rowOf(PEER_B), "offer-error", "This maker does not buy XMR");
        check(await rowOf(PEER_B).getByTestId("offer-pick").isDisabled(), "a maker that buys no XMR cannot be picked");
        await count(page, "offers-proof", 0);
        await count(page, "offer-reserve", 0);
        await page.getByTestId("offers-sort").click();
        await page.getByRole("option", { name: "Price: least BTC per XMR first" }).click();
        await until("worst sell price first", async () => (await page.getByTestId("offer-price").first().innerText()) === "160 XMR" || undefined);
        // an XMR amount on this side: 0.2 XMR brings 0.00128 BTC from A (min 0.001 BTC), 0.00125 from D (min 0.005 BTC)
        await seeText(page, "Amount fits (XMR)");
        await page.getByTestId("offers-amount").fill("0.2");
        await count(page, "offer-row", 1);
        await see(page, "offers-count", "1 of 4 offers shown");
        await page.getByTestId("offers-amount").fill("");
        await noInternalNames(page);
      });
      await screen(page, "sell-offers-buy-side-only-seller", async () => {
        // a maker that only buys XMR reads so on the buy side
        await page.evaluate((offer) => window.__fake!.offers.push(offer), SELL_ONLY_OFFER);
        await page.getByTestId("offers-side-buy").click();
        await page.getByTestId("offers-refresh").click();
        await count(page, "offer-row", 5);
        await see(rowOf(SELL_ONLY_OFFER.peer), "offer-error", "This maker does not sell XMR");
        await page.evaluate(() => void window.__fake!.offers.pop());
        await page.getByTestId("offers-refresh").click();
        await count(page, "offer-row", 4);
      });
      await screen(page, "sell-wizard-offer", async () => {
        await page.getByTestId("nav-sell").click();
        await see(page, "screen-swap", "Sell XMR");
        check((await page.getByTestId("nav-sell").getAttribute("aria-current")) === "page", "Sell XMR is the current page");
        await see(page, "wizard-offer", "Pick the maker to sell XMR to");
        await count(page, "offer-row", 2);
        check((await page.getByTestId("offer-row").first().getAttribute("data-peer")) === PEER_A, "best sell price first");
      });
      await screen(page, "sell-wizard-amount", async () => {
        await page.getByTestId("offer-pick").first().click();
        await see(page, "wizard-amount", "This maker buys XMR at 156.25 XMR per BTC");
        await see(page, "wizard-amount", "Your unlocked XMR: 0.2 XMR");
        await page.getByTestId("sell-amount").fill("100");
        await seeText(page, "Above this maker's maximum of 0.5 BTC: sell at most 78.125001562499 XMR");
        await page.getByTestId("sell-amount").fill("0.1");
        await seeText(page, "sell at least 0.15625 XMR");
        await page.getByTestId("sell-amount").fill("0.5000000000001");
        await seeText(page, "At most 12 decimals");
        check(await disabled(page, "wizard-next"), "Next disabled on a bad amount");
        await page.getByTestId("sell-amount").fill("0.5");
        await see(page, "sell-btc", "0.0032 BTC");
        await see(page, "sell-shortfall", "deposit 0.31 XMR more");
      });
      await screen(page, "sell-wizard-receive", async () => {
        await page.getByTestId("wizard-next").click();
        await see(page, "wizard-receive", "Where should the BTC go?");
        await see(page, "wizard-receive", "The built-in BTC wallet (recommended)");
        await page.getByTestId("receive-external").check();
        await page.getByTestId("wizard-next").click();
        await seeText(page, "Enter the Bitcoin address the BTC should go to");
        await page.getByTestId("receive-address").fill(EXTERNAL_BTC);
      });
      await screen(page, "sell-wizard-deposit", async () => {
        await page.getByTestId("wizard-next").click();
        await see(page, "deposit-status", "Deposit monero first");
        await see(page, "deposit-status", "Send at least 0.31 XMR to your built-in Monero wallet");
        await see(page, "deposit-balance", "Unlocked: 0.2 XMR · not unlocked yet: 0.1 XMR");
        await see(page, "deposit-address", "4AdUnd");
        await until("QR code rendered", async () => (await page.getByTestId("deposit-qr").evaluate((img) => (img as HTMLImageElement).naturalWidth)) > 0 || undefined);
        check((await page.getByTestId("deposit-qr").getAttribute("alt")) === "QR code of your Monero deposit address", "the QR code is the Monero address's");
        check(await disabled(page, "wizard-next"), "Next disabled until the XMR unlocks");
        await see(page, "devnet-fund", "Get play money");
      });
      await screen(page, "sell-wizard-deposit-locked", async () => {
        await page.getByTestId("devnet-fund").click();
        await see(page, "deposit-balance", "not unlocked yet: 0.41 XMR");
        check(await disabled(page, "wizard-next"), "received but not unlocked: still waiting");
        await seeText(page, "Waiting for the deposit to unlock");
        await see(page, "deposit-status", "Enough XMR is in your wallet now: waiting for it to unlock");
      });
      await screen(page, "sell-wizard-funded", async () => {
        await see(page, "deposit-status", "Funds arrived");
        await see(page, "deposit-balance", "Unlocked: 0.51 XMR");
        check(!(await disabled(page, "wizard-next")), "Next enabled once unlocked");
      });
      await screen(page, "sell-wizard-confirm", async () => {
        await page.getByTestId("wizard-next").click();
        await see(page, "wizard-confirm");
        for (const id of ["offer", "amount", "receive", "deposit"]) check((await page.getByTestId(`wizard-step-${id}`).getAttribute("data-completed")) !== null, `${id} is marked done`);
        await see(page, "confirm-xmr", "0.5 XMR");
        await see(page, "confirm-fee-xmr-lock", "about 0.002 XMR");
        await see(page, "confirm-pay-total", "about 0.502 XMR");
        await see(page, "confirm-btc", "0.0032 BTC");
        await see(page, "confirm-fee-btc", "Paid by the maker");
        await see(page, "confirm-fee-btc-redeem", "about 0.000014 BTC");
        await see(page, "confirm-get-net", "about 0.003186 BTC");
        await see(page, "confirm-maker", PEER_A);
        await see(page, "confirm-receive", EXTERNAL_BTC);
        await see(page, "confirm-timelock", "cancels on its own after 60 Bitcoin blocks");
        await see(page, "confirm-fee-note", "estimates");
        await count(page, "confirm-fee-xmr-sweep", 0);
      });
      await screen(page, "sell-live-negotiating", async () => {
        await page.getByTestId("sell-submit").click();
        await see(page, "swap-phase", "Negotiating");
        await see(page, "swap-side", "Selling XMR");
        await see(page, "swap-xmr", "0.5 XMR");
        await see(page, "swap-btc", "0.0032 BTC");
        await see(page, "swap-receive", `BTC goes to: ${EXTERNAL_BTC}`);
        check((await page.getByTestId("nav-sell").getAttribute("aria-current")) === "page", "the live view of a sale belongs to Sell XMR");
        await count(page, "swap-cancel-refund", 0);
        await see(page, "swap-on-its-own", "the app cancels on its own");
        const call = await page.evaluate(() => window.__fake!.calls.find((c) => c.command === "sell_xmr")?.request);
        check(JSON.stringify(call) === JSON.stringify({ maker: `/ip4/127.0.0.1/tcp/9939/p2p/${PEER_A}`, xmr_piconero: "500000000000", receive_address: EXTERNAL_BTC, confirmed_above_limit: false }), `sell_xmr request (${JSON.stringify(call)})`);
      });
      await screen(page, "sell-live-locked", async () => {
        await see(page, "swap-phase", "Locked");
        await see(page, "swap-state", "Stage: Your XMR is locked; waiting for the maker's signature");
        await see(page, "swap-automatic", "cancels on its own");
        check(await disabled(page, "swap-abort"), "Abort disabled once our XMR is locked");
        await count(page, "swap-cancel-refund", 0);
        await noInternalNames(page);
      });
      await screen(page, "sell-live-completed", async () => {
        await see(page, "swap-phase", "Completed");
        await see(page, "swap-state", "Stage: BTC received");
        await see(page, "swap-timeline", "Completed");
        const onChain = page.getByTestId("swap-txs-on-chain");
        await until("lock and redeem on chain", async () => (await onChain.getByTestId("swap-tx").count()) === 2 || undefined);
        await count(page, "swap-on-its-own", 0);
        await count(page, "swap-abort", 0);
        await noInternalNames(page);
      });
      await screen(page, "sell-history", async () => {
        await page.getByTestId("nav-history").click();
        await count(page, "history-row", 3);
        await see(page, "history-side", "Sold XMR");
        await see(page, "history-paid", "0.5 XMR");
        await see(page, "history-received", "0.0032 BTC");
        const sides = await page.getByTestId("history-side").allInnerTexts();
        check(sides.join("|") === "Sold XMR|Bought XMR|Bought XMR", `sides newest first (${sides.join("|")})`);
        await count(page, "history-cancel-refund", 1); // the stuck buy only
      });
      await screen(page, "sell-wallets", async () => {
        await page.getByTestId("nav-wallets").click();
        // 0.51 unlocked - 0.5 sold - 0.002 fee; the BTC went to the external address
        await see(page, "balance-xmr-unlocked", "0.008 XMR");
        await see(page, "balance-btc-confirmed", "0.02 BTC");
      });
    }

    for (const s of sessions) {
      for (const p of s.problems) {
        failed++;
        console.log(`FAIL ${p}`);
      }
    }
  } finally {
    await Promise.all(sessions.map((s) => s.context.close().catch(() => undefined)));
    await browser.close();
    server.close();
  }
}

main()
  .catch((e) => {
    failed++;
    console.log(`FAIL ${e instanceof Error ? e.stack : String(e)}`);
  })
  .finally(() => {
    console.log(`screens: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
  });
