//! Turning a reference price into the maker's quotes: [`maker_price`] and [`quote_limits`]
//! for the side on which it sells XMR (the ask), [`maker_bid_price`] and
//! [`sell_quote_limits`] for the side on which it buys XMR (the bid).
//!
//! Pure integer arithmetic with 128-bit intermediates. Every rounding goes in the maker's
//! favour: selling XMR, the BTC it asks per XMR is rounded up and the XMR it pays per BTC is
//! rounded down; buying XMR, the BTC it pays per XMR is rounded down and the XMR it asks per
//! BTC rounded up.

use crate::rate::Rate;
use bitcoin::Amount;
use confiaro_protocol::quote::Price;
use confiaro_protocol::XmrAmount;

/// Basis points in one whole (100 %).
const BPS: u128 = 10_000;
/// Piconero per XMR.
const PICONERO_PER_XMR: u128 = 1_000_000_000_000;
/// Satoshi per BTC.
const SAT_PER_BTC: u128 = 100_000_000;

/// Why a reference price cannot be turned into a [`Price`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    /// The reference with the spread added does not fit in a [`Rate`].
    #[error("{reference} plus a spread of {spread_bps} bps is too large")]
    QuotedRateTooLarge {
        /// The reference price.
        reference: Rate,
        /// The spread.
        spread_bps: u32,
    },
    /// XMR is so cheap that the piconero per BTC do not fit in a `u64`.
    #[error("{quoted} is too small: the price in piconero per BTC does not fit in 64 bits")]
    PriceTooLarge {
        /// The quoted BTC per XMR.
        quoted: Rate,
    },
}

/// The BTC per XMR the maker asks: `reference × (1 + spread_bps / 10 000)`, rounded up to
/// the next 10^-12 BTC.
///
/// # Errors
///
/// [`PricingError::QuotedRateTooLarge`] if the result does not fit in a [`Rate`].
pub fn spread_rate(reference: Rate, spread_bps: u32) -> Result<Rate, PricingError> {
    let scaled = u128::from(reference.units()) * (BPS + u128::from(spread_bps));
    u64::try_from(scaled.div_ceil(BPS))
        .ok()
        .and_then(Rate::from_units)
        .ok_or(PricingError::QuotedRateTooLarge {
            reference,
            spread_bps,
        })
}

/// The [`Price`] (piconero the maker pays per whole BTC) for a reference BTC/XMR price and
/// the maker's spread in basis points. Call it whenever the reference changes; the
/// result goes into the maker's [`confiaro_protocol::quote::Quote`].
///
/// The quoted rate is [`spread_rate`] (rounded up), and the price is
/// `floor(1 XMR in piconero / quoted BTC per XMR)`, that is `floor(10^24 / quoted units)`,
/// rounded down. Both roundings favour the maker, so for every amount the maker pays at
/// most the XMR the reference with the spread would give, and never more than the reference
/// alone would. The result is never zero.
///
/// # Errors
///
/// [`PricingError::QuotedRateTooLarge`] if the spread rate overflows,
/// [`PricingError::PriceTooLarge`] if the quoted rate is below about 5.4 × 10^-8 BTC/XMR.
pub fn maker_price(reference: Rate, spread_bps: u32) -> Result<Price, PricingError> {
    let quoted = spread_rate(reference, spread_bps)?;
    // The quoted units are in 10^-12 BTC per XMR: piconero per BTC =
    // 10^12 piconero/XMR ÷ (units × 10^-12 BTC/XMR) = 10^24 / units.
    let per_btc = PICONERO_PER_XMR * PICONERO_PER_XMR / u128::from(quoted.units());
    // `units` is at most u64::MAX < 10^24, so the quotient is at least 54 210: never zero.
    u64::try_from(per_btc)
        .map(Price)
        .map_err(|_| PricingError::PriceTooLarge { quoted })
}

/// The [`Price`] (piconero the maker asks per whole BTC it pays) at which the maker buys
/// XMR, for a reference BTC/XMR price and the spread it keeps on that side: the BTC it pays
/// per XMR is `reference × (1 − spread_bps / 10 000)`, rounded down to 10^-12 BTC, and the
/// price `ceil(10^24 / units)`, rounded up. For every XMR amount a taker sells, the maker
/// pays at most the BTC the reference less the spread would give.
///
/// # Errors
///
/// [`PricingError::QuotedRateTooLarge`] when the spread is 100 % or more or leaves nothing,
/// [`PricingError::PriceTooLarge`] if the price does not fit in 64 bits.
pub fn maker_bid_price(reference: Rate, spread_bps: u32) -> Result<Price, PricingError> {
    let too_large = PricingError::QuotedRateTooLarge {
        reference,
        spread_bps,
    };
    let keep = BPS.checked_sub(u128::from(spread_bps)).ok_or(too_large)?;
    let units = u128::from(reference.units()) * keep / BPS;
    let quoted = u64::try_from(units)
        .ok()
        .and_then(Rate::from_units)
        .ok_or(too_large)?;
    let per_btc = (PICONERO_PER_XMR * PICONERO_PER_XMR).div_ceil(u128::from(quoted.units()));
    u64::try_from(per_btc)
        .map(Price)
        .map_err(|_| PricingError::PriceTooLarge { quoted })
}

