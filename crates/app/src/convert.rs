//! From the engine's types to the IPC types the UI sees (amounts as decimal strings, names
//! in snake_case), and from errors to a message with the next step.

use confiaro_orchestrator::connection_check::{
    BitcoinFound, Checked, ConnectionReport, MoneroFound, WalletRpcFound,
};
use confiaro_orchestrator::progress::{Chain, Timelock, Waiting};
use confiaro_orchestrator::{
    Direction, EngineError, Network, Offer, Phase, Quote, Role, SwapView, WalletBalances,
};

use crate::ipc::{
    Balances, CheckOutcome, CommandError, ConnectionCheck, DeadlineView, NetworkName, OfferView,
    PartCheck, PhaseName, QuoteView, RoleName, SwapDetail, SwapTx, TxOnChain, WaitingView,
};

impl From<Network> for NetworkName {
    fn from(network: Network) -> NetworkName {
        match network {
            Network::Mainnet => NetworkName::Mainnet,
            Network::Testnet4 => NetworkName::Testnet4,
            Network::Signet => NetworkName::Signet,
            Network::Regtest => NetworkName::Regtest,
        }
    }
}

impl From<NetworkName> for Network {
    fn from(network: NetworkName) -> Network {
        match network {
            NetworkName::Mainnet => Network::Mainnet,
            NetworkName::Testnet4 => Network::Testnet4,
            NetworkName::Signet => Network::Signet,
            NetworkName::Regtest => Network::Regtest,
        }
    }
}

impl From<Phase> for PhaseName {
    fn from(phase: Phase) -> PhaseName {
        match phase {
            Phase::Initialized => PhaseName::Initialized,
            Phase::Negotiating => PhaseName::Negotiating,
            Phase::Locked => PhaseName::Locked,
            Phase::Executing => PhaseName::Executing,
            Phase::Completed => PhaseName::Completed,
            Phase::Refunded => PhaseName::Refunded,
            Phase::Failed => PhaseName::Failed,
            Phase::Aborted => PhaseName::Aborted,
        }
    }
}

impl From<&SwapView> for SwapDetail {
    fn from(view: &SwapView) -> SwapDetail {
        let progress = view.progress.as_ref();
        let deadline = progress.and_then(|p| p.deadline.as_ref());
        let can_cancel_refund = view.role == Role::Bob
            && !view.phase.is_terminal()
            && deadline.is_some_and(|d| d.timelock == Timelock::Cancel && d.blocks == 0);
        SwapDetail {
            swap_id: view.swap_id.clone(),
            role: match view.role {
                Role::Alice => RoleName::Alice,
                Role::Bob => RoleName::Bob,
            },
            peer: view.peer.clone(),
            btc_sat: view.btc_sat.to_string(),
            xmr_piconero: view.xmr_piconero.to_string(),
            phase: view.phase.into(),
            state: view.state.clone(),
            step: progress.map(|p| p.step.clone()).unwrap_or_default(),
            waiting: progress.and_then(|p| p.waiting.as_ref()).map(|w| match w {
                Waiting::Peer => WaitingView::Peer,
                Waiting::Wallet => WaitingView::Wallet,
                Waiting::Confirmations {
                    chain,
                    what,
                    have,
                    need,
                } => WaitingView::Confirmations {
                    chain: match chain {
                        Chain::Bitcoin => "bitcoin".into(),
                        Chain::Monero => "monero".into(),
                    },
                    what: what.clone(),
                    have: *have,
                    need: *need,
                },
            }),
            deadline: deadline.map(|d| DeadlineView {
                what: d.what.clone(),
                blocks: d.blocks,
                eta_seconds: u32::try_from(d.eta_seconds).unwrap_or(u32::MAX),
                automatic: d.automatic.clone(),
            }),
            txs: view
                .txids
                .iter()
                .map(|(label, txid)| SwapTx {
                    label: snake_case(&format!("{label:?}")),
                    txid: txid.clone(),
                    on_chain: TxOnChain::Unknown,
                })
                .collect(),
            receive_address: view.receive_address.clone(),
            can_cancel_refund,
            can_abort: matches!(view.phase, Phase::Initialized | Phase::Negotiating),
            created_at: unix_u32(view.created_at),
            updated_at: unix_u32(view.updated_at),
        }
    }
}

