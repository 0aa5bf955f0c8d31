//! `confiaro maker run`: a maker that quotes until stopped — at a fixed price (`--price`, for
//! the devnet and tests) or, with `--config maker.toml`, priced from exchange feeds with a
//! spread, with the admin API and metrics on loopback. Either way it keeps every swap moving
//! and, on Ctrl-C or SIGTERM, stops quoting at once and waits for swaps in the middle of an
//! action before it exits.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use bitcoin::Amount;
use clap::Subcommand;
use confiaro_orchestrator::{Engine, MakerSettings, Price, SellSide};
use confiaro_pricing::{
    maker_bid_price, maker_price, BitfinexTicker, FeedPolicy, FeedState, KrakenTicker, PriceFeed,
    PriceSource,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminState, FeedView};
use crate::maker_config::{Exchange, MakerConfig};
use crate::output::Output;
use crate::swap::{open_maker_engine, print_events, stop_requested};
use crate::{settings, Global};

#[derive(Subcommand)]
pub(crate) enum MakerCommand {
    /// Quote, take swaps and keep them moving until stopped (Ctrl-C, SIGTERM). Either
    /// `--config maker.toml` (prices from exchange feeds, admin API, metrics) or a fixed
    /// `--price` with `--min` and `--max`.
    Run {
        /// The maker's configuration file (see maker.example.toml).
        #[arg(long, conflicts_with_all = ["price", "min", "max"])]
        config: Option<PathBuf>,
        /// A fixed price in XMR per BTC, e.g. 150.5 (up to 12 decimals).
        #[arg(long, value_parser = settings::parse_price, requires_all = ["min", "max"])]
        price: Option<Price>,
        /// Smallest swap in BTC, e.g. 0.001 (with --price).
        #[arg(long, value_parser = settings::parse_btc)]
        min: Option<Amount>,
        /// Largest swap in BTC (with --price).
        #[arg(long, value_parser = settings::parse_btc)]
        max: Option<Amount>,
        /// With --price: also buy XMR (takers sell it) at this fixed price in XMR per BTC,
        /// between --sell-min and --sell-max.
        #[arg(long, value_parser = settings::parse_price, requires_all = ["price", "sell_min", "sell_max"])]
        sell_price: Option<Price>,
        /// Smallest swap in BTC when buying XMR (with --sell-price).
        #[arg(long, value_parser = settings::parse_btc)]
        sell_min: Option<Amount>,
        /// Largest swap in BTC when buying XMR (with --sell-price).
        #[arg(long, value_parser = settings::parse_btc)]
        sell_max: Option<Amount>,
        /// With --price: how long to wait, on a stop, for swaps in the middle of an action.
        #[arg(long, default_value_t = 120)]
        grace_secs: u64,
    },
}

pub(crate) async fn run(
    global: &Global,
    out: &Output,
    command: MakerCommand,
) -> anyhow::Result<ExitCode> {
    let MakerCommand::Run {
        config,
        price,
        min,
        max,
        sell_price,
        sell_min,
        sell_max,
        grace_secs,
    } = command;
    match (config, price, min, max) {
        (Some(path), ..) => run_configured(global, out, &path).await,
        (None, Some(price), Some(min), Some(max)) => {
            let sell = match (sell_price, sell_min, sell_max) {
                (Some(bid), Some(min), Some(max)) => Some((bid, SellSide::new(min, max))),
                _ => None,
            };
            run_fixed(global, out, price, min, max, sell, Duration::from_secs(grace_secs)).await
        }
        _ => anyhow::bail!(
            "say how to price: --config maker.toml (see maker.example.toml), or --price XMR_PER_BTC --min BTC --max BTC"
        ),
    }
}

