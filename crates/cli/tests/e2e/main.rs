//! The end-to-end suite: every scenario on real regtest chains (the devnet Bitcoin node
//! validated by libbitcoinkernel, real monerod and monero-wallet-rpc), each party a `confiaro`
//! process of its own talking libp2p over loopback.
//!
//! - [`swaps`]: every path of a swap to its end, balances and receipts checked;
//! - [`crash_points`]: a party killed right after each state it persists, restarted, and the
//!   swap still ends safely;
//! - [`maker`]: a maker run from a config file (exchange feeds, admin API, metrics) and a
//!   maker on PostgreSQL restarted mid-swap;
//! - [`networks`]: a wallet per network pairing, and chain sources over TLS;
//! - [`tor`]: swaps through a maker's onion service on a private Tor network (run alone, in
//!   the test command's `tor` stage).
//!
//! One binary, so all scenarios share one devnet and run side by side
//! (`cargo test -p confiaro-cli --release --features devnet --test e2e -- --test-threads N`; a module's
//! scenarios alone with a filter, e.g. `crash_points::`).

mod crash_points;
mod maker;
mod networks;
mod sells;
mod swaps;
mod tor;

use confiaro_testkit::e2e::Devnet;

/// The devnet of this test binary, whose parties run the `confiaro` built for these tests.
fn devnet() -> &'static Devnet {
    Devnet::shared(env!("CARGO_BIN_EXE_confiaro"))
}
