//! Micro-benchmarks of the protocol's expensive primitives.
//!
//! Run with `cargo bench -p confiaro-protocol --bench protocol`. Sample sizes are kept small so
//! the whole run takes well under two minutes on a 2-core machine.
//!
//! The full setup exchange and simulation throughput are in `benches/swap.rs`.

// `criterion_group!` generates public functions without docs
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use bitcoin::{Amount, ScriptBuf, WPubkeyHash};
use confiaro_protocol::crypto;
use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
use confiaro_protocol::messages::{self, Message, SetupBob, SwapTerms};
use confiaro_protocol::{Network, Role, SwapId, XmrAmount};
use criterion::{criterion_group, criterion_main, Criterion};
use curve25519_dalek::Scalar as EdScalar;

fn ed_secret(byte: u8) -> EdScalar {
    let mut bytes = [byte; 32];
    bytes[31] &= 0x0f; // below 2^252, as keys.rs derives spend shares
    EdScalar::from_canonical_bytes(bytes).expect("canonical")
}

fn configured() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn dleq(c: &mut Criterion) {
    let secret = ed_secret(7);
    let (proof, secp, ed) = crypto::dleq_prove(&secret, [1; 32]);
    let mut group = c.benchmark_group("dleq");
    group.bench_function("prove", |b| {
        b.iter(|| crypto::dleq_prove(black_box(&secret), black_box([1; 32])))
    });
    group.bench_function("verify", |b| {
        b.iter(|| crypto::dleq_verify(black_box(&proof), black_box(&secp), black_box(&ed)).unwrap())
    });
    group.finish();
}

fn adaptor(c: &mut Criterion) {
    let signer = crypto::ed_scalar_to_secp(&ed_secret(3));
    let signer_key = crypto::secp_public(&signer);
    let decryption = crypto::ed_scalar_to_secp(&ed_secret(5));
    let encryption_key = crypto::secp_public(&decryption);
    let message = [9u8; 32];
    let encrypted = crypto::encrypted_sign(&signer, &encryption_key, &message);
    let signature = crypto::decrypt_signature(&decryption, &encrypted);

    let mut group = c.benchmark_group("adaptor");
    group.bench_function("encrypted_sign", |b| {
        b.iter(|| {
            crypto::encrypted_sign(
                black_box(&signer),
                black_box(&encryption_key),
                black_box(&message),
            )
        })
    });
    group.bench_function("verify_encrypted_signature", |b| {
        b.iter(|| {
            crypto::verify_encrypted_signature(
                black_box(&signer_key),
                black_box(&encryption_key),
                black_box(&message),
                black_box(&encrypted),
            )
            .unwrap()
        })
    });
    group.bench_function("decrypt_signature", |b| {
        b.iter(|| crypto::decrypt_signature(black_box(&decryption), black_box(&encrypted)))
    });
    group.bench_function("recover_decryption_key", |b| {
        b.iter(|| {
            crypto::recover_decryption_key(
                black_box(&encryption_key),
                black_box(&signature),
                black_box(&encrypted),
            )
            .unwrap()
        })
    });
    group.finish();
}

fn keys(c: &mut Criterion) {
    let seed = WalletSeed([42; 64]);
    let swap_id = SwapId([1; 32]);
    c.bench_function("keys/derive", |b| {
        b.iter(|| {
            SwapSecrets::derive(
                black_box(&seed),
                black_box(&swap_id),
                Role::Bob,
                &SwapEntropy([0; 32]),
            )
        })
    });
}

fn setup_bob_message() -> Message {
    let swap_id = SwapId([5; 32]);
    let secrets = SwapSecrets::derive(
        &WalletSeed([11; 64]),
        &swap_id,
        Role::Bob,
        &SwapEntropy([0; 32]),
    );
    Message::SetupBob(SetupBob {
        swap_id,
        terms: SwapTerms::new(
            Network::Regtest,
            confiaro_protocol::Direction::BuyXmr,
            Amount::from_sat(1_000_000),
            XmrAmount::from_piconero(1_000_000_000_000),
        ),
        share: secrets.public_share(),
        refund_address: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_raw_hash(
            bitcoin::hashes::Hash::from_byte_array([0x42; 20]),
        )),
    })
}

fn message_codec(c: &mut Criterion) {
    let message = setup_bob_message();
    let bytes = message.encode();
    assert_eq!(messages::decode(&bytes).as_ref(), Ok(&message));
    let mut group = c.benchmark_group("message/setup_bob");
    group.bench_function("encode", |b| b.iter(|| black_box(&message).encode()));
    // decode validates the whole message, including the DLEQ proof
    group.bench_function("decode", |b| {
        b.iter(|| messages::decode(black_box(&bytes)).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = configured();
    targets = dleq, adaptor, keys, message_codec
}
criterion_main!(benches);
