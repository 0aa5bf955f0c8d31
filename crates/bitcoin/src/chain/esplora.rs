//! The Esplora chain source: Blockstream's electrs REST API (or mempool.space's, or the devnet
//! node's) through `esplora-client`'s blocking client and `bdk_esplora`, script by script.
//!
//! `http://` servers are spoken to directly; `https://` servers through the [`super::tls`]
//! tunnel, which verifies their certificate against the system's CAs or a given CA file (the
//! HTTP client then speaks plain HTTP inside the tunnel's TLS). Every request gives up after
//! the timeout given to [`EsploraSource::new`], so a dead or hung server fails with
//! [`SourceError::Unreachable`] instead of blocking forever.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bdk_esplora::esplora_client::{self, BlockingClient, Builder};
use bdk_esplora::EsploraExt;
use bdk_wallet::chain::BlockId;
use bdk_wallet::KeychainKind;
use bitcoin::{BlockHash, FeeRate, Script, Transaction, Txid};
use serde_json::Value;

use super::tls::{client_config, TlsTarget, TlsTrust, TlsTunnel};
use super::{ChainSource, ChainUpdate, SourceError, TxStatus};

/// How many unused scripts in a row end a keychain's full scan (BIP44's gap limit).
const STOP_GAP: usize = 20;

/// How many HTTP requests a scan or sync makes at once.
const PARALLEL_REQUESTS: usize = 4;

/// How often a request answered 429, 500 or 503 is retried (after 256 ms, 512 ms, 1 s).
const MAX_RETRIES: usize = 3;

/// bitcoind's `RPC_VERIFY_ALREADY_IN_CHAIN`, quoted by electrs when a broadcast transaction is
/// already confirmed.
const RPC_VERIFY_ALREADY_IN_CHAIN: i64 = -27;

/// A [`ChainSource`] over an Esplora REST server.
///
/// [`ChainSource::update`] is a [`ChainUpdate::Scan`]. The first update of a wallet through
/// this source is a full scan of both keychains (stop gap 20; up to 4 requests at once), which finds the
/// wallet's history even when it was restored from its seed and has revealed nothing yet, and
/// reveals the addresses it finds used. Later updates of the same wallet sync only its
/// revealed scripts: every address the app hands out and every change address it builds with
/// is revealed and persisted before it can receive anything, so nothing is missed, and a sync
/// costs one request per revealed script instead of twenty more per keychain. A sync also
/// reports the wallet's unconfirmed transactions that the server no longer knows (evicted or
/// replaced), which a full scan does not. A new source (e.g. after a restart) scans in full
/// once again, and so does this one when the wallet no longer has the block its scan ended at
/// (the update was not applied, or a reorg replaced that block).
pub struct EsploraSource {
    url: String,
    /// Every request's timeout, in whole seconds.
    timeout_secs: u64,
    /// For an `https://` server: the tunnel every request goes through, the URL the HTTP
    /// client is given (`http://host:port/path`) and the CAs the certificate must chain to.
    tls: Option<EsploraTls>,
    client: BlockingClient,
    /// Wallets (their descriptors' checksums) fully scanned through this source, with the tip
    /// of that scan.
    scanned: HashMap<String, BlockId>,
}

impl std::fmt::Debug for EsploraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsploraSource")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The HTTP client of the Esplora API at `url`.
fn client(url: &str, timeout_secs: u64, proxy: Option<SocketAddr>) -> BlockingClient {
    let builder = Builder::new(url)
        .timeout(timeout_secs)
        .max_retries(MAX_RETRIES);
    match proxy {
        Some(proxy) => builder.proxy(&proxy.to_string()),
        None => builder,
    }
    .build_blocking()
}

/// An `https://` source's TLS: see [`EsploraSource::tls`].
struct EsploraTls {
    target: TlsTarget,
    config: Arc<rustls::ClientConfig>,
    /// The URL inside the tunnel: `http://host:port/path`.
    inner_url: String,
    tunnel: TlsTunnel,
}

