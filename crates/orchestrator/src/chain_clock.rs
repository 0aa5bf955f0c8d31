//! Before a taker swap starts: is this machine's clock in step with the Bitcoin chain, and are
//! the chain sources caught up with their networks?
//!
//! Timelocks count blocks, but the deadlines a user is shown and the moments the engine gives
//! up on a step come from this machine's clock, and a chain source stuck behind its network
//! hides the very blocks that count a timelock down. Off regtest, [`check_before_swap`]
//! refuses to start a swap when
//! - the clock is behind the chain: the Bitcoin chain's median time past (BIP113, the median
//!   of the last eleven blocks' timestamps, about an hour behind real time) is ahead of it;
//! - the Bitcoin source's median time past is older than the network allows
//!   ([`max_median_age`]): the source is behind the network, or the clock is ahead;
//! - monerod is still syncing, or its peers are more than [`MONERO_BEHIND_BLOCKS`] blocks
//!   ahead of it.
//!
//! A maker runs the same check every minute and takes no quote or setup while it fails
//! ([`chain_step`]).
//!
//! Regtest chains stand still between tests, so there the check runs only under the
//! `clock-skew` test fault ([`crate::faults`]), which also moves the clock it reads.

use confiaro_monero::rpc::DaemonInfo;
use confiaro_protocol::Network;

use crate::context::{now, Context};
use crate::error::EngineError;

/// How far the chain's median time past may be ahead of this machine's clock. An honest
/// median is about an hour behind real time, so this already means a clock more than an hour
/// slow.
pub const CLOCK_BEHIND_TOLERANCE_SECONDS: u64 = 10 * 60;

/// How many blocks monerod may be behind the height its peers claim.
pub const MONERO_BEHIND_BLOCKS: u64 = 2;

/// The oldest median time past a caught-up source shows on `network`, in seconds: the median
/// lags real time by about six block intervals, plus a slow stretch of blocks. Four hours on
/// mainnet and signet (a median that old has odds below one in a million); twelve on
/// testnet4, whose blocks come erratically.
pub fn max_median_age(network: Network) -> u64 {
    match network {
        Network::Testnet4 => 12 * 3600,
        Network::Mainnet | Network::Signet | Network::Regtest => 4 * 3600,
    }
}

/// Hours and minutes, for messages.
fn span(seconds: u64) -> String {
    let minutes = seconds / 60;
    match minutes / 60 {
        0 => format!("{minutes} min"),
        hours => format!("{hours} h {} min", minutes % 60),
    }
}

/// What is wrong, if anything, with a clock reading `now` against a Bitcoin chain whose tip
/// at `height` has median time past `median` (unix seconds both): the refusal's text.
///
/// # Errors
/// The text of what is out of step and what to do.
pub fn bitcoin_verdict(network: Network, now: u64, median: u64, height: u32) -> Result<(), String> {
    if median > now + CLOCK_BEHIND_TOLERANCE_SECONDS {
        return Err(format!(
            "this computer's clock is behind the Bitcoin chain: the chain's median time at \
             block {height} is {} ahead of it. Set the clock right (with automatic network \
             time) and try again",
            span(median - now)
        ));
    }
    let age = now.saturating_sub(median);
    if age > max_median_age(network) {
        return Err(format!(
            "the Bitcoin chain source is behind the network, or this computer's clock is \
             ahead: the source's newest block ({height}) has a median time {} old (at most {} \
             is normal on {network}). Check that the node is synced and the clock is right",
            span(age),
            span(max_median_age(network))
        ));
    }
    Ok(())
}

/// [`bitcoin_verdict`] with this machine's clock now (no test skew): for reports such as
/// `confiaro check`.
///
/// # Errors
/// As [`bitcoin_verdict`].
pub fn bitcoin_verdict_now(network: Network, median: u64, height: u32) -> Result<(), String> {
    bitcoin_verdict(network, now().0, median, height)
}

