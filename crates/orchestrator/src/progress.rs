//! What a swap is doing now, in words and numbers, for people: the current step, what it waits
//! for (with confirmations counted), the next timelock deadline in blocks and estimated time,
//! and what the app will do on its own when it comes.
//!
//! [`progress`] is a pure function of the machine's state, so the CLI, the GUI and the tests
//! all see the same thing.

use confiaro_protocol::alice::{Alice, AliceStage};
use confiaro_protocol::bob::{Bob, BobStage};
use confiaro_protocol::machine::TxLabel;
use confiaro_protocol::{Params, Phase, SwapState};
use serde::Serialize;

/// Which chain a confirmation count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// Bitcoin.
    Bitcoin,
    /// Monero.
    Monero,
}

/// What a swap waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum Waiting {
    /// The counterparty's next message.
    Peer,
    /// Our own wallet (building, signing, locking or sweeping).
    Wallet,
    /// Confirmations of a transaction.
    Confirmations {
        /// Which chain.
        chain: Chain,
        /// Which transaction, in words.
        what: String,
        /// Confirmations so far.
        have: u32,
        /// Confirmations needed.
        need: u32,
    },
}

/// Which of the swap's two Bitcoin timelocks a [`Deadline`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timelock {
    /// The cancel timelock, counted from the BTC lock's confirmation: once it has passed,
    /// either party may publish the cancel transaction (and Bob then refunds).
    Cancel,
    /// The punish timelock, counted from the cancel transaction's confirmation: once it has
    /// passed, Alice may take the BTC if Bob has not refunded.
    Punish,
}

/// The next timelock that changes what can happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// Which timelock this is (for code: `what` is for people).
    pub timelock: Timelock,
    /// What becomes possible, in words.
    pub what: String,
    /// Bitcoin blocks until then (0: now).
    pub blocks: u32,
    /// Estimated seconds until then: at the network's nominal block interval, or, on a local
    /// chain, at the interval the engine observed (see [`progress`]).
    pub eta_seconds: u64,
    /// What the app does on its own then.
    pub automatic: String,
}

/// A swap's progress for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapProgress {
    /// The canonical phase.
    pub phase: Phase,
    /// The detailed state.
    pub state: String,
    /// The current step, in words.
    pub step: String,
    /// What it waits for, if anything.
    pub waiting: Option<Waiting>,
    /// The next timelock deadline, if one matters now.
    pub deadline: Option<Deadline>,
}

fn deadline(
    params: &Params,
    timelock: Timelock,
    what: &str,
    blocks: u32,
    automatic: &str,
) -> Deadline {
    Deadline {
        timelock,
        what: what.to_owned(),
        blocks,
        eta_seconds: u64::from(blocks) * u64::from(params.btc_block_seconds),
        automatic: automatic.to_owned(),
    }
}

fn confirmations(chain: Chain, what: &str, have: u32, need: u32) -> Option<Waiting> {
    Some(Waiting::Confirmations {
        chain,
        what: what.to_owned(),
        have: have.min(need),
        need,
    })
}

/// The progress of the swap whose machine is `state`. Deadlines are estimated at
/// `btc_block_seconds` per Bitcoin block when given (the engine gives the observed interval on
/// a local chain), else at the network's nominal interval.
pub fn progress(state: &SwapState, btc_block_seconds: Option<u32>) -> SwapProgress {
    let (step, waiting, mut deadline) = match state {
        SwapState::Bob(bob) => bob_progress(bob),
        SwapState::Alice(alice) => alice_progress(alice),
    };
    // the texts name the counterparty `{them}`: the maker for a taker, the taker for a maker
    let them = if state.role() == state.terms().direction.taker_role() {
        "the maker"
    } else {
        "the taker"
    };
    let name = |text: &str| text.replace("{them}", them);
    if let Some(d) = deadline.as_mut() {
        d.what = name(&d.what);
        d.automatic = name(&d.automatic);
        if let Some(seconds) = btc_block_seconds {
            d.eta_seconds = u64::from(d.blocks) * u64::from(seconds);
        }
    }
    SwapProgress {
        phase: state.phase(),
        state: state.state_name().to_owned(),
        step: name(step),
        waiting,
        deadline,
    }
}

