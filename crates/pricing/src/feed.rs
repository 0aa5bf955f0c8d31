//! [`PriceFeed`]: a background task that polls every source and keeps the latest reference
//! price (or the reason there is none) in a [`tokio::sync::watch`] channel.
//!
//! This is the only part of the crate with a clock and a timer; every decision is
//! [`reference_price`]'s.

use crate::aggregate::{reference_price, FeedPolicy, NoQuote, Reference};
use crate::source::{Observation, PriceSource, SourceError, SourceErrorKind};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// What a [`PriceFeed`] publishes: the reference price to quote from, or why not to quote.
pub type FeedState = Result<Reference, NoQuote>;

/// Polls price sources in the background and publishes the reference price.
///
/// The task starts on [`PriceFeed::spawn`] and is aborted when the `PriceFeed` is dropped.
/// Until its first round completes, [`PriceFeed::current`] is [`NoQuote::NoPriceYet`].
/// After that, each round replaces the published state, so a feed whose sources stop
/// answering stops quoting within one round of them going stale or failing.
#[derive(Debug)]
pub struct PriceFeed {
    state: watch::Receiver<FeedState>,
    task: JoinHandle<()>,
}

impl PriceFeed {
    /// Starts polling `sources` concurrently every `interval` (the first round starts at
    /// once; intervals under 1 ms are raised to 1 ms) and judging their answers with
    /// `policy`.
    ///
    /// A fetch that takes longer than `policy.max_age` is abandoned and counts as a
    /// timeout: its price would be stale anyway.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime.
    pub fn spawn(
        sources: Vec<Box<dyn PriceSource>>,
        policy: FeedPolicy,
        interval: Duration,
    ) -> PriceFeed {
        let (publish, state) = watch::channel(Err(NoQuote::NoPriceYet));
        let sources: Arc<[Box<dyn PriceSource>]> = sources.into();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut quoting: Option<bool> = None;
            loop {
                ticker.tick().await;
                let results = poll_sources(&sources, policy.max_age).await;
                let state = reference_price(&results, SystemTime::now(), &policy);
                log_transition(&mut quoting, &state);
                let _previous = publish.send_replace(state);
            }
        });
        PriceFeed { state, task }
    }

    /// The latest published state: the reference price, or why there is none.
    ///
    /// The state is from the last completed round, which lasts at most `policy.max_age`
    /// and starts every `interval`. If the polling task has ended, this is
    /// [`NoQuote::FeedStopped`] rather than a price that is no longer refreshed.
    pub fn current(&self) -> FeedState {
        if self.task.is_finished() {
            return Err(NoQuote::FeedStopped);
        }
        self.state.borrow().clone()
    }

    /// A receiver notified on every round (the value may be unchanged).
    pub fn subscribe(&self) -> watch::Receiver<FeedState> {
        self.state.clone()
    }
}

impl Drop for PriceFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fetches every source once, concurrently, each bounded by `limit`; results are in the
/// order of `sources`.
pub async fn poll_sources(
    sources: &[Box<dyn PriceSource>],
    limit: Duration,
) -> Vec<(String, Result<Observation, SourceError>)> {
    let fetches = sources.iter().map(|source| async move {
        let result = match tokio::time::timeout(limit, source.fetch()).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::new(
                source.name(),
                SourceErrorKind::Timeout { after: limit },
            )),
        };
        (source.name().to_owned(), result)
    });
    futures_util::future::join_all(fetches).await
}

fn log_transition(quoting: &mut Option<bool>, state: &FeedState) {
    let now_quoting = state.is_ok();
    if *quoting == Some(now_quoting) {
        return;
    }
    match state {
        Ok(reference) => tracing::info!(
            price = %reference.btc_per_xmr,
            used = ?reference.used,
            "price feed: quoting {}",
            if quoting.is_some() { "resumed" } else { "started" }
        ),
        // info, not warn: the application shows the transition to its operator (the CLI
        // prints "not quoting: ..."); at the default level it would be said twice
        Err(why) => tracing::info!("price feed: quoting stopped: {why}"),
    }
    *quoting = Some(now_quoting);
}
