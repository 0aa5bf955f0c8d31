//! The private Tor network comes up on loopback, lists every node with the flags a client
//! needs, speaks Tor's link protocol on its ORPorts, and is gone when dropped.

use std::net::TcpStream;
use std::time::Duration;

use confiaro_testkit::tor::TorNetwork;

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

#[test]
fn a_private_tor_network_comes_up_on_loopback_and_goes_away_when_dropped() {
    let network = TorNetwork::start();
    println!(
        "TOR_NETWORK {{\"ready_ms\": {}}}",
        network.ready_after().as_millis()
    );
    assert_eq!(network.authorities().len(), 3);
    assert_eq!(network.nodes().len(), 8);
    assert_eq!(network.nodes().iter().filter(|n| n.exit).count(), 5);
    let fallbacks = network.fallbacks();
    assert_eq!(fallbacks.len(), 3);
    for fallback in &fallbacks {
        assert!(fallback.or_address.ip().is_loopback());
        assert_eq!(fallback.rsa_fingerprint.len(), 40);
        assert!(!fallback.ed25519_identity.is_empty());
        TcpStream::connect_timeout(&fallback.or_address, Duration::from_secs(5))
            .expect("an authority's ORPort accepts connections");
    }
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&*network.dir().to_string_lossy()))
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(pids.len(), 8, "one tor per node");
    drop(network);
    for pid in pids {
        assert!(!alive(pid), "tor {pid} outlived its network");
    }
}
