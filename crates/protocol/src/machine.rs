//! What both role machines share: inputs, actions, events, phases, errors, and the
//! [`Agreement`] both sides compute once setup has fixed every term.
//!
//! # Operation
//! A driver (the orchestrator, or the simulation) owns a [`SwapState`] and, for each input:
//! 1. calls [`SwapState::handle`] with the current time and the input;
//! 2. on `Ok`, **persists the new state first**, then performs the returned actions;
//! 3. on `Err`, keeps the old state (it is unchanged) and reports the error;
//! 4. wakes the machine with [`Input::Tick`] at [`SwapState::next_deadline`], and after a
//!    restart with [`Input::Resume`], which re-emits every action the current state still
//!    needs (watches, the pending message, pending publications, the pending XMR operation).
//!
//! Every action is idempotent: performing it twice has the effect of performing it once. In
//! particular [`Action::LockXmr`] must first look for an existing transfer to the address and
//! report that one instead of paying again.

use crate::alice::Alice;
use crate::bob::Bob;
use crate::btc::{
    fee_for_weight, TwoOfTwo, TxCancel, TxEarlyRefund, TxError, TxLock, TxPunish, TxRedeem,
    TxRefund,
};
use crate::crypto::{self, CryptoError, EdPoint, SecpPoint};
use crate::keys::PublicShare;
use crate::messages::{DecodeError, Message, SwapTerms};
use crate::network::{FeeBand, Params};
use crate::{Role, SwapId, XmrAmount};
use bitcoin::psbt::Psbt;
use bitcoin::{Amount, ScriptBuf, Transaction, TxOut, Txid, Weight};
use curve25519_dalek::Scalar as EdScalar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Seconds since an arbitrary epoch (the Unix epoch in production, zero in simulation).
/// Only ever compared with other timestamps of the same driver.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This timestamp plus `seconds`, saturating.
    pub fn plus(self, seconds: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }
}

/// The canonical phases shown to users. Transitions only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Created, nothing sent yet.
    Initialized,
    /// Exchanging keys and signatures; nothing locked.
    Negotiating,
    /// Funds are locked on at least one chain.
    Locked,
    /// Redeeming, cancelling, refunding or punishing.
    Executing,
    /// Terminal: both sides swapped.
    Completed,
    /// Terminal: our funds came back (minus fees).
    Refunded,
    /// Terminal: the swap failed with a loss for one side (punish).
    Failed,
    /// Terminal: aborted before anything was locked.
    Aborted,
}

impl Phase {
    /// Whether the swap is over for this party.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Phase::Completed | Phase::Refunded | Phase::Failed | Phase::Aborted
        )
    }
}

/// The six Bitcoin transactions of a swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TxLabel {
    /// Bob's lock into the 2-of-2.
    Lock,
    /// Alice takes the lock.
    Redeem,
    /// Moves the lock to the cancel 2-of-2 after `cancel_timelock`.
    Cancel,
    /// Bob takes the cancel output.
    Refund,
    /// Alice takes the cancel output after `punish_timelock`.
    Punish,
    /// Alice returns the lock to Bob.
    EarlyRefund,
}

/// A user command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Abort cooperatively; only possible before anything of ours is locked.
    Abort,
    /// Bob: cancel and refund now (only once `cancel_timelock` has passed).
    CancelRefund,
}

/// A secret ed25519 scalar that `Debug` never prints.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretScalar(pub EdScalar);

