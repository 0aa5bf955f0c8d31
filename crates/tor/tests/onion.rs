//! The project's libp2p network over Tor, on the tests' private Tor network (real `tor` relays
//! on loopback, real arti clients): a maker reachable only as an onion service answers a
//! taker whose network has no TCP at all (so it opens no socket to the maker's own port: the
//! maker has none, only Tor's); the maker restarted on the same state keeps its onion address;
//! an onion address nobody serves fails with "onion service not found"; a clear-TCP peer is
//! reached through an exit; the local proxy the chain clients use reaches a loopback server
//! through an exit in SOCKS5, SOCKS4a and HTTP `CONNECT`. Prints the timings as one `TOR {json}` line.
//!
//! Every wait is bounded: a step that does not happen in time fails the test with what it saw.

use std::path::Path;
use std::time::{Duration, Instant};

use confiaro_p2p::{
    stream_transport, IdentitySecret, Network, NetworkConfig, NetworkEvent, SwapProtocol,
};
use confiaro_testkit::tor::TorNetwork;
use confiaro_tor::{
    Failure, FallbackCache, LocalProxy, Tor, TorConfig, TorNetworkChoice, TorTransport,
};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

const PORT: u16 = 7777;
/// How long an onion service may take to become reachable (its descriptor is published).
const REACHABLE_WITHIN: Duration = Duration::from_secs(180);
/// How long one dial and request may take (a dial that outlives it goes on in the swarm).
const ATTEMPT: Duration = Duration::from_secs(60);

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

/// Answers every request on `events` with `ack:<payload>`, until the events end.
fn answer(mut events: mpsc::Receiver<NetworkEvent>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetworkEvent::InboundRequest(request) = event {
                let mut ack = b"ack:".to_vec();
                ack.extend_from_slice(&request.payload);
                let _ = request.responder.ack(Some(ack)).await;
            }
        }
    })
}

/// A taker's network over `tor` alone.
async fn taker_over(tor: &Tor, seed: u8) -> Network {
    let (network, events) = Network::start_over(
        NetworkConfig::new(IdentitySecret::from_bytes([seed; 32])),
        stream_transport(TorTransport::new(tor.clone())),
    )
    .await
    .expect("the taker's network starts over Tor");
    drop(events);
    network
}

