//! Fault injection for the end-to-end tests, read from the environment and honoured **on
//! regtest only** (on any other network the variables are ignored, with a warning).
//!
//! - `CONFIARO_TEST_KILL_AFTER=<Role>:<State>[,<Role>:<State>...]`: the process kills itself
//!   with SIGKILL right after persisting a state of that name for that role (e.g.
//!   `Alice:XmrLocked`) — before performing the state's actions. The crash-point sweep uses it
//!   to crash at every persisted state.
//! - `CONFIARO_TEST_FAULT=xmr-lock-short`: Alice locks one piconero less than agreed.
//! - `CONFIARO_TEST_FAULT=xmr-lock-fails`: Alice's XMR lock fails (as if her wallet could not
//!   pay), so she returns Bob's BTC early.
//! - `CONFIARO_TEST_FAULT=xmr-proof-lies`: Alice's transfer proof claims a Monero height a
//!   million blocks above the real one (an attacking maker, finding 5 of
//!   `docs/2026-12-06-malicious-counterparty.md`).
//! - `CONFIARO_TEST_FAULT=xmr-dust`: after her lock, Alice sends dust to the lock address.
//! - `CONFIARO_TEST_FAULT=late-redeem-signature`: Bob holds his encrypted redeem signature
//!   back until the lock is one block short of cancel, then sends it (an attacking taker,
//!   finding 2).
//! - `CONFIARO_TEST_FAULT=reuse-swap-id=<hex>`: Bob opens his next swap with this id instead
//!   of a random one (an attacking taker replaying a finished swap's id, finding 1).
//!
//! - `CONFIARO_TEST_FAULT=clock-skew=<seconds>`: the check of the clock against the chain
//!   before a taker's swap ([`crate::chain_clock`]) runs on regtest too, with the clock moved by
//!   this many seconds (negative: slow).
//!
//! Several faults combine with commas.

use confiaro_protocol::{Network, Role};

/// The faults to inject in this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Faults {
    kill_after: Vec<(Role, String)>,
    pub(crate) xmr_lock_short: bool,
    pub(crate) xmr_lock_fails: bool,
    pub(crate) xmr_proof_lies: bool,
    pub(crate) xmr_dust: bool,
    pub(crate) late_redeem_signature: bool,
    pub(crate) reuse_swap_id: Option<[u8; 32]>,
    pub(crate) clock_skew: Option<i64>,
}

impl Faults {
    /// Reads the environment; ignores it (with a warning) off regtest.
    pub(crate) fn from_env(network: Network) -> Faults {
        let kill = std::env::var("CONFIARO_TEST_KILL_AFTER").unwrap_or_default();
        let fault = std::env::var("CONFIARO_TEST_FAULT").unwrap_or_default();
        if kill.is_empty() && fault.is_empty() {
            return Faults::default();
        }
        if network != Network::Regtest {
            tracing::warn!("CONFIARO_TEST_* variables are ignored off regtest");
            return Faults::default();
        }
        let kill_after = kill
            .split(',')
            .filter_map(|item| {
                let (role, state) = item.trim().split_once(':')?;
                let role = match role {
                    "Alice" => Role::Alice,
                    "Bob" => Role::Bob,
                    _ => return None,
                };
                Some((role, state.to_owned()))
            })
            .collect();
        Faults {
            kill_after,
            xmr_lock_short: fault.split(',').any(|f| f == "xmr-lock-short"),
            xmr_lock_fails: fault.split(',').any(|f| f == "xmr-lock-fails"),
            xmr_proof_lies: fault.split(',').any(|f| f == "xmr-proof-lies"),
            xmr_dust: fault.split(',').any(|f| f == "xmr-dust"),
            late_redeem_signature: fault.split(',').any(|f| f == "late-redeem-signature"),
            reuse_swap_id: fault.split(',').find_map(|f| {
                let hex_id = f.strip_prefix("reuse-swap-id=")?;
                hex::decode(hex_id).ok()?.try_into().ok()
            }),
            clock_skew: fault
                .split(',')
                .find_map(|f| f.strip_prefix("clock-skew=")?.parse().ok()),
        }
    }

    /// Called right after a state was persisted: dies here if asked to.
    pub(crate) fn after_persist(&self, role: Role, state: &str) {
        if self
            .kill_after
            .iter()
            .any(|(r, s)| *r == role && s == state)
        {
            eprintln!("confiaro: CONFIARO_TEST_KILL_AFTER={role:?}:{state}: killing this process");
            // SAFETY: kill(2) on our own pid; no memory is involved.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