impl std::fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything a machine can be told.
// Inputs are short-lived values passed by move; boxing the large variants buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A validated message from the counterparty.
    Message(Message),
    /// A watched Bitcoin transaction is in the mempool (`confirmations == 0`) or in the best
    /// chain with that many confirmations. Watchers repeat this on every new block.
    BtcTxSeen {
        /// The transaction, with its witness (secrets are extracted from it).
        tx: Transaction,
        /// 0 in the mempool, otherwise confirmations in the best chain.
        confirmations: u32,
    },
    /// A watched Bitcoin transaction is neither in the mempool nor in the best chain (never
    /// published, dropped, or reorganised away).
    BtcTxAbsent {
        /// Which transaction.
        txid: Txid,
    },
    /// Bob's wallet built the lock PSBT asked for by [`Action::FundLock`].
    LockFunded {
        /// The unsigned PSBT.
        psbt: Psbt,
    },
    /// Bob's wallet could not fund the lock.
    LockFundingFailed {
        /// Why, for the user.
        reason: String,
    },
    /// Alice's XMR transfer to the lock address exists (result of [`Action::LockXmr`]).
    XmrLocked {
        /// Transaction hash.
        tx_hash: [u8; 32],
        /// Transaction secret key.
        tx_key: SecretScalar,
        /// Monero height at which it was made.
        height: u64,
        /// What it paid to the lock address (the terms' amount, unless the wallet erred).
        amount: XmrAmount,
    },
    /// Alice's XMR transfer could not be made.
    XmrLockFailed {
        /// Why, for the user.
        reason: String,
    },
    /// Bob's watcher checked the transfer proof against the lock address, on his own node.
    XmrTransferSeen {
        /// Transaction hash from the proof.
        tx_hash: [u8; 32],
        /// What the transaction paid to the lock address.
        amount: XmrAmount,
        /// Its Monero confirmations.
        confirmations: u32,
        /// The height of the block holding it, as Bob's own node says (`None` in the pool).
        /// Bob restores his sweep wallet from here, never from the height Alice claims.
        block_height: Option<u64>,
        /// The transaction's `unlock_time`. Anything but 0 is refused: a lock that cannot be
        /// spent for a long time is worth nothing to Bob.
        unlock_time: u64,
    },
    /// A sweep of the lock address finished (or found it already empty).
    XmrSwept {
        /// Amount moved to our wallet (zero if it was already swept).
        amount: XmrAmount,
    },
    /// Time passed; the driver calls this at [`SwapState::next_deadline`].
    Tick,
    /// The driver restarted: re-emit every action the current state needs.
    Resume,
    /// A user command.
    Command(Command),
}

/// What the driver must do. All actions are idempotent.
// Actions are short-lived values drained right after `handle`; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a message to the counterparty (retried by the machine until answered).
    Send(Message),
    /// Bob: build an unsigned PSBT paying exactly `amount` to the 2-of-2's P2WSH from the
    /// wallet (report it with [`Input::LockFunded`]).
    FundLock {
        /// Exact lock amount.
        amount: Amount,
        /// The 2-of-2 the lock pays to.
        two_of_two: TwoOfTwo,
    },
    /// Bob: sign the lock PSBT (wallet or external signer) and broadcast it.
    SignAndPublishLock {
        /// The PSBT agreed in setup.
        psbt: Psbt,
    },
    /// Broadcast a fully signed transaction.
    PublishBtc {
        /// Which one.
        label: TxLabel,
        /// The transaction.
        tx: Transaction,
    },
    /// Report [`Input::BtcTxSeen`] / [`Input::BtcTxAbsent`] for this transaction.
    WatchBtc {
        /// Which one.
        label: TxLabel,
        /// Its id.
        txid: Txid,
    },
    /// Alice: pay exactly `amount` to `address` — unless a transfer to it already exists.
    LockXmr {
        /// The lock address.
        address: monero::Address,
        /// Exact amount.
        amount: XmrAmount,
    },
    /// Alice: it is too late to lock XMR, but a transfer may already exist (a crash between
    /// making it and recording it). Report [`Input::XmrLocked`] if a transfer to `address`
    /// was relayed, [`Input::XmrLockFailed`] otherwise. Never pays, and never relays a
    /// transfer that was prepared but not relayed.
    FindXmrLock {
        /// The lock address.
        address: monero::Address,
    },
    /// Bob: check the transfer proof against the lock address and report
    /// [`Input::XmrTransferSeen`], again on every new Monero block.
    WatchXmrTransfer {
        /// The lock address.
        address: monero::Address,
        /// The shared private view key.
        view_key: SecretScalar,
        /// Transaction hash from the proof.
        tx_hash: [u8; 32],
        /// Transaction key from the proof.
        tx_key: SecretScalar,
    },
    /// Sweep the lock address to our wallet once its funds are unlocked, then report
    /// [`Input::XmrSwept`].
    SweepXmr {
        /// The lock address.
        address: monero::Address,
        /// The full spend key `s_a + s_b`.
        spend_key: SecretScalar,
        /// The shared view key.
        view_key: SecretScalar,
        /// Restore the sweeping wallet from this height (taken from our own node or wallet,
        /// never from the counterparty).
        restore_height: u64,
        /// The lock's amount: sweep once at least this much is unlocked, whatever else (dust
        /// that is still locked) the address has received.
        amount: XmrAmount,
    },
    /// Tell the user something.
    Emit(Event),
}

