//! Alice's machine: she sells XMR for BTC.
//!
//! Alice answers Bob's setup, signs cancel and gives Bob her adaptor signature on refund,
//! waits for Bob's BTC lock to be final, locks XMR, and redeems the BTC with Bob's adaptor
//! signature (which reveals `s_a` to Bob). If Bob's signature never comes she cancels; Bob's
//! refund then reveals `s_b` and she sweeps her XMR back; if Bob stays silent past the punish
//! timelock she punishes. If she cannot lock XMR she returns Bob's BTC with the early refund.

use crate::btc::{self, TxLock};
use crate::crypto;
use crate::keys::{PublicShare, SwapSecrets};
use crate::machine::{
    after_the_end, check_fee, check_swap, crypto_err, reveal_spend_share, state_event, swap_params,
    two_of_two, Action, Agreement, ChainView, Command, Destinations, Fees, Input, Phase,
    ProtocolError, Resend, SecretScalar, Timestamp, TxLabel, VerifiedShare, STATE_VERSION,
};
use crate::messages::{self, Message, SwapTerms};
use crate::network::Params;
use crate::{Role, SwapId};
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::{ScriptBuf, Transaction};
use serde::{Deserialize, Serialize};

/// Alice's detailed states. Names are past-tense facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AliceStage {
    /// Created; waiting for Bob's setup.
    Initialized,
    /// Setup answered; waiting for the lock proposal.
    SetupAnswered,
    /// Our signatures sent; waiting for Bob's.
    SignaturesSent,
    /// All signatures exchanged; waiting for the BTC lock to be final.
    SignaturesReceived,
    /// Deciding to lock XMR; the transfer is being made.
    XmrLockPending,
    /// XMR locked; transfer proof sent; waiting for Bob's redeem signature.
    XmrLocked,
    /// Redeem published.
    BtcRedeemPublished,
    /// Terminal: the BTC is ours.
    BtcRedeemed,
    /// Cancel published (or seen): waiting for Bob's refund or the punish timelock.
    BtcCancelled,
    /// Bob refunded, revealing `s_b`: sweeping the XMR back.
    BtcRefunded,
    /// Terminal: our XMR is back (or was never locked).
    XmrRefunded,
    /// Punish published.
    BtcPunishPublished,
    /// Terminal: Bob stayed away past the punish timelock; his BTC is ours.
    BtcPunished,
    /// Early refund published (we did not lock XMR).
    BtcEarlyRefundPublished,
    /// Terminal: Bob's BTC went back to him early.
    BtcEarlyRefunded,
    /// We asked to abort; watching whether Bob's lock appears anyway.
    AbortSent,
    /// Terminal: aborted; nothing of ours was ever locked.
    Aborted,
}

impl AliceStage {
    /// The canonical phase of this state.
    pub fn phase(self) -> Phase {
        use AliceStage::*;
        match self {
            Initialized => Phase::Initialized,
            SetupAnswered | SignaturesSent | SignaturesReceived | AbortSent => Phase::Negotiating,
            XmrLockPending | XmrLocked => Phase::Locked,
            BtcRedeemPublished
            | BtcCancelled
            | BtcRefunded
            | BtcPunishPublished
            | BtcEarlyRefundPublished => Phase::Executing,
            BtcRedeemed => Phase::Completed,
            XmrRefunded | BtcEarlyRefunded => Phase::Refunded,
            BtcPunished => Phase::Failed,
            Aborted => Phase::Aborted,
        }
    }

    /// Before Alice commits XMR (an abort is still possible).
    fn before_xmr_lock(self) -> bool {
        use AliceStage::*;
        matches!(
            self,
            Initialized | SetupAnswered | SignaturesSent | SignaturesReceived | AbortSent
        )
    }
}

/// Bob's verified signatures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BobSigs {
    /// On cancel.
    pub cancel: Signature,
    /// On punish.
    pub punish: Signature,
    /// On early refund.
    pub early_refund: Signature,
    /// On the commitment.
    pub commitment: Signature,
}

/// Alice's XMR lock, once made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XmrLock {
    /// Transaction hash.
    pub tx_hash: [u8; 32],
    /// Transaction key.
    pub tx_key: SecretScalar,
    /// Monero height it was made at.
    pub height: u64,
    /// What it paid to the lock address (`None` in states stored before this was kept).
    #[serde(default)]
    pub amount: Option<crate::XmrAmount>,
}

