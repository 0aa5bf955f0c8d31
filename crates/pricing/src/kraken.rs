//! Kraken's public REST ticker.
//!
//! # Wire format
//!
//! `GET {base}/0/public/Ticker?pair=XMRXBT` (base `https://api.kraken.com`) answers, with
//! HTTP 200 in both cases:
//!
//! ```text
//! {"error":[],"result":{"XXMRXXBT":{"a":["0.003521","1","1.000"],"b":["0.003519","3","3.000"],
//!   "c":["0.003520","0.5"],"v":[...],"p":[...],"t":[...],"l":[...],"h":[...],"o":"0.003500"}}}
//! {"error":["EQuery:Unknown asset pair"]}
//! ```
//!
//! `a` is the best ask `[price, whole lot volume, lot volume]` with prices as decimal
//! strings. This feed uses the ask price `a[0]`: what buying the XMR back would cost the
//! maker. A non-empty `error` array is reported as [`SourceErrorKind::Exchange`] with the
//! exchange's messages. The ticker carries no timestamp, so observations are stamped with
//! the time the response was received.

use crate::rate::Rate;
use crate::source::{excerpt, BuildError, HttpTicker, SourceErrorKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Kraken's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.kraken.com";
/// Kraken's name for the XMR/BTC pair in requests.
pub const PAIR: &str = "XMRXBT";

/// Kraken's XMR/BTC ask price as a [`PriceSource`] named `"kraken"`: an [`HttpTicker`] of
/// Kraken's wire format.
#[derive(Debug, Clone, Copy)]
pub struct KrakenTicker;

impl KrakenTicker {
    /// A feed of `base_url` (e.g. [`DEFAULT_BASE_URL`], without a trailing slash) whose
    /// requests give up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be created.
    pub fn at(base_url: &str, timeout: Duration) -> Result<HttpTicker, BuildError> {
        HttpTicker::new(
            "kraken",
            format!(
                "{}/0/public/Ticker?pair={PAIR}",
                base_url.trim_end_matches('/')
            ),
            timeout,
            parse_ticker,
        )
    }

    /// The feed of the real exchange with a 10 s request timeout.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be created.
    pub fn mainnet() -> Result<HttpTicker, BuildError> {
        KrakenTicker::at(DEFAULT_BASE_URL, crate::DEFAULT_REQUEST_TIMEOUT)
    }
}

#[derive(Deserialize)]
struct Reply {
    error: Vec<String>,
    #[serde(default)]
    result: Option<BTreeMap<String, PairTicker>>,
}

#[derive(Deserialize)]
struct PairTicker {
    a: Vec<String>,
}

/// Extracts the ask price from a Kraken ticker reply with HTTP status `status`.
///
/// Pure: this is the whole of the feed's interpretation of the wire format.
///
/// # Errors
///
/// [`SourceErrorKind::Exchange`] for a non-empty `error` array, `HttpStatus` for another
/// non-2xx reply, `Malformed` for any other shape (the result must hold exactly one pair),
/// `BadPrice` if the ask is not an exact positive decimal.
pub fn parse_ticker(status: u16, body: &[u8]) -> Result<Rate, SourceErrorKind> {
    let reply: Reply = match serde_json::from_slice(body) {
        Ok(reply) => reply,
        Err(_) if !(200..300).contains(&status) => {
            return Err(SourceErrorKind::HttpStatus { status })
        }
        Err(e) => {
            return Err(SourceErrorKind::Malformed {
                detail: format!("{e} in {:?}", excerpt(body)),
            })
        }
    };
    if !reply.error.is_empty() {
        return Err(SourceErrorKind::Exchange {
            message: reply.error.join("; "),
        });
    }
    if !(200..300).contains(&status) {
        return Err(SourceErrorKind::HttpStatus { status });
    }
    let malformed = |what: &str| SourceErrorKind::Malformed {
        detail: format!("{what} in {:?}", excerpt(body)),
    };
    let result = reply.result.ok_or_else(|| malformed("no result"))?;
    let mut pairs = result.into_values();
    let ticker = match (pairs.next(), pairs.next()) {
        (Some(ticker), None) => ticker,
        _ => return Err(malformed("not exactly one pair")),
    };
    let ask = ticker.a.first().ok_or_else(|| malformed("empty ask"))?;
    ask.parse().map_err(SourceErrorKind::BadPrice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateProblem;
    use crate::PriceSource as _;

    #[test]
    fn the_ask_price_is_read_exactly() {
        let body = br#"{"error":[],"result":{"XXMRXXBT":{"a":["0.00352100","1","1.000"],"b":["0.003519","3","3.000"],"c":["0.003520","0.5"],"o":"0.003500"}}}"#;
        assert_eq!(
            parse_ticker(200, body),
            Ok(Rate::from_units(3_521_000_000).unwrap())
        );
    }

    #[test]
    fn the_mainnet_feed_builds_its_tls_client_and_asks_the_public_endpoint() {
        let feed = KrakenTicker::mainnet().unwrap();
        assert_eq!(
            feed.url,
            "https://api.kraken.com/0/public/Ticker?pair=XMRXBT"
        );
        assert_eq!(feed.name(), "kraken");
        assert_eq!(feed.with_name("mirror").name(), "mirror");
    }

    #[test]
    fn exchange_errors_and_bad_shapes_are_typed() {
        assert_eq!(
            parse_ticker(200, br#"{"error":["EQuery:Unknown asset pair"]}"#),
            Err(SourceErrorKind::Exchange {
                message: "EQuery:Unknown asset pair".into()
            })
        );
        assert_eq!(
            parse_ticker(503, b"<html>down</html>"),
            Err(SourceErrorKind::HttpStatus { status: 503 })
        );
        assert!(matches!(
            parse_ticker(200, b"not json"),
            Err(SourceErrorKind::Malformed { .. })
        ));
        assert!(matches!(
            parse_ticker(200, br#"{"error":[],"result":{}}"#),
            Err(SourceErrorKind::Malformed { .. })
        ));
        assert!(matches!(
            parse_ticker(200, br#"{"error":[],"result":{"X":{"a":[0.0035]}}}"#),
            Err(SourceErrorKind::Malformed { .. })
        ));
        match parse_ticker(200, br#"{"error":[],"result":{"X":{"a":["-0.0035"]}}}"#) {
            Err(SourceErrorKind::BadPrice(e)) => assert_eq!(e.problem, RateProblem::Negative),
            other => panic!("{other:?}"),
        }
    }
}
