//! The Bitcoin wallet's integration tests against the devnet node behind its real servers
//! (bitcoind JSON-RPC, Electrum, Esplora), one module per area, in one test binary (so the
//! dependency graph is compiled and linked once).

mod bitcoind;
mod electrum;
mod esplora;
mod median_time;
mod psbt;
mod swap_txs;
mod tls;
mod wallet;
mod watch;
