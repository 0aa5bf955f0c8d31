//! Watching the chain for the swap: new blocks, and watched transactions entering the
//! mempool, confirming, dropping back to the mempool in a reorg, or vanishing.
//!
//! [`Watch`] is the sans-IO part: it remembers what it last saw and turns one poll of a
//! [`ChainSource`] into [`WatchEvent`]s (each change reported once). [`Watcher`] runs a
//! `Watch` on its own thread, polling every [`DEFAULT_POLL_INTERVAL`] (so a change is
//! reported well within a second on a local node), and hands events over a channel.
//! Polling is used for every source: bitcoind has no push interface over RPC, and one
//! mechanism for all sources keeps the timing the same whichever the user picked.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use bdk_wallet::chain::BlockId;
use bitcoin::{ScriptBuf, Txid};

use crate::chain::{ChainSource, SourceError, TxStatus};

/// How often a [`Watcher`] polls its source by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Something that changed since the previous poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// The source's best block changed (a new block, or another branch after a reorg).
    NewTip(BlockId),
    /// A watched transaction is in the mempool (first seen, or back after a reorg).
    InMempool(Txid),
    /// A watched transaction is confirmed in `block` (first time, or in another block after
    /// a reorg).
    Confirmed {
        /// The transaction.
        txid: Txid,
        /// The block that confirms it.
        block: BlockId,
    },
    /// A watched transaction the source knew is gone: evicted, replaced, or reorged out and
    /// dropped.
    Vanished(Txid),
    /// The source failed; the watcher keeps polling. Reported once per failure streak.
    SourceFailed(SourceError),
    /// The source answers again after a [`WatchEvent::SourceFailed`].
    SourceRecovered,
}

/// What a [`Watch`] watches and what it last saw.
#[derive(Debug, Default, Clone)]
pub struct Watch {
    tip: Option<BlockId>,
    watched: BTreeMap<Txid, (ScriptBuf, TxStatus)>,
    failing: bool,
}

impl Watch {
    /// An empty watch; its first poll reports the tip.
    pub fn new() -> Self {
        Watch::default()
    }

    /// Starts watching `txid`, found through `script_pubkey` (the script of one of its
    /// outputs). Its current status is reported by the next poll unless it is unknown.
    pub fn add(&mut self, txid: Txid, script_pubkey: ScriptBuf) {
        self.watched
            .entry(txid)
            .or_insert((script_pubkey, TxStatus::NotFound));
    }

    /// Stops watching `txid`.
    pub fn remove(&mut self, txid: &Txid) {
        self.watched.remove(txid);
    }

    /// The last status seen for `txid`, if watched.
    pub fn status(&self, txid: &Txid) -> Option<TxStatus> {
        self.watched.get(txid).map(|(_, s)| *s)
    }

    /// The last tip seen.
    pub fn tip(&self) -> Option<BlockId> {
        self.tip
    }

    /// Asks `source` for its tip and every watched transaction's status, and returns what
    /// changed, tip first. A source failure is returned as one
    /// [`WatchEvent::SourceFailed`] per failure streak (then nothing until it recovers); the
    /// statuses seen before the failure are kept.
    pub fn poll<S: ChainSource + ?Sized>(&mut self, source: &mut S) -> Vec<WatchEvent> {
        match self.try_poll(source) {
            Ok(mut events) => {
                if std::mem::take(&mut self.failing) {
                    events.insert(0, WatchEvent::SourceRecovered);
                }
                events
            }
            Err(err) if !self.failing => {
                self.failing = true;
                vec![WatchEvent::SourceFailed(err)]
            }
            Err(_) => Vec::new(),
        }
    }

    fn try_poll<S: ChainSource + ?Sized>(
        &mut self,
        source: &mut S,
    ) -> Result<Vec<WatchEvent>, SourceError> {
        let tip = source.tip()?;
        let mut statuses = Vec::with_capacity(self.watched.len());
        for (txid, (script, _)) in &self.watched {
            statuses.push((*txid, source.tx_status(txid, script)?));
        }
        let mut events = Vec::new();
        if self.tip != Some(tip) {
            self.tip = Some(tip);
            events.push(WatchEvent::NewTip(tip));
        }
        for (txid, status) in statuses {
            let Some((_, last)) = self.watched.get_mut(&txid) else {
                continue;
            };
            if *last == status {
                continue;
            }
            *last = status;
            events.push(match status {
                TxStatus::NotFound => WatchEvent::Vanished(txid),
                TxStatus::InMempool => WatchEvent::InMempool(txid),
                TxStatus::Confirmed { block } => WatchEvent::Confirmed { txid, block },
            });
        }
        Ok(events)
    }
}

enum Command {
    Add(Txid, ScriptBuf),
    Remove(Txid),
}

/// A [`Watch`] polling its own [`ChainSource`] on a background thread.
///
/// Dropping it stops the thread.
pub struct Watcher {
    commands: Option<Sender<Command>>,
    events: Receiver<WatchEvent>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    /// Starts polling `source` every `interval` (use [`DEFAULT_POLL_INTERVAL`]). Give it its
    /// own source (its own connection), not the wallet's.
    ///
    /// # Errors
    ///
    /// The OS error if the thread cannot be spawned.
    pub fn spawn(mut source: Box<dyn ChainSource>, interval: Duration) -> std::io::Result<Watcher> {
        let (command_tx, command_rx) = mpsc::channel::<Command>();
        let (event_tx, event_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("confiaro-btc-watcher".into())
            .spawn(move || {
                let mut watch = Watch::new();
                loop {
                    for event in watch.poll(source.as_mut()) {
                        if event_tx.send(event).is_err() {
                            return;
                        }
                    }
                    // Wait for the interval, taking commands as they come.
                    let deadline = std::time::Instant::now() + interval;
                    loop {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        match command_rx.recv_timeout(left) {
                            Ok(Command::Add(txid, script)) => {
                                watch.add(txid, script);
                                break;
                            }
                            Ok(Command::Remove(txid)) => watch.remove(&txid),
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            })?;
        Ok(Watcher {
            commands: Some(command_tx),
            events: event_rx,
            thread: Some(thread),
        })
    }

    /// Watches `txid` (found through the script of one of its outputs); its status is
    /// reported at the next poll, which starts right away.
    pub fn add(&self, txid: Txid, script_pubkey: ScriptBuf) {
        if let Some(commands) = &self.commands {
            let _ = commands.send(Command::Add(txid, script_pubkey));
        }
    }

    /// Stops watching `txid`.
    pub fn remove(&self, txid: Txid) {
        if let Some(commands) = &self.commands {
            let _ = commands.send(Command::Remove(txid));
        }
    }

    /// The next event, waiting at most `timeout`; `None` if none came.
    pub fn next_event(&self, timeout: Duration) -> Option<WatchEvent> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Closing the command channel ends the thread at its next wait.
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
