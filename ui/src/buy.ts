import type { QuoteView } from "./bindings/QuoteView";
import { btcText, parseBtc, units, xmrForBtc } from "./amounts";

export type AmountCheck =
  | {
      ok: true;
      sat: bigint;
      /** XMR received: sat * piconero_per_btc / 1e8, floored. */
      piconero: bigint;
      /** BTC still to deposit before the swap can start (0: the balance covers it). */
      shortfallSat: bigint;
    }
  | { ok: false; error: string };

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
  const shortfallSat = sat > balanceSat ? sat - balanceSat : 0n;
  return { ok: true, sat, piconero, shortfallSat };
}
