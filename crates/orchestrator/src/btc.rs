//! The engine's Bitcoin side: the wallet (shared by every swap, behind one lock), the chain
//! sources it makes from the config, and the watcher task that turns polls of the chain into
//! the machines' inputs.
//!
//! Chain sources do blocking I/O; the engine runs them on blocking threads. The wallet's sync
//! needs a multi-threaded tokio runtime (it runs on the current worker with
//! `block_in_place`).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bdk_wallet::chain::BlockId;
use bitcoin::psbt::Psbt;
use bitcoin::{Address, Amount, FeeRate, OutPoint, ScriptBuf, Transaction, Txid};
use confiaro_bitcoin::fee::FeePolicy;
use confiaro_bitcoin::watch::{Watch, WatchEvent};
use confiaro_bitcoin::{
    Balance, ChainSource, CpfpPackage, ForeignSigner, Mnemonic, SourceError, TxStatus, Wallet,
};
use confiaro_protocol::btc::{TwoOfTwo, TxLock};
use confiaro_protocol::machine::TxLabel;
use confiaro_protocol::{Input, Network, SwapId};
use confiaro_store::{Store, Vault, WalletPersister};

use crate::config::{new_source, BitcoinSourceConfig};
use crate::error::EngineError;
use crate::events::EngineEvent;
use crate::inbox::{DriverMsg, DriverSender};

/// The wallet's id in the store.
const WALLET_ID: &str = "main";

/// Makes a fresh chain source (its own connection) for each use: from the engine's
/// [`BitcoinSourceConfig`] ([`source_factory`]), or a test double.
pub(crate) type SourceFactory =
    Arc<dyn Fn() -> Result<Box<dyn ChainSource>, SourceError> + Send + Sync>;

/// The chain sources `config` describes, through `proxy` (Tor's local proxy) if given.
pub(crate) fn source_factory(
    config: BitcoinSourceConfig,
    proxy: Option<std::net::SocketAddr>,
) -> SourceFactory {
    Arc::new(move || new_source(&config, proxy))
}

/// Runs `f` with a fresh source on a blocking thread.
pub(crate) async fn with_source<T: Send + 'static>(
    sources: &SourceFactory,
    f: impl FnOnce(&mut dyn ChainSource) -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    let sources = Arc::clone(sources);
    tokio::task::spawn_blocking(move || {
        let mut source = sources()?;
        f(source.as_mut())
    })
    .await
    .unwrap_or_else(|e| {
        Err(SourceError::Failed {
            source_name: "chain source".into(),
            reason: format!("worker thread failed: {e}"),
        })
    })
}

/// One subscriber of a watched transaction.
struct Subscriber {
    swap_id: SwapId,
    sender: DriverSender,
    /// Confirmations last reported (`None`: not reported present).
    reported: Option<u32>,
}

struct Watched {
    script: ScriptBuf,
    /// The transaction with its witnesses, once fetched.
    tx: Option<Transaction>,
    subscribers: Vec<Subscriber>,
}

/// The transactions the swaps watch.
#[derive(Default)]
struct Registry {
    watched: HashMap<Txid, Watched>,
}

/// The engine's Bitcoin side.
pub(crate) struct BtcSide {
    wallet: tokio::sync::Mutex<Wallet<WalletPersister>>,
    sources: SourceFactory,
    /// Inputs of lock PSBTs that are agreed but maybe not yet published.
    reserved: Mutex<BTreeSet<OutPoint>>,
    fee_policy: FeePolicy,
    registry: Mutex<Registry>,
    /// Counts the watcher's completed polls (each one reported to the swaps).
    polls: tokio::sync::watch::Sender<u64>,
    /// When the watcher saw each of the latest tips, on a local chain (see
    /// [`BtcSide::observed_block_seconds`]).
    local_tips: Option<Mutex<TipClock>>,
    /// The transactions a fee-bumping task is accelerating now (one task per transaction).
    bumping: BumpClaims,
}

/// The transactions being accelerated, each by one task.
#[derive(Default)]
pub(crate) struct BumpClaims {
    txids: Mutex<HashSet<Txid>>,
}

