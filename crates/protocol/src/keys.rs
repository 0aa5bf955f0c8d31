//! Per-swap key derivation from the wallet seed, the swap id and fresh entropy.
//!
//! Derivation uses **HKDF-SHA256** (RFC 5869): `ikm` = the 64-byte wallet seed, `salt` =
//! `"confiaro/swap-keys/v2"`, `info` = `swap_id || role || entropy || label || counter`. Each
//! key gets its own label, so keys never repeat across swaps, roles or purposes.
//!
//! The 32 bytes of [`SwapEntropy`] are drawn by the party itself when it creates the swap and
//! kept with the swap's sealed state. They are what makes the keys unpredictable to the
//! counterparty: the swap id is chosen by the taker, so keys derived from the seed and the id
//! alone would repeat whenever a maker sees the same id twice (after restoring its mnemonic
//! into an empty data directory, or with two instances on one seed), and a taker who completed
//! that swap knows the maker's old spend share. See `docs/2026-12-06-malicious-counterparty.md`.
//!
//! Per swap and role this yields: the secp256k1 key for the 2-of-2 outputs (`a` or `b`), the
//! spend share `s` (an integer below 2^252, valid as both an ed25519 and a secp256k1 scalar),
//! the Monero view share `v`, and a seed for the randomness of the DLEQ proof.

use crate::crypto::{self, DleqProof, EdPoint, SecpPoint, SecpScalar};
use crate::{Role, SwapId};
use curve25519_dalek::Scalar as EdScalar;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const SALT: &[u8] = b"confiaro/swap-keys/v2";

/// The wallet's master seed (64 bytes, e.g. a BIP39 seed). Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletSeed(#[serde(with = "serde_bytes_64")] pub [u8; 64]);

impl std::fmt::Debug for WalletSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WalletSeed(<redacted>)")
    }
}

mod serde_bytes_64 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        bytes.as_slice().serialize(s)
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v = Vec::<u8>::deserialize(d)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 64 bytes"))
    }
}

/// Randomness a party draws for each swap it takes part in (from the OS's generator), mixed
/// into every key of that swap. Never chosen by, or shown to, the counterparty.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapEntropy(pub [u8; 32]);

impl std::fmt::Debug for SwapEntropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwapEntropy(<redacted>)")
    }
}

/// A party's secret keys for one swap. `Debug` never shows them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapSecrets {
    /// Whose keys these are.
    pub role: Role,
    /// `a` (Alice) or `b` (Bob): the secp256k1 key of the 2-of-2 outputs.
    pub btc: SecpScalar,
    /// `s_a` or `s_b`: the Monero spend share, also the adaptor decryption secret.
    pub spend: EdScalar,
    /// `v_a` or `v_b`: the Monero view share.
    pub view: EdScalar,
    /// Seed for the DLEQ proof's randomness, so proofs are reproducible.
    pub proof_seed: [u8; 32],
}

impl std::fmt::Debug for SwapSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SwapSecrets {{ role: {:?}, <redacted> }}", self.role)
    }
}

struct Context<'a> {
    swap_id: &'a SwapId,
    role: Role,
    entropy: &'a SwapEntropy,
}

fn expand(hk: &Hkdf<Sha256>, context: &Context<'_>, label: &[u8], counter: u32) -> [u8; 64] {
    let mut out = [0u8; 64];
    let counter = counter.to_le_bytes();
    let info: [&[u8]; 5] = [
        &context.swap_id.0,
        &[context.role.code()],
        &context.entropy.0,
        label,
        &counter,
    ];
    hk.expand_multi_info(&info, &mut out)
        .expect("64 bytes is a valid HKDF-SHA256 length");
    out
}

