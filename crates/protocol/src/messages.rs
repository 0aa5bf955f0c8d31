//! Protocol messages: versioned, size-bounded, and fully validated on decode.
//!
//! Wire format: `b"CFRO"`, a version byte ([`PROTOCOL_VERSION`]), a kind byte, then the body as
//! bincode (standard config) with a per-kind size limit. [`decode`] never panics: any byte
//! string either decodes into a message whose every field is valid on its own (points on their
//! curves, DLEQ proofs verified, addresses standard, amounts and timelocks in range, PSBT
//! well-formed) or returns a [`DecodeError`] that says what was wrong. Checks that need the
//! swap's context (does this signature sign *our* transaction?) are done by the state
//! machines, which leave their state unchanged when a message fails them.

use crate::btc::{is_standard_destination, TxError};
use crate::crypto::{self, CryptoError, EncryptedSignature, SecpPoint};
use crate::keys::PublicShare;
use crate::network::{Network, Params};
use crate::quote::{ReserveProof, MAX_RESERVE_SIGNATURE_BYTES};
use crate::{Direction, SwapId, XmrAmount};
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::{Amount, ScriptBuf};
use curve25519_dalek::Scalar as EdScalar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The protocol version this crate speaks. A message with another version is rejected.
///
/// Version 2 (2026-12-06): cancel carries the parties' keyed anchors, so a version-1 peer
/// would sign another cancel; refusing the version names the cause.
/// Version 3 (2026-12-06): the terms name the swap's [`Direction`] (signed in the
/// commitment), and a taker selling XMR opens with a [`SetupRequest`].
pub const PROTOCOL_VERSION: u8 = 3;
/// The magic prefix of every encoded message.
pub const MAGIC: &[u8; 4] = b"CFRO";
/// The largest encoded message of any kind (a setup message carries a ~50 KiB DLEQ proof).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// The largest encoded lock PSBT accepted inside a [`LockProposal`].
pub const MAX_PSBT_BYTES: usize = 32 * 1024;
const HEADER_LEN: usize = MAGIC.len() + 2;
const SMALL_MESSAGE_BYTES: usize = 2 * 1024;

/// The terms both parties agreed on before setup (from a quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapTerms {
    /// The network pair the swap runs on.
    pub network: Network,
    /// BTC Bob locks (the lock output's value).
    pub btc_amount: Amount,
    /// XMR Alice locks, exactly.
    pub xmr_amount: XmrAmount,
    /// Blocks after lock confirmation before cancel is valid.
    pub cancel_timelock: u16,
    /// Blocks after cancel confirmation before punish is valid.
    pub punish_timelock: u16,
    /// Which way the swap goes: who is the taker. (Swaps stored before directions existed
    /// were all [`Direction::BuyXmr`].)
    #[serde(default)]
    pub direction: Direction,
}

impl SwapTerms {
    /// Terms of a swap in `direction` on `network` with that direction's timelocks.
    pub fn new(
        network: Network,
        direction: Direction,
        btc_amount: Amount,
        xmr_amount: XmrAmount,
    ) -> SwapTerms {
        let params = network.params_for(direction);
        SwapTerms {
            network,
            btc_amount,
            xmr_amount,
            cancel_timelock: params.cancel_timelock,
            punish_timelock: params.punish_timelock,
            direction,
        }
    }

    /// The parameter set of a swap on these terms (the network's for the direction).
    pub fn params(&self) -> Params {
        self.network.params_for(self.direction)
    }