/// The step's text, what it waits for and the next deadline; the texts say `{them}` for the
/// counterparty ([`progress`] names it).
type Parts = (&'static str, Option<Waiting>, Option<Deadline>);

fn bob_progress(bob: &Bob) -> Parts {
    use BobStage::*;
    let p = &bob.params;
    let lock = bob.chain.confirmations(TxLabel::Lock);
    let cancel_at = u32::from(p.cancel_timelock);
    let cancel_deadline = || {
        Some(deadline(
            p,
            Timelock::Cancel,
            "cancel becomes possible",
            cancel_at.saturating_sub(lock.unwrap_or(0)),
            "cancel the swap and refund the BTC",
        ))
    };
    match bob.stage {
        Initialized | SetupSent => ("exchanging keys with {them}", Some(Waiting::Peer), None),
        LockFunding => (
            "building the BTC lock transaction",
            Some(Waiting::Wallet),
            None,
        ),
        LockProposed => ("waiting for {them}'s signatures", Some(Waiting::Peer), None),
        BtcLockPublished => match lock {
            None => (
                "publishing the BTC lock",
                Some(Waiting::Wallet),
                cancel_deadline(),
            ),
            Some(c) if c < p.btc_finality => (
                "waiting for the BTC lock to confirm",
                confirmations(Chain::Bitcoin, "BTC lock", c, p.btc_finality),
                cancel_deadline(),
            ),
            Some(_) => (
                "waiting for {them} to lock XMR",
                Some(Waiting::Peer),
                cancel_deadline(),
            ),
        },
        XmrLockProofReceived => {
            let have = bob.xmr.as_ref().and_then(|x| x.confirmations).unwrap_or(0);
            (
                "checking {them}'s XMR lock",
                confirmations(Chain::Monero, "XMR lock", have, p.xmr_finality),
                cancel_deadline(),
            )
        }
        XmrLockRejected => (
            "{them}'s XMR lock is wrong or late: waiting to cancel and refund",
            None,
            cancel_deadline(),
        ),
        EncSigSent => (
            "waiting for {them} to take the BTC",
            Some(Waiting::Peer),
            cancel_deadline(),
        ),
        BtcRedeemed => (
            "{them} took the BTC: moving the XMR to your wallet",
            Some(Waiting::Wallet),
            None,
        ),
        BtcCancelled => {
            let cancel = bob.chain.confirmations(TxLabel::Cancel);
            let punish = cancel.map(|c| {
                deadline(
                    p,
                    Timelock::Punish,
                    "{them} may punish",
                    u32::from(p.punish_timelock).saturating_sub(c),
                    "nothing: the refund must confirm before then",
                )
            });
            match (cancel, bob.chain.confirmations(TxLabel::Refund)) {
                (_, Some(r)) => (
                    "refunding the BTC",
                    confirmations(Chain::Bitcoin, "BTC refund", r, p.settle_confirmations),
                    punish,
                ),
                (Some(_), None) => ("publishing the BTC refund", Some(Waiting::Wallet), punish),
                (None, None) => (
                    "publishing the cancel transaction",
                    Some(Waiting::Wallet),
                    None,
                ),
            }
        }
        XmrRedeemed => ("done: the XMR is in your wallet", None, None),
        BtcRefunded => ("done: the BTC was refunded", None, None),
        BtcEarlyRefunded => ("done: {them} returned the BTC", None, None),
        BtcPunished => (
            "over: {them} punished (the refund came too late)",
            None,
            None,
        ),
        Aborted => ("aborted before anything was locked", None, None),
    }
}

fn alice_progress(alice: &Alice) -> Parts {
    use AliceStage::*;
    let p = &alice.params;
    let lock = alice.chain.confirmations(TxLabel::Lock);
    let cancel_at = u32::from(p.cancel_timelock);
    let cancel_deadline = |automatic: &str| {
        Some(deadline(
            p,
            Timelock::Cancel,
            "cancel becomes possible",
            cancel_at.saturating_sub(lock.unwrap_or(0)),
            automatic,
        ))
    };
    let settle = |what: &str, label: TxLabel| {
        confirmations(
            Chain::Bitcoin,
            what,
            alice.chain.confirmations(label).unwrap_or(0),
            p.settle_confirmations,
        )
    };
    match alice.stage {
        Initialized | SetupAnswered | SignaturesSent => {
            ("negotiating with {them}", Some(Waiting::Peer), None)
        }
        SignaturesReceived => match lock {
            None => ("waiting for {them}'s BTC lock", Some(Waiting::Peer), None),
            Some(c) => (
                "waiting for {them}'s BTC lock to confirm",
                confirmations(Chain::Bitcoin, "BTC lock", c, p.btc_finality),
                None,
            ),
        },
        XmrLockPending => ("locking XMR", Some(Waiting::Wallet), None),
        XmrLocked => (
            "waiting for {them}'s signature to take the BTC",
            Some(Waiting::Peer),
            cancel_deadline("cancel, then take the XMR back or punish"),
        ),
        BtcRedeemPublished => (
            "taking the BTC",
            settle("BTC redeem", TxLabel::Redeem),
            None,
        ),
        BtcCancelled => {
            let cancel = alice.chain.confirmations(TxLabel::Cancel);
            let punish = cancel.map(|c| {
                deadline(
                    p,
                    Timelock::Punish,
                    "punishing becomes possible",
                    u32::from(p.punish_timelock).saturating_sub(c),
                    "punish: take the BTC (the XMR stays locked)",
                )
            });
            ("cancelled: waiting for {them}'s refund", None, punish)
        }
        BtcRefunded => (
            "{them} refunded: moving the XMR back to your wallet",
            Some(Waiting::Wallet),
            None,
        ),
        BtcPunishPublished => ("punishing", settle("BTC punish", TxLabel::Punish), None),
        BtcEarlyRefundPublished => (
            "returning {them}'s BTC",
            settle("BTC early refund", TxLabel::EarlyRefund),
            None,
        ),
        AbortSent => (
            "aborting: watching whether {them}'s lock appears anyway",
            None,
            None,
        ),
        BtcRedeemed => ("done: the BTC is in your wallet", None, None),
        XmrRefunded => ("done: the XMR is back in your wallet", None, None),
        BtcPunished => ("over: {them}'s BTC was taken by punishing", None, None),
        BtcEarlyRefunded => ("done: {them}'s BTC was returned", None, None),
        Aborted => ("aborted before anything of ours was locked", None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::Amount;
    use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
    use confiaro_protocol::messages::SwapTerms;
    use confiaro_protocol::{Direction, Network, Role, SwapId, Timestamp, XmrAmount};

    fn terms(direction: Direction) -> SwapTerms {
        SwapTerms::new(
            Network::Regtest,
            direction,
            Amount::from_sat(1_000_000),
            XmrAmount::from_piconero(1_000_000_000_000),
        )
    }

    fn secrets(role: Role) -> (SwapSecrets, confiaro_protocol::keys::PublicShare) {
        let secrets = SwapSecrets::derive(
            &WalletSeed([7; 64]),
            &SwapId([3; 32]),
            role,
            &SwapEntropy([1; 32]),
        );
        let share = secrets.public_share();
        (secrets, share)
    }

    fn alice(direction: Direction) -> SwapState {
        let (secrets, share) = secrets(Role::Alice);
        let script = bitcoin::ScriptBuf::new();
        SwapState::Alice(Box::new(Alice::new(
            SwapId([3; 32]),
            terms(direction),
            secrets,
            share,
            script.clone(),
            script,
            5,
            Timestamp(0),
        )))
    }

    fn bob(direction: Direction) -> SwapState {
        let (secrets, share) = secrets(Role::Bob);
        SwapState::Bob(Box::new(Bob::new(
            SwapId([3; 32]),
            terms(direction),
            secrets,
            share,
            bitcoin::ScriptBuf::new(),
            5,
            Timestamp(0),
        )))
    }

    #[test]
    fn the_counterparty_is_named_by_who_took_which_side() {
        let step = |state: SwapState| progress(&state, None).step;
        // buying XMR: the taker is Bob, the maker Alice
        assert_eq!(
            step(bob(Direction::BuyXmr)),
            "exchanging keys with the maker"
        );
        assert_eq!(step(alice(Direction::BuyXmr)), "negotiating with the taker");
        // selling XMR: the taker is Alice, the maker Bob
        assert_eq!(
            step(alice(Direction::SellXmr)),
            "negotiating with the maker"
        );
        assert_eq!(
            step(bob(Direction::SellXmr)),
            "exchanging keys with the taker"
        );
        for direction in Direction::ALL {
            for state in [alice(direction), bob(direction)] {
                assert!(!progress(&state, None).step.contains('{'));
            }
        }
    }
}