impl EsploraSource {
    /// A source for the Esplora API at `base_url` (e.g. `http://127.0.0.1:3002`, or
    /// `https://blockstream.info/api`, verified against the system's CAs); every request
    /// gives up after `timeout` (rounded up to whole seconds, at least one). Does not connect
    /// yet.
    ///
    /// # Errors
    ///
    /// [`SourceError::Failed`] if `base_url` is not an `http://` or `https://` URL.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, SourceError> {
        Self::with_trust(base_url, timeout, &TlsTrust::System)
    }

    /// As [`EsploraSource::new`], an `https://` server's certificate verified against
    /// `trust` (ignored for `http://`).
    ///
    /// # Errors
    ///
    /// As [`EsploraSource::new`]; also [`SourceError::Failed`] for an `https://` URL when
    /// `trust` yields no CA certificate, or the tunnel cannot start.
    pub fn with_trust(
        base_url: &str,
        timeout: Duration,
        trust: &TlsTrust,
    ) -> Result<Self, SourceError> {
        let url = base_url.trim_end_matches('/').to_owned();
        let source_name = format!("esplora at {base_url}");
        let bad_url = || SourceError::Failed {
            source_name: source_name.clone(),
            reason: "bad URL: expected http://host[:port][/path] or https://host[:port][/path]"
                .into(),
        };
        let (rest, https) = match url.strip_prefix("https://") {
            Some(rest) => (rest, true),
            None => (url.strip_prefix("http://").unwrap_or_default(), false),
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad_url());
        }
        let secs = timeout
            .as_secs()
            .saturating_add(u64::from(timeout.subsec_nanos() > 0))
            .max(1);
        let tls = match https {
            false => None,
            true => {
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let has_port = authority
                    .rsplit_once(':')
                    .is_some_and(|(_, port)| !port.contains(']'));
                let authority = match has_port {
                    true => authority.to_owned(),
                    false => format!("{authority}:443"),
                };
                let target = TlsTarget::parse(&authority).ok_or_else(bad_url)?;
                let config = client_config(trust, &source_name)?;
                let tunnel = start_tunnel(&target, &config, None, secs, &source_name)?;
                Some(EsploraTls {
                    inner_url: format!("http://{}{path}", target.authority()),
                    target,
                    config,
                    tunnel,
                })
            }
        };
        let client = match &tls {
            Some(tls) => client(&tls.inner_url, secs, Some(tls.tunnel.addr())),
            None => client(&url, secs, None),
        };
        Ok(EsploraSource {
            client,
            url,
            timeout_secs: secs,
            tls,
            scanned: HashMap::new(),
        })
    }

    /// The same source, connecting through the HTTP `CONNECT` proxy at `proxy` (e.g. Tor's
    /// local proxy): the server's name goes to the proxy unresolved.
    ///
    /// # Errors
    /// [`SourceError::Failed`] if an `https://` source's new tunnel cannot start.
    pub fn through_proxy(mut self, proxy: SocketAddr) -> Result<Self, SourceError> {
        let name = self.name();
        match &mut self.tls {
            None => self.client = client(&self.url, self.timeout_secs, Some(proxy)),
            Some(tls) => {
                tls.tunnel = start_tunnel(
                    &tls.target,
                    &tls.config,
                    Some(proxy),
                    self.timeout_secs,
                    &name,
                )?;
                self.client = client(&tls.inner_url, self.timeout_secs, Some(tls.tunnel.addr()));
            }
        }
        Ok(self)
    }

    /// Maps a client error to a [`SourceError`] naming this source.
    fn error(&self, err: &esplora_client::Error) -> SourceError {
        let source_name = self.name();
        if let (esplora_client::Error::Minreq(_), Some(failure)) = (
            err,
            self.tls.as_ref().and_then(|tls| tls.tunnel.take_failure()),
        ) {
            return failure.into_source_error(source_name);
        }
        match err {
            esplora_client::Error::Minreq(e) => match e {
                minreq::Error::IoError(_)
                | minreq::Error::AddressNotFound
                | minreq::Error::ProxyConnect => SourceError::Unreachable {
                    source_name,
                    reason: e.to_string(),
                },
                _ => SourceError::Invalid {
                    source_name,
                    reason: e.to_string(),
                },
            },
            esplora_client::Error::HttpResponse { status, message } => {
                let reason = format!("HTTP {status}: {message}");
                if matches!(status, 401 | 403) {
                    SourceError::Unauthorized {
                        source_name,
                        reason,
                    }
                } else {
                    SourceError::Failed {
                        source_name,
                        reason,
                    }
                }
            }
            esplora_client::Error::TransactionNotFound(txid) => SourceError::Failed {
                source_name,
                reason: format!("transaction {txid} not found"),
            },
            esplora_client::Error::HeaderHashNotFound(hash) => SourceError::Invalid {
                source_name,
                reason: format!(
                    "no block of its chain matches ours (last tried {hash}): another network?"
                ),
            },
            esplora_client::Error::InvalidHttpHeaderName(_)
            | esplora_client::Error::InvalidHttpHeaderValue(_) => SourceError::Failed {
                source_name,
                reason: err.to_string(),
            },
            _ => SourceError::Invalid {
                source_name,
                reason: err.to_string(),
            },
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> SourceError {
        SourceError::Invalid {
            source_name: self.name(),
            reason: reason.into(),
        }
    }
}

/// A TLS tunnel to `target` for the source named `source_name`.
fn start_tunnel(
    target: &TlsTarget,
    config: &Arc<rustls::ClientConfig>,
    upstream: Option<SocketAddr>,
    timeout_secs: u64,
    source_name: &str,
) -> Result<TlsTunnel, SourceError> {
    TlsTunnel::start(
        target.clone(),
        Arc::clone(config),
        upstream,
        Duration::from_secs(timeout_secs),
    )
    .map_err(|e| SourceError::Failed {
        source_name: source_name.to_owned(),
        reason: format!("cannot start the TLS tunnel: {e}"),
    })
}

/// The identity of a wallet for [`EsploraSource`]'s scan bookkeeping: its descriptors'
/// checksums (public, and short).
fn wallet_id(wallet: &bdk_wallet::Wallet) -> String {
    format!(
        "{}/{}",
        wallet.descriptor_checksum(KeychainKind::External),
        wallet.descriptor_checksum(KeychainKind::Internal)
    )
}

/// The block of a confirmed status, `None` if unconfirmed; `Err` with the reason if it says
/// confirmed without saying where.
fn confirmed_block(status: &esplora_client::TxStatus) -> Result<Option<BlockId>, String> {
    if !status.confirmed {
        return Ok(None);
    }
    match (status.block_height, status.block_hash) {
        (Some(height), Some(hash)) => Ok(Some(BlockId { height, hash })),
        _ => Err("a confirmed status without its block".into()),
    }
}

/// The bitcoind error quoted in electrs' broadcast refusal, `sendrawtransaction RPC error:
/// {"code":-26,"message":"non-BIP68-final"}`: (code, message).
fn rpc_refusal(text: &str) -> Option<(i64, String)> {
    let (_, error) = text.split_once("RPC error:")?;
    let error: Value = serde_json::from_str(error.trim()).ok()?;
    let code = error.get("code")?.as_i64()?;
    let message = error.get("message")?.as_str()?.to_owned();
    Some((code, message))
}

impl ChainSource for EsploraSource {
    fn name(&self) -> String {
        format!("esplora at {}", self.url)
    }

    fn update(&mut self, wallet: &bdk_wallet::Wallet) -> Result<ChainUpdate, SourceError> {
        let id = wallet_id(wallet);
        // The wallet applied our full scan if it still has the scan's tip block (a failed
        // apply or a reorg since then means scanning in full again: only slower).
        let applied = self.scanned.get(&id).is_some_and(|tip| {
            wallet
                .local_chain()
                .get(tip.height)
                .is_some_and(|cp| cp.hash() == tip.hash)
        });
        let update: bdk_wallet::Update = if applied {
            let request = wallet.start_sync_with_revealed_spks().build();
            self.client
                .sync(request, PARALLEL_REQUESTS)
                .map_err(|e| self.error(&e))?
                .into()
        } else {
            let request = wallet.start_full_scan().build();
            let response = self
                .client
                .full_scan(request, STOP_GAP, PARALLEL_REQUESTS)
                .map_err(|e| self.error(&e))?;
            match &response.chain_update {
                Some(tip) => {
                    self.scanned.insert(id, tip.block_id());
                }
                None => {
                    self.scanned.remove(&id);
                }
            }
            response.into()
        };
        Ok(ChainUpdate::Scan(Box::new(update)))
    }

    fn tip(&mut self) -> Result<BlockId, SourceError> {
        // The hash is asked for by height, so the pair is consistent even if the tip moves
        // between the two requests (it is then the tip of a moment ago).
        let height = self.client.get_height().map_err(|e| self.error(&e))?;
        let hash = self
            .client
            .get_block_hash(height)
            .map_err(|e| self.error(&e))?;
        Ok(BlockId { height, hash })
    }

    fn block_hash(&mut self, height: u32) -> Result<BlockHash, SourceError> {
        self.client
            .get_block_hash(height)
            .map_err(|e| self.error(&e))
    }

    fn median_time_past(&mut self, block: &BlockId) -> Result<u64, SourceError> {
        let info = self
            .client
            .get_block_info(&block.hash)
            .map_err(|e| self.error(&e))?;
        if info.height != block.height {
            return Err(self.invalid(format!(
                "block {} is at height {}, not {}",
                block.hash, info.height, block.height
            )));
        }
        Ok(info.mediantime)
    }

    /// `/tx/:txid/status` first; electrs answers an unknown transaction there as unconfirmed,
    /// so an unconfirmed answer is checked with `/tx/:txid` (404 if unknown), whose status is
    /// used (it may have been mined in between).
    fn tx_status(&mut self, txid: &Txid, _script_pubkey: &Script) -> Result<TxStatus, SourceError> {
        let status = self
            .client
            .get_tx_status(txid)
            .map_err(|e| self.error(&e))?;
        if let Some(block) = confirmed_block(&status).map_err(|e| self.invalid(e))? {
            return Ok(TxStatus::Confirmed { block });
        }
        let Some(info) = self.client.get_tx_info(txid).map_err(|e| self.error(&e))? else {
            return Ok(TxStatus::NotFound);
        };
        if info.txid != *txid {
            return Err(self.invalid(format!("asked for {txid}, got {}", info.txid)));
        }
        Ok(
            match confirmed_block(&info.status).map_err(|e| self.invalid(e))? {
                Some(block) => TxStatus::Confirmed { block },
                None => TxStatus::InMempool,
            },
        )
    }

    fn transaction(
        &mut self,
        txid: &Txid,
        _script_pubkey: &Script,
    ) -> Result<Option<Transaction>, SourceError> {
        let tx = self.client.get_tx(txid).map_err(|e| self.error(&e))?;
        if let Some(tx) = &tx {
            if tx.compute_txid() != *txid {
                return Err(self.invalid(format!("asked for {txid}, got {}", tx.compute_txid())));
            }
        }
        Ok(tx)
    }

    fn broadcast(&mut self, tx: &Transaction) -> Result<Txid, SourceError> {
        let txid = tx.compute_txid();
        match self.client.broadcast(tx) {
            Ok(()) => Ok(txid),
            Err(esplora_client::Error::HttpResponse {
                status: 400,
                message,
            }) => match rpc_refusal(&message) {
                Some((code, reason))
                    if code == RPC_VERIFY_ALREADY_IN_CHAIN
                        || reason.contains("txn-already-in-mempool")
                        || reason.contains("txn-already-known") =>
                {
                    Ok(txid)
                }
                Some((_, reason)) => Err(SourceError::Rejected { reason }),
                None => Err(SourceError::Failed {
                    source_name: self.name(),
                    reason: format!("HTTP 400: {message}"),
                }),
            },
            Err(e) => Err(self.error(&e)),
        }
    }

    fn estimate_fee_rate(&mut self, target_blocks: u16) -> Result<Option<FeeRate>, SourceError> {
        let estimates = self
            .client
            .get_fee_estimates()
            .map_err(|e| self.error(&e))?;
        // The estimate for the closest target at or below the one asked for.
        let Some((_, sat_per_vb)) = estimates
            .iter()
            .filter(|(target, _)| **target <= target_blocks)
            .max_by_key(|(target, _)| **target)
        else {
            return Ok(None);
        };
        if !sat_per_vb.is_finite() || *sat_per_vb < 0.0 {
            return Err(self.invalid(format!("fee estimate {sat_per_vb} sat/vB")));
        }
        // 1 vB = 4 weight units: sat/vB * 1000 / 4 = sat/kwu. A rate, not an amount: the float
        // comes from the server's JSON and is rounded once, here.
        Ok(Some(FeeRate::from_sat_per_kwu(
            (sat_per_vb * 250.0).round() as u64,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn electrs_refusal_text_yields_the_core_reason() {
        let text = r#"sendrawtransaction RPC error: {"code":-26,"message":"non-BIP68-final"}"#;
        assert_eq!(rpc_refusal(text), Some((-26, "non-BIP68-final".into())));
        assert_eq!(rpc_refusal("Invalid hex string"), None);
        assert_eq!(rpc_refusal("RPC error: not json"), None);
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        let t = Duration::from_millis(1500);
        assert!(EsploraSource::new("http://127.0.0.1:3002/", t).is_ok());
        assert!(EsploraSource::new("http://host/api", t).is_ok());
        for (url, inner) in [
            ("https://host/api", "http://host:443/api"),
            ("https://host:3443", "http://host:3443"),
            ("https://[::1]/api/", "http://[::1]:443/api"),
        ] {
            let source = EsploraSource::new(url, t).expect(url);
            assert_eq!(
                source.tls.as_ref().map(|tls| tls.inner_url.as_str()),
                Some(inner)
            );
        }
        assert!(matches!(
            EsploraSource::new("https://", t),
            Err(SourceError::Failed { .. })
        ));
        assert!(matches!(
            EsploraSource::new("ftp://host/api", t),
            Err(SourceError::Failed { .. })
        ));
        assert!(matches!(
            EsploraSource::new("127.0.0.1:3002", t),
            Err(SourceError::Failed { .. })
        ));
        assert!(matches!(
            EsploraSource::new("http://", t),
            Err(SourceError::Failed { .. })
        ));
        let source = EsploraSource::new("http://127.0.0.1:3002/", t).expect("source");
        assert_eq!(source.name(), "esplora at http://127.0.0.1:3002");
        assert_eq!(source.client.timeout, Some(2));
    }
}
