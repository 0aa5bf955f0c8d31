//! The protocol's integration tests: hostile peers and inputs, the attacks of
//! `docs/2026-12-06-malicious-counterparty.md` one by one, and script validity under
//! Bitcoin Core's interpreter (libbitcoinconsensus), one module per area, in one test binary.
//!
//! The tests built on the simulation harness (`confiaro-testkit`) are binaries of their own,
//! `stored_state.rs` and `simulation.rs` (the test command's last stage): in a workspace
//! build the kit links libbitcoinkernel, whose libsecp256k1 symbols clash with
//! libbitcoinconsensus's in one binary.

mod attacks;
mod hostile;
mod script_validity;
