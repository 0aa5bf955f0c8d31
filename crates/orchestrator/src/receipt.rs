//! Receipts: for every finished swap, a self-contained JSON document with what both parties
//! signed and what happened on both chains, so that anyone can check the swap's atomicity
//! from public data alone.
//!
//! A receipt holds the terms, both parties' public keys, the Monero lock address and its
//! (shared, single-use) view key, the signed commitment with both signatures, the six Bitcoin
//! txids, the adaptor signatures whose decryption is published by a redeem or a refund, and
//! Alice's XMR transfer (hash and tx key). It holds no spend secret.
//!
//! [`Receipt::check`] verifies what needs no chain: the commitment recomputed from the
//! receipt's own fields, both signatures on it, and the lock address derived from the keys.
//! [`Receipt::check_chains`] then reads the chains: the BTC lock pays the agreed amount to the
//! agreed 2-of-2; which spend of it confirmed; that a redeem reveals `s_a` (so Bob can take
//! the XMR) or a refund reveals `s_b` (so Alice can take it back); and that the XMR transfer
//! paid exactly the agreed amount to the lock address.

use bitcoin::{Transaction, Txid};
use confiaro_bitcoin::{ChainSource, TxStatus};
use confiaro_monero::rpc::WalletClient;
use confiaro_protocol::btc::{signature_from_witness, TwoOfTwo};
use confiaro_protocol::crypto::{self, EdPoint, EncryptedSignature, SecpPoint};
use confiaro_protocol::machine::{commitment_hash, TxLabel};
use confiaro_protocol::messages::SwapTerms;
use confiaro_protocol::{Phase, Role, SwapId, SwapState};
use confiaro_store::{Store, Vault};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// The current receipt format.
pub const RECEIPT_VERSION: u32 = 1;
/// The swap data key a receipt is stored under.
const RECEIPT_KEY: &str = "receipt";

/// One party's public keys (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyKeys {
    /// The 2-of-2 key (compressed secp256k1).
    pub btc: String,
    /// The spend share on secp256k1 (the adaptor encryption key).
    pub spend_secp: String,
    /// The spend share on ed25519 (the Monero spend key share).
    pub spend_ed: String,
}

/// One of the swap's Bitcoin transactions, as the exporting party saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptTx {
    /// Which one.
    pub label: TxLabel,
    /// Its txid.
    pub txid: String,
    /// Confirmations the exporter last saw (`None`: never seen).
    pub confirmations: Option<u32>,
}

/// Alice's XMR lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XmrLockInfo {
    /// The transfer's hash (hex).
    pub tx_hash: String,
    /// Its transaction key (hex): proves what it paid to an address; spends nothing.
    pub tx_key: String,
    /// The Monero height it was made at (Alice's wallet's), or the block holding it (Bob's
    /// node's).
    pub height: u64,
}

/// The receipt of a finished swap. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// [`RECEIPT_VERSION`].
    pub version: u32,
    /// The swap (hex).
    pub swap_id: String,
    /// The exporting party's role.
    pub exported_by: Role,
    /// How the swap ended for the exporter.
    pub phase: Phase,
    /// The exporter's terminal state.
    pub state: String,
    /// The agreed terms.
    pub terms: SwapTerms,
    /// Alice's keys.
    pub alice: PartyKeys,
    /// Bob's keys.
    pub bob: PartyKeys,
    /// The Monero lock address.
    pub lock_address: String,
    /// The lock address's private view key `v_a + v_b` (hex): shows its incoming transfers.
    pub view_key: String,
    /// The commitment (hex).
    pub commitment: String,
    /// Alice's signature on it (compact, hex).
    pub alice_commitment_signature: String,
    /// Bob's signature on it (compact, hex).
    pub bob_commitment_signature: String,
    /// The six transactions.
    pub transactions: Vec<ReceiptTx>,
    /// Bob's adaptor signature on redeem, encrypted to Alice's `S_a`.
    pub redeem_encrypted_signature: Option<EncryptedSignature>,
    /// Alice's adaptor signature on refund, encrypted to Bob's `S_b`.
    pub refund_encrypted_signature: Option<EncryptedSignature>,
    /// Alice's XMR lock, when the exporter knows it.
    pub xmr_lock: Option<XmrLockInfo>,
    /// What the exporter's engine checked during the swap (from its audit log).
    pub verifications: Vec<serde_json::Value>,
}

