//! Whole-protocol benchmarks, printed as JSON lines:
//! - `setup_exchange`: one complete setup for both roles, from key derivation through both
//!   DLEQ proofs, every message encoded and decoded (verifying the proofs), to Bob ready to
//!   publish his lock and Alice holding all signatures;
//! - `simulation`: deterministic simulation schedules per second on one thread.
//!
//! Run with `cargo bench -p confiaro-protocol --bench swap`.

#[path = "../tests/sim/mod.rs"]
mod sim;

use bitcoin::psbt::Psbt;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use confiaro_protocol::alice::Alice;
use confiaro_protocol::bob::Bob;
use confiaro_protocol::keys::{SwapSecrets, WalletSeed};
use confiaro_protocol::machine::{Action, Input};
use confiaro_protocol::messages::{self, SwapTerms};
use confiaro_protocol::{Network, Role, SwapId, SwapState, Timestamp, XmrAmount};
use std::time::Instant;

fn destination(byte: u8) -> ScriptBuf {
    ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([byte; 32]))
}

use bitcoin::hashes::Hash;

/// Runs one setup; returns the number of messages exchanged.
fn setup_exchange(round: u8) -> usize {
    let swap_id = SwapId([round; 32]);
    let terms = SwapTerms::new(
        Network::Regtest,
        Amount::from_sat(1_000_000),
        XmrAmount::from_piconero(10u64.pow(12)),
    );
    let bob_secrets = SwapSecrets::derive(&WalletSeed([1; 64]), &swap_id, Role::Bob);
    let alice_secrets = SwapSecrets::derive(&WalletSeed([2; 64]), &swap_id, Role::Alice);
    let now = Timestamp(0);
    let bob_share = bob_secrets.public_share();
    let alice_share = alice_secrets.public_share();
    let mut bob = SwapState::Bob(Box::new(Bob::new(
        swap_id,
        terms,
        bob_secrets,
        bob_share,
        destination(3),
        5,
        now,
    )));
    let mut alice = SwapState::Alice(Box::new(Alice::new(
        swap_id,
        terms,
        alice_secrets,
        alice_share,
        destination(4),
        destination(5),
        5,
        now,
    )));
    let mut to_alice = Vec::new();
    let mut to_bob = Vec::new();
    let mut bob_inputs = vec![Input::Tick];
    let mut exchanged = 0;
    loop {
        for input in std::mem::take(&mut bob_inputs) {
            for action in bob.handle(now, input).expect("honest input") {
                match action {
                    Action::Send(m) => to_alice.push(m.encode()),
                    Action::FundLock {
                        amount,
                        script_pubkey,
                    } => bob_inputs.push(Input::LockFunded {
                        psbt: fund(amount, script_pubkey),
                    }),
                    _ => {}
                }
            }
        }
        for bytes in to_alice.drain(..) {
            exchanged += 1;
            let message = messages::decode(&bytes).expect("valid message");
            for action in alice
                .handle(now, Input::Message(message))
                .expect("honest message")
            {
                if let Action::Send(m) = action {
                    to_bob.push(m.encode());
                }
            }
        }
        for bytes in to_bob.drain(..) {
            exchanged += 1;
            bob_inputs.push(Input::Message(
                messages::decode(&bytes).expect("valid message"),
            ));
        }
        if bob_inputs.is_empty() && to_alice.is_empty() {
            break;
        }
    }
    assert_eq!(bob.state_name(), "BtcLockPublished");
    assert_eq!(alice.state_name(), "SignaturesReceived");
    exchanged
}

fn fund(amount: Amount, script_pubkey: ScriptBuf) -> Psbt {
    let input = TxOut {
        value: amount + Amount::from_sat(50_000),
        script_pubkey: destination(9),
    };
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: bitcoin::Txid::from_byte_array([7; 32]),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: amount,
            script_pubkey,
        }],
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).expect("unsigned");
    psbt.inputs[0].witness_utxo = Some(input);
    psbt
}

fn main() {
    // cargo bench passes `--bench`; a filter argument is ignored.
    let rounds = 5u8;
    let started = Instant::now();
    let mut messages = 0;
    for round in 0..rounds {
        messages = setup_exchange(round);
    }
    let per_setup = started.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "{{\"bench\":\"setup_exchange\",\"rounds\":{rounds},\"messages\":{messages},\"seconds_per_setup\":{per_setup:.4}}}"
    );

    let warmup = Instant::now();
    sim::pool();
    let _ = sim::run(0);
    let warmup = warmup.elapsed().as_secs_f64();
    let schedules = 2_000u64;
    let started = Instant::now();
    let mut violations = 0;
    for seed in 0..schedules {
        violations += sim::run(seed).violations.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"simulation\",\"threads\":1,\"schedules\":{schedules},\"seconds\":{seconds:.2},\"schedules_per_second\":{:.0},\"pool_warmup_seconds\":{warmup:.2},\"violations\":{violations}}}",
        schedules as f64 / seconds
    );
}
