//! libp2p over Tor on the tests' private Tor network (real `tor` relays on loopback, real
//! arti clients): a maker reachable only as an onion service is dialled and pinged by a
//! taker that opens no socket to the maker's own port (it has none: only Tor's); the maker
//! restarted on the same state keeps its onion address; an onion address nobody serves fails
//! with "onion service not found"; a clear-TCP peer is reached through an exit. Prints the
//! timings as one `TOR {json}` line.

use std::path::Path;
use std::time::{Duration, Instant};

use confiaro_testkit::tor::TorNetwork;
use confiaro_tor::{Failure, FallbackCache, Tor, TorConfig, TorNetworkChoice, TorTransport};
use futures::StreamExt as _;
use libp2p::core::transport::Transport as _;
use libp2p::core::upgrade::Version;
use libp2p::swarm::SwarmEvent;
use libp2p::{identity, noise, ping, yamux, Multiaddr, PeerId, Swarm};

const PORT: u16 = 7777;

fn config(network: &TorNetwork, dir: &Path) -> TorConfig {
    TorConfig {
        dir: dir.to_path_buf(),
        network: TorNetworkChoice::Private {
            authorities: network.authorities(),
            fallbacks: network
                .fallbacks()
                .into_iter()
                .map(|f| FallbackCache {
                    rsa_fingerprint: f.rsa_fingerprint,
                    ed25519_identity: f.ed25519_identity,
                    or_address: f.or_address,
                })
                .collect(),
        },
    }
}

async fn bootstrap(network: &TorNetwork, dir: &Path) -> (Tor, Duration) {
    let started = Instant::now();
    let tor = Tor::bootstrap(&config(network, dir), |_| {})
        .await
        .expect("bootstraps on the private network");
    (tor, started.elapsed())
}

/// A swarm that answers pings, over `transport` only (no TCP).
fn swarm_over(transport: TorTransport, key: identity::Keypair) -> Swarm<ping::Behaviour> {
    let peer = key.public().to_peer_id();
    let transport = transport
        .upgrade(Version::V1)
        .authenticate(noise::Config::new(&key).expect("noise keys"))
        .multiplex(yamux::Config::default())
        .boxed();
    Swarm::new(
        transport,
        ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(500))),
        peer,
        libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(60)),
    )
}

/// Drives `swarm` until a ping with `peer` succeeds; the time it took, or the error that
/// ended the attempt.
async fn ping_through(
    swarm: &mut Swarm<ping::Behaviour>,
    peer: PeerId,
    address: Multiaddr,
    within: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    swarm.dial(address).map_err(|e| e.to_string())?;
    tokio::time::timeout(within, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(ping::Event {
                    peer: from,
                    result: Ok(_),
                    ..
                }) if from == peer => return Ok(started.elapsed()),
                SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.to_string()),
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no ping within {within:?}")))
}

/// Keeps `swarm` (a maker) answering in the background until the task is aborted.
fn serve(mut swarm: Swarm<ping::Behaviour>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    })
}

