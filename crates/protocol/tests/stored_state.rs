//! Stored states stay readable: the machines' serialized form is the stored type, so a state
//! written by this version must load in every later one. The fixtures are the JSON of both
//! machines right after an honest setup (deterministic). `v1_*` were written before swap keys
//! took per-swap entropy (2026-12-06): they must still load and resume, but today's setup
//! makes other keys; `v2_*` were written before cancel carried keyed anchors (2026-12-06,
//! fee bumping): they must load (their cancel without anchors) and resume; both are compared
//! with today's setup on everything but the keys and transactions. `v3_*` were written
//! before the terms named a direction and the commitment hashed it (2026-12-06, selling
//! XMR): they load as buying XMR (what every swap then was) with the commitment they signed.
//! `v4_*` are today's, compared exactly.
//!
//! Regenerate them only when the stored format deliberately changes *and* a migration for the
//! old form exists: `UPDATE_FIXTURES=1 cargo test -p confiaro-protocol --test stored_state`.

use confiaro_protocol::machine::Input;
use confiaro_protocol::{SwapState, Timestamp};
use confiaro_testkit::sim;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A state written by an older version: it loads, survives a round trip, and is the same swap
/// at the same step as `fresh`.
fn check_older(name: &str, fresh: &SwapState) {
    let stored = std::fs::read(fixture(name)).expect("fixture");
    let loaded: SwapState =
        serde_json::from_slice(&stored).expect("an older state still deserializes");
    let again: SwapState =
        serde_json::from_slice(&serde_json::to_vec(&loaded).expect("serialize")).expect("load");
    assert_eq!(again, loaded, "{name}: a round trip changes the state");
    assert_eq!(loaded.swap_id(), fresh.swap_id(), "{name}");
    assert_eq!(loaded.terms(), fresh.terms(), "{name}");
    assert_eq!(loaded.state_name(), fresh.state_name(), "{name}");
    assert_eq!(loaded.phase(), fresh.phase(), "{name}");
}

fn check(name: &str, fresh: &SwapState) {
    let path = fixture(name);
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, serde_json::to_vec_pretty(fresh).expect("serialize"))
            .expect("write fixture");
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let loaded: SwapState =
        serde_json::from_slice(&stored).expect("a stored state still deserializes");
    assert_eq!(
        &loaded, fresh,
        "{name}: the stored form no longer means the same state"
    );
}

#[test]
fn stored_states_load_and_resume() {
    let (alice, bob, _) = sim::setup_exchange(42);
    for older in ["v1", "v2", "v3"] {
        check_older(&format!("{older}_alice_signatures_received.json"), &alice);
        check_older(&format!("{older}_bob_btc_lock_published.json"), &bob);
    }
    check("v4_alice_signatures_received.json", &alice);
    check("v4_bob_btc_lock_published.json", &bob);
    for version in ["v1", "v2", "v3", "v4"] {
        // a loaded state resumes: Bob re-publishes his lock and re-sends his signatures
        let stored = std::fs::read(fixture(&format!("{version}_bob_btc_lock_published.json")))
            .expect("fixture");
        resumes_with_lock_and_signatures(&stored);
    }
}

fn resumes_with_lock_and_signatures(stored: &[u8]) {
    let mut loaded: SwapState = serde_json::from_slice(stored).expect("deserializes");
    let actions = loaded.handle(Timestamp(1), Input::Resume).expect("resume");
    let names: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
    assert!(
        names.iter().any(|a| a.starts_with("SignAndPublishLock")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|a| a.starts_with("Send(BobSignatures")),
        "{names:?}"
    );
}

#[test]
fn stored_states_hold_no_secret_in_debug_output() {
    let (alice, _, _) = sim::setup_exchange(43);
    let SwapState::Alice(machine) = &alice else {
        unreachable!("setup_exchange returns Alice first")
    };
    let spend_hex: String = machine
        .secrets
        .spend
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let debug = format!("{alice:?}");
    assert!(
        !debug.contains(&spend_hex),
        "the spend share leaked into Debug output"
    );
}
