//! The engine's typed event stream and the swap summary it shows, for the CLI and the GUI.
//!
//! Events are plain data (serde, JSON-friendly: ids and txids as hex strings, amounts as
//! integer satoshi and piconero) and never carry secrets. They are a live view only: what
//! must survive a crash is in the store (states, audit log), not in events.
//!
//! The stream is lossy by design: every subscriber reads from one bounded buffer, and one
//! that falls too far behind loses the oldest events. It is told so ([`Received::Lagged`])
//! and resyncs by reading what it shows from the engine again ([`crate::Engine::swaps`],
//! balances), which reads the store: events announce changes, the store holds the truth.

use confiaro_protocol::machine::TxLabel;
use confiaro_protocol::{Network, Phase, Role, SwapId, SwapState, XmrAmount};
use confiaro_store::SwapRecord;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::progress::{progress, SwapProgress};

/// Something that happened in the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    /// Something about one swap.
    Swap(SwapEvent),
    /// A new Bitcoin tip.
    BitcoinTip {
        /// Its height.
        height: u32,
    },
    /// Something the user should know that is not about one swap (a chain source that stopped
    /// answering, a rendezvous point that refused a registration, ...). The engine keeps going.
    Warning {
        /// What happened.
        message: String,
    },
}

/// Something about one swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapEvent {
    /// The swap, hex.
    pub swap_id: String,
    /// Our role in it.
    pub role: Role,
    /// What happened.
    #[serde(flatten)]
    pub kind: SwapEventKind,
}

/// What happened to a swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SwapEventKind {
    /// The machine entered a new state (already persisted).
    StateChanged {
        /// The detailed state.
        state: String,
        /// Its phase.
        phase: Phase,
    },
    /// Where the swap stands now (sent after every change).
    Progress {
        /// The progress.
        progress: SwapProgress,
    },
    /// A message or chain fact was refused; nothing changed.
    Rejected {
        /// Why.
        reason: String,
    },
    /// The counterparty refused one of our messages.
    PeerRefused {
        /// Its reason.
        reason: String,
    },
    /// We published a Bitcoin transaction.
    Published {
        /// Which one.
        tx: TxLabel,
        /// Its txid.
        txid: String,
    },
    /// One of our waiting transactions got a child paying for it (CPFP).
    FeeBumped {
        /// Which one waits.
        tx: TxLabel,
        /// Its txid.
        txid: String,
        /// The new child's txid.
        child_txid: String,
        /// The rate the package (the transaction and its children) pays now, in sat/vB.
        package_sat_per_vb: u64,
    },
    /// Something the engine does for the swap failed; it retries on its own.
    Problem {
        /// What failed.
        message: String,
    },
    /// The swap reached a terminal state.
    Finished {
        /// The terminal phase.
        phase: Phase,
        /// The terminal state.
        state: String,
    },
}

impl SwapEvent {
    pub(crate) fn new(swap_id: &SwapId, role: Role, kind: SwapEventKind) -> SwapEvent {
        SwapEvent {
            swap_id: swap_id.to_string(),
            role,
            kind,
        }
    }
}

/// A swap as shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapView {
    /// The swap, hex.
    pub swap_id: String,
    /// Our role.
    pub role: Role,
    /// The counterparty's PeerId.
    pub peer: String,
    /// The network.
    pub network: Network,
    /// BTC locked by Bob, in satoshi.
    pub btc_sat: u64,
    /// XMR locked by Alice, in piconero.
    pub xmr_piconero: u64,
    /// The phase.
    pub phase: Phase,
    /// The detailed state.
    pub state: String,
    /// Where it stands (when the machine could be read).
    pub progress: Option<SwapProgress>,
    /// The Bitcoin transactions' ids, once agreed.
    pub txids: Vec<(TxLabel, String)>,
    /// Where our coins go when not to the built-in wallet: Bob's XMR, or Alice's BTC.
    pub receive_address: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl SwapView {
    /// The view of a stored swap, with details from its machine when given; deadlines are
    /// estimated at `btc_block_seconds` per Bitcoin block when given, else at the network's
    /// nominal interval (see [`crate::progress::progress`]).
    pub fn new(
        record: &SwapRecord,
        state: Option<&SwapState>,
        btc_block_seconds: Option<u32>,
    ) -> SwapView {
        SwapView {
            swap_id: record.swap_id.to_string(),
            role: record.role,
            peer: record.peer.clone(),
            network: record.network,
            btc_sat: record.btc_amount.to_sat(),
            xmr_piconero: record.xmr_amount.as_piconero(),
            phase: record.phase,
            state: record.state_name.clone(),
            progress: state.map(|s| progress(s, btc_block_seconds)),
            txids: state
                .and_then(SwapState::agreement)
                .map(|a| {
                    a.txs
                        .txids()
                        .into_iter()
                        .map(|(label, txid)| (label, txid.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            receive_address: record.receive_address.clone(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }

    /// The XMR amount.
    pub fn xmr_amount(&self) -> XmrAmount {
        XmrAmount::from_piconero(self.xmr_piconero)
    }

    /// The swap as it stands, as the one event a subscriber that missed events shows for it:
    /// `Finished` once it is over, else its progress (or its state when the view has no
    /// progress).
    pub fn current_event(&self) -> EngineEvent {
        let kind = match (&self.progress, self.phase.is_terminal()) {
            (_, true) => SwapEventKind::Finished {
                phase: self.phase,
                state: self.state.clone(),
            },
            (Some(progress), false) => SwapEventKind::Progress {
                progress: progress.clone(),
            },
            (None, false) => SwapEventKind::StateChanged {
                state: self.state.clone(),
                phase: self.phase,
            },
        };
        EngineEvent::Swap(SwapEvent {
            swap_id: self.swap_id.clone(),
            role: self.role,
            kind,
        })
    }
}

/// One subscriber's view of the engine's events (see the module's note on loss).
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<EngineEvent>,
}

/// What [`EventStream::next`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The next event.
    Event(EngineEvent),
    /// The subscriber fell behind and `missed` events are lost: re-read the swaps (and
    /// balances) from the engine before going on.
    Lagged {
        /// How many events were lost.
        missed: u64,
    },
}

impl EventStream {
    pub(crate) fn new(receiver: broadcast::Receiver<EngineEvent>) -> EventStream {
        EventStream { receiver }
    }

    /// The next event, or the news that some were lost; `None` once the engine has stopped
    /// and every event sent before was read.
    pub async fn next(&mut self) -> Option<Received> {
        match self.receiver.recv().await {
            Ok(event) => Some(Received::Event(event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Received::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tip(height: u32) -> EngineEvent {
        EngineEvent::BitcoinTip { height }
    }

    /// A subscriber that falls behind is told how many events it lost, then reads on from
    /// the oldest one kept; one that keeps up loses nothing; the end of the engine ends it.
    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_what_it_missed() {
        let (sender, _) = broadcast::channel(4);
        let mut slow = EventStream::new(sender.subscribe());
        for height in 1..=6 {
            sender.send(tip(height)).expect("a subscriber");
        }
        assert_eq!(slow.next().await, Some(Received::Lagged { missed: 2 }));
        for height in 3..=6 {
            assert_eq!(slow.next().await, Some(Received::Event(tip(height))));
        }
        let mut fresh = EventStream::new(sender.subscribe());
        sender.send(tip(7)).expect("a subscriber");
        drop(sender);
        assert_eq!(fresh.next().await, Some(Received::Event(tip(7))));
        assert_eq!(fresh.next().await, None);
        assert_eq!(slow.next().await, Some(Received::Event(tip(7))));
        assert_eq!(slow.next().await, None);
    }
}
