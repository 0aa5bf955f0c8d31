//! The app's commands where no chain is needed: bad input gets a clear error with a next
//! step, and nothing starts or changes. (A whole swap through the window is the desktop
//! end-to-end test, ui/tests/desktop.ts.)

use std::sync::{Arc, Mutex};

use confiaro_app::ipc::*;
use confiaro_app::{App, AppEvent};
use confiaro_orchestrator::{
    BitcoinSourceConfig, BitcoindAuth, Engine, EngineConfig, Mnemonic, MoneroConfig, Network,
};

const WORDS: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                     abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                     abandon abandon abandon abandon abandon art";

fn app(dir: &std::path::Path) -> (App, Arc<Mutex<Vec<AppEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        Arc::new(move |e| events.lock().unwrap().push(e))
    };
    (App::new(dir, sink).unwrap(), events)
}

fn testnet_settings() -> Settings {
    Settings {
        network: NetworkName::Testnet4,
        bitcoin_source: BitcoinSourceKind::Bitcoind,
        bitcoin_url: "http://127.0.0.1:9".into(),
        bitcoin_ca_file: String::new(),
        bitcoin_rpc_user: "user".into(),
        bitcoin_rpc_password: "rpc-secret".into(),
        monerod_url: "http://127.0.0.1:9".into(),
        wallet_rpc_path: String::new(),
        rendezvous: Vec::new(),
        start_devnet: false,
        confirm_above_sat: String::new(),
        confirm_above_piconero: String::new(),
    }
}

