/** Scripted data for the fake backend, typed against the generated bindings. */
import type { Addresses } from "../../src/bindings/Addresses";
import type { Balances } from "../../src/bindings/Balances";
import type { LogLine } from "../../src/bindings/LogLine";
import type { OfferView } from "../../src/bindings/OfferView";
import type { Settings } from "../../src/bindings/Settings";
import type { SwapDetail } from "../../src/bindings/SwapDetail";

export const PEER_A = "12D3KooWAbcMakerAlphaProvesReserve1111111111111111";
export const PEER_B = "12D3KooWBcdMakerBetaNoProof22222222222222222222222";
export const PEER_C = "12D3KooWCdeMakerGammaUnreachable333333333333333333";
export const PEER_D = "12D3KooWDefMakerDeltaCheap4444444444444444444444444";

export const OFFERS: OfferView[] = [
  {
    peer: PEER_B,
    address: `/ip4/127.0.0.1/tcp/9940/p2p/${PEER_B}`,
    quote: { piconero_per_btc: "152300000000000", min_sat: "100000", max_sat: "50000000", cancel_timelock: 72, punish_timelock: 144 },
    sell_quote: null, // buys no XMR
    error: null,
    reserve_piconero: null,
  },
  {
    peer: PEER_A,
    address: `/ip4/127.0.0.1/tcp/9939/p2p/${PEER_A}`,
    // 153.123456789012 XMR per BTC: exercises full 12-decimal precision.
    quote: { piconero_per_btc: "153123456789012", min_sat: "50000", max_sat: "100000000", cancel_timelock: 72, punish_timelock: 144 },
    // Buys XMR at 156.25 XMR per BTC: 1 XMR brings exactly 0.0064 BTC; 0.001 .. 0.5 BTC.
    sell_quote: { piconero_per_btc: "156250000000000", min_sat: "100000", max_sat: "50000000", cancel_timelock: 60, punish_timelock: 120 },
    error: null,
    reserve_piconero: "25000000000000000",
  },
  {
    peer: PEER_D,
    address: `/ip4/127.0.0.1/tcp/9941/p2p/${PEER_D}`,
    quote: { piconero_per_btc: "149000000000000", min_sat: "1000000", max_sat: "20000000", cancel_timelock: 72, punish_timelock: 144 },
    // Buys XMR at 160 XMR per BTC (1 XMR brings 0.00625 BTC); 0.005 .. 0.1 BTC.
    sell_quote: { piconero_per_btc: "160000000000000", min_sat: "500000", max_sat: "10000000", cancel_timelock: 60, punish_timelock: 120 },
    error: null,
    reserve_piconero: "3000000000000000",
  },
  {
    peer: PEER_C,
    address: `/ip4/127.0.0.1/tcp/9942/p2p/${PEER_C}`,
    quote: null,
    sell_quote: null,
    error: "unreachable: connection refused",
    reserve_piconero: null,
  },
];

/** A maker that only buys XMR (for the buy side's "does not sell XMR"). */
export const PEER_E = "12D3KooWEfgMakerEpsilonBuysOnly55555555555555555555";
export const SELL_ONLY_OFFER: OfferView = {
  peer: PEER_E,
  address: `/ip4/127.0.0.1/tcp/9943/p2p/${PEER_E}`,
  quote: null,
  sell_quote: { piconero_per_btc: "158000000000000", min_sat: "100000", max_sat: "5000000", cancel_timelock: 60, punish_timelock: 120 },
  error: "this maker does not sell XMR now",
  reserve_piconero: null,
};

/** A Bitcoin address outside the app, for selling to. */
export const EXTERNAL_BTC = "bcrt1qexternal0receiver0address0for0tests0q7v5m2";

export const ADDRESSES: Addresses = {
  btc: "bcrt1qfake0deposit0address0for0screens0xyz8w3k9",
  xmr: "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge",
};

export const EMPTY_BALANCES: Balances = {
  btc_confirmed_sat: "0",
  btc_pending_sat: "0",
  xmr_total_piconero: "0",
  xmr_unlocked_piconero: "0",
};

