//! The maker's operations endpoints, both on loopback: a small admin API behind a bearer
//! token (status, swaps, balances, withdraw, pause and resume quoting) and Prometheus
//! metrics (`GET /metrics`, text exposition format, no token).
//!
//! The token lives in a file of its own (mode 0600), created with 32 random bytes on first
//! start; it is never logged or printed. Answers are JSON; errors are `{"error": "..."}` with
//! a 4xx/5xx status.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use confiaro_orchestrator::{Engine, XmrAmount};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::settings::{parse_btc, parse_xmr};

/// What the price feed last said, for status and metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct FeedView {
    /// The reference price's sources and the ones dropped (with why), or why there is none.
    pub(crate) detail: serde_json::Value,
    /// Each configured source and whether its price was used.
    pub(crate) sources: Vec<(String, bool)>,
}

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub(crate) engine: Engine,
    pub(crate) token: Arc<String>,
    pub(crate) feed: Arc<Mutex<FeedView>>,
}

/// Reads the admin token from `path`, or creates the file with a new random token (mode
/// 0600) when there is none.
pub(crate) fn load_or_create_token(path: &Path) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if path.exists() {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the admin token file {}", path.display()))?;
        let token = token.trim().to_owned();
        anyhow::ensure!(
            token.len() >= 32,
            "the admin token in {} is shorter than 32 characters: write a longer one or delete the file to have one made",
            path.display()
        );
        return Ok(token);
    }
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).context("reading random bytes for the admin token")?;
    let token = hex::encode(bytes);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the admin token file {}", path.display()))?;
    writeln!(file, "{token}").context("writing the admin token file")?;
    Ok(token)
}

/// An error answer.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// Refuses requests without `Authorization: Bearer <token>` (compared in constant time).
async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), state.token.as_bytes()) {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send Authorization: Bearer <the token in the admin token file>"
                .into(),
        ));
    }
    Ok(next.run(request).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn status(State(state): State<AdminState>) -> Result<Json<serde_json::Value>, ApiError> {
    let engine = &state.engine;
    let addresses = crate::maker::listen_addresses(engine).await;
    let feed = state
        .feed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .detail
        .clone();
    Ok(Json(json!({
        "peer_id": engine.peer_id().to_string(),
        "network": format!("{:?}", engine.network()),
        "addresses": addresses,
        "maker": engine.maker_status(),
        "price_feed": feed,
        "busy_actions": engine.busy_actions(),
    })))
}

async fn swaps(State(state): State<AdminState>) -> Result<Json<serde_json::Value>, ApiError> {
    let swaps = state.engine.swaps().await.map_err(internal)?;
    Ok(Json(json!({ "swaps": swaps })))
}

async fn balances(State(state): State<AdminState>) -> Result<Json<serde_json::Value>, ApiError> {
    let balances = state.engine.balances().await.map_err(internal)?;
    Ok(Json(json!(balances)))
}

/// `POST /withdraw`: `{"asset": "btc"|"xmr", "address": "...", "amount": "0.1"}`; a BTC
/// withdrawal without `amount` sends everything not reserved by swaps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Withdraw {
    asset: String,
    address: String,
    amount: Option<String>,
}

async fn withdraw(
    State(state): State<AdminState>,
    Json(request): Json<Withdraw>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match request.asset.as_str() {
        "btc" => {
            let to = request
                .address
                .parse()
                .map_err(|e| bad_request(format!("address: not a Bitcoin address: {e}")))?;
            let amount = request
                .amount
                .as_deref()
                .map(parse_btc)
                .transpose()
                .map_err(|e| bad_request(format!("amount: {e}")))?;
            let txid = state
                .engine
                .withdraw_btc(to, amount)
                .await
                .map_err(|e| bad_request(e.to_string()))?;
            Ok(Json(json!({"txid": txid.to_string()})))
        }
        "xmr" => {
            let to: monero::Address = request
                .address
                .parse()
                .map_err(|e| bad_request(format!("address: not a Monero address: {e}")))?;
            let amount: XmrAmount = request
                .amount
                .as_deref()
                .ok_or_else(|| bad_request("amount: required for XMR"))
                .and_then(|a| parse_xmr(a).map_err(|e| bad_request(format!("amount: {e}"))))?;
            let tx = state
                .engine
                .withdraw_xmr(to, amount)
                .await
                .map_err(|e| bad_request(e.to_string()))?;
            Ok(Json(json!({"tx_hash": tx})))
        }
        other => Err(bad_request(format!(
            "asset: {other:?} is neither \"btc\" nor \"xmr\""
        ))),
    }
}

async fn pause(State(state): State<AdminState>) -> Json<serde_json::Value> {
    state.engine.pause_quoting(true);
    Json(json!({ "maker": state.engine.maker_status() }))
}

async fn resume(State(state): State<AdminState>) -> Json<serde_json::Value> {
    state.engine.pause_quoting(false);
    Json(json!({ "maker": state.engine.maker_status() }))
}

