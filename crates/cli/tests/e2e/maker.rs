//! End-to-end: a maker run from a config file (`maker run --config maker.toml`), priced from
//! two exchange feeds — real HTTP servers on loopback speaking Kraken's and Bitfinex's public
//! ticker formats — with the admin API and the metrics endpoint, against the devnet and a
//! taker that discovers it at the rendezvous point; and a maker whose store is a PostgreSQL
//! server taking only the swaps its XMR covers, then resuming its swap after a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use confiaro_testkit::e2e::{self, Party, Running, XMR};
use confiaro_testkit::postgres::PgServer;
use serde_json::Value;

use super::devnet;

/// What the fake exchanges answer: each one's ask (as the exchange writes it) or an HTTP
/// error status.
#[derive(Clone)]
struct Asks {
    kraken: Result<&'static str, u16>,
    bitfinex: Result<&'static str, u16>,
}

type Shared = Arc<Mutex<Asks>>;

async fn kraken(State(asks): State<Shared>) -> Response {
    match asks.lock().unwrap().kraken {
        // Kraken's ticker: result keyed by its own pair name; a = [ask, whole lot, lot]
        Ok(ask) => (
            [("content-type", "application/json")],
            format!(
                r#"{{"error":[],"result":{{"XXMRXXBT":{{"a":["{ask}","12","12.000"],"b":["0.00499000","3","3.000"],"c":["{ask}","0.10000000"],"v":["100.1","2000.2"],"p":["0.00500","0.00500"],"t":[100,2000],"l":["0.00490","0.00480"],"h":["0.00510","0.00520"],"o":"0.00500"}}}}}}"#
            ),
        )
            .into_response(),
        Err(status) => (
            StatusCode::from_u16(status).unwrap(),
            r#"{"error":["EService:Unavailable"]}"#,
        )
            .into_response(),
    }
}

async fn bitfinex(State(asks): State<Shared>) -> Response {
    match asks.lock().unwrap().bitfinex {
        // [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE,
        //  VOLUME, HIGH, LOW]
        Ok(ask) => (
            [("content-type", "application/json")],
            format!("[0.004991,31.5,{ask},20.25,0.00001,0.002,0.004995,1500.5,0.0051,0.0049]"),
        )
            .into_response(),
        Err(status) => (
            StatusCode::from_u16(status).unwrap(),
            r#"["error",20060,"maintenance"]"#,
        )
            .into_response(),
    }
}

/// The fake exchanges on one loopback port; returns their base URL.
fn start_exchanges(runtime: &tokio::runtime::Runtime, asks: Shared) -> String {
    let app = Router::new()
        .route("/0/public/Ticker", get(kraken))
        .route("/v2/ticker/tXMRBTC", get(bitfinex))
        .with_state(asks);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// An HTTP request to the maker's admin API or metrics; returns the status and the body.
fn http(
    runtime: &tokio::runtime::Runtime,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
) -> (u16, String) {
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut request = client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the endpoint answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    })
}

