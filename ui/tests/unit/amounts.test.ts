import { describe, expect, it } from "vitest";
import { btcText, formatBtc, formatXmr, parseBtc, parseXmr, xmrForBtc, xmrText } from "../../src/amounts";

const MAX_U64 = "18446744073709551615";

describe("amounts", () => {
  it("formats max u64 piconero exactly", () => {
    expect(formatXmr(MAX_U64)).toBe("18446744.073709551615");
    expect(xmrText(MAX_U64)).toBe("18446744.073709551615 XMR");
  });
  it("parses max u64 piconero back exactly", () => {
    const p = parseXmr("18446744.073709551615");
    expect(p).toEqual({ ok: true, units: 18446744073709551615n });
  });
  it("formats 1 sat and 1 piconero", () => {
    expect(formatBtc("1")).toBe("0.00000001");
    expect(formatXmr("1")).toBe("0.000000000001");
    expect(btcText(1n)).toBe("0.00000001 BTC");
  });
  it("parses 1 sat", () => {
    expect(parseBtc("0.00000001")).toEqual({ ok: true, units: 1n });
    expect(parseBtc(".00000001")).toEqual({ ok: true, units: 1n });
  });
  it("trims trailing zeros but never rounds", () => {
    expect(formatBtc("100000000")).toBe("1");
    expect(formatBtc("150000000")).toBe("1.5");
    expect(formatBtc("199999999")).toBe("1.99999999");
    expect(formatXmr("0")).toBe("0");
  });
  it("rejects too many decimals", () => {
    const p = parseBtc("0.000000001");
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toMatch(/8 decimals/);
    expect(parseXmr("1.0000000000001").ok).toBe(false);
    expect(parseXmr("1.000000000001")).toEqual({ ok: true, units: 1_000_000_000_001n });
  });
  it("rejects junk, signs and exponents", () => {
    for (const bad of ["", " ", "abc", "-1", "+1", "1e-8", "1.2.3", ".", "0x10", "1 000"]) {
      expect(parseBtc(bad).ok, bad).toBe(false);
    }
  });
  it("accepts a decimal comma and surrounding spaces", () => {
    expect(parseBtc(" 0,5 ")).toEqual({ ok: true, units: 50_000_000n });
    expect(parseBtc("21000000")).toEqual({ ok: true, units: 2_100_000_000_000_000n });
  });
  it("refuses to format non-integer strings", () => {
    expect(() => formatBtc("1.5")).toThrow();
    expect(() => formatBtc("-1")).toThrow();
  });
  it("computes XMR for BTC with full precision, floored", () => {
    // 0.01 BTC at 153.123456789012 XMR/BTC = 1.53123456789012 XMR → floor to piconero
    expect(xmrText(xmrForBtc("1000000", "153123456789012"))).toBe("1.53123456789 XMR");
    // 1 sat at a rate not divisible by 1e8: floor
    expect(xmrForBtc("1", "153123456789012")).toBe(1531234n);
    expect(xmrForBtc("3", "33333333")).toBe(0n);
    // Beyond 2^53 with no loss
    expect(xmrForBtc("2100000000000000", MAX_U64).toString()).toBe("387381625547900583915000000");
  });
});
