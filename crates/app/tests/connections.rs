//! The Settings screen's connection test (`test_connections`) against real servers: a devnet
//! Bitcoin node behind its bitcoind RPC, Electrum (also behind TLS with a test CA) and
//! Esplora servers, a regtest monerod, and Debian's `monero-wallet-rpc`. Each kind of source
//! works; a source or node of another network, a wrong CA, a program that is not
//! `monero-wallet-rpc` and a malformed URL are each named; a remote source the app would
//! reach through Tor is not dialled before Tor runs.

use std::sync::Arc;

use confiaro_app::ipc::*;
use confiaro_app::App;
use confiaro_devnet::tls::{TestCa, TlsFront};
use confiaro_testkit::btc::{burn, Devnet, PASSWORD, USER};

/// Settings for the devnet's nodes: bitcoind RPC, the monerod given.
fn devnet_settings(network: NetworkName, bitcoin: &Devnet, monerod_url: &str) -> Settings {
    Settings {
        network,
        bitcoin_source: BitcoinSourceKind::Bitcoind,
        bitcoin_url: bitcoin.rpc.url(),
        bitcoin_ca_file: String::new(),
        bitcoin_rpc_user: USER.into(),
        bitcoin_rpc_password: PASSWORD.into(),
        monerod_url: monerod_url.into(),
        wallet_rpc_path: String::new(),
        rendezvous: Vec::new(),
        start_devnet: false,
        confirm_above_sat: String::new(),
        confirm_above_piconero: String::new(),
    }
}

fn assert_ok(part: &PartCheck, needle: &str) {
    assert_eq!(part.outcome, CheckOutcome::Ok, "{part:?}");
    assert!(part.detail.contains(needle), "{needle:?} in {part:?}");
}

fn assert_failed(part: &PartCheck, needle: &str) {
    assert_eq!(part.outcome, CheckOutcome::Failed, "{part:?}");
    assert!(part.detail.contains(needle), "{needle:?} in {part:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_source_is_tested_and_what_is_wrong_is_named() {
    let bitcoin = Devnet::start();
    // eleven blocks of now: the tip's median time past is this machine's time
    bitcoin.mine(11, &burn());
    let monero = confiaro_testkit::xmr::Stack::start().await;
    let monerod_url = format!("http://{}", monero.monerod.address());
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path(), Arc::new(|_| {})).unwrap();
    let regtest = devnet_settings(NetworkName::Regtest, &bitcoin, &monerod_url);

    // bitcoind RPC, monerod, monero-wallet-rpc from PATH: all three work
    let check = app.test_connections(regtest.clone()).await.unwrap();
    assert!(check.ok, "{check:?}");
    assert_ok(&check.bitcoin, "height 11");
    assert_ok(&check.monero, "synced");
    assert_ok(&check.wallet_rpc, "monero-wallet-rpc (v0.18.");

    // Esplora, and Electrum behind TLS with the test CA's file
    let esplora = bitcoin.start_esplora();
    let check = app
        .test_connections(Settings {
            bitcoin_source: BitcoinSourceKind::Esplora,
            bitcoin_url: esplora.url(),
            ..regtest.clone()
        })
        .await
        .unwrap();
    assert_ok(&check.bitcoin, "height 11");
    let electrum = bitcoin.start_electrum();
    let ca = TestCa::new("Confiaro settings CA").unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let front = TlsFront::start(
        electrum.local_addr(),
        ca.server_certificate(&["localhost"], false).unwrap(),
    )
    .unwrap();
    let over_tls = Settings {
        bitcoin_source: BitcoinSourceKind::Electrum,
        bitcoin_url: format!("ssl://localhost:{}", front.local_addr().port()),
        bitcoin_ca_file: ca_file.to_string_lossy().into_owned(),
        ..regtest.clone()
    };
    let check = app.test_connections(over_tls.clone()).await.unwrap();
    assert_ok(&check.bitcoin, "height 11");
    // the same server checked against the system's CAs: its certificate is refused
    let check = app
        .test_connections(Settings {
            bitcoin_ca_file: String::new(),
            ..over_tls
        })
        .await
        .unwrap();
    assert!(!check.ok);
    assert_failed(&check.bitcoin, "certificate");

    // a signet wallet pointed at these regtest nodes: both named as another network's
    let check = app
        .test_connections(Settings {
            network: NetworkName::Signet,
            ..regtest.clone()
        })
        .await
        .unwrap();
    assert!(!check.ok);
    assert_failed(
        &check.bitcoin,
        "serves Bitcoin regtest, not the Bitcoin signet",
    );
    assert_failed(
        &check.monero,
        "runs fakechain, but a signet wallet needs a stagenet node",
    );

    // a program that is not monero-wallet-rpc, and a dead Monero node
    let check = app
        .test_connections(Settings {
            wallet_rpc_path: "/bin/true".into(),
            monerod_url: "http://127.0.0.1:9".into(),
            ..regtest.clone()
        })
        .await
        .unwrap();
    assert_ok(&check.bitcoin, "height 11");
    assert_failed(&check.monero, "127.0.0.1:9");
    assert_failed(&check.wallet_rpc, "printed no version");

    // input that cannot work is refused before anything is dialled
    let error = app
        .test_connections(Settings {
            bitcoin_source: BitcoinSourceKind::Electrum,
            bitcoin_url: esplora.url(),
            ..regtest.clone()
        })
        .await
        .unwrap_err();
    assert!(error.message.contains("tcp:// or ssl://"), "{error:?}");
    let error = app
        .test_connections(Settings {
            wallet_rpc_path: "/nonexistent/monero-wallet-rpc".into(),
            ..regtest.clone()
        })
        .await
        .unwrap_err();
    assert!(error.message.contains("does not exist"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_source_is_not_dialled_before_tor_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(dir.path(), Arc::new(|_| {})).unwrap();
    // off regtest the app reaches remote sources through Tor; no engine runs yet
    let check = app
        .test_connections(Settings {
            network: NetworkName::Signet,
            bitcoin_source: BitcoinSourceKind::Electrum,
            bitcoin_url: "ssl://electrum.invalid:60002".into(),
            bitcoin_ca_file: String::new(),
            bitcoin_rpc_user: String::new(),
            bitcoin_rpc_password: String::new(),
            monerod_url: "http://node.invalid:38089".into(),
            wallet_rpc_path: String::new(),
            rendezvous: Vec::new(),
            start_devnet: false,
            confirm_above_sat: String::new(),
            confirm_above_piconero: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(check.bitcoin.outcome, CheckOutcome::Skipped, "{check:?}");
    assert!(check.bitcoin.detail.contains("through Tor"), "{check:?}");
    assert_eq!(check.monero.outcome, CheckOutcome::Skipped, "{check:?}");
    assert!(check.ok, "a part not tried fails nothing: {check:?}");
}
