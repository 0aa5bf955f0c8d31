/**
 * The two sides of a swap as the taker sees them: buying XMR (paying BTC; the engine's role
 * Bob) and selling XMR (paying XMR; role Alice). Everything the screens do differently per
 * side comes from one `SideSpec` (`BUY` in buy.ts, `SELL` in sell.ts); the screens themselves
 * are shared.
 */
import type { Balances } from "./bindings/Balances";
import type { DevnetFund } from "./bindings/DevnetFund";
import type { NetworkName } from "./bindings/NetworkName";
import type { OfferView } from "./bindings/OfferView";
import type { QuoteView } from "./bindings/QuoteView";
import type { RoleName } from "./bindings/RoleName";
import type { SwapDetail } from "./bindings/SwapDetail";
import type { FeeAssumptions } from "./fees";
import { btcText, parseBtc, parseXmr, xmrText, type ParseResult } from "./amounts";
import { BUY } from "./buy";
import { SELL } from "./sell";

export type Side = "buy" | "sell";
export type Asset = "btc" | "xmr";

/** Per asset: how to show it and the test ids of its network fees on the confirm step. */
export const ASSETS: Record<
  Asset,
  { code: string; chain: string; text: (units: string | bigint) => string; parse: (input: string) => ParseResult; lockFeeTestId: string; claimFeeTestId: string; uri: string }
> = {
  btc: { code: "BTC", chain: "Bitcoin", text: btcText, parse: parseBtc, lockFeeTestId: "confirm-fee-btc", claimFeeTestId: "confirm-fee-btc-redeem", uri: "bitcoin:" },
  xmr: { code: "XMR", chain: "Monero", text: xmrText, parse: parseXmr, lockFeeTestId: "confirm-fee-xmr-lock", claimFeeTestId: "confirm-fee-xmr-sweep", uri: "monero:" },
};

/** An amount typed on the amount step, checked against a quote and the balance. */
export type AmountCheck =
  | {
      ok: true;
      /** BTC swapped. */
      sat: bigint;
      /** XMR swapped. */
      piconero: bigint;
      /** What is still to deposit, in the paid asset's units (0: the balance covers it). */
      shortfall: bigint;
    }
  | { ok: false; error: string };

/** What a swap costs and brings in all, by the fee estimates, in the paid and got assets' units. */
export interface SwapEstimate {
  assumptions: FeeAssumptions;
  /** The user's lock's network fee, paid on top of the amount (paid asset). */
  lockFee: bigint;
  /** The amount plus that fee (paid asset). */
  payTotal: bigint;
  /** The network fee of moving the maker's locked coins to the user, taken from them (got asset). */
  claimFee: bigint;
  /** What the maker locks less that fee (got asset). */
  getNet: bigint;
  /** What the estimates assume, in a sentence or two. */
  note: string;
}

export interface SideSpec {
  side: Side;
  /** The engine's role of the taker on this side. */
  role: RoleName;
  title: string;
  pays: Asset;
  gets: Asset;
  /** The offer's quote for this side. */
  quote: (offer: OfferView) => QuoteView | null;
  /** An offer without this side (but with the other). */
  missing: string;
  /** The Offers screen's pick button. */
  pickLabel: string;
  /** The price column's heading and the best-price-first sort's label. */
  priceHeader: string;
  /** Which direction of `piconero_per_btc` is the better price for the user. */
  bestPrice: "asc" | "desc";
  bestPriceLabel: string;
  worstPriceLabel: string;
  /** The amount step. */
  amountLabel: string;
  amountPlaceholder: string;
  quoteText: (quote: QuoteView) => string;
  check: (input: string, quote: QuoteView, balance: bigint) => AmountCheck;
  /** The balance that must cover the swap, and what is on its way to it, in the paid asset's units. */
  balance: (b: Balances) => bigint;
  coming: (b: Balances) => bigint;
  balanceText: (b: Balances | null) => string;
  shortfallText: (check: AmountCheck & { ok: true }, balance: bigint) => string;
  /** The receive step. */
  receive: { question: string; builtin: string; external: string; input: string; missing: string; /** "built-in BTC wallet" (after "the"). */ builtinName: string };
  /** The deposit step. */
  deposit: { title: string; text: (shortfall: bigint, coming: bigint) => string; covered: (balance: bigint) => string; notCovered: (balance: bigint) => string; wait: string };
  /** Regtest play money for a shortfall. */
  playMoney: (shortfall: bigint) => DevnetFund;
  estimate: (network: NetworkName, check: AmountCheck & { ok: true }) => SwapEstimate;
  /** The confirm step's words on refunds and timelocks. */
  timelockText: (quote: QuoteView) => string;
}

export const SIDES: Record<Side, SideSpec> = { buy: BUY, sell: SELL };

/** A swap's amount of `asset`: what we pay or get, by side. */
export function swapAmount(swap: Pick<SwapDetail, "btc_sat" | "xmr_piconero">, asset: Asset): string {
  return asset === "btc" ? swap.btc_sat : swap.xmr_piconero;
}

/** The side a swap of `role` is on. */
export function sideOfRole(role: RoleName): Side {
  return role === "alice" ? "sell" : "buy";
}
