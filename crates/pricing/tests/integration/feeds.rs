//! The Kraken and Bitfinex feeds and the poller against a real HTTP/1.1 server on loopback
//! that speaks both exchanges' wire formats.

use bytes::Bytes;
use confiaro_pricing::{
    poll_sources, reference_price, BitfinexTicker, FeedPolicy, FeedState, FetchFuture, HttpTicker,
    KrakenTicker, NoQuote, Observation, PriceFeed, PriceSource, Rate, SourceError, SourceErrorKind,
};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;

/// What the fake exchange answers on one route.
#[derive(Debug, Clone)]
enum Reply {
    Body { status: u16, body: String },
    Hang,
}

fn kraken_ok(ask: &str) -> Reply {
    Reply::Body {
        status: 200,
        body: format!(
            r#"{{"error":[],"result":{{"XXMRXXBT":{{"a":["{ask}","1","1.000"],"b":["0.003000","3","3.000"],"c":["0.003100","0.5"],"v":["100.0","200.0"],"p":["0.0031","0.0031"],"t":[10,20],"l":["0.0030","0.0030"],"h":["0.0040","0.0040"],"o":"0.003000"}}}}}}"#
        ),
    }
}

fn bitfinex_ok(ask: &str) -> Reply {
    Reply::Body {
        status: 200,
        body: format!("[0.003,120.5,{ask},98.1,0.00002,0.0057,0.0031,1500.2,0.004,0.003]"),
    }
}

/// A loopback HTTP server with a Kraken ticker and a Bitfinex ticker route.
struct Exchange {
    base: String,
    kraken: Arc<Mutex<Reply>>,
    bitfinex: Arc<Mutex<Reply>>,
}