/// Notifications for the user interface and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The machine entered a new state.
    StateChanged {
        /// Whose machine.
        role: Role,
        /// The detailed state's name.
        state: String,
        /// Its canonical phase.
        phase: Phase,
    },
    /// A message or chain fact was refused, with the reason; nothing changed.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// Errors from [`SwapState::handle`]. The state is unchanged whenever one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The message is for another swap.
    #[error("message for swap {got}, this is swap {expected}")]
    WrongSwap {
        /// Our swap.
        expected: SwapId,
        /// The message's.
        got: SwapId,
    },
    /// The counterparty proposed terms other than those agreed.
    #[error("terms differ from the agreed ones: {0}")]
    TermsMismatch(String),
    /// A proposed fee is outside the accepted band.
    #[error("{label:?} fee {fee} is outside {min}..={max} for its weight")]
    FeeOutOfBand {
        /// Which transaction.
        label: TxLabel,
        /// Proposed fee.
        fee: Amount,
        /// Lowest acceptable.
        min: Amount,
        /// Highest acceptable.
        max: Amount,
    },
    /// A transaction could not be built or a signature on one is invalid.
    #[error("{label:?} transaction: {source}")]
    Tx {
        /// Which transaction.
        label: TxLabel,
        /// The failure.
        #[source]
        source: TxError,
    },
    /// A signature, adaptor signature or proof failed.
    #[error("{what}: {source}")]
    Crypto {
        /// What was checked.
        what: &'static str,
        /// The failure.
        #[source]
        source: CryptoError,
    },
    /// A message failed validation.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A user command is not possible in this state.
    #[error("cannot {command:?} now: {reason}")]
    NotAllowed {
        /// The command.
        command: Command,
        /// Why, and what to do instead.
        reason: String,
    },
}

/// The public half of a counterparty's key share, after its DLEQ proof was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedShare {
    /// 2-of-2 key.
    pub btc: SecpPoint,
    /// Spend share on secp256k1 (adaptor encryption key).
    pub spend_secp: SecpPoint,
    /// Spend share on ed25519.
    pub spend_ed: EdPoint,
    /// Private view share.
    pub view_share: SecretScalar,
}

impl VerifiedShare {
    /// Keeps what is needed of a share whose proof has been verified (by the decoder, or by
    /// [`PublicShare::verify`]).
    pub fn from_verified(share: &PublicShare) -> VerifiedShare {
        VerifiedShare {
            btc: share.btc,
            spend_secp: share.spend_secp,
            spend_ed: share.spend_ed,
            view_share: SecretScalar(share.view_share),
        }
    }
}

/// Fees of the five pre-signed transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fees {
    /// Redeem (proposed by Alice).
    pub redeem: Amount,
    /// Punish (proposed by Alice).
    pub punish: Amount,
    /// Cancel (proposed by Bob).
    pub cancel: Amount,
    /// Refund (proposed by Bob).
    pub refund: Amount,
    /// Early refund (proposed by Bob).
    pub early_refund: Amount,
}

/// The transactions of a swap, built identically by both parties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapTxs {
    /// Lock (unsigned PSBT).
    pub lock: TxLock,
    /// Redeem.
    pub redeem: TxRedeem,
    /// Cancel.
    pub cancel: TxCancel,
    /// Refund.
    pub refund: TxRefund,
    /// Punish.
    pub punish: TxPunish,
    /// Early refund.
    pub early_refund: TxEarlyRefund,
}

impl SwapTxs {
    /// The txid of each transaction, in [`TxLabel`] order.
    pub fn txids(&self) -> [(TxLabel, Txid); 6] {
        [
            (TxLabel::Lock, self.lock.txid()),
            (TxLabel::Redeem, self.redeem.txid()),
            (TxLabel::Cancel, self.cancel.txid()),
            (TxLabel::Refund, self.refund.txid()),
            (TxLabel::Punish, self.punish.txid()),
            (TxLabel::EarlyRefund, self.early_refund.txid()),
        ]
    }