/// An app directory with a testnet wallet (restored from known words: no node is asked for
/// its height) under `password`.
async fn locked_app(dir: &std::path::Path, password: &str) -> App {
    std::fs::write(
        dir.join("settings.json"),
        serde_json::to_vec(&testnet_settings()).unwrap(),
    )
    .unwrap();
    let config = EngineConfig::new(
        dir.join("wallet-testnet4"),
        Network::Testnet4,
        BitcoinSourceConfig::Bitcoind {
            url: "http://127.0.0.1:9".into(),
            auth: BitcoindAuth::UserPass {
                user: String::new(),
                password: String::new(),
            },
        },
        MoneroConfig::new("http://127.0.0.1:9"),
    );
    Engine::init(&config, password, Some(Mnemonic::parse(WORDS).unwrap()))
        .await
        .unwrap();
    app(dir).0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_directory_asks_for_setup_and_refuses_weak_input() {
    let dir = tempfile::tempdir().unwrap();
    let (app, events) = app(dir.path());
    assert_eq!(app.status().stage, AppStage::NeedsSetup);
    assert_eq!(app.status().network, NetworkName::Regtest);

    let short = app
        .create_wallet(CreateWallet {
            network: NetworkName::Regtest,
            password: "short".into(),
            restore_words: None,
            accept_real_money: false,
        })
        .await
        .unwrap_err();
    assert!(short.message.contains("at least 8 characters"), "{short:?}");
    assert!(!short.next_step.is_empty());

    let words = app
        .create_wallet(CreateWallet {
            network: NetworkName::Regtest,
            password: "long enough".into(),
            restore_words: Some("abandon ability able".into()),
            accept_real_money: false,
        })
        .await
        .unwrap_err();
    assert!(
        words.message.contains("not a valid recovery phrase"),
        "{words:?}"
    );

    // mainnet only with an explicit yes to real money
    let mainnet = app
        .create_wallet(CreateWallet {
            network: NetworkName::Mainnet,
            password: "long enough".into(),
            restore_words: None,
            accept_real_money: false,
        })
        .await
        .unwrap_err();
    assert!(mainnet.message.contains("real bitcoin"), "{mainnet:?}");
    assert!(mainnet.next_step.contains("real money"), "{mainnet:?}");

    let unlock = app
        .unlock(Unlock {
            password: "long enough".into(),
        })
        .await
        .unwrap_err();
    assert!(unlock.next_step.contains("Create or restore"), "{unlock:?}");

    // nothing started, nothing written
    assert_eq!(app.status().stage, AppStage::NeedsSetup);
    assert!(events.lock().unwrap().is_empty());
    assert!(!dir.path().join("settings.json").exists());
    let not_ready = app.balances().await.unwrap_err();
    assert!(not_ready.message.contains("not open"), "{not_ready:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let app = locked_app(dir.path(), "the right password").await;
    assert_eq!(app.status().stage, AppStage::Locked);
    assert_eq!(app.status().network, NetworkName::Testnet4);

    let error = app
        .unlock(Unlock {
            password: "a wrong password".into(),
        })
        .await
        .unwrap_err();
    assert!(error.message.contains("wrong password"), "{error:?}");
    assert_eq!(error.next_step, "Check the password and try again.");
    assert!(!error.message.contains("the right password"));
    assert_eq!(app.status().stage, AppStage::Locked);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_node_fails_the_start_with_the_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let app = locked_app(dir.path(), "the right password").await;
    let status = app
        .unlock(Unlock {
            password: "the right password".into(),
        })
        .await
        .unwrap();
    assert_ne!(status.stage, AppStage::Locked);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let failed = loop {
        if let AppStage::Failed { error, next_step } = app.status().stage {
            break (error, next_step);
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", app.status());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        failed.1.contains("Settings") || failed.1.contains("runs"),
        "{failed:?}"
    );
    assert!(!failed.0.contains("rpc-secret"), "{failed:?}");
    assert!(app
        .logs()
        .iter()
        .any(|line| line.level == Level::Error && line.message.contains("starting failed")));

    let export = app.export_logs().unwrap();
    assert!(export.path.starts_with(&dir.path().display().to_string()));
    let text = std::fs::read_to_string(&export.path).unwrap();
    assert_eq!(text.lines().count(), app.logs().len());
    assert!(text.contains("starting failed"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_keep_the_network_and_the_node_password() {
    let dir = tempfile::tempdir().unwrap();
    let app = locked_app(dir.path(), "the right password").await;

    let shown = app.get_settings().unwrap();
    assert_eq!(
        shown.bitcoin_rpc_password, "",
        "the password never goes to the UI"
    );

    let mut other_network = shown.clone();
    other_network.network = NetworkName::Mainnet;
    let error = app.save_settings(other_network).unwrap_err();
    assert!(error.message.contains("cannot change"), "{error:?}");

    let mut bad_url = shown.clone();
    bad_url.monerod_url = "127.0.0.1:18081".into();
    assert!(app
        .save_settings(bad_url)
        .unwrap_err()
        .message
        .contains("http://"));

    let mut bad_point = shown.clone();
    bad_point.rendezvous = vec!["not a multiaddr".into()];
    assert!(app
        .save_settings(bad_point)
        .unwrap_err()
        .message
        .contains("rendezvous point"));

    let mut changed = shown.clone();
    changed.monerod_url = "http://127.0.0.1:38089".into();
    changed.start_devnet = true; // ignored off regtest
    let saved = app.save_settings(changed).unwrap();
    assert_eq!(saved.monerod_url, "http://127.0.0.1:38089");
    assert!(!saved.start_devnet);
    let on_disk: Settings =
        serde_json::from_slice(&std::fs::read(dir.path().join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        on_disk.bitcoin_rpc_password, "rpc-secret",
        "an empty field keeps it"
    );
    assert_eq!(on_disk.monerod_url, "http://127.0.0.1:38089");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_of_another_network_is_refused_before_any_node_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let app = locked_app(dir.path(), "the right password").await;
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let key = bitcoin::secp256k1::SecretKey::from_slice(&[7; 32]).unwrap();
    let key = bitcoin::CompressedPublicKey(key.public_key(&secp));
    let btc = |network| bitcoin::Address::p2wpkh(&key, network).to_string();
    let keys = monero::KeyPair {
        view: monero::PrivateKey::from_slice(&[1; 32]).unwrap(),
        spend: monero::PrivateKey::from_slice(&[2; 32]).unwrap(),
    };
    let xmr = |network| monero::Address::from_keypair(network, &keys).to_string();
    let refused = |error: CommandError, address: &str, found: &str| {
        assert!(error.message.contains(address), "{error:?}");
        assert!(error.message.contains(found), "{error:?}");
        assert!(error.message.contains("testnet4"), "{error:?}");
        assert!(!error.next_step.is_empty());
    };

    // the app is locked: a refusal here comes from the address, not from a node
    let mainnet_btc = btc(bitcoin::Network::Bitcoin);
    let error = app
        .withdraw(Withdraw {
            asset: Asset::Btc,
            to: mainnet_btc.clone(),
            amount: Some("1000".into()),
        })
        .await
        .unwrap_err();
    refused(error, &mainnet_btc, "Bitcoin mainnet address");
    let regtest_btc = btc(bitcoin::Network::Regtest);
    let error = app
        .sell_xmr(SellXmr {
            maker: "/ip4/127.0.0.1/tcp/9".into(),
            xmr_piconero: "1000000000000".into(),
            receive_address: Some(regtest_btc.clone()),
            confirmed_above_limit: false,
        })
        .await
        .unwrap_err();
    refused(error, &regtest_btc, "Bitcoin regtest address");
    let mainnet_xmr = xmr(monero::Network::Mainnet);
    let error = app
        .buy_xmr(BuyXmr {
            maker: "/ip4/127.0.0.1/tcp/9".into(),
            btc_sat: "100000".into(),
            receive_address: Some(mainnet_xmr.clone()),
            confirmed_above_limit: false,
        })
        .await
        .unwrap_err();
    refused(error, &mainnet_xmr, "Monero mainnet address");
    let error = app
        .withdraw(Withdraw {
            asset: Asset::Xmr,
            to: mainnet_xmr.clone(),
            amount: Some("1".into()),
        })
        .await
        .unwrap_err();
    refused(error, &mainnet_xmr, "Monero mainnet address");

    // the right networks' addresses pass the check and meet the locked engine
    let error = app
        .withdraw(Withdraw {
            asset: Asset::Xmr,
            to: xmr(monero::Network::Stagenet),
            amount: Some("1".into()),
        })
        .await
        .unwrap_err();
    assert!(error.message.contains("not open"), "{error:?}");
    let error = app
        .withdraw(Withdraw {
            asset: Asset::Btc,
            to: btc(bitcoin::Network::Testnet4),
            amount: None,
        })
        .await
        .unwrap_err();
    assert!(error.message.contains("not open"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_amount_above_the_limit_needs_a_second_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let app = locked_app(dir.path(), "the right password").await;
    let mut settings = app.get_settings().unwrap();
    assert_eq!(
        settings.confirm_above_sat, "",
        "no limit on testnet4 unless set"
    );
    settings.confirm_above_sat = "0.01".into();
    let error = app.save_settings(settings.clone()).unwrap_err();
    assert!(
        error.message.contains("BTC confirmation limit"),
        "{error:?}"
    );
    settings.confirm_above_sat = "100000".into();
    settings.confirm_above_piconero = "1000000000000".into();
    app.save_settings(settings).unwrap();

    let maker = "/ip4/127.0.0.1/tcp/9";
    let buy = |sat: &str, confirmed| BuyXmr {
        maker: maker.into(),
        btc_sat: sat.into(),
        receive_address: None,
        confirmed_above_limit: confirmed,
    };
    let sell = |piconero: &str, confirmed| SellXmr {
        maker: maker.into(),
        xmr_piconero: piconero.into(),
        receive_address: None,
        confirmed_above_limit: confirmed,
    };
    // the app is locked: past the limit check, every call meets the closed engine
    let not_open = |error: CommandError| {
        assert!(error.message.contains("not open yet"), "{error:?}");
    };
    let error = app.buy_xmr(buy("100001", false)).await.unwrap_err();
    assert!(
        error
            .message
            .contains("0.00100001 BTC is above your limit of 0.001 BTC"),
        "{error:?}"
    );
    assert!(error.next_step.contains("second confirmation"), "{error:?}");
    not_open(app.buy_xmr(buy("100001", true)).await.unwrap_err());
    not_open(app.buy_xmr(buy("100000", false)).await.unwrap_err());
    let error = app
        .sell_xmr(sell("1000000000001", false))
        .await
        .unwrap_err();
    assert!(error.message.contains("above your limit of 1"), "{error:?}");
    not_open(app.sell_xmr(sell("1000000000001", true)).await.unwrap_err());
    not_open(
        app.sell_xmr(sell("1000000000000", false))
            .await
            .unwrap_err(),
    );
}
