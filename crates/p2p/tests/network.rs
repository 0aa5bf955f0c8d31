//! Two or more real nodes on loopback TCP exchanging the swap protocols.

use confiaro_p2p::libp2p::{self, request_response, Multiaddr, PeerId, StreamProtocol};
use confiaro_p2p::{
    send_with_retry, Backoff, CodecError, ConnectionCaps, IdentitySecret, Network, NetworkConfig,
    NetworkEvent, RendezvousPoint, RendezvousServerConfig, RespondError, SendError, SwapProtocol,
};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr")
}

fn config(seed: u8, listen: Vec<Multiaddr>) -> NetworkConfig {
    let mut config = NetworkConfig::new(IdentitySecret::from_bytes([seed; 32]));
    config.listen = listen;
    config.advertise_listen_addresses = true;
    config
}

/// Starts a node listening on a free loopback port; returns it, its events and its dialable
/// address (with `/p2p/`).
async fn node(seed: u8) -> (Network, mpsc::Receiver<NetworkEvent>, Multiaddr) {
    let (network, events) = Network::start(config(seed, vec![loopback()]))
        .await
        .expect("node starts");
    let address = network
        .listen_addresses()
        .await
        .remove(0)
        .with_p2p(network.local_peer_id())
        .expect("no p2p yet");
    (network, events, address)
}

/// Answers requests: refuses a payload of `refuse`, answers `big` with an oversized ack,
/// acks anything else with `ack:<protocol>:<payload>`. Every other event is forwarded.
fn serve(mut events: mpsc::Receiver<NetworkEvent>) -> mpsc::UnboundedReceiver<Served> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                NetworkEvent::InboundRequest(request) => {
                    let served = match request.payload.as_slice() {
                        b"refuse" => {
                            Served::Answered(request.responder.refuse("no liquidity").await)
                        }
                        b"big" => {
                            let big = vec![7u8; request.protocol.max_message_bytes() + 1];
                            Served::Answered(request.responder.ack(Some(big)).await)
                        }
                        payload => {
                            let mut ack = format!("ack:{}:", request.protocol).into_bytes();
                            ack.extend_from_slice(payload);
                            Served::Answered(request.responder.ack(Some(ack)).await)
                        }
                    };
                    let _ = tx.send(served);
                }
                other => {
                    let _ = tx.send(Served::Event(other));
                }
            }
        }
    });
    rx
}

#[derive(Debug)]
enum Served {
    Answered(Result<(), RespondError>),
    Event(NetworkEvent),
}

async fn wait_for<T>(
    rx: &mut mpsc::UnboundedReceiver<Served>,
    mut pick: impl FnMut(&Served) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let served = rx.recv().await.expect("server task alive");
            if let Some(found) = pick(&served) {
                return found;
            }
        }
    })
    .await
    .expect("expected event in time")
}

/// `taker` asks `maker` for a quote and gets the serving side's ack.
async fn assert_quote_answered(taker: &Network, maker: &Network) {
    let ack = taker
        .send(
            maker.local_peer_id(),
            SwapProtocol::Quote,
            b"quote?".to_vec(),
        )
        .await
        .expect("acknowledged");
    assert_eq!(ack, Some(expected_ack(SwapProtocol::Quote, b"quote?")));
}

