import type { OfferView } from "./bindings/OfferView";
import type { QuoteView } from "./bindings/QuoteView";
import { compareUnits, parseBtc, units } from "./amounts";

export type SortKey = "price" | "min" | "max";
export type SortDir = "asc" | "desc";

export interface OfferFilter {
  /** Only offers whose maker proved its XMR reserve. */
  withReserveProof: boolean;
  /** BTC amount typed by the user; only offers whose min..max contains it. Empty: no filter. */
  amountBtc: string;
}

function key(quote: QuoteView, by: SortKey): string {
  return by === "price" ? quote.piconero_per_btc : by === "min" ? quote.min_sat : quote.max_sat;
}

/** Sorts offers by a quote field; offers without a quote always come last, in input order. */
export function sortOffers(offers: readonly OfferView[], by: SortKey, dir: SortDir): OfferView[] {
  const sign = dir === "asc" ? 1 : -1;
  return offers
    .map((offer, index) => ({ offer, index }))
    .sort((a, b) => {
      const qa = a.offer.quote;
      const qb = b.offer.quote;
      if (!qa || !qb) return qa ? -1 : qb ? 1 : a.index - b.index;
      return sign * compareUnits(key(qa, by), key(qb, by)) || a.index - b.index;
    })
    .map((x) => x.offer);
}

/** Whether `sat` lies within the quote's limits. */
export function amountFits(quote: QuoteView, sat: bigint): boolean {
  return sat >= units(quote.min_sat) && sat <= units(quote.max_sat);
}

/** Applies the filter. An amount that does not parse filters nothing (the field shows why). */
export function filterOffers(offers: readonly OfferView[], filter: OfferFilter): OfferView[] {
  const parsed = filter.amountBtc.trim() === "" ? null : parseBtc(filter.amountBtc);
  return offers.filter((offer) => {
    if (filter.withReserveProof && offer.reserve_piconero === null) return false;
    if (parsed && parsed.ok) {
      if (!offer.quote || !amountFits(offer.quote, parsed.units)) return false;
    }
    return true;
  });
}
