//! Confiaro's test kit: what the workspace's tests and benchmarks share, in one dev-only
//! package (never published, never linked into a product).
//!
//! - [`sim`] (feature `sim`): the deterministic simulation of whole swaps — both role
//!   machines, in-memory ledgers, a lossy network, crashes — driven by one seed;
//! - [`postgres`] (feature `postgres`): a throwaway PostgreSQL server on loopback;
//! - [`btc`] (feature `btc`): a devnet Bitcoin node behind its bitcoind/Electrum/Esplora
//!   servers, and wallets on a real store;
//! - [`xmr`] (feature `xmr`): a regtest monerod with wallet RPCs, and Monero test keys;
//! - [`e2e`] (feature `e2e`): the end-to-end harness — one devnet per test binary and
//!   `confiaro` processes as the parties;
//! - [`tor`]: a private Tor network on loopback (3 authorities, 5 exits, Debian's `tor`);
//! - [`sockets`]: the TCP sockets and child processes of a process, from `/proc`;
//! - [`leftovers`]: the kit's temporary directories, and the stopping of servers a killed run
//!   left running on them.
//!
//! Every server the kit starts lives in a directory from [`leftovers::test_dir`], so the next
//! run finds and stops what a killed one left behind.

pub mod leftovers;

#[cfg(feature = "btc")]
pub mod btc;
#[cfg(feature = "e2e")]
pub mod e2e;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sockets;
pub mod tor;
#[cfg(feature = "xmr")]
pub mod xmr;