impl SwapDetail {
    /// Fills in which transactions were seen on the chain from `seen`: each txid with the
    /// confirmations the engine last saw for it (`None`: never seen), as a receipt lists
    /// them. A transaction `seen` does not name stays [`TxOnChain::Unknown`].
    pub(crate) fn note_chain<'a>(
        &mut self,
        seen: impl IntoIterator<Item = (&'a str, Option<u32>)>,
    ) {
        for (txid, confirmations) in seen {
            for tx in self.txs.iter_mut().filter(|tx| tx.txid == txid) {
                tx.on_chain = match confirmations {
                    Some(confirmations) => TxOnChain::Seen { confirmations },
                    None => TxOnChain::NotSeen,
                };
            }
        }
    }
}

fn unix_u32(seconds: i64) -> u32 {
    u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)
}

/// `EarlyRefund` → `early_refund`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl From<&Quote> for QuoteView {
    fn from(q: &Quote) -> QuoteView {
        QuoteView {
            piconero_per_btc: q.price.0.to_string(),
            min_sat: q.min_btc.to_sat().to_string(),
            max_sat: q.max_btc.to_sat().to_string(),
            cancel_timelock: u32::from(q.cancel_timelock),
            punish_timelock: u32::from(q.punish_timelock),
        }
    }
}

impl From<&Offer> for OfferView {
    fn from(offer: &Offer) -> OfferView {
        let side = |direction: Direction| match &offer.quotes {
            Ok(quotes) => quotes
                .iter()
                .find(|q| q.direction == direction)
                .map(QuoteView::from),
            Err(_) => None,
        };
        let (quote, sell_quote) = (side(Direction::BuyXmr), side(Direction::SellXmr));
        let error = match &offer.quotes {
            Err(e) => Some(e.clone()),
            Ok(_) if quote.is_none() => Some("this maker does not sell XMR now".to_string()),
            Ok(_) => None,
        };
        OfferView {
            peer: offer.peer.clone(),
            address: offer.addresses.first().cloned().unwrap_or_default(),
            quote,
            sell_quote,
            error,
            reserve_piconero: offer.reserve_piconero.map(|p| p.to_string()),
        }
    }
}

impl From<WalletBalances> for Balances {
    fn from(b: WalletBalances) -> Balances {
        Balances {
            btc_confirmed_sat: b.btc_confirmed_sat.to_string(),
            btc_pending_sat: (b.btc_pending_sat + b.btc_immature_sat).to_string(),
            xmr_total_piconero: b.xmr_total_piconero.to_string(),
            xmr_unlocked_piconero: b.xmr_unlocked_piconero.to_string(),
        }
    }
}

impl CommandError {
    /// An error with its next step.
    pub fn new(message: impl Into<String>, next_step: impl Into<String>) -> CommandError {
        CommandError {
            message: message.into(),
            next_step: next_step.into(),
        }
    }
}

