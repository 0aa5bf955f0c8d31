//! The desktop app's backend, free of any GUI toolkit: the commands the web UI calls, the
//! events it listens to, and the IPC types both sides share ([`ipc`]). `src-tauri` only
//! registers these commands and forwards the events.
//!
//! # Commands
//! Each takes at most one argument, `request`, and rejects with an [`ipc::CommandError`].
//!
//! | command | request | answer |
//! |---|---|---|
//! | `app_status` | – | `AppStatus` |
//! | `create_wallet` | `CreateWallet` | `NewWallet` (then the app starts: `app-status` events) |
//! | `unlock` | `Unlock` | `AppStatus` (usually `starting`; `app-status` events follow) |
//! | `get_settings` | – | `Settings` |
//! | `save_settings` | `Settings` | `Settings` (used from the next start) |
//! | `offers` | – | `OfferView[]` |
//! | `buy_xmr` | `BuyXmr` | `SwapDetail` |
//! | `swaps` | – | `SwapDetail[]`, newest first |
//! | `swap` | `SwapRef` | `SwapDetail` |
//! | `cancel_refund` | `SwapRef` | `SwapDetail` |
//! | `abort_swap` | `SwapRef` | `SwapDetail` |
//! | `export_receipt` | `SwapRef` | `ReceiptExport` |
//! | `balances` | – | `Balances` |
//! | `addresses` | – | `Addresses` |
//! | `withdraw` | `Withdraw` | `Sent` |
//! | `devnet_fund` | `DevnetFund` | `Balances` (regtest only) |
//! | `logs` | – | `LogLine[]`, oldest first |
//! | `export_logs` | – | `LogExport` |
//!
//! # Events
//! `app-status` (`AppStatus`), `swap` (`SwapDetail`, after every change of a swap), `log`
//! (`LogLine`), `balances` (`Balances`, after every new block and swap change).

mod app;
mod convert;
pub mod ipc;
mod local_devnet;
mod logbook;
mod settings;

pub use app::{App, AppEvent, EventSink};
pub use settings::SettingsError;