/// Alice's machine. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alice {
    /// Stored-format version.
    pub version: u32,
    /// The swap.
    pub swap_id: SwapId,
    /// The terms Alice quoted; Bob's setup must match them exactly.
    pub terms: SwapTerms,
    /// Network parameters with the agreed timelocks.
    pub params: Params,
    /// Alice's secrets for this swap.
    pub secrets: SwapSecrets,
    /// Where redeem pays.
    pub redeem_address: ScriptBuf,
    /// Where punish pays.
    pub punish_address: ScriptBuf,
    /// Fee rate Alice proposes for her transactions (sat/vB).
    pub fee_rate: u64,
    /// If Bob's lock is not seen by then, Alice aborts.
    pub setup_deadline: Timestamp,
    /// After an abort, how long Alice watches for Bob's lock.
    pub abort_watch_until: Option<Timestamp>,
    /// Retransmission schedule of the pending message.
    pub resend: Resend,
    /// The message we wait on an answer to, built once on entering the state (it holds
    /// signatures, which are costly to make again on every resend).
    #[serde(default)]
    pub outbox: Option<Message>,
    /// The detailed state.
    pub stage: AliceStage,
    /// Alice's own share, kept until setup finishes.
    pub own_share: Option<PublicShare>,
    /// Bob's verified share and refund address.
    pub bob: Option<(VerifiedShare, ScriptBuf)>,
    /// Everything agreed.
    pub agreement: Option<Box<Agreement>>,
    /// Bob's signatures.
    pub bob_sigs: Option<BobSigs>,
    /// Alice's XMR lock.
    pub xmr_lock: Option<XmrLock>,
    /// Whether the XMR lock was attempted and failed.
    pub xmr_lock_failed: bool,
    /// Bob's redeem adaptor signature, once received and verified.
    pub redeem_encrypted: Option<crypto::EncryptedSignature>,
    /// `s_b`, once Bob's refund revealed it.
    pub bob_spend: Option<SecretScalar>,
    /// Chain facts.
    pub chain: ChainView,
    /// Whether the lock's depth in `chain` was reported since the last [`Input::Resume`]. A
    /// depth persisted before a crash is only a lower bound; Alice never locks XMR or
    /// redeems on it (findings 2 and 4 of docs/2026-12-06-malicious-counterparty.md).
    #[serde(default)]
    pub lock_depth_fresh: bool,
    /// When Bob's lock was first seen unconfirmed; it must confirm within
    /// [`Params::lock_confirmation_seconds`] or Alice walks away (finding 3).
    #[serde(default)]
    pub lock_seen_at: Option<Timestamp>,
    /// When Alice first saw Bob's lock confirmed. A lock she sees confirmed later than
    /// [`Params::lock_confirmation_seconds`] after she first saw it is never answered with
    /// XMR (she was offline, or Bob held it back: she cannot tell which).
    #[serde(default)]
    pub lock_confirmed_seen_at: Option<Timestamp>,
    /// Whether the pending [`Action::LockXmr`] / [`Action::FindXmrLock`] was asked for since
    /// the last resume.
    #[serde(default)]
    pub xmr_lock_asked: bool,
    /// As a taker selling XMR: the request that asks the maker to open as Bob, sent (and
    /// resent) until Bob's setup arrives.
    #[serde(default)]
    pub setup_request: Option<messages::SetupRequest>,
}

