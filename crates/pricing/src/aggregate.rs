//! Combining the sources' answers into one reference price: [`reference_price`].
//!
//! Pure: the caller passes every source's result and the current time. The steps are:
//!
//! 1. drop failed sources;
//! 2. drop stale observations (older than [`FeedPolicy::max_age`]) and observations from the
//!    future (more than [`MAX_CLOCK_SKEW`] ahead of `now`);
//! 3. take the median of the rest;
//! 4. drop every observation deviating from that median by more than
//!    [`FeedPolicy::max_divergence_bps`];
//! 5. the reference is the median of the survivors, if at least
//!    [`FeedPolicy::min_sources`] survive; otherwise there is [`NoQuote`], which says why for
//!    every source.
//!
//! The median of an even number of prices is the mean of the two middle ones rounded **up**
//! to the next 10^-12 BTC: a higher BTC-per-XMR reference is in the favour of the maker,
//! who sells XMR for BTC.
//!
//! With two sources, step 4 drops both when they differ by more than twice the limit (each
//! deviates from their mean by half the difference); with three or more, a single outlier
//! is dropped and the others carry on.

use crate::rate::Rate;
use crate::source::{Observation, SourceError};
use std::fmt;
use std::time::{Duration, SystemTime};

/// How far in the future an observation may be stamped before it is refused (clock skew
/// between the exchange and this machine).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// When the sources' prices are good enough to quote from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPolicy {
    /// Observations older than this are stale and dropped.
    pub max_age: Duration,
    /// Observations further than this from the median, in basis points (1/100 %) of the
    /// median, are dropped.
    pub max_divergence_bps: u32,
    /// The fewest usable sources to quote from; 0 is treated as 1.
    pub min_sources: usize,
}

impl Default for FeedPolicy {
    /// Safe for mainnet: 60 s maximum age, 200 bps (2 %) maximum divergence, two sources.
    fn default() -> FeedPolicy {
        FeedPolicy {
            max_age: Duration::from_secs(60),
            max_divergence_bps: 200,
            min_sources: 2,
        }
    }
}

/// The reference price and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The median of the usable sources' prices.
    pub btc_per_xmr: Rate,
    /// The sources whose prices made the median.
    pub used: Vec<String>,
    /// The sources left out, and why.
    pub dropped: Vec<(String, DropReason)>,
}

/// Why a source's answer was left out of the reference price.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The source gave no price.
    Failed(SourceError),
    /// The observation is older than the policy allows.
    Stale {
        /// How old it is.
        age: Duration,
        /// [`FeedPolicy::max_age`].
        limit: Duration,
    },
    /// The observation is stamped further in the future than [`MAX_CLOCK_SKEW`].
    FromFuture {
        /// How far ahead of `now` it is.
        ahead: Duration,
    },
    /// The price is too far from the median of all fresh prices.
    Divergent {
        /// The source's price.
        rate: Rate,
        /// The median it was compared to.
        median: Rate,
        /// The deviation, in basis points of the median, rounded up.
        deviation_bps: u128,
        /// [`FeedPolicy::max_divergence_bps`].
        limit_bps: u32,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Failed(error) => write!(f, "failed ({})", error.kind),
            DropReason::Stale { age, limit } => write!(
                f,
                "stale (observed {} ago, limit {})",
                Secs(*age),
                Secs(*limit)
            ),
            DropReason::FromFuture { ahead } => write!(
                f,
                "stamped {} in the future (limit {})",
                Secs(*ahead),
                Secs(MAX_CLOCK_SKEW)
            ),
            DropReason::Divergent {
                rate,
                median,
                deviation_bps,
                limit_bps,
            } => write!(
                f,
                "divergent ({rate} is {deviation_bps} bps from the median {median}, limit {limit_bps} bps)"
            ),
        }
    }
}

/// Displays a duration as whole seconds when it is at least one, else as milliseconds.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= Duration::from_secs(1) {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} ms", self.0.as_millis())
        }
    }
}

/// What became of one source in a round that produced [`NoQuote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    /// The source's price survived every check.
    Usable(Rate),
    /// The source was dropped.
    Dropped(DropReason),
}

/// Why there is no reference price to quote from; the maker must not quote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoQuote {
    /// The feed has not finished its first round.
    #[error("no price yet")]
    NoPriceYet,
    /// The feed's polling task has ended (it panicked or its runtime shut down), so its
    /// last price is no longer kept fresh.
    #[error("the price feed has stopped")]
    FeedStopped,
    /// Too few sources survived the checks.
    #[error(
        "only {usable} of {total} price sources usable (minimum {minimum}): {}",
        StatusList(.sources)
    )]
    TooFewSources {
        /// How many survived.
        usable: usize,
        /// How many were asked.
        total: usize,
        /// The policy's minimum.
        minimum: usize,
        /// Every source, in the order given, with what became of it.
        sources: Vec<(String, SourceStatus)>,
    },
}

struct StatusList<'a>(&'a [(String, SourceStatus)]);

impl fmt::Display for StatusList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no sources configured");
        }
        for (i, (name, status)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match status {
                SourceStatus::Usable(rate) => write!(f, "{name} ok ({rate})")?,
                SourceStatus::Dropped(reason) => write!(f, "{name}: {reason}")?,
            }
        }
        Ok(())
    }
}

