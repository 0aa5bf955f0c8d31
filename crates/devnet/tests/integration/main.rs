//! The devnet's integration tests: consensus through libbitcoinkernel, the RPC, Electrum and
//! Esplora servers, and the whole stack, one module per area, in one test binary (so the
//! dependency graph is compiled and linked once).

mod consensus;
mod electrum;
mod esplora;
mod rpc;
mod stack;
