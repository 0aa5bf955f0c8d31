/**
 * Network fee estimates for the swap wizard's confirm step, so that it says what the user
 * pays and gets, not only the amounts swapped.
 *
 * These are estimates from constants: the backend does not tell the UI the fee rate the
 * engine will pay (the engine's rate is internal to it) nor what a Monero transfer costs
 * now. The screen labels them as estimates and says what they assume.
 *
 * Who pays what when buying XMR (the taker is Bob):
 * - the BTC lock's fee: the taker's wallet, on top of the amount locked;
 * - the XMR lock's fee: the maker's wallet, on top of the XMR it locks (not taken from what
 *   the taker gets);
 * - the XMR sweep's fee (from the lock address to the taker's wallet or address): taken from
 *   the XMR received.
 *
 * Who pays what when selling XMR (the taker is Alice):
 * - the XMR lock's fee (a Monero transfer): the taker's wallet, on top of the XMR locked;
 * - the BTC lock's fee: the maker's wallet, on top of the BTC it locks;
 * - the BTC redeem's fee (the 2-of-2 lock output to the taker's address): taken from the BTC
 *   received.
 */
import { units } from "./amounts";
import type { NetworkName } from "./bindings/NetworkName";

/**
 * Virtual size of the BTC lock with one P2WPKH input, the 2-of-2 P2WSH output and P2WPKH
 * change: 152.5 vB (a devnet swap's lock paid 1,525 sat at 10 sat/vB). More inputs cost
 * about 68 vB each.
 */
export const BTC_LOCK_VBYTES = 153n;

/**
 * Virtual size of the BTC redeem: one P2WSH 2-of-2 input (two signatures and the script in
 * the witness) to one P2WPKH output, about 140 vB.
 */
export const BTC_REDEEM_VBYTES = 140n;

/** What the estimates assume, per network. */
export interface FeeAssumptions {
  /** The Bitcoin fee rate, in sat/vB. */
  btcSatPerVb: bigint;
  /** The fee of one Monero transfer such as the sweep, in piconero. */
  xmrTransferPiconero: bigint;
}

export const FEE_ASSUMPTIONS: Record<NetworkName, FeeAssumptions> = {
  // A typical rate and a typical Monero fee (about 0.0001 XMR); both vary with the networks.
  mainnet: { btcSatPerVb: 10n, xmrTransferPiconero: 100_000_000n },
  testnet4: { btcSatPerVb: 10n, xmrTransferPiconero: 100_000_000n },
  signet: { btcSatPerVb: 10n, xmrTransferPiconero: 100_000_000n },
  // The devnet answers every fee estimate with 10 sat/vB; its young Monero chain charges
  // more (a devnet sweep of 1.5 XMR paid 0.0018084 XMR).
  regtest: { btcSatPerVb: 10n, xmrTransferPiconero: 2_000_000_000n },
};

/** What buying XMR costs and brings in all, by the estimates. */
export interface BuyEstimate {
  assumptions: FeeAssumptions;
  /** The BTC lock's fee, paid on top of the amount. */
  btcLockFeeSat: bigint;
  /** The amount plus the lock's fee. */
  btcTotalSat: bigint;
  /** The XMR sweep's fee, taken from the XMR received. */
  xmrSweepFeePiconero: bigint;
  /** The XMR locked by the maker less the sweep's fee (never below zero). */
  xmrNetPiconero: bigint;
}

/** The estimate for swapping `btcSat` for the `piconero` the maker locks, on `network`. */
export function estimateBuy(network: NetworkName, btcSat: string | bigint, piconero: string | bigint): BuyEstimate {
  const assumptions = FEE_ASSUMPTIONS[network];
  const btcLockFeeSat = BTC_LOCK_VBYTES * assumptions.btcSatPerVb;
  const xmr = units(piconero);
  const xmrSweepFeePiconero = assumptions.xmrTransferPiconero;
  return {
    assumptions,
    btcLockFeeSat,
    btcTotalSat: units(btcSat) + btcLockFeeSat,
    xmrSweepFeePiconero,
    xmrNetPiconero: xmr > xmrSweepFeePiconero ? xmr - xmrSweepFeePiconero : 0n,
  };
}

/** What selling XMR costs and brings in all, by the estimates. */
export interface SellEstimate {
  assumptions: FeeAssumptions;
  /** The XMR lock's fee (a Monero transfer from the user's wallet), paid on top of the amount. */
  xmrLockFeePiconero: bigint;
  /** The amount plus the lock's fee. */
  xmrTotalPiconero: bigint;
  /** The BTC redeem's fee, taken from the BTC received. */
  btcRedeemFeeSat: bigint;
  /** The BTC locked by the maker less the redeem's fee (never below zero). */
  btcNetSat: bigint;
}

/** The estimate for swapping `piconero` for the `btcSat` the maker locks, on `network`. */
export function estimateSell(network: NetworkName, piconero: string | bigint, btcSat: string | bigint): SellEstimate {
  const assumptions = FEE_ASSUMPTIONS[network];
  const xmrLockFeePiconero = assumptions.xmrTransferPiconero;
  const btcRedeemFeeSat = BTC_REDEEM_VBYTES * assumptions.btcSatPerVb;
  const sat = units(btcSat);
  return {
    assumptions,
    xmrLockFeePiconero,
    xmrTotalPiconero: units(piconero) + xmrLockFeePiconero,
    btcRedeemFeeSat,
    btcNetSat: sat > btcRedeemFeeSat ? sat - btcRedeemFeeSat : 0n,
  };
}