impl BumpClaims {
    /// Claims `txid` for the caller until the returned claim drops; `None` when another
    /// claim holds it (that claim stays in force).
    pub(crate) fn claim(&self, txid: Txid) -> Option<BumpClaim<'_>> {
        let fresh = self
            .txids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(txid);
        // built only on success: a claim dropped here would release the holder's claim
        fresh.then(|| BumpClaim { claims: self, txid })
    }
}

/// Holds `txid` in [`BumpClaims`] while it lives.
pub(crate) struct BumpClaim<'a> {
    claims: &'a BumpClaims,
    txid: Txid,
}

impl Drop for BumpClaim<'_> {
    fn drop(&mut self) {
        let mut txids = self.claims.txids.lock().unwrap_or_else(|p| p.into_inner());
        txids.remove(&self.txid);
    }
}

/// The times at which the latest tips were seen, for the observed block interval.
#[derive(Debug, Default)]
struct TipClock {
    tips: VecDeque<(u32, Instant)>,
}

impl TipClock {
    /// How many recent tips the interval averages over.
    const WINDOW: usize = 10;

    /// Records that the tip `height` was seen `at`.
    fn note(&mut self, height: u32, at: Instant) {
        if self.tips.back().is_some_and(|(h, _)| *h >= height) {
            // a reorganisation: start over
            self.tips.clear();
        }
        self.tips.push_back((height, at));
        while self.tips.len() > Self::WINDOW {
            self.tips.pop_front();
        }
    }

    /// The mean seconds per block over the recorded tips (at least 1), once two were seen.
    fn block_seconds(&self) -> Option<u32> {
        let (first, last) = (self.tips.front()?, self.tips.back()?);
        let blocks = last.0.checked_sub(first.0).filter(|b| *b > 0)?;
        let seconds = last.1.duration_since(first.1).as_secs_f64() / f64::from(blocks);
        Some(seconds.round().max(1.0) as u32)
    }
}

impl BtcSide {
    /// Opens the wallet of `mnemonic` in `store` and syncs it once from `sources`.
    pub(crate) async fn open(
        store: Store,
        vault: Vault,
        mnemonic: &Mnemonic,
        network: Network,
        sources: SourceFactory,
    ) -> Result<BtcSide, EngineError> {
        let wallet = Wallet::open(
            WalletPersister::new(store, vault, WALLET_ID),
            mnemonic,
            "",
            network.bitcoin(),
        )
        .await?;
        let side = BtcSide {
            wallet: tokio::sync::Mutex::new(wallet),
            sources,
            reserved: Mutex::new(BTreeSet::new()),
            fee_policy: FeePolicy::default(),
            registry: Mutex::new(Registry::default()),
            polls: tokio::sync::watch::channel(0).0,
            bumping: BumpClaims::default(),
            local_tips: (network == Network::Regtest).then(Mutex::default),
        };
        side.sync().await?;
        Ok(side)
    }

    /// On a local chain (regtest), the mean time between the latest tips the watcher saw, in
    /// seconds: a devnet mines on its own timer, so the network's nominal block interval says
    /// nothing there. `None` on public networks (their nominal interval is the better
    /// estimate) and until two tips were seen.
    pub(crate) fn observed_block_seconds(&self) -> Option<u32> {
        self.local_tips
            .as_ref()?
            .lock()
            .expect("tips lock")
            .block_seconds()
    }

    /// Records that the watcher saw the tip `height` now (for
    /// [`BtcSide::observed_block_seconds`]).
    fn note_tip(&self, height: u32) {
        if let Some(tips) = &self.local_tips {
            tips.lock().expect("tips lock").note(height, Instant::now());
        }
    }

    /// A fresh chain source.
    pub(crate) fn new_source(&self) -> Result<Box<dyn ChainSource>, SourceError> {
        (self.sources)()
    }

