//! The maker's configuration file (`confiaro maker run --config maker.toml`): one TOML file,
//! every value checked before the maker starts. A bad value is an error naming its key and
//! the reason; an absent value takes a default that is safe on mainnet. The annotated
//! example is `maker.example.toml` at the repository's root.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bitcoin::Amount;
use serde::Deserialize;

use crate::settings::parse_btc;
use confiaro_orchestrator::{MakerSettings, SellSide};

/// A configuration error: the key (`quote.spread_bps`) and what is wrong with its value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type (toml's message names the key
    /// and the line).
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    /// A value of the right type that is not acceptable.
    #[error("{path}: {key}: {reason}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
}

/// The file as written; every field optional (defaults below).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    quote: RawQuote,
    #[serde(default)]
    price: RawPrice,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    shutdown: RawShutdown,
    sell: Option<RawSell>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSell {
    spread_bps: Option<u32>,
    min_btc: Option<String>,
    max_btc: Option<String>,
    max_open: Option<u32>,
    max_open_per_peer: Option<u32>,
    walk_aways_forgiven: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuote {
    spread_bps: Option<u32>,
    min_btc: Option<String>,
    max_btc: Option<String>,
    quotes_per_minute: Option<u32>,
    quote_validity_secs: Option<u64>,
    reserve_proof: Option<bool>,
    max_open_setups: Option<u32>,
    max_open_setups_per_peer: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    max_age_secs: Option<u64>,
    max_divergence_bps: Option<u32>,
    min_sources: Option<usize>,
    poll_interval_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    #[serde(default)]
    source: Vec<RawSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    exchange: String,
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
    token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShutdown {
    grace_secs: Option<u64>,
}

/// An exchange whose public ticker the maker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// Kraken's REST ticker, pair XMR/BTC.
    Kraken,
    /// Bitfinex's REST v2 ticker, tXMRBTC.
    Bitfinex,
}

/// One price source: an exchange, at its public API or at `url` (a mirror, or a test server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceConfig {
    /// Which wire format.
    pub(crate) exchange: Exchange,
    /// Base URL; `None` is the exchange's public API.
    pub(crate) url: Option<String>,
}

/// The side on which the maker buys XMR (`[sell]`: takers sell XMR to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SellConfig {
    /// Spread under the reference price, in basis points.
    pub(crate) spread_bps: u32,
    /// The side's limits.
    pub(crate) side: SellSide,
}

/// A checked maker configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MakerConfig {
    /// The side on which the maker buys XMR, when `[sell]` is present.
    pub(crate) sell: Option<SellConfig>,
    /// Spread over the reference price, in basis points (1/100 %).
    pub(crate) spread_bps: u32,
    /// Smallest swap.
    pub(crate) min_btc: Amount,
    /// Largest swap.
    pub(crate) max_btc: Amount,
    /// Quote requests per peer and minute.
    pub(crate) quotes_per_minute: u32,
    /// How long a quoted price is honoured after the price moved.
    pub(crate) quote_validity: Duration,
    /// Attach a Monero reserve proof to quotes.
    pub(crate) reserve_proof: bool,
    /// Setups that can still lock the maker's XMR, in total and per taker.
    pub(crate) max_open_setups: (u32, u32),
    /// A price older than this is not used.
    pub(crate) max_age: Duration,
    /// A source further than this from the median (basis points) is not used.
    pub(crate) max_divergence_bps: u32,
    /// Fewer usable sources than this: no quotes.
    pub(crate) min_sources: usize,
    /// How often the sources are asked.
    pub(crate) poll_interval: Duration,
    /// How long one request to a source may take.
    pub(crate) request_timeout: Duration,
    /// The price sources.
    pub(crate) sources: Vec<SourceConfig>,
    /// Where the admin API listens (loopback only).
    pub(crate) admin_listen: SocketAddr,
    /// The admin token's file (relative paths are in the data directory).
    pub(crate) admin_token_file: PathBuf,
    /// Where the Prometheus metrics are served (loopback only).
    pub(crate) metrics_listen: SocketAddr,
    /// How long a stop waits for swaps in the middle of an action.
    pub(crate) shutdown_grace: Duration,
}

/// Largest spread accepted: 50 %.
const MAX_SPREAD_BPS: u32 = 5_000;
/// Largest divergence accepted: 20 %.
const MAX_DIVERGENCE_BPS: u32 = 2_000;

