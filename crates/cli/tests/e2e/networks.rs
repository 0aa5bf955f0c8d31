//! The network pairings and TLS chain sources from the command line: a wallet per pairing
//! (testnet4 and signet with Monero stagenet, mainnet only after an explicit yes), each with
//! its own network's addresses; and a regtest wallet reading the devnet through `ssl://`
//! Electrum and `https://` Esplora with a CA made for the test, a certificate of another CA
//! refused with its reason; `confiaro check` on the devnet's sources, and naming a dead node
//! and a missing `monero-wallet-rpc`.

use std::process::{Command, Output};

use confiaro_devnet::tls::{TestCa, TlsFront};
use confiaro_testkit::e2e::{json_lines, TAKER_SAT};
use serde_json::Value;

use crate::devnet;

fn confiaro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_confiaro"))
        .arg("--json")
        .args(args)
        .env("CONFIARO_PASSWORD", "a password for the network tests")
        .env_remove("CONFIARO_DATA_DIR")
        .env_remove("CONFIARO_TEST_FAULT")
        .output()
        .expect("confiaro runs")
}

fn last_line(output: &Output) -> Value {
    json_lines(&String::from_utf8_lossy(&output.stdout))
        .pop()
        .expect("a JSON line")
}

#[test]
fn each_pairing_makes_a_wallet_of_its_own_networks_and_mainnet_needs_a_yes() {
    let dir = tempfile::tempdir().unwrap();
    for (network, btc_prefix, xmr_prefix) in [
        ("signet", "tb1", '5'),
        ("testnet4", "tb1", '5'),
        ("mainnet", "bc1", '4'),
    ] {
        let data = dir.path().join(network);
        let data = data.to_str().unwrap();
        let init = |extra: &[&str]| {
            let mut args = vec!["--network", network, "--data-dir", data, "init"];
            args.extend_from_slice(extra);
            confiaro(&args)
        };
        if network == "mainnet" {
            let refused = init(&[]);
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(!refused.status.success(), "{stderr}");
            assert!(
                stderr.contains("real bitcoin") && stderr.contains("--real-money"),
                "{stderr}"
            );
            assert!(
                !std::path::Path::new(data).join("confiaro.sqlite").exists(),
                "nothing created without the yes"
            );
        }
        let created = init(&["--real-money"]);
        let stderr = String::from_utf8_lossy(&created.stderr);
        assert!(created.status.success(), "{network}: {stderr}");
        let wallet = last_line(&created);
        let btc = wallet["btc_address"].as_str().expect("btc address");
        let xmr = wallet["xmr_address"].as_str().expect("xmr address");
        assert!(btc.starts_with(btc_prefix), "{network}: {btc}");
        assert!(xmr.starts_with(xmr_prefix), "{network}: {xmr}");
    }
    let unknown = confiaro(&["--network", "testnet", "init"]);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success());
    assert!(stderr.contains("testnet4, signet"), "{stderr}");
}

