//! The reference price from several sources: median, staleness, divergence, and the
//! reasons given when there is no quote.

use confiaro_pricing::{
    reference_price, DropReason, FeedPolicy, NoQuote, Observation, Rate, SourceError,
    SourceErrorKind, SourceStatus,
};
use std::time::{Duration, SystemTime};

type Results = Vec<(String, Result<Observation, SourceError>)>;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn seen(name: &str, price: &str, age_secs: u64) -> (String, Result<Observation, SourceError>) {
    (
        name.to_owned(),
        Ok(Observation {
            source: name.to_owned(),
            btc_per_xmr: price.parse().unwrap(),
            observed_at: now() - Duration::from_secs(age_secs),
        }),
    )
}

fn failed(name: &str) -> (String, Result<Observation, SourceError>) {
    (
        name.to_owned(),
        Err(SourceError::new(
            name,
            SourceErrorKind::HttpStatus { status: 500 },
        )),
    )
}

fn units(price: &str) -> Rate {
    price.parse().unwrap()
}

fn policy(min_sources: usize) -> FeedPolicy {
    FeedPolicy {
        min_sources,
        ..FeedPolicy::default()
    }
}

#[test]
fn the_default_policy_is_the_documented_mainnet_one() {
    assert_eq!(
        FeedPolicy::default(),
        FeedPolicy {
            max_age: Duration::from_secs(60),
            max_divergence_bps: 200,
            min_sources: 2
        }
    );
}

#[test]
fn the_reference_is_the_median_of_an_odd_count() {
    let results: Results = vec![
        seen("a", "0.003530", 1),
        seen("b", "0.003510", 1),
        seen("c", "0.003521", 1),
    ];
    let reference = reference_price(&results, now(), &policy(2)).unwrap();
    assert_eq!(reference.btc_per_xmr, units("0.003521"));
    assert_eq!(reference.used, ["a", "b", "c"]);
    assert!(reference.dropped.is_empty());
}

#[test]
fn the_median_of_an_even_count_is_the_mean_rounded_up_for_the_maker() {
    let results: Results = vec![
        seen("a", "0.003520000000", 1),
        seen("b", "0.003520000003", 1),
    ];
    // (3 520 000 000 + 3 520 000 003) / 2 = 3 520 000 001.5 → 3 520 000 002.
    let reference = reference_price(&results, now(), &policy(2)).unwrap();
    assert_eq!(reference.btc_per_xmr.units(), 3_520_000_002);
}

#[test]
fn failed_and_stale_sources_are_dropped_with_their_reasons() {
    let results: Results = vec![
        seen("fresh1", "0.003521", 0),
        failed("down"),
        seen("stale", "0.003521", 95),
        seen("fresh2", "0.003523", 60),
    ];
    let reference = reference_price(&results, now(), &policy(2)).unwrap();
    assert_eq!(reference.used, ["fresh1", "fresh2"]);
    assert_eq!(reference.btc_per_xmr, units("0.003522"));
    assert_eq!(reference.dropped.len(), 2);
    assert!(matches!(&reference.dropped[0], (name, DropReason::Failed(_)) if name == "down"));
    assert_eq!(
        reference.dropped[1],
        (
            "stale".to_owned(),
            DropReason::Stale {
                age: Duration::from_secs(95),
                limit: Duration::from_secs(60)
            }
        )
    );
}

#[test]
fn timestamps_from_the_future_are_accepted_within_the_skew_and_dropped_beyond() {
    let ahead = |name: &str, secs: u64| {
        let (name, mut result) = seen(name, "0.003521", 0);
        if let Ok(observation) = &mut result {
            observation.observed_at = now() + Duration::from_secs(secs);
        }
        (name, result)
    };
    let results: Results = vec![
        ahead("slightly", 5),
        ahead("far", 6),
        seen("c", "0.003521", 0),
    ];
    let reference = reference_price(&results, now(), &policy(2)).unwrap();
    assert_eq!(reference.used, ["slightly", "c"]);
    assert_eq!(
        reference.dropped,
        [(
            "far".to_owned(),
            DropReason::FromFuture {
                ahead: Duration::from_secs(6)
            }
        )]
    );
}

#[test]
fn a_divergent_source_is_dropped_and_the_median_recomputed() {
    // Median of the three: 0.003521. 0.003600 is 225 bps above it (limit 200).
    let results: Results = vec![
        seen("a", "0.003521", 0),
        seen("b", "0.003600", 0),
        seen("c", "0.003519", 0),
    ];
    let reference = reference_price(&results, now(), &policy(2)).unwrap();
    assert_eq!(reference.used, ["a", "c"]);
    assert_eq!(reference.btc_per_xmr, units("0.003520"));
    assert_eq!(
        reference.dropped,
        [(
            "b".to_owned(),
            DropReason::Divergent {
                rate: units("0.003600"),
                median: units("0.003521"),
                deviation_bps: 225,
                limit_bps: 200
            }
        )]
    );
}

#[test]
fn a_deviation_of_exactly_the_limit_is_kept() {
    // 0.003570 is 200 bps above 0.003500 exactly; the median of the three is 0.003500.
    let results: Results = vec![
        seen("a", "0.003500", 0),
        seen("b", "0.003570", 0),
        seen("c", "0.003500", 0),
    ];
    let reference = reference_price(&results, now(), &policy(3)).unwrap();
    assert_eq!(reference.used, ["a", "b", "c"]);
    // One unit more is dropped.
    let results: Results = vec![
        seen("a", "0.003500", 0),
        seen("b", "0.003570000001", 0),
        seen("c", "0.003500", 0),
    ];
    let reference = reference_price(&results, now(), &policy(2)).unwrap();
    assert_eq!(reference.used, ["a", "c"]);
}

#[test]
fn too_few_usable_sources_give_no_quote_with_a_reason_per_source() {
    let results: Results = vec![
        seen("kraken", "0.003521", 95),
        seen("bitfinex", "0.003521", 2),
    ];
    let err = reference_price(&results, now(), &policy(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "only 1 of 2 price sources usable (minimum 2): kraken: stale (observed 95 s ago, \
         limit 60 s); bitfinex ok (0.003521000000 BTC/XMR)"
    );
    match err {
        NoQuote::TooFewSources {
            usable,
            total,
            minimum,
            sources,
        } => {
            assert_eq!((usable, total, minimum), (1, 2, 2));
            assert_eq!(
                sources[1],
                (
                    "bitfinex".to_owned(),
                    SourceStatus::Usable(units("0.003521"))
                )
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_sources_too_far_apart_give_no_quote() {
    // Mean 0.003800; each is 526 bps away (limit 200): both dropped.
    let results: Results = vec![seen("kraken", "0.0036", 0), seen("bitfinex", "0.0040", 0)];
    let err = reference_price(&results, now(), &policy(1)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("only 0 of 2 price sources usable (minimum 1): kraken: divergent"),
        "{text}"
    );
    assert!(text.contains("bitfinex: divergent (0.004000000000 BTC/XMR is 527 bps from the median 0.003800000000 BTC/XMR, limit 200 bps)"), "{text}");
}

#[test]
fn failures_are_named_in_no_quote_and_an_empty_source_list_never_quotes() {
    let results: Results = vec![failed("kraken"), seen("bitfinex", "0.003521", 0)];
    let err = reference_price(&results, now(), &policy(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "only 1 of 2 price sources usable (minimum 2): kraken: failed (HTTP status 500); \
         bitfinex ok (0.003521000000 BTC/XMR)"
    );
    let err = reference_price(&[], now(), &policy(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "only 0 of 0 price sources usable (minimum 1): no sources configured"
    );
}
