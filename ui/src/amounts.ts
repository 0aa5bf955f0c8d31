/**
 * Exact amounts. The backend sends integer units (satoshi, piconero) as decimal strings;
 * everything here works on BigInt so nothing is ever rounded.
 */

export const SAT_DECIMALS = 8;
export const PICONERO_DECIMALS = 12;
export const SAT_PER_BTC = 100_000_000n;
export const PICONERO_PER_XMR = 1_000_000_000_000n;

export type ParseResult = { ok: true; units: bigint } | { ok: false; error: string };

/** Parses integer units as sent by the backend ("1000000"). Throws on anything else. */
export function units(value: string | bigint): bigint {
  if (typeof value === "bigint") return value;
  if (!/^[0-9]+$/.test(value)) throw new Error(`not an integer amount: ${JSON.stringify(value)}`);
  return BigInt(value);
}

/**
 * Parses a decimal typed by a person ("0.015", "1", ".5", "1,5") into integer units with
 * `decimals` places. Rejects more places than the unit has, signs, exponents and junk.
 */
export function parseDecimal(input: string, decimals: number, unitName: string): ParseResult {
  const text = input.trim().replace(",", ".");
  if (text === "") return { ok: false, error: "Enter an amount" };
  const m = /^([0-9]*)(?:\.([0-9]*))?$/.exec(text);
  if (!m || (m[1] === "" && (m[2] === undefined || m[2] === ""))) {
    return { ok: false, error: `Not a number: use digits and one decimal point (e.g. 0.01)` };
  }
  const whole = m[1] ?? "";
  const frac = m[2] ?? "";
  if (frac.length > decimals) {
    return { ok: false, error: `At most ${decimals} decimals: 1 ${unitName} has ${decimals} places` };
  }
  const scaled = BigInt(whole === "" ? "0" : whole) * 10n ** BigInt(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  return { ok: true, units: scaled };
}

export const parseBtc = (input: string): ParseResult => parseDecimal(input, SAT_DECIMALS, "BTC");
export const parseXmr = (input: string): ParseResult => parseDecimal(input, PICONERO_DECIMALS, "XMR");

/**
 * Formats integer units as a decimal with `decimals` places. Trailing zeros are trimmed
 * (down to `minDecimals`), nothing is rounded.
 */
export function formatUnits(value: string | bigint, decimals: number, minDecimals = 0): string {
  const v = units(value);
  const base = 10n ** BigInt(decimals);
  const whole = v / base;
  let frac = (v % base).toString().padStart(decimals, "0");
  let end = frac.length;
  while (end > minDecimals && frac[end - 1] === "0") end--;
  frac = frac.slice(0, end);
  const wholeText = whole.toString();
  return frac.length > 0 ? `${wholeText}.${frac}` : wholeText;
}

/** "0.015" (trailing zeros trimmed, never rounded). */
export const formatBtc = (sat: string | bigint): string => formatUnits(sat, SAT_DECIMALS);
/** "1.5" (trailing zeros trimmed, never rounded). */
export const formatXmr = (piconero: string | bigint): string => formatUnits(piconero, PICONERO_DECIMALS);
/** With the unit: "0.015 BTC". */
export const btcText = (sat: string | bigint): string => `${formatBtc(sat)} BTC`;
/** With the unit: "1.5 XMR". */
export const xmrText = (piconero: string | bigint): string => `${formatXmr(piconero)} XMR`;

/** XMR received for `btcSat` at `piconeroPerBtc`: btc_sat * rate / 1e8, floored. */
export function xmrForBtc(btcSat: string | bigint, piconeroPerBtc: string | bigint): bigint {
  return (units(btcSat) * units(piconeroPerBtc)) / SAT_PER_BTC;
}

/** BTC received for `piconero` at `piconeroPerBtc`: piconero * 1e8 / rate, floored (as the protocol computes it). */
export function btcForXmr(piconero: string | bigint, piconeroPerBtc: string | bigint): bigint {
  return (units(piconero) * SAT_PER_BTC) / units(piconeroPerBtc);
}

export function compareUnits(a: string | bigint, b: string | bigint): number {
  const x = units(a);
  const y = units(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