#[test]
fn a_wallet_reads_the_devnet_through_tls_and_refuses_another_cas_certificate() {
    let devnet = devnet();
    let party = devnet.funded_taker("tls-reader");
    let ca = TestCa::new("Confiaro e2e CA").expect("CA");
    let stranger = TestCa::new("Another CA").expect("CA");
    let ca_file = party.dir.path().join("ca.pem");
    let stranger_file = party.dir.path().join("stranger.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&stranger_file, stranger.pem()).unwrap();
    let certificate = ca.server_certificate(&["localhost"], false).expect("cert");
    let backend = |url: &Option<String>| -> std::net::SocketAddr {
        let url = url.as_deref().expect("the devnet serves it");
        let authority = url
            .split("://")
            .nth(1)
            .expect("a URL")
            .trim_end_matches('/');
        authority.parse().expect("host:port")
    };
    let electrum =
        TlsFront::start(backend(&devnet.info.electrum_url), certificate.clone()).expect("front");
    let esplora = TlsFront::start(backend(&devnet.info.esplora_url), certificate).expect("front");
    let sources = [
        (
            "--electrum",
            format!("ssl://localhost:{}", electrum.local_addr().port()),
        ),
        (
            "--esplora",
            format!("https://localhost:{}", esplora.local_addr().port()),
        ),
    ];
    for (flag, url) in &sources {
        let args = |ca: &std::path::Path| {
            let mut command = party.command(&[
                flag,
                url,
                "--chain-ca",
                ca.to_str().unwrap(),
                "wallet",
                "balance",
            ]);
            command.output().expect("confiaro runs")
        };
        let read = args(&ca_file);
        assert!(
            read.status.success(),
            "{flag} {url}: {}",
            String::from_utf8_lossy(&read.stderr)
        );
        let balance = last_line(&read);
        assert_eq!(
            balance["btc_confirmed_sat"].as_u64().unwrap_or(0)
                + balance["btc_pending_sat"].as_u64().unwrap_or(0),
            TAKER_SAT,
            "{flag}: {balance}"
        );
        let refused = args(&stranger_file);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{flag}: {stderr}");
        assert!(
            stderr.contains("certificate is refused") && stderr.contains("unknown issuer"),
            "{flag}: {stderr}"
        );
    }
}

#[test]
fn check_tests_the_sources_and_names_what_is_wrong() {
    let party = devnet().party("checker");
    let (status, lines, stderr) = party.run(&["check"]);
    let report = lines.last().expect("a report").clone();
    assert!(status.success(), "{report} {stderr}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["network"], "regtest");
    assert!(report["bitcoin"]["height"].as_u64().is_some(), "{report}");
    assert!(report["monero"]["height"].as_u64().is_some(), "{report}");
    let version = report["wallet_rpc"]["version"].as_str().expect("a version");
    assert!(version.starts_with("v0.18."), "{report}");

    // a dead Monero node and a missing monero-wallet-rpc: each named, the rest still tested
    let (status, lines, _) = party.run(&[
        "--monerod-url",
        "http://127.0.0.1:9",
        "--monero-wallet-rpc",
        "/nonexistent/monero-wallet-rpc",
        "check",
    ]);
    let report = lines.last().expect("a report").clone();
    assert!(!status.success(), "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["bitcoin"]["ok"], true, "{report}");
    let monero = report["monero"]["error"].as_str().expect("an error");
    assert!(monero.contains("127.0.0.1:9"), "{report}");
    let rpc = report["wallet_rpc"]["error"].as_str().expect("an error");
    assert!(
        rpc.contains("not found") && rpc.contains("apt install monero"),
        "{report}"
    );

    // a signet wallet pointed at the devnet's regtest Esplora and Monero node: both refused
    // as serving another network, each by name
    let info = &devnet().info;
    let outsider = tempfile::tempdir().expect("a directory");
    let output = Command::new(env!("CARGO_BIN_EXE_confiaro"))
        .current_dir(outsider.path())
        .args(["--json", "--network", "signet", "--data-dir"])
        .arg(outsider.path().join("data"))
        .args(["--esplora", info.esplora_url.as_deref().expect("esplora")])
        .args([
            "--monerod-url",
            info.monerod_url.as_deref().expect("monerod"),
        ])
        .arg("check")
        .output()
        .expect("confiaro runs");
    let report = json_lines(&String::from_utf8_lossy(&output.stdout))
        .pop()
        .expect("a report");
    assert!(!output.status.success(), "{report}");
    let bitcoin = report["bitcoin"]["error"].as_str().expect("an error");
    assert!(
        bitcoin.contains("serves Bitcoin regtest, not the Bitcoin signet"),
        "{report}"
    );
    let monero = report["monero"]["error"].as_str().expect("an error");
    assert!(
        monero.contains("runs fakechain, but a signet wallet needs a stagenet node"),
        "{report}"
    );
}
