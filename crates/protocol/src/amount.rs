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

/// Why a text is not an XMR amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an XMR amount: {reason}")]
pub struct ParseXmrError {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl std::str::FromStr for XmrAmount {
    type Err = ParseXmrError;

    /// Parses a decimal number of XMR with at most twelve decimals (`"1.5"`, `"0.000000000001"`,
    /// optionally followed by ` XMR`), exactly, without floats.
    fn from_str(text: &str) -> Result<XmrAmount, ParseXmrError> {
        let err = |reason| ParseXmrError {
            text: text.to_owned(),
            reason,
        };
        let number = text.trim().trim_end_matches("XMR").trim_end();
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(err("empty"));
        }
        if !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(err("only digits and one decimal point are allowed"));
        }
        if fraction.len() > 12 {
            return Err(err(
                "more than twelve decimals (a piconero is 0.000000000001 XMR)",
            ));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| err("too large"))?
        };
        let fraction: u64 = format!("{fraction:0<12}")
            .parse()
            .map_err(|_| err("bad decimals"))?;
        whole
            .checked_mul(PICONERO_PER_XMR)
            .and_then(|p| p.checked_add(fraction))
            .map(XmrAmount)
            .ok_or_else(|| err("too large"))
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
    fn parsing_is_exact_and_refuses_what_is_not_an_amount() {
        assert_eq!(
            "1.5".parse(),
            Ok(XmrAmount::from_piconero(1_500_000_000_000))
        );
        assert_eq!(
            "0.000000000001 XMR".parse(),
            Ok(XmrAmount::from_piconero(1))
        );
        assert_eq!("7".parse(), Ok(XmrAmount::from_piconero(7_000_000_000_000)));
        assert_eq!(".25".parse(), Ok(XmrAmount::from_piconero(250_000_000_000)));
        for bad in ["", "1.0000000000001", "-1", "1e3", "1.2.3", "99999999999"] {
            assert!(bad.parse::<XmrAmount>().is_err(), "{bad:?}");
        }
        let x = XmrAmount::from_piconero(123_456_789_012_345);
        assert_eq!(x.to_string().parse(), Ok(x));
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
