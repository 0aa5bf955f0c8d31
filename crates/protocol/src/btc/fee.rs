//! Fee arithmetic: from a rate in sat/vB and a weight to an absolute fee, and the check of a
//! rate proposed by the counterparty against the network's [`FeeBand`].

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
