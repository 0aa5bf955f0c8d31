//! The types that cross the IPC boundary between the desktop shell and its web UI. The
//! TypeScript in `ui/src/bindings/` is generated from them (`cargo test -p confiaro-app
//! export_bindings`); nothing on the UI side is written by hand.
//!
//! Amounts are decimal strings of integer units (satoshi, piconero): JavaScript numbers lose
//! integers above 2^53 (about 9,007 XMR in piconero), and an amount must never be rounded.
//!
//! Every command takes at most one argument, named `request`, so a call from the UI reads
//! `invoke("buy_xmr", { request: { ... } })`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An amount of BTC in satoshi, as a decimal string (`"1000000"` is 0.01 BTC).
pub type Sat = String;
/// An amount of XMR in piconero, as a decimal string (`"1000000000000"` is 1 XMR).
pub type Piconero = String;

/// The network pair the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum NetworkName {
    /// Bitcoin mainnet with Monero mainnet: real money.
    Mainnet,
    /// Bitcoin testnet4 with Monero stagenet: test coins without value.
    Testnet4,
    /// Bitcoin signet with Monero stagenet: test coins without value.
    Signet,
    /// A local regtest stack (the app can start one itself).
    Regtest,
}

/// Where the app stands; the UI shows one screen per stage and never a blank window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[ts(export)]
pub enum AppStage {
    /// No wallet yet: show the first-run screen.
    NeedsSetup,
    /// A wallet exists; ask for its password.
    Locked,
    /// Working towards `ready` (starting the local devnet, opening the wallet, syncing).
    Starting {
        /// What it is doing now, for people.
        step: String,
        /// Steps done so far.
        done: u32,
        /// Steps in all.
        total: u32,
    },
    /// The engine runs; every screen works.
    Ready,
    /// Starting failed; `error` says why and `next_step` what to do.
    Failed {
        /// What went wrong.
        error: String,
        /// What the user can do about it.
        next_step: String,
    },
}

/// The app's state, sent on start and as an `app-status` event on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppStatus {
    /// The stage.
    pub stage: AppStage,
    /// The network of the data directory.
    pub network: NetworkName,
    /// The data directory.
    pub data_dir: String,
    /// This node's libp2p peer id, once the engine runs.
    pub peer_id: Option<String>,
    /// Whether the app runs the local devnet itself (regtest only).
    pub managed_devnet: bool,
    /// Whether this build has the local devnet inside (a tester's build); a release build
    /// has none, so regtest there means nodes of the user's own.
    pub devnet_built_in: bool,
}

/// First run: make a new wallet (or restore one from its words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CreateWallet {
    /// The network; fixed for this data directory once chosen.
    pub network: NetworkName,
    /// The password that encrypts the wallet's secrets at rest.
    pub password: String,
    /// 12 or 24 BIP-39 words to restore, or `null` for a new wallet.
    pub restore_words: Option<String>,
    /// The user's explicit yes to "mainnet moves real money" (a box on the first-run
    /// screen): required for a mainnet wallet, ignored on the test networks.
    #[serde(default)]
    pub accept_real_money: bool,
}

/// A wallet just made: its words, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewWallet {
    /// The recovery words, in order (empty when restoring).
    pub words: Vec<String>,
}

/// Opens the wallet of an existing data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Unlock {
    /// The wallet password.
    pub password: String,
}

/// How the app reads the Bitcoin chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum BitcoinSourceKind {
    /// A Bitcoin Core node's JSON-RPC (with `-txindex=1`): the most private choice.
    #[default]
    Bitcoind,
    /// An Electrum server (`tcp://` or `ssl://`).
    Electrum,
    /// An Esplora REST server (`http://` or `https://`).
    Esplora,
}

/// Where the app connects. Empty fields mean the defaults (on regtest: the local devnet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Settings {
    /// The network (read-only after the first run).
    pub network: NetworkName,
    /// The kind of Bitcoin chain source.
    #[serde(default)]
    pub bitcoin_source: BitcoinSourceKind,
    /// The Bitcoin source's URL: bitcoind's JSON-RPC (`http://127.0.0.1:8332`), an Electrum
    /// server (`ssl://host:50002`) or an Esplora server (`https://host/api`).
    pub bitcoin_url: String,
    /// A PEM file of the CAs an `ssl://` or `https://` source's certificate must chain to;
    /// empty: the system's CAs.
    #[serde(default)]
    pub bitcoin_ca_file: String,
    /// bitcoind's RPC user name.
    pub bitcoin_rpc_user: String,
    /// Its password (sent to the UI as empty; an empty value on save keeps the old one).
    pub bitcoin_rpc_password: String,
    /// monerod's RPC URL, local (`http://127.0.0.1:18081`) or a remote node's.
    pub monerod_url: String,
    /// The `monero-wallet-rpc` program to run; empty: found beside the app, then on `PATH`.
    #[serde(default)]
    pub wallet_rpc_path: String,
    /// Rendezvous points (multiaddrs ending in `/p2p/<peer id>`).
    pub rendezvous: Vec<String>,
    /// A swap paying more BTC than this (satoshi) needs a second confirmation; empty: none.
    /// On mainnet 0.01 BTC unless changed.
    #[serde(default)]
    pub confirm_above_sat: Sat,
    /// A swap selling more XMR than this (piconero) needs a second confirmation; empty:
    /// none. On mainnet 1 XMR unless changed.
    #[serde(default)]
    pub confirm_above_piconero: Piconero,
    /// On regtest: start the local devnet and a demo maker with the app.
    pub start_devnet: bool,
}

