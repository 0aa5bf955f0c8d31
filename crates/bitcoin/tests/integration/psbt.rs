//! The lock transaction signed by an external signer: exported as a PSBT file, signed
//! elsewhere (here another wallet instance from the same seed, standing in for a hardware
//! wallet that has never seen the chain), imported back, checked and broadcast.

use bitcoin::{Amount, FeeRate};
use confiaro_bitcoin::psbt_file::{self, PsbtFileError};
use confiaro_bitcoin::{ChainSource, TxStatus};
use confiaro_devnet::testkit::TestKey;
use confiaro_protocol::btc::{TwoOfTwo, TxError};
use confiaro_testkit::btc::{wallet, Devnet};

fn two_of_two(n: u8) -> TwoOfTwo {
    TwoOfTwo::new(TestKey::new(n).public, TestKey::new(n + 1).public).expect("2-of-2")
}

#[tokio::test]
async fn lock_signed_by_an_external_signer_round_trips_through_files() {
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut app = wallet(&store, "app", 5).await;
    let address = app.new_address().await.expect("address");
    dev.mine(101, &address.script_pubkey());
    app.sync(&mut source).await.expect("sync");

    let amount = Amount::from_sat(50_000_000);
    let lock = app
        .build_lock(two_of_two(1), amount, FeeRate::from_sat_per_vb_u32(3), &[])
        .await
        .expect("lock");
    let dir = tempfile::tempdir().expect("dir");
    let exported = dir.path().join("lock.psbt");
    psbt_file::write(lock.psbt(), &exported).expect("export");
    let text = std::fs::read_to_string(&exported).expect("read");
    assert_eq!(text.trim(), psbt_file::to_base64(lock.psbt()));
    assert!(!dir.path().join("lock.psbt.partial").exists());

    // The signer: the same seed in another store, never synced.
    let signer_store = confiaro_store::Store::open(dir.path().join("signer.sqlite"))
        .await
        .expect("store");
    let signer = wallet(&signer_store, "hw", 5).await;
    let mut to_sign = psbt_file::read(&exported).expect("signer reads");
    assert_eq!(to_sign, *lock.psbt());
    signer.sign(&mut to_sign).expect("signer signs");
    // It hands back the binary form.
    let signed_path = dir.path().join("lock-signed.psbt");
    std::fs::write(&signed_path, to_sign.serialize()).expect("write signed");

    // Refusals first: nothing is broadcast.
    let unsigned = psbt_file::read(&exported).expect("read");
    assert!(matches!(
        psbt_file::import_signed_lock(&lock, unsigned),
        Err(PsbtFileError::Lock(TxError::InputNotFinalized { index: 0 }))
    ));
    let other = app
        .build_lock(two_of_two(9), amount, FeeRate::from_sat_per_vb_u32(3), &[])
        .await
        .expect("other lock");
    let mut other_signed = other.psbt().clone();
    app.sign(&mut other_signed).expect("sign other");
    assert!(matches!(
        psbt_file::import_signed_lock(&lock, other_signed),
        Err(PsbtFileError::Lock(TxError::TxidMismatch { .. }))
    ));
    let mut tampered = psbt_file::read(&signed_path).expect("read");
    let witness = tampered.inputs[0]
        .final_script_witness
        .as_mut()
        .expect("witness");
    let mut items: Vec<Vec<u8>> = witness.iter().map(<[u8]>::to_vec).collect();
    items[0][10] ^= 1;
    *witness = bitcoin::Witness::from_slice(&items);
    let err = psbt_file::import_signed_lock(&lock, tampered).expect_err("tampered");
    assert!(
        matches!(err, PsbtFileError::BadSignature { index: 0, .. }),
        "{err:?}"
    );
    println!("tampered signature: {err}");
    let garbage = dir.path().join("garbage.psbt");
    std::fs::write(&garbage, "this is not a psbt").expect("write");
    assert!(matches!(
        psbt_file::read(&garbage),
        Err(PsbtFileError::Parse(_))
    ));
    assert!(matches!(
        psbt_file::read(&dir.path().join("missing.psbt")),
        Err(PsbtFileError::Io { .. })
    ));

    // The real one: same transaction, fully signed, valid: broadcast and confirmed.
    let signed = psbt_file::read(&signed_path).expect("import");
    let tx = psbt_file::import_signed_lock(&lock, signed).expect("accepted");
    assert_eq!(tx.compute_txid(), lock.txid());
    source.broadcast(&tx).expect("broadcast");
    dev.mine_empty(1);
    let status = source
        .tx_status(&lock.txid(), &lock.two_of_two().script_pubkey())
        .expect("status");
    assert!(matches!(status, TxStatus::Confirmed { .. }));
    assert_eq!(
        dev.node().utxo(&lock.outpoint()).expect("utxo").txout.value,
        amount
    );
}
