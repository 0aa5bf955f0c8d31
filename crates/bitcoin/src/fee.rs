//! Fee rates for the wallet's transactions: a source's estimate held between a floor and a
//! cap.
//!
//! A node's estimate can be missing (fresh regtest, a node that just started) or absurd (a
//! fee spike, a lying server). [`FeePolicy::choose`] never lets either through: no estimate
//! means the floor, and an estimate above the cap is cut to the cap, and the result says
//! which happened so the UI can show it.

use bitcoin::FeeRate;

use crate::chain::{ChainSource, SourceError};

/// The floor and cap applied to a source's fee estimate, and the confirmation target asked
/// for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeePolicy {
    /// Never pay less: Bitcoin Core's default minimum relay fee is 1 sat/vB.
    pub floor: FeeRate,
    /// Never pay more, whatever the source says.
    pub cap: FeeRate,
    /// Confirmation target, in blocks.
    pub target_blocks: u16,
}

impl Default for FeePolicy {
    /// Floor 1 sat/vB, cap 500 sat/vB, target 3 blocks: safe on mainnet (a swap's lock,
    /// cancel and refund must confirm in hours, and 500 sat/vB is beyond any fee spike so far
    /// except a few minutes of 2023's).
    fn default() -> Self {
        FeePolicy {
            floor: FeeRate::from_sat_per_vb_u32(1),
            cap: FeeRate::from_sat_per_vb_u32(500),
            target_blocks: 3,
        }
    }
}

/// Where a chosen fee rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeOrigin {
    /// The source's estimate, within the floor and the cap.
    Estimate,
    /// The source had no estimate; the floor is used.
    NoEstimate,
    /// The estimate was below the floor.
    RaisedToFloor,
    /// The estimate was above the cap.
    CutToCap,
}

/// A fee rate chosen under a [`FeePolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeChoice {
    /// The rate to use.
    pub rate: FeeRate,
    /// The source's estimate, if it had one.
    pub estimate: Option<FeeRate>,
    /// Why `rate` is what it is.
    pub origin: FeeOrigin,
}

impl FeePolicy {
    /// Applies the floor and the cap to `estimate` (a cap below the floor counts as the
    /// floor).
    pub fn apply(&self, estimate: Option<FeeRate>) -> FeeChoice {
        let cap = self.cap.max(self.floor);
        let (rate, origin) = match estimate {
            None => (self.floor, FeeOrigin::NoEstimate),
            Some(e) if e < self.floor => (self.floor, FeeOrigin::RaisedToFloor),
            Some(e) if e > cap => (cap, FeeOrigin::CutToCap),
            Some(e) => (e, FeeOrigin::Estimate),
        };
        FeeChoice {
            rate,
            estimate,
            origin,
        }
    }

    /// Asks `source` for its estimate at [`FeePolicy::target_blocks`] and applies the policy.
    ///
    /// # Errors
    ///
    /// The source's [`SourceError`] if it cannot be read (a missing estimate is not an
    /// error: it gives the floor).
    pub fn choose<S: ChainSource + ?Sized>(
        &self,
        source: &mut S,
    ) -> Result<FeeChoice, SourceError> {
        Ok(self.apply(source.estimate_fee_rate(self.target_blocks)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vb(n: u32) -> FeeRate {
        FeeRate::from_sat_per_vb_u32(n)
    }

    #[test]
    fn floor_cap_and_missing_estimate() {
        let policy = FeePolicy {
            floor: vb(2),
            cap: vb(100),
            target_blocks: 2,
        };
        assert_eq!(policy.apply(None).rate, vb(2));
        assert_eq!(policy.apply(None).origin, FeeOrigin::NoEstimate);
        assert_eq!(policy.apply(Some(vb(1))).rate, vb(2));
        assert_eq!(policy.apply(Some(vb(1))).origin, FeeOrigin::RaisedToFloor);
        assert_eq!(policy.apply(Some(vb(50))).rate, vb(50));
        assert_eq!(policy.apply(Some(vb(50))).origin, FeeOrigin::Estimate);
        assert_eq!(policy.apply(Some(vb(100))).origin, FeeOrigin::Estimate);
        let cut = policy.apply(Some(vb(5_000)));
        assert_eq!(
            (cut.rate, cut.origin, cut.estimate),
            (vb(100), FeeOrigin::CutToCap, Some(vb(5_000)))
        );
        let inverted = FeePolicy {
            floor: vb(10),
            cap: vb(5),
            target_blocks: 1,
        };
        assert_eq!(inverted.apply(Some(vb(7))).rate, vb(10));
    }
}
