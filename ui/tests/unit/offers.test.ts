import { describe, expect, it } from "vitest";
import { filterOffers, missingQuoteText, sortOffers } from "../../src/offers";
import { OFFERS, PEER_A, PEER_B, PEER_C, PEER_D, PEER_E, SELL_ONLY_OFFER } from "../fake/fixtures";

const peers = (list: { peer: string }[]) => list.map((o) => o.peer);

describe("offer sorting", () => {
  it("sorts by price, best first, offers without quote last", () => {
    expect(peers(sortOffers(OFFERS, "price", "desc"))).toEqual([PEER_A, PEER_B, PEER_D, PEER_C]);
    expect(peers(sortOffers(OFFERS, "price", "asc"))).toEqual([PEER_D, PEER_B, PEER_A, PEER_C]);
  });
  it("sorts by min and max", () => {
    expect(peers(sortOffers(OFFERS, "min", "asc"))).toEqual([PEER_A, PEER_B, PEER_D, PEER_C]);
    expect(peers(sortOffers(OFFERS, "max", "desc"))).toEqual([PEER_A, PEER_B, PEER_D, PEER_C]);
    expect(peers(sortOffers(OFFERS, "max", "asc"))).toEqual([PEER_D, PEER_B, PEER_A, PEER_C]);
  });
  it("compares amounts as integers, not as strings", () => {
    const a = { ...OFFERS[0]!, peer: "a", quote: { ...OFFERS[0]!.quote!, piconero_per_btc: "9" } };
    const b = { ...OFFERS[0]!, peer: "b", quote: { ...OFFERS[0]!.quote!, piconero_per_btc: "10" } };
    expect(peers(sortOffers([a, b], "price", "desc"))).toEqual(["b", "a"]);
  });
  it("does not change its input", () => {
    const copy = [...OFFERS];
    sortOffers(OFFERS, "price", "asc");
    expect(OFFERS).toEqual(copy);
  });
});

describe("offer filtering", () => {
  it("keeps only offers with a reserve proof", () => {
    expect(peers(filterOffers(OFFERS, { withReserveProof: true, amount: "" }))).toEqual([PEER_A, PEER_D]);
  });
  it("keeps only offers whose limits fit the amount (inclusive)", () => {
    expect(peers(filterOffers(OFFERS, { withReserveProof: false, amount: "0.0005" }))).toEqual([PEER_A]);
    expect(peers(filterOffers(OFFERS, { withReserveProof: false, amount: "0.5" }))).toEqual([PEER_B, PEER_A]);
    expect(peers(filterOffers(OFFERS, { withReserveProof: false, amount: "0.2" }))).toEqual([PEER_B, PEER_A, PEER_D]);
    expect(peers(filterOffers(OFFERS, { withReserveProof: true, amount: "0.7" }))).toEqual([PEER_A]);
  });
  it("ignores an amount that does not parse", () => {
    expect(filterOffers(OFFERS, { withReserveProof: false, amount: "0.000000001" })).toHaveLength(4);
  });
});

describe("the sell side", () => {
  const all = [...OFFERS, SELL_ONLY_OFFER];
  it("sorts by the sell quote, makers that buy no XMR last", () => {
    // A buys at 156.25, E at 158, D at 160 XMR per BTC: the fewest XMR per BTC is the best price
    expect(peers(sortOffers(all, "price", "asc", "sell"))).toEqual([PEER_A, PEER_E, PEER_D, PEER_B, PEER_C]);
    expect(peers(sortOffers(all, "max", "desc", "sell"))).toEqual([PEER_A, PEER_D, PEER_E, PEER_B, PEER_C]);
    // the buy side is unchanged by the sell quotes: E has no buy quote
    expect(peers(sortOffers(all, "price", "desc", "buy"))).toEqual([PEER_A, PEER_B, PEER_D, PEER_C, PEER_E]);
  });
  it("filters by an XMR amount against the sell quotes' BTC limits and ignores the reserve proof", () => {
    // 0.2 XMR brings 0.00128 BTC from A (min 0.001), 0.00126582 from E (min 0.001), 0.00125 from D (min 0.005)
    expect(peers(filterOffers(all, { withReserveProof: false, amount: "0.2" }, "sell"))).toEqual([PEER_A, PEER_E]);
    // 1 XMR: 0.0064 / 0.00625 / 0.00632911 BTC, all within
    expect(peers(filterOffers(all, { withReserveProof: false, amount: "1" }, "sell"))).toEqual([PEER_A, PEER_D, PEER_E]);
    // 10 XMR: 0.064 BTC fits A's max of 0.5; D's max is 0.1 (0.0625 fits); E's max is 0.05 (0.0632911 does not)
    expect(peers(filterOffers(all, { withReserveProof: false, amount: "10" }, "sell"))).toEqual([PEER_A, PEER_D]);
    // the exact smallest amount A takes, and one piconero less
    expect(peers(filterOffers(all, { withReserveProof: false, amount: "0.15625" }, "sell"))).toEqual([PEER_A]);
    expect(peers(filterOffers(all, { withReserveProof: false, amount: "0.156249999999" }, "sell"))).toEqual([]);
    expect(filterOffers(all, { withReserveProof: false, amount: "0.0000000000001" }, "sell")).toHaveLength(5);
    expect(peers(filterOffers(all, { withReserveProof: true, amount: "" }, "sell"))).toHaveLength(5);
    expect(peers(filterOffers(all, { withReserveProof: false, amount: "0.01" }, "buy"))).toEqual([PEER_B, PEER_A, PEER_D]);
  });
  it("says why an offer has no quote for the side", () => {
    expect(missingQuoteText(OFFERS[0]!, "sell")).toBe("This maker does not buy XMR");
    expect(missingQuoteText(SELL_ONLY_OFFER, "buy")).toBe("This maker does not sell XMR");
    expect(missingQuoteText(OFFERS[3]!, "sell")).toBe("No quote: unreachable: connection refused");
    expect(missingQuoteText(OFFERS[3]!, "buy")).toBe("No quote: unreachable: connection refused");
  });
});