    /// Checks what can be checked of terms on their own: nonzero amounts within the money
    /// supply, and exactly the timelocks of the network and direction (shorter ones leave no
    /// time to act, longer ones freeze the other side's coins for as long as the proposer
    /// likes).
    ///
    /// # Errors
    /// [`DecodeError::InvalidField`] naming the first problem.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.btc_amount == Amount::ZERO {
            return Err(DecodeError::InvalidField {
                field: "terms.btc_amount",
                reason: "zero".into(),
            });
        }
        if self.btc_amount > Amount::MAX_MONEY {
            return Err(DecodeError::InvalidField {
                field: "terms.btc_amount",
                reason: "above 21 million BTC".into(),
            });
        }
        if self.xmr_amount == XmrAmount::ZERO {
            return Err(DecodeError::InvalidField {
                field: "terms.xmr_amount",
                reason: "zero".into(),
            });
        }
        let params = self.params();
        if self.cancel_timelock != params.cancel_timelock
            || self.punish_timelock != params.punish_timelock
        {
            return Err(DecodeError::InvalidField {
                field: "terms.timelocks",
                reason: format!(
                    "cancel {} / punish {} blocks are not the network's {} / {} for {}",
                    self.cancel_timelock,
                    self.punish_timelock,
                    params.cancel_timelock,
                    params.punish_timelock,
                    self.direction.name()
                ),
            });
        }
        Ok(())
    }

    /// The largest cancel fee Bob may propose for these terms:
    /// [`MAX_CANCEL_FEE_PERCENT`](crate::network::MAX_CANCEL_FEE_PERCENT) of the BTC amount.
    pub fn max_cancel_fee(&self) -> Amount {
        Amount::from_sat(self.btc_amount.to_sat() / 100 * crate::network::MAX_CANCEL_FEE_PERCENT)
    }

    /// The most our fee bumping spends on one waiting transaction and its children together:
    /// [`MAX_BUMP_FEE_PERCENT`](crate::network::MAX_BUMP_FEE_PERCENT) of the BTC amount.
    pub fn max_bump_fee(&self) -> Amount {
        Amount::from_sat(self.btc_amount.to_sat() / 100 * crate::network::MAX_BUMP_FEE_PERCENT)
    }
}

/// A taker selling XMR asks the maker to open the swap as Bob: the terms it wants (from the
/// maker's sell quote) and a Monero reserve proof of its wallet bound to this swap
/// ([`ReserveProof::swap_message`]), so the maker can check with its own node that the
/// taker holds the XMR before it locks any BTC. The maker answers with [`SetupBob`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupRequest {
    /// The swap this message belongs to (chosen by the taker).
    pub swap_id: SwapId,
    /// The terms asked for; their direction is [`Direction::SellXmr`].
    pub terms: SwapTerms,
    /// The taker's reserve proof over [`ReserveProof::swap_message`] for this swap.
    pub reserve_proof: ReserveProof,
}

/// Bob's opening message: terms, his keys and where his refunds go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupBob {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// The agreed terms.
    pub terms: SwapTerms,
    /// `B`, `S_b` on both curves with its DLEQ proof, `v_b`.
    pub share: PublicShare,
    /// Bob's refund destination (refund and early refund pay here).
    pub refund_address: ScriptBuf,
}

/// Alice's answer: her keys, her destinations and the fees of the transactions she publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupAlice {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// `A`, `S_a` on both curves with its DLEQ proof, `v_a`.
    pub share: PublicShare,
    /// Where redeem pays.
    pub redeem_address: ScriptBuf,
    /// Where punish pays.
    pub punish_address: ScriptBuf,
    /// Absolute fee of the redeem transaction.
    pub redeem_fee: Amount,
    /// Absolute fee of the punish transaction.
    pub punish_fee: Amount,
}

/// Bob's unsigned lock transaction and the fees of the transactions that pay him.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockProposal {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// The unsigned lock PSBT (BIP174 bytes), every input with its `witness_utxo`.
    pub lock_psbt: Vec<u8>,
    /// Absolute fee of the cancel transaction.
    pub cancel_fee: Amount,
    /// Absolute fee of the refund transaction.
    pub refund_fee: Amount,
    /// Absolute fee of the early refund transaction.
    pub early_refund_fee: Amount,
}

/// Alice's signatures: cancel, the adaptor signature on refund (encrypted to `S_b`), and her
/// signature on the commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliceSignatures {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// Alice's signature on cancel.
    pub cancel: Signature,
    /// Alice's signature on refund, encrypted to `S_b`.
    pub refund_encrypted: EncryptedSignature,
    /// Alice's signature on the commitment hash.
    pub commitment: Signature,
}

/// Bob's signatures: cancel, punish, early refund and the commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BobSignatures {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// Bob's signature on cancel.
    pub cancel: Signature,
    /// Bob's signature on punish.
    pub punish: Signature,
    /// Bob's signature on early refund.
    pub early_refund: Signature,
    /// Bob's signature on the commitment hash.
    pub commitment: Signature,
}