/// Polls the admin status until `pred` holds on its `maker` part.
fn wait_for_maker(
    runtime: &tokio::runtime::Runtime,
    admin: &str,
    token: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = http(
            runtime,
            reqwest::Method::GET,
            &format!("{admin}/status"),
            Some(token),
        );
        assert_eq!(status, 200, "{body}");
        let value: Value = serde_json::from_str(&body).expect("json");
        if pred(&value["maker"]) {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the maker never got to: {what}; last status {value}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The taker's view of the offer of the maker `peer` (other tests' makers share the
/// rendezvous point).
fn the_offer(taker: &Party, peer: &str) -> Value {
    let offers = taker.run_ok(&["offers"]);
    let offers = offers.as_array().expect("a list of offers");
    offers
        .iter()
        .find(|o| o["peer"] == peer)
        .unwrap_or_else(|| panic!("no offer of {peer} in {offers:?}"))
        .clone()
}

#[test]
fn a_configured_maker_quotes_from_two_feeds_and_stops_when_they_disagree() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // Both exchanges ask 0.005 BTC per XMR.
    let asks: Shared = Arc::new(Mutex::new(Asks {
        kraken: Ok("0.00500000"),
        bitfinex: Ok("0.005"),
    }));
    let exchanges = start_exchanges(&runtime, Arc::clone(&asks));
    devnet();
    // 4 XMR, in two outputs of 2
    let maker = devnet().funded_maker("feed-maker", 2);
    // and 0.1 BTC for its side buying XMR
    devnet().fund_btc(&maker.btc_address, e2e::TAKER_SAT);
    let config = maker.dir.path().join("maker.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[quote]
spread_bps = 100
min_btc = "0.001"
max_btc = "0.1"
reserve_proof = true

[sell]
spread_bps = 100
min_btc = "0.001"
max_btc = "0.05"

[price]
max_age_secs = 30
max_divergence_bps = 200
min_sources = 2
poll_interval_secs = 1
request_timeout_secs = 5

[[price.source]]
exchange = "kraken"
url = "{exchanges}"

[[price.source]]
exchange = "bitfinex"
url = "{exchanges}"

[admin]
listen = "127.0.0.1:0"

[metrics]
listen = "127.0.0.1:0"
"#
        ),
    )
    .expect("write the config");
    let config = config.to_str().expect("utf-8 path").to_owned();
    let mut running: Running = maker.spawn(&["maker", "run", "--config", &config], &[]);
    let ready = running.wait_for("ready line", Duration::from_secs(120), |v| {
        v["ready"] == true
    });
    let admin = format!("http://{}", ready["admin"].as_str().expect("admin address"));
    let metrics = format!(
        "http://{}/metrics",
        ready["metrics"].as_str().expect("metrics address")
    );
    let peer = ready["peer_id"].as_str().expect("the maker's peer id");
    let token_file = ready["admin_token_file"].as_str().expect("token file");
    let token = std::fs::read_to_string(token_file).expect("the token file");
    let token = token.trim();
    assert!(
        !running.stderr().contains(token),
        "the admin token must not be logged"
    );

    // 0.005 BTC/XMR plus 1 % is 0.00505 BTC/XMR: 1 / 0.00505 = 198.019801980198019… XMR per
    // BTC, paid rounded down to the piconero. Of the 4 XMR, 0.01 is set aside for the next
    // lock's fee: the 3.99 free XMR cover 3.99 × 0.00505 / 1.01… = 0.0201495 BTC: 2,014,950
    // sat (xmr_for(2,014,950 sat) = 3.989999999999 XMR; one sat more needs 3.990000001979).
    const PRICE: u64 = 198_019_801_980_198;
    const FREE: u64 = 3_990_000_000_000;
    // Buying XMR it pays 0.005 less 1 %: 0.00495 BTC per XMR, asking ⌈10^24 / 4,950,000,000⌉
    // piconero per BTC paid (rounded up: a seller never gets more than 0.00495 per XMR).
    const BID: u64 = 202_020_202_020_203;
    let status = wait_for_maker(&runtime, &admin, token, "quoting with 3.99 free XMR", |m| {
        m["quoting"] == true
            && m["free_piconero"] == FREE
            && m["reserve_proof"][0] == 4 * XMR
            && m["sell"]["quoting"] == true
    });
    assert_eq!(status["maker"]["price_piconero_per_btc"], PRICE, "{status}");
    let sell = &status["maker"]["sell"];
    assert_eq!(sell["price_piconero_per_btc"], BID, "{status}");
    assert_eq!(sell["min_sat"], 100_000, "{status}");
    assert_eq!(sell["max_sat"], 5_000_000, "{status}");
    // its 0.1 BTC less what it sets aside for the next lock's fee, nothing promised yet
    let free_sat = sell["free_sat"].as_u64().expect("free BTC known");
    assert!(
        free_sat < e2e::TAKER_SAT && free_sat > e2e::TAKER_SAT - 100_000,
        "{status}"
    );
    let taker = devnet().party("feed-taker");
    let offer = the_offer(&taker, peer);
    // the maker takes both sides: a quote for takers buying XMR and one for takers selling it
    let quotes = offer["quotes"].as_array().expect("the offer's quotes");
    assert_eq!(quotes.len(), 2, "{offer}");
    let side = |name: &str| {
        quotes
            .iter()
            .find(|q| q["side"] == name)
            .unwrap_or_else(|| panic!("no {name} quote in {offer}"))
    };
    let bid = side("sell-xmr");
    assert_eq!(bid["price_piconero_per_btc"], BID, "{offer}");
    assert_eq!(bid["max_sat"], 5_000_000, "{offer}");
    let quote = side("buy-xmr");
    assert_eq!(quote["price_piconero_per_btc"], PRICE, "{offer}");
    assert_eq!(quote["min_sat"], 100_000, "{offer}");
    assert_eq!(quote["max_sat"], 2_014_950, "{offer}");
    // its reserve proof, checked by the taker's own wallet RPC against the chain
    assert_eq!(offer["reserve_piconero"], 4 * XMR, "{offer}");

    // The admin API wants its token; the metrics say the same as the status.
    let (code, body) = http(
        &runtime,
        reqwest::Method::GET,
        &format!("{admin}/status"),
        None,
    );
    assert_eq!(code, 401, "{body}");
    let (code, _) = http(
        &runtime,
        reqwest::Method::GET,
        &format!("{admin}/status"),
        Some("wrong"),
    );
    assert_eq!(code, 401);
    let (code, body) = http(&runtime, reqwest::Method::GET, &metrics, None);
    assert_eq!(code, 200);
    for line in [
        "confiaro_maker_quoting 1".to_owned(),
        format!("confiaro_maker_price_piconero_per_btc {PRICE}"),
        "confiaro_maker_limit_sat{limit=\"max\"} 2014950".to_owned(),
        "confiaro_price_source_used{source=\"kraken\"} 1".to_owned(),
        "confiaro_maker_quote_requests_total{outcome=\"served\"} 1".to_owned(),
        "confiaro_maker_sell_quoting 1".to_owned(),
        format!("confiaro_maker_bid_piconero_per_btc {BID}"),
        "confiaro_maker_sell_limit_sat{limit=\"max\"} 5000000".to_owned(),
        format!("confiaro_maker_free_btc_sat {free_sat}"),
        "confiaro_maker_sell_setups_total{outcome=\"accepted\"} 0".to_owned(),
    ] {
        assert!(body.lines().any(|l| l == line), "no {line:?} in\n{body}");
    }

    // Bitfinex moves 20 % away: neither price can be trusted, the maker stops and says why.
    asks.lock().unwrap().bitfinex = Ok("0.006");
    let status = wait_for_maker(
        &runtime,
        &admin,
        token,
        "no quotes on divergent feeds",
        |m| m["quoting"] == false && m["sell"]["quoting"] == false,
    );
    let reason = status["maker"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("price sources usable"), "{status}");
    let offer = the_offer(&taker, peer);
    let error = offer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not quoting") && error.contains("price sources usable"),
        "{offer}"
    );

    // Bitfinex is back, Kraken is down: one source is not enough.
    *asks.lock().unwrap() = Asks {
        kraken: Err(503),
        bitfinex: Ok("0.005"),
    };
    let status = wait_for_maker(&runtime, &admin, token, "no quotes with Kraken down", |m| {
        m["quoting"] == false
            && m["reason"]
                .as_str()
                .is_some_and(|r| r.contains("only 1 of 2"))
    });
    assert!(
        status["price_feed"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("kraken: failed") && e.contains("bitfinex ok")),
        "{status}"
    );

    // Both good again: quoting resumes on its own. Then the operator pauses and resumes.
    asks.lock().unwrap().kraken = Ok("0.00500000");
    wait_for_maker(&runtime, &admin, token, "quoting again", |m| {
        m["quoting"] == true
    });
    let (code, body) = http(
        &runtime,
        reqwest::Method::POST,
        &format!("{admin}/quoting/pause"),
        Some(token),
    );
    assert_eq!(code, 200, "{body}");
    let offer = the_offer(&taker, peer);
    assert!(
        offer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("paused by the operator"),
        "{offer}"
    );
    let (code, _) = http(
        &runtime,
        reqwest::Method::POST,
        &format!("{admin}/quoting/resume"),
        Some(token),
    );
    assert_eq!(code, 200);
    wait_for_maker(&runtime, &admin, token, "quoting after the pause", |m| {
        m["quoting"] == true
    });
    let (_, body) = http(
        &runtime,
        reqwest::Method::GET,
        &format!("{admin}/balances"),
        Some(token),
    );
    let balances: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(balances["xmr_unlocked_piconero"], 4 * XMR, "{balances}");
    let (code, body) = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{admin}/withdraw"))
            .bearer_auth(token)
            .json(&serde_json::json!({"asset": "doge", "address": "D123", "amount": "1"}))
            .send()
            .await
            .expect("the admin API answers");
        (
            response.status().as_u16(),
            response.text().await.expect("a body"),
        )
    });
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("neither"), "{body}");

    // A stop is graceful: nothing in flight, so it ends at once and cleanly.
    let status = running.terminate();
    assert!(
        status.success(),
        "{status}: {}",
        e2e::tail(&running.stderr(), 30)
    );
    assert!(
        running.seen().iter().any(|v| v["stopped"] == true),
        "no stopped line"
    );
}