fn keys_of(share: &confiaro_protocol::machine::VerifiedShare) -> PartyKeys {
    PartyKeys {
        btc: hex::encode(share.btc.to_bytes()),
        spend_secp: hex::encode(share.spend_secp.to_bytes()),
        spend_ed: hex::encode(share.spend_ed.to_bytes()),
    }
}

impl Receipt {
    /// Builds the receipt of the swap whose (terminal) machine is `state`. A swap aborted
    /// before its terms were agreed gets a receipt without keys and transactions.
    pub(crate) async fn build(
        store: &Store,
        vault: &Vault,
        state: &SwapState,
    ) -> Result<Receipt, EngineError> {
        let swap_id = state.swap_id();
        let audit = store.audit_entries(vault, Some(&swap_id)).await?;
        let verifications = audit
            .iter()
            .filter(|e| {
                matches!(
                    e.kind.as_str(),
                    "published"
                        | "xmr-locked"
                        | "xmr-transfer-checked"
                        | "xmr-swept"
                        | "publish-refused"
                )
            })
            .map(|e| serde_json::json!({"at_ms": e.at_ms, "kind": e.kind, "detail": e.detail}))
            .collect();
        Ok(Receipt::from_state(state, verifications))
    }

    /// The receipt of the swap whose machine is `state` (usually terminal), with
    /// `verifications` (what the engine checked along the way) attached as they are.
    pub fn from_state(state: &SwapState, verifications: Vec<serde_json::Value>) -> Receipt {
        let empty = PartyKeys {
            btc: String::new(),
            spend_secp: String::new(),
            spend_ed: String::new(),
        };
        let mut receipt = Receipt {
            version: RECEIPT_VERSION,
            swap_id: state.swap_id().to_string(),
            exported_by: state.role(),
            phase: state.phase(),
            state: state.state_name().to_owned(),
            terms: *state.terms(),
            alice: empty.clone(),
            bob: empty,
            lock_address: String::new(),
            view_key: String::new(),
            commitment: String::new(),
            alice_commitment_signature: String::new(),
            bob_commitment_signature: String::new(),
            transactions: Vec::new(),
            redeem_encrypted_signature: None,
            refund_encrypted_signature: None,
            xmr_lock: None,
            verifications,
        };
        let Some(agreement) = state.agreement() else {
            return receipt;
        };
        receipt.alice = keys_of(&agreement.alice);
        receipt.bob = keys_of(&agreement.bob);
        receipt.lock_address = agreement.lock_address.to_string();
        receipt.view_key = hex::encode(agreement.view_key.0.to_bytes());
        receipt.commitment = hex::encode(agreement.commitment);
        let chain = match state {
            SwapState::Alice(a) => &a.chain,
            SwapState::Bob(b) => &b.chain,
        };
        receipt.transactions = agreement
            .txs
            .txids()
            .into_iter()
            .map(|(label, txid)| ReceiptTx {
                label,
                txid: txid.to_string(),
                confirmations: chain.confirmations(label),
            })
            .collect();
        let compact = |s: &bitcoin::secp256k1::ecdsa::Signature| hex::encode(s.serialize_compact());
        match state {
            SwapState::Alice(alice) => {
                let own = crypto::sign(&alice.secrets.btc, &agreement.commitment);
                receipt.alice_commitment_signature = compact(&own);
                if let Some(sigs) = &alice.bob_sigs {
                    receipt.bob_commitment_signature = compact(&sigs.commitment);
                }
                receipt.redeem_encrypted_signature = alice.redeem_encrypted.clone();
                receipt.refund_encrypted_signature = Some(crypto::encrypted_sign(
                    &alice.secrets.btc,
                    &agreement.bob.spend_secp,
                    &agreement.txs.refund.sighash(),
                ));
                receipt.xmr_lock = alice.xmr_lock.as_ref().map(|l| XmrLockInfo {
                    tx_hash: hex::encode(l.tx_hash),
                    tx_key: hex::encode(l.tx_key.0.to_bytes()),
                    height: l.height,
                });
            }
            SwapState::Bob(bob) => {
                let own = crypto::sign(&bob.secrets.btc, &agreement.commitment);
                receipt.bob_commitment_signature = compact(&own);
                if let Some(sigs) = &bob.alice_sigs {
                    receipt.alice_commitment_signature = compact(&sigs.commitment);
                    receipt.refund_encrypted_signature = Some(sigs.refund_encrypted.clone());
                }
                receipt.redeem_encrypted_signature = Some(crypto::encrypted_sign(
                    &bob.secrets.btc,
                    &agreement.alice.spend_secp,
                    &agreement.txs.redeem.sighash(),
                ));
                receipt.xmr_lock = bob.xmr.as_ref().map(|x| XmrLockInfo {
                    tx_hash: hex::encode(x.proof.tx_hash),
                    tx_key: hex::encode(x.proof.tx_key.to_bytes()),
                    // his own node's block height when he has it, not Alice's claim
                    height: x.block_height.unwrap_or(x.proof.height),
                });
            }
        }
        receipt
    }
}

