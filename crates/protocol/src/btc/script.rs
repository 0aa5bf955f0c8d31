//! The 2-of-2 multisig script of the swap and the destination-script policy.
//!
//! Every swap output that both parties control (the lock output and the cancel output) is a
//! P2WSH of `OP_2 <A> <B> OP_2 OP_CHECKMULTISIG`, with Alice's key `A` always first and
//! Bob's key `B` always second. The witness that spends it is
//! `[<empty>, <sig_A>, <sig_B>, <witness script>]`.

use bitcoin::blockdata::opcodes::all::{OP_CHECKMULTISIG, OP_PUSHNUM_2};
use bitcoin::blockdata::script::Builder;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::sighash::EcdsaSighashType;
use bitcoin::{PublicKey, Script, ScriptBuf, Witness};
use serde::{Deserialize, Serialize};

use super::TxError;
use crate::Role;

/// The 2-of-2 multisig of Alice's key `a` and Bob's key `b`.
///
/// Construct it with [`TwoOfTwo::new`], which guarantees both keys are compressed and
/// distinct; deserialization checks the same. The key order is fixed (`a` then `b`), so both
/// parties derive the same script from the same keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TwoOfTwoRepr")]
pub struct TwoOfTwo {
    /// Alice's key, the first key of the script.
    pub a: PublicKey,
    /// Bob's key, the second key of the script.
    pub b: PublicKey,
}

/// Unchecked serde form of [`TwoOfTwo`].
#[derive(Deserialize)]
struct TwoOfTwoRepr {
    a: PublicKey,
    b: PublicKey,
}

impl TryFrom<TwoOfTwoRepr> for TwoOfTwo {
    type Error = TxError;

    fn try_from(repr: TwoOfTwoRepr) -> Result<Self, TxError> {
        TwoOfTwo::new(repr.a, repr.b)
    }
}

impl TwoOfTwo {
    /// Creates the 2-of-2 of Alice's key `a` and Bob's key `b`.
    ///
    /// # Errors
    ///
    /// [`TxError::UncompressedKey`] if either key is uncompressed, and
    /// [`TxError::IdenticalKeys`] if `a == b`.
    pub fn new(a: PublicKey, b: PublicKey) -> Result<Self, TxError> {
        if !a.compressed {
            return Err(TxError::UncompressedKey { party: Role::Alice });
        }
        if !b.compressed {
            return Err(TxError::UncompressedKey { party: Role::Bob });
        }
        if a.inner == b.inner {
            return Err(TxError::IdenticalKeys);
        }
        Ok(TwoOfTwo { a, b })
    }

    /// The key of `party`.
    pub fn key(&self, party: Role) -> &PublicKey {
        match party {
            Role::Alice => &self.a,
            Role::Bob => &self.b,
        }
    }

    /// The witness script `OP_2 <A> <B> OP_2 OP_CHECKMULTISIG` (71 bytes).
    pub fn witness_script(&self) -> ScriptBuf {
        Builder::new()
            .push_opcode(OP_PUSHNUM_2)
            .push_key(&self.a)
            .push_key(&self.b)
            .push_opcode(OP_PUSHNUM_2)
            .push_opcode(OP_CHECKMULTISIG)
            .into_script()
    }

    /// The P2WSH script_pubkey of [`witness_script`](Self::witness_script): where the lock and
    /// the cancel transactions send the coins.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2wsh(&self.witness_script().wscript_hash())
    }

    /// The witness spending this 2-of-2: `[<empty>, <sig_a>, <sig_b>, <witness script>]`,
    /// each signature DER-encoded with the `SIGHASH_ALL` byte appended.
    ///
    /// The signatures are not checked here; the `complete` methods of the spend templates
    /// check them before calling this.
    pub fn witness(&self, sig_a: &Signature, sig_b: &Signature) -> Witness {
        let mut witness = Witness::new();
        witness.push([]);
        witness.push(signature_with_sighash_all(sig_a));
        witness.push(signature_with_sighash_all(sig_b));
        witness.push(self.witness_script().as_bytes());
        witness
    }
}

/// DER encoding of `sig` followed by the `SIGHASH_ALL` byte, as a witness element.
fn signature_with_sighash_all(sig: &Signature) -> Vec<u8> {
    bitcoin::ecdsa::Signature {
        signature: *sig,
        sighash_type: EcdsaSighashType::All,
    }
    .to_vec()
}