/// Proof that Alice sent XMR to the lock address: the transaction hash and its tx key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferProof {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// The Monero transaction hash.
    pub tx_hash: [u8; 32],
    /// The transaction's secret key, with which anyone can check what it paid to an address.
    pub tx_key: EdScalar,
    /// The Monero block height the lock was made at (restore height for sweeping).
    pub height: u64,
}

/// Bob's adaptor signature on redeem, encrypted to `S_a`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedeemEncryptedSignature {
    /// The swap this message belongs to.
    pub swap_id: SwapId,
    /// Bob's signature on redeem, encrypted to `S_a`.
    pub redeem_encrypted: EncryptedSignature,
}

/// A signed cooperative abort, valid only before anything is locked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Abort {
    /// The swap to abort.
    pub swap_id: SwapId,
    /// The sender's signature (with its 2-of-2 key) on [`abort_hash`].
    pub signature: Signature,
}

/// Every protocol message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// See [`SetupBob`].
    SetupBob(SetupBob),
    /// See [`SetupAlice`].
    SetupAlice(SetupAlice),
    /// See [`LockProposal`].
    LockProposal(LockProposal),
    /// See [`AliceSignatures`].
    AliceSignatures(AliceSignatures),
    /// See [`BobSignatures`].
    BobSignatures(BobSignatures),
    /// See [`TransferProof`].
    TransferProof(TransferProof),
    /// See [`RedeemEncryptedSignature`].
    RedeemEncryptedSignature(RedeemEncryptedSignature),
    /// See [`Abort`].
    Abort(Abort),
    /// See [`SetupRequest`].
    SetupRequest(SetupRequest),
}

/// Why a byte string is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the header.
    #[error("message too short: {len} bytes")]
    TooShort {
        /// Length received.
        len: usize,
    },
    /// Not a Confiaro message.
    #[error("bad magic bytes")]
    BadMagic,
    /// A protocol version this build does not speak.
    #[error("unsupported protocol version {version} (this build speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion {
        /// Version received.
        version: u8,
    },
    /// An unknown message kind.
    #[error("unknown message kind {kind}")]
    UnknownKind {
        /// Kind byte received.
        kind: u8,
    },
    /// Larger than this kind may be.
    #[error("message of kind {kind} is {len} bytes, limit {limit}")]
    TooLarge {
        /// Kind byte.
        kind: u8,
        /// Length received.
        len: usize,
        /// Limit for the kind.
        limit: usize,
    },
    /// The body does not parse.
    #[error("malformed body: {reason}")]
    Malformed {
        /// What the parser said.
        reason: String,
    },
    /// Bytes left after the body.
    #[error("{extra} trailing bytes after the body")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A field is out of range or inconsistent.
    #[error("invalid field {field}: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A proof or signature in the message does not verify.
    #[error("invalid cryptographic material in {field}: {source}")]
    Crypto {
        /// Which field.
        field: &'static str,
        /// The failure.
        #[source]
        source: CryptoError,
    },
}

impl Message {
    /// The kind byte on the wire.
    pub fn kind(&self) -> u8 {
        match self {
            Message::SetupBob(_) => 1,
            Message::SetupAlice(_) => 2,
            Message::LockProposal(_) => 3,
            Message::AliceSignatures(_) => 4,
            Message::BobSignatures(_) => 5,
            Message::TransferProof(_) => 6,
            Message::RedeemEncryptedSignature(_) => 7,
            Message::Abort(_) => 8,
            Message::SetupRequest(_) => 9,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Message::SetupBob(_) => "setup_bob",
            Message::SetupAlice(_) => "setup_alice",
            Message::LockProposal(_) => "lock_proposal",
            Message::AliceSignatures(_) => "alice_signatures",
            Message::BobSignatures(_) => "bob_signatures",
            Message::TransferProof(_) => "transfer_proof",
            Message::RedeemEncryptedSignature(_) => "redeem_encrypted_signature",
            Message::Abort(_) => "abort",
            Message::SetupRequest(_) => "setup_request",
        }
    }

    /// The swap the message belongs to.
    pub fn swap_id(&self) -> SwapId {
        match self {
            Message::SetupBob(m) => m.swap_id,
            Message::SetupAlice(m) => m.swap_id,
            Message::LockProposal(m) => m.swap_id,
            Message::AliceSignatures(m) => m.swap_id,
            Message::BobSignatures(m) => m.swap_id,
            Message::TransferProof(m) => m.swap_id,
            Message::RedeemEncryptedSignature(m) => m.swap_id,
            Message::Abort(m) => m.swap_id,
            Message::SetupRequest(m) => m.swap_id,
        }
    }

