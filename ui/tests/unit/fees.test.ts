import { describe, expect, it } from "vitest";
import { BTC_LOCK_VBYTES, estimateBuy } from "../../src/fees";

describe("fee estimates for buying XMR", () => {
  it("adds the BTC lock's fee to what is paid and takes the sweep's fee from what is received", () => {
    const e = estimateBuy("regtest", "1000000", "1500000000000");
    expect(e.btcLockFeeSat).toBe(BTC_LOCK_VBYTES * 10n);
    expect(e.btcLockFeeSat).toBe(1530n); // a devnet lock paid 1,525 sat
    expect(e.btcTotalSat).toBe(1_001_530n);
    expect(e.xmrSweepFeePiconero).toBe(2_000_000_000n); // a devnet sweep paid 1,808,400,000
    expect(e.xmrNetPiconero).toBe(1_498_000_000_000n);
  });

  it("assumes the smaller Monero fee of the real networks", () => {
    const e = estimateBuy("mainnet", 1_000_000n, 1_500_000_000_000n);
    expect(e.xmrSweepFeePiconero).toBe(100_000_000n);
    expect(e.xmrNetPiconero).toBe(1_499_900_000_000n);
  });

  it("never says less than nothing is received", () => {
    expect(estimateBuy("regtest", "1", "5").xmrNetPiconero).toBe(0n);
  });
});
