//! Confiaro's maker market data and quote pricing (maker auto-quote mode).
//!
//! The crate reads the BTC/XMR price from public exchange tickers, combines the answers
//! into one reference price, and turns that into the maker's quote:
//!
//! - [`Rate`]: an exact integer price of one XMR in BTC (units of 10^-12 BTC), parsed from
//!   the exchanges' decimal text without floating point.
//! - [`PriceSource`]: one feed; [`KrakenTicker`] and [`BitfinexTicker`] speak the
//!   exchanges' public REST formats (documented in [`kraken`] and [`bitfinex`]).
//! - [`reference_price`]: pure aggregation (staleness, median, divergence, minimum number
//!   of sources) into a [`Reference`] or a [`NoQuote`] that says why not to quote.
//! - [`maker_price`] and [`quote_limits`]: pure integer arithmetic from the reference to a
//!   [`confiaro_protocol::quote::Price`] and BTC limits that the free XMR covers; every
//!   rounding is in the maker's favour.
//! - [`PriceFeed`]: the thin async shell that polls the sources on a timer.
//!
//! Money is integers throughout; no `f64` is involved in parsing or arithmetic.
//!
//! # Operation
//!
//! The maker spawns one [`PriceFeed`] with its sources and a [`FeedPolicy`] (the default
//! is safe for mainnet). For each quote it reads [`PriceFeed::current`]: on `Err` it stops
//! quoting and can show the [`NoQuote`] message; on `Ok` it calls [`maker_price`] with its
//! spread and [`quote_limits`] with its free XMR.

#![warn(unreachable_pub)]

mod aggregate;
pub mod bitfinex;
mod feed;
pub mod kraken;
mod pricing;
mod rate;
mod source;

pub use aggregate::{
    reference_price, DropReason, FeedPolicy, NoQuote, Reference, SourceStatus, MAX_CLOCK_SKEW,
};
pub use bitfinex::BitfinexTicker;
pub use feed::{poll_sources, FeedState, PriceFeed};
pub use kraken::KrakenTicker;
pub use pricing::{
    maker_bid_price, maker_price, quote_limits, sell_quote_limits, spread_rate, LimitError,
    PricingError,
};
pub use rate::{ParseRateError, Rate, RateProblem};
pub use source::{
    BuildError, FetchFuture, HttpTicker, Observation, PriceSource, SourceError, SourceErrorKind,
};

/// The request timeout of the exchange feeds' `mainnet()` constructors.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
