/**
 * The one place that talks to the Rust side: every Tauri command and event, typed with the
 * generated bindings. Nothing else in the UI calls `invoke` or `listen`.
 */
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { Addresses } from "./bindings/Addresses";
import type { AppStatus } from "./bindings/AppStatus";
import type { Balances } from "./bindings/Balances";
import type { BuyXmr } from "./bindings/BuyXmr";
import type { CommandError } from "./bindings/CommandError";
import type { CreateWallet } from "./bindings/CreateWallet";
import type { DevnetFund } from "./bindings/DevnetFund";
import type { LogExport } from "./bindings/LogExport";
import type { LogLine } from "./bindings/LogLine";
import type { NewWallet } from "./bindings/NewWallet";
import type { OfferView } from "./bindings/OfferView";
import type { ReceiptExport } from "./bindings/ReceiptExport";
import type { Sent } from "./bindings/Sent";
import type { Settings } from "./bindings/Settings";
import type { SwapDetail } from "./bindings/SwapDetail";
import type { SwapRef } from "./bindings/SwapRef";
import type { Unlock } from "./bindings/Unlock";
import type { Withdraw } from "./bindings/Withdraw";

/** Every command: its request (`void`: none) and its answer (crates/app/src/lib.rs). */
export interface Commands {
  app_status: { request: void; answer: AppStatus };
  create_wallet: { request: CreateWallet; answer: NewWallet };
  unlock: { request: Unlock; answer: AppStatus };
  get_settings: { request: void; answer: Settings };
  save_settings: { request: Settings; answer: Settings };
  offers: { request: void; answer: OfferView[] };
  buy_xmr: { request: BuyXmr; answer: SwapDetail };
  swaps: { request: void; answer: SwapDetail[] };
  swap: { request: SwapRef; answer: SwapDetail };
  cancel_refund: { request: SwapRef; answer: SwapDetail };
  abort_swap: { request: SwapRef; answer: SwapDetail };
  export_receipt: { request: SwapRef; answer: ReceiptExport };
  balances: { request: void; answer: Balances };
  addresses: { request: void; answer: Addresses };
  withdraw: { request: Withdraw; answer: Sent };
  devnet_fund: { request: DevnetFund; answer: Balances };
  logs: { request: void; answer: LogLine[] };
  export_logs: { request: void; answer: LogExport };
}
export type CommandName = keyof Commands;

/** Every event and its payload. */
export interface Events {
  "app-status": AppStatus;
  swap: SwapDetail;
  log: LogLine;
  balances: Balances;
}
export type EventName = keyof Events;

function isCommandError(value: unknown): value is CommandError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as CommandError).message === "string" &&
    typeof (value as CommandError).next_step === "string"
  );
}

/** Turns whatever a failed call threw into a `CommandError` (the backend always sends one). */
export function toCommandError(error: unknown): CommandError {
  if (isCommandError(error)) return error;
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error);
  return {
    message: message || "Unknown error",
    next_step: "Try again; if it keeps failing, export the logs (Logs screen) and report the problem.",
  };
}

/** An `Error` carrying the backend's `CommandError`. */
export class ApiError extends Error {
  readonly nextStep: string;
  readonly command: CommandName;
  constructor(command: CommandName, error: CommandError) {
    super(error.message);
    this.name = "ApiError";
    this.nextStep = error.next_step;
    this.command = command;
  }
  get commandError(): CommandError {
    return { message: this.message, next_step: this.nextStep };
  }
}

async function call<C extends CommandName>(
  command: C,
  ...request: Commands[C]["request"] extends void ? [] : [Commands[C]["request"]]
): Promise<Commands[C]["answer"]> {
  try {
    const args = request.length > 0 ? { request: request[0] } : undefined;
    return await invoke<Commands[C]["answer"]>(command, args);
  } catch (error) {
    throw new ApiError(command, toCommandError(error));
  }
}

/** Converts an `ApiError` (or anything thrown) into message + next step for display. */
export function errorOf(error: unknown): CommandError {
  if (error instanceof ApiError) return error.commandError;
  return toCommandError(error);
}

export const api = {
  appStatus: () => call("app_status"),
  createWallet: (request: CreateWallet) => call("create_wallet", request),
  unlock: (request: Unlock) => call("unlock", request),
  getSettings: () => call("get_settings"),
  saveSettings: (request: Settings) => call("save_settings", request),
  offers: () => call("offers"),
  buyXmr: (request: BuyXmr) => call("buy_xmr", request),
  swaps: () => call("swaps"),
  swap: (request: SwapRef) => call("swap", request),
  cancelRefund: (request: SwapRef) => call("cancel_refund", request),
  abortSwap: (request: SwapRef) => call("abort_swap", request),
  exportReceipt: (request: SwapRef) => call("export_receipt", request),
  balances: () => call("balances"),
  addresses: () => call("addresses"),
  withdraw: (request: Withdraw) => call("withdraw", request),
  devnetFund: (request: DevnetFund) => call("devnet_fund", request),
  logs: () => call("logs"),
  exportLogs: () => call("export_logs"),
};
export type Api = typeof api;

/** Subscribes to one event; resolves to the function that unsubscribes. */
export function on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): Promise<UnlistenFn> {
  return listen<Events[E]>(event, (e) => handler(e.payload));
}

/**
 * Subscribes for the lifetime of a React effect: returns a cleanup that also works when
 * the effect ends before `listen` resolved.
 */
export function subscribe<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
  let unlisten: UnlistenFn | undefined;
  let done = false;
  on(event, handler)
    .then((fn) => {
      if (done) void fn();
      else unlisten = fn;
    })
    .catch(() => {
      /* no backend (e.g. opened in a plain browser): nothing to listen to */
    });
  return () => {
    done = true;
    if (unlisten) void unlisten();
  };
}
