/** Selling XMR: the user pays XMR from the built-in XMR wallet and gets BTC (the engine's role Alice). */
import type { QuoteView } from "./bindings/QuoteView";
import type { AmountCheck, SideSpec } from "./side";
import { PICONERO_PER_XMR, SAT_PER_BTC, btcForXmr, btcText, parseXmr, units, xmrText } from "./amounts";
import { estimateSell } from "./fees";

/**
 * Unlocked XMR the engine wants beyond the amount sold, for the XMR lock's network fee
 * (0.01 XMR); it must not be promised elsewhere either.
 */
export const XMR_LOCK_FEE_ALLOWANCE = 10_000_000_000n;

/**
 * The XMR amounts that fit a sell quote's BTC limits: the smallest amount that brings
 * `min_sat` and the largest that brings at most `max_sat` (sat = piconero * 1e8 / rate, floored).
 */
export function sellLimits(quote: QuoteView): { minPiconero: bigint; maxPiconero: bigint } {
  const rate = units(quote.piconero_per_btc);
  const min = units(quote.min_sat);
  const max = units(quote.max_sat);
  return {
    minPiconero: (min * rate + SAT_PER_BTC - 1n) / SAT_PER_BTC,
    maxPiconero: ((max + 1n) * rate - 1n) / SAT_PER_BTC,
  };
}

/** What selling 1 XMR brings at the quote, in sat. */
export function satPerXmr(quote: QuoteView): bigint {
  return btcForXmr(PICONERO_PER_XMR, quote.piconero_per_btc);
}

/**
 * Validates the XMR amount of a sale against the quote's BTC limits and computes the BTC
 * received exactly as the protocol does; the shortfall counts the lock fee allowance.
 */
export function checkSellAmount(input: string, quote: QuoteView, unlockedPiconero: bigint): AmountCheck {
  const parsed = parseXmr(input);
  if (!parsed.ok) return parsed;
  const piconero = parsed.units;
  if (piconero === 0n) return { ok: false, error: "Enter an amount above zero" };
  const sat = btcForXmr(piconero, quote.piconero_per_btc);
  const { minPiconero, maxPiconero } = sellLimits(quote);
  if (sat < units(quote.min_sat)) return { ok: false, error: `Below this maker's minimum of ${btcText(quote.min_sat)}: sell at least ${xmrText(minPiconero)}` };
  if (sat > units(quote.max_sat)) return { ok: false, error: `Above this maker's maximum of ${btcText(quote.max_sat)}: sell at most ${xmrText(maxPiconero)}` };
  if (sat === 0n) return { ok: false, error: "Too small: you would receive nothing" };
  const need = piconero + XMR_LOCK_FEE_ALLOWANCE;
  const shortfall = need > unlockedPiconero ? need - unlockedPiconero : 0n;
  return { ok: true, sat, piconero, shortfall };
}

export const SELL: SideSpec = {
  side: "sell",
  role: "alice",
  title: "Sell XMR",
  pays: "xmr",
  gets: "btc",
  quote: (offer) => offer.sell_quote,
  missing: "This maker does not buy XMR",
  pickLabel: "Sell XMR to this maker",
  priceHeader: "Price (XMR you pay per BTC)",
  bestPrice: "asc",
  bestPriceLabel: "Price: most BTC per XMR first",
  worstPriceLabel: "Price: least BTC per XMR first",
  amountLabel: "Amount to sell (XMR)",
  amountPlaceholder: "0.5",
  quoteText: (q) => {
    const { minPiconero, maxPiconero } = sellLimits(q);
    return `This maker buys XMR at ${xmrText(q.piconero_per_btc)} per BTC (1 XMR brings ${btcText(satPerXmr(q))}), for ${btcText(q.min_sat)} to ${btcText(q.max_sat)}: you can sell ${xmrText(minPiconero)} to ${xmrText(maxPiconero)}.`;
  },
  check: checkSellAmount,
  balance: (b) => units(b.xmr_unlocked_piconero),
  coming: (b) => {
    const total = units(b.xmr_total_piconero);
    const unlocked = units(b.xmr_unlocked_piconero);
    return total > unlocked ? total - unlocked : 0n;
  },
  balanceText: (b) =>
    `Your unlocked XMR: ${b ? xmrText(b.xmr_unlocked_piconero) : "…"}. The swap also needs ${xmrText(XMR_LOCK_FEE_ALLOWANCE)} unlocked for the lock's network fee.`,
  shortfallText: (c, balance) =>
    `Your unlocked XMR is ${xmrText(balance)}: you will be asked to deposit ${xmrText(c.shortfall)} more (this counts ${xmrText(XMR_LOCK_FEE_ALLOWANCE)} kept for the lock's network fee).`,
  receive: {
    question: "Where should the BTC go?",
    builtin: "The built-in BTC wallet (recommended)",
    external: "Another Bitcoin address",
    input: "Bitcoin address",
    missing: "Enter the Bitcoin address the BTC should go to",
    builtinName: "built-in BTC wallet",
  },
  deposit: {
    title: "Deposit monero first",
    text: (shortfall, coming) =>
      coming >= shortfall
        ? `Enough XMR is in your wallet now: waiting for it to unlock (10 Monero blocks after it came in, about 20 minutes). This page updates by itself.`
        : `Send at least ${xmrText(shortfall)} to your built-in Monero wallet. Received XMR unlocks after 10 Monero blocks (about 20 minutes). This page updates by itself.`,
    covered: (balance) => `Your unlocked XMR of ${xmrText(balance)} covers the swap and its lock fee.`,
    notCovered: (balance) => `Your unlocked XMR (${xmrText(balance)}) no longer covers this amount and the ${xmrText(XMR_LOCK_FEE_ALLOWANCE)} lock fee allowance.`,
    wait: "Waiting for the deposit to unlock…",
  },
  // The shortfall already counts the lock fee allowance.
  playMoney: (shortfall) => ({ btc_sat: null, xmr_piconero: shortfall.toString() }),
  estimate: (network, c) => {
    const e = estimateSell(network, c.piconero, c.sat);
    return {
      assumptions: e.assumptions,
      lockFee: e.xmrLockFeePiconero,
      payTotal: e.xmrTotalPiconero,
      claimFee: e.btcRedeemFeeSat,
      getNet: e.btcNetSat,
      note: `Network fees are estimates: your wallet pays the Monero network's fee when it locks your XMR (${xmrText(e.assumptions.xmrTransferPiconero)} assumed here), and the BTC you get pays the fee of moving it to you (estimated at ${e.assumptions.btcSatPerVb.toString()} sat/vB). The maker pays the fee of its own BTC lock.`,
    };
  },
  timelockText: (q) =>
    `If the maker stops, the app cancels on its own after ${q.cancel_timelock} Bitcoin blocks; your XMR comes back once the maker takes its BTC back, and if it does not within ${q.punish_timelock} more blocks, the app takes the maker's BTC instead.`,
};
