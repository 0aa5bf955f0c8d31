//! `ssl://` Electrum and `https://` Esplora: the devnet's servers behind TLS with a CA made
//! for this run. The right CA syncs a wallet; a certificate of another CA, an expired one
//! and one for another host name are each refused with their reason before anything is
//! asked of the server.

use std::time::Duration;

use bitcoin::Amount;
use confiaro_bitcoin::{ChainSource, ElectrumSource, EsploraSource, SourceError, TlsTrust};
use confiaro_devnet::tls::{ServerCertificate, TestCa, TlsFront};
use confiaro_testkit::btc::{wallet, Devnet};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Electrum,
    Esplora,
}

/// A source of `kind` on the TLS front at `port`, by the name `localhost`.
fn source(kind: Kind, port: u16, trust: &TlsTrust) -> Box<dyn ChainSource> {
    let timeout = Duration::from_secs(10);
    match kind {
        Kind::Electrum => Box::new(
            ElectrumSource::with_trust(&format!("ssl://localhost:{port}"), timeout, trust)
                .expect("electrum source"),
        ),
        Kind::Esplora => Box::new(
            EsploraSource::with_trust(&format!("https://localhost:{port}"), timeout, trust)
                .expect("esplora source"),
        ),
    }
}

fn front(backend: std::net::SocketAddr, certificate: &ServerCertificate) -> TlsFront {
    TlsFront::start(backend, certificate.clone()).expect("TLS front")
}

/// The refusal's reason, for a source that must refuse the certificate.
fn refusal(mut source: Box<dyn ChainSource>) -> String {
    match source.tip() {
        Err(SourceError::Certificate {
            source_name,
            reason,
        }) => {
            assert!(source_name.contains("localhost"), "{source_name}");
            reason
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_sources_sync_with_the_right_ca_and_refuse_each_bad_certificate() {
    let dev = Devnet::start();
    let electrum = dev.start_electrum();
    let esplora = dev.start_esplora();
    let store = dev.store().await;
    let ca = TestCa::new("Confiaro test CA").expect("CA");
    let stranger = TestCa::new("Another CA").expect("CA");
    let ca_file = dev.dir.path().join("ca.pem");
    let stranger_file = dev.dir.path().join("stranger.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&stranger_file, stranger.pem()).unwrap();
    let trusted = TlsTrust::CaFile(ca_file);
    let valid = ca.server_certificate(&["localhost"], false).expect("cert");
    let expired = ca.server_certificate(&["localhost"], true).expect("cert");
    let other_host = ca
        .server_certificate(&["chain.example"], false)
        .expect("cert");

    for (n, (kind, backend)) in [
        (Kind::Electrum, electrum.local_addr()),
        (Kind::Esplora, esplora.local_addr()),
    ]
    .into_iter()
    .enumerate()
    {
        let good = front(backend, &valid);
        let port = good.local_addr().port();

        // the right CA: a wallet funded on the devnet syncs through TLS
        let mut w = wallet(&store, &format!("tls-{n}"), 40 + n as u8).await;
        let address = w.new_address().await.expect("address");
        dev.mine(1, &address.script_pubkey());
        dev.mine(100, &confiaro_testkit::btc::burn());
        let mut tls = source(kind, port, &trusted);
        w.sync(tls.as_mut()).await.expect("sync through TLS");
        assert_eq!(w.tip().hash, dev.node().tip_hash(), "{kind:?}");
        assert_eq!(w.balance().confirmed, Amount::from_sat(50 * 100_000_000));

        // a certificate of a CA we were not told to trust
        let reason = refusal(source(kind, port, &TlsTrust::CaFile(stranger_file.clone())));
        assert!(reason.contains("unknown issuer"), "{kind:?}: {reason}");
        // the system's CAs do not know the test CA either
        let reason = refusal(source(kind, port, &TlsTrust::System));
        assert!(reason.contains("unknown issuer"), "{kind:?}: {reason}");
        // expired
        let old = front(backend, &expired);
        let reason = refusal(source(kind, old.local_addr().port(), &trusted));
        assert!(reason.contains("expired"), "{kind:?}: {reason}");
        // made for another host
        let elsewhere = front(backend, &other_host);
        let reason = refusal(source(kind, elsewhere.local_addr().port(), &trusted));
        assert!(
            reason.contains("not valid for the name localhost"),
            "{kind:?}: {reason}"
        );

        // a dead TLS server is unreachable, not a certificate problem
        drop(good);
        let mut dead = source(kind, port, &trusted);
        assert!(
            matches!(dead.tip(), Err(SourceError::Unreachable { .. })),
            "{kind:?}"
        );
    }
}

#[test]
fn a_missing_or_empty_ca_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsTrust::CaFile(dir.path().join("none.pem"));
    let empty_file = dir.path().join("empty.pem");
    std::fs::write(&empty_file, "not a certificate\n").unwrap();
    let empty = TlsTrust::CaFile(empty_file);
    let timeout = Duration::from_secs(1);
    for trust in [&missing, &empty] {
        let electrum = ElectrumSource::with_trust("ssl://localhost:50002", timeout, trust);
        let esplora = EsploraSource::with_trust("https://localhost/api", timeout, trust);
        for err in [electrum.err(), esplora.err()] {
            match err {
                Some(SourceError::Failed { reason, .. }) => {
                    assert!(reason.contains("CA file"), "{reason}")
                }
                other => panic!("expected a CA file error, got {other:?}"),
            }
        }
    }
    // plain servers do not read the CA file at all
    assert!(ElectrumSource::with_trust("tcp://localhost:50001", timeout, &missing).is_ok());
    assert!(EsploraSource::with_trust("http://localhost/api", timeout, &missing).is_ok());
}