impl MakerConfig {
    /// Reads and checks the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<MakerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        MakerConfig::parse(&text, path)
    }

    /// Parses and checks `text` (read from `path`, which errors name).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<MakerConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let invalid = |key: &'static str, reason: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            reason,
        };
        let btc = |key: &'static str, value: Option<String>, default: Amount| match value {
            None => Ok(default),
            Some(text) => parse_btc(&text).map_err(|e| invalid(key, e)),
        };
        let secs = |key: &'static str, value: Option<u64>, default: u64, max: u64| {
            let value = value.unwrap_or(default);
            if value == 0 || value > max {
                return Err(invalid(
                    key,
                    format!("{value} is out of range (1 to {max} seconds)"),
                ));
            }
            Ok(Duration::from_secs(value))
        };
        let loopback = |key: &'static str, value: Option<String>, default: &str| {
            let text = value.unwrap_or_else(|| default.to_owned());
            let address: SocketAddr = text
                .parse()
                .map_err(|_| invalid(key, format!("{text:?} is not an IP:port address")))?;
            if !address.ip().is_loopback() {
                return Err(invalid(
                    key,
                    format!("{address} is not a loopback address: this endpoint is for the machine's operator only (put a reverse proxy with TLS in front to reach it from elsewhere)"),
                ));
            }
            Ok(address)
        };

        let q = raw.quote;
        let spread_bps = q.spread_bps.unwrap_or(200);
        if spread_bps > MAX_SPREAD_BPS {
            return Err(invalid(
                "quote.spread_bps",
                format!("{spread_bps} is above the largest spread, {MAX_SPREAD_BPS} (50 %)"),
            ));
        }
        let min_btc = btc("quote.min_btc", q.min_btc, Amount::from_sat(100_000))?;
        let max_btc = btc("quote.max_btc", q.max_btc, Amount::from_sat(1_000_000))?;
        if min_btc < Amount::from_sat(10_000) {
            return Err(invalid(
                "quote.min_btc",
                format!("{min_btc} is below 0.0001 BTC: the swap's own fees would eat it"),
            ));
        }
        if max_btc < min_btc {
            return Err(invalid(
                "quote.max_btc",
                format!("{max_btc} is below quote.min_btc ({min_btc})"),
            ));
        }
        let quotes_per_minute = q.quotes_per_minute.unwrap_or(60);
        if quotes_per_minute == 0 {
            return Err(invalid(
                "quote.quotes_per_minute",
                "0 would refuse every taker".into(),
            ));
        }
        let quote_validity = secs("quote.quote_validity_secs", q.quote_validity_secs, 60, 600)?;
        let defaults = MakerSettings::new(min_btc, max_btc);
        let max_open_setups = (
            q.max_open_setups.unwrap_or(defaults.max_open_setups),
            q.max_open_setups_per_peer
                .unwrap_or(defaults.max_open_setups_per_peer),
        );
        if max_open_setups.0 == 0 || max_open_setups.1 == 0 {
            return Err(invalid(
                "quote.max_open_setups",
                "0 would refuse every taker".into(),
            ));
        }

        let p = raw.price;
        let max_age = secs("price.max_age_secs", p.max_age_secs, 60, 3_600)?;
        let max_divergence_bps = p.max_divergence_bps.unwrap_or(200);
        if max_divergence_bps == 0 || max_divergence_bps > MAX_DIVERGENCE_BPS {
            return Err(invalid(
                "price.max_divergence_bps",
                format!("{max_divergence_bps} is out of range (1 to {MAX_DIVERGENCE_BPS})"),
            ));
        }
        let poll_interval = secs("price.poll_interval_secs", p.poll_interval_secs, 10, 600)?;
        let request_timeout = secs(
            "price.request_timeout_secs",
            p.request_timeout_secs,
            10,
            120,
        )?;
        if poll_interval >= max_age {
            return Err(invalid(
                "price.poll_interval_secs",
                format!(
                    "{} s is not below price.max_age_secs ({} s): every price would be stale before the next",
                    poll_interval.as_secs(),
                    max_age.as_secs()
                ),
            ));
        }
        let sources = if p.source.is_empty() {
            vec![
                SourceConfig {
                    exchange: Exchange::Kraken,
                    url: None,
                },
                SourceConfig {
                    exchange: Exchange::Bitfinex,
                    url: None,
                },
            ]
        } else {
            p.source
                .into_iter()
                .map(|s| {
                    let exchange = match s.exchange.as_str() {
                        "kraken" => Exchange::Kraken,
                        "bitfinex" => Exchange::Bitfinex,
                        other => {
                            return Err(invalid(
                                "price.source.exchange",
                                format!("{other:?} is not a supported exchange (kraken, bitfinex)"),
                            ))
                        }
                    };
                    if let Some(url) = &s.url {
                        if !(url.starts_with("https://") || url.starts_with("http://")) {
                            return Err(invalid(
                                "price.source.url",
                                format!("{url:?} is not an http(s) URL"),
                            ));
                        }
                    }
                    Ok(SourceConfig {
                        exchange,
                        url: s.url,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let min_sources = p.min_sources.unwrap_or(2);
        if min_sources == 0 || min_sources > sources.len() {
            return Err(invalid(
                "price.min_sources",
                format!(
                    "{min_sources} is out of range (1 to the {} configured sources)",
                    sources.len()
                ),
            ));
        }

        let admin_listen = loopback("admin.listen", raw.admin.listen, "127.0.0.1:9740")?;
        let metrics_listen = loopback("metrics.listen", raw.metrics.listen, "127.0.0.1:9741")?;
        if admin_listen == metrics_listen && admin_listen.port() != 0 {
            return Err(invalid(
                "metrics.listen",
                format!("{metrics_listen} is also admin.listen"),
            ));
        }
        let admin_token_file = raw
            .admin
            .token_file
            .unwrap_or_else(|| PathBuf::from("admin.token"));
        let shutdown_grace = secs("shutdown.grace_secs", raw.shutdown.grace_secs, 120, 3_600)?;
        let sell = match raw.sell {
            None => None,
            Some(r) => {
                let spread_bps = r.spread_bps.unwrap_or(200);
                if spread_bps > MAX_SPREAD_BPS {
                    return Err(invalid(
                        "sell.spread_bps",
                        format!(
                            "{spread_bps} is above the largest spread, {MAX_SPREAD_BPS} (50 %)"
                        ),
                    ));
                }
                let min_btc = btc("sell.min_btc", r.min_btc, min_btc)?;
                let max_btc = btc("sell.max_btc", r.max_btc, max_btc)?;
                if min_btc < Amount::from_sat(10_000) || max_btc < min_btc {
                    return Err(invalid(
                        "sell.max_btc",
                        format!("{min_btc} to {max_btc} is not a range from at least 0.0001 BTC"),
                    ));
                }
                let mut side = SellSide::new(min_btc, max_btc);
                side.max_open = r.max_open.unwrap_or(side.max_open);
                side.max_open_per_peer = r.max_open_per_peer.unwrap_or(side.max_open_per_peer);
                side.walk_aways_forgiven =
                    r.walk_aways_forgiven.unwrap_or(side.walk_aways_forgiven);
                if side.max_open == 0 || side.max_open_per_peer == 0 {
                    return Err(invalid(
                        "sell.max_open",
                        "0 would refuse every taker (leave [sell] out to not buy XMR)".into(),
                    ));
                }
                Some(SellConfig { spread_bps, side })
            }
        };
        Ok(MakerConfig {
            sell,
            spread_bps,
            min_btc,
            max_btc,
            quotes_per_minute,
            quote_validity,
            reserve_proof: q.reserve_proof.unwrap_or(false),
            max_open_setups,
            max_age,
            max_divergence_bps,
            min_sources,
            poll_interval,
            request_timeout,
            sources,
            admin_listen,
            admin_token_file,
            metrics_listen,
            shutdown_grace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MakerConfig, ConfigError> {
        MakerConfig::parse(text, Path::new("maker.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("a bad config").to_string()
    }

    #[test]
    fn an_empty_file_gives_mainnet_safe_defaults() {
        let config = parse("").expect("defaults");
        assert_eq!(config.spread_bps, 200);
        assert_eq!(config.min_btc, Amount::from_sat(100_000));
        assert_eq!(config.max_btc, Amount::from_sat(1_000_000));
        assert_eq!(config.min_sources, 2);
        assert_eq!(config.sources.len(), 2);
        assert!(config.admin_listen.ip().is_loopback());
        assert!(config.metrics_listen.ip().is_loopback());
        assert_eq!(config.max_age, Duration::from_secs(60));
    }

    #[test]
    fn the_example_file_parses() {
        let example = include_str!("../../../maker.example.toml");
        let config = parse(example).expect("the example");
        assert_eq!(config.sources.len(), 2);
    }

    #[test]
    fn bad_values_name_their_key_and_reason() {
        let cases = [
            (
                "[quote]\nspread_bps = 9000",
                "quote.spread_bps: 9000 is above",
            ),
            (
                "[quote]\nmin_btc = \"0.00001\"",
                "quote.min_btc: 0.00001000 BTC is below",
            ),
            (
                "[quote]\nmin_btc = \"lots\"",
                "quote.min_btc: \"lots\" is not a BTC amount",
            ),
            (
                "[quote]\nmin_btc = \"0.5\"\nmax_btc = \"0.1\"",
                "quote.max_btc: 0.10000000 BTC is below quote.min_btc",
            ),
            (
                "[price]\nmax_age_secs = 0",
                "price.max_age_secs: 0 is out of range",
            ),
            (
                "[price]\nmin_sources = 3",
                "price.min_sources: 3 is out of range",
            ),
            (
                "[price]\npoll_interval_secs = 90",
                "price.poll_interval_secs: 90 s is not below price.max_age_secs",
            ),
            (
                "[[price.source]]\nexchange = \"mtgox\"",
                "price.source.exchange: \"mtgox\" is not a supported exchange",
            ),
            (
                "[admin]\nlisten = \"0.0.0.0:9740\"",
                "admin.listen: 0.0.0.0:9740 is not a loopback",
            ),
            (
                "[metrics]\nlisten = \"here\"",
                "metrics.listen: \"here\" is not an IP:port",
            ),
        ];
        for (text, expected) in cases {
            let message = error(text);
            assert!(message.starts_with("maker.toml: "), "{message}");
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_with_the_key() {
        let message = error("[quote]\nspred_bps = 100");
        assert!(message.contains("spred_bps"), "{message}");
        let message = error("[quote]\nspread_bps = \"2%\"");
        assert!(
            message.contains("spread_bps") || message.contains("line 2"),
            "{message}"
        );
    }
}
