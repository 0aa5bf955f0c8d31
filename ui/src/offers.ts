import type { OfferView } from "./bindings/OfferView";
import type { QuoteView } from "./bindings/QuoteView";
import { compareUnits } from "./amounts";
import { ASSETS, SIDES, type Side } from "./side";

export type SortKey = "price" | "min" | "max";
export type SortDir = "asc" | "desc";

export interface OfferFilter {
  /** Only offers whose maker proved its XMR reserve (buying XMR only: selling, the maker pays BTC). */
  withReserveProof: boolean;
  /** Amount typed by the user in what the side pays (BTC buying, XMR selling); only offers it fits. Empty: no filter. */
  amount: string;
}

function key(quote: QuoteView, by: SortKey): string {
  return by === "price" ? quote.piconero_per_btc : by === "min" ? quote.min_sat : quote.max_sat;
}

/** Sorts offers by a field of the side's quote; offers without one always come last, in input order. */
export function sortOffers(offers: readonly OfferView[], by: SortKey, dir: SortDir, side: Side = "buy"): OfferView[] {
  const quote = SIDES[side].quote;
  const sign = dir === "asc" ? 1 : -1;
  return offers
    .map((offer, index) => ({ offer, index }))
    .sort((a, b) => {
      const qa = quote(a.offer);
      const qb = quote(b.offer);
      if (!qa || !qb) return qa ? -1 : qb ? 1 : a.index - b.index;
      return sign * compareUnits(key(qa, by), key(qb, by)) || a.index - b.index;
    })
    .map((x) => x.offer);
}

/**
 * Applies the filter for a side. The amount is in what the user pays on that side (BTC buying,
 * XMR selling) and fits an offer when the side's amount check accepts it. An amount that does
 * not parse filters nothing (the field shows why).
 */
export function filterOffers(offers: readonly OfferView[], filter: OfferFilter, side: Side = "buy"): OfferView[] {
  const spec = SIDES[side];
  const amount = filter.amount.trim();
  const parsed = amount === "" ? null : ASSETS[spec.pays].parse(amount);
  return offers.filter((offer) => {
    if (side === "buy" && filter.withReserveProof && offer.reserve_piconero === null) return false;
    if (parsed && parsed.ok) {
      const quote = spec.quote(offer);
      if (!quote || !spec.check(amount, quote, 0n).ok) return false;
    }
    return true;
  });
}

/** Why an offer has no quote for the side: the maker does only the other side, or no quote could be had. */
export function missingQuoteText(offer: OfferView, side: Side): string {
  const other = SIDES[side === "buy" ? "sell" : "buy"].quote(offer);
  return other ? SIDES[side].missing : `No quote: ${offer.error ?? "unknown reason"}`;
}
