//! Fee arithmetic: from a rate in sat/vB and a weight to an absolute fee, the check of a
//! rate proposed by the counterparty against the network's [`FeeBand`], and the decision to
//! accelerate a waiting time-critical transaction with a child (CPFP).
//!
//! # Fee bumping
//!
//! Every spend of the swap's 2-of-2 outputs is signed at setup with a fee fixed then. When
//! one of ours waits unconfirmed, we pay for it with a child that spends its output to us
//! (redeem, refund, punish, early refund) or our keyed anchor (cancel): the miners' choice
//! is by package (the waiting transactions plus the child), at their combined fee over their
//! combined size. [`bump_target_rate`] says when and to what rate; [`cpfp_child_fee`] what
//! the child pays for it. A later bump adds another child on top of the last one (it spends
//! the earlier child's change), so no replacement rule is involved.

use bitcoin::{Amount, Weight};

use super::TxError;
use crate::network::FeeBand;

/// The fee that pays at least `rate_sat_per_vb` for a transaction of `weight`:
/// `ceil(weight / 4) × rate` satoshi.
///
/// Call it with the `max_weight` of a template (e.g. [`super::TxRedeem::max_weight`]) so the
/// real, signed transaction pays at least the rate. Saturates at `u64::MAX` satoshi instead
/// of overflowing; such a fee is then rejected by the template constructors.
pub fn fee_for_weight(rate_sat_per_vb: u64, weight: Weight) -> Amount {
    Amount::from_sat(weight.to_vbytes_ceil().saturating_mul(rate_sat_per_vb))
}

/// Checks that `rate_sat_per_vb` lies within `band` (both bounds inclusive).
///
/// Call it on every fee rate the counterparty proposes, before building or signing anything
/// with it.
///
/// # Errors
///
/// [`TxError::FeeRateOutOfBand`], naming the rate and the band, if the rate is below
/// `band.min_sat_per_vb` or above `band.max_sat_per_vb`.
pub fn check_fee_rate(rate_sat_per_vb: u64, band: &FeeBand) -> Result<(), TxError> {
    if (band.min_sat_per_vb..=band.max_sat_per_vb).contains(&rate_sat_per_vb) {
        Ok(())
    } else {
        Err(TxError::FeeRateOutOfBand {
            rate_sat_per_vb,
            min_sat_per_vb: band.min_sat_per_vb,
            max_sat_per_vb: band.max_sat_per_vb,
        })
    }
}

/// How much more than the market and than itself a waiting package offers after each
/// block it waits, in percent: 150% of the higher of the two.
pub const BUMP_STEP_PERCENT: u64 = 150;

/// The package fee rate (sat/vB) to lift a waiting transaction to, or `None` to leave it.
///
/// - `waited_blocks`: blocks mined since we first saw it waiting (by our own chain view). A
///   transaction gets one block before any bump.
/// - `estimate_sat_per_vb`: our own chain source's current estimate.
/// - `package_sat_per_vb`: what the waiting transaction and the children we already added
///   pay together, by their combined size.
/// - `max_sat_per_vb`: the highest rate we pay: the network's
///   [`FeeBand::max_sat_per_vb`], lowered by the budget ([`bump_rate_cap`]).
///
/// The target is [`BUMP_STEP_PERCENT`] of the larger of the estimate and the package's rate:
/// a transaction that waited a block is evidently below what miners take, whatever the
/// estimate says. Called once per block, the offer grows geometrically (×1.5 a block), so it
/// reaches any cap within a few blocks and a handful of children: from 1 sat/vB to 500 in 16
/// blocks, below Bitcoin Core's limit of 25 unconfirmed ancestors. `None` when it has not
/// waited a block, or when the capped target is no higher than what the package pays.
pub fn bump_target_rate(
    waited_blocks: u32,
    estimate_sat_per_vb: u64,
    package_sat_per_vb: u64,
    max_sat_per_vb: u64,
) -> Option<u64> {
    if waited_blocks == 0 {
        return None;
    }
    let base = estimate_sat_per_vb.max(package_sat_per_vb).max(1);
    let target = base
        .saturating_mul(BUMP_STEP_PERCENT)
        .div_ceil(100)
        .min(max_sat_per_vb);
    (target > package_sat_per_vb).then_some(target)
}

/// Virtual size assumed for the next fee-bumping child when capping by a budget: two P2WPKH
/// inputs and one P2WPKH output come to about 178 vB.
pub const BUMP_CHILD_VSIZE: u64 = 180;

/// The highest package rate (sat/vB) that `budget` pays for a package of `package_vsize`
/// vbytes plus one more child ([`BUMP_CHILD_VSIZE`]), and never above `band_max`. Pass it
/// as `max_sat_per_vb` of [`bump_target_rate`].
pub fn bump_rate_cap(budget: Amount, package_vsize: u64, band_max: u64) -> u64 {
    (budget.to_sat() / package_vsize.saturating_add(BUMP_CHILD_VSIZE).max(1)).min(band_max)
}

