//! The desktop app's backend, free of any GUI toolkit: the commands the web UI calls, the
//! events it listens to, and the IPC types both sides share ([`ipc`]). `src-tauri` only
//! registers these commands and forwards the events.
//!
//! # Commands and events
//! The IPC table ([`ipc_table!`]) declares them once: each command takes at most one
//! argument, `request`, answers with an [`ipc`] type and rejects with an
//! [`ipc::CommandError`]; each event carries one [`ipc`] type. The Tauri handlers and the
//! UI's TypeScript maps are generated from that table.

mod app;
mod convert;
pub mod ipc;
mod ipc_table;
mod local_devnet;
mod logbook;
mod settings;

pub use app::{App, EventSink};
pub use ipc_table::AppEvent;
pub use settings::SettingsError;