#[test]
fn a_maker_on_postgresql_takes_only_the_swaps_its_free_xmr_covers_across_a_restart() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(PgServer::start());
    let url = runtime.block_on(server.create_database());
    devnet();
    // 2 XMR: one swap of 1 XMR and its lock's fee allowance fit, a second does not
    let alice =
        devnet().funded_maker_with_env("inventory-maker", 1, &[("CONFIARO_STORE_URL", &url)]);
    assert!(
        !alice.dir.path().join("confiaro.sqlite").exists(),
        "the maker's store is the PostgreSQL database, not SQLite"
    );
    let takers: Vec<Party> = (0..3)
        .map(|i| devnet().funded_taker(&format!("inventory-taker-{i}")))
        .collect();
    let (mut maker, address) = alice.start_maker(&[]);
    // All three start at once. The maker takes the first setup; a taker that asks for the
    // quote after that sees a largest swap below its amount and stops there (or, once the
    // maker's XMR is locked and its change not yet spendable, is refused a quote at all), one
    // that had the quote before has its setup refused: either way it is told why.
    let mut running: Vec<Running> = takers
        .iter()
        .map(|t| {
            t.spawn(
                &["swap", "buy-xmr", "--btc", "0.01", "--maker", &address],
                &[],
            )
        })
        .collect();
    let started = Instant::now();
    let (mut completed, mut refused) = (Vec::new(), Vec::new());
    let mut restarted = false;
    let mut btc_pause = None;
    while completed.len() + refused.len() < running.len() {
        for (i, taker) in running.iter().enumerate() {
            if completed.contains(&i) || refused.contains(&i) {
                continue;
            }
            let seen = taker.seen();
            // Once this taker's BTC is locked, the maker owes its XMR lock: once the other
            // two were turned away, stop it gracefully there, start it again, and the swap
            // resumes from the database. Bitcoin blocks wait from the lock until the restart:
            // the maker locks no XMR before the BTC lock confirms, so the swap cannot end
            // before a slow taker has been told why not, and no timelock runs out while the
            // maker is down.
            let btc_locked = seen
                .iter()
                .any(|v| v["kind"] == "state_changed" && v["state"] == "BtcLockPublished");
            let finished = seen.iter().any(|v| v["kind"] == "finished");
            if btc_locked && !finished && !restarted {
                btc_pause.get_or_insert_with(|| devnet().pause_btc_mining());
                if refused.len() == 2 {
                    let status = maker.terminate();
                    assert!(status.success(), "the maker stops cleanly: {status}");
                    maker = alice.start_maker(&[]).0;
                    restarted = true;
                    btc_pause = None;
                }
            }
            if seen
                .iter()
                .any(|v| v["kind"] == "finished" && v["phase"] == "Completed")
            {
                completed.push(i);
            } else if let Some(refusal) = seen.iter().find(|v| v["kind"] == "peer_refused") {
                let reason = refusal["reason"].as_str().unwrap_or_default();
                assert!(reason.contains("cannot lock"), "{refusal}");
                refused.push(i);
            } else if taker.stderr().contains("\"error\"") {
                // the command ended with an error (JSON on its standard error)
                let stderr = taker.stderr();
                assert!(
                    stderr.contains("0.01000000 BTC is outside the maker's limits")
                        || stderr.contains("not quoting: not enough free XMR to quote"),
                    "{stderr}"
                );
                assert!(
                    stderr.matches("refused by the peer").count() <= 1,
                    "the reason is said once: {stderr}"
                );
                refused.push(i);
            }
        }
        if started.elapsed() > Duration::from_secs(300) {
            for (i, taker) in running.iter().enumerate() {
                eprintln!("taker {i}:\n{}", e2e::tail(&taker.stderr(), 30));
            }
            panic!(
                "completed {completed:?}, refused {refused:?}; maker:\n{}",
                e2e::tail(&maker.stderr(), 40)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        completed.len(),
        1,
        "completed {completed:?}, refused {refused:?}"
    );
    assert!(restarted, "the maker was restarted during the swap");
    // The taker is done once it has swept the XMR; the maker once its BTC redeem has the
    // confirmations it waits for, which can be a few blocks later.
    let maker_done = |maker: &Running| {
        maker
            .seen()
            .iter()
            .any(|v| v["kind"] == "finished" && v["phase"] == "Completed")
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while !maker_done(&maker) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        maker_done(&maker),
        "the restarted maker finished the swap; maker:\n{}",
        e2e::tail(&maker.stderr(), 40)
    );
    assert_eq!(
        refused.len(),
        2,
        "completed {completed:?}, refused {refused:?}"
    );
    for taker in &mut running {
        taker.terminate();
    }
    maker.terminate();
    // the one swap paid the maker, once
    let (btc, xmr) = alice.balances();
    assert!(btc > 0 && btc < e2e::SWAP_SAT, "{btc}");
    assert!(xmr < 2 * XMR - e2e::SWAP_PICONERO, "{xmr}");
}
