/**
 * A scripted stand-in for the Rust side: answers every command of `src/api.ts` with typed
 * data and emits the events, through the same `window.__TAURI_INTERNALS__` shape that
 * `@tauri-apps/api` v2 talks to (see node_modules/@tauri-apps/api/mocks.js). Used by the
 * vitest component tests (jsdom) and, bundled into an init script, by the screen test.
 */
import type { AppStage } from "../../src/bindings/AppStage";
import type { AppStatus } from "../../src/bindings/AppStatus";
import type { Balances } from "../../src/bindings/Balances";
import type { CommandError } from "../../src/bindings/CommandError";
import type { LogLine } from "../../src/bindings/LogLine";
import type { NetworkName } from "../../src/bindings/NetworkName";
import type { OfferView } from "../../src/bindings/OfferView";
import type { Settings } from "../../src/bindings/Settings";
import type { SwapDetail } from "../../src/bindings/SwapDetail";
import type { CommandName, Commands, EventName, Events } from "../../src/api";
import { XMR_LOCK_FEE_ALLOWANCE } from "../../src/sell";
import { ADDRESSES, DONE_SWAP, EMPTY_BALANCES, LOGS, OFFERS, SETTINGS, STUCK_SWAP } from "./fixtures";

export interface FakeConfig {
  stage?: AppStage;
  network?: NetworkName;
  password?: string;
  balances?: Balances;
  offers?: OfferView[];
  swaps?: SwapDetail[];
  logs?: LogLine[];
  /** Fail these commands with this error. */
  failing?: Partial<Record<CommandName, CommandError>>;
  /** Milliseconds before devnet_fund's coins confirm (a `balances` event). */
  fundConfirmMs?: number;
  /** Answer these commands only after this many milliseconds. */
  delays?: Partial<Record<CommandName, number>>;
  /**
   * Milliseconds between the states of a sale started by `sell_xmr`, which runs by itself to
   * `completed` (default 600); `null`: it stays where it started (tests push the states).
   */
  sellStepMs?: number | null;
}

type Handlers = { [C in CommandName]: (request: Commands[C]["request"]) => Commands[C]["answer"] };

export const WORDS = "abandon ability able about above absent absorb abstract absurd abuse access accident".split(" ");

export class FakeBackend {
  status: AppStatus;
  settings: Settings;
  balances: Balances;
  offers: OfferView[];
  swaps: SwapDetail[];
  logs: LogLine[];
  password: string;
  failing: Partial<Record<CommandName, CommandError>>;
  fundConfirmMs: number;
  delays: Partial<Record<CommandName, number>>;
  sellStepMs: number | null;
  readonly calls: { command: string; request: unknown }[] = [];
  private readonly listeners = new Map<string, number[]>();
  private nextId = 1;
  private clock = 1_780_010_000;
  /** Delivers an event to a registered callback; set by `install`. */
  deliver: (handler: number, data: unknown) => void = () => undefined;

  constructor(config: FakeConfig = {}) {
    const network = config.network ?? "regtest";
    this.status = {
      stage: config.stage ?? { stage: "needs_setup" },
      network,
      data_dir: "/home/user/.local/share/confiaro/regtest",
      peer_id: null,
      managed_devnet: network === "regtest",
      devnet_built_in: true,
    };
    this.settings = { ...SETTINGS, network };
    this.balances = config.balances ?? { ...EMPTY_BALANCES };
    this.offers = config.offers ?? OFFERS;
    this.swaps = config.swaps ?? [STUCK_SWAP, DONE_SWAP];
    this.logs = config.logs ?? [...LOGS];
    this.password = config.password ?? "correct horse battery";
    this.failing = config.failing ?? {};
    this.fundConfirmMs = config.fundConfirmMs ?? 400;
    this.delays = config.delays ?? {};
    this.sellStepMs = config.sellStepMs === undefined ? 600 : config.sellStepMs;
    if (this.status.stage.stage === "ready") this.status.peer_id = "12D3KooWTakerSelf000000000000000000000000000000";
  }

  private now(): number {
    return ++this.clock;
  }