impl Exchange {
    async fn start() -> Exchange {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let kraken = Arc::new(Mutex::new(kraken_ok("0.003521")));
        let bitfinex = Arc::new(Mutex::new(bitfinex_ok("0.003521")));
        let routes = (kraken.clone(), bitfinex.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let routes = routes.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let routes = routes.clone();
                        async move { Ok::<_, Infallible>(respond(&routes, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Exchange {
            base,
            kraken,
            bitfinex,
        }
    }

    fn set_kraken(&self, reply: Reply) {
        *self.kraken.lock().unwrap() = reply;
    }

    fn set_bitfinex(&self, reply: Reply) {
        *self.bitfinex.lock().unwrap() = reply;
    }

    fn kraken(&self, timeout: Duration) -> HttpTicker {
        KrakenTicker::at(&self.base, timeout).unwrap()
    }

    fn bitfinex(&self, timeout: Duration) -> HttpTicker {
        BitfinexTicker::at(&self.base, timeout).unwrap()
    }
}

async fn respond(
    (kraken, bitfinex): &(Arc<Mutex<Reply>>, Arc<Mutex<Reply>>),
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let route = match (
        request.method().as_str(),
        request.uri().path(),
        request.uri().query(),
    ) {
        ("GET", "/0/public/Ticker", Some("pair=XMRXBT")) => kraken,
        ("GET", "/v2/ticker/tXMRBTC", None) => bitfinex,
        _ => {
            return Response::builder()
                .status(404)
                .body(Full::new(Bytes::from_static(b"no such route")))
                .unwrap()
        }
    };
    let reply = route.lock().unwrap().clone();
    match reply {
        Reply::Body { status, body } => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap(),
        Reply::Hang => std::future::pending().await,
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn kind(result: Result<Observation, SourceError>, name: &str) -> SourceErrorKind {
    let error = result.unwrap_err();
    assert_eq!(error.source_name, name);
    error.kind
}

#[tokio::test]
async fn good_prices_from_both_exchanges_give_their_median() {
    let first = Exchange::start().await;
    let second = Exchange::start().await;
    first.set_kraken(kraken_ok("0.00352100"));
    first.set_bitfinex(bitfinex_ok("0.003519"));
    second.set_kraken(kraken_ok("0.003530"));
    let sources: Vec<Box<dyn PriceSource>> = vec![
        Box::new(first.kraken(TIMEOUT)),
        Box::new(first.bitfinex(TIMEOUT)),
        Box::new(second.kraken(TIMEOUT).with_name("kraken-mirror")),
    ];
    let before = SystemTime::now();
    let results = poll_sources(&sources, TIMEOUT).await;
    let observation = results[1].1.as_ref().unwrap();
    assert_eq!(observation.source, "bitfinex");
    assert_eq!(observation.btc_per_xmr, "0.003519".parse::<Rate>().unwrap());
    assert!(observation.observed_at >= before);
    let reference = reference_price(&results, SystemTime::now(), &FeedPolicy::default()).unwrap();
    assert_eq!(reference.btc_per_xmr, "0.003521".parse::<Rate>().unwrap());
    assert_eq!(reference.used, ["kraken", "bitfinex", "kraken-mirror"]);
}

#[tokio::test]
async fn a_kraken_error_array_is_a_typed_exchange_error() {
    let exchange = Exchange::start().await;
    exchange.set_kraken(Reply::Body {
        status: 200,
        body: r#"{"error":["EQuery:Unknown asset pair"]}"#.into(),
    });
    assert_eq!(
        kind(exchange.kraken(TIMEOUT).fetch().await, "kraken"),
        SourceErrorKind::Exchange {
            message: "EQuery:Unknown asset pair".into()
        }
    );
}

#[tokio::test]
async fn a_bitfinex_error_array_is_a_typed_exchange_error() {
    let exchange = Exchange::start().await;
    exchange.set_bitfinex(Reply::Body {
        status: 500,
        body: r#"["error",10020,"symbol: invalid"]"#.into(),
    });
    let error = exchange.bitfinex(TIMEOUT).fetch().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bitfinex: exchange error: 10020 symbol: invalid"
    );
}

#[tokio::test]
async fn an_http_500_is_a_typed_status_error() {
    let exchange = Exchange::start().await;
    let down = Reply::Body {
        status: 500,
        body: "Internal Server Error".into(),
    };
    exchange.set_kraken(down.clone());
    exchange.set_bitfinex(down);
    assert_eq!(
        kind(exchange.kraken(TIMEOUT).fetch().await, "kraken"),
        SourceErrorKind::HttpStatus { status: 500 }
    );
    assert_eq!(
        kind(exchange.bitfinex(TIMEOUT).fetch().await, "bitfinex"),
        SourceErrorKind::HttpStatus { status: 500 }
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let exchange = Exchange::start().await;
    exchange.set_kraken(Reply::Hang);
    exchange.set_bitfinex(Reply::Hang);
    let short = Duration::from_millis(300);
    assert_eq!(
        kind(exchange.kraken(short).fetch().await, "kraken"),
        SourceErrorKind::Timeout { after: short }
    );
    assert_eq!(
        kind(exchange.bitfinex(short).fetch().await, "bitfinex"),
        SourceErrorKind::Timeout { after: short }
    );
}

#[tokio::test]
async fn a_garbage_body_is_a_typed_malformed_error() {
    let exchange = Exchange::start().await;
    let garbage = Reply::Body {
        status: 200,
        body: "<html>maintenance</html>".into(),
    };
    exchange.set_kraken(garbage.clone());
    exchange.set_bitfinex(garbage);
    assert!(matches!(
        kind(exchange.kraken(TIMEOUT).fetch().await, "kraken"),
        SourceErrorKind::Malformed { .. }
    ));
    assert!(matches!(
        kind(exchange.bitfinex(TIMEOUT).fetch().await, "bitfinex"),
        SourceErrorKind::Malformed { .. }
    ));
    exchange.set_kraken(kraken_ok("3.521e-3"));
    let error = exchange.kraken(TIMEOUT).fetch().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "kraken: bad price: \"3.521e-3\" is not a BTC/XMR price: exponent notation is not accepted"
    );
}

#[tokio::test]
async fn an_oversized_body_and_a_redirect_are_refused() {
    let exchange = Exchange::start().await;
    exchange.set_kraken(Reply::Body {
        status: 200,
        body: format!("[{}]", "0,".repeat(100_000)),
    });
    match kind(exchange.kraken(TIMEOUT).fetch().await, "kraken") {
        SourceErrorKind::Malformed { detail } => {
            assert_eq!(detail, "response body larger than 65536 bytes")
        }
        other => panic!("{other:?}"),
    }
    exchange.set_bitfinex(Reply::Body {
        status: 302,
        body: String::new(),
    });
    assert_eq!(
        kind(exchange.bitfinex(TIMEOUT).fetch().await, "bitfinex"),
        SourceErrorKind::HttpStatus { status: 302 }
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let source = KrakenTicker::at(&base, TIMEOUT).unwrap();
    assert!(matches!(
        kind(source.fetch().await, "kraken"),
        SourceErrorKind::Transport { .. }
    ));
}

/// Waits (at most 20 s) until the feed publishes a state satisfying `done`.
async fn wait_for(feed: &PriceFeed, what: &str, done: impl Fn(&FeedState) -> bool) -> FeedState {
    let mut updates = feed.subscribe();
    let wait = async {
        loop {
            let state = updates.borrow_and_update().clone();
            if done(&state) {
                return state;
            }
            updates.changed().await.expect("the feed task is running");
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("the feed never became {what}; last: {:?}", feed.current()))
}

#[tokio::test]
async fn a_divergent_exchange_stops_quoting_until_its_answers_are_good_again() {
    let exchange = Exchange::start().await;
    let sources: Vec<Box<dyn PriceSource>> = vec![
        Box::new(exchange.kraken(TIMEOUT)),
        Box::new(exchange.bitfinex(TIMEOUT)),
    ];
    let feed = PriceFeed::spawn(sources, FeedPolicy::default(), Duration::from_millis(100));
    assert_eq!(feed.current(), Err(NoQuote::NoPriceYet));
    assert_eq!(feed.current().unwrap_err().to_string(), "no price yet");

    let state = wait_for(&feed, "quoting", |s| s.is_ok()).await;
    assert_eq!(
        state.unwrap().btc_per_xmr,
        "0.003521".parse::<Rate>().unwrap()
    );

    exchange.set_bitfinex(bitfinex_ok("0.0040"));
    let state = wait_for(&feed, "stopped", |s| s.is_err()).await;
    let why = state.unwrap_err().to_string();
    assert!(
        why.starts_with("only 0 of 2 price sources usable (minimum 2): kraken: divergent"),
        "{why}"
    );
    assert!(
        why.contains("bitfinex: divergent (0.004000000000 BTC/XMR"),
        "{why}"
    );
    assert_eq!(feed.current().unwrap_err().to_string(), why);

    exchange.set_bitfinex(bitfinex_ok("0.003523"));
    let state = wait_for(&feed, "quoting again", |s| s.is_ok()).await;
    assert_eq!(
        state.unwrap().btc_per_xmr,
        "0.003522".parse::<Rate>().unwrap()
    );
}

/// A source whose observations are as old as `age_secs` says.
struct Delayed {
    age_secs: Arc<AtomicU64>,
    fetches: Arc<AtomicU64>,
}

impl PriceSource for Delayed {
    fn name(&self) -> &str {
        "delayed"
    }

    fn fetch(&self) -> FetchFuture<'_> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let age = Duration::from_secs(self.age_secs.load(Ordering::SeqCst));
        Box::pin(async move {
            Ok(Observation {
                source: "delayed".into(),
                btc_per_xmr: "0.003521".parse().unwrap(),
                observed_at: SystemTime::now() - age,
            })
        })
    }
}

#[tokio::test]
async fn a_stale_source_stops_quoting_and_a_failing_one_is_named() {
    let exchange = Exchange::start().await;
    let age_secs = Arc::new(AtomicU64::new(0));
    let fetches = Arc::new(AtomicU64::new(0));
    let sources: Vec<Box<dyn PriceSource>> = vec![
        Box::new(Delayed {
            age_secs: age_secs.clone(),
            fetches: fetches.clone(),
        }),
        Box::new(exchange.bitfinex(TIMEOUT)),
    ];
    let feed = PriceFeed::spawn(sources, FeedPolicy::default(), Duration::from_millis(100));
    wait_for(&feed, "quoting", |s| s.is_ok()).await.unwrap();

    age_secs.store(95, Ordering::SeqCst);
    let why = wait_for(&feed, "stopped", |s| s.is_err())
        .await
        .unwrap_err()
        .to_string();
    // The age is 95 s plus however long the round took, so allow a few seconds more.
    let (head, tail) = why
        .split_once(" s ago, ")
        .unwrap_or_else(|| panic!("{why}"));
    let age: u64 = head
        .strip_prefix("only 1 of 2 price sources usable (minimum 2): delayed: stale (observed ")
        .and_then(|age| age.parse().ok())
        .unwrap_or_else(|| panic!("{why}"));
    assert!((95..100).contains(&age), "{why}");
    assert_eq!(tail, "limit 60 s); bitfinex ok (0.003521000000 BTC/XMR)");

    age_secs.store(0, Ordering::SeqCst);
    exchange.set_bitfinex(Reply::Body {
        status: 503,
        body: String::new(),
    });
    let why = wait_for(&feed, "failing", |s| {
        s.as_ref()
            .is_err_and(|e| e.to_string().contains("bitfinex: failed"))
    })
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        why,
        "only 1 of 2 price sources usable (minimum 2): delayed ok (0.003521000000 BTC/XMR); \
         bitfinex: failed (HTTP status 503)"
    );

    exchange.set_bitfinex(bitfinex_ok("0.003521"));
    wait_for(&feed, "quoting again", |s| s.is_ok())
        .await
        .unwrap();

    // Dropping the feed stops the polling.
    let mut updates = feed.subscribe();
    drop(feed);
    while updates.changed().await.is_ok() {}
    let after_drop = fetches.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fetches.load(Ordering::SeqCst), after_drop);
}

/// A source that never answers, or panics after its first answer.
struct Misbehaving {
    panic_after_first: bool,
    fetches: AtomicU64,
}

impl PriceSource for Misbehaving {
    fn name(&self) -> &str {
        "misbehaving"
    }

    fn fetch(&self) -> FetchFuture<'_> {
        let first = self.fetches.fetch_add(1, Ordering::SeqCst) == 0;
        let panic_after_first = self.panic_after_first;
        Box::pin(async move {
            if !panic_after_first {
                return std::future::pending().await;
            }
            assert!(first, "a bug in a price source");
            Ok(Observation {
                source: "misbehaving".into(),
                btc_per_xmr: "0.003521".parse().unwrap(),
                observed_at: SystemTime::now(),
            })
        })
    }
}

#[tokio::test]
async fn a_source_without_its_own_timeout_is_bounded_by_the_poller() {
    let sources: Vec<Box<dyn PriceSource>> = vec![Box::new(Misbehaving {
        panic_after_first: false,
        fetches: AtomicU64::new(0),
    })];
    let limit = Duration::from_millis(200);
    let results = poll_sources(&sources, limit).await;
    assert_eq!(results[0].0, "misbehaving");
    assert_eq!(
        results[0].1.as_ref().unwrap_err().kind,
        SourceErrorKind::Timeout { after: limit }
    );
}

#[tokio::test]
async fn a_feed_whose_task_died_stops_quoting_instead_of_serving_its_last_price() {
    let sources: Vec<Box<dyn PriceSource>> = vec![Box::new(Misbehaving {
        panic_after_first: true,
        fetches: AtomicU64::new(0),
    })];
    let policy = FeedPolicy {
        min_sources: 1,
        ..FeedPolicy::default()
    };
    let feed = PriceFeed::spawn(sources, policy, Duration::from_millis(100));
    let mut updates = feed.subscribe();
    let mut saw_price = false;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while updates.changed().await.is_ok() {
            saw_price |= updates.borrow_and_update().is_ok();
        }
        while feed.current() != Err(NoQuote::FeedStopped) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ended.is_ok(), "the feed kept running: {:?}", feed.current());
    assert!(saw_price, "the first round should have produced a price");
    assert_eq!(
        feed.current().unwrap_err().to_string(),
        "the price feed has stopped"
    );
}