/// The reference BTC/XMR price from every source's latest result, following `policy`.
///
/// Pure; call it once per polling round ([`crate::PriceFeed`] does). The steps:
///
/// 1. drop failed sources;
/// 2. drop stale observations (older than [`FeedPolicy::max_age`]) and observations from
///    the future (more than [`MAX_CLOCK_SKEW`] ahead of `now`);
/// 3. take the median of the rest;
/// 4. drop every observation deviating from that median by more than
///    [`FeedPolicy::max_divergence_bps`] (a deviation of exactly the limit is kept);
/// 5. the reference is the median of the survivors if at least
///    [`FeedPolicy::min_sources`] survive.
///
/// The median of an even number of prices is the mean of the two middle ones rounded
/// **up** to the next 10^-12 BTC, in the maker's favour (the maker sells XMR, so a higher
/// BTC-per-XMR reference is better for it). With two sources, step 4 drops both when they
/// differ by more than twice the limit; with three or more, a lone outlier is dropped.
///
/// `results` pairs each source's name with what its fetch returned; `now` is the current
/// time. Results are kept in the order given in [`Reference::used`],
/// [`Reference::dropped`] and the sources of [`NoQuote::TooFewSources`].
///
/// # Errors
///
/// [`NoQuote::TooFewSources`] if fewer than `policy.min_sources` (at least one) sources
/// survive; its message names every source and why it was dropped.
pub fn reference_price(
    results: &[(String, Result<Observation, SourceError>)],
    now: SystemTime,
    policy: &FeedPolicy,
) -> Result<Reference, NoQuote> {
    let mut statuses: Vec<(String, SourceStatus)> = results
        .iter()
        .map(|(name, result)| {
            let status = match result {
                Err(error) => SourceStatus::Dropped(DropReason::Failed(error.clone())),
                Ok(observation) => freshness(observation, now, policy),
            };
            (name.clone(), status)
        })
        .collect();

    if let Some(first_median) = median(usable_rates(&statuses)) {
        for (_, status) in &mut statuses {
            if let SourceStatus::Usable(rate) = *status {
                let deviation = rate.units().abs_diff(first_median.units());
                let limit =
                    u128::from(first_median.units()) * u128::from(policy.max_divergence_bps);
                if u128::from(deviation) * 10_000 > limit {
                    *status = SourceStatus::Dropped(DropReason::Divergent {
                        rate,
                        median: first_median,
                        deviation_bps: (u128::from(deviation) * 10_000)
                            .div_ceil(u128::from(first_median.units())),
                        limit_bps: policy.max_divergence_bps,
                    });
                }
            }
        }
    }

    let minimum = policy.min_sources.max(1);
    let usable = usable_rates(&statuses).count();
    match median(usable_rates(&statuses)) {
        Some(btc_per_xmr) if usable >= minimum => {
            let mut used = Vec::new();
            let mut dropped = Vec::new();
            for (name, status) in statuses {
                match status {
                    SourceStatus::Usable(_) => used.push(name),
                    SourceStatus::Dropped(reason) => dropped.push((name, reason)),
                }
            }
            Ok(Reference {
                btc_per_xmr,
                used,
                dropped,
            })
        }
        _ => Err(NoQuote::TooFewSources {
            usable,
            total: results.len(),
            minimum,
            sources: statuses,
        }),
    }
}

fn freshness(observation: &Observation, now: SystemTime, policy: &FeedPolicy) -> SourceStatus {
    match now.duration_since(observation.observed_at) {
        Ok(age) if age > policy.max_age => SourceStatus::Dropped(DropReason::Stale {
            age,
            limit: policy.max_age,
        }),
        Ok(_) => SourceStatus::Usable(observation.btc_per_xmr),
        Err(ahead) if ahead.duration() > MAX_CLOCK_SKEW => {
            SourceStatus::Dropped(DropReason::FromFuture {
                ahead: ahead.duration(),
            })
        }
        Err(_) => SourceStatus::Usable(observation.btc_per_xmr),
    }
}

fn usable_rates(statuses: &[(String, SourceStatus)]) -> impl Iterator<Item = Rate> + '_ {
    statuses.iter().filter_map(|(_, status)| match status {
        SourceStatus::Usable(rate) => Some(*rate),
        SourceStatus::Dropped(_) => None,
    })
}

/// The median; for an even count the mean of the two middle values rounded up.
fn median(rates: impl Iterator<Item = Rate>) -> Option<Rate> {
    let mut units: Vec<u64> = rates.map(Rate::units).collect();
    if units.is_empty() {
        return None;
    }
    units.sort_unstable();
    let upper = units[units.len() / 2];
    let middle = if units.len() % 2 == 1 {
        upper
    } else {
        let lower = units[units.len() / 2 - 1];
        // The mean of two u64 values, rounded up, fits in a u64.
        lower + (upper - lower).div_ceil(2)
    };
    Rate::from_units(middle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(units: &[u64]) -> impl Iterator<Item = Rate> + '_ {
        units.iter().map(|u| Rate::from_units(*u).unwrap())
    }

    #[test]
    fn median_of_an_even_count_rounds_up() {
        assert_eq!(median(rates(&[])), None);
        assert_eq!(median(rates(&[7])).unwrap().units(), 7);
        assert_eq!(median(rates(&[9, 1, 5])).unwrap().units(), 5);
        assert_eq!(median(rates(&[10, 1, 3, 8])).unwrap().units(), 6);
        assert_eq!(median(rates(&[4, 1])).unwrap().units(), 3);
        assert_eq!(
            median(rates(&[u64::MAX, u64::MAX - 1])).unwrap().units(),
            u64::MAX
        );
    }
}
