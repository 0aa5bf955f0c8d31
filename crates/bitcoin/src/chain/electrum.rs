//! The Electrum chain source, script by script through `bdk_electrum`.
//!
//! Works with any Electrum server speaking protocol 1.4 (ElectrumX, Fulcrum, electrs, the
//! devnet's `confiaro_devnet::electrum` server), over plain TCP (`tcp://host:port` or
//! `host:port`) or TLS (`ssl://host:port`, through the [`super::tls`] tunnel: the server's
//! certificate is verified against the system's CAs or a given CA file).

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bdk_electrum::electrum_client::raw_client::RawClient;
use bdk_electrum::electrum_client::socks::Socks5Stream;
use bdk_electrum::electrum_client::{ElectrumApi, Error as ElectrumError};
use bdk_electrum::BdkElectrumClient;
use bdk_wallet::chain::{BlockId, ConfirmationBlockTime, TxUpdate};
use bdk_wallet::KeychainKind;
use bitcoin::{BlockHash, FeeRate, Script, Transaction, Txid};

use super::tls::{client_config, TlsTarget, TlsTrust, TlsTunnel};
use super::{unix_now, ChainSource, ChainUpdate, SourceError, TxStatus};

/// How many consecutive unused scripts end a keychain's full scan (BIP44's gap limit).
const STOP_GAP: usize = 20;

/// How many scripts' histories are asked for in one batch.
const BATCH_SIZE: usize = 10;

type Client = BdkElectrumClient<RawClient<TcpStream>>;

/// A [`ChainSource`] over an Electrum server.
///
/// [`ChainSource::update`] runs a full scan (each keychain until 20 unused scripts in a row,
/// BIP44's gap limit) the first time it sees a wallet, then syncs only the wallet's revealed scripts.
/// The full scan finds the addresses another copy of the seed used (a restored wallet) and
/// reveals them; after it, the wallet only receives on scripts it revealed itself (the app
/// reveals an address before handing it out), so syncing the revealed scripts sees every
/// payment at a fraction of the requests, and, unlike a full scan, it also reports the
/// wallet's unconfirmed transactions that left the server's mempool (evictions). A wallet
/// counts as seen once one full scan through this source succeeded; a new source (e.g. after
/// a restart) scans again once.
///
/// Previous outputs are fetched so that fees of every relevant transaction are known, and
/// every confirmation comes with a Merkle proof checked against the block header
/// (`bdk_electrum` does it; a proof that does not verify fails the update with
/// [`SourceError::Invalid`]). Every confirmation must also name the block the update's chain
/// has at that height: `bdk_electrum`'s caches can name a replaced block after a reorg, so
/// such an update is fetched again once with empty caches, and is
/// [`SourceError::Invalid`] if it still disagrees.
///
/// The connection is opened by the first call, kept between calls, and dropped after a
/// transport error or an invalid answer (the next call reconnects). Every connect, read and
/// write gives up after the timeout given to [`ElectrumSource::new`].
pub struct ElectrumSource {
    url: String,
    /// `host:port`, what the socket connects to.
    address: String,
    timeout: Duration,
    /// A proxy every connection goes through (Tor's local proxy, spoken to as SOCKS5, or as
    /// HTTP `CONNECT` by the TLS tunnel), if any.
    proxy: Option<SocketAddr>,
    /// For an `ssl://` server: its name and port, and the CAs its certificate must chain to.
    tls: Option<(TlsTarget, Arc<rustls::ClientConfig>)>,
    /// The TLS tunnel, started by the first connection to an `ssl://` server.
    tunnel: Option<TlsTunnel>,
    client: Option<Client>,
    /// The wallets (by their descriptors' checksums) fully scanned through this source.
    scanned: HashSet<String>,
}

