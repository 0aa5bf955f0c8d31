//! Swaps over Tor, on a private Tor network on loopback beside the devnet: the maker serves
//! an onion service and listens on no TCP port; the taker reaches it only through Tor. Run
//! alone (the `tor` stage of the test command): circuits built under full CPU load time out.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use confiaro_testkit::e2e::{expect_finish, Party, Running, TAKER_SAT};
use confiaro_testkit::sockets::{children_of, tcp_sockets_of, TcpSocket};
use confiaro_testkit::tor::TorNetwork;

use crate::devnet;
use crate::swaps::assert_swapped;

/// The port of a `scheme://host:port[/…]` URL.
fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).unwrap_or(url);
    let host_port = authority.split('/').next().unwrap_or(authority);
    host_port
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

/// The ports process `pid`'s children (its wallet RPC) listen on.
fn children_listen_ports(pid: u32) -> HashSet<u16> {
    children_of(pid)
        .into_iter()
        .flat_map(tcp_sockets_of)
        .filter(|s| s.listening)
        .map(|s| s.local.port())
        .collect()
}

/// Serves the loopback TCP `port` as an onion service on `network` (an arti client of this
/// test's own, in the returned runtime: keep it), once reachable; returns its `….onion` name.
fn serve_onion(network: &TorNetwork, port: u16) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = network.dir().join(format!("onion-{port}"));
    let onion = runtime.block_on(async {
        let config = confiaro_tor::TorConfig {
            dir,
            network: confiaro_tor::TorNetworkChoice::Private {
                authorities: network.authorities(),
                fallbacks: network
                    .fallbacks()
                    .into_iter()
                    .map(|f| confiaro_tor::FallbackCache {
                        rsa_fingerprint: f.rsa_fingerprint,
                        ed25519_identity: f.ed25519_identity,
                        or_address: f.or_address,
                    })
                    .collect(),
            },
        };
        let tor = confiaro_tor::Tor::bootstrap(&config, |_| {})
            .await
            .expect("the onion's Tor client bootstraps");
        let service = tor
            .launch_onion_service("devnet-monerod", port)
            .expect("the onion service launches");
        let onion = service.onion().to_owned();
        let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        service.forward_to(target).expect("its streams");
        // reachable once its descriptor is published: ask through the same network
        let deadline = Instant::now() + Duration::from_secs(180);
        while tor.connect(&onion, port).await.is_err() {
            assert!(Instant::now() < deadline, "{onion} never became reachable");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        onion
    });
    (runtime, onion)
}

/// What [`sample_connections`] saw.
struct Seen {
    /// The ports the taker and its children connected to.
    remote_ports: HashSet<u16>,
    /// Connections to neither a relay nor each other.
    strays: Vec<String>,
    samples: usize,
}