/// The metrics in Prometheus' text exposition format.
async fn metrics(State(state): State<AdminState>) -> Response {
    let text = render_metrics(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn render_metrics(state: &AdminState) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let label = |key: &str, value: &str| {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        format!("{{{key}=\"{escaped}\"}}")
    };
    if let Some(maker) = state.engine.maker_status() {
        metric(
            "confiaro_maker_quoting",
            "gauge",
            "Whether the maker answers quote requests with a quote (1) or refuses them (0).",
            &[(String::new(), u64::from(maker.quoting))],
        );
        metric(
            "confiaro_maker_paused",
            "gauge",
            "Whether the operator paused quoting.",
            &[(String::new(), u64::from(maker.paused))],
        );
        if let Some(price) = maker.price_piconero_per_btc {
            metric(
                "confiaro_maker_price_piconero_per_btc",
                "gauge",
                "The quoted price: piconero paid per BTC.",
                &[(String::new(), price)],
            );
        }
        metric(
            "confiaro_maker_limit_sat",
            "gauge",
            "The smallest and the largest swap quoted now, in satoshi.",
            &[
                (label("limit", "min"), maker.min_sat),
                (label("limit", "max"), maker.max_sat),
            ],
        );
        if let Some(free) = maker.free_piconero {
            metric(
                "confiaro_maker_free_xmr_piconero",
                "gauge",
                "Unlocked XMR not promised to any swap, in piconero.",
                &[(String::new(), free)],
            );
        }
        if let Some(sell) = &maker.sell {
            metric(
                "confiaro_maker_sell_quoting",
                "gauge",
                "Whether the maker quotes the side on which it buys XMR (1) or not (0).",
                &[(String::new(), u64::from(sell.quoting))],
            );
            if let Some(bid) = sell.price_piconero_per_btc {
                metric(
                    "confiaro_maker_bid_piconero_per_btc",
                    "gauge",
                    "The price bid on the side on which the maker buys XMR: piconero asked per BTC paid.",
                    &[(String::new(), bid)],
                );
            }
            metric(
                "confiaro_maker_sell_limit_sat",
                "gauge",
                "The smallest and the largest swap quoted now on the side on which the maker buys XMR, in satoshi.",
                &[
                    (label("limit", "min"), sell.min_sat),
                    (label("limit", "max"), sell.max_sat),
                ],
            );
            if let Some(free) = sell.free_sat {
                metric(
                    "confiaro_maker_free_btc_sat",
                    "gauge",
                    "Spendable BTC not promised to any swap, in satoshi.",
                    &[(String::new(), free)],
                );
            }
        }
        let c = maker.counters;
        metric(
            "confiaro_maker_quote_requests_total",
            "counter",
            "Quote requests by outcome.",
            &[
                (label("outcome", "served"), c.quotes_served),
                (label("outcome", "refused"), c.quotes_refused),
                (label("outcome", "rate_limited"), c.quotes_rate_limited),
            ],
        );
        metric(
            "confiaro_maker_swap_setups_total",
            "counter",
            "Swap setups by outcome.",
            &[
                (label("outcome", "accepted"), c.swaps_accepted),
                (label("outcome", "refused"), c.swaps_refused),
            ],
        );
        metric(
            "confiaro_maker_sell_setups_total",
            "counter",
            "Setup requests of takers selling XMR by outcome (counted in confiaro_maker_swap_setups_total too).",
            &[
                (label("outcome", "accepted"), c.sells_accepted),
                (label("outcome", "refused"), c.sells_refused),
            ],
        );
    }
    let sources = state
        .feed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sources
        .clone();
    if !sources.is_empty() {
        let samples: Vec<(String, u64)> = sources
            .iter()
            .map(|(name, used)| (label("source", name), u64::from(*used)))
            .collect();
        metric(
            "confiaro_price_source_used",
            "gauge",
            "Whether the source's last price went into the reference price.",
            &samples,
        );
    }
    if let Ok(by_phase) = state.engine.swaps_by_phase().await {
        let samples: Vec<(String, u64)> = by_phase
            .into_iter()
            .map(|(phase, n)| (label("phase", &format!("{phase:?}")), n))
            .collect();
        metric(
            "confiaro_swaps",
            "gauge",
            "Swaps in the store by phase.",
            &samples,
        );
    }
    if let Ok(b) = state.engine.balances().await {
        metric(
            "confiaro_wallet_btc_sat",
            "gauge",
            "The built-in Bitcoin wallet's balance, in satoshi.",
            &[
                (label("kind", "confirmed"), b.btc_confirmed_sat),
                (label("kind", "pending"), b.btc_pending_sat),
            ],
        );
        metric(
            "confiaro_wallet_xmr_piconero",
            "gauge",
            "The built-in Monero wallet's balance, in piconero.",
            &[
                (label("kind", "total"), b.xmr_total_piconero),
                (label("kind", "unlocked"), b.xmr_unlocked_piconero),
            ],
        );
    }
    metric(
        "confiaro_busy_actions",
        "gauge",
        "Swap actions running now that a graceful stop waits for.",
        &[(String::new(), state.engine.busy_actions() as u64)],
    );
    out
}

/// The admin API's routes (all behind the token).
fn admin_router(state: AdminState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/swaps", get(swaps))
        .route("/balances", get(balances))
        .route("/withdraw", post(withdraw))
        .route("/quoting/pause", post(pause))
        .route("/quoting/resume", post(resume))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

fn metrics_router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves the admin API on `admin` and the metrics on `metrics` until `stop` is cancelled.
/// Returns the bound addresses (a port 0 is given a free one).
pub(crate) async fn serve(
    admin: SocketAddr,
    metrics: SocketAddr,
    state: AdminState,
    stop: CancellationToken,
) -> anyhow::Result<(SocketAddr, SocketAddr)> {
    let mut bound = Vec::new();
    for (address, router, what) in [
        (admin, admin_router(state.clone()), "admin API"),
        (metrics, metrics_router(state), "metrics"),
    ] {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening for the {what} on {address}"))?;
        bound.push(listener.local_addr()?);
        let stop = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::warn!("the {what} stopped: {e}");
            }
        });
    }
    Ok((bound[0], bound[1]))
}