    /// The same message labelled for `swap_id`: what a peer replaying it into another swap
    /// sends (the signatures inside still sign the original swap's data). For tests and the
    /// adversarial simulation; an honest party never needs it.
    pub fn with_swap_id(&self, swap_id: SwapId) -> Message {
        let mut message = self.clone();
        match &mut message {
            Message::SetupBob(m) => m.swap_id = swap_id,
            Message::SetupAlice(m) => m.swap_id = swap_id,
            Message::LockProposal(m) => m.swap_id = swap_id,
            Message::AliceSignatures(m) => m.swap_id = swap_id,
            Message::BobSignatures(m) => m.swap_id = swap_id,
            Message::TransferProof(m) => m.swap_id = swap_id,
            Message::RedeemEncryptedSignature(m) => m.swap_id = swap_id,
            Message::Abort(m) => m.swap_id = swap_id,
            Message::SetupRequest(m) => m.swap_id = swap_id,
        }
        message
    }

    /// Encodes the message for the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(MAGIC);
        out.push(PROTOCOL_VERSION);
        out.push(self.kind());
        let config = bincode::config::standard();
        let body = match self {
            Message::SetupBob(m) => bincode::serde::encode_to_vec(m, config),
            Message::SetupAlice(m) => bincode::serde::encode_to_vec(m, config),
            Message::LockProposal(m) => bincode::serde::encode_to_vec(m, config),
            Message::AliceSignatures(m) => bincode::serde::encode_to_vec(m, config),
            Message::BobSignatures(m) => bincode::serde::encode_to_vec(m, config),
            Message::TransferProof(m) => bincode::serde::encode_to_vec(m, config),
            Message::RedeemEncryptedSignature(m) => bincode::serde::encode_to_vec(m, config),
            Message::Abort(m) => bincode::serde::encode_to_vec(m, config),
            Message::SetupRequest(m) => bincode::serde::encode_to_vec(m, config),
        }
        .expect("serializing our own message types into a Vec cannot fail");
        out.extend_from_slice(&body);
        out
    }
}

/// What [`peek`] reads of a message without decoding its body: its kind and its swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The kind byte ([`Message::kind`]).
    pub kind: u8,
    /// The swap the message says it belongs to ([`Message::swap_id`]).
    pub swap_id: SwapId,
}

impl Envelope {
    /// Whether the message opens a swap ([`SetupBob`] or [`SetupRequest`]): the kinds a
    /// maker may take from a peer it has no swap with.
    pub fn opens_a_swap(&self) -> bool {
        self.opens().is_some()
    }

    /// The direction of the swap the message opens, when it opens one: a [`SetupBob`] opens
    /// a swap in which the taker buys XMR, a [`SetupRequest`] one in which it sells XMR.
    pub fn opens(&self) -> Option<Direction> {
        match self.kind {
            1 => Some(Direction::BuyXmr),
            9 => Some(Direction::SellXmr),
            _ => None,
        }
    }

    /// Whether the message carries a cross-curve DLEQ proof, whose check in [`decode`] costs
    /// about 0.1 s of CPU (the setup messages).
    pub fn carries_a_proof(&self) -> bool {
        matches!(self.kind, 1 | 2 | 9)
    }
}

/// Reads a message's kind and swap id without decoding or checking its body: the header
/// checks of [`decode`] (magic, version, kind, size limit) and the swap id every body starts
/// with. Costs nothing, so a receiver can decide whether a message is one it would take (its
/// kind on this protocol, its swap one with this peer, its sender within its limits) before
/// it spends [`decode`]'s proof checks on it.
///
/// # Guarantees
/// For any `m`, `peek(&m.encode())` is `(m.kind(), m.swap_id())`. A peek that succeeds says
/// nothing of the rest: [`decode`] may still refuse the message.
///
/// # Errors
/// The [`DecodeError`] [`decode`] would return for the header, or [`DecodeError::Malformed`]
/// when the body is shorter than a swap id.
pub fn peek(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let kind = check_header(bytes)?;
    let id = bytes
        .get(HEADER_LEN..HEADER_LEN + 32)
        .ok_or_else(|| DecodeError::Malformed {
            reason: "the body is shorter than a swap id".into(),
        })?;
    let mut swap_id = [0u8; 32];
    swap_id.copy_from_slice(id);
    Ok(Envelope {
        kind,
        swap_id: SwapId(swap_id),
    })
}

