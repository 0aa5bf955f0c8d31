//! Bob's machine: he sells BTC for XMR.
//!
//! Bob opens the setup, locks BTC first, verifies Alice's XMR lock, then hands Alice his
//! adaptor signature on redeem. Alice's redeem reveals `s_a`, with which Bob sweeps the XMR.
//! If anything goes wrong after his lock, Bob cancels once `cancel_timelock` has passed and
//! refunds; if Alice never locks she may return his BTC early.

use crate::btc::TxLock;
use crate::crypto::{self, EncryptedSignature};
use crate::keys::{PublicShare, SwapSecrets};
use crate::machine::{
    after_the_end, check_fee, check_swap, crypto_err, reveal_spend_share, state_event, swap_params,
    two_of_two, Action, Agreement, ChainView, Command, Destinations, Fees, Input, Phase,
    ProtocolError, Resend, SecretScalar, Timestamp, TxLabel, VerifiedShare, STATE_VERSION,
};
use crate::messages::{self, Message, SwapTerms};
use crate::network::Params;
use crate::{btc, Role, SwapId, XmrAmount};
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::{Amount, ScriptBuf, Transaction};
use serde::{Deserialize, Serialize};

/// Bob's detailed states. Names are past-tense facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BobStage {
    /// Created; setup not yet sent.
    Initialized,
    /// Setup sent; waiting for Alice's answer.
    SetupSent,
    /// Alice answered; the wallet is building the lock PSBT.
    LockFunding,
    /// Lock PSBT and fees sent; waiting for Alice's signatures.
    LockProposed,
    /// Signatures exchanged and the lock published.
    BtcLockPublished,
    /// Alice's transfer proof received; checking it.
    XmrLockProofReceived,
    /// Alice locked the wrong amount (or too late): waiting to cancel and refund.
    XmrLockRejected,
    /// The redeem adaptor signature was sent.
    EncSigSent,
    /// Alice redeemed; `s_a` is known; sweeping the XMR.
    BtcRedeemed,
    /// Terminal: the XMR is ours.
    XmrRedeemed,
    /// Cancel published (or seen); refund follows.
    BtcCancelled,
    /// Terminal: refunded after cancel.
    BtcRefunded,
    /// Terminal: Alice returned the BTC early.
    BtcEarlyRefunded,
    /// Terminal: Alice punished (Bob was away past the punish timelock).
    BtcPunished,
    /// Terminal: aborted before the lock was published.
    Aborted,
}

impl BobStage {
    /// The canonical phase of this state.
    pub fn phase(self) -> Phase {
        use BobStage::*;
        match self {
            Initialized => Phase::Initialized,
            SetupSent | LockFunding | LockProposed => Phase::Negotiating,
            BtcLockPublished | XmrLockProofReceived | XmrLockRejected => Phase::Locked,
            EncSigSent | BtcRedeemed | BtcCancelled => Phase::Executing,
            XmrRedeemed => Phase::Completed,
            BtcRefunded | BtcEarlyRefunded => Phase::Refunded,
            BtcPunished => Phase::Failed,
            Aborted => Phase::Aborted,
        }
    }

    fn before_lock(self) -> bool {
        matches!(
            self,
            BobStage::Initialized
                | BobStage::SetupSent
                | BobStage::LockFunding
                | BobStage::LockProposed
        )
    }
}

/// What Bob kept from Alice's setup answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliceSetup {
    /// Alice's verified keys.
    pub share: VerifiedShare,
    /// Her destinations (with Bob's refund address).
    pub destinations: Destinations,
    /// Her proposed redeem fee.
    pub redeem_fee: Amount,
    /// Her proposed punish fee.
    pub punish_fee: Amount,
}

/// Alice's verified signatures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliceSigs {
    /// On cancel.
    pub cancel: Signature,
    /// On refund, encrypted to `S_b`.
    pub refund_encrypted: EncryptedSignature,
    /// On the commitment.
    pub commitment: Signature,
}