    /// Which of our transactions has this txid.
    pub fn label_of(&self, txid: &Txid) -> Option<TxLabel> {
        self.txids()
            .into_iter()
            .find(|(_, id)| id == txid)
            .map(|(label, _)| label)
    }

    /// The output of the pre-signed transaction `label` through which `role` can pay for it
    /// with a child (CPFP), when it waits unconfirmed; `None` when `role` has none (the lock,
    /// the other party's transactions, a cancel stored before anchors existed).
    ///
    /// Redeem and punish pay Alice's own destination, refund and early refund Bob's (vout 0);
    /// cancel pays the 2-of-2, so each party spends its keyed anchor, signed with its 2-of-2
    /// key ([`BumpOutput::keyed`]).
    pub fn bump_output(&self, label: TxLabel, role: Role) -> Option<BumpOutput> {
        let own = |tx: &Transaction, fee: Amount| BumpOutput {
            outpoint: bitcoin::OutPoint {
                txid: tx.compute_txid(),
                vout: 0,
            },
            output: tx.output[0].clone(),
            keyed: false,
            parent_fee: fee,
        };
        match (label, role) {
            (TxLabel::Redeem, Role::Alice) => {
                Some(own(self.redeem.unsigned_tx(), self.redeem.fee()))
            }
            (TxLabel::Punish, Role::Alice) => {
                Some(own(self.punish.unsigned_tx(), self.punish.fee()))
            }
            (TxLabel::Refund, Role::Bob) => Some(own(self.refund.unsigned_tx(), self.refund.fee())),
            (TxLabel::EarlyRefund, Role::Bob) => Some(own(
                self.early_refund.unsigned_tx(),
                self.early_refund.fee(),
            )),
            (TxLabel::Cancel, role) => {
                let (outpoint, output) = self.cancel.anchor(role)?;
                Some(BumpOutput {
                    outpoint,
                    output,
                    keyed: true,
                    parent_fee: self.cancel.fee(),
                })
            }
            _ => None,
        }
    }
}

/// An output through which a party pays for its waiting transaction (see
/// [`SwapTxs::bump_output`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpOutput {
    /// The output spent by the child.
    pub outpoint: bitcoin::OutPoint,
    /// Its value and script.
    pub output: TxOut,
    /// `true` for a keyed anchor (a P2WPKH of the party's 2-of-2 key, which its wallet does
    /// not know); `false` for an output paying the party's wallet.
    pub keyed: bool,
    /// The fee the waiting transaction pays.
    pub parent_fee: Amount,
}

/// Everything both parties agreed, fixed after the lock proposal. Both compute the same value
/// and sign its [`commitment`](Agreement::commitment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// The swap.
    pub swap_id: SwapId,
    /// Amounts and timelocks.
    pub terms: SwapTerms,
    /// Alice's keys.
    pub alice: VerifiedShare,
    /// Bob's keys.
    pub bob: VerifiedShare,
    /// Fees.
    pub fees: Fees,
    /// The transactions.
    pub txs: SwapTxs,
    /// The Monero lock address.
    pub lock_address: monero::Address,
    /// The shared view key `v_a + v_b`.
    pub view_key: SecretScalar,
    /// Hash of all agreed terms; both sign it.
    pub commitment: [u8; 32],
}

/// Destinations of the swap's payouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destinations {
    /// Alice's redeem address.
    pub redeem: ScriptBuf,
    /// Alice's punish address.
    pub punish: ScriptBuf,
    /// Bob's refund address.
    pub refund: ScriptBuf,
}

fn tx_err(label: TxLabel) -> impl Fn(TxError) -> ProtocolError {
    move |source| ProtocolError::Tx { label, source }
}