/// The header checks of [`decode`]: magic, version, a known kind within its size limit.
/// Returns the kind.
fn check_header(bytes: &[u8]) -> Result<u8, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::TooShort { len: bytes.len() });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = bytes[MAGIC.len()];
    if version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion { version });
    }
    let kind = bytes[MAGIC.len() + 1];
    if !(1..=9).contains(&kind) {
        return Err(DecodeError::UnknownKind { kind });
    }
    let limit = size_limit(kind);
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            kind,
            len: bytes.len(),
            limit,
        });
    }
    Ok(kind)
}

fn size_limit(kind: u8) -> usize {
    match kind {
        1 | 2 | 9 => MAX_MESSAGE_BYTES,
        3 => MAX_PSBT_BYTES + 256,
        _ => SMALL_MESSAGE_BYTES,
    }
}

fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    let config = bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>();
    let (value, read) =
        bincode::serde::decode_from_slice(body, config).map_err(|e| DecodeError::Malformed {
            reason: e.to_string(),
        })?;
    if read != body.len() {
        return Err(DecodeError::TrailingBytes {
            extra: body.len() - read,
        });
    }
    Ok(value)
}

/// Decodes and validates a message received from a peer.
///
/// # Errors
/// A [`DecodeError`] naming what is wrong; nothing is ever partially accepted.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let kind = check_header(bytes)?;
    let body = &bytes[HEADER_LEN..];
    let message = match kind {
        1 => Message::SetupBob(decode_body(body)?),
        2 => Message::SetupAlice(decode_body(body)?),
        3 => Message::LockProposal(decode_body(body)?),
        4 => Message::AliceSignatures(decode_body(body)?),
        5 => Message::BobSignatures(decode_body(body)?),
        6 => Message::TransferProof(decode_body(body)?),
        7 => Message::RedeemEncryptedSignature(decode_body(body)?),
        8 => Message::Abort(decode_body(body)?),
        _ => Message::SetupRequest(decode_body(body)?),
    };
    validate(&message)?;
    Ok(message)
}

fn check_destination(field: &'static str, script: &ScriptBuf) -> Result<(), DecodeError> {
    if is_standard_destination(script) {
        Ok(())
    } else {
        Err(DecodeError::InvalidField {
            field,
            reason: "not a standard destination script".into(),
        })
    }
}

fn check_share(share: &PublicShare) -> Result<(), DecodeError> {
    if share.btc == share.spend_secp {
        return Err(DecodeError::InvalidField {
            field: "share",
            reason: "2-of-2 key equals the spend key".into(),
        });
    }
    share.verify().map_err(|source| DecodeError::Crypto {
        field: "share.dleq",
        source,
    })
}

fn check_fee(field: &'static str, fee: Amount) -> Result<(), DecodeError> {
    if fee == Amount::ZERO {
        return Err(DecodeError::InvalidField {
            field,
            reason: "fee is zero".into(),
        });
    }
    Ok(())
}

/// Parses the lock PSBT bytes of a [`LockProposal`].
///
/// # Errors
/// [`DecodeError::InvalidField`] when the bytes are not a PSBT.
pub fn parse_psbt(bytes: &[u8]) -> Result<Psbt, DecodeError> {
    Psbt::deserialize(bytes).map_err(|e| DecodeError::InvalidField {
        field: "lock_psbt",
        reason: e.to_string(),
    })
}