/// Alice's XMR transfer as Bob knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XmrTransfer {
    /// The proof Alice sent. Its `height` is Alice's word and is never used.
    pub proof: messages::TransferProof,
    /// Confirmations last reported by the watcher (`None` until checked).
    pub confirmations: Option<u32>,
    /// The height of the block holding the transfer, from Bob's own node.
    #[serde(default)]
    pub block_height: Option<u64>,
}

/// What Bob's own node says about Alice's transfer ([`Input::XmrTransferSeen`]).
struct SeenTransfer {
    tx_hash: [u8; 32],
    amount: XmrAmount,
    confirmations: u32,
    block_height: Option<u64>,
    unlock_time: u64,
}

/// Bob's machine. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bob {
    /// Stored-format version.
    pub version: u32,
    /// The swap.
    pub swap_id: SwapId,
    /// The agreed terms.
    pub terms: SwapTerms,
    /// Network parameters with the agreed timelocks.
    pub params: Params,
    /// Bob's secrets for this swap.
    pub secrets: SwapSecrets,
    /// Where refunds go.
    pub refund_address: ScriptBuf,
    /// Fee rate Bob proposes for his transactions (sat/vB).
    pub fee_rate: u64,
    /// After this, Bob no longer publishes the lock.
    pub setup_deadline: Timestamp,
    /// Retransmission schedule of the pending message.
    pub resend: Resend,
    /// The message we wait on an answer to, built once on entering the state (it holds
    /// signatures, which are costly to make again on every resend).
    #[serde(default)]
    pub outbox: Option<Message>,
    /// The detailed state.
    pub stage: BobStage,
    /// Bob's own share, kept until Alice has answered (so resends need no new proof).
    pub own_share: Option<PublicShare>,
    /// Alice's answer.
    pub alice: Option<AliceSetup>,
    /// Everything agreed.
    pub agreement: Option<Box<Agreement>>,
    /// Alice's signatures.
    pub alice_sigs: Option<AliceSigs>,
    /// Alice's XMR lock.
    pub xmr: Option<XmrTransfer>,
    /// `s_a`, once Alice's redeem revealed it.
    pub alice_spend: Option<SecretScalar>,
    /// Chain facts.
    pub chain: ChainView,
}