impl From<EngineError> for CommandError {
    fn from(error: EngineError) -> CommandError {
        let next_step = match &error {
            EngineError::WrongPassword(_) => "Check the password and try again.",
            EngineError::NoWallet(_) => "Create or restore a wallet first.",
            EngineError::WalletExists(_) => "Unlock the existing wallet instead.",
            EngineError::DataDirLocked { .. } => {
                "Another Confiaro runs on this wallet: close it, then try again."
            }
            EngineError::InsufficientFunds { .. } => {
                "Deposit more to the built-in wallet, or choose a smaller amount."
            }
            EngineError::Quote(_) => "Choose an amount within the maker's limits, or another maker.",
            EngineError::Dial(_) | EngineError::Send(_) | EngineError::Rendezvous(_) => {
                "The peer could not be reached: refresh the offers and try again, or choose another maker."
            }
            EngineError::BitcoinSource(_) | EngineError::BitcoinWallet(_) => {
                "Check that the Bitcoin node runs and its URL, user and password in Settings, then try again."
            }
            EngineError::Monero(_) => {
                "The Monero node or wallet did not answer: check monerod runs and its URL in Settings."
            }
            EngineError::InvalidInput(_) => "Correct the value and try again.",
            EngineError::ChainOutOfStep(_) => {
                "Nothing was started or paid: set this computer's clock right, or wait for the node to sync, then try again."
            }
            EngineError::UnknownSwap(_) => "Open the swap from the History screen.",
            EngineError::Protocol(_) => {
                "Nothing was changed; the swap goes on, and the app acts on its own at each deadline."
            }
            EngineError::Stopped => "The engine stopped: restart the app.",
            _ => "Try again; if it keeps failing, export the logs from the Logs screen.",
        };
        CommandError::new(error.to_string(), next_step)
    }
}

impl<T> From<Checked<T>> for PartCheck
where
    T: Describe,
{
    fn from(checked: Checked<T>) -> PartCheck {
        match checked {
            Checked::Ok(found) => PartCheck {
                outcome: CheckOutcome::Ok,
                detail: found.describe(),
            },
            Checked::Failed(error) => PartCheck {
                outcome: CheckOutcome::Failed,
                detail: error,
            },
            Checked::Skipped(reason) => PartCheck {
                outcome: CheckOutcome::Skipped,
                detail: reason,
            },
        }
    }
}

/// What a connection test found, in words for the Settings screen.
pub(crate) trait Describe {
    fn describe(&self) -> String;
}

impl Describe for BitcoinFound {
    fn describe(&self) -> String {
        format!(
            "{}: height {}, on the right network, the clock in step with the chain",
            self.source, self.height
        )
    }
}

impl Describe for MoneroFound {
    fn describe(&self) -> String {
        format!(
            "{}: height {}, on the right network and synced",
            self.node, self.height
        )
    }
}

impl Describe for WalletRpcFound {
    fn describe(&self) -> String {
        format!("{} ({})", self.path.display(), self.version)
    }
}