/// What is wrong, if anything, with a Monero daemon reporting `info`.
///
/// # Errors
/// The text of how far behind it is.
pub fn monero_verdict(info: &DaemonInfo) -> Result<(), String> {
    if info.busy_syncing || info.target_height > info.height + MONERO_BEHIND_BLOCKS {
        return Err(format!(
            "monerod is behind the Monero network (height {} of {}): wait until it has synced",
            info.height,
            info.target_height.max(info.height)
        ));
    }
    Ok(())
}

/// This machine's clock in unix seconds, moved by the `clock-skew` test fault if set.
fn skewed_now(cx: &Context) -> u64 {
    now()
        .0
        .saturating_add_signed(cx.faults.clock_skew.unwrap_or(0))
}

/// Whether the clock and chain sources are in step now (module docs): `Ok(Ok(()))`, or
/// `Ok(Err(reason))` when they are not. A maker asks it periodically and keeps the answer
/// (so a flood of setups costs no chain request); a taker asks it before each swap.
///
/// # Errors
/// The chain sources' errors when they cannot be asked.
pub(crate) async fn chain_step(cx: &Context) -> Result<Result<(), String>, EngineError> {
    let network = cx.config.network;
    if network == Network::Regtest && cx.faults.clock_skew.is_none() {
        return Ok(Ok(()));
    }
    let (tip, median) = cx.btc.tip_and_median_time().await?;
    if let Err(reason) = bitcoin_verdict(network, skewed_now(cx), median, tip.height) {
        return Ok(Err(reason));
    }
    Ok(monero_verdict(&cx.xmr.daemon_info().await?))
}

/// Refuses ([`EngineError::ChainOutOfStep`]) to start a swap while the clock or a chain
/// source is out of step ([`chain_step`]); call it before a taker's swap commits to anything.
///
/// # Errors
/// [`EngineError::ChainOutOfStep`] with the reason; the chain sources' errors when they
/// cannot be asked.
pub(crate) async fn check_before_swap(cx: &Context) -> Result<(), EngineError> {
    chain_step(cx).await?.map_err(EngineError::ChainOutOfStep)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_clock_in_step_with_a_caught_up_chain_passes() {
        for network in Network::ALL {
            // the usual lag of a median, an hour
            assert_eq!(bitcoin_verdict(network, NOW, NOW - 3600, 900), Ok(()));
            // a clock a few minutes slow
            assert_eq!(bitcoin_verdict(network, NOW, NOW + 300, 900), Ok(()));
            assert_eq!(
                bitcoin_verdict(network, NOW, NOW - max_median_age(network), 900),
                Ok(())
            );
        }
    }

    #[test]
    fn a_slow_clock_is_named_as_such() {
        let err = bitcoin_verdict(Network::Mainnet, NOW, NOW + 2 * 3600, 900).unwrap_err();
        assert!(err.contains("clock is behind"), "{err}");
        assert!(err.contains("2 h 0 min ahead"), "{err}");
    }

    #[test]
    fn a_stale_source_or_a_fast_clock_is_named_with_the_age() {
        let err = bitcoin_verdict(Network::Signet, NOW, NOW - 5 * 3600, 900).unwrap_err();
        assert!(err.contains("source is behind"), "{err}");
        assert!(err.contains("5 h 0 min old"), "{err}");
        assert!(err.contains("signet"), "{err}");
        // testnet4's erratic blocks get longer
        assert_eq!(
            bitcoin_verdict(Network::Testnet4, NOW, NOW - 5 * 3600, 900),
            Ok(())
        );
        assert!(bitcoin_verdict(Network::Testnet4, NOW, NOW - 13 * 3600, 900).is_err());
    }

    #[test]
    fn a_syncing_or_lagging_monerod_is_refused() {
        let info = |height, target_height, busy_syncing| DaemonInfo {
            height,
            target_height,
            busy_syncing,
            nettype: "stagenet".into(),
            regtest: false,
        };
        assert_eq!(monero_verdict(&info(100, 0, false)), Ok(()));
        assert_eq!(monero_verdict(&info(100, 102, false)), Ok(()));
        let err = monero_verdict(&info(100, 5000, false)).unwrap_err();
        assert!(err.contains("height 100 of 5000"), "{err}");
        assert!(monero_verdict(&info(100, 0, true)).is_err());
    }
}