impl Agreement {
    /// Builds every transaction and the commitment from the agreed parts.
    ///
    /// # Errors
    /// [`ProtocolError::Tx`] when a transaction cannot be built (fees above the value, dust).
    pub fn build(
        swap_id: SwapId,
        terms: SwapTerms,
        alice: VerifiedShare,
        bob: VerifiedShare,
        destinations: &Destinations,
        fees: Fees,
        lock: TxLock,
    ) -> Result<Agreement, ProtocolError> {
        let redeem = TxRedeem::new(&lock, &destinations.redeem, fees.redeem)
            .map_err(tx_err(TxLabel::Redeem))?;
        let cancel = TxCancel::new(&lock, terms.cancel_timelock, fees.cancel)
            .map_err(tx_err(TxLabel::Cancel))?;
        let refund = TxRefund::new(&cancel, &destinations.refund, fees.refund)
            .map_err(tx_err(TxLabel::Refund))?;
        let punish = TxPunish::new(
            &cancel,
            &destinations.punish,
            terms.punish_timelock,
            fees.punish,
        )
        .map_err(tx_err(TxLabel::Punish))?;
        let early_refund = TxEarlyRefund::new(&lock, &destinations.refund, fees.early_refund)
            .map_err(tx_err(TxLabel::EarlyRefund))?;
        let txs = SwapTxs {
            lock,
            redeem,
            cancel,
            refund,
            punish,
            early_refund,
        };
        let view_key = crate::xmr::shared_view_key(&alice.view_share.0, &bob.view_share.0);
        let lock_address =
            crate::xmr::lock_address(terms.network, &alice.spend_ed, &bob.spend_ed, &view_key);
        let commitment = commitment_hash(
            &swap_id,
            &terms,
            [&alice, &bob].map(|s| (s.btc, s.spend_secp, s.spend_ed)),
            &lock_address,
            &txs.txids().map(|(_, txid)| txid),
        );
        Ok(Agreement {
            swap_id,
            terms,
            alice,
            bob,
            fees,
            txs,
            lock_address,
            view_key: SecretScalar(view_key),
            commitment,
        })
    }

    /// The 2-of-2 of the lock and cancel outputs.
    pub fn two_of_two(&self) -> &TwoOfTwo {
        self.txs.lock.two_of_two()
    }

    /// Every transaction to watch.
    pub fn watch_actions(&self) -> Vec<Action> {
        self.txs
            .txids()
            .into_iter()
            .map(|(label, txid)| Action::WatchBtc { label, txid })
            .collect()
    }
}

/// The commitment both parties sign: SHA-256 over a domain tag, the swap id, the terms (with
/// the direction, so neither side can later claim the other was the taker), both
/// parties' public keys (2-of-2 key, spend share on secp256k1 and on ed25519; Alice's first),
/// the Monero lock address and the six txids in [`TxLabel`] order.
///
/// Anyone holding these public values can recompute it, so a receipt lets a third party check
/// both signatures on it.
pub fn commitment_hash(
    swap_id: &SwapId,
    terms: &SwapTerms,
    keys: [(SecpPoint, SecpPoint, EdPoint); 2],
    lock_address: &monero::Address,
    txids: &[Txid; 6],
) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"confiaro/commitment/v2");
    hash.update(swap_id.0);
    hash.update([terms.network.code(), terms.direction.code()]);
    hash.update(terms.btc_amount.to_sat().to_be_bytes());
    hash.update(terms.xmr_amount.as_piconero().to_be_bytes());
    hash.update(terms.cancel_timelock.to_be_bytes());
    hash.update(terms.punish_timelock.to_be_bytes());
    for (btc, spend_secp, spend_ed) in keys {
        hash.update(btc.to_bytes());
        hash.update(spend_secp.to_bytes());
        hash.update(spend_ed.to_bytes());
    }
    hash.update(lock_address.as_bytes());
    for txid in txids {
        hash.update(AsRef::<[u8]>::as_ref(txid));
    }
    hash.finalize().into()
}

/// Builds the 2-of-2 of Alice's and Bob's keys.
///
/// # Errors
/// [`ProtocolError::Tx`] if the keys are equal.
pub fn two_of_two(alice: &SecpPoint, bob: &SecpPoint) -> Result<TwoOfTwo, ProtocolError> {
    TwoOfTwo::new(crypto::to_bitcoin_key(alice), crypto::to_bitcoin_key(bob))
        .map_err(tx_err(TxLabel::Lock))
}

