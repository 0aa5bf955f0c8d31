//! [`Rate`]: an exact, integer price of one XMR in BTC.
//!
//! Exchanges publish prices as decimal text (`"0.00352100"`). A [`Rate`] stores that value
//! as a whole number of 10^-12 BTC, so every price this crate handles is parsed and compared
//! without rounding and without floating point. Text that cannot be represented exactly
//! (negative, zero, exponent notation, non-zero digits past the twelfth decimal, anything
//! that is not a plain decimal number) is refused with a [`ParseRateError`].

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

/// The price of one XMR in BTC, as a non-zero whole number of 10^-12 BTC.
///
/// `Rate` is ordered like the prices it represents: a larger rate means XMR is dearer.
/// It is never zero; constructors refuse zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(NonZeroU64);

impl Rate {
    /// Number of rate units in one BTC (the unit is 10^-12 BTC per XMR).
    pub const UNITS_PER_BTC: u64 = 1_000_000_000_000;
    /// Number of decimals a rate carries.
    pub const DECIMALS: usize = 12;

    /// Creates a rate from a number of 10^-12 BTC per XMR.
    ///
    /// Returns `None` for zero, which is not a price.
    pub const fn from_units(units: u64) -> Option<Rate> {
        match NonZeroU64::new(units) {
            Some(units) => Some(Rate(units)),
            None => None,
        }
    }

    /// The rate as a number of 10^-12 BTC per XMR; never zero.
    pub const fn units(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Rate {
    /// As BTC per XMR with all twelve decimals, e.g. `0.003521000000 BTC/XMR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = self.units();
        write!(
            f,
            "{}.{:012} BTC/XMR",
            units / Self::UNITS_PER_BTC,
            units % Self::UNITS_PER_BTC
        )
    }
}

/// Why a text is not a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateProblem {
    /// The text is empty.
    Empty,
    /// The number is negative.
    Negative,
    /// The number is zero.
    Zero,
    /// The number uses exponent notation (`3.5e-3`).
    Exponent,
    /// The number has a non-zero digit after the twelfth decimal.
    TooManyDecimals,
    /// The number does not fit in a `u64` of 10^-12 BTC.
    TooLarge,
    /// The text is not a plain decimal number (`123`, `0.0035`).
    NotADecimal,
}

impl fmt::Display for RateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateProblem::Empty => "empty",
            RateProblem::Negative => "negative",
            RateProblem::Zero => "zero",
            RateProblem::Exponent => "exponent notation is not accepted",
            RateProblem::TooManyDecimals => "more than 12 significant decimals",
            RateProblem::TooLarge => "too large",
            RateProblem::NotADecimal => "not a plain decimal number",
        })
    }
}

/// A text that is not a [`Rate`], and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a BTC/XMR price: {problem}")]
pub struct ParseRateError {
    /// The refused text (at most 64 characters of it).
    pub text: String,
    /// What is wrong with it.
    pub problem: RateProblem,
}

impl FromStr for Rate {
    type Err = ParseRateError;

    /// Parses a plain decimal number of BTC per XMR, exactly.
    ///
    /// Accepted: digits, optionally followed by `.` and more digits (`"0.00352100"`, `"1"`).
    /// Zeros after the twelfth decimal are accepted since they do not change the value.
    ///
    /// # Errors
    ///
    /// [`ParseRateError`] for empty text, a sign, exponent notation, any other character,
    /// zero, a non-zero digit after the twelfth decimal, or a value above `u64::MAX` units.
    fn from_str(text: &str) -> Result<Rate, ParseRateError> {
        let fail = |problem| ParseRateError {
            text: text.chars().take(64).collect(),
            problem,
        };
        if text.is_empty() {
            return Err(fail(RateProblem::Empty));
        }
        if text.starts_with('-') {
            return Err(fail(RateProblem::Negative));
        }
        if text.contains(['e', 'E']) {
            return Err(fail(RateProblem::Exponent));
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(fail(RateProblem::NotADecimal));
        }
        let fraction = fraction.unwrap_or("");
        let (kept, rest) = fraction.split_at(fraction.len().min(Rate::DECIMALS));
        if rest.bytes().any(|b| b != b'0') {
            return Err(fail(RateProblem::TooManyDecimals));
        }
        let mut units: u64 = 0;
        let digits = whole
            .bytes()
            .chain(kept.bytes())
            .chain(std::iter::repeat_n(b'0', Rate::DECIMALS - kept.len()));
        for digit in digits {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(u64::from(digit - b'0')))
                .ok_or_else(|| fail(RateProblem::TooLarge))?;
        }
        Rate::from_units(units).ok_or_else(|| fail(RateProblem::Zero))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<u64, RateProblem> {
        text.parse::<Rate>().map(Rate::units).map_err(|e| e.problem)
    }

    #[test]
    fn decimal_text_parses_to_exact_units() {
        assert_eq!(parse("0.00352100"), Ok(3_521_000_000));
        assert_eq!(parse("0.003521"), Ok(3_521_000_000));
        assert_eq!(parse("1"), Ok(1_000_000_000_000));
        assert_eq!(parse("12.5"), Ok(12_500_000_000_000));
        assert_eq!(parse("0.000000000001"), Ok(1));
        assert_eq!(parse("0.00352100000000"), Ok(3_521_000_000));
        assert_eq!(parse("18446744.073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn inexact_or_malformed_text_is_refused_with_the_reason() {
        assert_eq!(parse(""), Err(RateProblem::Empty));
        assert_eq!(parse("-0.0035"), Err(RateProblem::Negative));
        assert_eq!(parse("0"), Err(RateProblem::Zero));
        assert_eq!(parse("0.000000000000"), Err(RateProblem::Zero));
        assert_eq!(parse("3.521e-3"), Err(RateProblem::Exponent));
        assert_eq!(parse("3.521E-3"), Err(RateProblem::Exponent));
        assert_eq!(parse("0.0000000000001"), Err(RateProblem::TooManyDecimals));
        assert_eq!(parse("18446744.073709551616"), Err(RateProblem::TooLarge));
        for bad in [
            "abc", "+1", ".5", "5.", "0.0.1", " 0.1", "0.1 ", "0,1", "NaN", "\"0.1\"",
        ] {
            assert_eq!(parse(bad), Err(RateProblem::NotADecimal), "{bad:?}");
        }
    }

    #[test]
    fn rates_display_with_twelve_decimals() {
        let rate: Rate = "0.003521".parse().unwrap();
        assert_eq!(rate.to_string(), "0.003521000000 BTC/XMR");
        let err = "-1".parse::<Rate>().unwrap_err();
        assert_eq!(err.to_string(), "\"-1\" is not a BTC/XMR price: negative");
    }
}