/// Stores a swap's receipt.
pub(crate) async fn store_receipt(
    store: &Store,
    vault: &Vault,
    receipt: &Receipt,
) -> Result<(), EngineError> {
    let swap_id = parse_swap_id(&receipt.swap_id)?;
    let bytes = serde_json::to_vec(receipt).expect("a receipt serializes");
    store
        .put_swap_data(vault, &swap_id, RECEIPT_KEY, &bytes)
        .await?;
    Ok(())
}

/// Loads a finished swap's receipt.
pub(crate) async fn load_receipt(
    store: &Store,
    vault: &Vault,
    swap_id: &SwapId,
) -> Result<Receipt, EngineError> {
    let record = store
        .swap(vault, swap_id)
        .await?
        .ok_or(EngineError::UnknownSwap(*swap_id))?;
    if !record.phase.is_terminal() {
        return Err(EngineError::InvalidInput(format!(
            "swap {swap_id} is not finished ({}); its receipt is written when it ends",
            record.state_name
        )));
    }
    match store.swap_data(vault, swap_id, RECEIPT_KEY).await? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            EngineError::InvalidInput(format!("the stored receipt of {swap_id} is corrupt: {e}"))
        }),
        None => {
            let state = store
                .swap_state(vault, swap_id)
                .await?
                .ok_or(EngineError::UnknownSwap(*swap_id))?;
            Ok(Receipt::from_state(&state, Vec::new()))
        }
    }
}

/// Parses a hex swap id.
///
/// # Errors
/// [`EngineError::InvalidInput`] unless it is 64 hex digits.
pub fn parse_swap_id(text: &str) -> Result<SwapId, EngineError> {
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            EngineError::InvalidInput(format!("{text:?} is not a swap id (64 hex digits)"))
        })?;
    Ok(SwapId(bytes))
}

/// One verification's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// Whether it holds.
    pub ok: bool,
    /// Details (amounts, heights, the reason it failed).
    pub detail: String,
}