/// Checks that a proposed absolute fee pays a rate inside `band` for `weight`.
///
/// # Errors
/// [`ProtocolError::FeeOutOfBand`] otherwise.
pub fn check_fee(
    label: TxLabel,
    fee: Amount,
    weight: Weight,
    band: &FeeBand,
) -> Result<(), ProtocolError> {
    let min = fee_for_weight(band.min_sat_per_vb, weight);
    let max = fee_for_weight(band.max_sat_per_vb, weight);
    if fee < min || fee > max {
        return Err(ProtocolError::FeeOutOfBand {
            label,
            fee,
            min,
            max,
        });
    }
    Ok(())
}

/// The latest chain facts a machine has been told about its transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainView {
    /// Confirmations per transaction: `Some(0)` in mempool, `None` unseen or absent.
    pub seen: std::collections::BTreeMap<TxLabel, u32>,
}

impl ChainView {
    /// Records that `txid` is no longer in the mempool or the best chain, if it is one of
    /// the agreement's transactions.
    pub(crate) fn forget(&mut self, agreement: Option<&Agreement>, txid: &Txid) {
        if let Some(label) = agreement.and_then(|a| a.txs.label_of(txid)) {
            self.seen.remove(&label);
        }
    }

    /// Confirmations of `label`, if seen.
    pub fn confirmations(&self, label: TxLabel) -> Option<u32> {
        self.seen.get(&label).copied()
    }

    /// Whether `label` has at least `n` confirmations (`n == 0`: seen at all).
    pub fn has(&self, label: TxLabel, n: u32) -> bool {
        self.confirmations(label).is_some_and(|c| c >= n)
    }
}

/// A swap's state: one of the two role machines.
///
/// This is the stored type: it serializes with serde, and its `version` field lets later
/// releases read states written by this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SwapState {
    /// Alice's machine.
    Alice(Box<Alice>),
    /// Bob's machine.
    Bob(Box<Bob>),
}

impl SwapState {
    /// Feeds one input. On success returns the new state and the actions to perform *after*
    /// persisting it; on error `self` is unchanged.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the input is invalid for this swap (bad signature, wrong
    /// terms, fee out of band, a command not possible now).
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<Vec<Action>, ProtocolError> {
        match self {
            SwapState::Alice(alice) => {
                let mut next = alice.clone();
                let actions = next.handle(now, input)?;
                *alice = next;
                Ok(actions)
            }
            SwapState::Bob(bob) => {
                let mut next = bob.clone();
                let actions = next.handle(now, input)?;
                *bob = next;
                Ok(actions)
            }
        }
    }

    /// When the driver must send [`Input::Tick`] next, if ever.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        match self {
            SwapState::Alice(a) => a.next_deadline(),
            SwapState::Bob(b) => b.next_deadline(),
        }
    }

    /// The canonical phase.
    pub fn phase(&self) -> Phase {
        match self {
            SwapState::Alice(a) => a.phase(),
            SwapState::Bob(b) => b.phase(),
        }
    }

    /// The detailed state's name.
    pub fn state_name(&self) -> &'static str {
        match self {
            SwapState::Alice(a) => a.stage_name(),
            SwapState::Bob(b) => b.stage_name(),
        }
    }

    /// The swap id.
    pub fn swap_id(&self) -> SwapId {
        match self {
            SwapState::Alice(a) => a.swap_id,
            SwapState::Bob(b) => b.swap_id,
        }
    }

    /// Whose machine this is.
    pub fn role(&self) -> Role {
        match self {
            SwapState::Alice(_) => Role::Alice,
            SwapState::Bob(_) => Role::Bob,
        }
    }

    /// Our own secrets of this swap (keys of the 2-of-2, Monero shares).
    pub fn secrets(&self) -> &crate::keys::SwapSecrets {
        match self {
            SwapState::Alice(a) => &a.secrets,
            SwapState::Bob(b) => &b.secrets,
        }
    }

    /// The terms of the swap (fixed when the machine was created).
    pub fn terms(&self) -> &SwapTerms {
        match self {
            SwapState::Alice(a) => &a.terms,
            SwapState::Bob(b) => &b.terms,
        }
    }

    /// The agreement, once setup has fixed it.
    pub fn agreement(&self) -> Option<&Agreement> {
        match self {
            SwapState::Alice(a) => a.agreement.as_deref(),
            SwapState::Bob(b) => b.agreement.as_deref(),
        }
    }
}