/// A maker at a fixed price.
async fn run_fixed(
    global: &Global,
    out: &Output,
    price: Price,
    min: Amount,
    max: Amount,
    sell: Option<(Price, SellSide)>,
    grace: Duration,
) -> anyhow::Result<ExitCode> {
    let engine = open_maker_engine(global, out).await?;
    let printer = print_events(&engine, out, None, "");
    let settings = MakerSettings {
        sell: sell.map(|(_, side)| side),
        ..MakerSettings::new(min, max)
    };
    if let Err(e) = engine.start_maker(settings, Ok(price)).await {
        printer.abort();
        engine.shutdown().await;
        return Err(e.into());
    }
    if let Some((bid, _)) = sell {
        engine.set_bid_price(Ok(bid));
    }
    let addresses = listen_addresses(&engine).await;
    out.result(
        &json!({"ready": true, "peer_id": engine.peer_id().to_string(), "addresses": addresses}),
        &format!(
            "maker {} quoting {price}, {min} to {max} per swap\nlistening on {}\n(Ctrl-C or SIGTERM stops; unfinished swaps resume at the next start)",
            engine.peer_id(),
            addresses.join(", ")
        ),
    );
    stop_requested().await;
    stop(engine, out, grace, printer).await;
    Ok(ExitCode::SUCCESS)
}

/// A maker priced from exchange feeds, with the admin API and metrics.
async fn run_configured(global: &Global, out: &Output, path: &Path) -> anyhow::Result<ExitCode> {
    let config = MakerConfig::load(path)?;
    let sources = price_sources(&config)?;
    let policy = FeedPolicy {
        max_age: config.max_age,
        max_divergence_bps: config.max_divergence_bps,
        min_sources: config.min_sources,
    };
    let data_dir = settings::data_dir(global)?;
    let token_path = data_dir.join(&config.admin_token_file);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let token = admin::load_or_create_token(&token_path)?;

    let engine = open_maker_engine(global, out).await?;
    let printer = print_events(&engine, out, None, "");
    let feed = PriceFeed::spawn(sources, policy, config.poll_interval);
    let view = Arc::new(Mutex::new(FeedView::default()));
    let settings = MakerSettings {
        min_btc: config.min_btc,
        max_btc: config.max_btc,
        quotes_per_minute: config.quotes_per_minute,
        quote_validity: config.quote_validity,
        reserve_proof: config.reserve_proof,
        sell: config.sell.map(|s| s.side),
        max_open_setups: config.max_open_setups.0,
        max_open_setups_per_peer: config.max_open_setups.1,
    };
    let stopping = CancellationToken::new();
    let started = async {
        engine
            .start_maker(settings, price_of(&feed.current(), config.spread_bps))
            .await?;
        engine.set_bid_price(bid_of(&feed.current(), &config));
        follow_feed(&engine, &feed, &config, &view, out, &stopping);
        let state = AdminState {
            engine: engine.clone(),
            token: Arc::new(token),
            feed: Arc::clone(&view),
        };
        admin::serve(
            config.admin_listen,
            config.metrics_listen,
            state,
            stopping.clone(),
        )
        .await
    }
    .await;
    let (admin_at, metrics_at) = match started {
        Ok(bound) => bound,
        Err(e) => {
            printer.abort();
            engine.shutdown().await;
            return Err(e);
        }
    };
    let addresses = listen_addresses(&engine).await;
    out.result(
        &json!({
            "ready": true,
            "peer_id": engine.peer_id().to_string(),
            "addresses": addresses,
            "admin": admin_at.to_string(),
            "metrics": metrics_at.to_string(),
            "admin_token_file": token_path.display().to_string(),
        }),
        &format!(
            "maker {} quoting from {} price sources at a {} bps spread, {} to {} per swap\nlistening on {}\nadmin API http://{admin_at} (token in {}), metrics http://{metrics_at}/metrics\n(Ctrl-C or SIGTERM stops; unfinished swaps resume at the next start)",
            engine.peer_id(),
            config.sources.len(),
            config.spread_bps,
            config.min_btc,
            config.max_btc,
            addresses.join(", "),
            token_path.display(),
        ),
    );
    stop_requested().await;
    stopping.cancel();
    drop(feed);
    stop(engine, out, config.shutdown_grace, printer).await;
    Ok(ExitCode::SUCCESS)
}

/// The configured sources, built.
fn price_sources(config: &MakerConfig) -> anyhow::Result<Vec<Box<dyn PriceSource>>> {
    config
        .sources
        .iter()
        .map(|source| {
            let (build, default_url): (fn(&str, Duration) -> _, _) = match source.exchange {
                Exchange::Kraken => (KrakenTicker::at, confiaro_pricing::kraken::DEFAULT_BASE_URL),
                Exchange::Bitfinex => (
                    BitfinexTicker::at,
                    confiaro_pricing::bitfinex::DEFAULT_BASE_URL,
                ),
            };
            let ticker = build(
                source.url.as_deref().unwrap_or(default_url),
                config.request_timeout,
            )?;
            Ok(Box::new(ticker) as Box<dyn PriceSource>)
        })
        .collect()
}