/// Dials `address` of `peer` and asks a quote; the time it took, or what failed.
async fn ask(taker: &Network, peer: PeerId, address: &Multiaddr) -> Result<Duration, String> {
    let started = Instant::now();
    let attempt = async {
        let address = address.clone().with_p2p(peer).map_err(|a| a.to_string())?;
        let reached = taker.dial(address).await.map_err(|e| e.to_string())?;
        if reached != peer {
            return Err(format!("reached {reached}, not {peer}"));
        }
        let ack = taker
            .send(peer, SwapProtocol::Quote, b"quote?".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        if ack.as_deref() != Some(b"ack:quote?".as_slice()) {
            return Err(format!("unexpected answer {ack:?}"));
        }
        Ok(started.elapsed())
    };
    tokio::time::timeout(ATTEMPT, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {ATTEMPT:?}")))
}

/// [`ask`] again until it succeeds or `within` passes; the time of the successful attempt,
/// or every failure seen.
async fn ask_until(
    taker: &Network,
    peer: PeerId,
    address: &Multiaddr,
    within: Duration,
) -> Result<Duration, Vec<String>> {
    let deadline = Instant::now() + within;
    let mut failures = Vec::new();
    while Instant::now() < deadline {
        match ask(taker, peer, address).await {
            Ok(took) => return Ok(took),
            Err(failure) => failures.push(failure),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(failures)
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
    fn start(config: TorConfig, identity: [u8; 32]) -> Maker {
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
                let (network, events) = Network::start_over(
                    NetworkConfig::new(IdentitySecret::from_bytes(identity)),
                    stream_transport(TorTransport::with_onion_service(tor.clone(), service)),
                )
                .await
                .expect("the maker's network starts over Tor");
                assert_eq!(
                    network
                        .listen(address.clone())
                        .await
                        .expect("listens on its onion"),
                    address
                );
                let answering = answer(events);
                started
                    .send((address, bootstrap, launched))
                    .expect("the test waits");
                let _ = stopped.await;
                network.shutdown().await;
                answering.abort();
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
    // service, and a network listening on it alone
    let maker_dir = dir.path().join("maker");
    let maker_identity = [21; 32];
    let maker_peer = IdentitySecret::from_bytes(maker_identity)
        .peer_id()
        .expect("a valid identity");
    let maker = Maker::start(config(&network, &maker_dir), maker_identity);
    let (onion_address, maker_bootstrap) = (maker.address.clone(), maker.bootstrap);
    // the taker asks over Tor; the service needs a moment to publish its descriptor
    let (taker_tor, taker_bootstrap) = bootstrap(&network, &dir.path().join("taker")).await;
    let taker = taker_over(&taker_tor, 22).await;
    let launched = maker.launched;
    let first_answer = ask_until(&taker, maker_peer, &onion_address, REACHABLE_WITHIN)
        .await
        .unwrap_or_else(|failures| panic!("the onion service never answered: {failures:?}"));
    let reachable_after = launched.elapsed();

    // an onion nobody serves: a clear error, soon
    let nobody = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd";
    let asked = Instant::now();
    let missing = tokio::time::timeout(
        Duration::from_secs(120),
        taker_tor.connect(&format!("{nobody}.onion"), PORT),
    )
    .await
    .expect("an answer in time")
    .expect_err("nobody serves it");
    let not_found_after = asked.elapsed();
    assert_eq!(missing.failure(), Some(Failure::OnionNotFound), "{missing}");
    assert!(
        missing.to_string().contains("onion service not found"),
        "{missing}"
    );
    let unserved: Multiaddr = format!("/onion3/{nobody}:{PORT}")
        .parse()
        .expect("an onion multiaddr");
    let asked = ask(&taker, PeerId::random(), &unserved).await;
    assert!(asked.is_err(), "{asked:?}");

    // the maker restarts on the same state: the same onion address, reachable again
    maker.stop();
    let maker = Maker::start(config(&network, &maker_dir), maker_identity);
    assert_eq!(
        maker.address, onion_address,
        "the onion address survives a restart"
    );
    // a new taker (as a new process would be): a client that reached the service before its
    // restart can fail on it for minutes (seen: 3 × 60 s), on what it keeps of the old
    // instance (docs/2026-12-06-tor-on-arti.md)
    let (fresh_tor, _) = bootstrap(&network, &dir.path().join("taker-after-restart")).await;
    let fresh_taker = taker_over(&fresh_tor, 23).await;
    let after_restart = ask_until(&fresh_taker, maker_peer, &onion_address, REACHABLE_WITHIN)
        .await
        .unwrap_or_else(|failures| {
            panic!("the restarted maker never answered at its onion: {failures:?}")
        });
    maker.stop();

    // a clear-TCP peer through an exit: the taker's network has no TCP, so only an exit
    // relay connects to the peer's port
    let clear_identity = IdentitySecret::from_bytes([24; 32]);
    let clear_peer = clear_identity.peer_id().expect("a valid identity");
    let mut clear_config = NetworkConfig::new(clear_identity);
    clear_config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("an address")];
    let (clear, clear_events) = Network::start(clear_config).await.expect("listens");
    let _answering = answer(clear_events);
    let clear_address = clear.listen_addresses().await.remove(0);
    // an exit may end a stream now and then (arti then builds another circuit): ask again
    let through_exit = ask_until(&taker, clear_peer, &clear_address, Duration::from_secs(90))
        .await
        .unwrap_or_else(|failures| {
            panic!("the clear-TCP peer was not reached through an exit: {failures:?}")
        });
    clear.shutdown().await;

    // the local proxy the chain clients use: each of its three protocols reaches a loopback
    // echo server through an exit, and an unserved onion is answered with SOCKS5's
    // "host unreachable"
    let proxy = LocalProxy::serve(taker_tor.clone())
        .await
        .expect("the proxy listens");
    let echo = echo_server().await;
    let mut proxied = Vec::new();
    for protocol in [
        Handshake::Socks5,
        Handshake::Socks4a,
        Handshake::HttpConnect,
    ] {
        let took = proxy_until(proxy.address(), protocol, echo, Duration::from_secs(90))
            .await
            .unwrap_or_else(|failures| {
                panic!("{protocol:?} through the proxy never echoed: {failures:?}")
            });
        proxied.push(took.as_millis());
    }
    let refused = proxy_once(
        proxy.address(),
        Handshake::Socks5,
        &format!("{nobody}.onion"),
        PORT,
    )
    .await
    .expect_err("nobody serves it");
    assert!(refused.contains("SOCKS5 reply 4"), "{refused}");

    println!(
        "TOR {{\"network_ready_ms\": {}, \"maker_bootstrap_ms\": {}, \"taker_bootstrap_ms\": {}, \"onion_reachable_after_launch_ms\": {}, \"first_onion_answer_ms\": {}, \"onion_not_found_ms\": {}, \"restarted_onion_answer_ms\": {}, \"exit_answer_ms\": {}, \"proxy_socks5_ms\": {}, \"proxy_socks4a_ms\": {}, \"proxy_http_connect_ms\": {}}}",
        network_ready.as_millis(),
        maker_bootstrap.as_millis(),
        taker_bootstrap.as_millis(),
        reachable_after.as_millis(),
        first_answer.as_millis(),
        not_found_after.as_millis(),
        after_restart.as_millis(),
        through_exit.as_millis(),
        proxied[0],
        proxied[1],
        proxied[2],
    );
}

/// A loopback server that echoes what it reads.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listens");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    address
}

#[derive(Debug, Clone, Copy)]
enum Handshake {
    Socks5,
    Socks4a,
    HttpConnect,
}

/// Asks the proxy for `host:port` in `protocol` (host names as names), then sends a line
/// and waits for its echo; the time it took, or what went wrong.
async fn proxy_once(
    proxy: std::net::SocketAddr,
    protocol: Handshake,
    host: &str,
    port: u16,
) -> Result<Duration, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(proxy)
        .await
        .map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    match protocol {
        Handshake::Socks5 => {
            stream.write_all(&[5, 1, 0]).await.map_err(io)?;
            let mut chosen = [0u8; 2];
            stream.read_exact(&mut chosen).await.map_err(io)?;
            let mut request = vec![5, 1, 0, 3, u8::try_from(host.len()).expect("short")];
            request.extend_from_slice(host.as_bytes());
            request.extend_from_slice(&port.to_be_bytes());
            stream.write_all(&request).await.map_err(io)?;
            let mut reply = [0u8; 10];
            stream.read_exact(&mut reply).await.map_err(io)?;
            if reply[1] != 0 {
                return Err(format!("SOCKS5 reply {}", reply[1]));
            }
        }
        Handshake::Socks4a => {
            let mut request = vec![4, 1];
            request.extend_from_slice(&port.to_be_bytes());
            request.extend_from_slice(&[0, 0, 0, 1, 0]);
            request.extend_from_slice(host.as_bytes());
            request.push(0);
            stream.write_all(&request).await.map_err(io)?;
            let mut reply = [0u8; 8];
            stream.read_exact(&mut reply).await.map_err(io)?;
            if reply[1] != 0x5A {
                return Err(format!("SOCKS4 reply {:#x}", reply[1]));
            }
        }
        Handshake::HttpConnect => {
            let request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
            stream.write_all(request.as_bytes()).await.map_err(io)?;
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await.map_err(io)?);
            }
            if !head.starts_with(b"HTTP/1.1 200") {
                return Err(String::from_utf8_lossy(&head).into_owned());
            }
        }
    }
    stream.write_all(b"ping through Tor\n").await.map_err(io)?;
    let mut echoed = [0u8; 17];
    stream.read_exact(&mut echoed).await.map_err(io)?;
    if &echoed != b"ping through Tor\n" {
        return Err(format!("echoed {echoed:?}"));
    }
    Ok(started.elapsed())
}

/// [`proxy_once`] to the echo server until it works (an exit may end a stream now and
/// then), for at most `within`; the failures seen otherwise.
async fn proxy_until(
    proxy: std::net::SocketAddr,
    protocol: Handshake,
    echo: std::net::SocketAddr,
    within: Duration,
) -> Result<Duration, Vec<String>> {
    let deadline = Instant::now() + within;
    let mut failures = Vec::new();
    while Instant::now() < deadline {
        let attempt = tokio::time::timeout(
            ATTEMPT,
            proxy_once(proxy, protocol, &echo.ip().to_string(), echo.port()),
        )
        .await;
        match attempt {
            Ok(Ok(took)) => return Ok(took),
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push(format!("no echo within {ATTEMPT:?}")),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(failures)
}