/// A maker on a runtime (and thread) of its own, so that stopping it ends every task of its
/// Tor client, as the end of its process would, and frees its state for a restart.
struct Maker {
    address: Multiaddr,
    bootstrap: Duration,
    launched: Instant,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Maker {
    fn start(config: TorConfig, key: identity::Keypair) -> Maker {
        let (started, ready) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let began = Instant::now();
                let tor = Tor::bootstrap(&config, |_| {})
                    .await
                    .expect("the maker bootstraps");
                let bootstrap = began.elapsed();
                let service = tor
                    .launch_onion_service("maker", PORT)
                    .expect("the onion service launches");
                let launched = Instant::now();
                let address = service.address().clone();
                let mut swarm =
                    swarm_over(TorTransport::with_onion_service(tor.clone(), service), key);
                swarm
                    .listen_on(address.clone())
                    .expect("listens on its onion");
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        address: announced, ..
                    } => {
                        assert_eq!(announced, address)
                    }
                    other => panic!("the onion address is announced first, not {other:?}"),
                }
                started
                    .send((address, bootstrap, launched))
                    .expect("the test waits");
                let serving = async {
                    loop {
                        swarm.select_next_some().await;
                    }
                };
                tokio::select! {
                    _ = serving => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
        });
        let (address, bootstrap, launched) = ready.recv().expect("the maker starts");
        Maker {
            address,
            bootstrap,
            launched,
            stop,
            thread,
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().expect("the maker's thread ends");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maker_behind_an_onion_service_is_reached_only_through_tor() {
    let started = Instant::now();
    let network = tokio::task::spawn_blocking(TorNetwork::start)
        .await
        .expect("the network starts");
    let network_ready = started.elapsed();
    let dir = tempfile::tempdir().expect("a temp dir");

    // the maker, in a runtime of its own (as a process of its own would be): an onion
    // service, and a swarm listening on it alone
    let maker_dir = dir.path().join("maker");
    let maker_key = identity::Keypair::generate_ed25519();
    let maker_peer = maker_key.public().to_peer_id();
    let maker = Maker::start(config(&network, &maker_dir), maker_key.clone());
    let (onion_address, maker_bootstrap) = (maker.address.clone(), maker.bootstrap);
    // the taker dials the onion; the service needs a moment to publish its descriptor
    let (taker_tor, taker_bootstrap) = bootstrap(&network, &dir.path().join("taker")).await;
    let mut taker = swarm_over(
        TorTransport::new(taker_tor.clone()),
        identity::Keypair::generate_ed25519(),
    );
    let target = onion_address
        .clone()
        .with_p2p(maker_peer)
        .expect("a peer address");
    let launched = maker.launched;
    let mut first_ping = None;
    for _ in 0..60 {
        match ping_through(
            &mut taker,
            maker_peer,
            target.clone(),
            Duration::from_secs(30),
        )
        .await
        {
            Ok(took) => {
                first_ping = Some(took);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let first_ping = first_ping.expect("the onion service becomes reachable");
    let reachable_after = launched.elapsed();

    // an onion nobody serves: a clear error, soon
    let nobody: Multiaddr = "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:7777"
        .parse()
        .expect("an onion multiaddr");
    let asked = Instant::now();
    let missing = taker_tor
        .connect(
            "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion",
            PORT,
        )
        .await
        .expect_err("nobody serves it");
    let not_found_after = asked.elapsed();
    assert_eq!(missing.failure(), Some(Failure::OnionNotFound), "{missing}");
    assert!(
        missing.to_string().contains("onion service not found"),
        "{missing}"
    );
    let dialled = ping_through(
        &mut taker,
        PeerId::random(),
        nobody,
        Duration::from_secs(60),
    )
    .await;
    assert!(dialled.is_err(), "{dialled:?}");

    // the maker restarts on the same state: the same onion address, reachable again
    maker.stop();
    let maker = Maker::start(config(&network, &maker_dir), maker_key);
    assert_eq!(
        maker.address, onion_address,
        "the onion address survives a restart"
    );
    let mut fresh_taker = swarm_over(
        TorTransport::new(taker_tor.clone()),
        identity::Keypair::generate_ed25519(),
    );
    let mut after_restart = None;
    for _ in 0..60 {
        if let Ok(took) = ping_through(
            &mut fresh_taker,
            maker_peer,
            target.clone(),
            Duration::from_secs(30),
        )
        .await
        {
            after_restart = Some(took);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after_restart = after_restart.expect("the restarted maker is reachable at the same onion");
    maker.stop();

    // a clear-TCP peer through an exit (the taker's dial goes to Tor's SOCKS-less client, not
    // to the peer's port: only an exit relay connects there)
    let clear_key = identity::Keypair::generate_ed25519();
    let clear_peer = clear_key.public().to_peer_id();
    let mut clear = libp2p::SwarmBuilder::with_existing_identity(clear_key)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| ping::Behaviour::new(ping::Config::new()))
        .expect("a behaviour")
        .build();
    clear
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("an address"))
        .expect("listens");
    let clear_address = match clear.select_next_some().await {
        SwarmEvent::NewListenAddr { address, .. } => address,
        other => panic!("a listen address first, not {other:?}"),
    };
    let clear_task = serve(clear);
    let through_exit = ping_through(
        &mut taker,
        clear_peer,
        clear_address.with_p2p(clear_peer).expect("a peer address"),
        Duration::from_secs(60),
    )
    .await
    .expect("a clear-TCP peer is reached through an exit");
    clear_task.abort();

    println!(
        "TOR {{\"network_ready_ms\": {}, \"maker_bootstrap_ms\": {}, \"taker_bootstrap_ms\": {}, \"onion_reachable_after_launch_ms\": {}, \"first_onion_ping_ms\": {}, \"onion_not_found_ms\": {}, \"restarted_onion_ping_ms\": {}, \"exit_ping_ms\": {}}}",
        network_ready.as_millis(),
        maker_bootstrap.as_millis(),
        taker_bootstrap.as_millis(),
        reachable_after.as_millis(),
        first_ping.as_millis(),
        not_found_after.as_millis(),
        after_restart.as_millis(),
        through_exit.as_millis(),
    );
}