  // ---- events ----------------------------------------------------------------------

  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const handler of [...(this.listeners.get(event) ?? [])]) {
      this.deliver(handler, { event, id: handler, payload });
    }
  }

  setStage(stage: AppStage): void {
    this.status = { ...this.status, stage, peer_id: stage.stage === "ready" ? "12D3KooWTakerSelf000000000000000000000000000000" : this.status.peer_id };
    this.emit("app-status", this.status);
  }

  setBalances(b: Balances): void {
    this.balances = b;
    this.emit("balances", b);
  }

  /** Stores a new version of a swap and emits it as a `swap` event. */
  pushSwap(patch: Partial<SwapDetail> & { swap_id: string }): SwapDetail {
    const i = this.swaps.findIndex((s) => s.swap_id === patch.swap_id);
    const base = i >= 0 ? this.swaps[i]! : { ...DONE_SWAP, ...patch };
    const next: SwapDetail = { ...base, ...patch, updated_at: Math.max(this.now(), patch.updated_at ?? 0) };
    if (i >= 0) this.swaps[i] = next;
    else this.swaps.unshift(next);
    this.emit("swap", next);
    return next;
  }

  log(level: LogLine["level"], message: string, swap_id: string | null = null): void {
    const line: LogLine = { at_ms: String(this.now() * 1000), level, swap_id, message };
    this.logs.push(line);
    this.emit("log", line);
  }

  // ---- commands --------------------------------------------------------------------

  private fail(message: string, next_step: string): never {
    throw { message, next_step } satisfies CommandError;
  }

  private find(swap_id: string): SwapDetail {
    return this.swaps.find((s) => s.swap_id === swap_id) ?? this.fail(`No swap ${swap_id}`, "Pick a swap from the History screen.");
  }

  private readonly handlers: Handlers = {
    app_status: () => this.status,
    create_wallet: (r) => {
      if (r.password.length < 8) this.fail("The password is too short", "Use at least 8 characters.");
      if (r.network === "mainnet" && !r.accept_real_money) {
        this.fail("a mainnet wallet moves real bitcoin and monero, and you have not confirmed that", 'Tick "I understand that this is real money" under the network choice, or choose a test network.');
      }
      this.password = r.password;
      this.status = { ...this.status, network: r.network };
      this.settings = { ...this.settings, network: r.network };
      setTimeout(() => this.setStage({ stage: "starting", step: "Starting the local devnet (bitcoind, monerod)", done: 0, total: 4 }), 0);
      return { words: r.restore_words === null ? WORDS : [] };
    },
    unlock: (r) => {
      if (r.password !== this.password) {
        this.fail("Wrong password", "Type the password you chose when you created this wallet. Caps Lock may be on.");
      }
      this.status = { ...this.status, stage: { stage: "starting", step: "Opening the wallet", done: 1, total: 4 } };
      setTimeout(() => this.emit("app-status", this.status), 0);
      return this.status;
    },
    get_settings: () => ({ ...this.settings, bitcoin_rpc_password: "" }),
    save_settings: (s) => {
      if (s.network !== this.settings.network) this.fail("The network cannot change", "Use another data directory for another network.");
      this.settings = { ...s, bitcoin_rpc_password: s.bitcoin_rpc_password || this.settings.bitcoin_rpc_password };
      return { ...this.settings, bitcoin_rpc_password: "" };
    },
    test_connections: (s) => {
      const schemes = s.bitcoin_source === "electrum" ? ["tcp://", "ssl://"] : ["http://", "https://"];
      if (s.bitcoin_url !== "" && !schemes.some((p) => s.bitcoin_url.startsWith(p))) {
        this.fail(`Bitcoin source URL "${s.bitcoin_url}" must start with ${schemes.join(" or ")}`, "Correct it and try again.");
      }
      const source = s.bitcoin_url || "the local devnet's node";
      const walletRpc = s.wallet_rpc_path || "/usr/bin/monero-wallet-rpc";
      const missing = walletRpc.startsWith("/nonexistent");
      return {
        bitcoin: { outcome: "ok", detail: `${s.bitcoin_source} ${source}: height 1234, on the right network, the clock in step with the chain` },
        monero: { outcome: "ok", detail: `${s.monerod_url || "the local devnet's monerod"}: height 456, on the right network and synced` },
        wallet_rpc: missing
          ? { outcome: "failed", detail: `monero-wallet-rpc was not found at ${walletRpc}: install it (Debian: apt install monero) or set its path` }
          : { outcome: "ok", detail: `${walletRpc} (v0.18.0.0-release)` },
        ok: !missing,
      };
    },
    offers: () => [...this.offers], // a fresh list per answer, as over IPC
    buy_xmr: (r) => {
      const offer = this.offers.find((o) => o.address === r.maker);
      if (!offer?.quote) return this.fail("That maker has no quote", "Refresh the offers and pick another maker.");
      const sat = BigInt(r.btc_sat);
      const limit = this.settings.confirm_above_sat;
      if (limit !== "" && sat > BigInt(limit) && !r.confirmed_above_limit) {
        this.fail("The amount is above your limit for a swap without a second confirmation", "Tick the second confirmation on the Confirm step, or change the limit in Settings.");
      }
      if (sat > BigInt(this.balances.btc_confirmed_sat)) this.fail("Not enough bitcoin", "Deposit more BTC to your built-in wallet.");
      const t = this.now();
      const swap: SwapDetail = {
        swap_id: `5a${t.toString(16)}`.padEnd(32, "0"),
        role: "bob",
        peer: offer.peer,
        btc_sat: r.btc_sat,
        xmr_piconero: ((sat * BigInt(offer.quote.piconero_per_btc)) / 100_000_000n).toString(),
        phase: "negotiating",
        state: "SetupSent",
        step: "Exchanging keys and signatures with the maker",
        waiting: { for: "peer" },
        deadline: null,
        txs: [],
        receive_address: r.receive_address,
        can_cancel_refund: false,
        can_abort: true,
        created_at: t,
        updated_at: t,
      };
      this.swaps.unshift(swap);
      this.balances = { ...this.balances, btc_confirmed_sat: (BigInt(this.balances.btc_confirmed_sat) - sat).toString() };
      setTimeout(() => {
        this.emit("swap", swap);
        this.emit("balances", this.balances);
      }, 0);
      return swap;
    },
    sell_xmr: (r) => {
      const offer = this.offers.find((o) => o.address === r.maker);
      const quote = offer?.sell_quote;
      if (!offer || !quote) return this.fail("That maker does not buy XMR", "Refresh the offers and pick a maker that buys XMR.");
      const piconero = BigInt(r.xmr_piconero);
      const limit = this.settings.confirm_above_piconero;
      if (limit !== "" && piconero > BigInt(limit) && !r.confirmed_above_limit) {
        this.fail("The amount is above your limit for a swap without a second confirmation", "Tick the second confirmation on the Confirm step, or change the limit in Settings.");
      }
      const sat = (piconero * 100_000_000n) / BigInt(quote.piconero_per_btc);
      if (sat === 0n || sat < BigInt(quote.min_sat) || sat > BigInt(quote.max_sat)) this.fail("The amount is outside the maker's limits", "Pick an amount within the limits the offer shows.");
      if (piconero + XMR_LOCK_FEE_ALLOWANCE > BigInt(this.balances.xmr_unlocked_piconero)) {
        this.fail("Not enough unlocked XMR", "Deposit XMR to your built-in wallet and wait until it unlocks (10 Monero blocks).");
      }
      const t = this.now();
      const swap: SwapDetail = {
        swap_id: `5e${t.toString(16)}`.padEnd(32, "0"),
        role: "alice",
        peer: offer.peer,
        btc_sat: sat.toString(),
        xmr_piconero: r.xmr_piconero,
        phase: "negotiating",
        state: "SetupAnswered",
        step: "Exchanging keys and signatures with the maker",
        waiting: { for: "peer" },
        deadline: null,
        txs: [],
        receive_address: r.receive_address,
        can_cancel_refund: false,
        can_abort: true,
        created_at: t,
        updated_at: t,
      };
      this.swaps.unshift(swap);
      setTimeout(() => this.emit("swap", swap), 0);
      if (this.sellStepMs !== null) this.runSale(swap, quote.cancel_timelock, this.sellStepMs);
      return swap;
    },
    swaps: () => this.swaps,
    swap: (r) => this.find(r.swap_id),
    cancel_refund: (r) => {
      const s = this.find(r.swap_id);
      if (!s.can_cancel_refund) this.fail("Cancelling is not possible yet", "Wait for the cancel timelock; the swap view shows how long.");
      return this.pushSwap({ swap_id: s.swap_id, phase: "executing", state: "BtcCancelled", step: "Cancel transaction sent; refunding your bitcoin", can_cancel_refund: false, waiting: { for: "confirmations", chain: "bitcoin", what: "cancel", have: 0, need: 1 } });
    },
    abort_swap: (r) => {
      const s = this.find(r.swap_id);
      if (!s.can_abort) this.fail("Too late to abort", "Funds are locked: use Cancel & refund once possible.");
      return this.pushSwap({ swap_id: s.swap_id, phase: "aborted", state: "Aborted", step: "Aborted before anything was locked", can_abort: false, waiting: null, deadline: null });
    },
    export_receipt: (r) => {
      const s = this.find(r.swap_id);
      return { path: `${this.status.data_dir}/receipts/${s.swap_id}.json`, json: JSON.stringify({ swap_id: s.swap_id }) };
    },
    balances: () => this.balances,
    addresses: () => ADDRESSES,
    withdraw: (r) => {
      if (r.to.trim().length < 10) this.fail("Not a valid address", "Paste the full destination address.");
      return { txid: "d00d".repeat(16) };
    },
    devnet_fund: (r) => {
      if (this.status.network !== "regtest") this.fail("Play money exists only on regtest", "Deposit real coins instead.");
      // BTC arrives pending, XMR received but locked; both confirm / unlock a little later.
      const pending: Balances = {
        ...this.balances,
        btc_pending_sat: (BigInt(this.balances.btc_pending_sat) + BigInt(r.btc_sat ?? "0")).toString(),
        xmr_total_piconero: (BigInt(this.balances.xmr_total_piconero) + BigInt(r.xmr_piconero ?? "0")).toString(),
      };
      this.balances = pending;
      setTimeout(() => {
        this.setBalances({
          btc_confirmed_sat: (BigInt(pending.btc_confirmed_sat) + BigInt(pending.btc_pending_sat)).toString(),
          btc_pending_sat: "0",
          xmr_total_piconero: pending.xmr_total_piconero,
          xmr_unlocked_piconero: (BigInt(pending.xmr_unlocked_piconero) + BigInt(r.xmr_piconero ?? "0")).toString(),
        });
      }, this.fundConfirmMs);
      return pending;
    },
    logs: () => this.logs,
    export_logs: () => ({ path: `${this.status.data_dir}/logs/confiaro-redacted.log`, redactions: 17 }),
  };

  /**
   * A sale's scripted run, one state every `stepMs`: keys, the maker's BTC lock, our XMR lock,
   * the redeem, done. The XMR leaves the wallet at its lock (plus a 0.002 XMR fee); the BTC
   * less a 1,400 sat redeem fee arrives at the end (in the built-in wallet only).
   */
  private runSale(start: SwapDetail, cancelTimelock: number, stepMs: number): void {
    const id = start.swap_id;
    const txid = (n: number) => `${id.slice(2, 6)}${n}`.padEnd(64, "a");
    const labels = ["lock", "redeem", "cancel", "refund", "punish", "early_refund"];
    const agreed = labels.map((label, i) => ({ label, txid: txid(i), on_chain: { status: "unknown" as const } }));
    const deadline = (blocks: number) => ({
      what: "the app cancels the swap",
      blocks,
      eta_seconds: blocks * 600,
      automatic: "If the maker has not claimed the XMR by then, the app cancels on its own and gets your XMR back once the maker takes its BTC back.",
    });
    const xmrFee = 2_000_000_000n;
    const script: (() => void)[] = [
      () => this.pushSwap({ swap_id: id, state: "SignaturesSent", step: "Waiting for the maker's signatures" }),
      () =>
        this.pushSwap({
          swap_id: id,
          phase: "locked",
          state: "SignaturesReceived",
          step: "The maker locked its bitcoin; waiting for it to confirm",
          waiting: { for: "confirmations", chain: "bitcoin", what: "the maker's BTC lock", have: 0, need: 1 },
          txs: agreed,
        }),
      () => {
        const paid = BigInt(start.xmr_piconero) + xmrFee;
        this.setBalances({
          ...this.balances,
          xmr_total_piconero: (BigInt(this.balances.xmr_total_piconero) - paid).toString(),
          xmr_unlocked_piconero: (BigInt(this.balances.xmr_unlocked_piconero) - paid).toString(),
        });
        this.pushSwap({ swap_id: id, state: "XmrLockPending", step: "Locking your XMR", waiting: { for: "wallet" }, can_abort: false, deadline: deadline(cancelTimelock - 1) });
      },
      () =>
        this.pushSwap({
          swap_id: id,
          state: "XmrLocked",
          step: "Your XMR is locked; waiting for the maker to send its signature",
          waiting: { for: "peer" },
          deadline: deadline(cancelTimelock - 3),
        }),
      () =>
        this.pushSwap({
          swap_id: id,
          phase: "executing",
          state: "BtcRedeemPublished",
          step: "Claiming the bitcoin",
          waiting: { for: "confirmations", chain: "bitcoin", what: "your BTC redeem", have: 0, need: 1 },
          deadline: null,
        }),
      () => {
        this.pushSwap({
          swap_id: id,
          phase: "completed",
          state: "BtcRedeemed",
          step: "Done: the bitcoin is yours",
          waiting: null,
          deadline: null,
          txs: labels.map((label, i) => ({ label, txid: txid(i), on_chain: i < 2 ? { status: "seen" as const, confirmations: i === 0 ? 3 : 1 } : { status: "not_seen" as const } })),
        });
        if (start.receive_address === null) {
          this.setBalances({ ...this.balances, btc_confirmed_sat: (BigInt(this.balances.btc_confirmed_sat) + BigInt(start.btc_sat) - 1_400n).toString() });
        }
      },
    ];
    const next = (i: number) => {
      if (i >= script.length) return;
      setTimeout(() => {
        const current = this.swaps.find((s) => s.swap_id === id);
        if (!current || current.phase === "aborted") return; // stopped by the user
        script[i]!();
        next(i + 1);
      }, stepMs);
    };
    next(0);
  }

  /** Entry point for `invoke`: plugin calls for events, everything else a command. */
  async invoke(cmd: string, args: Record<string, unknown> | undefined): Promise<unknown> {
    if (cmd === "plugin:event|listen") {
      const { event, handler } = args as { event: string; handler: number };
      const list = this.listeners.get(event) ?? [];
      list.push(handler);
      this.listeners.set(event, list);
      return handler;
    }
    if (cmd === "plugin:event|unlisten") {
      const { event, eventId } = args as { event: string; eventId: number };
      this.listeners.set(event, (this.listeners.get(event) ?? []).filter((h) => h !== eventId));
      return null;
    }
    if (cmd.startsWith("plugin:")) throw { message: `not faked: ${cmd}`, next_step: "" } satisfies CommandError;
    if (args !== undefined && Object.keys(args).some((k) => k !== "request")) {
      throw { message: `${cmd}: the only argument must be named request`, next_step: "Fix the UI." } satisfies CommandError;
    }
    this.calls.push({ command: cmd, request: args?.request });
    if (!(cmd in this.handlers)) throw { message: `unknown command ${cmd}`, next_step: "Fix the UI." } satisfies CommandError;
    const name = cmd as CommandName;
    const delay = this.delays[name];
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const failure = this.failing[name];
    if (failure) throw failure;
    const handler = this.handlers[name] as (request: unknown) => unknown;
    return handler(args?.request);
  }

  listenerCount(event: EventName): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** Installs this backend as the page's Tauri IPC (before the app loads). */
  install(win: Window & typeof globalThis = window): void {
    const callbacks = new Map<number, (data: unknown) => void>();
    const w = win as unknown as Record<string, unknown>;
    this.deliver = (id, data) => callbacks.get(id)?.(data);
    w.__TAURI_INTERNALS__ = {
      invoke: (cmd: string, args?: Record<string, unknown>) => this.invoke(cmd, args),
      transformCallback: (callback?: (data: unknown) => void, once = false) => {
        const id = this.nextId++;
        callbacks.set(id, (data) => {
          if (once) callbacks.delete(id);
          callback?.(data);
        });
        return id;
      },
      unregisterCallback: (id: number) => callbacks.delete(id),
      convertFileSrc: (path: string) => path,
      metadata: { currentWindow: { label: "main" }, currentWebview: { windowLabel: "main", label: "main" } },
    };
    w.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener: (_event: string, id: number) => callbacks.delete(id) };
    w.__fake = this;
  }
}

declare global {
  interface Window {
    __fake?: FakeBackend;
    __FAKE_CONFIG__?: FakeConfig;
  }
}