export const SETTINGS: Settings = {
  network: "regtest",
  bitcoin_source: "bitcoind",
  bitcoin_url: "",
  bitcoin_ca_file: "",
  bitcoin_rpc_user: "",
  bitcoin_rpc_password: "",
  monerod_url: "",
  wallet_rpc_path: "",
  rendezvous: ["/ip4/127.0.0.1/tcp/9930/p2p/12D3KooWRendezvous5555555555555555555555555555"],
  start_devnet: true,
  confirm_above_sat: "",
  confirm_above_piconero: "",
};

const T0 = 1_780_000_000;

/** A finished swap for the history. */
export const DONE_SWAP: SwapDetail = {
  swap_id: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
  role: "bob",
  peer: PEER_A,
  btc_sat: "1000000",
  xmr_piconero: "1531234567890",
  phase: "completed",
  state: "XmrRedeemed",
  step: "Done: the XMR is in your wallet",
  waiting: null,
  deadline: null,
  txs: [
    { label: "lock", txid: "f00d".repeat(16), on_chain: { status: "seen", confirmations: 14 } },
    { label: "redeem", txid: "beef".repeat(16), on_chain: { status: "seen", confirmations: 1 } },
    { label: "cancel", txid: "c0c0".repeat(16), on_chain: { status: "not_seen" } },
    { label: "refund", txid: "d1d1".repeat(16), on_chain: { status: "not_seen" } },
    { label: "punish", txid: "e2e2".repeat(16), on_chain: { status: "not_seen" } },
    { label: "early_refund", txid: "f3f3".repeat(16), on_chain: { status: "not_seen" } },
  ],
  receive_address: null,
  can_cancel_refund: false,
  can_abort: false,
  created_at: T0,
  updated_at: T0 + 1800,
};

/** A swap stuck after the lock whose cancel timelock has passed: refund possible. */
export const STUCK_SWAP: SwapDetail = {
  swap_id: "5747c4000000000000000000000000ab",
  role: "bob",
  peer: PEER_B,
  btc_sat: "2500000",
  xmr_piconero: "3807500000000",
  phase: "locked",
  state: "BtcLockPublished",
  step: "The maker has not locked its XMR; you can cancel and get your bitcoin back",
  waiting: { for: "peer" },
  deadline: { what: "the maker can punish", blocks: 130, eta_seconds: 78000, automatic: "If you do nothing, the app cancels and refunds by itself before this deadline." },
  // a running swap: all six agreed, which reached the chain not known yet
  txs: ["lock", "redeem", "cancel", "refund", "punish", "early_refund"].map((label, i) => ({
    label,
    txid: (i === 0 ? "cafe" : `ca${i}e`).repeat(16),
    on_chain: { status: "unknown" as const },
  })),
  receive_address: "888tNkZrPN6JsEgekjMnABU4TBzc2Dt29EPAvkRxbANsAnjyPbb3iQ1YBRk1UXcdRsiKc9dhwMVgN5S9cQUiyoogDavup3H",
  can_cancel_refund: true,
  can_abort: false,
  created_at: T0 + 3600,
  updated_at: T0 + 3700,
};

/** A finished sale of XMR (the taker is Alice) for the history. */
export const SOLD_SWAP: SwapDetail = {
  ...DONE_SWAP,
  swap_id: "50d0a11ce0000000000000000000c0de",
  role: "alice",
  btc_sat: "320000",
  xmr_piconero: "500000000000",
  state: "BtcRedeemed",
  step: "Done: the BTC is in your wallet",
  receive_address: null,
  created_at: T0 - 3600,
  updated_at: T0 - 1800,
};

export const LOGS: LogLine[] = [
  { at_ms: String((T0 + 10) * 1000), level: "info", swap_id: null, message: "engine started; listening on /ip4/127.0.0.1/tcp/9950" },
  { at_ms: String((T0 + 20) * 1000), level: "info", swap_id: null, message: "found 4 makers at the rendezvous point" },
  { at_ms: String((T0 + 30) * 1000), level: "warning", swap_id: null, message: "maker 12D3KooWCde… unreachable: connection refused" },
  { at_ms: String((T0 + 3700) * 1000), level: "error", swap_id: STUCK_SWAP.swap_id, message: "maker did not lock XMR before the cancel timelock" },
];