impl From<ConnectionReport> for ConnectionCheck {
    fn from(report: ConnectionReport) -> ConnectionCheck {
        ConnectionCheck {
            ok: report.passed(),
            bitcoin: report.bitcoin.into(),
            monero: report.monero.into(),
            wallet_rpc: report.wallet_rpc.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use confiaro_orchestrator::{Deadline, SwapProgress};

    fn bob_view(phase: Phase, timelock: Timelock, blocks: u32) -> SwapView {
        SwapView {
            swap_id: "00".repeat(16),
            role: Role::Bob,
            peer: String::new(),
            network: Network::Regtest,
            btc_sat: 1_000_000,
            xmr_piconero: 1_500_000_000_000,
            phase,
            state: "EncSigSent".into(),
            progress: Some(SwapProgress {
                phase,
                state: "EncSigSent".into(),
                step: "waiting".into(),
                waiting: None,
                deadline: Some(Deadline {
                    timelock,
                    what: "in words".into(),
                    blocks,
                    eta_seconds: 0,
                    automatic: "in words".into(),
                }),
            }),
            txids: Vec::new(),
            receive_address: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn cancel_and_refund_is_offered_to_the_taker_once_the_cancel_timelock_has_passed() {
        let can = |view: &SwapView| SwapDetail::from(view).can_cancel_refund;
        assert!(can(&bob_view(Phase::Locked, Timelock::Cancel, 0)));
        assert!(!can(&bob_view(Phase::Locked, Timelock::Cancel, 1)));
        // past the punish timelock it is too late for a refund, and a finished swap is done
        assert!(!can(&bob_view(Phase::Locked, Timelock::Punish, 0)));
        assert!(!can(&bob_view(Phase::Refunded, Timelock::Cancel, 0)));
        let mut maker = bob_view(Phase::Locked, Timelock::Cancel, 0);
        maker.role = Role::Alice;
        assert!(!can(&maker));
    }

    #[test]
    fn a_receipt_says_which_transactions_reached_the_chain() {
        let mut detail = SwapDetail::from(&bob_view(Phase::Completed, Timelock::Cancel, 0));
        let tx = |label: &str, txid: String| SwapTx {
            label: label.into(),
            txid,
            on_chain: TxOnChain::Unknown,
        };
        let (lock, redeem, cancel) = ("11".repeat(32), "22".repeat(32), "33".repeat(32));
        detail.txs = vec![
            tx("lock", lock.clone()),
            tx("redeem", redeem.clone()),
            tx("cancel", cancel.clone()),
        ];
        detail.note_chain([(lock.as_str(), Some(7)), (redeem.as_str(), Some(0))]);
        let on_chain = |d: &SwapDetail| d.txs.iter().map(|t| t.on_chain).collect::<Vec<_>>();
        assert_eq!(
            on_chain(&detail),
            [
                TxOnChain::Seen { confirmations: 7 },
                TxOnChain::Seen { confirmations: 0 },
                TxOnChain::Unknown,
            ]
        );
        detail.note_chain([(cancel.as_str(), None)]);
        assert_eq!(on_chain(&detail)[2], TxOnChain::NotSeen);
    }

    fn quote(direction: Direction, price: u64) -> Quote {
        Quote {
            network: Network::Regtest,
            direction,
            price: confiaro_orchestrator::Price(price),
            min_btc: bitcoin::Amount::from_sat(10_000),
            max_btc: bitcoin::Amount::from_sat(50_000_000),
            cancel_timelock: 12,
            punish_timelock: 6,
        }
    }

    fn offer(quotes: Result<Vec<Quote>, String>) -> OfferView {
        OfferView::from(&Offer {
            peer: "12D3Koo".into(),
            addresses: vec!["/ip4/127.0.0.1/tcp/1/p2p/12D3Koo".into()],
            quotes,
            reserve_piconero: None,
        })
    }

    #[test]
    fn an_offer_shows_each_side_the_maker_takes() {
        let both = offer(Ok(vec![
            quote(Direction::SellXmr, 140),
            quote(Direction::BuyXmr, 150),
        ]));
        assert_eq!(both.quote.map(|q| q.piconero_per_btc), Some("150".into()));
        assert_eq!(
            both.sell_quote.map(|q| q.piconero_per_btc),
            Some("140".into())
        );
        assert_eq!(both.error, None);

        let sells_only = offer(Ok(vec![quote(Direction::SellXmr, 140)]));
        assert!(sells_only.quote.is_none());
        assert_eq!(
            sells_only.sell_quote.map(|q| q.min_sat),
            Some("10000".into())
        );
        assert_eq!(
            sells_only.error.as_deref(),
            Some("this maker does not sell XMR now")
        );

        let buys_only = offer(Ok(vec![quote(Direction::BuyXmr, 150)]));
        assert!(buys_only.quote.is_some() && buys_only.sell_quote.is_none());
        assert_eq!(buys_only.error, None);

        let unreachable = offer(Err("no answer".into()));
        assert!(unreachable.quote.is_none() && unreachable.sell_quote.is_none());
        assert_eq!(unreachable.error.as_deref(), Some("no answer"));
    }

    #[test]
    fn tx_labels_become_snake_case() {
        assert_eq!(snake_case("EarlyRefund"), "early_refund");
        assert_eq!(snake_case("Lock"), "lock");
    }
}