impl Bob {
    /// Creates Bob's machine. Call [`crate::SwapState::handle`] with [`Input::Tick`] (or
    /// `Resume`) to send the setup message.
    ///
    /// `now` starts the setup timeout; `fee_rate` (sat/vB) prices cancel, refund and early
    /// refund. The seed-derived `secrets` must be for [`Role::Bob`], and `own_share` must be
    /// `secrets.public_share()` — computed by the caller because its DLEQ proof is the one
    /// expensive step of a swap (about 0.1 s), which callers may run off their event loop.
    ///
    /// # Panics
    /// If `own_share` does not belong to `secrets` (a caller bug).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        swap_id: SwapId,
        terms: SwapTerms,
        secrets: SwapSecrets,
        own_share: PublicShare,
        refund_address: ScriptBuf,
        fee_rate: u64,
        now: Timestamp,
    ) -> Bob {
        assert!(
            own_share.btc == crypto::secp_public(&secrets.btc) && secrets.role == Role::Bob,
            "own_share must be computed from Bob's secrets"
        );
        let params = swap_params(&terms);
        Bob {
            version: STATE_VERSION,
            swap_id,
            terms,
            params,
            secrets,
            refund_address,
            fee_rate,
            setup_deadline: now.plus(u64::from(params.setup_timeout_seconds)),
            resend: Resend::default(),
            outbox: None,
            stage: BobStage::Initialized,
            own_share: Some(own_share),
            alice: None,
            agreement: None,
            alice_sigs: None,
            xmr: None,
            alice_spend: None,
            chain: ChainView::default(),
        }
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
        let setup = self.stage.before_lock().then_some(self.setup_deadline);
        match (self.resend.at, setup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn agreement(&self) -> &Agreement {
        self.agreement
            .as_deref()
            .expect("agreement is set in every stage after LockProposed")
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
        let mut actions = Vec::new();
        match input {
            Input::Tick => {
                if self.stage == BobStage::Initialized {
                    return Ok(self.enter(BobStage::SetupSent, now));
                }
                if self.stage.before_lock() && now >= self.setup_deadline {
                    return Ok(self.abort(now));
                }
                if self.resend.due(now) {
                    actions.extend(self.pending_message());
                }
            }
            Input::Resume => {
                if self.stage == BobStage::Initialized {
                    return self.handle(now, Input::Tick);
                }
                return Ok(self.pending_actions(now));
            }
            Input::Message(message) => return self.handle_message(now, message),
            Input::LockFunded { psbt } => {
                if self.stage != BobStage::LockFunding {
                    return Ok(Vec::new());
                }
                let alice = self.alice.clone().expect("set before LockFunding");
                let own = VerifiedShare::from_verified(
                    self.own_share.as_ref().expect("kept until LockProposed"),
                );
                let two_of_two = two_of_two(&alice.share.btc, &own.btc)?;
                let lock = TxLock::from_psbt(psbt, self.terms.btc_amount, two_of_two).map_err(
                    |source| ProtocolError::Tx {
                        label: TxLabel::Lock,
                        source,
                    },
                )?;
                let fees = Fees {
                    redeem: alice.redeem_fee,
                    punish: alice.punish_fee,
                    // within what Alice accepts
                    cancel: btc::fee_for_weight(self.fee_rate, btc::TxCancel::max_weight())
                        .min(self.terms.max_cancel_fee()),
                    refund: btc::fee_for_weight(
                        self.fee_rate,
                        btc::TxRefund::max_weight(&self.refund_address),
                    ),
                    early_refund: btc::fee_for_weight(
                        self.fee_rate,
                        btc::TxEarlyRefund::max_weight(&self.refund_address),
                    ),
                };
                let agreement = Agreement::build(
                    self.swap_id,
                    self.terms,
                    alice.share,
                    own,
                    &alice.destinations,
                    fees,
                    lock,
                )?;
                self.agreement = Some(Box::new(agreement));
                return Ok(self.enter(BobStage::LockProposed, now));
            }
            Input::LockFundingFailed { .. } => {
                if self.stage == BobStage::LockFunding {
                    return Ok(self.abort(now));
                }
            }
            Input::BtcTxSeen { tx, confirmations } => {
                return self.handle_btc(now, tx, confirmations)
            }
            Input::BtcTxAbsent { txid } => {
                self.chain.forget(self.agreement.as_deref(), &txid);
            }
            Input::XmrTransferSeen {
                tx_hash,
                amount,
                confirmations,
                block_height,
                unlock_time,
            } => {
                let seen = SeenTransfer {
                    tx_hash,
                    amount,
                    confirmations,
                    block_height,
                    unlock_time,
                };
                return self.handle_xmr_transfer(now, seen);
            }
            Input::XmrSwept { .. } => {
                if self.stage == BobStage::BtcRedeemed {
                    return Ok(self.enter(BobStage::XmrRedeemed, now));
                }
            }
            Input::Command(Command::Abort) => {
                if !self.stage.before_lock() {
                    return Err(ProtocolError::NotAllowed {
                        command: Command::Abort,
                        reason: "the BTC lock is already published; wait for cancel and refund"
                            .into(),
                    });
                }
                return Ok(self.abort(now));
            }
            Input::Command(Command::CancelRefund) => {
                if self.stage.before_lock() || self.stage == BobStage::BtcRedeemed {
                    return Err(ProtocolError::NotAllowed {
                        command: Command::CancelRefund,
                        reason: "nothing to refund in this state".into(),
                    });
                }
                if self.stage == BobStage::BtcCancelled {
                    return Ok(self.pending_actions(now));
                }
                let confirmations = self.chain.confirmations(TxLabel::Lock).unwrap_or(0);
                let needed = u32::from(self.params.cancel_timelock);
                if confirmations < needed {
                    return Err(ProtocolError::NotAllowed {
                        command: Command::CancelRefund,
                        reason: format!(
                            "the cancel timelock expires in {} blocks; the app cancels on its own then",
                            needed - confirmations
                        ),
                    });
                }
                return Ok(self.enter(BobStage::BtcCancelled, now));
            }
            Input::XmrLocked { .. } | Input::XmrLockFailed { .. } => {}
        }
        Ok(actions)
    }

    fn handle_message(
        &mut self,
        now: Timestamp,
        message: Message,
    ) -> Result<Vec<Action>, ProtocolError> {
        check_swap(self.swap_id, message.swap_id())?;
        match message {
            Message::SetupAlice(m) if self.stage == BobStage::SetupSent => {
                let share = VerifiedShare::from_verified(&m.share);
                let band = &self.params.fee_band;
                check_fee(
                    TxLabel::Redeem,
                    m.redeem_fee,
                    btc::TxRedeem::max_weight(&m.redeem_address),
                    band,
                )?;
                check_fee(
                    TxLabel::Punish,
                    m.punish_fee,
                    btc::TxPunish::max_weight(&m.punish_address),
                    band,
                )?;
                let own = self.own_share.as_ref().expect("kept until LockProposed");
                if share.btc == own.btc || share.spend_ed == own.spend_ed {
                    return Err(ProtocolError::TermsMismatch(
                        "Alice reused Bob's keys".into(),
                    ));
                }
                self.alice = Some(AliceSetup {
                    share,
                    destinations: Destinations {
                        redeem: m.redeem_address,
                        punish: m.punish_address,
                        refund: self.refund_address.clone(),
                    },
                    redeem_fee: m.redeem_fee,
                    punish_fee: m.punish_fee,
                });
                Ok(self.enter(BobStage::LockFunding, now))
            }
            Message::AliceSignatures(m) if self.stage == BobStage::LockProposed => {
                let agreement = self.agreement();
                let alice_key = crypto::to_bitcoin_key(&agreement.alice.btc);
                agreement
                    .txs
                    .cancel
                    .verify_signature(&alice_key, &m.cancel)
                    .map_err(|source| ProtocolError::Tx {
                        label: TxLabel::Cancel,
                        source,
                    })?;
                crypto::verify_encrypted_signature(
                    &agreement.alice.btc,
                    &agreement.bob.spend_secp,
                    &agreement.txs.refund.sighash(),
                    &m.refund_encrypted,
                )
                .map_err(crypto_err("refund adaptor signature"))?;
                crypto::verify(&agreement.alice.btc, &agreement.commitment, &m.commitment)
                    .map_err(crypto_err("commitment signature"))?;
                self.alice_sigs = Some(AliceSigs {
                    cancel: m.cancel,
                    refund_encrypted: m.refund_encrypted,
                    commitment: m.commitment,
                });
                if now >= self.setup_deadline {
                    return Ok(self.abort(now));
                }
                self.own_share = None;
                Ok(self.enter(BobStage::BtcLockPublished, now))
            }
            Message::TransferProof(m) if matches!(self.stage, BobStage::BtcLockPublished) => {
                self.xmr = Some(XmrTransfer {
                    proof: m,
                    confirmations: None,
                    block_height: None,
                });
                Ok(self.enter(BobStage::XmrLockProofReceived, now))
            }
            Message::Abort(m) => {
                let Some(alice) = self.alice.as_ref() else {
                    return Ok(Vec::new());
                };
                messages::verify_abort(&m, &alice.share.btc)
                    .map_err(crypto_err("abort signature"))?;
                if self.stage.before_lock() {
                    Ok(self.abort(now))
                } else {
                    // Our lock is out: Alice will return it early, or we cancel and refund.
                    Ok(Vec::new())
                }
            }
            // A duplicate or late message: answer with what we are waiting on, if anything.
            _ => Ok(self.pending_message()),
        }
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
        let cancel_final_before = self.cancel_final();
        self.chain.seen.insert(label, confirmations);
        let settled = confirmations >= self.params.settle_confirmations;
        if self.stage.before_lock() {
            return Ok(Vec::new());
        }
        match label {
            TxLabel::Redeem if self.alice_spend.is_none() => {
                // the redeem carries Bob's own signature, decrypted by Alice with `s_a`
                let encrypted = self.redeem_encrypted_signature();
                self.alice_spend = Some(reveal_spend_share(
                    &tx,
                    agreement,
                    &agreement.bob.btc,
                    &agreement.alice.spend_secp,
                    &encrypted,
                    TxLabel::Redeem,
                )?);
                Ok(self.enter(BobStage::BtcRedeemed, now))
            }
            TxLabel::EarlyRefund if settled => Ok(self.enter(BobStage::BtcEarlyRefunded, now)),
            TxLabel::Refund if settled => Ok(self.enter(BobStage::BtcRefunded, now)),
            TxLabel::Punish if settled => Ok(self.enter(BobStage::BtcPunished, now)),
            TxLabel::Cancel
                if self.stage != BobStage::BtcCancelled && self.stage != BobStage::BtcRedeemed =>
            {
                Ok(self.enter(BobStage::BtcCancelled, now))
            }
            TxLabel::Cancel
                if self.stage == BobStage::BtcCancelled
                    && !cancel_final_before
                    && self.cancel_final() =>
            {
                // the refund becomes publishable once cancel is final
                Ok(self.pending_publications())
            }
            TxLabel::Lock => Ok(self.after_lock_update(now)),
            _ => Ok(Vec::new()),
        }
    }

    /// Decides what the lock's depth allows: send the redeem signature, or cancel.
    fn after_lock_update(&mut self, now: Timestamp) -> Vec<Action> {
        let confirmations = self.chain.confirmations(TxLabel::Lock).unwrap_or(0);
        let cancel_at = u32::from(self.params.cancel_timelock);
        let waiting = matches!(
            self.stage,
            BobStage::BtcLockPublished
                | BobStage::XmrLockProofReceived
                | BobStage::XmrLockRejected
                | BobStage::EncSigSent
        );
        if waiting && confirmations >= cancel_at {
            return self.enter(BobStage::BtcCancelled, now);
        }
        if self.stage == BobStage::XmrLockProofReceived {
            let xmr = self.xmr.as_ref();
            let xmr_final = xmr
                .and_then(|x| x.confirmations)
                .is_some_and(|c| c >= self.params.xmr_finality);
            if xmr_final && xmr.is_some_and(|x| x.block_height.is_some()) {
                if self.redeem_signature_window_open() {
                    return self.enter(BobStage::EncSigSent, now);
                }
                // too late for Alice to redeem safely: keep the signature, cancel and refund
                return self.enter(BobStage::XmrLockRejected, now);
            }
        }
        if self.stage == BobStage::EncSigSent
            && self.outbox.is_some()
            && !self.redeem_signature_window_open()
        {
            // inside the margin: a redeem now could still be in the mempool when cancel
            // becomes valid; stop offering the signature (finding 2)
            self.outbox = None;
            self.resend = Resend::default();
        }
        Vec::new()
    }

    fn handle_xmr_transfer(
        &mut self,
        now: Timestamp,
        seen: SeenTransfer,
    ) -> Result<Vec<Action>, ProtocolError> {
        if self.stage != BobStage::XmrLockProofReceived {
            return Ok(Vec::new());
        }
        let xmr = self.xmr.as_mut().expect("set in XmrLockProofReceived");
        if xmr.proof.tx_hash != seen.tx_hash {
            return Ok(Vec::new());
        }
        // a time-locked output cannot be swept when Bob needs it (finding 5)
        if seen.amount != self.terms.xmr_amount || seen.unlock_time != 0 {
            return Ok(self.enter(BobStage::XmrLockRejected, now));
        }
        xmr.confirmations = Some(seen.confirmations);
        xmr.block_height = seen.block_height;
        Ok(self.after_lock_update(now))
    }

    /// Whether the lock is shallow enough for Bob to (re)send his redeem signature.
    fn redeem_signature_window_open(&self) -> bool {
        self.chain
            .confirmations(TxLabel::Lock)
            .is_some_and(|c| c <= self.params.last_redeem_signature_depth())
    }

    fn abort(&mut self, now: Timestamp) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.alice.is_some() {
            actions.push(Action::Send(Message::Abort(messages::sign_abort(
                self.swap_id,
                &self.secrets.btc,
            ))));
        }
        actions.extend(self.enter(BobStage::Aborted, now));
        actions
    }

    fn enter(&mut self, stage: BobStage, now: Timestamp) -> Vec<Action> {
        self.stage = stage;
        if stage.phase().is_terminal() {
            self.own_share = None;
        }
        let mut actions = vec![state_event(Role::Bob, self.stage_name(), stage.phase())];
        actions.extend(self.pending_actions(now));
        actions
    }

    fn redeem_encrypted_signature(&self) -> EncryptedSignature {
        let agreement = self.agreement();
        crypto::encrypted_sign(
            &self.secrets.btc,
            &agreement.alice.spend_secp,
            &agreement.txs.redeem.sighash(),
        )
    }

    /// The pending message again (a resend, or an answer to a duplicate from the peer).
    fn pending_message(&self) -> Vec<Action> {
        self.outbox.iter().cloned().map(Action::Send).collect()
    }

    /// Builds the message Bob waits on an answer to in the current state, if any.
    fn build_message(&self) -> Option<Message> {
        let message = match self.stage {
            BobStage::SetupSent => Message::SetupBob(messages::SetupBob {
                swap_id: self.swap_id,
                terms: self.terms,
                share: self.own_share.clone().expect("kept until LockProposed"),
                refund_address: self.refund_address.clone(),
            }),
            BobStage::LockProposed => {
                let agreement = self.agreement();
                Message::LockProposal(messages::LockProposal {
                    swap_id: self.swap_id,
                    lock_psbt: agreement.txs.lock.psbt().serialize(),
                    cancel_fee: agreement.fees.cancel,
                    refund_fee: agreement.fees.refund,
                    early_refund_fee: agreement.fees.early_refund,
                })
            }
            BobStage::BtcLockPublished => {
                let agreement = self.agreement();
                let sighash = |s: [u8; 32]| crypto::sign(&self.secrets.btc, &s);
                Message::BobSignatures(messages::BobSignatures {
                    swap_id: self.swap_id,
                    cancel: sighash(agreement.txs.cancel.sighash()),
                    punish: sighash(agreement.txs.punish.sighash()),
                    early_refund: sighash(agreement.txs.early_refund.sighash()),
                    commitment: sighash(agreement.commitment),
                })
            }
            BobStage::EncSigSent if self.redeem_signature_window_open() => {
                Message::RedeemEncryptedSignature(messages::RedeemEncryptedSignature {
                    swap_id: self.swap_id,
                    redeem_encrypted: self.redeem_encrypted_signature(),
                })
            }
            _ => return None,
        };
        Some(message)
    }

    /// Whether cancel is in a block, `btc_finality` deep: only then may Bob's refund go
    /// out. A refund reveals `s_b`; while cancel is only in the mempool, an Alice holding
    /// Bob's redeem signature can still replace it with her redeem (full RBF) and, knowing
    /// `s_b` from the refund, sweep the XMR back too (finding 8 of
    /// docs/2026-12-06-malicious-counterparty.md). Cancel's anchor, not the refund, is how
    /// Bob pays for a waiting cancel.
    fn cancel_final(&self) -> bool {
        self.chain
            .has(TxLabel::Cancel, self.params.btc_finality.max(1))
    }

    /// Transactions Bob must (re)publish in this state.
    fn pending_publications(&self) -> Vec<Action> {
        if self.stage != BobStage::BtcCancelled {
            return Vec::new();
        }
        let agreement = self.agreement();
        let sigs = self
            .alice_sigs
            .as_ref()
            .expect("set before the lock is published");
        let mut actions = Vec::new();
        let own_cancel = crypto::sign(&self.secrets.btc, &agreement.txs.cancel.sighash());
        if let Ok(tx) = agreement.txs.cancel.complete(&sigs.cancel, &own_cancel) {
            actions.push(Action::PublishBtc {
                label: TxLabel::Cancel,
                tx,
            });
        }
        if self.cancel_final() {
            let alice_refund =
                crypto::decrypt_signature(&self.secrets.spend_secp(), &sigs.refund_encrypted);
            let own_refund = crypto::sign(&self.secrets.btc, &agreement.txs.refund.sighash());
            if let Ok(tx) = agreement.txs.refund.complete(&alice_refund, &own_refund) {
                actions.push(Action::PublishBtc {
                    label: TxLabel::Refund,
                    tx,
                });
            }
        }
        actions
    }

    /// Every action the current state needs; emitted on entry and on resume.
    fn pending_actions(&mut self, now: Timestamp) -> Vec<Action> {
        self.outbox = self.build_message();
        self.resend
            .start(now, self.params.resend_seconds, self.outbox.is_some());
        let mut actions = self.pending_message();
        match self.stage {
            BobStage::LockFunding => {
                let alice = self.alice.as_ref().expect("set before LockFunding");
                let own_btc = crypto::secp_public(&self.secrets.btc);
                if let Ok(two_of_two) = two_of_two(&alice.share.btc, &own_btc) {
                    actions.push(Action::FundLock {
                        amount: self.terms.btc_amount,
                        two_of_two,
                    });
                }
            }
            BobStage::LockProposed => actions.extend(self.agreement().watch_actions()),
            BobStage::BtcLockPublished => {
                actions.extend(self.agreement().watch_actions());
                actions.push(Action::SignAndPublishLock {
                    psbt: self.agreement().txs.lock.psbt().clone(),
                });
            }
            BobStage::XmrLockProofReceived => {
                actions.extend(self.agreement().watch_actions());
                let agreement = self.agreement();
                let proof = &self
                    .xmr
                    .as_ref()
                    .expect("set in XmrLockProofReceived")
                    .proof;
                actions.push(Action::WatchXmrTransfer {
                    address: agreement.lock_address,
                    view_key: agreement.view_key,
                    tx_hash: proof.tx_hash,
                    tx_key: SecretScalar(proof.tx_key),
                });
            }
            BobStage::XmrLockRejected | BobStage::EncSigSent => {
                actions.extend(self.agreement().watch_actions())
            }
            BobStage::BtcCancelled => {
                actions.extend(self.agreement().watch_actions());
                actions.extend(self.pending_publications());
            }
            BobStage::BtcRedeemed => {
                let agreement = self.agreement();
                let alice_spend = self.alice_spend.expect("set in BtcRedeemed");
                // from Bob's own node, never Alice's claim (finding 5)
                let restore_height = self
                    .xmr
                    .as_ref()
                    .and_then(|x| x.block_height)
                    .map_or(0, crate::network::sweep_restore_height);
                actions.push(Action::SweepXmr {
                    address: agreement.lock_address,
                    spend_key: SecretScalar(crate::xmr::shared_spend_key(
                        &alice_spend.0,
                        &self.secrets.spend,
                    )),
                    view_key: agreement.view_key,
                    restore_height,
                    amount: self.terms.xmr_amount,
                });
            }
            _ => {}
        }
        actions
    }
}

fn stage_name(stage: BobStage) -> &'static str {
    use BobStage::*;
    match stage {
        Initialized => "Initialized",
        SetupSent => "SetupSent",
        LockFunding => "LockFunding",
        LockProposed => "LockProposed",
        BtcLockPublished => "BtcLockPublished",
        XmrLockProofReceived => "XmrLockProofReceived",
        XmrLockRejected => "XmrLockRejected",
        EncSigSent => "EncSigSent",
        BtcRedeemed => "BtcRedeemed",
        XmrRedeemed => "XmrRedeemed",
        BtcCancelled => "BtcCancelled",
        BtcRefunded => "BtcRefunded",
        BtcEarlyRefunded => "BtcEarlyRefunded",
        BtcPunished => "BtcPunished",
        Aborted => "Aborted",
    }
}
