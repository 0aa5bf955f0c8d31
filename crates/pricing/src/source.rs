//! Price sources: the [`PriceSource`] trait, the [`Observation`] a source returns and the
//! [`SourceError`] it fails with.
//!
//! A source is one exchange (or any other feed) asked for one price. The maker holds a
//! `Vec<Box<dyn PriceSource>>`; [`crate::PriceFeed`] polls them all concurrently and
//! [`crate::reference_price`] combines what came back. Sources do I/O; everything after
//! them is pure.

use crate::rate::{ParseRateError, Rate};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// One price read from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The [`PriceSource::name`] of the source that produced it.
    pub source: String,
    /// The price of one XMR in BTC.
    pub btc_per_xmr: Rate,
    /// When the price was current: the exchange's own timestamp when its format carries
    /// one, otherwise the time the response was received.
    pub observed_at: SystemTime,
}

/// The future returned by [`PriceSource::fetch`].
pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Observation, SourceError>> + Send + 'a>>;

/// A feed that can be asked for the current BTC/XMR price.
///
/// Implementations must be dyn-compatible (the maker stores `Box<dyn PriceSource>`) and
/// should bound their own run time (the HTTP feeds of this crate have a request timeout);
/// [`crate::PriceFeed`] additionally gives up on a fetch after the policy's `max_age`.
pub trait PriceSource: Send + Sync {
    /// The name used in observations, logs and error messages, e.g. `"kraken"`.
    fn name(&self) -> &str;

    /// Fetches the current price once.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] naming this source when the price cannot be obtained or parsed.
    fn fetch(&self) -> FetchFuture<'_>;
}

/// Why a source produced no price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {kind}")]
pub struct SourceError {
    /// The [`PriceSource::name`] of the failing source.
    pub source_name: String,
    /// What went wrong.
    pub kind: SourceErrorKind,
}

impl SourceError {
    /// Creates an error for the source named `source_name`.
    pub fn new(source_name: impl Into<String>, kind: SourceErrorKind) -> SourceError {
        SourceError {
            source_name: source_name.into(),
            kind,
        }
    }
}

/// What went wrong in a [`SourceError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// No complete answer within the time limit.
    #[error("timed out after {} ms", .after.as_millis())]
    Timeout {
        /// The time limit.
        after: Duration,
    },
    /// The connection failed (refused, reset, TLS, ...).
    #[error("request failed: {detail}")]
    Transport {
        /// The HTTP client's description.
        detail: String,
    },
    /// The server answered with an HTTP error status and no exchange error message.
    #[error("HTTP status {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// The exchange reported an error in its own format.
    #[error("exchange error: {message}")]
    Exchange {
        /// The exchange's message.
        message: String,
    },
    /// The body is not JSON of the expected shape.
    #[error("malformed response: {detail}")]
    Malformed {
        /// What is wrong, with an excerpt of the body.
        detail: String,
    },
    /// The price field is present but is not an exact positive price.
    #[error("bad price: {0}")]
    BadPrice(#[source] ParseRateError),
}

/// A short, printable excerpt of a response body for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let mut text: String = text.chars().filter(|c| !c.is_control()).collect();
    if body.len() > MAX {
        text.push('…');
    }
    text
}

/// The largest response body read from an exchange; a ticker is a few hundred bytes.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// An exchange's public ticker read over HTTP: the URL of its XMR/BTC ticker and the parser
/// of its wire format ([`crate::KrakenTicker`], [`crate::BitfinexTicker`]). Each fetch GETs
/// the URL (no redirects, bounded body, the request timeout) and stamps the observation with
/// the time the answer arrived.
#[derive(Debug, Clone)]
pub struct HttpTicker {
    name: String,
    pub(crate) url: String,
    http: HttpGet,
    parse: fn(u16, &[u8]) -> Result<Rate, SourceErrorKind>,
}

impl HttpTicker {
    /// A ticker named `name` at `url`, read with `parse` (HTTP status, body).
    pub(crate) fn new(
        name: &str,
        url: String,
        timeout: Duration,
        parse: fn(u16, &[u8]) -> Result<Rate, SourceErrorKind>,
    ) -> Result<HttpTicker, BuildError> {
        Ok(HttpTicker {
            name: name.to_owned(),
            url,
            http: HttpGet::new(timeout)?,
            parse,
        })
    }

    /// Renames the source (for logs and errors); the default is the exchange's name.
    pub fn with_name(mut self, name: impl Into<String>) -> HttpTicker {
        self.name = name.into();
        self
    }
}

impl PriceSource for HttpTicker {
    fn name(&self) -> &str {
        &self.name
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            let received = self.http.get(&self.name, &self.url).await?;
            let btc_per_xmr = (self.parse)(received.status, &received.body)
                .map_err(|kind| SourceError::new(&self.name, kind))?;
            Ok(Observation {
                source: self.name.clone(),
                btc_per_xmr,
                observed_at: received.at,
            })
        })
    }
}

/// A plain HTTP GET client shared by the exchange feeds: no redirects, a whole-request
/// timeout and a bounded body.
#[derive(Debug, Clone)]
pub(crate) struct HttpGet {
    client: reqwest::Client,
    timeout: Duration,
}

/// A received HTTP response.
pub(crate) struct Received {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) at: SystemTime,
}

impl HttpGet {
    pub(crate) fn new(timeout: Duration) -> Result<HttpGet, BuildError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("confiaro-pricing/", env!("CARGO_PKG_VERSION")))
            // A ticker is never a redirect; following one could leave HTTPS.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(HttpGet { client, timeout })
    }

    /// GETs `url` and reads the whole body within the timeout.
    pub(crate) async fn get(&self, name: &str, url: &str) -> Result<Received, SourceError> {
        let fail = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                SourceErrorKind::Timeout {
                    after: self.timeout,
                }
            } else {
                SourceErrorKind::Transport {
                    detail: error_chain(&e),
                }
            };
            SourceError::new(name, kind)
        };
        let mut response = self.client.get(url).send().await.map_err(fail)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(SourceError::new(
                    name,
                    SourceErrorKind::Malformed {
                        detail: format!("response body larger than {MAX_BODY} bytes"),
                    },
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Received {
            status,
            body,
            at: SystemTime::now(),
        })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTP client of a feed could not be set up (e.g. the TLS backend failed to start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(String);
