//! Helpers shared by the store's integration tests: real protocol machines, cheap KDF
//! parameters and a raw SQLite connection to the same file (to play the attacker).
#![allow(dead_code)]

use std::path::Path;
use std::str::FromStr;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, ScriptBuf, WPubkeyHash};
use confiaro_protocol::alice::Alice;
use confiaro_protocol::bob::Bob;
use confiaro_protocol::keys::{SwapSecrets, WalletSeed};
use confiaro_protocol::machine::{Action, Command, Input};
use confiaro_protocol::messages::{self, SwapTerms};
use confiaro_protocol::{Network, Role, SwapId, SwapState, Timestamp, XmrAmount};
use confiaro_store::KdfParams;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// Cheap argon2id costs, so tests that are not about the KDF stay fast.
pub const FAST_KDF: KdfParams = KdfParams {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};

/// A P2WPKH script.
pub fn p2wpkh(byte: u8) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([byte; 20]))
}

/// Terms of a regtest swap of 0.01 BTC for 1 XMR.
pub fn terms() -> SwapTerms {
    SwapTerms::new(
        Network::Regtest,
        Amount::from_sat(1_000_000),
        XmrAmount::from_piconero(1_000_000_000_000),
    )
}

/// A wallet seed with distinct bytes.
pub fn seed(salt: u8) -> WalletSeed {
    let mut bytes = [0u8; 64];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(salt);
    }
    WalletSeed(bytes)
}

/// A fresh Bob machine (phase Initialized) and its secrets.
pub fn bob(seed: &WalletSeed, swap_id: SwapId) -> (SwapState, SwapSecrets) {
    let secrets = SwapSecrets::derive(seed, &swap_id, Role::Bob);
    let share = secrets.public_share();
    let machine = Bob::new(
        swap_id,
        terms(),
        secrets.clone(),
        share,
        p2wpkh(1),
        5,
        Timestamp(0),
    );
    (SwapState::Bob(Box::new(machine)), secrets)
}

/// A fresh Alice machine (phase Initialized) and its secrets.
pub fn alice(seed: &WalletSeed, swap_id: SwapId) -> (SwapState, SwapSecrets) {
    let secrets = SwapSecrets::derive(seed, &swap_id, Role::Alice);
    let share = secrets.public_share();
    let machine = Alice::new(
        swap_id,
        terms(),
        secrets.clone(),
        share,
        p2wpkh(2),
        p2wpkh(3),
        5,
        Timestamp(0),
    );
    (SwapState::Alice(Box::new(machine)), secrets)
}

/// Feeds `input` and returns the messages the machine sends, encoded and decoded as on the
/// wire.
pub fn step(state: &mut SwapState, input: Input) -> Vec<Input> {
    state
        .handle(Timestamp(1), input)
        .expect("honest input")
        .into_iter()
        .filter_map(|action| match action {
            Action::Send(m) => Some(Input::Message(
                messages::decode(&m.encode()).expect("valid message"),
            )),
            _ => None,
        })
        .collect()
}

/// Bob's states through a setup that he then aborts: Initialized, SetupSent (Negotiating),
/// LockFunding (Negotiating, after Alice's answer), Aborted. Also returns Alice's state after
/// answering (Negotiating).
pub fn bob_states(
    seed_bob: &WalletSeed,
    seed_alice: &WalletSeed,
    swap_id: SwapId,
) -> (Vec<SwapState>, SwapState) {
    let (mut bob, _) = bob(seed_bob, swap_id);
    let (mut alice, _) = alice(seed_alice, swap_id);
    let mut states = vec![bob.clone()];
    let to_alice = step(&mut bob, Input::Tick);
    states.push(bob.clone());
    let mut to_bob = Vec::new();
    for m in to_alice {
        to_bob.extend(step(&mut alice, m));
    }
    for m in to_bob {
        step(&mut bob, m);
    }
    states.push(bob.clone());
    step(&mut bob, Input::Command(Command::Abort));
    states.push(bob);
    (states, alice)
}

/// A second connection pool to the same database file, for raw SQL the store's API does not
/// allow (tampering, checking triggers).
pub async fn raw_pool(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::from_str("sqlite:")
        .unwrap()
        .filename(path);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}