/// Checks every field of a message that can be checked without the swap's context.
///
/// [`decode`] calls this; call it yourself only on messages built in memory.
///
/// # Errors
/// The first [`DecodeError`] found.
pub fn validate(message: &Message) -> Result<(), DecodeError> {
    match message {
        Message::SetupBob(m) => {
            m.terms.validate()?;
            check_destination("refund_address", &m.refund_address)?;
            check_share(&m.share)
        }
        Message::SetupAlice(m) => {
            check_destination("redeem_address", &m.redeem_address)?;
            check_destination("punish_address", &m.punish_address)?;
            check_fee("redeem_fee", m.redeem_fee)?;
            check_fee("punish_fee", m.punish_fee)?;
            check_share(&m.share)
        }
        Message::LockProposal(m) => {
            if m.lock_psbt.len() > MAX_PSBT_BYTES {
                return Err(DecodeError::InvalidField {
                    field: "lock_psbt",
                    reason: "too large".into(),
                });
            }
            check_fee("cancel_fee", m.cancel_fee)?;
            check_fee("refund_fee", m.refund_fee)?;
            check_fee("early_refund_fee", m.early_refund_fee)?;
            parse_psbt(&m.lock_psbt).map(|_| ())
        }
        Message::TransferProof(m) => {
            if m.tx_key == EdScalar::ZERO {
                return Err(DecodeError::InvalidField {
                    field: "tx_key",
                    reason: "zero".into(),
                });
            }
            Ok(())
        }
        Message::SetupRequest(m) => {
            m.terms.validate()?;
            if m.terms.direction != Direction::SellXmr {
                return Err(DecodeError::InvalidField {
                    field: "terms.direction",
                    reason: "a setup request is only for a taker selling XMR".into(),
                });
            }
            let proof = &m.reserve_proof;
            if proof.signature.len() > MAX_RESERVE_SIGNATURE_BYTES || proof.address.len() > 128 {
                return Err(DecodeError::InvalidField {
                    field: "reserve_proof",
                    reason: "too long".into(),
                });
            }
            Ok(())
        }
        Message::AliceSignatures(_)
        | Message::BobSignatures(_)
        | Message::RedeemEncryptedSignature(_)
        | Message::Abort(_) => Ok(()),
    }
}

/// The hash a cooperative abort signs.
pub fn abort_hash(swap_id: &SwapId) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"confiaro/abort/v1")
        .chain_update(swap_id.0)
        .finalize()
        .into()
}

/// Builds a signed abort for `swap_id` with the sender's 2-of-2 secret key.
pub fn sign_abort(swap_id: SwapId, key: &crypto::SecpScalar) -> Abort {
    Abort {
        swap_id,
        signature: crypto::sign(key, &abort_hash(&swap_id)),
    }
}

/// Checks an abort was signed by `sender_key`.
///
/// # Errors
/// [`CryptoError::InvalidSignature`] when it was not.
pub fn verify_abort(abort: &Abort, sender_key: &SecpPoint) -> Result<(), CryptoError> {
    crypto::verify(sender_key, &abort_hash(&abort.swap_id), &abort.signature)
}

impl From<TxError> for DecodeError {
    fn from(e: TxError) -> Self {
        DecodeError::InvalidField {
            field: "transaction",
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{SwapEntropy, SwapSecrets, WalletSeed};
    use crate::Role;

    #[test]
    fn setup_with_timelocks_other_than_the_network_is_refused() {
        let swap_id = SwapId([5; 32]);
        let share = SwapSecrets::derive(
            &WalletSeed([3; 64]),
            &swap_id,
            Role::Bob,
            &SwapEntropy([0; 32]),
        )
        .public_share();
        let terms = SwapTerms::new(
            Network::Regtest,
            Direction::BuyXmr,
            Amount::from_sat(100_000),
            XmrAmount::from_piconero(1),
        );
        let refund_address = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_raw_hash(
            bitcoin::hashes::Hash::from_byte_array([1; 32]),
        ));
        let setup = |terms| {
            Message::SetupBob(SetupBob {
                swap_id,
                terms,
                share: share.clone(),
                refund_address: refund_address.clone(),
            })
        };
        assert_eq!(decode(&setup(terms).encode()), Ok(setup(terms)));
        let network = terms;
        for (cancel, punish) in [(-1, 0), (0, -1), (1, 0), (0, 1), (i32::from(u16::MAX), 0)] {
            let mut terms = network;
            terms.cancel_timelock = (i32::from(terms.cancel_timelock) + cancel).min(65_535) as u16;
            terms.punish_timelock = (i32::from(terms.punish_timelock) + punish) as u16;
            assert!(
                matches!(
                    decode(&setup(terms).encode()),
                    Err(DecodeError::InvalidField {
                        field: "terms.timelocks",
                        ..
                    })
                ),
                "cancel {} / punish {} accepted",
                terms.cancel_timelock,
                terms.punish_timelock
            );
        }
    }
}
