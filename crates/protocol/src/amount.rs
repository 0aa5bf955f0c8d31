//! Monero amounts as integer piconero.
//!
//! Bitcoin amounts use [`bitcoin::Amount`] directly; this module adds the Monero counterpart,
//! [`XmrAmount`], a `u64` of piconero with checked arithmetic only. No floats ever touch money.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of piconero in one XMR.
pub const PICONERO_PER_XMR: u64 = 1_000_000_000_000;

/// An amount of Monero, in piconero (10^-12 XMR).
///
/// Construction is infallible (every `u64` is a valid amount); arithmetic is checked and
/// returns `None` on overflow or underflow, mirroring [`bitcoin::Amount`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct XmrAmount(u64);

impl XmrAmount {
    /// Zero piconero.
    pub const ZERO: XmrAmount = XmrAmount(0);

    /// Creates an amount from a number of piconero.
    pub const fn from_piconero(piconero: u64) -> Self {
        XmrAmount(piconero)
    }

    /// Returns the amount in piconero.
    pub const fn as_piconero(self) -> u64 {
        self.0
    }

    /// Adds two amounts, `None` on overflow.
    pub fn checked_add(self, other: XmrAmount) -> Option<XmrAmount> {
        self.0.checked_add(other.0).map(XmrAmount)
    }

    /// Subtracts `other`, `None` if it would go below zero.
    pub fn checked_sub(self, other: XmrAmount) -> Option<XmrAmount> {
        self.0.checked_sub(other.0).map(XmrAmount)
    }
}

impl fmt::Display for XmrAmount {
    /// Formats as XMR with all twelve decimals, so no value is ever hidden by rounding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:012} XMR",
            self.0 / PICONERO_PER_XMR,
            self.0 % PICONERO_PER_XMR
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_every_piconero() {
        assert_eq!(
            XmrAmount::from_piconero(1).to_string(),
            "0.000000000001 XMR"
        );
        assert_eq!(
            XmrAmount::from_piconero(1_500_000_000_007).to_string(),
            "1.500000000007 XMR"
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = XmrAmount::from_piconero(u64::MAX);
        assert_eq!(max.checked_add(XmrAmount::from_piconero(1)), None);
        assert_eq!(
            XmrAmount::ZERO.checked_sub(XmrAmount::from_piconero(1)),
            None
        );
        assert_eq!(
            XmrAmount::from_piconero(5).checked_sub(XmrAmount::from_piconero(2)),
            Some(XmrAmount::from_piconero(3))
        );
    }
}