/// The maker's bid (where it buys XMR) from the feed's state with the `[sell]` spread, or
/// why there is none.
fn bid_of(state: &FeedState, config: &MakerConfig) -> Result<Price, String> {
    let sell = config.sell.ok_or("the maker does not buy XMR")?;
    let reference = state.as_ref().map_err(ToString::to_string)?;
    maker_bid_price(reference.btc_per_xmr, sell.spread_bps).map_err(|e| e.to_string())
}

/// The maker's price from the feed's state, or why there is none.
fn price_of(state: &FeedState, spread_bps: u32) -> Result<Price, String> {
    let reference = state.as_ref().map_err(ToString::to_string)?;
    maker_price(reference.btc_per_xmr, spread_bps).map_err(|e| e.to_string())
}

/// Hands every new feed state to the engine (and to the admin view) until `stop`; says when
/// quoting stops and resumes.
fn follow_feed(
    engine: &Engine,
    feed: &PriceFeed,
    config: &MakerConfig,
    view: &Arc<Mutex<FeedView>>,
    out: &Output,
    stop: &CancellationToken,
) {
    let mut updates = feed.subscribe();
    let (engine, view, out, stop) = (engine.clone(), Arc::clone(view), out.clone(), stop.clone());
    let (config, spread_bps) = (config.clone(), config.spread_bps);
    tokio::spawn(async move {
        let mut quoting: Option<bool> = None;
        loop {
            let state = updates.borrow_and_update().clone();
            let price = price_of(&state, spread_bps);
            *view.lock().unwrap_or_else(|p| p.into_inner()) = feed_view(&state, &price);
            match (&price, quoting) {
                (Ok(p), Some(false) | None) => {
                    out.info(&format!("quoting at {p}"));
                    quoting = Some(true);
                }
                (Err(reason), Some(true) | None) => {
                    out.info(&format!("not quoting: {reason}"));
                    quoting = Some(false);
                }
                _ => {}
            }
            engine.set_maker_price(price);
            if config.sell.is_some() {
                engine.set_bid_price(bid_of(&state, &config));
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = updates.changed() => if changed.is_err() { return },
            }
        }
    });
}

fn feed_view(state: &FeedState, price: &Result<Price, String>) -> FeedView {
    match state {
        Ok(reference) => FeedView {
            detail: json!({
                "reference_btc_per_xmr": reference.btc_per_xmr.to_string(),
                "price_piconero_per_btc": price.as_ref().ok().map(|p| p.0),
                "used": reference.used,
                "dropped": reference.dropped.iter().map(|(name, why)| json!({"source": name, "reason": why.to_string()})).collect::<Vec<_>>(),
            }),
            sources: reference
                .used
                .iter()
                .map(|name| (name.clone(), true))
                .chain(
                    reference
                        .dropped
                        .iter()
                        .map(|(name, _)| (name.clone(), false)),
                )
                .collect(),
        },
        Err(reason) => FeedView {
            detail: json!({"error": reason.to_string()}),
            sources: Vec::new(),
        },
    }
}

/// The engine's listen addresses as text.
pub(crate) async fn listen_addresses(engine: &Engine) -> Vec<String> {
    engine
        .listen_addresses()
        .await
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A graceful stop: no new quotes or swaps, wait (at most `grace`) for actions in progress,
/// then shut the engine down.
async fn stop(engine: Engine, out: &Output, grace: Duration, printer: tokio::task::JoinHandle<()>) {
    let busy = engine.busy_actions();
    if busy > 0 {
        out.info(&format!(
            "stopping: no new quotes or swaps; waiting for {busy} swap action(s) in progress (at most {} s)",
            grace.as_secs()
        ));
    } else {
        out.info("stopping");
    }
    let left = engine.drain(grace).await;
    if left > 0 {
        out.info(&format!(
            "{left} swap action(s) still running after {} s; they resume at the next start",
            grace.as_secs()
        ));
    }
    printer.abort();
    engine.shutdown().await;
    out.result(
        &json!({"stopped": true, "unfinished_actions": left}),
        "stopped",
    );
}
