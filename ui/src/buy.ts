/** Buying XMR: the user pays BTC from the built-in BTC wallet (the engine's role Bob). */
import type { QuoteView } from "./bindings/QuoteView";
import type { AmountCheck, SideSpec } from "./side";
import { btcText, parseBtc, units, xmrForBtc, xmrText } from "./amounts";
import { estimateBuy } from "./fees";

/** Validates the BTC amount of a buy against the quote's limits and computes the rest. */
export function checkBuyAmount(input: string, quote: QuoteView, balanceSat: bigint): AmountCheck {
  const parsed = parseBtc(input);
  if (!parsed.ok) return parsed;
  const sat = parsed.units;
  if (sat === 0n) return { ok: false, error: "Enter an amount above zero" };
  const min = units(quote.min_sat);
  const max = units(quote.max_sat);
  if (sat < min) return { ok: false, error: `Below this maker's minimum of ${btcText(min)}` };
  if (sat > max) return { ok: false, error: `Above this maker's maximum of ${btcText(max)}` };
  const piconero = xmrForBtc(sat, quote.piconero_per_btc);
  if (piconero === 0n) return { ok: false, error: "Too small: you would receive nothing" };
  const shortfall = sat > balanceSat ? sat - balanceSat : 0n;
  return { ok: true, sat, piconero, shortfall };
}

export const BUY: SideSpec = {
  side: "buy",
  role: "bob",
  title: "Buy XMR",
  pays: "btc",
  gets: "xmr",
  quote: (offer) => offer.quote,
  missing: "This maker does not sell XMR",
  pickLabel: "Swap with this maker",
  priceHeader: "Price (XMR you get per BTC)",
  bestPrice: "desc",
  bestPriceLabel: "Price: most XMR per BTC first",
  worstPriceLabel: "Price: least XMR per BTC first",
  amountLabel: "Amount to swap (BTC)",
  amountPlaceholder: "0.01",
  quoteText: (q) => `This maker pays ${xmrText(q.piconero_per_btc)} per BTC, for ${btcText(q.min_sat)} to ${btcText(q.max_sat)}.`,
  check: checkBuyAmount,
  balance: (b) => units(b.btc_confirmed_sat),
  coming: (b) => units(b.btc_pending_sat),
  balanceText: (b) => `Your confirmed balance: ${b ? btcText(b.btc_confirmed_sat) : "…"}`,
  shortfallText: (c, balance) => `Your balance is ${btcText(balance)}: you will be asked to deposit ${btcText(c.shortfall)} more (plus the network fee).`,
  receive: {
    question: "Where should the XMR go?",
    builtin: "The built-in XMR wallet (recommended)",
    external: "Another Monero address",
    input: "Monero address",
    missing: "Enter the Monero address the XMR should go to",
    builtinName: "built-in XMR wallet",
  },
  deposit: {
    title: "Deposit bitcoin first",
    text: (shortfall, coming) =>
      coming >= shortfall
        ? `Your deposit of ${btcText(coming)} is on its way: waiting for it to confirm. This page updates by itself.`
        : `Send at least ${btcText(shortfall)} (plus a little for the fee) to your built-in Bitcoin wallet. This page updates by itself.`,
    covered: (balance) => `Your confirmed balance of ${btcText(balance)} covers the swap.`,
    notCovered: (balance) => `Your confirmed BTC balance (${btcText(balance)}) no longer covers this amount.`,
    wait: "Waiting for the deposit to confirm…",
  },
  // A little more than the shortfall: the lock transaction pays a fee.
  playMoney: (shortfall) => ({ btc_sat: (shortfall + 100_000n).toString(), xmr_piconero: null }),
  estimate: (network, c) => {
    const e = estimateBuy(network, c.sat, c.piconero);
    return {
      assumptions: e.assumptions,
      lockFee: e.btcLockFeeSat,
      payTotal: e.btcTotalSat,
      claimFee: e.xmrSweepFeePiconero,
      getNet: e.xmrNetPiconero,
      note: `Network fees are estimates: the app pays the Bitcoin network's fee rate when it locks (estimated here at ${e.assumptions.btcSatPerVb.toString()} sat/vB, for a lock from one coin of your wallet), and the Monero network's fee when it moves the XMR to you. If the swap is refunded instead, your bitcoin comes back less two more Bitcoin network fees (cancel and refund).`,
    };
  },
  timelockText: (q) => `Refund possible after ${q.cancel_timelock} Bitcoin blocks without progress`,
};