impl Alice {
    /// Creates Alice's machine for a swap she quoted. Feed Bob's setup message next.
    ///
    /// `now` starts the setup timeout; `fee_rate` (sat/vB) prices redeem and punish. The
    /// seed-derived `secrets` must be for [`Role::Alice`], and `own_share` must be
    /// `secrets.public_share()` (computed by the caller: its DLEQ proof takes about 0.1 s).
    ///
    /// # Panics
    /// If `own_share` does not belong to `secrets` (a caller bug).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        swap_id: SwapId,
        terms: SwapTerms,
        secrets: SwapSecrets,
        own_share: PublicShare,
        redeem_address: ScriptBuf,
        punish_address: ScriptBuf,
        fee_rate: u64,
        now: Timestamp,
    ) -> Alice {
        assert!(
            own_share.btc == crypto::secp_public(&secrets.btc) && secrets.role == Role::Alice,
            "own_share must be computed from Alice's secrets"
        );
        let params = swap_params(&terms);
        Alice {
            version: STATE_VERSION,
            swap_id,
            terms,
            params,
            secrets,
            redeem_address,
            punish_address,
            fee_rate,
            setup_deadline: now.plus(u64::from(params.setup_timeout_seconds)),
            abort_watch_until: None,
            resend: Resend::default(),
            outbox: None,
            stage: AliceStage::Initialized,
            own_share: Some(own_share),
            bob: None,
            agreement: None,
            bob_sigs: None,
            xmr_lock: None,
            xmr_lock_failed: false,
            redeem_encrypted: None,
            bob_spend: None,
            chain: ChainView::default(),
            lock_depth_fresh: false,
            lock_seen_at: None,
            lock_confirmed_seen_at: None,
            xmr_lock_asked: false,
            setup_request: None,
        }
    }

    /// Makes this Alice a taker selling XMR: until Bob's setup arrives she sends `request`
    /// (feed [`Input::Resume`] first to send it). Her terms must be the request's.
    ///
    /// # Panics
    /// If the request is for another swap or other terms (a caller bug).
    pub fn requesting_setup(mut self, request: messages::SetupRequest) -> Alice {
        assert!(
            request.swap_id == self.swap_id
                && request.terms == self.terms
                && self.terms.direction == crate::Direction::SellXmr,
            "a setup request is for Alice's own swap and terms, selling XMR"
        );
        self.setup_request = Some(request);
        self
    }

    /// The canonical phase.
    pub fn phase(&self) -> Phase {
        self.stage.phase()
    }

    /// The detailed state's name.
    pub fn stage_name(&self) -> &'static str {
        stage_name(self.stage)
    }

    /// When to tick next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if self.stage.phase().is_terminal() {
            return None;
        }
        let timeout = match self.stage {
            AliceStage::Initialized
            | AliceStage::SetupAnswered
            | AliceStage::SignaturesSent
            | AliceStage::SignaturesReceived
                if !self.chain.has(TxLabel::Lock, 0) =>
            {
                Some(self.setup_deadline)
            }
            AliceStage::SignaturesSent | AliceStage::SignaturesReceived => {
                self.lock_confirmation_deadline()
            }
            AliceStage::AbortSent => self.abort_watch_until,
            _ => None,
        };
        match (self.resend.at, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn agreement(&self) -> &Agreement {
        self.agreement
            .as_deref()
            .expect("agreement is set in every stage after SetupAnswered")
    }

    /// While Bob's lock is seen but unconfirmed: when Alice stops waiting for it.
    fn lock_confirmation_deadline(&self) -> Option<Timestamp> {
        let unconfirmed = self
            .chain
            .confirmations(TxLabel::Lock)
            .is_none_or(|c| c == 0);
        self.lock_seen_at
            .filter(|_| unconfirmed)
            .map(|seen| seen.plus(self.params.lock_confirmation_seconds()))
    }

    /// The lock's depth, if reported since the last resume.
    fn fresh_lock_depth(&self) -> Option<u32> {
        self.lock_depth_fresh
            .then(|| self.chain.confirmations(TxLabel::Lock))
            .flatten()
    }

    /// Whether Bob's lock took longer to confirm, as Alice saw it, than she waits.
    fn lock_confirmed_late(&self) -> bool {
        match (self.lock_seen_at, self.lock_confirmed_seen_at) {
            (Some(seen), Some(confirmed)) => {
                confirmed.0.saturating_sub(seen.0) > self.params.lock_confirmation_seconds()
            }
            _ => false,
        }
    }

    /// Whether Alice may still lock XMR now: the lock is final, confirmed in time, not too
    /// deep (by a depth reported since the last resume), and Bob has neither cancelled nor
    /// refunded.
    fn may_lock_xmr(&self) -> bool {
        self.fresh_lock_depth().is_some_and(|depth| {
            depth >= self.params.btc_finality && depth <= self.params.last_xmr_lock_depth()
        }) && !self.chain.has(TxLabel::Cancel, 0)
            && self.bob_spend.is_none()
            && !self.lock_confirmed_late()
    }

    /// Whether Alice may publish her redeem now: by a fresh depth, with
    /// [`Params::last_redeem_depth`]'s margin before Bob can cancel — or it is public already.
    fn may_redeem(&self) -> bool {
        if self.chain.has(TxLabel::Redeem, 0) {
            // already public: `s_a` is out, publishing again changes nothing
            return true;
        }
        self.fresh_lock_depth()
            .is_some_and(|depth| depth <= self.params.last_redeem_depth())
            && !self.chain.has(TxLabel::Cancel, 0)
    }

    /// Handles one input; see [`crate::SwapState::handle`].
    pub(crate) fn handle(
        &mut self,
        now: Timestamp,
        input: Input,
    ) -> Result<Vec<Action>, ProtocolError> {
        if self.stage.phase().is_terminal() {
            return after_the_end(&input);
        }
        match input {
            Input::Tick => {
                let lock_seen = self.chain.has(TxLabel::Lock, 0);
                let waiting_for_lock = matches!(
                    self.stage,
                    AliceStage::Initialized
                        | AliceStage::SetupAnswered
                        | AliceStage::SignaturesSent
                        | AliceStage::SignaturesReceived
                );
                if waiting_for_lock && now >= self.setup_deadline && !lock_seen {
                    return Ok(self.send_abort(now));
                }
                if matches!(
                    self.stage,
                    AliceStage::SignaturesSent | AliceStage::SignaturesReceived
                ) && self.lock_confirmation_deadline().is_some_and(|t| now >= t)
                {
                    // Bob's lock sat unconfirmed too long: a free option on the price for him.
                    // Walk away; if it confirms later it is returned early, never answered
                    // with XMR.
                    return Ok(self.send_abort(now));
                }
                if self.stage == AliceStage::AbortSent
                    && self.abort_watch_until.is_some_and(|t| now >= t)
                {
                    return Ok(self.enter(AliceStage::Aborted, now));
                }
                if self.resend.due(now) {
                    return Ok(self.pending_message());
                }
                Ok(Vec::new())
            }
            Input::Resume => {
                self.lock_depth_fresh = false;
                self.xmr_lock_asked = false;
                Ok(self.pending_actions(now))
            }
            Input::Message(message) => self.handle_message(now, message),
            Input::BtcTxSeen { tx, confirmations } => self.handle_btc(now, tx, confirmations),
            Input::BtcTxAbsent { txid } => {
                self.chain.forget(self.agreement.as_deref(), &txid);
                if self
                    .agreement
                    .as_deref()
                    .is_some_and(|a| a.txs.lock.txid() == txid)
                {
                    self.lock_depth_fresh = false;
                }
                Ok(Vec::new())
            }
            Input::XmrLocked {
                tx_hash,
                tx_key,
                height,
                amount,
            } => {
                if self.stage != AliceStage::XmrLockPending {
                    return Ok(Vec::new());
                }
                self.xmr_lock = Some(XmrLock {
                    tx_hash,
                    tx_key,
                    height,
                    amount: Some(amount),
                });
                if self.bob_spend.is_some() {
                    // Bob refunded while the transfer was being made: sweep it back now
                    return Ok(self.enter(AliceStage::BtcRefunded, now));
                }
                if self.chain.has(TxLabel::Cancel, 0) {
                    return Ok(self.enter(AliceStage::BtcCancelled, now));
                }
                Ok(self.enter(AliceStage::XmrLocked, now))
            }
            Input::XmrLockFailed { .. } => {
                if self.stage != AliceStage::XmrLockPending {
                    return Ok(Vec::new());
                }
                self.xmr_lock_failed = true;
                if self.bob_spend.is_some() {
                    // Bob refunded and nothing of ours was locked: the swap is over
                    return Ok(self.enter(AliceStage::XmrRefunded, now));
                }
                if self.chain.has(TxLabel::Cancel, 0) {
                    return Ok(self.enter(AliceStage::BtcCancelled, now));
                }
                Ok(self.enter(AliceStage::BtcEarlyRefundPublished, now))
            }
            Input::XmrSwept { .. } => {
                if self.stage == AliceStage::BtcRefunded {
                    return Ok(self.enter(AliceStage::XmrRefunded, now));
                }
                Ok(Vec::new())
            }
            Input::Command(Command::Abort) => {
                if !self.stage.before_xmr_lock() {
                    return Err(ProtocolError::NotAllowed {
                        command: Command::Abort,
                        reason:
                            "our XMR is already locked; the swap finishes or refunds on its own"
                                .into(),
                    });
                }
                if self.chain.has(TxLabel::Lock, 0) && self.bob_sigs.is_some() {
                    return Ok(self.enter(AliceStage::BtcEarlyRefundPublished, now));
                }
                Ok(self.send_abort(now))
            }
            Input::Command(command @ Command::CancelRefund) => Err(ProtocolError::NotAllowed {
                command,
                reason: "only Bob cancels and refunds; Alice cancels on her own when needed".into(),
            }),
            Input::LockFunded { .. }
            | Input::LockFundingFailed { .. }
            | Input::XmrTransferSeen { .. } => Ok(Vec::new()),
        }
    }

    fn handle_message(
        &mut self,
        now: Timestamp,
        message: Message,
    ) -> Result<Vec<Action>, ProtocolError> {
        check_swap(self.swap_id, message.swap_id())?;
        match message {
            Message::SetupBob(m) if self.stage == AliceStage::Initialized => {
                if m.terms != self.terms {
                    return Err(ProtocolError::TermsMismatch(format!(
                        "Bob proposed {:?}, the quote was {:?}",
                        m.terms, self.terms
                    )));
                }
                let share = self.own_share.as_ref().expect("kept during setup");
                let bob = VerifiedShare::from_verified(&m.share);
                if bob.btc == share.btc || bob.spend_ed == share.spend_ed {
                    return Err(ProtocolError::TermsMismatch(
                        "Bob reused Alice's keys".into(),
                    ));
                }
                self.bob = Some((bob, m.refund_address));
                self.setup_request = None;
                Ok(self.enter(AliceStage::SetupAnswered, now))
            }
            Message::LockProposal(m) if self.stage == AliceStage::SetupAnswered => {
                let (bob, refund_address) = self.bob.clone().expect("set in SetupAnswered");
                let own = VerifiedShare::from_verified(
                    self.own_share.as_ref().expect("kept during setup"),
                );
                let band = &self.params.fee_band;
                check_fee(
                    TxLabel::Cancel,
                    m.cancel_fee,
                    btc::TxCancel::max_weight(),
                    band,
                )?;
                let cancel_cap = self.terms.max_cancel_fee();
                if m.cancel_fee > cancel_cap {
                    return Err(ProtocolError::FeeOutOfBand {
                        label: TxLabel::Cancel,
                        fee: m.cancel_fee,
                        min: bitcoin::Amount::ZERO,
                        max: cancel_cap,
                    });
                }
                check_fee(
                    TxLabel::Refund,
                    m.refund_fee,
                    btc::TxRefund::max_weight(&refund_address),
                    band,
                )?;
                check_fee(
                    TxLabel::EarlyRefund,
                    m.early_refund_fee,
                    btc::TxEarlyRefund::max_weight(&refund_address),
                    band,
                )?;
                let psbt = messages::parse_psbt(&m.lock_psbt)?;
                let lock =
                    TxLock::from_psbt(psbt, self.terms.btc_amount, two_of_two(&own.btc, &bob.btc)?)
                        .map_err(|source| ProtocolError::Tx {
                            label: TxLabel::Lock,
                            source,
                        })?;
                // a lock far below the market's rate is a free option for Bob (finding 3)
                let floor_rate = (self.fee_rate * crate::network::LOCK_FEE_RATE_FLOOR_PERCENT
                    / 100)
                    .max(band.min_sat_per_vb);
                let floor = btc::fee_for_weight(floor_rate, lock.estimated_weight());
                if lock.fee() < floor {
                    return Err(ProtocolError::FeeOutOfBand {
                        label: TxLabel::Lock,
                        fee: lock.fee(),
                        min: floor,
                        max: bitcoin::Amount::MAX_MONEY,
                    });
                }
                let fees = Fees {
                    redeem: btc::fee_for_weight(
                        self.fee_rate,
                        btc::TxRedeem::max_weight(&self.redeem_address),
                    ),
                    punish: btc::fee_for_weight(
                        self.fee_rate,
                        btc::TxPunish::max_weight(&self.punish_address),
                    ),
                    cancel: m.cancel_fee,
                    refund: m.refund_fee,
                    early_refund: m.early_refund_fee,
                };
                let destinations = Destinations {
                    redeem: self.redeem_address.clone(),
                    punish: self.punish_address.clone(),
                    refund: refund_address,
                };
                let agreement = Agreement::build(
                    self.swap_id,
                    self.terms,
                    own,
                    bob,
                    &destinations,
                    fees,
                    lock,
                )?;
                self.agreement = Some(Box::new(agreement));
                Ok(self.enter(AliceStage::SignaturesSent, now))
            }
            Message::BobSignatures(m) if self.stage == AliceStage::SignaturesSent => {
                let agreement = self.agreement();
                let bob_key = crypto::to_bitcoin_key(&agreement.bob.btc);
                let txs = &agreement.txs;
                let tx_check = |label, result: Result<(), btc::TxError>| {
                    result.map_err(|source| ProtocolError::Tx { label, source })
                };
                tx_check(
                    TxLabel::Cancel,
                    txs.cancel.verify_signature(&bob_key, &m.cancel),
                )?;
                tx_check(
                    TxLabel::Punish,
                    txs.punish.verify_signature(&bob_key, &m.punish),
                )?;
                tx_check(
                    TxLabel::EarlyRefund,
                    txs.early_refund.verify_signature(&bob_key, &m.early_refund),
                )?;
                crypto::verify(&agreement.bob.btc, &agreement.commitment, &m.commitment)
                    .map_err(crypto_err("commitment signature"))?;
                self.bob_sigs = Some(BobSigs {
                    cancel: m.cancel,
                    punish: m.punish,
                    early_refund: m.early_refund,
                    commitment: m.commitment,
                });
                self.own_share = None;
                let actions = self.enter(AliceStage::SignaturesReceived, now);
                Ok(self.then_lock_update(now, actions))
            }
            Message::RedeemEncryptedSignature(m) if self.stage == AliceStage::XmrLocked => {
                let agreement = self.agreement();
                crypto::verify_encrypted_signature(
                    &agreement.bob.btc,
                    &agreement.alice.spend_secp,
                    &agreement.txs.redeem.sighash(),
                    &m.redeem_encrypted,
                )
                .map_err(crypto_err("redeem adaptor signature"))?;
                self.redeem_encrypted = Some(m.redeem_encrypted);
                if self.may_redeem() {
                    return Ok(self.enter(AliceStage::BtcRedeemPublished, now));
                }
                // too close to cancel, or the depth is not known since a restart: a redeem
                // now could lose the race with Bob's cancel after revealing `s_a`. If a fresh
                // depth allows it, the next lock report redeems; otherwise we cancel.
                Ok(Vec::new())
            }
            Message::Abort(m) => {
                let Some((bob, _)) = self.bob.as_ref() else {
                    return Ok(Vec::new());
                };
                messages::verify_abort(&m, &bob.btc).map_err(crypto_err("abort signature"))?;
                if self.stage.before_xmr_lock() {
                    // Bob promises never to publish his lock; if it shows up anyway, he
                    // cancels and refunds it himself.
                    return Ok(self.enter(AliceStage::Aborted, now));
                }
                Ok(Vec::new())
            }
            // A duplicate or late message: the peer may have missed our answer.
            _ => Ok(self.pending_message()),
        }
    }

    fn send_abort(&mut self, now: Timestamp) -> Vec<Action> {
        self.abort_watch_until = Some(now.plus(
            2 * u64::from(self.params.cancel_timelock) * u64::from(self.params.btc_block_seconds),
        ));
        if self.bob.is_none() {
            return self.enter(AliceStage::Aborted, now);
        }
        let mut actions = vec![Action::Send(Message::Abort(messages::sign_abort(
            self.swap_id,
            &self.secrets.btc,
        )))];
        actions.extend(self.enter(AliceStage::AbortSent, now));
        actions
    }

    fn handle_btc(
        &mut self,
        now: Timestamp,
        tx: Transaction,
        confirmations: u32,
    ) -> Result<Vec<Action>, ProtocolError> {
        let Some(agreement) = self.agreement.as_deref() else {
            return Ok(Vec::new());
        };
        let Some(label) = agreement.txs.label_of(&tx.compute_txid()) else {
            return Ok(Vec::new());
        };
        self.chain.seen.insert(label, confirmations);
        if label == TxLabel::Lock {
            self.lock_depth_fresh = true;
            if self.lock_seen_at.is_none() && self.stage.before_xmr_lock() {
                self.lock_seen_at = Some(now);
            }
            if confirmations > 0 && self.lock_confirmed_seen_at.is_none() {
                self.lock_confirmed_seen_at = Some(now);
            }
        }
        let settled = confirmations >= self.params.settle_confirmations;
        use AliceStage::*;
        match label {
            TxLabel::Lock => Ok(self.then_lock_update(now, Vec::new())),
            TxLabel::Redeem if settled => Ok(self.enter(BtcRedeemed, now)),
            TxLabel::EarlyRefund if settled => Ok(self.enter(BtcEarlyRefunded, now)),
            TxLabel::Punish if settled => Ok(self.enter(BtcPunished, now)),
            TxLabel::Refund if self.bob_spend.is_none() => {
                // the refund carries Alice's own signature, decrypted by Bob with `s_b`
                let encrypted = self.refund_encrypted_signature();
                self.bob_spend = Some(reveal_spend_share(
                    &tx,
                    agreement,
                    &agreement.alice.btc,
                    &agreement.bob.spend_secp,
                    &encrypted,
                    TxLabel::Refund,
                )?);
                if self.stage == XmrLockPending {
                    // finish learning whether our transfer exists before deciding
                    return Ok(Vec::new());
                }
                if self.xmr_lock.is_some() {
                    Ok(self.enter(BtcRefunded, now))
                } else {
                    Ok(self.enter(XmrRefunded, now))
                }
            }
            TxLabel::Cancel => {
                if matches!(
                    self.stage,
                    XmrLockPending | BtcCancelled | BtcRefunded | BtcPunishPublished
                ) {
                    return Ok(self.then_cancel_update(now, Vec::new()));
                }
                if self.bob_sigs.is_none() && self.xmr_lock.is_none() {
                    // nothing of ours is at stake, and we could not punish without Bob's signature
                    return Ok(self.enter(Aborted, now));
                }
                let actions = self.enter(BtcCancelled, now);
                Ok(self.then_cancel_update(now, actions))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Decides what the lock's (fresh) depth allows: lock XMR, redeem, cancel, or return
    /// Bob's BTC.
    fn then_lock_update(&mut self, now: Timestamp, mut actions: Vec<Action>) -> Vec<Action> {
        let Some(depth) = self.fresh_lock_depth() else {
            return actions;
        };
        let cancel_at = u32::from(self.params.cancel_timelock);
        let too_late_to_lock = depth > self.params.last_xmr_lock_depth();
        match self.stage {
            AliceStage::SignaturesReceived | AliceStage::AbortSent => {
                let walk_away =
                    self.stage == AliceStage::SignaturesReceived && self.lock_confirmed_late();
                if self.stage == AliceStage::AbortSent || too_late_to_lock || walk_away {
                    if self.bob_sigs.is_some() && depth < cancel_at {
                        actions.extend(self.enter(AliceStage::BtcEarlyRefundPublished, now));
                    } else if self.bob_sigs.is_none() {
                        actions.extend(self.enter(AliceStage::Aborted, now));
                    } else {
                        actions.extend(self.enter(AliceStage::BtcCancelled, now));
                    }
                } else if self.may_lock_xmr() {
                    actions.extend(self.enter(AliceStage::XmrLockPending, now));
                }
            }
            AliceStage::SignaturesSent if too_late_to_lock => {
                // Bob's signatures never came and it is too late to lock XMR: nothing of ours
                // is at stake; Bob cancels and refunds his lock himself.
                actions.extend(self.enter(AliceStage::Aborted, now));
            }
            AliceStage::XmrLockPending if !self.xmr_lock_asked => {
                // after a restart: decide again, on the depth as it is now
                actions.extend(self.xmr_lock_action());
            }
            AliceStage::XmrLocked if depth >= cancel_at => {
                actions.extend(self.enter(AliceStage::BtcCancelled, now));
            }
            AliceStage::XmrLocked if self.redeem_encrypted.is_some() && self.may_redeem() => {
                actions.extend(self.enter(AliceStage::BtcRedeemPublished, now));
            }
            AliceStage::BtcRedeemPublished
                if depth >= cancel_at && !self.chain.has(TxLabel::Redeem, 0) =>
            {
                // the redeem never went out (too late after a restart): cancel instead
                actions.extend(self.enter(AliceStage::BtcCancelled, now));
            }
            AliceStage::BtcRedeemPublished if !self.chain.has(TxLabel::Redeem, 0) => {
                actions.extend(self.redeem_publication());
            }
            AliceStage::BtcEarlyRefundPublished if depth >= cancel_at => {
                actions.extend(self.enter(AliceStage::BtcCancelled, now));
            }
            _ => {}
        }
        actions
    }

    /// The XMR lock action for `XmrLockPending`, once the lock's depth is fresh: pay if it is
    /// still time, otherwise only look for a transfer made before a crash.
    fn xmr_lock_action(&mut self) -> Vec<Action> {
        if !self.lock_depth_fresh {
            return Vec::new();
        }
        self.xmr_lock_asked = true;
        let address = self.agreement().lock_address;
        if self.may_lock_xmr() {
            vec![Action::LockXmr {
                address,
                amount: self.terms.xmr_amount,
            }]
        } else {
            vec![Action::FindXmrLock { address }]
        }
    }

    /// The redeem, completed with Bob's decrypted signature, if Alice may publish it now.
    fn redeem_publication(&self) -> Vec<Action> {
        if !self.may_redeem() {
            return Vec::new();
        }
        let txs = &self.agreement().txs;
        let encrypted = self
            .redeem_encrypted
            .as_ref()
            .expect("set before BtcRedeemPublished");
        let bob_sig = crypto::decrypt_signature(&self.secrets.spend_secp(), encrypted);
        txs.redeem
            .complete(&self.sign(txs.redeem.sighash()), &bob_sig)
            .map(|tx| Action::PublishBtc {
                label: TxLabel::Redeem,
                tx,
            })
            .into_iter()
            .collect()
    }

    /// After cancel is seen: punish once the punish timelock allows. Without XMR of ours in
    /// the lock address there is nothing to recover or punish: once cancel is final the swap is
    /// over for Alice (Bob refunds himself).
    fn then_cancel_update(&mut self, now: Timestamp, mut actions: Vec<Action>) -> Vec<Action> {
        if self.stage == AliceStage::BtcCancelled
            && self.xmr_lock.is_none()
            && self
                .chain
                .has(TxLabel::Cancel, self.params.settle_confirmations)
        {
            actions.extend(self.enter(AliceStage::Aborted, now));
            return actions;
        }
        if self.stage == AliceStage::BtcCancelled
            && self
                .chain
                .has(TxLabel::Cancel, u32::from(self.params.punish_timelock))
            && self.bob_sigs.is_some()
            && self.xmr_lock.is_some()
        {
            actions.extend(self.enter(AliceStage::BtcPunishPublished, now));
        }
        actions
    }

    fn enter(&mut self, stage: AliceStage, now: Timestamp) -> Vec<Action> {
        self.stage = stage;
        if stage.phase().is_terminal() {
            self.own_share = None;
        }
        let mut actions = vec![state_event(Role::Alice, self.stage_name(), stage.phase())];
        actions.extend(self.pending_actions(now));
        actions
    }

    fn refund_encrypted_signature(&self) -> crypto::EncryptedSignature {
        let agreement = self.agreement();
        crypto::encrypted_sign(
            &self.secrets.btc,
            &agreement.bob.spend_secp,
            &agreement.txs.refund.sighash(),
        )
    }

    /// The pending message again (a resend, or an answer to a duplicate from the peer).
    fn pending_message(&self) -> Vec<Action> {
        self.outbox.iter().cloned().map(Action::Send).collect()
    }

    /// Builds the message Alice waits on an answer to in the current state, if any.
    fn build_message(&self) -> Option<Message> {
        let message = match self.stage {
            AliceStage::Initialized => Message::SetupRequest(self.setup_request.clone()?),
            AliceStage::SetupAnswered => Message::SetupAlice(messages::SetupAlice {
                swap_id: self.swap_id,
                share: self.own_share.clone().expect("kept during setup"),
                redeem_address: self.redeem_address.clone(),
                punish_address: self.punish_address.clone(),
                redeem_fee: btc::fee_for_weight(
                    self.fee_rate,
                    btc::TxRedeem::max_weight(&self.redeem_address),
                ),
                punish_fee: btc::fee_for_weight(
                    self.fee_rate,
                    btc::TxPunish::max_weight(&self.punish_address),
                ),
            }),
            AliceStage::SignaturesSent => {
                let agreement = self.agreement();
                Message::AliceSignatures(messages::AliceSignatures {
                    swap_id: self.swap_id,
                    cancel: crypto::sign(&self.secrets.btc, &agreement.txs.cancel.sighash()),
                    refund_encrypted: self.refund_encrypted_signature(),
                    commitment: crypto::sign(&self.secrets.btc, &agreement.commitment),
                })
            }
            AliceStage::XmrLocked => {
                let lock = self.xmr_lock.as_ref().expect("set in XmrLocked");
                Message::TransferProof(messages::TransferProof {
                    swap_id: self.swap_id,
                    tx_hash: lock.tx_hash,
                    tx_key: lock.tx_key.0,
                    height: lock.height,
                })
            }
            _ => return None,
        };
        Some(message)
    }

    fn sign(&self, sighash: [u8; 32]) -> Signature {
        crypto::sign(&self.secrets.btc, &sighash)
    }

    /// Every action the current state needs; emitted on entry and on resume.
    fn pending_actions(&mut self, now: Timestamp) -> Vec<Action> {
        self.outbox = self.build_message();
        self.resend
            .start(now, self.params.resend_seconds, self.outbox.is_some());
        let mut actions = self.pending_message();
        if self.stage.phase().is_terminal() || self.agreement.is_none() {
            return actions;
        }
        actions.extend(self.agreement().watch_actions());
        let agreement = self.agreement();
        let txs = &agreement.txs;
        match self.stage {
            AliceStage::XmrLockPending => actions.extend(self.xmr_lock_action()),
            AliceStage::BtcRedeemPublished => actions.extend(self.redeem_publication()),
            AliceStage::BtcCancelled => {
                if let Some(sigs) = &self.bob_sigs {
                    if let Ok(tx) = txs
                        .cancel
                        .complete(&self.sign(txs.cancel.sighash()), &sigs.cancel)
                    {
                        actions.push(Action::PublishBtc {
                            label: TxLabel::Cancel,
                            tx,
                        });
                    }
                }
            }
            AliceStage::BtcPunishPublished => {
                let sigs = self
                    .bob_sigs
                    .as_ref()
                    .expect("punish needs Bob's signatures");
                if let Ok(tx) = txs
                    .punish
                    .complete(&self.sign(txs.punish.sighash()), &sigs.punish)
                {
                    actions.push(Action::PublishBtc {
                        label: TxLabel::Punish,
                        tx,
                    });
                }
            }
            AliceStage::BtcEarlyRefundPublished => {
                let sigs = self
                    .bob_sigs
                    .as_ref()
                    .expect("early refund needs Bob's signature");
                if let Ok(tx) = txs
                    .early_refund
                    .complete(&self.sign(txs.early_refund.sighash()), &sigs.early_refund)
                {
                    actions.push(Action::PublishBtc {
                        label: TxLabel::EarlyRefund,
                        tx,
                    });
                }
            }
            AliceStage::BtcRefunded => {
                let lock = self.xmr_lock.as_ref().expect("set before BtcRefunded");
                let bob_spend = self.bob_spend.expect("set in BtcRefunded");
                actions.push(Action::SweepXmr {
                    address: agreement.lock_address,
                    spend_key: SecretScalar(crate::xmr::shared_spend_key(
                        &self.secrets.spend,
                        &bob_spend.0,
                    )),
                    view_key: agreement.view_key,
                    restore_height: crate::network::sweep_restore_height(lock.height),
                    amount: lock.amount.unwrap_or(self.terms.xmr_amount),
                });
            }
            _ => {}
        }
        actions
    }
}

fn stage_name(stage: AliceStage) -> &'static str {
    use AliceStage::*;
    match stage {
        Initialized => "Initialized",
        SetupAnswered => "SetupAnswered",
        SignaturesSent => "SignaturesSent",
        SignaturesReceived => "SignaturesReceived",
        XmrLockPending => "XmrLockPending",
        XmrLocked => "XmrLocked",
        BtcRedeemPublished => "BtcRedeemPublished",
        BtcRedeemed => "BtcRedeemed",
        BtcCancelled => "BtcCancelled",
        BtcRefunded => "BtcRefunded",
        XmrRefunded => "XmrRefunded",
        BtcPunishPublished => "BtcPunishPublished",
        BtcPunished => "BtcPunished",
        BtcEarlyRefundPublished => "BtcEarlyRefundPublished",
        BtcEarlyRefunded => "BtcEarlyRefunded",
        AbortSent => "AbortSent",
        Aborted => "Aborted",
    }
}
