//! Swap commands (`swap ...`), `offers` and `maker run`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bitcoin::Amount;
use clap::Subcommand;
use confiaro_orchestrator::receipt::parse_swap_id;
use confiaro_orchestrator::{
    Direction, Engine, EngineConfig, EngineError, EngineEvent, LocalData, Multiaddr, Phase, Quote,
    Received, StoreLocation, SwapId, SwapView, XmrAmount,
};

use crate::output::Output;
use crate::settings::{self, parse_btc, parse_xmr};
use crate::Global;

#[derive(Subcommand)]
pub(crate) enum SwapCommand {
    /// Buy XMR with BTC from a maker, and follow the swap to its end.
    BuyXmr {
        /// BTC to pay, e.g. 0.01.
        #[arg(long, value_parser = parse_btc)]
        btc: Amount,
        /// The maker (/ip4/…/tcp/…/p2p/<peer id>); default: the best offer at the rendezvous
        /// points that takes this amount.
        #[arg(long)]
        maker: Option<Multiaddr>,
        /// Where the XMR goes; default: the built-in Monero wallet.
        #[arg(long)]
        receive: Option<String>,
    },
    /// Sell XMR for BTC to a maker that buys XMR, and follow the swap to its end. The XMR
    /// comes from the built-in Monero wallet (fund it first: `confiaro wallet`); the maker
    /// locks its BTC first, after checking a reserve proof of the wallet made for this swap.
    SellXmr {
        /// XMR to send, exactly, e.g. 1.5.
        #[arg(long, value_parser = parse_xmr)]
        xmr: XmrAmount,
        /// The maker (/ip4/…/tcp/…/p2p/<peer id>); default: the best offer at the rendezvous
        /// points that buys this amount.
        #[arg(long)]
        maker: Option<Multiaddr>,
        /// Where the BTC goes; default: the built-in Bitcoin wallet.
        #[arg(long)]
        receive: Option<String>,
    },
    /// List the swaps of this data directory.
    List,
    /// Show one swap: state, progress, deadlines, transactions, history.
    Show {
        /// The swap id.
        id: String,
    },
    /// Resume the unfinished swaps and follow this one to its end.
    Resume {
        /// The swap id.
        id: String,
    },
    /// Cancel and refund a swap whose cancel timelock has passed (the app does it on its own
    /// when it runs), then follow it to its end.
    CancelRefund {
        /// The swap id.
        id: String,
    },
    /// Abort a swap before anything is locked, telling the counterparty.
    Abort {
        /// The swap id.
        id: String,
    },
    /// Export a finished swap's receipt (JSON), for `confiaro audit verify`.
    Receipt {
        /// The swap id.
        id: String,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// Opens the engine of the data directory.
pub(crate) async fn open_engine(global: &Global, out: &Output) -> anyhow::Result<Engine> {
    open_engine_with(global, out, settings::engine_config(global)?).await
}

/// The port a maker's onion service serves on its onion address.
const ONION_PORT: u16 = 7777;

/// As [`open_engine`], for a maker: over Tor, it serves an onion service.
pub(crate) async fn open_maker_engine(global: &Global, out: &Output) -> anyhow::Result<Engine> {
    let mut config = settings::engine_config(global)?;
    if let Some(tor) = &mut config.p2p.tor {
        tor.onion_port = Some(ONION_PORT);
    }
    open_engine_with(global, out, config).await
}

async fn open_engine_with(
    global: &Global,
    out: &Output,
    config: EngineConfig,
) -> anyhow::Result<Engine> {
    let password = settings::password(global, false)?;
    out.info(&format!("opening {}", config.data_dir.display()));
    if config.p2p.tor.is_some() {
        out.info("connecting to Tor: peers are reached through Tor only (--tor off for clear TCP)");
    }
    Ok(Engine::open(config, &password).await?)
}

/// Opens the data directory's store only (no chain, no network).
pub(crate) async fn open_local(global: &Global) -> anyhow::Result<LocalData> {
    let location = StoreLocation {
        data_dir: settings::data_dir(global)?,
        url: global.store_url.clone(),
    };
    let password = settings::password(global, false)?;
    Ok(LocalData::open(&location, &password).await?)
}

/// Resolves when the user asks to stop (Ctrl-C or SIGTERM).
pub(crate) async fn stop_requested() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Prints the engine's events (all of them, or one swap's and the warnings) until dropped.
pub(crate) fn print_events(
    engine: &Engine,
    out: &Output,
    only: Option<SwapId>,
    prefix: &'static str,
) -> tokio::task::JoinHandle<()> {
    let mut events = engine.subscribe();
    let engine = engine.clone();
    let out = out.clone();
    let only = only.map(|id| id.to_string());
    let shown = move |event: &EngineEvent| match (event, &only) {
        (EngineEvent::Swap(e), Some(id)) => &e.swap_id == id,
        _ => true,
    };
    tokio::spawn(async move {
        while let Some(received) = events.next().await {
            match received {
                Received::Event(event) => {
                    if shown(&event) {
                        out.event(&event, prefix);
                    }
                }
                Received::Lagged { missed } => {
                    // the terminal fell behind: say so, then show the swaps as they are
                    let warning = EngineEvent::Warning {
                        message: format!(
                            "{missed} events were missed; the swaps as they are now follow"
                        ),
                    };
                    out.event(&warning, prefix);
                    for view in engine.swaps().await.unwrap_or_default() {
                        let event = view.current_event();
                        if shown(&event) {
                            out.event(&event, prefix);
                        }
                    }
                }
            }
        }
    })
}

/// Follows `swap_id` until it ends (or the user stops), then shuts the engine down.
async fn follow(
    engine: Engine,
    out: &Output,
    swap_id: SwapId,
    printer: tokio::task::JoinHandle<()>,
) -> anyhow::Result<ExitCode> {
    let ended = tokio::select! {
        phase = engine.wait_for_end(&swap_id) => Some(phase),
        _ = stop_requested() => None,
    };
    // let the last events reach the printer
    tokio::time::sleep(Duration::from_millis(200)).await;
    printer.abort();
    out.finish_bar();
    let code = match ended {
        Some(Ok(phase)) => {
            let view = engine.swap(&swap_id).await?;
            out.result(
                &serde_json::json!({"swap_id": swap_id.to_string(), "finished": phase, "state": view.state}),
                &format!("swap {swap_id}: {}", describe_end(phase, &view)),
            );
            ExitCode::SUCCESS
        }
        Some(Err(e)) => {
            out.error(&format!("{e}"));
            ExitCode::FAILURE
        }
        None => {
            out.result(
                &serde_json::json!({"swap_id": swap_id.to_string(), "stopped": true}),
                &format!(
                    "stopped; the swap is saved and continues with `confiaro swap resume {swap_id}`"
                ),
            );
            ExitCode::from(130)
        }
    };
    engine.shutdown().await;
    Ok(code)
}

fn describe_end(phase: Phase, view: &SwapView) -> String {
    match phase {
        Phase::Completed => format!(
            "completed ({}): {} swapped for {}",
            view.state,
            Amount::from_sat(view.btc_sat),
            view.xmr_amount()
        ),
        Phase::Refunded => format!("refunded ({}): the coins went back", view.state),
        Phase::Failed => format!("failed ({})", view.state),
        Phase::Aborted => format!("aborted ({}) before anything was locked", view.state),
        other => format!("{other:?} ({})", view.state),
    }
}

pub(crate) async fn run(
    global: &Global,
    out: &Output,
    command: SwapCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        SwapCommand::BuyXmr {
            btc,
            maker,
            receive,
        } => {
            let receive = receive
                .map(|a| {
                    a.parse::<monero::Address>()
                        .map_err(|e| anyhow::anyhow!("--receive {a}: not a Monero address ({e})"))
                })
                .transpose()?;
            let engine = open_engine(global, out).await?;
            let maker = match maker {
                Some(maker) => Ok(maker),
                None => best_offer(&engine, out, Want::Buy(btc)).await,
            };
            start_and_follow(engine, out, maker, |engine, maker| async move {
                engine.buy_xmr(&maker, btc, receive).await
            })
            .await
        }
        SwapCommand::SellXmr {
            xmr,
            maker,
            receive,
        } => {
            let receive = receive
                .map(|a| {
                    a.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
                        .map_err(|e| anyhow::anyhow!("--receive {a}: not a Bitcoin address ({e})"))
                })
                .transpose()?;
            let engine = open_engine(global, out).await?;
            let maker = match maker {
                Some(maker) => Ok(maker),
                None => best_offer(&engine, out, Want::Sell(xmr)).await,
            };
            start_and_follow(engine, out, maker, |engine, maker| async move {
                engine.sell_xmr(&maker, xmr, receive).await
            })
            .await
        }
        SwapCommand::List => {
            let local = open_local(global).await?;
            let swaps = local.swaps().await?;
            if out.json() {
                out.result(&swaps, "");
            } else if swaps.is_empty() {
                out.info("no swaps yet");
            } else {
                for s in swaps {
                    out.info(&format!(
                        "{}  {:?}  {:<24} {:>12} BTC  {:>20}  {:?}",
                        s.swap_id,
                        s.role,
                        s.state,
                        Amount::from_sat(s.btc_sat).to_btc(),
                        s.xmr_amount(),
                        s.phase
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SwapCommand::Show { id } => {
            let swap_id = parse_swap_id(&id)?;
            let local = open_local(global).await?;
            let view = local.swap(&swap_id).await?;
            let history = local.history(&swap_id).await?;
            if out.json() {
                out.result(&serde_json::json!({"swap": view, "history": history}), "");
            } else {
                out.info(&format!("swap {}", view.swap_id));
                out.info(&format!("  role {:?} with peer {}", view.role, view.peer));
                out.info(&format!(
                    "  {} for {}",
                    Amount::from_sat(view.btc_sat),
                    view.xmr_amount()
                ));
                out.info(&format!("  phase {:?}, state {}", view.phase, view.state));
                if let Some(p) = &view.progress {
                    out.info(&format!("  now: {}", p.step));
                    if let Some(d) = &p.deadline {
                        out.info(&format!(
                            "  next: {} in {} blocks (~{} min); then the app will {}",
                            d.what,
                            d.blocks,
                            d.eta_seconds.div_ceil(60),
                            d.automatic
                        ));
                    }
                }
                for (label, txid) in &view.txids {
                    out.info(&format!("  {label:?}: {txid}"));
                }
                for h in history {
                    out.info(&format!(
                        "  #{:<3} {:<24} {:?} at {}",
                        h.seq, h.state_name, h.phase, h.at
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SwapCommand::Resume { id } => {
            let swap_id = parse_swap_id(&id)?;
            let engine = open_engine(global, out).await?;
            let printer = print_events(&engine, out, Some(swap_id), "");
            follow(engine, out, swap_id, printer).await
        }
        SwapCommand::CancelRefund { id } => {
            let swap_id = parse_swap_id(&id)?;
            let engine = open_engine(global, out).await?;
            let printer = print_events(&engine, out, Some(swap_id), "");
            if let Err(e) = engine.cancel_refund(&swap_id).await {
                printer.abort();
                engine.shutdown().await;
                return Err(e.into());
            }
            out.info("cancelling and refunding");
            follow(engine, out, swap_id, printer).await
        }
        SwapCommand::Abort { id } => {
            let swap_id = parse_swap_id(&id)?;
            let engine = open_engine(global, out).await?;
            let result = engine.abort(&swap_id, Duration::from_secs(60)).await;
            let code = match result {
                Ok(told) => {
                    out.result(
                        &serde_json::json!({"swap_id": swap_id.to_string(), "aborted": true, "peer_acknowledged": told}),
                        &if told {
                            format!("swap {swap_id} aborted; the counterparty acknowledged")
                        } else {
                            format!("swap {swap_id} aborted; the counterparty did not answer in time and will time out on its own")
                        },
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    out.error(&e.to_string());
                    ExitCode::FAILURE
                }
            };
            engine.shutdown().await;
            Ok(code)
        }
        SwapCommand::Receipt { id, out: file } => {
            let swap_id = parse_swap_id(&id)?;
            let local = open_local(global).await?;
            let receipt = local.receipt(&swap_id).await?;
            let text = serde_json::to_string_pretty(&receipt)?;
            match file {
                Some(path) => {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, text + "\n")
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, &path)
                        .with_context(|| format!("writing {}", path.display()))?;
                    out.result(
                        &serde_json::json!({"receipt": path}),
                        &format!("receipt written to {}", path.display()),
                    );
                }
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Starts a swap with `start` (on the engine, with the maker's address: an `Err` from
/// finding the maker is reported like the start's own) and follows it to its end.
async fn start_and_follow<F, Fut>(
    engine: Engine,
    out: &Output,
    maker: anyhow::Result<Multiaddr>,
    start: F,
) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Engine, Multiaddr) -> Fut,
    Fut: std::future::Future<Output = Result<SwapId, EngineError>>,
{
    let maker = match maker {
        Ok(maker) => maker,
        Err(e) => {
            engine.shutdown().await;
            return Err(e);
        }
    };
    let printer = print_events(&engine, out, None, "");
    let swap_id = match start(engine.clone(), maker).await {
        Ok(id) => id,
        Err(e) => {
            printer.abort();
            engine.shutdown().await;
            return Err(e.into());
        }
    };
    out.result(
        &serde_json::json!({"swap_id": swap_id.to_string(), "started": true}),
        &format!("swap {swap_id} started (Ctrl-C stops this command; the swap resumes with `confiaro swap resume {swap_id}`)"),
    );
    follow(engine, out, swap_id, printer).await
}

/// What a taker wants from an offer.
#[derive(Clone, Copy)]
enum Want {
    /// Buy XMR for this much BTC.
    Buy(Amount),
    /// Sell exactly this much XMR.
    Sell(XmrAmount),
}

/// The best offer whose limits take what the taker wants: buying, the most XMR per BTC;
/// selling, the fewest XMR per BTC (the most BTC for the XMR).
async fn best_offer(engine: &Engine, out: &Output, want: Want) -> anyhow::Result<Multiaddr> {
    out.info("looking for offers at the rendezvous points");
    let offers = engine.offers().await?;
    let direction = match want {
        Want::Buy(_) => Direction::BuyXmr,
        Want::Sell(_) => Direction::SellXmr,
    };
    let takes = |quote: &Quote| match want {
        Want::Buy(btc) => quote.terms_for(btc).is_ok(),
        Want::Sell(xmr) => quote.terms_for_xmr(xmr).is_ok(),
    };
    let candidates = offers.iter().filter_map(|o| {
        let quote = o
            .quotes
            .as_ref()
            .ok()?
            .iter()
            .find(|q| q.direction == direction)?;
        takes(quote).then_some((quote.price, o))
    });
    let best = match want {
        Want::Buy(_) => candidates.max_by_key(|(price, _)| *price),
        Want::Sell(_) => candidates.min_by_key(|(price, _)| *price),
    };
    let Some((price, offer)) = best else {
        let amount = match want {
            Want::Buy(btc) => format!("buys XMR for {btc}"),
            Want::Sell(xmr) => format!("buys {xmr}"),
        };
        bail!(
            "no offer {amount} ({} offers found); see `confiaro offers`",
            offers.len()
        );
    };
    out.info(&format!("best offer: {} at {price}", offer.peer));
    offer
        .addresses
        .first()
        .context("the offer has no address")?
        .parse()
        .context("the offer's address")
}

pub(crate) async fn offers(global: &Global, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = open_engine(global, out).await?;
    let result = engine.offers().await;
    engine.shutdown().await;
    let offers = result?;
    if out.json() {
        let rows: Vec<_> = offers
            .iter()
            .map(|o| match &o.quotes {
                Ok(quotes) => serde_json::json!({"peer": o.peer, "addresses": o.addresses,
                    "quotes": quotes.iter().map(|q| serde_json::json!({
                        "side": q.direction.name(),
                        "price_piconero_per_btc": q.price.0,
                        "min_sat": q.min_btc.to_sat(),
                        "max_sat": q.max_btc.to_sat(),
                        "cancel_timelock": q.cancel_timelock,
                    })).collect::<Vec<_>>(),
                    "reserve_piconero": o.reserve_piconero}),
                Err(e) => serde_json::json!({"peer": o.peer, "addresses": o.addresses, "error": e}),
            })
            .collect();
        out.result(&rows, "");
    } else if offers.is_empty() {
        out.info("no offers registered");
    } else {
        for o in offers {
            match &o.quotes {
                Ok(quotes) => {
                    out.info(&format!(
                        "{}  {}\n  {}",
                        o.peer,
                        match o.reserve_piconero {
                            Some(p) => format!("reserves proven: {}", XmrAmount::from_piconero(p)),
                            None => "no reserve proof".to_owned(),
                        },
                        o.addresses.first().map(String::as_str).unwrap_or("")
                    ));
                    for q in quotes {
                        let side = match q.direction {
                            Direction::BuyXmr => "you buy XMR ",
                            Direction::SellXmr => "you sell XMR",
                        };
                        out.info(&format!(
                            "  {side}  {}  min {}  max {}",
                            q.price, q.min_btc, q.max_btc
                        ));
                    }
                }
                Err(e) => out.info(&format!("{}  no quote: {e}", o.peer)),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