/// Current version of the stored machine types.
pub const STATE_VERSION: u32 = 1;

/// The longest pause between two retransmissions of an unanswered message.
pub const MAX_RESEND_SECONDS: u64 = 300;

/// Retransmission schedule of the message a machine is waiting on an answer to: the first
/// resend after `Params::resend_seconds`, then doubling up to [`MAX_RESEND_SECONDS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resend {
    /// When the message is due again (`None`: nothing to resend).
    pub at: Option<Timestamp>,
    /// The current pause in seconds.
    pub interval: u64,
}

impl Resend {
    /// Starts the schedule for a newly sent message (or clears it when there is none).
    pub(crate) fn start(&mut self, now: Timestamp, base_seconds: u32, sending: bool) {
        self.interval = u64::from(base_seconds);
        self.at = sending.then(|| now.plus(self.interval));
    }

    /// Whether the message is due at `now`; if so, schedules the next resend with backoff.
    pub(crate) fn due(&mut self, now: Timestamp) -> bool {
        if self.at.is_some_and(|at| now >= at) {
            self.interval = (self.interval * 2).clamp(1, MAX_RESEND_SECONDS);
            self.at = Some(now.plus(self.interval));
            true
        } else {
            false
        }
    }
}

/// Learns the counterparty's spend share from a published redeem or refund: the transaction
/// carries our own signature, decrypted by the counterparty from `encrypted` (our adaptor
/// signature, encrypted to `encryption_key`); comparing the two reveals the decryption secret.
///
/// # Errors
/// [`ProtocolError::Tx`] for a malformed witness, [`ProtocolError::Crypto`] when the
/// signature is not the decryption of `encrypted`.
pub(crate) fn reveal_spend_share(
    tx: &Transaction,
    agreement: &Agreement,
    own_key: &SecpPoint,
    encryption_key: &SecpPoint,
    encrypted: &crypto::EncryptedSignature,
    label: TxLabel,
) -> Result<SecretScalar, ProtocolError> {
    let what = match label {
        TxLabel::Redeem => "secret from redeem",
        _ => "secret from refund",
    };
    let own_key = crypto::to_bitcoin_key(own_key);
    let signature = crate::btc::signature_from_witness(tx, agreement.two_of_two(), &own_key)
        .map_err(|source| ProtocolError::Tx { label, source })?;
    let secret = crypto::recover_decryption_key(encryption_key, &signature, encrypted)
        .map_err(crypto_err(what))?;
    let spend = crypto::secp_scalar_to_ed(&secret).map_err(crypto_err(what))?;
    Ok(SecretScalar(spend))
}

/// What a machine in a terminal state answers to any input: commands are refused, everything
/// else is ignored.
pub(crate) fn after_the_end(input: &Input) -> Result<Vec<Action>, ProtocolError> {
    match input {
        Input::Command(command) => Err(ProtocolError::NotAllowed {
            command: *command,
            reason: "the swap is over".into(),
        }),
        _ => Ok(Vec::new()),
    }
}

/// The `StateChanged` event.
pub(crate) fn state_event(role: Role, state: &str, phase: Phase) -> Action {
    Action::Emit(Event::StateChanged {
        role,
        state: state.to_owned(),
        phase,
    })
}

pub(crate) fn crypto_err(what: &'static str) -> impl Fn(CryptoError) -> ProtocolError {
    move |source| ProtocolError::Crypto { what, source }
}

pub(crate) fn check_swap(expected: SwapId, got: SwapId) -> Result<(), ProtocolError> {
    if expected == got {
        Ok(())
    } else {
        Err(ProtocolError::WrongSwap { expected, got })
    }
}

/// Params of a swap: the network's for its direction, with the agreed timelocks.
pub(crate) fn swap_params(terms: &SwapTerms) -> Params {
    let mut params = terms.params();
    params.cancel_timelock = terms.cancel_timelock;
    params.punish_timelock = terms.punish_timelock;
    params
}