impl std::fmt::Debug for ElectrumSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumSource")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("proxy", &self.proxy)
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl ElectrumSource {
    /// A source for the Electrum server at `url` (`tcp://host:port`, `host:port` or
    /// `ssl://host:port`, the latter verified against the system's CAs); every connect, read
    /// and write gives up after `timeout`. Does not connect yet: a dead server shows as
    /// [`SourceError::Unreachable`] on the first call, a refused certificate as
    /// [`SourceError::Certificate`].
    ///
    /// # Errors
    ///
    /// [`SourceError::Failed`] if the URL is not a `host:port` URL or `timeout` is zero.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, SourceError> {
        Self::with_trust(url, timeout, &TlsTrust::System)
    }

    /// As [`ElectrumSource::new`], an `ssl://` server's certificate verified against `trust`
    /// (ignored for `tcp://`).
    ///
    /// # Errors
    ///
    /// As [`ElectrumSource::new`]; also [`SourceError::Failed`] for an `ssl://` URL when
    /// `trust` yields no CA certificate (an unreadable CA file, a system without any).
    pub fn with_trust(url: &str, timeout: Duration, trust: &TlsTrust) -> Result<Self, SourceError> {
        let source_name = format!("electrum server at {url}");
        let failed = |reason: String| SourceError::Failed {
            source_name: source_name.clone(),
            reason,
        };
        let (address, tls) = match url.strip_prefix("ssl://") {
            Some(address) => (address, true),
            None => (url.strip_prefix("tcp://").unwrap_or(url), false),
        };
        let target = TlsTarget::parse(address).filter(|_| !address.contains('/'));
        let Some(target) = target else {
            return Err(failed(format!(
                "bad URL {url:?}: expected tcp://host:port or ssl://host:port"
            )));
        };
        if timeout.is_zero() {
            return Err(failed("the timeout must not be zero".into()));
        }
        let tls = match tls {
            true => Some((target, client_config(trust, &source_name)?)),
            false => None,
        };
        Ok(ElectrumSource {
            url: url.to_owned(),
            address: address.to_owned(),
            timeout,
            proxy: None,
            tls,
            tunnel: None,
            client: None,
            scanned: HashSet::new(),
        })
    }

    /// The same source, connecting through the SOCKS5 proxy at `proxy` (e.g. Tor's local
    /// proxy): the server's name goes to the proxy unresolved, so no DNS query leaves this
    /// machine either.
    pub fn through_proxy(mut self, proxy: SocketAddr) -> Self {
        self.proxy = Some(proxy);
        self.client = None;
        self.tunnel = None;
        self
    }

    /// A new connection to the server, through the proxy if there is one, through the TLS
    /// tunnel for an `ssl://` server (whose failure [`ElectrumSource::error`] then names).
    fn connect(&mut self) -> Result<Client, ElectrumError> {
        if let Some((target, config)) = &self.tls {
            if self.tunnel.is_none() {
                self.tunnel = Some(TlsTunnel::start(
                    target.clone(),
                    Arc::clone(config),
                    self.proxy,
                    self.timeout,
                )?);
            }
            let tunnel = self.tunnel.as_ref().expect("started above");
            let stream = tunnel.open(self.timeout)?;
            return Ok(BdkElectrumClient::new(RawClient::from(stream)));
        }
        let raw = match self.proxy {
            None => RawClient::new(self.address.as_str(), Some(self.timeout))?,
            Some(proxy) => {
                let stream =
                    Socks5Stream::connect(proxy, self.address.as_str(), Some(self.timeout))?
                        .into_inner();
                stream.set_read_timeout(Some(self.timeout))?;
                stream.set_write_timeout(Some(self.timeout))?;
                RawClient::from(stream)
            }
        };
        Ok(BdkElectrumClient::new(raw))
    }

    /// Runs `f` on the connection, connecting first if needed. The connection is kept after
    /// a success or a server-side error (a clean answer), dropped after anything else (a
    /// transport error, a timeout or garbage leaves the stream in an unknown state).
    fn call<T>(
        &mut self,
        f: impl FnOnce(&Client) -> Result<T, ElectrumError>,
    ) -> Result<T, ElectrumError> {
        let client = match self.client.take() {
            Some(client) => client,
            None => self.connect()?,
        };
        let result = f(&client);
        if matches!(result, Ok(_) | Err(ElectrumError::Protocol(_))) {
            // Header notifications of a subscribed connection pile up in the client: drop
            // them (every update and tip asks for the tip anyway).
            while let Ok(Some(_)) = client.inner.block_headers_pop_raw() {}
            self.client = Some(client);
        }
        result
    }

    /// Maps an Electrum client error to a [`SourceError`] naming this source.
    fn error(&self, err: ElectrumError) -> SourceError {
        let source_name = self.name();
        let tls_failure = || self.tunnel.as_ref().and_then(TlsTunnel::take_failure);
        if let (ElectrumError::IOError(_), Some(failure)) = (&err, tls_failure()) {
            return failure.into_source_error(source_name);
        }
        match err {
            ElectrumError::IOError(_)
            | ElectrumError::SharedIOError(_)
            | ElectrumError::AllAttemptsErrored(_)
            | ElectrumError::Mpsc
            | ElectrumError::CouldntLockReader => SourceError::Unreachable {
                source_name,
                reason: transport_reason(&err),
            },
            // The server closed the connection: the reader got an empty line.
            ElectrumError::JSON(e) if e.is_eof() => SourceError::Unreachable {
                source_name,
                reason: "the server closed the connection".into(),
            },
            ElectrumError::Protocol(value) => SourceError::Failed {
                source_name,
                reason: server_message(&value),
            },
            ElectrumError::AlreadySubscribed(_) | ElectrumError::NotSubscribed(_) => {
                SourceError::Failed {
                    source_name,
                    reason: err.to_string(),
                }
            }
            // Malformed JSON, hex or Bitcoin data, or `bdk_electrum`'s own checks (no block
            // in common with the wallet's chain, a previous output that does not exist).
            other => SourceError::Invalid {
                source_name,
                reason: other.to_string(),
            },
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> SourceError {
        SourceError::Invalid {
            source_name: self.name(),
            reason: reason.into(),
        }
    }

    /// One full scan (`full`) or sync of the revealed scripts of `wallet`, with previous
    /// outputs, its Merkle proofs checked.
    fn scan(
        &mut self,
        wallet: &bdk_wallet::Wallet,
        full: bool,
    ) -> Result<bdk_wallet::Update, SourceError> {
        let now = unix_now();
        let update: bdk_wallet::Update = if full {
            let request = wallet.start_full_scan_at(now).build();
            self.call(|c| c.full_scan(request, STOP_GAP, BATCH_SIZE, true))
                .map_err(|e| self.error(e))?
                .into()
        } else {
            let request = wallet.start_sync_with_revealed_spks_at(now).build();
            self.call(|c| c.sync(request, BATCH_SIZE, true))
                .map_err(|e| self.error(e))?
                .into()
        };
        self.check_proofs(&update.tx_update)?;
        Ok(update)
    }

    /// Checks that every confirmed transaction of an update got its anchor: `bdk_electrum`
    /// silently leaves out a confirmation whose Merkle proof does not verify against the
    /// block header, which would leave the transaction neither confirmed nor seen.
    fn check_proofs(&self, update: &TxUpdate<ConfirmationBlockTime>) -> Result<(), SourceError> {
        let placed: HashSet<Txid> = update
            .anchors
            .iter()
            .map(|(_, txid)| *txid)
            .chain(update.seen_ats.iter().map(|(txid, _)| *txid))
            .collect();
        match update
            .txs
            .iter()
            .map(|tx| tx.compute_txid())
            .find(|txid| !placed.contains(txid))
        {
            Some(txid) => Err(self.invalid(format!(
                "the Merkle proof of {txid} does not verify against its block header"
            ))),
            None => Ok(()),
        }
    }
}

/// A transaction whose anchor names another block than the update's chain at that height
/// (`None` when every anchor agrees with the chain, or is above its tip).
fn stale_anchor(update: &bdk_wallet::Update) -> Option<Txid> {
    let chain = update.chain.as_ref()?;
    update.tx_update.anchors.iter().find_map(|(anchor, txid)| {
        let block = anchor.block_id;
        chain
            .get(block.height)
            .is_some_and(|cp| cp.hash() != block.hash)
            .then_some(*txid)
    })
}

/// The message of an Electrum server error (`{"code": .., "message": ..}`), or the whole
/// error object if it has no message.
fn server_message(value: &serde_json::Value) -> String {
    value
        .get("message")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// A one-line description of a transport error (the client's own text spans lines).
fn transport_reason(err: &ElectrumError) -> String {
    match err {
        ElectrumError::AllAttemptsErrored(errors) => {
            let reasons: Vec<String> = errors.iter().map(transport_reason).collect();
            format!("cannot connect: {}", reasons.join("; "))
        }
        other => other.to_string(),
    }
}

impl ChainSource for ElectrumSource {
    fn name(&self) -> String {
        format!("electrum server at {}", self.url)
    }

    fn update(&mut self, wallet: &bdk_wallet::Wallet) -> Result<ChainUpdate, SourceError> {
        let key = format!(
            "{}/{}",
            wallet.descriptor_checksum(KeychainKind::External),
            wallet.descriptor_checksum(KeychainKind::Internal)
        );
        let full = !self.scanned.contains(&key);
        let mut update = self.scan(wallet, full)?;
        if stale_anchor(&update).is_some() {
            // `bdk_electrum` caches headers by height and anchors by block: after a reorg
            // that kept a transaction at the same height, its cache may still place it in
            // the replaced block. A fresh client has empty caches.
            self.client = None;
            update = self.scan(wallet, full)?;
            if let Some(txid) = stale_anchor(&update) {
                return Err(self.invalid(format!(
                    "the confirmation of {txid} is in a block that is not in its chain"
                )));
            }
        }
        if full {
            self.scanned.insert(key);
        }
        Ok(ChainUpdate::Scan(Box::new(update)))
    }

    fn tip(&mut self) -> Result<BlockId, SourceError> {
        let tip = self
            .call(|c| c.inner.block_headers_subscribe())
            .map_err(|e| self.error(e))?;
        let height = u32::try_from(tip.height)
            .map_err(|_| self.invalid(format!("tip height {} out of range", tip.height)))?;
        Ok(BlockId {
            height,
            hash: tip.header.block_hash(),
        })
    }

    fn block_hash(&mut self, height: u32) -> Result<BlockHash, SourceError> {
        let header = self
            .call(|c| c.inner.block_header(height as usize))
            .map_err(|e| self.error(e))?;
        Ok(header.block_hash())
    }

    /// The headers of `block` and the ten before it, in one request; their timestamps'
    /// median. The last header must be `block` itself.
    fn median_time_past(&mut self, block: &BlockId) -> Result<u64, SourceError> {
        let first = block.height.saturating_sub(10);
        let count = (block.height - first + 1) as usize;
        let answer = self
            .call(|c| c.inner.block_headers(first as usize, count))
            .map_err(|e| self.error(e))?;
        if answer.headers.len() != count
            || answer.headers.last().map(|h| h.block_hash()) != Some(block.hash)
        {
            return Err(self.invalid(format!(
                "the headers up to height {} do not end in block {}",
                block.height, block.hash
            )));
        }
        let mut times: Vec<u32> = answer.headers.iter().map(|h| h.time).collect();
        times.sort_unstable();
        Ok(u64::from(times[times.len() / 2]))
    }

    /// Looks `txid` up in the history of `script_pubkey` (Electrum indexes scripts, not
    /// transactions): absent is [`TxStatus::NotFound`], height 0 or -1 is
    /// [`TxStatus::InMempool`], and a height is [`TxStatus::Confirmed`] in the server's block
    /// at that height (its hash from the block header). No Merkle proof is asked for.
    fn tx_status(&mut self, txid: &Txid, script_pubkey: &Script) -> Result<TxStatus, SourceError> {
        let history = self
            .call(|c| c.inner.script_get_history(script_pubkey))
            .map_err(|e| self.error(e))?;
        let Some(entry) = history.iter().find(|h| h.tx_hash == *txid) else {
            return Ok(TxStatus::NotFound);
        };
        let Ok(height) = u32::try_from(entry.height) else {
            return Ok(TxStatus::InMempool);
        };
        if height == 0 {
            return Ok(TxStatus::InMempool);
        }
        let header = self
            .call(|c| c.inner.block_header(height as usize))
            .map_err(|e| self.error(e))?;
        Ok(TxStatus::Confirmed {
            block: BlockId {
                height,
                hash: header.block_hash(),
            },
        })
    }

    fn transaction(
        &mut self,
        txid: &Txid,
        script_pubkey: &Script,
    ) -> Result<Option<Transaction>, SourceError> {
        // Electrum servers answer an unknown txid with an error: look in the script's
        // history first, so "not there" is `None` and an error stays an error.
        if self.tx_status(txid, script_pubkey)? == TxStatus::NotFound {
            return Ok(None);
        }
        let tx = self
            .call(|c| c.inner.transaction_get(txid))
            .map_err(|e| self.error(e))?;
        if tx.compute_txid() != *txid {
            return Err(self.invalid(format!("asked for {txid}, got {}", tx.compute_txid())));
        }
        Ok(Some(tx))
    }

    fn broadcast(&mut self, tx: &Transaction) -> Result<Txid, SourceError> {
        let txid = tx.compute_txid();
        match self.call(|c| c.transaction_broadcast(tx)) {
            Ok(_) => Ok(txid),
            Err(ElectrumError::Protocol(value)) => {
                let reason = server_message(&value);
                // Already in the mempool or in a block: it was broadcast.
                if reason.contains("txn-already-in-mempool")
                    || reason.contains("txn-already-known")
                    || reason.contains("already in block chain")
                {
                    Ok(txid)
                } else {
                    Err(SourceError::Rejected { reason })
                }
            }
            Err(e) => Err(self.error(e)),
        }
    }

    fn estimate_fee_rate(&mut self, target_blocks: u16) -> Result<Option<FeeRate>, SourceError> {
        let btc_per_kvb = self
            .call(|c| c.inner.estimate_fee(usize::from(target_blocks)))
            .map_err(|e| self.error(e))?;
        // BTC per 1000 vbytes; -1 when the server has no estimate.
        if btc_per_kvb < 0.0 {
            return Ok(None);
        }
        let sat_per_kvb = bitcoin::Amount::from_btc(btc_per_kvb)
            .map_err(|e| self.invalid(format!("fee rate {btc_per_kvb}: {e}")))?
            .to_sat();
        // 1 vbyte = 4 weight units: sat/kvB / 4 = sat/kwu.
        Ok(Some(FeeRate::from_sat_per_kwu(sat_per_kvb / 4)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bitcoin::absolute::LockTime;
    use bitcoin::hashes::Hash;
    use bitcoin::transaction::Version;
    use bitcoin::{Amount, BlockHash, ScriptBuf, TxOut};

    use super::*;

    fn source() -> ElectrumSource {
        ElectrumSource::new("tcp://127.0.0.1:50001", Duration::from_secs(1)).expect("source")
    }

    fn tx(value: u64) -> Arc<Transaction> {
        Arc::new(Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: Vec::new(),
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: ScriptBuf::new(),
            }],
        })
    }

    #[test]
    fn a_confirmation_left_out_for_a_bad_proof_is_invalid() {
        let (confirmed, seen) = (tx(1), tx(2));
        let mut update = TxUpdate::<ConfirmationBlockTime>::default();
        update.txs = vec![confirmed.clone(), seen.clone()];
        update.seen_ats.insert((seen.compute_txid(), 7));
        let err = source().check_proofs(&update).expect_err("no anchor");
        assert!(matches!(err, SourceError::Invalid { .. }), "{err:?}");
        assert!(err
            .to_string()
            .contains(&confirmed.compute_txid().to_string()));
        update.anchors.insert((
            ConfirmationBlockTime {
                block_id: BlockId {
                    height: 1,
                    hash: BlockHash::all_zeros(),
                },
                confirmation_time: 0,
            },
            confirmed.compute_txid(),
        ));
        assert_eq!(source().check_proofs(&update), Ok(()));
    }

    #[test]
    fn an_anchor_in_a_replaced_block_is_stale() {
        let block = |height: u32, byte: u8| BlockId {
            height,
            hash: BlockHash::from_byte_array([byte; 32]),
        };
        let chain = bdk_wallet::chain::CheckPoint::new(block(0, 0))
            .push(block(1, 1))
            .expect("higher")
            .push(block(2, 2))
            .expect("higher");
        let txid = tx(1).compute_txid();
        let anchored = |block_id: BlockId| {
            let mut update = bdk_wallet::Update {
                chain: Some(chain.clone()),
                ..Default::default()
            };
            update.tx_update.anchors.insert((
                ConfirmationBlockTime {
                    block_id,
                    confirmation_time: 0,
                },
                txid,
            ));
            update
        };
        assert_eq!(stale_anchor(&anchored(block(1, 1))), None);
        assert_eq!(stale_anchor(&anchored(block(1, 9))), Some(txid));
        assert_eq!(stale_anchor(&anchored(block(5, 9))), None, "above the tip");
    }

    #[test]
    fn errors_map_to_source_errors() {
        let s = source();
        let eof = serde_json::from_str::<serde_json::Value>("").expect_err("eof");
        assert!(matches!(
            s.error(ElectrumError::JSON(eof)),
            SourceError::Unreachable { .. }
        ));
        let garbage = serde_json::from_str::<serde_json::Value>("{x").expect_err("garbage");
        assert!(matches!(
            s.error(ElectrumError::JSON(garbage)),
            SourceError::Invalid { .. }
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = s.error(ElectrumError::AllAttemptsErrored(vec![refused.into()]));
        assert!(matches!(err, SourceError::Unreachable { .. }), "{err:?}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        let err = s.error(ElectrumError::Protocol(
            serde_json::json!({"code": 1, "message": "height 9 out of range"}),
        ));
        assert_eq!(
            err,
            SourceError::Failed {
                source_name: s.name(),
                reason: "height 9 out of range".into()
            }
        );
        assert!(matches!(
            s.error(ElectrumError::Message(
                "cannot find agreement block with server".into()
            )),
            SourceError::Invalid { .. }
        ));
    }
}