/// The fee a child of `child_vsize` vbytes must pay so that it and its unconfirmed ancestors
/// (`ancestors_fee` over `ancestors_vsize` vbytes) together pay `target_sat_per_vb`:
/// `target × (ancestors + child) − ancestors_fee`, and never less than 1 sat/vB for the
/// child itself (a child must be relayable on its own).
pub fn cpfp_child_fee(
    target_sat_per_vb: u64,
    ancestors_fee: Amount,
    ancestors_vsize: u64,
    child_vsize: u64,
) -> Amount {
    let package = target_sat_per_vb.saturating_mul(ancestors_vsize.saturating_add(child_vsize));
    let needed = package.saturating_sub(ancestors_fee.to_sat());
    Amount::from_sat(needed.max(child_vsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rounds_vbytes_up() {
        assert_eq!(
            fee_for_weight(1, Weight::from_wu(400)),
            Amount::from_sat(100)
        );
        assert_eq!(
            fee_for_weight(1, Weight::from_wu(401)),
            Amount::from_sat(101)
        );
        assert_eq!(
            fee_for_weight(3, Weight::from_wu(403)),
            Amount::from_sat(303)
        );
        assert_eq!(fee_for_weight(0, Weight::from_wu(403)), Amount::ZERO);
        assert_eq!(
            fee_for_weight(u64::MAX, Weight::from_wu(8)),
            Amount::from_sat(u64::MAX)
        );
    }

    #[test]
    fn no_bump_before_a_block_has_passed() {
        assert_eq!(bump_target_rate(0, 50, 2, 500), None);
    }

    #[test]
    fn a_waiting_package_offers_half_again_the_market_or_itself() {
        // the estimate is above what the package pays: 150% of the estimate
        assert_eq!(bump_target_rate(1, 10, 2, 500), Some(15));
        assert_eq!(bump_target_rate(3, 10, 2, 500), Some(15));
        // the estimate says the package is fine, but it waited: 150% of what it pays
        assert_eq!(bump_target_rate(1, 2, 10, 500), Some(15));
        // rounding up: 3 × 150% = 4.5 → 5
        assert_eq!(bump_target_rate(1, 3, 1, 500), Some(5));
        // an estimate of 0 (a source that has none) counts as 1 sat/vB
        assert_eq!(bump_target_rate(1, 0, 0, 500), Some(2));
    }

    #[test]
    fn one_bump_a_block_reaches_the_band_in_few_children() {
        let (mut package, mut children) = (1, 0);
        while let Some(target) = bump_target_rate(1, 1, package, 500) {
            package = target;
            children += 1;
        }
        assert_eq!(package, 500);
        assert!(
            children < 25,
            "{children} children: Bitcoin Core's ancestor limit"
        );
    }

    #[test]
    fn the_band_caps_the_bump_and_a_capped_package_is_left() {
        assert_eq!(bump_target_rate(10, 100, 400, 500), Some(500));
        assert_eq!(bump_target_rate(11, 100, 500, 500), None);
        assert_eq!(bump_target_rate(u32::MAX, u64::MAX, 0, 500), Some(500));
    }

    #[test]
    fn the_budget_caps_the_rate() {
        // 20% of 100,000 sat over a 200 vB package and a child: 20,000 / 380 = 52 sat/vB
        assert_eq!(bump_rate_cap(Amount::from_sat(20_000), 200, 500), 52);
        assert_eq!(bump_rate_cap(Amount::from_sat(20_000_000), 200, 500), 500);
        assert_eq!(bump_rate_cap(Amount::ZERO, 200, 500), 0);
    }

    #[test]
    fn the_child_pays_the_packages_deficit() {
        // parent 200 vB paying 200 sat, child 100 vB, target 10 sat/vB: 3000 - 200
        assert_eq!(
            cpfp_child_fee(10, Amount::from_sat(200), 200, 100),
            Amount::from_sat(2_800)
        );
        // ancestors already above the target: the child still pays 1 sat/vB for itself
        assert_eq!(
            cpfp_child_fee(2, Amount::from_sat(10_000), 200, 110),
            Amount::from_sat(110)
        );
    }

    #[test]
    fn fee_rate_band_is_inclusive() {
        let band = FeeBand {
            min_sat_per_vb: 2,
            max_sat_per_vb: 10,
        };
        assert_eq!(check_fee_rate(2, &band), Ok(()));
        assert_eq!(check_fee_rate(10, &band), Ok(()));
        assert_eq!(
            check_fee_rate(1, &band),
            Err(TxError::FeeRateOutOfBand {
                rate_sat_per_vb: 1,
                min_sat_per_vb: 2,
                max_sat_per_vb: 10
            })
        );
        let err = check_fee_rate(11, &band).expect_err("above the band");
        assert_eq!(
            err.to_string(),
            "a fee rate of 11 sat/vB is outside the accepted 2..=10 sat/vB"
        );
    }
}