fn expected_ack(protocol: SwapProtocol, payload: &[u8]) -> Vec<u8> {
    let mut ack = format!("ack:{protocol}:").into_bytes();
    ack.extend_from_slice(payload);
    ack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_carries_a_request_and_its_ack() {
    init_tracing();
    let (maker, maker_events, maker_addr) = node(1).await;
    let _served = serve(maker_events);
    let (taker, _taker_events, _) = node(2).await;
    assert_eq!(
        taker.dial(maker_addr).await.expect("dial"),
        maker.local_peer_id()
    );
    for protocol in SwapProtocol::ALL {
        let payload = format!("hello {protocol}").into_bytes();
        let ack = taker
            .send(maker.local_peer_id(), protocol, payload.clone())
            .await
            .expect("acked");
        assert_eq!(ack, Some(expected_ack(protocol, &payload)));
    }
    // The largest allowed swap-setup payload goes through.
    let max = vec![1u8; SwapProtocol::SwapSetup.max_message_bytes() - 64];
    taker
        .send(maker.local_peer_id(), SwapProtocol::SwapSetup, max)
        .await
        .expect("big setup acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_arrives_typed_with_its_reason() {
    init_tracing();
    let (maker, maker_events, maker_addr) = node(3).await;
    let _served = serve(maker_events);
    let (taker, _taker_events, _) = node(4).await;
    taker.dial(maker_addr).await.expect("dial");
    let err = taker
        .send(
            maker.local_peer_id(),
            SwapProtocol::Quote,
            b"refuse".to_vec(),
        )
        .await
        .expect_err("refused");
    match err {
        SendError::Refused { protocol, reason } => {
            assert_eq!(protocol, SwapProtocol::Quote);
            assert_eq!(reason, "no liquidity");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!SendError::Refused {
        protocol: SwapProtocol::Quote,
        reason: String::new()
    }
    .is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_typed_and_both_sides_keep_working() {
    init_tracing();
    let (maker, maker_events, maker_addr) = node(5).await;
    let mut served = serve(maker_events);
    let (taker, _taker_events, _) = node(6).await;
    taker.dial(maker_addr).await.expect("dial");
    let maker_id = maker.local_peer_id();

    // Sender side: refused before anything is sent.
    let too_big = vec![0u8; SwapProtocol::Quote.max_message_bytes() + 1];
    match taker.send(maker_id, SwapProtocol::Quote, too_big).await {
        Err(SendError::TooLarge {
            protocol: SwapProtocol::Quote,
            size,
            max,
        }) => assert!(size > max),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Responder side: an oversized ack is not sent; the requester gets a refusal instead.
    match taker
        .send(maker_id, SwapProtocol::Abort, b"big".to_vec())
        .await
    {
        Err(SendError::Refused { reason, .. }) => assert_eq!(reason, "answer too large"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let answered = wait_for(&mut served, |s| match s {
        Served::Answered(Err(RespondError::TooLarge { .. })) => Some(()),
        _ => None,
    });
    answered.await;
    // Both still work, on the same connection.
    let ack = taker
        .send(maker_id, SwapProtocol::Quote, b"again".to_vec())
        .await
        .expect("acked");
    assert_eq!(ack, Some(expected_ack(SwapProtocol::Quote, b"again")));
}

/// A codec that writes raw bytes as the request (no framing) and reads anything back.
#[derive(Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        futures::AsyncReadExt::read_to_end(io, &mut buf).await?;
        Ok(buf)
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        self.read_request(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        futures::AsyncWriteExt::write_all(io, &req).await?;
        futures::AsyncWriteExt::close(io).await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        self.write_request(p, io, res).await
    }
}

/// Connects with a plain libp2p swarm speaking `/confiaro/quote/2` with [`RawCodec`] and sends
/// `garbage`; returns the swarm's peer id once its request failed.
async fn send_garbage(victim: PeerId, address: Multiaddr, garbage: Vec<u8>) -> PeerId {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("transport")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(
                    SwapProtocol::Quote.stream_protocol(),
                    request_response::ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .build();
    let me = *swarm.local_peer_id();
    swarm
        .behaviour_mut()
        .send_request_with_addresses(&victim, garbage, vec![address]);
    tokio::time::timeout(WAIT, async {
        loop {
            if let libp2p::swarm::SwarmEvent::Behaviour(
                request_response::Event::OutboundFailure { .. }
                | request_response::Event::Message { .. },
            ) = swarm.select_next_some().await
            {
                return;
            }
        }
    })
    .await
    .expect("garbage request ends");
    me
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_garbage_is_disconnected_with_a_reason() {
    init_tracing();
    let (victim, victim_events, victim_addr) = node(7).await;
    let mut served = serve(victim_events);
    let victim_id = victim.local_peer_id();

    // A frame announcing 4 GiB: refused before allocating.
    let oversized = send_garbage(victim_id, victim_addr.clone(), vec![0xff; 64]).await;
    let reason = wait_for(&mut served, |s| match s {
        Served::Event(NetworkEvent::PeerMisbehaved { peer, reason }) if *peer == oversized => {
            Some(reason.clone())
        }
        _ => None,
    })
    .await;
    assert!(
        matches!(
            reason,
            CodecError::TooLarge {
                protocol: SwapProtocol::Quote,
                ..
            }
        ),
        "{reason:?}"
    );
    wait_for(&mut served, |s| match s {
        Served::Event(NetworkEvent::PeerDisconnected { peer }) if *peer == oversized => Some(()),
        _ => None,
    })
    .await;

    // A well-sized frame with an unknown tag.
    let malformed =
        send_garbage(victim_id, victim_addr.clone(), vec![0, 0, 0, 3, 0x7f, 1, 2]).await;
    let reason = wait_for(&mut served, |s| match s {
        Served::Event(NetworkEvent::PeerMisbehaved { peer, reason }) if *peer == malformed => {
            Some(reason.clone())
        }
        _ => None,
    })
    .await;
    assert!(matches!(reason, CodecError::Malformed { .. }), "{reason:?}");

    // The victim still serves honest peers.
    let (honest, _events, _) = node(8).await;
    honest.dial(victim_addr).await.expect("dial");
    let ack = honest
        .send(victim_id, SwapProtocol::Quote, b"q".to_vec())
        .await
        .expect("acked");
    assert_eq!(ack, Some(expected_ack(SwapProtocol::Quote, b"q")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_retried_until_the_receiver_comes_up_and_acks() {
    init_tracing();
    // Reserve a free port, then free it: the receiver will come up there later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let receiver_addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}")
        .parse()
        .expect("multiaddr");
    let receiver_identity = IdentitySecret::from_bytes([9; 32]);
    let receiver_id = receiver_identity.peer_id().expect("valid identity");

    let (sender, _events, _) = node(10).await;
    sender
        .add_peer_address(receiver_id, receiver_addr.clone())
        .await;
    let cancel = CancellationToken::new();
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    let delivery = {
        let sender = sender.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            send_with_retry(
                &sender,
                receiver_id,
                SwapProtocol::TransferProof,
                b"proof".to_vec(),
                backoff,
                &cancel,
            )
            .await
        })
    };

    // The receiver is down: nothing can be acknowledged.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!delivery.is_finished());

    let mut cfg = NetworkConfig::new(receiver_identity);
    cfg.listen = vec![receiver_addr];
    let (receiver, receiver_events) = Network::start(cfg).await.expect("receiver starts");
    let mut served = serve(receiver_events);
    let ack = tokio::time::timeout(WAIT, delivery)
        .await
        .expect("delivered in time")
        .expect("task")
        .expect("acked");
    assert_eq!(
        ack,
        Some(expected_ack(SwapProtocol::TransferProof, b"proof"))
    );
    wait_for(&mut served, |s| {
        matches!(s, Served::Answered(Ok(()))).then_some(())
    })
    .await;
    assert_eq!(receiver.local_peer_id(), receiver_id);
}

/// A receiver that is busy (say, still resuming the swap) answers "busy", and the sender
/// asks again until the receiver takes the message; a refusal, by contrast, is final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_answer_is_asked_again_until_the_receiver_takes_the_message() {
    init_tracing();
    let (receiver, mut receiver_events, receiver_addr) = node(13).await;
    let (sender, _events, _) = node(14).await;
    sender.dial(receiver_addr).await.expect("dial");
    let busy_answers = 3;
    let answering = tokio::spawn(async move {
        let mut asked = 0;
        while let Some(event) = receiver_events.recv().await {
            if let NetworkEvent::InboundRequest(request) = event {
                asked += 1;
                if asked <= busy_answers {
                    request
                        .responder
                        .busy("swap is resuming")
                        .await
                        .expect("busy");
                } else {
                    request.responder.ack(None).await.expect("ack");
                    return asked;
                }
            }
        }
        asked
    });
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    let acked = tokio::time::timeout(
        WAIT,
        send_with_retry(
            &sender,
            receiver.local_peer_id(),
            SwapProtocol::Abort,
            b"abort".to_vec(),
            backoff,
            &CancellationToken::new(),
        ),
    )
    .await
    .expect("taken in time");
    assert_eq!(acked.expect("acknowledged in the end"), None);
    assert_eq!(answering.await.expect("task"), busy_answers + 1);
    let busy = SendError::Busy {
        protocol: SwapProtocol::Abort,
        reason: "swap is resuming".into(),
    };
    assert!(busy.is_retryable());
    assert!(busy.to_string().contains("swap is resuming"), "{busy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_stops_when_the_message_is_no_longer_needed() {
    init_tracing();
    let (sender, _events, _) = node(11).await;
    let nobody = IdentitySecret::from_bytes([12; 32])
        .peer_id()
        .expect("valid identity");
    sender
        .add_peer_address(nobody, "/ip4/127.0.0.1/tcp/1".parse().expect("multiaddr"))
        .await;
    let cancel = CancellationToken::new();
    let delivery = {
        let sender = sender.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            send_with_retry(
                &sender,
                nobody,
                SwapProtocol::Abort,
                b"x".to_vec(),
                Backoff::default(),
                &cancel,
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    let result = tokio::time::timeout(WAIT, delivery)
        .await
        .expect("stops in time")
        .expect("task");
    assert!(matches!(result, Err(SendError::Cancelled)), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maker_found_through_rendezvous_answers_a_quote() {
    init_tracing();
    const NAMESPACE: &str = "confiaro/regtest/offers";
    let point = RendezvousPoint::start(
        IdentitySecret::from_bytes([20; 32]),
        vec![loopback()],
        RendezvousServerConfig {
            min_ttl: 2,
            max_ttl: 3600,
        },
    )
    .await
    .expect("rendezvous point starts");
    let point_addr = point.addresses().remove(0);

    let (maker, maker_events, _) = node(21).await;
    let _served = serve(maker_events);
    assert_eq!(
        maker
            .dial(point_addr.clone())
            .await
            .expect("maker dials point"),
        point.peer_id()
    );
    let granted = maker
        .register(point.peer_id(), NAMESPACE, Some(3))
        .await
        .expect("registered");
    assert_eq!(granted, 3);

    let (taker, _taker_events, _) = node(22).await;
    taker.dial(point_addr).await.expect("taker dials point");
    let found = taker
        .discover(point.peer_id(), NAMESPACE)
        .await
        .expect("discovered");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].peer, maker.local_peer_id());
    assert!(!found[0].addresses.is_empty());

    // The taker was never given the maker's address: it comes from the rendezvous record.
    assert_quote_answered(&taker, &maker).await;

    // Outlive the 3 s TTL: the registration is refreshed, so the maker is still listed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let found = taker
        .discover(point.peer_id(), NAMESPACE)
        .await
        .expect("discovered again");
    assert_eq!(
        found
            .iter()
            .filter(|p| p.peer == maker.local_peer_id())
            .count(),
        1,
        "{found:?}"
    );

    // After unregistering it is gone.
    maker.unregister(point.peer_id(), NAMESPACE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let found = taker
        .discover(point.peer_id(), NAMESPACE)
        .await
        .expect("discovered after unregister");
    assert!(found.is_empty(), "{found:?}");
    point.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_are_served_concurrently() {
    init_tracing();
    let (maker, maker_events, maker_addr) = node(30).await;
    let _served = serve(maker_events);
    let maker_id = maker.local_peer_id();
    let mut clients = Vec::new();
    for seed in 31..34 {
        let (client, events, _) = node(seed).await;
        client.dial(maker_addr.clone()).await.expect("dial");
        clients.push((client, events));
    }
    let runs = clients.iter().enumerate().map(|(i, (client, _))| {
        let client = client.clone();
        async move {
            let sends = (0..5).map(|j| {
                let client = client.clone();
                async move {
                    let payload = format!("client {i} message {j}").into_bytes();
                    let ack = client
                        .send(maker_id, SwapProtocol::SwapSetup, payload.clone())
                        .await
                        .expect("acked");
                    assert_eq!(ack, Some(expected_ack(SwapProtocol::SwapSetup, &payload)));
                }
            });
            futures::future::join_all(sends).await;
        }
    });
    tokio::time::timeout(WAIT, futures::future::join_all(runs))
        .await
        .expect("all served in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stable_identity_gives_a_stable_peer_id_and_connection_events() {
    init_tracing();
    let secret = IdentitySecret::from_bytes([40; 32]);
    assert_eq!(format!("{secret:?}"), "IdentitySecret(<redacted>)");
    let (a, a_events, a_addr) = node(40).await;
    assert_eq!(a.local_peer_id(), secret.peer_id().expect("valid"));
    let mut served = serve(a_events);
    let (b, _b_events, _) = node(41).await;
    b.dial(a_addr).await.expect("dial");
    let b_id = b.local_peer_id();
    wait_for(&mut served, |s| match s {
        Served::Event(NetworkEvent::PeerConnected { peer, .. }) if *peer == b_id => Some(()),
        _ => None,
    })
    .await;
    b.shutdown().await;
    wait_for(&mut served, |s| match s {
        Served::Event(NetworkEvent::PeerDisconnected { peer }) if *peer == b_id => Some(()),
        _ => None,
    })
    .await;
}

/// Peer ids are free: a node caps the connections it accepts, so beyond the cap a new peer
/// is turned away at once (its request fails), while the peers already connected are still
/// served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_turns_away_connections_beyond_its_caps_and_keeps_serving_the_others() {
    init_tracing();
    let mut capped = config(70, vec![loopback()]);
    capped.caps = ConnectionCaps {
        max_incoming: 2,
        ..ConnectionCaps::default()
    };
    let (maker, maker_events) = Network::start(capped).await.expect("node starts");
    let maker_id = maker.local_peer_id();
    let maker_addr = maker.listen_addresses().await[0]
        .clone()
        .with_p2p(maker_id)
        .expect("no p2p yet");
    let _served = serve(maker_events);
    let mut admitted = Vec::new();
    for seed in 71..73 {
        let (client, _events, _) = node(seed).await;
        client.dial(maker_addr.clone()).await.expect("dial");
        let ack = client
            .send(maker_id, SwapProtocol::Quote, b"hi".to_vec())
            .await
            .expect("a peer within the cap is served");
        assert_eq!(ack, Some(expected_ack(SwapProtocol::Quote, b"hi")));
        admitted.push(client);
    }
    let (third, _events, _) = node(73).await;
    let _ = third.dial(maker_addr.clone()).await;
    let refused = tokio::time::timeout(
        WAIT,
        third.send(maker_id, SwapProtocol::Quote, b"hi".to_vec()),
    )
    .await
    .expect("the refusal comes at once, not after a timeout");
    assert!(refused.is_err(), "a third peer beyond the cap: {refused:?}");
    for client in &admitted {
        let ack = client
            .send(maker_id, SwapProtocol::Quote, b"again".to_vec())
            .await
            .expect("the admitted peers are still served");
        assert_eq!(ack, Some(expected_ack(SwapProtocol::Quote, b"again")));
    }
}

/// A swap message names keys, addresses and transactions: an event's `Debug` (what a log
/// line of it prints) shows the payload's length, never its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_request_prints_its_payload_length_not_its_bytes() {
    init_tracing();
    let (maker, mut maker_events, maker_addr) = node(80).await;
    let (taker, _taker_events, _) = node(81).await;
    taker.dial(maker_addr).await.expect("dial");
    let payload = b"4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx".to_vec();
    let sender = tokio::spawn({
        let taker = taker.clone();
        let maker = maker.local_peer_id();
        let payload = payload.clone();
        async move { taker.send(maker, SwapProtocol::Quote, payload).await }
    });
    let request = tokio::time::timeout(WAIT, async {
        loop {
            match maker_events.recv().await.expect("the maker's network runs") {
                NetworkEvent::InboundRequest(request) => break request,
                _ => continue,
            }
        }
    })
    .await
    .expect("the request arrives");
    let printed = format!("{:?}", NetworkEvent::InboundRequest(request));
    let bytes_printed = format!("{:?}", &payload[..8]);
    let bytes_printed = bytes_printed.trim_end_matches(']');
    assert!(!printed.contains(bytes_printed), "{printed}");
    assert!(
        printed.contains(&format!("payload_bytes: {}", payload.len())),
        "{printed}"
    );
    sender.abort();
}

/// A node over another byte-stream transport than TCP (here libp2p's in-memory one, as the
/// engine uses Tor's): the swap protocols run on it with noise and yamux as on TCP, and the
/// node has no TCP at all, so it can neither listen on nor dial a TCP address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_over_another_transport_serves_the_protocols_and_has_no_tcp() {
    use confiaro_p2p::{stream_transport, DialError, ListenError};
    use libp2p::core::transport::MemoryTransport;
    init_tracing();
    let memory_node = |seed: u8| async move {
        Network::start_over(
            config(seed, Vec::new()),
            stream_transport(MemoryTransport::default()),
        )
        .await
        .expect("starts over memory")
    };
    let (maker, maker_events) = memory_node(15).await;
    let _served = serve(maker_events);
    let address = maker
        .listen("/memory/0".parse().expect("a memory address"))
        .await
        .expect("listens");
    assert!(
        matches!(
            maker.listen(loopback()).await,
            Err(ListenError::Refused { .. })
        ),
        "a node over another transport listens on no TCP port"
    );

    let (taker, _taker_events) = memory_node(16).await;
    assert_eq!(
        taker.dial(address).await.expect("dials over memory"),
        maker.local_peer_id()
    );
    assert_quote_answered(&taker, &maker).await;

    let (tcp_node, tcp_events, tcp_address) = node(17).await;
    let _tcp_served = serve(tcp_events);
    let dialled = taker.dial(tcp_address).await;
    assert!(
        matches!(dialled, Err(DialError::Failed { .. })),
        "a node over another transport dials no TCP address: {dialled:?}"
    );
    drop(tcp_node);
}