impl Check {
    fn new(what: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
        Check {
            what: what.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// The public values of a receipt, parsed.
struct Parsed {
    swap_id: SwapId,
    alice: (SecpPoint, SecpPoint, EdPoint),
    bob: (SecpPoint, SecpPoint, EdPoint),
    lock_address: monero::Address,
    txids: [Txid; 6],
}

fn secp(hex_text: &str) -> Option<SecpPoint> {
    let bytes: [u8; 33] = hex::decode(hex_text).ok()?.try_into().ok()?;
    SecpPoint::from_bytes(bytes)
}

fn ed(hex_text: &str) -> Option<EdPoint> {
    let bytes: [u8; 32] = hex::decode(hex_text).ok()?.try_into().ok()?;
    EdPoint::from_bytes(bytes).ok()
}

fn party(keys: &PartyKeys) -> Option<(SecpPoint, SecpPoint, EdPoint)> {
    Some((
        secp(&keys.btc)?,
        secp(&keys.spend_secp)?,
        ed(&keys.spend_ed)?,
    ))
}

fn signature(hex_text: &str) -> Option<bitcoin::secp256k1::ecdsa::Signature> {
    bitcoin::secp256k1::ecdsa::Signature::from_compact(&hex::decode(hex_text).ok()?).ok()
}

/// What happened on the Bitcoin chain, per transaction: the transaction and its confirmations.
pub type Seen = Vec<(TxLabel, Option<(Transaction, u32)>)>;

impl Receipt {
    fn parse(&self) -> Result<Parsed, String> {
        let swap_id = parse_swap_id(&self.swap_id).map_err(|e| e.to_string())?;
        let alice = party(&self.alice).ok_or("Alice's keys are not valid points")?;
        let bob = party(&self.bob).ok_or("Bob's keys are not valid points")?;
        let lock_address: monero::Address = self
            .lock_address
            .parse()
            .map_err(|_| "the lock address is not a Monero address")?;
        let mut txids = Vec::new();
        for label in [
            TxLabel::Lock,
            TxLabel::Redeem,
            TxLabel::Cancel,
            TxLabel::Refund,
            TxLabel::Punish,
            TxLabel::EarlyRefund,
        ] {
            let tx = self
                .transactions
                .iter()
                .find(|t| t.label == label)
                .ok_or_else(|| format!("the {label:?} transaction is missing"))?;
            txids.push(
                tx.txid
                    .parse::<Txid>()
                    .map_err(|_| format!("bad {label:?} txid"))?,
            );
        }
        Ok(Parsed {
            swap_id,
            alice,
            bob,
            lock_address,
            txids: txids.try_into().expect("six labels, six txids"),
        })
    }

    /// Checks what needs no chain: the receipt's commitment is the hash of its own terms,
    /// keys, lock address and txids; both parties signed it; the lock address and view key
    /// belong to the keys.
    pub fn check(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        if self.version != RECEIPT_VERSION {
            checks.push(Check::new(
                "format",
                false,
                format!(
                    "version {} (this build reads {RECEIPT_VERSION})",
                    self.version
                ),
            ));
            return checks;
        }
        let parsed = match self.parse() {
            Ok(p) => p,
            Err(reason) => {
                checks.push(Check::new(
                    "agreement",
                    false,
                    format!(
                        "no agreed terms to check: {reason} (a swap aborted during setup has none)"
                    ),
                ));
                return checks;
            }
        };
        let commitment = commitment_hash(
            &parsed.swap_id,
            &self.terms,
            [parsed.alice, parsed.bob],
            &parsed.lock_address,
            &parsed.txids,
        );
        let matches = hex::encode(commitment) == self.commitment;
        checks.push(Check::new(
            "commitment",
            matches,
            if matches {
                "the commitment is the hash of these terms, keys, lock address and txids".to_owned()
            } else {
                format!(
                    "recomputed {}, receipt says {}",
                    hex::encode(commitment),
                    self.commitment
                )
            },
        ));
        for (who, key, sig) in [
            ("Alice", &parsed.alice.0, &self.alice_commitment_signature),
            ("Bob", &parsed.bob.0, &self.bob_commitment_signature),
        ] {
            let ok = signature(sig).is_some_and(|s| crypto::verify(key, &commitment, &s).is_ok());
            checks.push(Check::new(
                format!("{who}'s signature on the commitment"),
                ok,
                if ok { "valid" } else { "missing or invalid" },
            ));
        }
        let view = hex::decode(&self.view_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| {
                Option::<curve25519_dalek::Scalar>::from(
                    curve25519_dalek::Scalar::from_canonical_bytes(b),
                )
            });
        let derived = view.map(|v| {
            confiaro_protocol::xmr::lock_address(
                self.terms.network,
                &parsed.alice.2,
                &parsed.bob.2,
                &v,
            )
        });
        let ok = derived == Some(parsed.lock_address);
        checks.push(Check::new(
            "Monero lock address",
            ok,
            if ok {
                "spend key S_a + S_b and the view key give this address"
            } else {
                "the address does not follow from the keys"
            },
        ));
        checks
    }

    /// Reads the Bitcoin chain through `source` (blocking: call it from a blocking thread)
    /// and returns what each of the six transactions is there.
    ///
    /// # Errors
    /// The source's error, or [`EngineError::InvalidInput`] for a receipt without agreement.
    pub fn fetch_bitcoin(&self, source: &mut dyn ChainSource) -> Result<Seen, EngineError> {
        let parsed = self.parse().map_err(EngineError::InvalidInput)?;
        let tip = source.tip()?.height;
        let two_of_two = two_of_two_of(&parsed)?;
        let mut seen = Vec::new();
        for (label, txid) in [
            TxLabel::Lock,
            TxLabel::Redeem,
            TxLabel::Cancel,
            TxLabel::Refund,
            TxLabel::Punish,
            TxLabel::EarlyRefund,
        ]
        .into_iter()
        .zip(parsed.txids)
        {
            let script = two_of_two.script_pubkey();
            let status = source.tx_status(&txid, &script)?;
            let found = match status {
                TxStatus::NotFound => None,
                status => source
                    .transaction(&txid, &script)?
                    .map(|tx| (tx, status.confirmations(tip))),
            };
            seen.push((label, found));
        }
        Ok(seen)
    }

    /// Judges the swap from the chains: `seen` from [`Receipt::fetch_bitcoin`], and the XMR
    /// transfer checked with `monero` (any wallet RPC connected to a daemon of the swap's
    /// network; `None` to skip the Monero side).
    pub async fn check_chains(&self, seen: &Seen, monero: Option<&WalletClient>) -> Vec<Check> {
        let mut checks = Vec::new();
        let parsed = match self.parse() {
            Ok(p) => p,
            Err(reason) => {
                checks.push(Check::new("agreement", false, reason));
                return checks;
            }
        };
        let Ok(two_of_two) = two_of_two_of(&parsed) else {
            checks.push(Check::new(
                "2-of-2",
                false,
                "the two keys do not make a 2-of-2",
            ));
            return checks;
        };
        let get = |label: TxLabel| {
            seen.iter()
                .find(|(l, _)| *l == label)
                .and_then(|(_, found)| found.as_ref())
        };
        let lock_txid = parsed.txids[0];
        // the lock
        match get(TxLabel::Lock) {
            Some((tx, confirmations)) => {
                let pays = tx.output.iter().position(|o| {
                    o.script_pubkey == two_of_two.script_pubkey()
                        && o.value == self.terms.btc_amount
                });
                checks.push(Check::new(
                    "BTC lock",
                    pays.is_some() && *confirmations > 0,
                    format!(
                        "{} to the 2-of-2 of A and B: {}; {confirmations} confirmations",
                        self.terms.btc_amount,
                        if pays.is_some() { "paid" } else { "NOT paid" }
                    ),
                ));
            }
            None => {
                checks.push(Check::new(
                    "BTC lock",
                    true,
                    "never published: no BTC was at stake (an aborted or early-ended swap)",
                ));
                return checks;
            }
        }
        let spent_lock = |label| {
            get(label).is_some_and(|(tx, c)| {
                *c > 0
                    && tx
                        .input
                        .first()
                        .is_some_and(|i| i.previous_output.txid == lock_txid)
            })
        };
        // the XMR lock
        let xmr_ok = match (&self.xmr_lock, monero) {
            (Some(lock), Some(wallet)) => {
                let result = wallet
                    .check_tx_key(&lock.tx_hash, &lock.tx_key, &parsed.lock_address)
                    .await;
                let (ok, detail) = match result {
                    Ok(c) if c.received == self.terms.xmr_amount && c.confirmations > 0 => (
                        true,
                        format!(
                            "{} paid to the lock address; {} confirmations",
                            c.received, c.confirmations
                        ),
                    ),
                    Ok(c) => (
                        false,
                        format!(
                            "paid {} (agreed {}), {} confirmations",
                            c.received, self.terms.xmr_amount, c.confirmations
                        ),
                    ),
                    Err(e) => (false, format!("cannot check: {e}")),
                };
                checks.push(Check::new("XMR lock", ok, detail));
                Some(ok)
            }
            (Some(_), None) => None,
            (None, _) => {
                checks.push(Check::new(
                    "XMR lock",
                    true,
                    "not made (or not known to the exporter)",
                ));
                Some(false)
            }
        };
        // the outcome
        if spent_lock(TxLabel::Redeem) {
            let (tx, _) = get(TxLabel::Redeem).expect("checked above");
            let ok = self.redeem_encrypted_signature.as_ref().is_some_and(|enc| {
                reveals_share(tx, &two_of_two, &parsed.bob.0, enc, &parsed.alice)
            });
            checks.push(Check::new(
                "outcome: swapped",
                ok,
                if ok {
                    "Alice redeemed the BTC; the redeem reveals her XMR spend share s_a, so Bob holds s_a + s_b and can spend the XMR"
                } else {
                    "Alice redeemed the BTC, but s_a could not be recovered from it with Bob's adaptor signature"
                },
            ));
        } else if spent_lock(TxLabel::EarlyRefund) {
            let ok = xmr_ok != Some(true);
            checks.push(Check::new(
                "outcome: refunded early",
                ok,
                if ok {
                    "Alice returned Bob's BTC before locking XMR: both kept their coins"
                } else {
                    "Alice returned Bob's BTC although her XMR is locked"
                },
            ));
        } else if spent_lock(TxLabel::Cancel) {
            let cancel_txid = parsed.txids[2];
            let spends_cancel = |label| {
                get(label).is_some_and(|(tx, c)| {
                    *c > 0
                        && tx
                            .input
                            .first()
                            .is_some_and(|i| i.previous_output.txid == cancel_txid)
                })
            };
            if spends_cancel(TxLabel::Refund) {
                let (tx, _) = get(TxLabel::Refund).expect("checked above");
                let ok = self.refund_encrypted_signature.as_ref().is_some_and(|enc| {
                    reveals_share(tx, &two_of_two, &parsed.alice.0, enc, &parsed.bob)
                });
                checks.push(Check::new(
                    "outcome: refunded",
                    ok,
                    if ok {
                        "cancelled, and Bob refunded the BTC; the refund reveals his share s_b, so Alice can take her XMR back"
                    } else {
                        "Bob refunded, but s_b could not be recovered from it with Alice's adaptor signature"
                    },
                ));
            } else if spends_cancel(TxLabel::Punish) {
                checks.push(Check::new(
                    "outcome: punished",
                    true,
                    "cancelled, Bob did not refund within the punish timelock, and Alice took the BTC",
                ));
            } else {
                checks.push(Check::new(
                    "outcome",
                    false,
                    "cancelled, but neither refunded nor punished yet",
                ));
            }
        } else {
            checks.push(Check::new(
                "outcome",
                false,
                "the BTC lock is not spent yet",
            ));
        }
        checks
    }
}

/// Whether `tx` (a published redeem or refund) carries `signer`'s signature decrypted from
/// `encrypted`, revealing the spend share of `owner` (whose keys are `(btc, S secp, S ed)`):
/// the recovered secret must be the discrete log of the owner's ed25519 share.
fn reveals_share(
    tx: &Transaction,
    two_of_two: &TwoOfTwo,
    signer: &SecpPoint,
    encrypted: &EncryptedSignature,
    owner: &(SecpPoint, SecpPoint, EdPoint),
) -> bool {
    let revealed = || {
        let sig = signature_from_witness(tx, two_of_two, &crypto::to_bitcoin_key(signer)).ok()?;
        let secret = crypto::recover_decryption_key(&owner.1, &sig, encrypted).ok()?;
        let ed_secret = crypto::secp_scalar_to_ed(&secret).ok()?;
        Some(EdPoint::from_scalar(&ed_secret) == owner.2)
    };
    revealed() == Some(true)
}

fn two_of_two_of(parsed: &Parsed) -> Result<TwoOfTwo, EngineError> {
    TwoOfTwo::new(
        crypto::to_bitcoin_key(&parsed.alice.0),
        crypto::to_bitcoin_key(&parsed.bob.0),
    )
    .map_err(|e| EngineError::InvalidInput(format!("the receipt's keys: {e}")))
}