impl SwapSecrets {
    /// Derives the secrets of `role` for swap `swap_id` from the wallet seed and `entropy`.
    ///
    /// Call it once when the swap is created, with entropy fresh from the OS, and store the
    /// result with the swap's state. Deterministic in its inputs (the same seed, id, role
    /// and entropy give the same keys), but two swaps never share keys as long as their
    /// entropy differs, whatever swap ids the counterparty picks.
    pub fn derive(
        seed: &WalletSeed,
        swap_id: &SwapId,
        role: Role,
        entropy: &SwapEntropy,
    ) -> SwapSecrets {
        let hk = Hkdf::<Sha256>::new(Some(SALT), &seed.0);
        let context = Context {
            swap_id,
            role,
            entropy,
        };
        let btc = (0u32..)
            .find_map(|counter| {
                let wide = expand(&hk, &context, b"btc", counter);
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&wide[..32]);
                ecdsa_fun::fun::Scalar::<
                        ecdsa_fun::fun::marker::Secret,
                        ecdsa_fun::fun::marker::Zero,
                    >::from_bytes(bytes)
                    .and_then(|s| s.non_zero())
            })
            .expect("a valid scalar is found within a few tries");
        let spend = (0u32..)
            .find_map(|counter| {
                let wide = expand(&hk, &context, b"xmr-spend", counter);
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&wide[..32]);
                // below 2^252 so it is one integer on both curves (the DLEQ proof needs that)
                bytes[31] &= 0x0f;
                let scalar = EdScalar::from_canonical_bytes(bytes);
                Option::<EdScalar>::from(scalar).filter(|s| *s != EdScalar::ZERO)
            })
            .expect("a valid scalar is found within a few tries");
        let view = EdScalar::from_bytes_mod_order_wide(&expand(&hk, &context, b"xmr-view", 0));
        let mut proof_seed = [0u8; 32];
        proof_seed.copy_from_slice(&expand(&hk, &context, b"dleq-rng", 0)[..32]);
        SwapSecrets {
            role,
            btc,
            spend,
            view,
            proof_seed,
        }
    }

    /// The spend share as a secp256k1 scalar (the adaptor decryption key).
    pub fn spend_secp(&self) -> SecpScalar {
        crypto::ed_scalar_to_secp(&self.spend)
    }

    /// Builds the public share to send to the counterparty, including the DLEQ proof
    /// (the expensive part: tens of milliseconds).
    pub fn public_share(&self) -> PublicShare {
        let (dleq, spend_secp, spend_ed) = crypto::dleq_prove(&self.spend, self.proof_seed);
        PublicShare {
            btc: crypto::secp_public(&self.btc),
            spend_secp,
            spend_ed,
            dleq,
            view_share: self.view,
        }
    }
}

/// What a party reveals about its keys during setup.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicShare {
    /// `A` or `B`: the 2-of-2 public key.
    pub btc: SecpPoint,
    /// `S_a` or `S_b` on secp256k1: the adaptor encryption key.
    pub spend_secp: SecpPoint,
    /// `S_a` or `S_b` on ed25519: the Monero public spend share.
    pub spend_ed: EdPoint,
    /// Proof that `spend_secp` and `spend_ed` share a discrete log.
    pub dleq: DleqProof,
    /// `v_a` or `v_b`: the private view share (both parties must see the lock address).
    pub view_share: EdScalar,
}

impl std::fmt::Debug for PublicShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicShare")
            .field("btc", &self.btc)
            .field("spend_secp", &self.spend_secp)
            .field("spend_ed", &self.spend_ed)
            .finish_non_exhaustive()
    }
}

