//! Exact arithmetic of the maker's price and limits, on hand-computed values and as
//! properties.

use bitcoin::Amount;
use confiaro_pricing::{
    maker_bid_price, maker_price, quote_limits, sell_quote_limits, spread_rate, LimitError,
    PricingError, Rate,
};
use confiaro_protocol::quote::Price;
use confiaro_protocol::XmrAmount;
use proptest::prelude::*;

fn rate(units: u64) -> Rate {
    Rate::from_units(units).unwrap()
}

#[test]
fn a_150_bps_spread_on_0_003521_gives_the_hand_computed_price() {
    let reference: Rate = "0.00352100".parse().unwrap();
    assert_eq!(reference.units(), 3_521_000_000);
    // Quoted: 3 521 000 000 × 10 150 / 10 000 = 3 573 815 000 exactly (0.003573815 BTC/XMR).
    assert_eq!(spread_rate(reference, 150).unwrap().units(), 3_573_815_000);
    // Price: floor(10^24 / 3 573 815 000) = 279 813 028 934 066 (remainder 918 210 000):
    // about 279.813 XMR per BTC.
    assert_eq!(maker_price(reference, 150), Ok(Price(279_813_028_934_066)));
}

#[test]
fn the_spread_rate_rounds_up_and_the_price_rounds_down() {
    // 3 521 000 001 × 10 150 = 35 738 150 010 150; / 10 000 = 3 573 815 001.015 → 3 573 815 002.
    assert_eq!(
        spread_rate(rate(3_521_000_001), 150).unwrap().units(),
        3_573_815_002
    );
    // floor(10^24 / 3 = 333 333 333 333 333 333 333 333.3) does not fit in u64.
    assert_eq!(
        maker_price(rate(3), 0),
        Err(PricingError::PriceTooLarge { quoted: rate(3) })
    );
    // 10^24 / 10^12 (1 BTC per XMR) = 10^12 piconero per BTC exactly.
    assert_eq!(
        maker_price(rate(1_000_000_000_000), 0),
        Ok(Price(1_000_000_000_000))
    );
    // 10^24 / 7 × 10^11 = 1 428 571 428 571.43 → 1 428 571 428 571.
    assert_eq!(
        maker_price(rate(700_000_000_000), 0),
        Ok(Price(1_428_571_428_571))
    );
}

#[test]
fn a_zero_spread_round_trips_through_the_price() {
    let reference = rate(3_521_000_000);
    assert_eq!(spread_rate(reference, 0), Ok(reference));
    let price = maker_price(reference, 0).unwrap();
    // floor(10^24 / 3 521 000 000) = 284 010 224 368 077.
    assert_eq!(price, Price(284_010_224_368_077));
    // One BTC buys `price` piconero; converting back (10^24 / 284 010 224 368 077 =
    // 3 521 000 000.0000018…) gives the reference again to the rate unit.
    let xmr = price.xmr_for(Amount::ONE_BTC).unwrap().as_piconero();
    let back = 10u128.pow(24) / u128::from(xmr);
    assert_eq!(back, 3_521_000_000);
}

#[test]
fn overflowing_spreads_are_refused() {
    let reference = rate(u64::MAX / 2);
    assert_eq!(
        spread_rate(reference, 10_001),
        Err(PricingError::QuotedRateTooLarge {
            reference,
            spread_bps: 10_001
        })
    );
    assert!(maker_price(reference, u32::MAX).is_err());
}

#[test]
fn limits_shrink_to_exactly_what_the_free_xmr_covers() {
    let price = Price(250_000_000_000_000); // 250 XMR per BTC: 2 500 000 piconero per sat.
    let min = Amount::from_sat(10_000);
    let max = Amount::from_sat(100_000_000);
    // Exactly enough for 40 000 sat.
    let free = XmrAmount::from_piconero(40_000 * 2_500_000);
    assert_eq!(
        quote_limits(price, min, max, free),
        Ok((min, Amount::from_sat(40_000)))
    );
    // One piconero less: 39 999 sat.
    let free = XmrAmount::from_piconero(40_000 * 2_500_000 - 1);
    assert_eq!(
        quote_limits(price, min, max, free),
        Ok((min, Amount::from_sat(39_999)))
    );
    // Plenty: the configured maximum.
    let free = XmrAmount::from_piconero(u64::MAX);
    assert_eq!(quote_limits(price, min, max, free), Ok((min, max)));
}