/// Whether `spk` is a destination the swap will pay to: P2PKH, P2SH, P2WPKH, P2WSH or P2TR.
///
/// These are the address types every wallet can receive to and every node relays; anything
/// else (bare scripts, `OP_RETURN`, future witness versions) is rejected so that a party
/// cannot make a pre-signed transaction non-standard and thus unpublishable.
pub fn is_standard_destination(spk: &Script) -> bool {
    spk.is_p2pkh() || spk.is_p2sh() || spk.is_p2wpkh() || spk.is_p2wsh() || spk.is_p2tr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};

    fn key(byte: u8) -> PublicKey {
        let secp = Secp256k1::signing_only();
        let sk = SecretKey::from_slice(&[byte; 32]).expect("valid secret key");
        PublicKey::new(sk.public_key(&secp))
    }

    #[test]
    fn rejects_uncompressed_keys() {
        let mut a = key(1);
        a.compressed = false;
        assert_eq!(
            TwoOfTwo::new(a, key(2)),
            Err(TxError::UncompressedKey { party: Role::Alice })
        );
        let mut b = key(2);
        b.compressed = false;
        assert_eq!(
            TwoOfTwo::new(key(1), b),
            Err(TxError::UncompressedKey { party: Role::Bob })
        );
    }

    #[test]
    fn rejects_identical_keys() {
        assert_eq!(TwoOfTwo::new(key(1), key(1)), Err(TxError::IdenticalKeys));
    }

    #[test]
    fn witness_script_has_the_fixed_shape() {
        let tot = TwoOfTwo::new(key(1), key(2)).expect("valid keys");
        let ws = tot.witness_script();
        let bytes = ws.as_bytes();
        assert_eq!(bytes.len(), 71);
        assert_eq!(bytes[0], 0x52); // OP_2
        assert_eq!(bytes[1], 33);
        assert_eq!(&bytes[2..35], &tot.a.to_bytes()[..]);
        assert_eq!(bytes[35], 33);
        assert_eq!(&bytes[36..69], &tot.b.to_bytes()[..]);
        assert_eq!(bytes[69], 0x52); // OP_2
        assert_eq!(bytes[70], 0xae); // OP_CHECKMULTISIG
        assert!(tot.script_pubkey().is_p2wsh());
        // Order matters: swapping the keys gives a different output.
        let swapped = TwoOfTwo::new(key(2), key(1)).expect("valid keys");
        assert_ne!(swapped.script_pubkey(), tot.script_pubkey());
    }

    #[test]
    fn witness_has_sighash_all_signatures_in_order() {
        let secp = Secp256k1::new();
        let tot = TwoOfTwo::new(key(1), key(2)).expect("valid keys");
        let msg = Message::from_digest([7; 32]);
        let sig_a = secp.sign_ecdsa(&msg, &SecretKey::from_slice(&[1; 32]).expect("valid"));
        let sig_b = secp.sign_ecdsa(&msg, &SecretKey::from_slice(&[2; 32]).expect("valid"));
        let w = tot.witness(&sig_a, &sig_b);
        assert_eq!(w.len(), 4);
        assert_eq!(w.nth(0), Some(&[][..]));
        let a = w.nth(1).expect("element 1");
        assert_eq!(a.last(), Some(&0x01));
        assert_eq!(&a[..a.len() - 1], &sig_a.serialize_der()[..]);
        let b = w.nth(2).expect("element 2");
        assert_eq!(&b[..b.len() - 1], &sig_b.serialize_der()[..]);
        assert_eq!(w.nth(3), Some(tot.witness_script().as_bytes()));
    }

    #[test]
    fn standard_destinations() {
        let tot = TwoOfTwo::new(key(1), key(2)).expect("valid keys");
        let pk = key(3);
        let cpk = bitcoin::CompressedPublicKey(pk.inner);
        let secp = Secp256k1::verification_only();
        let (xonly, _) = pk.inner.x_only_public_key();
        assert!(is_standard_destination(&tot.script_pubkey()));
        assert!(is_standard_destination(&ScriptBuf::new_p2pkh(
            &pk.pubkey_hash()
        )));
        assert!(is_standard_destination(&ScriptBuf::new_p2wpkh(
            &cpk.wpubkey_hash()
        )));
        assert!(is_standard_destination(&ScriptBuf::new_p2sh(
            &tot.witness_script().script_hash()
        )));
        assert!(is_standard_destination(&ScriptBuf::new_p2tr(
            &secp, xonly, None
        )));
        assert!(!is_standard_destination(&tot.witness_script()));
        assert!(!is_standard_destination(&ScriptBuf::new_op_return([
            1, 2, 3
        ])));
        assert!(!is_standard_destination(&ScriptBuf::new()));
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let tot = TwoOfTwo::new(key(1), key(2)).expect("valid keys");
        let json = serde_json::to_string(&tot).expect("serializes");
        assert_eq!(
            serde_json::from_str::<TwoOfTwo>(&json).expect("deserializes"),
            tot
        );
        let same = TwoOfTwo {
            a: key(1),
            b: key(1),
        };
        let json = serde_json::to_string(&same).expect("serializes");
        assert!(serde_json::from_str::<TwoOfTwo>(&json).is_err());
    }
}