impl SwapSecrets {
    /// The witness that spends our keyed anchor of cancel
    /// ([`TxCancel::anchor`](crate::btc::TxCancel::anchor)) as input `index` of `child`:
    /// a P2WPKH signature (`SIGHASH_ALL`) with our 2-of-2 key, and that key.
    ///
    /// Call it on a fee-bumping child that is otherwise complete (its inputs and outputs are
    /// final; the wallet signs its own inputs after). The 2-of-2 key never leaves this crate.
    ///
    /// # Errors
    ///
    /// [`TxError::MalformedSpend`] if `anchor` is not the P2WPKH of our 2-of-2 key or `child`
    /// has no input `index` spending it.
    pub fn anchor_witness(
        &self,
        child: &bitcoin::Transaction,
        index: usize,
        anchor: &bitcoin::TxOut,
    ) -> Result<bitcoin::Witness, crate::btc::TxError> {
        use bitcoin::hashes::Hash;
        let not_ours = crate::btc::TxError::MalformedSpend {
            reason: "not our anchor",
        };
        let key = crypto::to_bitcoin_key(&crypto::secp_public(&self.btc));
        let compressed = bitcoin::CompressedPublicKey(key.inner);
        if anchor.script_pubkey != bitcoin::ScriptBuf::new_p2wpkh(&compressed.wpubkey_hash()) {
            return Err(not_ours);
        }
        let sighash = bitcoin::sighash::SighashCache::new(child)
            .p2wpkh_signature_hash(
                index,
                &anchor.script_pubkey,
                anchor.value,
                bitcoin::sighash::EcdsaSighashType::All,
            )
            .map_err(|_| not_ours)?;
        let signature = crypto::sign(&self.btc, &sighash.to_byte_array());
        Ok(bitcoin::Witness::p2wpkh(
            &bitcoin::ecdsa::Signature::sighash_all(signature),
            &key.inner,
        ))
    }
}

impl PublicShare {
    /// Verifies the DLEQ proof and that the two spend points differ from the 2-of-2 key.
    ///
    /// # Errors
    /// [`crypto::CryptoError::InvalidDleqProof`] when the proof fails.
    pub fn verify(&self) -> Result<(), crypto::CryptoError> {
        crypto::dleq_verify(&self.dleq, &self.spend_secp, &self.spend_ed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_and_separates_swaps_and_roles() {
        let seed = WalletSeed([42; 64]);
        let entropy = SwapEntropy([5; 32]);
        let one = SwapSecrets::derive(&seed, &SwapId([1; 32]), Role::Alice, &entropy);
        assert_eq!(
            one,
            SwapSecrets::derive(&seed, &SwapId([1; 32]), Role::Alice, &entropy)
        );
        let other_swap = SwapSecrets::derive(&seed, &SwapId([2; 32]), Role::Alice, &entropy);
        let other_role = SwapSecrets::derive(&seed, &SwapId([1; 32]), Role::Bob, &entropy);
        for other in [&other_swap, &other_role] {
            assert_ne!(one.btc, other.btc);
            assert_ne!(one.spend, other.spend);
            assert_ne!(one.view, other.view);
        }
        assert_eq!(
            one.spend.to_bytes()[31] & 0xf0,
            0,
            "spend share below 2^252"
        );
    }

    /// Finding 1 of docs/2026-12-06-malicious-counterparty.md: a maker that restored its
    /// mnemonic sees a swap id it already used; its new keys must share nothing with the old
    /// ones, whose spend share the taker learnt from the old swap's redeem.
    #[test]
    fn the_same_seed_swap_id_and_role_with_other_entropy_give_unrelated_keys() {
        let seed = WalletSeed([42; 64]);
        let swap_id = SwapId([1; 32]);
        let before = SwapSecrets::derive(&seed, &swap_id, Role::Alice, &SwapEntropy([1; 32]));
        let after = SwapSecrets::derive(&seed, &swap_id, Role::Alice, &SwapEntropy([2; 32]));
        assert_ne!(before.btc, after.btc);
        assert_ne!(before.spend, after.spend);
        assert_ne!(before.view, after.view);
        assert_ne!(before.proof_seed, after.proof_seed);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let secrets = SwapSecrets::derive(
            &WalletSeed([7; 64]),
            &SwapId([3; 32]),
            Role::Bob,
            &SwapEntropy([7; 32]),
        );
        let text = format!(
            "{secrets:?} {:?} {:?}",
            WalletSeed([7; 64]),
            SwapEntropy([7; 32])
        );
        assert!(!text.contains("07070707"));
        let hex: String = secrets
            .spend
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!text.contains(&hex));
    }

    #[test]
    fn public_share_verifies() {
        let secrets = SwapSecrets::derive(
            &WalletSeed([9; 64]),
            &SwapId([4; 32]),
            Role::Alice,
            &SwapEntropy([9; 32]),
        );
        let share = secrets.public_share();
        assert!(share.verify().is_ok());
        assert_eq!(share, secrets.public_share(), "proofs are reproducible");
    }
}