/// How one part of a connection test went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CheckOutcome {
    /// It works.
    Ok,
    /// It does not.
    Failed,
    /// It was not tried (a source reached through Tor, with Tor not running yet).
    Skipped,
}

/// One part of a connection test: its outcome and, in words, what was found or what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PartCheck {
    /// Whether it works.
    pub outcome: CheckOutcome,
    /// What was found (`height 1234 …`, a version), what is wrong, or why it was not tried.
    pub detail: String,
}

/// A connection test of the settings given (not necessarily saved): the Bitcoin source, the
/// Monero node and `monero-wallet-rpc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConnectionCheck {
    /// The Bitcoin chain source: its network, tip, and whether the clock is in step.
    pub bitcoin: PartCheck,
    /// The Monero node: its network, height and sync state.
    pub monero: PartCheck,
    /// `monero-wallet-rpc`: where it is and its version.
    pub wallet_rpc: PartCheck,
    /// Whether no part failed.
    pub ok: bool,
}

/// A maker's offer found at a rendezvous point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OfferView {
    /// The maker's peer id.
    pub peer: String,
    /// Where to reach it: pass one to `buy_xmr`.
    pub address: String,
    /// Its quote for buying XMR (the maker sells XMR at `piconero_per_btc`), or `null` with
    /// `error` saying why there is none.
    pub quote: Option<QuoteView>,
    /// Its quote for selling XMR (the maker buys XMR, paying one BTC per `piconero_per_btc`;
    /// the limits are in BTC), or `null`: the maker does not buy XMR (or, with `error` and no
    /// `quote`, no quote could be had at all).
    pub sell_quote: Option<QuoteView>,
    /// Why there is no quote (unreachable, paused, a reserve proof that does not verify).
    pub error: Option<String>,
    /// XMR the maker's reserve proof proves, checked against the chain; `null`: no proof.
    pub reserve_piconero: Option<Piconero>,
}

/// A maker's quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct QuoteView {
    /// Piconero paid per whole BTC.
    pub piconero_per_btc: Piconero,
    /// Smallest swap.
    pub min_sat: Sat,
    /// Largest swap.
    pub max_sat: Sat,
    /// Blocks after the BTC lock before the taker can cancel and refund.
    pub cancel_timelock: u32,
    /// Blocks after the cancel before the maker can punish.
    pub punish_timelock: u32,
}

/// Buy XMR with BTC from the built-in wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BuyXmr {
    /// The maker's address (an offer's `address`).
    pub maker: String,
    /// BTC to swap.
    pub btc_sat: Sat,
    /// Where the XMR goes; `null`: the built-in XMR wallet.
    pub receive_address: Option<String>,
    /// The user confirmed a second time an amount above `confirm_above_sat` (Settings).
    #[serde(default)]
    pub confirmed_above_limit: bool,
}

/// Sell XMR from the built-in XMR wallet for BTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SellXmr {
    /// The maker's address (an offer's `address`; the offer must have a `sell_quote`).
    pub maker: String,
    /// XMR to swap; the BTC received follows from the maker's `sell_quote`.
    pub xmr_piconero: Piconero,
    /// The Bitcoin address the BTC goes to; `null`: the built-in BTC wallet.
    pub receive_address: Option<String>,
    /// The user confirmed a second time an amount above `confirm_above_piconero` (Settings).
    #[serde(default)]
    pub confirmed_above_limit: bool,
}

/// Names one swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SwapRef {
    /// The swap's id (hex).
    pub swap_id: String,
}

/// Our side of a swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RoleName {
    /// We sell XMR for BTC.
    Alice,
    /// We sell BTC for XMR.
    Bob,
}

/// The phases shown to users; they only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PhaseName {
    /// Created, nothing sent yet.
    Initialized,
    /// Exchanging keys and signatures; nothing locked.
    Negotiating,
    /// Funds are locked on at least one chain.
    Locked,
    /// Redeeming, cancelling, refunding or punishing.
    Executing,
    /// Done: both sides swapped.
    Completed,
    /// Done: our funds came back (minus fees).
    Refunded,
    /// Done: the swap failed with a loss for one side (punish).
    Failed,
    /// Done: aborted before anything was locked.
    Aborted,
}

/// What a swap waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "for", rename_all = "snake_case")]
#[ts(export)]
pub enum WaitingView {
    /// The counterparty's next message.
    Peer,
    /// Our own wallet.
    Wallet,
    /// Confirmations of a transaction.
    Confirmations {
        /// `"bitcoin"` or `"monero"`.
        chain: String,
        /// Which transaction.
        what: String,
        /// Confirmations so far.
        have: u32,
        /// Confirmations needed.
        need: u32,
    },
}

