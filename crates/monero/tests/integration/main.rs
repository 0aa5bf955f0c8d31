//! The Monero side's integration tests against real monerod and monero-wallet-rpc processes,
//! one module per area, in one test binary.

mod monero;
mod process;