#[test]
fn limits_with_a_rounding_price_stay_within_the_inventory() {
    // 3 piconero per 10^8 sat: xmr_for(s) = floor(3 s / 10^8).
    let price = Price(3);
    let (_, max) = quote_limits(
        price,
        Amount::from_sat(1),
        Amount::from_sat(u64::MAX / 4),
        XmrAmount::from_piconero(2),
    )
    .unwrap();
    // floor(3 s / 10^8) <= 2  <=>  3 s < 3 × 10^8  <=>  s <= 99 999 999.
    assert_eq!(max, Amount::from_sat(99_999_999));
}

#[test]
fn too_little_inventory_for_the_minimum_is_refused_with_both_amounts() {
    let price = Price(250_000_000_000_000);
    let min = Amount::from_sat(10_000);
    let err = quote_limits(
        price,
        min,
        Amount::ONE_BTC,
        XmrAmount::from_piconero(10_000 * 2_500_000 - 1),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LimitError::InventoryTooLow {
            free_xmr: XmrAmount::from_piconero(24_999_999_999),
            needed_for_min: XmrAmount::from_piconero(25_000_000_000),
        }
    );
    assert_eq!(
        err.to_string(),
        "not enough free XMR to quote: 24999999999 piconero free, 25000000000 piconero needed for the minimum swap"
    );
}

#[test]
fn bad_limit_settings_are_refused() {
    let price = Price(250_000_000_000_000);
    let free = XmrAmount::from_piconero(u64::MAX);
    assert_eq!(
        quote_limits(price, Amount::from_sat(2), Amount::from_sat(1), free),
        Err(LimitError::MinAboveMax {
            min: Amount::from_sat(2),
            max: Amount::from_sat(1)
        })
    );
    assert_eq!(
        quote_limits(price, Amount::ZERO, Amount::from_sat(1), free),
        Err(LimitError::ZeroMinimum)
    );
    assert_eq!(
        quote_limits(Price(0), Amount::from_sat(1), Amount::from_sat(1), free),
        Err(LimitError::ZeroPrice)
    );
    assert_eq!(
        quote_limits(Price(u64::MAX), Amount::MAX, Amount::MAX, free),
        Err(LimitError::Overflow {
            min: Amount::MAX,
            price: Price(u64::MAX)
        })
    );
}