/// The next timelock that matters, and what the app will do on its own when it passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DeadlineView {
    /// What becomes possible.
    pub what: String,
    /// Bitcoin blocks until then.
    pub blocks: u32,
    /// Estimated seconds until then.
    pub eta_seconds: u32,
    /// What the app does then by itself.
    pub automatic: String,
}

/// One Bitcoin transaction of a swap. All six are agreed (and most signed) at setup; which of
/// them reach the chain depends on how the swap goes: `on_chain` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SwapTx {
    /// `lock`, `redeem`, `cancel`, `refund`, `punish` or `early_refund`.
    pub label: String,
    /// Its txid.
    pub txid: String,
    /// Whether it was seen on the Bitcoin chain.
    pub on_chain: TxOnChain,
}

/// Where one of a swap's Bitcoin transactions stands on the chain, as the engine last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
#[ts(export)]
pub enum TxOnChain {
    /// Not known: while a swap runs the engine's view of it lists the agreed transactions,
    /// not which of them were seen (a finished swap's receipt does).
    Unknown,
    /// Never seen on the chain: it was not published (a finished swap will never need it).
    NotSeen,
    /// Seen on the chain.
    Seen {
        /// Confirmations when the engine last looked (`0`: in the mempool).
        confirmations: u32,
    },
}

/// A swap as the UI shows it; sent again as a `swap` event after every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SwapDetail {
    /// The swap's id (hex).
    pub swap_id: String,
    /// Our side.
    pub role: RoleName,
    /// The counterparty's peer id.
    pub peer: String,
    /// BTC locked (by the buyer of XMR: us as Bob, the maker when we are Alice).
    pub btc_sat: Sat,
    /// XMR locked (by the seller of XMR: the maker when we are Bob, us as Alice).
    pub xmr_piconero: Piconero,
    /// The phase.
    pub phase: PhaseName,
    /// The detailed state.
    pub state: String,
    /// What is happening now, for people.
    pub step: String,
    /// What it waits for.
    pub waiting: Option<WaitingView>,
    /// The next deadline.
    pub deadline: Option<DeadlineView>,
    /// The Bitcoin transactions so far.
    pub txs: Vec<SwapTx>,
    /// Where our side's coins go when the address is not the built-in wallet's: XMR when we
    /// buy XMR (role Bob), BTC when we sell it (role Alice); `null`: the built-in wallet.
    pub receive_address: Option<String>,
    /// Whether `cancel_refund` may be called now.
    pub can_cancel_refund: bool,
    /// Whether `abort_swap` may be called now (nothing locked yet).
    pub can_abort: bool,
    /// Unix seconds.
    pub created_at: u32,
    /// Unix seconds.
    pub updated_at: u32,
}

/// An exported receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReceiptExport {
    /// Where the app wrote it.
    pub path: String,
    /// The receipt itself (JSON), for `confiaro audit verify`.
    pub json: String,
}

/// Both wallets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Balances {
    /// Confirmed, spendable BTC.
    pub btc_confirmed_sat: Sat,
    /// Unconfirmed BTC.
    pub btc_pending_sat: Sat,
    /// All XMR.
    pub xmr_total_piconero: Piconero,
    /// Spendable XMR (received XMR unlocks after 10 blocks).
    pub xmr_unlocked_piconero: Piconero,
}

/// The built-in wallets' receive addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Addresses {
    /// A fresh Bitcoin address.
    pub btc: String,
    /// The Monero primary address.
    pub xmr: String,
}

/// Which coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Asset {
    /// Bitcoin.
    Btc,
    /// Monero.
    Xmr,
}

/// Send coins out of a built-in wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Withdraw {
    /// Which wallet.
    pub asset: Asset,
    /// The destination address.
    pub to: String,
    /// Integer units (sat or piconero); `null` on BTC: everything not promised to a swap.
    pub amount: Option<String>,
}

/// A transaction sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Sent {
    /// Its id.
    pub txid: String,
}

/// Regtest only: play money from the local devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DevnetFund {
    /// BTC to receive, or `null`.
    pub btc_sat: Option<Sat>,
    /// XMR to receive, or `null`.
    pub xmr_piconero: Option<Piconero>,
}

/// How serious a log line or notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Something went wrong; the app keeps going.
    Warning,
    /// Something failed.
    Error,
}

/// One line of the app's log (secrets are never logged); also sent as a `log` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogLine {
    /// Unix milliseconds.
    pub at_ms: String,
    /// How serious.
    pub level: Level,
    /// The swap it is about, if any.
    pub swap_id: Option<String>,
    /// The text.
    pub message: String,
}

/// The log written to a file with addresses, txids, peer ids and amounts replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogExport {
    /// Where the app wrote it.
    pub path: String,
    /// How many values were replaced.
    pub redactions: u32,
}

/// A command failed: what happened and what to do next. Every command rejects with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CommandError {
    /// What went wrong.
    pub message: String,
    /// What the user can do about it.
    pub next_step: String,
}
