import { describe, expect, it } from "vitest";
import { btcForXmr } from "../../src/amounts";
import { BTC_REDEEM_VBYTES, estimateSell } from "../../src/fees";
import { XMR_LOCK_FEE_ALLOWANCE, checkSellAmount, sellLimits } from "../../src/sell";
import { OFFERS } from "../fake/fixtures";

const quote = OFFERS[1]!.sell_quote!; // 156.25 XMR per BTC, 0.001 .. 0.5 BTC
// the desktop demo maker's sell side: bid 140 XMR per BTC, 0.0001 .. 0.1 BTC
const demo = { piconero_per_btc: "140000000000000", min_sat: "10000", max_sat: "10000000", cancel_timelock: 60, punish_timelock: 120 };
const plenty = 100_000_000_000_000n;

describe("BTC for an XMR amount", () => {
  it("floors piconero * 1e8 / rate as the protocol does", () => {
    expect(btcForXmr(500_000_000_000n, quote.piconero_per_btc)).toBe(320_000n);
    expect(btcForXmr("500000000000", demo.piconero_per_btc)).toBe(357_142n); // 357,142.857… floored
    expect(btcForXmr(1n, demo.piconero_per_btc)).toBe(0n);
  });
});

describe("sell amount validation", () => {
  it("accepts an amount within limits and computes the BTC, floored", () => {
    expect(checkSellAmount("0.5", quote, plenty)).toEqual({ ok: true, sat: 320_000n, piconero: 500_000_000_000n, shortfall: 0n });
    expect(checkSellAmount("0.5", demo, plenty)).toMatchObject({ ok: true, sat: 357_142n });
  });

  it("counts the lock fee allowance in the shortfall of unlocked XMR", () => {
    // exactly the amount plus 0.01 XMR: covered
    expect(checkSellAmount("0.5", quote, 510_000_000_000n)).toMatchObject({ ok: true, shortfall: 0n });
    // the amount alone is not enough: 0.01 XMR short
    expect(checkSellAmount("0.5", quote, 500_000_000_000n)).toMatchObject({ ok: true, shortfall: XMR_LOCK_FEE_ALLOWANCE });
    expect(checkSellAmount("0.5", quote, 0n)).toMatchObject({ ok: true, shortfall: 510_000_000_000n });
  });

  it("rejects zero, junk and more than 12 decimals", () => {
    expect(checkSellAmount("0", quote, plenty)).toEqual({ ok: false, error: "Enter an amount above zero" });
    expect(checkSellAmount("", quote, plenty)).toMatchObject({ ok: false, error: "Enter an amount" });
    expect(checkSellAmount("1e3", quote, plenty)).toMatchObject({ ok: false, error: expect.stringMatching(/Not a number/) });
    expect(checkSellAmount("0.5000000000001", quote, plenty)).toMatchObject({ ok: false, error: expect.stringMatching(/12 decimals/) });
  });

  it("checks the BTC limits and says which XMR amounts fit", () => {
    expect(checkSellAmount("0.1", quote, plenty)).toEqual({ ok: false, error: "Below this maker's minimum of 0.001 BTC: sell at least 0.15625 XMR" });
    expect(checkSellAmount("80", quote, plenty)).toEqual({ ok: false, error: "Above this maker's maximum of 0.5 BTC: sell at most 78.125001562499 XMR" });
  });

  it("is exact at the limits: the smallest and largest amounts fit, one piconero further does not", () => {
    // a rate whose limits do not divide evenly: the rounding direction matters
    const uneven = OFFERS[1]!.quote!;
    for (const q of [quote, demo, uneven]) {
      const { minPiconero, maxPiconero } = sellLimits(q);
      const xmr = (p: bigint) => `${p / 1_000_000_000_000n}.${(p % 1_000_000_000_000n).toString().padStart(12, "0")}`;
      expect(checkSellAmount(xmr(minPiconero), q, plenty)).toMatchObject({ ok: true, sat: BigInt(q.min_sat) });
      expect(checkSellAmount(xmr(minPiconero - 1n), q, plenty).ok).toBe(false);
      expect(checkSellAmount(xmr(maxPiconero), q, plenty)).toMatchObject({ ok: true, sat: BigInt(q.max_sat) });
      expect(checkSellAmount(xmr(maxPiconero + 1n), q, plenty).ok).toBe(false);
    }
    expect(sellLimits(demo)).toEqual({ minPiconero: 14_000_000_000n, maxPiconero: 14_000_001_399_999n });
    expect(sellLimits(uneven).minPiconero).toBe(76_561_728_395n); // 76,561,728,394.506… rounded up
  });

  it("refuses an amount that would bring nothing, even without a minimum", () => {
    const noMin = { ...demo, min_sat: "0" };
    expect(checkSellAmount("0.000000000001", noMin, plenty)).toEqual({ ok: false, error: "Too small: you would receive nothing" });
  });
});

describe("fee estimates for selling XMR", () => {
  it("adds the XMR lock's fee to what is paid and takes the redeem's fee from the BTC received", () => {
    const e = estimateSell("regtest", "500000000000", "320000");
    expect(e.xmrLockFeePiconero).toBe(2_000_000_000n);
    expect(e.xmrTotalPiconero).toBe(502_000_000_000n);
    expect(e.btcRedeemFeeSat).toBe(BTC_REDEEM_VBYTES * 10n);
    expect(e.btcRedeemFeeSat).toBe(1_400n);
    expect(e.btcNetSat).toBe(318_600n);
  });

  it("assumes the smaller Monero fee of the real networks", () => {
    const e = estimateSell("mainnet", 500_000_000_000n, 320_000n);
    expect(e.xmrLockFeePiconero).toBe(100_000_000n);
    expect(e.xmrTotalPiconero).toBe(500_100_000_000n);
  });

  it("never says less than nothing is received", () => {
    expect(estimateSell("regtest", "1", "1000").btcNetSat).toBe(0n);
  });
});
