//! Bitfinex's public REST v2 ticker.
//!
//! # Wire format
//!
//! `GET {base}/v2/ticker/tXMRBTC` (base `https://api-pub.bitfinex.com`) answers a JSON array
//! of numbers:
//!
//! ```text
//! [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]
//! [0.003519, 120.5, 0.003521, 98.1, 0.00002, 0.0057, 0.00352, 1500.2, 0.00356, 0.00349]
//! ```
//!
//! and an error as `["error", 10020, "symbol: invalid"]` (often with an HTTP 5xx status),
//! reported as [`SourceErrorKind::Exchange`]. This feed uses ASK (index 2): what buying the
//! XMR back would cost the maker. The number is read from its literal JSON text
//! ([`serde_json::value::RawValue`]) and parsed exactly like a decimal string, never
//! through `f64`; a number written in exponent notation is refused (the feed fails closed).
//! The ticker carries no timestamp, so observations are stamped with the time the response
//! was received.

use crate::rate::Rate;
use crate::source::{excerpt, BuildError, HttpTicker, SourceErrorKind};
use serde_json::value::RawValue;
use std::time::Duration;

/// Bitfinex's public API.
pub const DEFAULT_BASE_URL: &str = "https://api-pub.bitfinex.com";
/// Bitfinex's symbol for the XMR/BTC trading pair.
pub const SYMBOL: &str = "tXMRBTC";
/// Index of ASK in the ticker array.
const ASK: usize = 2;
/// Number of fields of a trading-pair ticker.
const FIELDS: usize = 10;

/// Bitfinex's XMR/BTC ask price as a [`PriceSource`] named `"bitfinex"`: an [`HttpTicker`] of
/// Bitfinex's wire format.
#[derive(Debug, Clone, Copy)]
pub struct BitfinexTicker;

impl BitfinexTicker {
    /// A feed of `base_url` (e.g. [`DEFAULT_BASE_URL`], without a trailing slash) whose
    /// requests give up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be created.
    pub fn at(base_url: &str, timeout: Duration) -> Result<HttpTicker, BuildError> {
        HttpTicker::new(
            "bitfinex",
            format!("{}/v2/ticker/{SYMBOL}", base_url.trim_end_matches('/')),
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
        BitfinexTicker::at(DEFAULT_BASE_URL, crate::DEFAULT_REQUEST_TIMEOUT)
    }
}

/// Extracts the ask price from a Bitfinex v2 ticker reply with HTTP status `status`.
///
/// Pure: this is the whole of the feed's interpretation of the wire format.
///
/// # Errors
///
/// [`SourceErrorKind::Exchange`] for an `["error", code, message]` reply, `HttpStatus` for
/// another non-2xx reply, `Malformed` for any other shape (fewer than 10 fields, ASK not a
/// number), `BadPrice` if ASK is not an exact positive decimal.
pub fn parse_ticker(status: u16, body: &[u8]) -> Result<Rate, SourceErrorKind> {
    let fields: Vec<&RawValue> = match serde_json::from_slice(body) {
        Ok(fields) => fields,
        Err(_) if !(200..300).contains(&status) => {
            return Err(SourceErrorKind::HttpStatus { status })
        }
        Err(e) => {
            return Err(SourceErrorKind::Malformed {
                detail: format!("{e} in {:?}", excerpt(body)),
            })
        }
    };
    if fields.first().map(|f| f.get()) == Some("\"error\"") {
        let rest: Vec<String> = fields[1..]
            .iter()
            .map(|f| match serde_json::from_str::<String>(f.get()) {
                Ok(text) => text,
                Err(_) => f.get().to_owned(),
            })
            .collect();
        return Err(SourceErrorKind::Exchange {
            message: rest.join(" "),
        });
    }
    if !(200..300).contains(&status) {
        return Err(SourceErrorKind::HttpStatus { status });
    }
    let malformed = |what: &str| SourceErrorKind::Malformed {
        detail: format!("{what} in {:?}", excerpt(body)),
    };
    if fields.len() < FIELDS {
        return Err(malformed("fewer than 10 ticker fields"));
    }
    let ask = fields[ASK].get();
    if !ask.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return Err(malformed("ASK is not a number"));
    }
    ask.parse().map_err(SourceErrorKind::BadPrice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateProblem;
    use crate::PriceSource as _;

    #[test]
    fn the_ask_number_is_read_from_its_literal_text() {
        // 0.003521000001 is not representable as an f64; the exact units prove no f64 is used.
        let body =
            b"[0.003519,120.5,0.003521000001,98.1,0.00002,0.0057,0.00352,1500.2,0.00356,0.00349]";
        assert_eq!(
            parse_ticker(200, body),
            Ok(Rate::from_units(3_521_000_001).unwrap())
        );
    }

    #[test]
    fn the_mainnet_feed_builds_its_tls_client_and_asks_the_public_endpoint() {
        let feed = BitfinexTicker::mainnet().unwrap();
        assert_eq!(feed.url, "https://api-pub.bitfinex.com/v2/ticker/tXMRBTC");
        assert_eq!(feed.name(), "bitfinex");
        assert_eq!(feed.with_name("mirror").name(), "mirror");
    }

    #[test]
    fn exchange_errors_and_bad_shapes_are_typed() {
        assert_eq!(
            parse_ticker(500, br#"["error",10020,"symbol: invalid"]"#),
            Err(SourceErrorKind::Exchange {
                message: "10020 symbol: invalid".into()
            })
        );
        assert_eq!(
            parse_ticker(502, b"Bad Gateway"),
            Err(SourceErrorKind::HttpStatus { status: 502 })
        );
        for bad in [
            &b"{}"[..],
            b"[1,2,3]",
            b"[1,2,\"0.0035\",4,5,6,7,8,9,10]",
            b"",
        ] {
            assert!(
                matches!(
                    parse_ticker(200, bad),
                    Err(SourceErrorKind::Malformed { .. })
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        match parse_ticker(200, b"[1,2,3.521e-3,4,5,6,7,8,9,10]") {
            Err(SourceErrorKind::BadPrice(e)) => assert_eq!(e.problem, RateProblem::Exponent),
            other => panic!("{other:?}"),
        }
        match parse_ticker(200, b"[1,2,-0.0035,4,5,6,7,8,9,10]") {
            Err(SourceErrorKind::BadPrice(e)) => assert_eq!(e.problem, RateProblem::Negative),
            other => panic!("{other:?}"),
        }
    }
}
