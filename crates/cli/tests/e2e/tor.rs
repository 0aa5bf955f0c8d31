//! Swaps over Tor, on a private Tor network on loopback beside the devnet: the maker serves
//! an onion service and listens on no TCP port; the taker reaches it only through Tor. Run
//! alone (the `tor` stage of the test command): circuits built under full CPU load time out.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use confiaro_testkit::e2e::{expect_finish, Party, Running, TAKER_SAT};
use confiaro_testkit::sockets::{children_of, tcp_sockets_of};
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
    let tor = [("CONFIARO_TOR_NETWORK", file.to_str().expect("a UTF-8 path"))];

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
    let maker_sockets = tcp_sockets_of(maker.pid());
    assert!(
        !maker_sockets.iter().any(|s| s.listening),
        "the maker listens on no TCP port of its own: {maker_sockets:?}"
    );

    // every TCP connection of the taker goes to a Tor relay, its own wallet RPC or the
    // devnet's chain nodes: none to the rendezvous point or any peer directly
    let mut allowed: HashSet<u16> = network.or_ports().into_iter().collect();
    allowed.insert(port_of(&devnet().info.bitcoin_rpc_url));
    allowed.insert(port_of(
        devnet().info.monerod_url.as_deref().expect("a monerod"),
    ));
    let relays: HashSet<u16> = network.or_ports().into_iter().collect();
    let mut through_tor = 0;
    let (over_tor, taker) = buy_and_time(&maker, &bob, &onion, |taker| {
        let mut allowed = allowed.clone();
        allowed.extend(children_listen_ports(taker.pid()));
        for socket in tcp_sockets_of(taker.pid())
            .into_iter()
            .filter(|s| s.established)
        {
            assert!(
                allowed.contains(&socket.remote.port()),
                "the taker connected to {} (not Tor, not its nodes)",
                socket.remote
            );
            through_tor += usize::from(relays.contains(&socket.remote.port()));
        }
    });
    assert!(through_tor > 0, "the taker talks to Tor relays");
    maker.terminate();
    drop(taker);
    assert_swapped(&bob, TAKER_SAT, &alice, alice.funded_xmr);

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