/// Samples the established TCP connections of process `pid` and its children every 50 ms
/// while `sampling` holds: each must go to a Tor relay (`relays`) or to one of the ports the
/// process and its children listen on (its wallet RPC, its local Tor proxy), either way.
fn sample_connections(
    pid: u32,
    relays: &HashSet<u16>,
    sampling: &std::sync::atomic::AtomicBool,
) -> Seen {
    let mut seen = Seen {
        remote_ports: HashSet::new(),
        strays: Vec::new(),
        samples: 0,
    };
    while sampling.load(std::sync::atomic::Ordering::Relaxed) {
        let mut ours = children_listen_ports(pid);
        let taker = tcp_sockets_of(pid);
        ours.extend(taker.iter().filter(|s| s.listening).map(|s| s.local.port()));
        let children: Vec<(u32, Vec<TcpSocket>)> = children_of(pid)
            .into_iter()
            .map(|child| (child, tcp_sockets_of(child)))
            .collect();
        // a child started between the two reads (a sweep's wallet RPC) listens in this one
        ours.extend(children_listen_ports(pid));
        let sockets = taker.into_iter().map(|s| (pid, s)).chain(
            children
                .into_iter()
                .flat_map(|(child, sockets)| sockets.into_iter().map(move |s| (child, s))),
        );
        for (owner, socket) in sockets.filter(|(_, s)| s.established) {
            let (local, remote) = (socket.local.port(), socket.remote.port());
            seen.remote_ports.insert(remote);
            if !(relays.contains(&remote) || ours.contains(&remote) || ours.contains(&local)) {
                let command =
                    std::fs::read_to_string(format!("/proc/{owner}/comm")).unwrap_or_default();
                seen.strays.push(format!(
                    "{} -> {} ({} {owner})",
                    socket.local,
                    socket.remote,
                    command.trim()
                ));
            }
        }
        seen.samples += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

/// Buys XMR from the running `maker` at `address`, calling `during` once the swap started;
/// the swap's wall time, from `swap` to both sides Completed, and the taker's process.
fn buy_and_time(
    maker: &Running,
    bob: &Party,
    address: &str,
    mut during: impl FnMut(&Running),
) -> (Duration, Running) {
    let started = Instant::now();
    let (taker, _) = bob.buy(address, &[]);
    during(&taker);
    expect_finish(maker, "Completed", Some("BtcRedeemed"));
    expect_finish(&taker, "Completed", Some("XmrRedeemed"));
    (started.elapsed(), taker)
}

#[test]
fn a_swap_through_the_makers_onion_service_and_its_restart() {
    let network = TorNetwork::start();
    let file = network.client_file();
    // through Tor, monero-wallet-rpc takes a plain-HTTP node only at an onion address: the
    // devnet's monerod gets one
    let monerod_port = port_of(devnet().info.monerod_url.as_deref().expect("a monerod"));
    let (_onion_runtime, onion) = serve_onion(&network, monerod_port);
    let monerod_onion = format!("http://{onion}:{monerod_port}");
    let tor = [
        ("CONFIARO_TOR_NETWORK", file.to_str().expect("a UTF-8 path")),
        ("CONFIARO_MONEROD_URL", monerod_onion.as_str()),
    ];

    // the same swap over clear TCP first, for the wall time beside Tor's
    let alice_tcp = devnet().funded_maker("alice-clear", 1);
    let bob_tcp = devnet().funded_taker("bob-clear");
    let (mut maker, address) = alice_tcp.start_maker(&[]);
    let (over_tcp, taker) = buy_and_time(&maker, &bob_tcp, &address, |_| {});
    maker.terminate();
    drop(taker);
    assert_swapped(&bob_tcp, TAKER_SAT, &alice_tcp, alice_tcp.funded_xmr);

    // two outputs: one for each swap (a change output is not spendable at once)
    let alice = devnet().funded_maker_with_env("alice-onion", 2, &tor);
    let bob = devnet().funded_taker_with_env("bob-onion", &tor);
    let launching = Instant::now();
    let (mut maker, onion) = alice.start_onion_maker(&[]);
    let maker_ready = launching.elapsed();
    assert!(onion.starts_with("/onion3/"), "{onion}");
    // its one listening socket is its local Tor proxy (loopback, for its own chain clients)
    let stderr = maker.stderr();
    let proxy = stderr
        .split("proxy=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the maker logs its Tor proxy: {stderr}"))
        .to_owned();
    let maker_sockets = tcp_sockets_of(maker.pid());
    assert!(
        maker_sockets
            .iter()
            .filter(|s| s.listening)
            .all(|s| s.local.to_string() == proxy),
        "the maker listens on no TCP port but its local Tor proxy {proxy}: {maker_sockets:?}"
    );

    // every TCP connection of the taker and of its wallet RPC goes to a Tor relay, to the
    // other (the taker's wallet RPC, the taker's local Tor proxy): none to the rendezvous
    // point, a peer or a chain node directly; sampled all through the swap
    let relays: HashSet<u16> = network.or_ports().into_iter().collect();
    let chain_ports = [
        port_of(&devnet().info.bitcoin_rpc_url),
        port_of(devnet().info.monerod_url.as_deref().expect("a monerod")),
    ];
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut sampler = None;
    let (over_tor, taker) = buy_and_time(&maker, &bob, &onion, |taker| {
        let (pid, sampling) = (taker.pid(), std::sync::Arc::clone(&sampling));
        let relays = relays.clone();
        sampler = Some(std::thread::spawn(move || {
            sample_connections(pid, &relays, &sampling)
        }));
    });
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let seen = sampler
        .expect("the swap started")
        .join()
        .expect("the sampler ends");
    assert!(
        seen.strays.is_empty(),
        "the taker or its wallet RPC connected past Tor: {:?}",
        seen.strays
    );
    assert!(
        !seen.remote_ports.iter().any(|p| chain_ports.contains(p)),
        "no socket to the chain nodes ({chain_ports:?}): {:?}",
        seen.remote_ports
    );
    let through_tor = seen.remote_ports.intersection(&relays).count();
    assert!(
        seen.samples > 10,
        "sampled all through the swap ({} samples)",
        seen.samples
    );
    assert!(through_tor > 0, "the taker talks to Tor relays");
    maker.terminate();
    drop(taker);
    assert_swapped(&bob, TAKER_SAT, &alice, alice.funded_xmr);

    // the light-client sources through Tor too: the same balance by Electrum (SOCKS5) and
    // Esplora (HTTP CONNECT) as by bitcoind
    let by_bitcoind = bob.balances();
    for (flag, url) in [
        ("--electrum", devnet().info.electrum_url.as_deref()),
        ("--esplora", devnet().info.esplora_url.as_deref()),
    ] {
        let url = url.unwrap_or_else(|| panic!("the devnet serves {flag}"));
        let (status, lines, stderr) = bob.run(&["wallet", "balance", flag, url]);
        assert!(status.success(), "{flag} through Tor: {stderr}");
        assert!(
            stderr.contains("chain sources through Tor bitcoin=true monero=true"),
            "{flag}: {stderr}"
        );
        let balance = &lines[0];
        let btc = balance["btc_confirmed_sat"].as_u64().expect("sat")
            + balance["btc_pending_sat"].as_u64().expect("sat");
        assert_eq!(btc, by_bitcoind.0, "{flag} sees what bitcoind sees");
    }

    // the maker restarted on its data directory keeps its onion address, and swaps there
    let (mut maker, again) = alice.start_onion_maker(&[]);
    assert_eq!(again, onion, "the onion address survives a restart");
    let (taker, _) = bob.buy(&onion, &[]);
    expect_finish(&maker, "Completed", Some("BtcRedeemed"));
    expect_finish(&taker, "Completed", Some("XmrRedeemed"));
    maker.terminate();

    // an onion nobody serves: a clear error, no clear-TCP fallback
    let nobody = "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:7777/p2p/12D3KooWRVbozCHCfxLvD6Pqsntyx8htc69HbpL1fMMXnQQstgf1";
    let (status, _, stderr) = bob.run(&["swap", "buy-xmr", "--btc", "0.01", "--maker", nobody]);
    assert!(!status.success());
    assert!(stderr.contains("onion service not found"), "{stderr}");

    println!(
        "TOR-SWAP {{\"maker_ready_ms\": {}, \"buy_over_tor_ms\": {}, \"buy_over_tcp_ms\": {}}}",
        maker_ready.as_millis(),
        over_tor.as_millis(),
        over_tcp.as_millis()
    );
}