    /// Brings the wallet up to the chain.
    pub(crate) async fn sync(&self) -> Result<(), EngineError> {
        let mut source = self.new_source()?;
        let mut wallet = self.wallet.lock().await;
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| handle.block_on(wallet.sync(source.as_mut())))?;
        Ok(())
    }

    /// The wallet's balance.
    pub(crate) async fn balance(&self) -> Balance {
        self.wallet.lock().await.balance()
    }

    /// A new receive address (persisted).
    pub(crate) async fn new_address(&self) -> Result<Address, EngineError> {
        Ok(self.wallet.lock().await.new_address().await?)
    }

    /// The fee rate to propose for our transactions (the source's estimate within the policy's
    /// floor and cap), in sat/vB.
    pub(crate) async fn fee_rate(&self) -> Result<u64, EngineError> {
        let policy = self.fee_policy;
        let choice = with_source(&self.sources, move |s| policy.choose(s)).await?;
        Ok(choice.rate.to_sat_per_vb_ceil())
    }

    /// Marks the inputs of `psbt` as taken by a swap's lock.
    pub(crate) fn reserve(&self, psbt: &Psbt) {
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        reserved.extend(psbt.unsigned_tx.input.iter().map(|i| i.previous_output));
    }

    /// The coins reserved by swaps' lock PSBTs.
    fn reserved_coins(&self) -> Vec<OutPoint> {
        let reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        reserved.iter().copied().collect()
    }

    /// Releases the inputs of `psbt`.
    pub(crate) fn release(&self, psbt: &Psbt) {
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        for input in &psbt.unsigned_tx.input {
            reserved.remove(&input.previous_output);
        }
    }

    /// Builds the unsigned lock PSBT for `amount` to `two_of_two`, from coins no other swap
    /// has reserved, and reserves its inputs.
    pub(crate) async fn fund_lock(
        &self,
        two_of_two: TwoOfTwo,
        amount: Amount,
        fee_rate: u64,
    ) -> Result<Psbt, EngineError> {
        let mut wallet = self.wallet.lock().await;
        let reserved = self.reserved_coins();
        let rate = FeeRate::from_sat_per_vb(fee_rate).unwrap_or(FeeRate::BROADCAST_MIN);
        let lock = wallet
            .build_lock(two_of_two, amount, rate, &reserved)
            .await?;
        let psbt = lock.psbt().clone();
        self.reserve(&psbt);
        Ok(psbt)
    }

    /// Signs the agreed lock with the wallet and broadcasts it; idempotent (an already known
    /// lock counts as published).
    pub(crate) async fn publish_lock(&self, lock: &TxLock) -> Result<Txid, EngineError> {
        let tx = {
            let wallet = self.wallet.lock().await;
            wallet.sign_lock(lock)?
        };
        let txid = self.broadcast(tx.clone()).await?;
        self.wallet.lock().await.note_broadcast(tx).await?;
        Ok(txid)
    }

    /// Broadcasts a transaction.
    pub(crate) async fn broadcast(&self, tx: Transaction) -> Result<Txid, SourceError> {
        with_source(&self.sources, move |s| s.broadcast(&tx)).await
    }

    /// Claims the acceleration of `txid` for the caller; `None` when another task has it.
    pub(crate) fn claim_bump(&self, txid: Txid) -> Option<BumpClaim<'_>> {
        self.bumping.claim(txid)
    }

    /// Where `txid` is (found through its output script `script`), and the source's tip
    /// height, as the chain source sees them now.
    pub(crate) async fn tx_status_and_tip(
        &self,
        txid: Txid,
        script: ScriptBuf,
    ) -> Result<(TxStatus, u32), SourceError> {
        with_source(&self.sources, move |s| {
            let status = s.tx_status(&txid, &script)?;
            Ok((status, s.tip()?.height))
        })
        .await
    }

    /// The source's tip and that block's median time past (BIP113), in unix seconds.
    pub(crate) async fn tip_and_median_time(&self) -> Result<(BlockId, u64), SourceError> {
        with_source(&self.sources, |s| {
            let tip = s.tip()?;
            let median = s.median_time_past(&tip)?;
            Ok((tip, median))
        })
        .await
    }

    /// What waits unconfirmed at output `vout` of `parent` (see
    /// [`Wallet::cpfp_package`]).
    pub(crate) async fn cpfp_package(
        &self,
        parent: &Transaction,
        vout: u32,
        parent_fee: Amount,
    ) -> Result<CpfpPackage, EngineError> {
        Ok(self
            .wallet
            .lock()
            .await
            .cpfp_package(parent, vout, parent_fee)?)
    }

    /// Broadcasts the children already built for `package` again (a node may have missed
    /// one whose broadcast answer was lost); forgets a child nodes refuse for good. True when
    /// the package stands as the wallet knows it.
    pub(crate) async fn rebroadcast_children(
        &self,
        package: &CpfpPackage,
    ) -> Result<bool, EngineError> {
        for child in &package.children {
            match self.broadcast(child.clone()).await {
                Ok(_) => {}
                Err(SourceError::Rejected { reason })
                    if ["conflict", "missing", "spent"]
                        .iter()
                        .any(|r| reason.contains(r)) =>
                {
                    tracing::info!(
                        "forgetting fee-bumping child {}: {reason}",
                        child.compute_txid()
                    );
                    self.wallet.lock().await.forget(child).await?;
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Builds a child lifting `package` to `target_sat_per_vb` (see [`Wallet::build_cpfp`]),
    /// records it in the wallet, then broadcasts it. Returns it; a failed broadcast leaves it
    /// recorded, for [`BtcSide::rebroadcast_children`] to send again.
    pub(crate) async fn pay_for(
        &self,
        package: &CpfpPackage,
        target_sat_per_vb: u64,
        sign_foreign: Option<ForeignSigner<'_>>,
    ) -> Result<Transaction, EngineError> {
        let reserved = self.reserved_coins();
        let child = {
            let mut wallet = self.wallet.lock().await;
            let child = wallet.build_cpfp(package, target_sat_per_vb, sign_foreign, &reserved)?;
            wallet.note_broadcast(child.clone()).await?;
            child
        };
        self.broadcast(child.clone()).await?;
        Ok(child)
    }

    /// Sends `amount` (or everything, with `None`) to `to` at the current fee rate, avoiding
    /// coins reserved by swaps. Returns the txid.
    pub(crate) async fn withdraw(
        &self,
        to: &Address,
        amount: Option<Amount>,
    ) -> Result<Txid, EngineError> {
        let fee_rate = self.fee_rate().await?;
        let rate = FeeRate::from_sat_per_vb(fee_rate).unwrap_or(FeeRate::BROADCAST_MIN);
        let reserved = self.reserved_coins();
        let tx = {
            let mut wallet = self.wallet.lock().await;
            let psbt = wallet.build_withdrawal(to, amount, rate, &reserved).await?;
            wallet.sign_and_extract(psbt)?
        };
        let txid = self.broadcast(tx.clone()).await?;
        self.wallet.lock().await.note_broadcast(tx).await?;
        Ok(txid)
    }

    /// Reports `txid` (found through the output script `script`) to the swap behind `sender`:
    /// [`Input::BtcTxSeen`] whenever its confirmations change, [`Input::BtcTxAbsent`] when it
    /// disappears. Idempotent per swap.
    pub(crate) fn watch(
        &self,
        swap_id: SwapId,
        txid: Txid,
        script: ScriptBuf,
        sender: &DriverSender,
    ) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let entry = registry.watched.entry(txid).or_insert_with(|| Watched {
            script,
            tx: None,
            subscribers: Vec::new(),
        });
        match entry.subscribers.iter_mut().find(|s| s.swap_id == swap_id) {
            // a new driver for the swap (after a restart of its task): report afresh
            Some(existing) if !existing.sender.same_channel(sender) => {
                existing.sender = sender.clone();
                existing.reported = None;
            }
            Some(_) => {}
            None => entry.subscribers.push(Subscriber {
                swap_id,
                sender: sender.clone(),
                reported: None,
            }),
        }
    }

    /// Waits until the watcher has polled the chain twice more and reported what it saw to
    /// the swaps (so their machines know the chain as it is now), or a minute passes (a chain
    /// source that does not answer: the caller goes on with what it knows).
    pub(crate) async fn fresh_chain_view(&self) {
        let mut polls = self.polls.subscribe();
        let target = *polls.borrow() + 2;
        let _ =
            tokio::time::timeout(Duration::from_secs(60), polls.wait_for(|n| *n >= target)).await;
    }

    /// Stops watching everything for `swap_id`.
    pub(crate) fn unwatch_swap(&self, swap_id: &SwapId) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        for watched in registry.watched.values_mut() {
            watched.subscribers.retain(|s| s.swap_id != *swap_id);
        }
        registry.watched.retain(|_, w| !w.subscribers.is_empty());
    }

    fn wanted(&self) -> Vec<(Txid, ScriptBuf)> {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry
            .watched
            .iter()
            .map(|(txid, w)| (*txid, w.script.clone()))
            .collect()
    }

    /// Which watched transactions are seen but not yet fetched.
    fn missing_transactions(&self, watch: &Watch) -> Vec<(Txid, ScriptBuf)> {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry
            .watched
            .iter()
            .filter(|(txid, w)| {
                w.tx.is_none()
                    && matches!(
                        watch.status(txid),
                        Some(TxStatus::InMempool | TxStatus::Confirmed { .. })
                    )
            })
            .map(|(txid, w)| (*txid, w.script.clone()))
            .collect()
    }

    /// Sends every subscriber what changed since its last report.
    fn report(&self, watch: &Watch, fetched: Vec<(Txid, Transaction)>) {
        let tip = watch.tip().map_or(0, |t| t.height);
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        for (txid, tx) in fetched {
            if let Some(w) = registry.watched.get_mut(&txid) {
                w.tx = Some(tx);
            }
        }
        for (txid, watched) in registry.watched.iter_mut() {
            let confirmations = match watch.status(txid) {
                Some(TxStatus::InMempool) => Some(0),
                Some(status @ TxStatus::Confirmed { .. }) => Some(status.confirmations(tip)),
                _ => None,
            };
            for sub in &mut watched.subscribers {
                if sub.reported == confirmations {
                    continue;
                }
                let input = match (confirmations, &watched.tx) {
                    (Some(c), Some(tx)) => Input::BtcTxSeen {
                        tx: tx.clone(),
                        confirmations: c,
                    },
                    (Some(_), None) => continue,
                    (None, _) => Input::BtcTxAbsent { txid: *txid },
                };
                if sub.reported.is_none() && confirmations.is_none() {
                    // never reported present: nothing to retract
                    continue;
                }
                sub.reported = confirmations;
                let _ = sub.sender.send(DriverMsg::Input(input));
            }
        }
    }
}

/// The script through which a script-indexed source finds a swap transaction: its first
/// output's.
pub(crate) fn watch_script(
    agreement: &confiaro_protocol::machine::Agreement,
    label: TxLabel,
) -> ScriptBuf {
    let txs = &agreement.txs;
    let tx = match label {
        TxLabel::Lock => txs.lock.unsigned_tx(),
        TxLabel::Redeem => txs.redeem.unsigned_tx(),
        TxLabel::Cancel => txs.cancel.unsigned_tx(),
        TxLabel::Refund => txs.refund.unsigned_tx(),
        TxLabel::Punish => txs.punish.unsigned_tx(),
        TxLabel::EarlyRefund => txs.early_refund.unsigned_tx(),
    };
    if label == TxLabel::Lock {
        // the lock's 2-of-2 output (its first output may be change)
        return agreement.two_of_two().script_pubkey();
    }
    tx.output
        .first()
        .map(|o| o.script_pubkey.clone())
        .unwrap_or_default()
}

/// The watcher task: polls the chain every `interval`, reports watched transactions to their
/// swaps, syncs the wallet on new blocks, and announces tips and source failures.
pub(crate) async fn run_watcher(
    btc: Arc<BtcSide>,
    interval: Duration,
    events: tokio::sync::broadcast::Sender<EngineEvent>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut watch = Watch::new();
    let mut added: HashSet<Txid> = HashSet::new();
    let mut source: Option<Box<dyn ChainSource>> = None;
    let mut polls: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        polls += 1;
        let mut current = match source.take() {
            Some(s) => s,
            None => match btc.new_source() {
                Ok(s) => s,
                Err(e) => {
                    let _ = events.send(EngineEvent::Warning {
                        message: format!("bitcoin: {e}"),
                    });
                    continue;
                }
            },
        };
        let wanted = btc.wanted();
        let wanted_ids: HashSet<Txid> = wanted.iter().map(|(t, _)| *t).collect();
        for (txid, script) in wanted {
            if added.insert(txid) {
                watch.add(txid, script);
            }
        }
        for gone in added.difference(&wanted_ids).copied().collect::<Vec<_>>() {
            watch.remove(&gone);
            added.remove(&gone);
        }
        let before = watch.tip();
        let joined = tokio::task::spawn_blocking(move || {
            let found = watch.poll(current.as_mut());
            (watch, current, found)
        })
        .await;
        let (w, s, found) = match joined {
            Ok(parts) => parts,
            Err(_) => {
                // the poll panicked: start again with a fresh watch
                watch = Watch::new();
                added.clear();
                continue;
            }
        };
        watch = w;
        let mut new_tip = false;
        for event in found {
            match event {
                WatchEvent::NewTip(tip) => {
                    new_tip = true;
                    btc.note_tip(tip.height);
                    let _ = events.send(EngineEvent::BitcoinTip { height: tip.height });
                }
                WatchEvent::SourceFailed(e) => {
                    let _ = events.send(EngineEvent::Warning {
                        message: format!("bitcoin: {e} (retrying)"),
                    });
                }
                WatchEvent::SourceRecovered => {
                    let _ = events.send(EngineEvent::Warning {
                        message: "bitcoin: the chain source answers again".into(),
                    });
                }
                _ => {}
            }
        }
        // fetch the transactions seen for the first time (their witnesses matter)
        let missing = btc.missing_transactions(&watch);
        let (s, fetched) = if missing.is_empty() {
            (s, Vec::new())
        } else {
            let mut s = s;
            match tokio::task::spawn_blocking(move || {
                let fetched: Vec<(Txid, Transaction)> = missing
                    .iter()
                    .filter_map(|(txid, script)| {
                        s.transaction(txid, script)
                            .ok()
                            .flatten()
                            .map(|tx| (*txid, tx))
                    })
                    .collect();
                (s, fetched)
            })
            .await
            {
                Ok(parts) => parts,
                Err(_) => continue,
            }
        };
        source = Some(s);
        btc.report(&watch, fetched);
        btc.polls.send_modify(|n| *n += 1);
        if (new_tip && before.is_some()) || polls.is_multiple_of(8) {
            if let Err(e) = btc.sync().await {
                tracing::debug!("wallet sync failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_observed_interval_averages_the_latest_tips_and_restarts_on_a_reorg() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut clock = TipClock::default();
        assert_eq!(clock.block_seconds(), None, "no tip yet");
        clock.note(100, at(0));
        assert_eq!(clock.block_seconds(), None, "one tip is no interval");
        clock.note(101, at(4));
        clock.note(103, at(12));
        assert_eq!(clock.block_seconds(), Some(4), "12 s over 3 blocks");
        // only the latest WINDOW tips count
        for i in 0..20u32 {
            clock.note(104 + i, at(12 + 10 * u64::from(i + 1)));
        }
        assert_eq!(clock.block_seconds(), Some(10));
        clock.note(110, at(300));
        assert_eq!(clock.block_seconds(), None, "a reorganisation starts over");
        clock.note(111, at(301));
        assert_eq!(clock.block_seconds(), Some(1));
    }

    /// A second claim of a transaction being accelerated is refused without touching the
    /// first: it neither blocks (a claim built and dropped under the lock deadlocked every
    /// worker thread) nor releases the holder's claim.
    #[test]
    fn a_second_claim_is_refused_and_leaves_the_first_in_force() {
        use bitcoin::hashes::Hash as _;
        let claims = Arc::new(BumpClaims::default());
        let txid = Txid::from_byte_array([7; 32]);
        let other = Txid::from_byte_array([8; 32]);
        let (done, finished) = std::sync::mpsc::channel();
        let shared = Arc::clone(&claims);
        std::thread::spawn(move || {
            let first = shared.claim(txid).expect("first claim");
            let second = shared.claim(txid).is_none();
            let third = shared.claim(txid).is_none();
            let unrelated = shared.claim(other).is_some();
            drop(first);
            let after_release = shared.claim(txid).is_some();
            let _ = done.send((second, third, unrelated, after_release));
        });
        let (second, third, unrelated, after_release) = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("claims answer without deadlock");
        assert!(second && third, "the claim stays with its holder");
        assert!(unrelated, "another transaction is claimed independently");
        assert!(after_release, "a dropped claim frees the transaction");
    }
}