/// The `(min, max)` BTC amounts a maker buying XMR quotes with `free_btc` of its BTC not
/// promised to other swaps (the lock's fee set aside by the caller) and the configured
/// `min_btc..=max_btc`: the maximum shrinks to the free BTC.
///
/// # Errors
///
/// [`LimitError::ZeroMinimum`] and [`LimitError::MinAboveMax`] for bad settings;
/// [`LimitError::BtcInventoryTooLow`] if `free_btc` does not cover the minimum.
pub fn sell_quote_limits(
    min_btc: Amount,
    max_btc: Amount,
    free_btc: Amount,
) -> Result<(Amount, Amount), LimitError> {
    check_limits(min_btc, max_btc)?;
    if free_btc < min_btc {
        return Err(LimitError::BtcInventoryTooLow { free_btc, min_btc });
    }
    Ok((min_btc, max_btc.min(free_btc)))
}

/// Checks configured limits: a nonzero minimum, not above the maximum.
fn check_limits(min_btc: Amount, max_btc: Amount) -> Result<(), LimitError> {
    if min_btc == Amount::ZERO {
        return Err(LimitError::ZeroMinimum);
    }
    if min_btc > max_btc {
        return Err(LimitError::MinAboveMax {
            min: min_btc,
            max: max_btc,
        });
    }
    Ok(())
}

/// Why the maker cannot offer the configured BTC amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The configured minimum is zero.
    #[error("the minimum swap amount must be above zero")]
    ZeroMinimum,
    /// The configured minimum is above the maximum.
    #[error("the minimum swap amount {min} is above the maximum {max}")]
    MinAboveMax {
        /// The configured minimum.
        min: Amount,
        /// The configured maximum.
        max: Amount,
    },
    /// The price is zero, so the XMR amounts would be zero.
    #[error("the price is zero")]
    ZeroPrice,
    /// The XMR for the minimum amount does not fit in 64 bits of piconero.
    #[error("the XMR for {min} at {price} does not fit in 64 bits")]
    Overflow {
        /// The configured minimum.
        min: Amount,
        /// The price.
        price: Price,
    },
    /// The free XMR does not cover a swap of the minimum amount.
    #[error(
        "not enough free XMR to quote: {} piconero free, {} piconero needed for the minimum swap",
        .free_xmr.as_piconero(),
        .needed_for_min.as_piconero()
    )]
    InventoryTooLow {
        /// The free (unreserved) XMR.
        free_xmr: XmrAmount,
        /// The XMR a swap of the minimum BTC amount needs at this price.
        needed_for_min: XmrAmount,
    },
    /// The free BTC does not cover a swap of the minimum amount (buying XMR).
    #[error(
        "not enough free BTC to quote: {free_btc} free, {min_btc} needed for the minimum swap"
    )]
    BtcInventoryTooLow {
        /// The free (unpromised) BTC.
        free_btc: Amount,
        /// The configured minimum.
        min_btc: Amount,
    },
}

/// The `(min, max)` BTC amounts to quote at `price` with `free_xmr` of unreserved XMR and
/// the configured `min_btc..=max_btc`. Call it with the price and the inventory of the
/// moment each time a quote is built.
///
/// The minimum is kept; the maximum shrinks to the largest amount `b` with
/// `price.xmr_for(b) <= free_xmr`. Guarantees, when `Ok((min, max))`:
/// `min_btc == min <= max <= max_btc`, `price.xmr_for(max) <= free_xmr`, and either
/// `max == max_btc` or `price.xmr_for(max + 1 sat) > free_xmr`.
///
/// # Errors
///
/// [`LimitError::ZeroMinimum`], [`LimitError::MinAboveMax`] and [`LimitError::ZeroPrice`]
/// for bad settings; [`LimitError::Overflow`] if the XMR for the minimum cannot be
/// represented; [`LimitError::InventoryTooLow`] if `free_xmr` does not cover the minimum.
pub fn quote_limits(
    price: Price,
    min_btc: Amount,
    max_btc: Amount,
    free_xmr: XmrAmount,
) -> Result<(Amount, Amount), LimitError> {
    check_limits(min_btc, max_btc)?;
    if price.0 == 0 {
        return Err(LimitError::ZeroPrice);
    }
    let needed_for_min = price.xmr_for(min_btc).ok_or(LimitError::Overflow {
        min: min_btc,
        price,
    })?;
    if needed_for_min > free_xmr {
        return Err(LimitError::InventoryTooLow {
            free_xmr,
            needed_for_min,
        });
    }
    // xmr_for(s) = floor(s × price / 10^8) <= free  <=>  s × price < (free + 1) × 10^8
    //                                                <=>  s <= ((free + 1) × 10^8 − 1) / price
    let bound = ((u128::from(free_xmr.as_piconero()) + 1) * SAT_PER_BTC - 1) / u128::from(price.0);
    let mut max = u64::try_from(bound)
        .unwrap_or(u64::MAX)
        .min(max_btc.to_sat());
    // The bound is exact; check it with the protocol's own formula anyway.
    let fits = |sat: u64| {
        price
            .xmr_for(Amount::from_sat(sat))
            .is_some_and(|xmr| xmr <= free_xmr)
    };
    while max > min_btc.to_sat() && !fits(max) {
        max -= 1;
    }
    while max < max_btc.to_sat() && fits(max + 1) {
        max += 1;
    }
    Ok((min_btc, Amount::from_sat(max)))
}