proptest! {
    /// The maker never pays more XMR than the reference price would give, and no more than
    /// the exact quoted rate would give.
    #[test]
    fn the_maker_never_pays_more_than_the_reference(
        // Realistic rates (10^-6 to 10 BTC/XMR) and the whole range where a price exists.
        units in prop_oneof![1_000_000u64..=10_000_000_000_000, 60_000u64..=u64::MAX / 2],
        spread_bps in 0u32..=5_000,
        sat in 0u64..=21_000_000 * 100_000_000,
    ) {
        let reference = rate(units);
        let Ok(price) = maker_price(reference, spread_bps) else {
            return Ok(());
        };
        let btc = Amount::from_sat(sat);
        let Some(paid) = price.xmr_for(btc) else {
            return Ok(()); // more than u64::MAX piconero: the protocol refuses such terms
        };
        let paid = u128::from(paid.as_piconero());
        // Exact XMR at the reference: sat × 10^-8 BTC / (units × 10^-12 BTC/XMR) XMR
        // = sat × 10^16 / units piconero.
        prop_assert!(paid * u128::from(units) <= u128::from(sat) * 10u128.pow(16));
        let quoted = spread_rate(reference, spread_bps).unwrap();
        prop_assert!(paid * u128::from(quoted.units()) <= u128::from(sat) * 10u128.pow(16));
        prop_assert!(price <= maker_price(reference, 0).unwrap());
        // The spread only lowers the price.
        if spread_bps > 0 {
            prop_assert!(price <= maker_price(reference, spread_bps - 1).unwrap());
        }
    }

    /// The maximum is the largest amount the free XMR covers, capped by the configuration.
    #[test]
    fn the_maximum_is_the_largest_amount_the_inventory_covers(
        price in 1u64..=10u64.pow(16),
        min in 1u64..=10_000_000,
        extra in 0u64..=1_000_000_000,
        free in 0u64..=10u64.pow(15),
    ) {
        let price = Price(price);
        let min_btc = Amount::from_sat(min);
        let max_btc = Amount::from_sat(min + extra);
        let free_xmr = XmrAmount::from_piconero(free);
        match quote_limits(price, min_btc, max_btc, free_xmr) {
            Ok((lo, hi)) => {
                prop_assert_eq!(lo, min_btc);
                prop_assert!(lo <= hi && hi <= max_btc);
                prop_assert!(price.xmr_for(hi).unwrap() <= free_xmr);
                if hi < max_btc {
                    let next = hi + Amount::from_sat(1);
                    prop_assert!(price.xmr_for(next).unwrap() > free_xmr);
                }
            }
            Err(LimitError::InventoryTooLow { needed_for_min, .. }) => {
                prop_assert_eq!(Some(needed_for_min), price.xmr_for(min_btc));
                prop_assert!(needed_for_min > free_xmr);
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }
}

#[test]
fn the_bid_keeps_its_spread_below_the_reference_and_rounds_for_the_maker() {
    let reference: Rate = "0.00352100".parse().unwrap();
    // Paid: 3 521 000 000 × 9 850 / 10 000 = 3 468 185 000 (0.003468185 BTC/XMR).
    // Price: ceil(10^24 / 3 468 185 000) = 288 335 253 165 561 piconero per BTC.
    assert_eq!(
        maker_bid_price(reference, 150),
        Ok(Price(288_335_253_165_561))
    );
    // the bid asks more XMR per BTC than the ask gives: the maker earns both spreads
    let ask = maker_price(reference, 150).unwrap();
    assert!(maker_bid_price(reference, 150).unwrap() > ask);
    // a spread of 100 % leaves nothing to pay
    assert!(maker_bid_price(reference, 10_000).is_err());
}

#[test]
fn sell_limits_shrink_to_the_free_btc() {
    let (min, max) = (Amount::from_sat(10_000), Amount::from_sat(1_000_000));
    assert_eq!(
        sell_quote_limits(min, max, Amount::from_sat(5_000_000)),
        Ok((min, max))
    );
    assert_eq!(
        sell_quote_limits(min, max, Amount::from_sat(400_000)),
        Ok((min, Amount::from_sat(400_000)))
    );
    assert_eq!(
        sell_quote_limits(min, max, Amount::from_sat(9_999)),
        Err(LimitError::BtcInventoryTooLow {
            free_btc: Amount::from_sat(9_999),
            min_btc: min
        })
    );
}

proptest! {
    #[test]
    fn a_taker_selling_xmr_at_the_bid_never_gets_more_btc_than_the_reference_gives(
        units in 1_000_000u64..100_000_000_000,
        spread in 0u32..2_000,
        piconero in 1u64..1_000_000_000_000_000,
    ) {
        let price = maker_bid_price(rate(units), spread).unwrap();
        let xmr = XmrAmount::from_piconero(piconero);
        let paid = price.btc_for(xmr).unwrap().to_sat();
        // at the reference: piconero × units / 10^24 BTC = piconero × units / 10^16 sat
        let reference_sat = u128::from(piconero) * u128::from(units) / 10u128.pow(16);
        prop_assert!(u128::from(paid) <= reference_sat);
    }
}
