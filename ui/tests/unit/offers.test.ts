import { describe, expect, it } from "vitest";
import { filterOffers, sortOffers } from "../../src/offers";
import { OFFERS, PEER_A, PEER_B, PEER_C, PEER_D } from "../fake/fixtures";

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
    expect(peers(filterOffers(OFFERS, { withReserveProof: true, amountBtc: "" }))).toEqual([PEER_A, PEER_D]);
  });
  it("keeps only offers whose limits fit the amount (inclusive)", () => {
    expect(peers(filterOffers(OFFERS, { withReserveProof: false, amountBtc: "0.0005" }))).toEqual([PEER_A]);
    expect(peers(filterOffers(OFFERS, { withReserveProof: false, amountBtc: "0.5" }))).toEqual([PEER_B, PEER_A]);
    expect(peers(filterOffers(OFFERS, { withReserveProof: false, amountBtc: "0.2" }))).toEqual([PEER_B, PEER_A, PEER_D]);
    expect(peers(filterOffers(OFFERS, { withReserveProof: true, amountBtc: "0.7" }))).toEqual([PEER_A]);
  });
  it("ignores an amount that does not parse", () => {
    expect(filterOffers(OFFERS, { withReserveProof: false, amountBtc: "0.000000001" })).toHaveLength(4);
  });
});
