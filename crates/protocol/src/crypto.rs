//! The cryptography both parties compute: ECDSA adaptor signatures on secp256k1 and the
//! cross-curve (secp256k1 ⇄ ed25519) discrete-log-equality proof.
//!
//! Thin, typed wrappers over `ecdsa_fun` (feature `adaptor`) and `sigma_fun`
//! (`ext::dl_secp256k1_ed25519_eq`). Signing is deterministic (RFC6979-style nonces derived
//! from the key and message), so the same inputs always give the same bytes.

use bitcoin::secp256k1;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::traits::IsIdentity;
use curve25519_dalek::Scalar as EdScalar;
use ecdsa_fun::adaptor::{Adaptor, EncryptedSignature as FunEncryptedSignature, HashTranscript};
use ecdsa_fun::fun::marker::{NonZero, Normal, Public, Secret};
use ecdsa_fun::fun::{nonce::Deterministic, Point, Scalar, G};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sigma_fun::ext::dl_secp256k1_ed25519_eq::{CrossCurveDLEQ, CrossCurveDLEQProof};

/// A secret secp256k1 scalar (non-zero).
pub type SecpScalar = Scalar<Secret, NonZero>;
/// A public secp256k1 point (non-zero, normalized).
pub type SecpPoint = Point<Normal, Public, NonZero>;
/// An ECDSA adaptor signature ("encrypted signature"): decrypting it with the secret of the
/// encryption key gives a valid signature, and publishing that signature reveals the secret.
pub type EncryptedSignature = FunEncryptedSignature;

type Transcript = HashTranscript<Sha256, ChaCha20Rng>;
type AdaptorScheme = Adaptor<Transcript, Deterministic<Sha256>>;

/// Errors from verifying cryptographic material received from a counterparty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The cross-curve DLEQ proof does not prove that the two points share a discrete log.
    #[error("cross-curve dleq proof does not verify")]
    InvalidDleqProof,
    /// The encrypted signature would not decrypt to a valid signature on this message.
    #[error("encrypted signature does not verify")]
    InvalidEncryptedSignature,
    /// A plain ECDSA signature does not verify.
    #[error("signature does not verify")]
    InvalidSignature,
    /// The bytes are not a valid ed25519 point in the prime-order subgroup.
    #[error("invalid ed25519 point")]
    InvalidEdPoint,
    /// The published signature is not the decryption of our encrypted signature.
    #[error("published signature does not reveal the adaptor secret")]
    SecretNotRecoverable,
}

/// An ed25519 point in the prime-order subgroup, never the identity.
///
/// Serialized as its 32-byte compressed form; deserialization rejects invalid points, small-order
/// points and points with a torsion component, so a value of this type is always safe to use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EdPoint(EdwardsPoint);

impl EdPoint {
    /// The point `scalar · G` on ed25519.
    pub fn from_scalar(scalar: &EdScalar) -> EdPoint {
        EdPoint(EdwardsPoint::mul_base(scalar))
    }

    /// Parses and validates a compressed point.
    ///
    /// # Errors
    /// [`CryptoError::InvalidEdPoint`] when the bytes do not decompress, or the point is the
    /// identity or not torsion-free.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<EdPoint, CryptoError> {
        let point = CompressedEdwardsY(bytes)
            .decompress()
            .ok_or(CryptoError::InvalidEdPoint)?;
        if !point.is_torsion_free() || point.is_identity() {
            return Err(CryptoError::InvalidEdPoint);
        }
        Ok(EdPoint(point))
    }

    /// The 32-byte compressed form.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.compress().to_bytes()
    }

    /// The underlying dalek point.
    pub fn point(&self) -> &EdwardsPoint {
        &self.0
    }
}

impl std::fmt::Debug for EdPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EdPoint(")?;
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Serialize for EdPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_bytes().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EdPoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = <[u8; 32]>::deserialize(d)?;
        EdPoint::from_bytes(bytes).map_err(serde::de::Error::custom)
    }
}

/// A proof that a secp256k1 point and an ed25519 point have the same 252-bit discrete log.
///
/// Held in its encoded form (about 57 KB): parsing it decompresses 504 curve points, so that
/// work is done only when the proof is verified, never when a stored state or a message is
/// merely copied, stored or loaded.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DleqProof(Vec<u8>);

impl std::fmt::Debug for DleqProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DleqProof({} bytes)", self.0.len())
    }
}

/// The largest encoded DLEQ proof accepted (a valid one is about 57 KB).
pub const MAX_DLEQ_PROOF_BYTES: usize = 96 * 1024;

impl DleqProof {
    /// The encoded proof.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn encode(proof: &CrossCurveDLEQProof) -> DleqProof {
        let bytes = bincode::serde::encode_to_vec(proof, bincode::config::standard())
            .expect("encoding a proof into a Vec cannot fail");
        DleqProof(bytes)
    }

    fn decode(&self) -> Result<CrossCurveDLEQProof, CryptoError> {
        if self.0.len() > MAX_DLEQ_PROOF_BYTES {
            return Err(CryptoError::InvalidDleqProof);
        }
        let config = bincode::config::standard().with_limit::<MAX_DLEQ_PROOF_BYTES>();
        match bincode::serde::decode_from_slice(&self.0, config) {
            Ok((proof, read)) if read == self.0.len() => Ok(proof),
            _ => Err(CryptoError::InvalidDleqProof),
        }
    }
}

/// Hashes a tag to a secp256k1 point nobody knows the discrete log of.
fn secp_nums_point(tag: &[u8]) -> Point {
    Point::hash_to_curve(Sha256::default().chain_update(tag))
}

/// Hashes a tag to an ed25519 point of prime order nobody knows the discrete log of
/// (try-and-increment, then clear the cofactor).
fn ed_nums_point(tag: &[u8]) -> curve25519_dalek_ng::edwards::EdwardsPoint {
    for counter in 0u32.. {
        let hash: [u8; 32] = Sha256::new()
            .chain_update(tag)
            .chain_update(counter.to_le_bytes())
            .finalize()
            .into();
        if let Some(point) = CompressedEdwardsY(hash).decompress() {
            let point = point.mul_by_cofactor();
            if !point.is_identity() {
                return curve25519_dalek_ng::edwards::CompressedEdwardsY(
                    point.compress().to_bytes(),
                )
                .decompress()
                .expect("a point dalek v4 decompressed also decompresses in dalek-ng");
            }
        }
    }
    unreachable!("half of all 32-byte strings decompress")
}

fn dleq_system() -> CrossCurveDLEQ<Transcript> {
    CrossCurveDLEQ::new(
        secp_nums_point(b"confiaro/dleq/pedersen-h/secp256k1/v1"),
        ed_nums_point(b"confiaro/dleq/pedersen-h/ed25519/v1"),
    )
}

/// The secp256k1 view of an ed25519 scalar below 2^252: the same integer, read big-endian.
///
/// # Panics
/// If `scalar` is zero (callers derive spend shares that are never zero).
pub fn ed_scalar_to_secp(scalar: &EdScalar) -> SecpScalar {
    let mut bytes = scalar.to_bytes();
    bytes.reverse();
    Scalar::from_bytes(bytes)
        .expect("an ed25519 scalar is always below the secp256k1 order")
        .non_zero()
        .expect("spend shares are never zero")
}

/// The ed25519 view of a secp256k1 scalar recovered from an adaptor signature.
///
/// # Errors
/// [`CryptoError::SecretNotRecoverable`] when the integer is not a canonical ed25519 scalar
/// (it cannot be, if it came from a spend share proven with a DLEQ proof).
pub fn secp_scalar_to_ed(scalar: &SecpScalar) -> Result<EdScalar, CryptoError> {
    let mut bytes = scalar.to_bytes();
    bytes.reverse();
    Option::from(EdScalar::from_canonical_bytes(bytes)).ok_or(CryptoError::SecretNotRecoverable)
}

/// Proves that `secret · G` on secp256k1 and `secret · G` on ed25519 share `secret`.
///
/// Returns the proof and both points. `rng_seed` makes the proof deterministic; derive it from
/// the swap secrets (see [`crate::keys`]).
///
/// # Panics
/// If `secret` is zero or not below 2^252 ([`crate::keys`] never derives such a share).
pub fn dleq_prove(secret: &EdScalar, rng_seed: [u8; 32]) -> (DleqProof, SecpPoint, EdPoint) {
    let ng_secret = curve25519_dalek_ng::scalar::Scalar::from_canonical_bytes(secret.to_bytes())
        .expect("a dalek v4 scalar is canonical");
    let mut rng = ChaCha20Rng::from_seed(rng_seed);
    let (proof, (secp, _ed)) = dleq_system().prove(&ng_secret, &mut rng);
    (
        DleqProof::encode(&proof),
        secp,
        EdPoint::from_scalar(secret),
    )
}

/// Verifies a cross-curve DLEQ proof for the claimed pair of points.
///
/// # Errors
/// [`CryptoError::InvalidDleqProof`] when the proof does not verify for exactly these points.
pub fn dleq_verify(proof: &DleqProof, secp: &SecpPoint, ed: &EdPoint) -> Result<(), CryptoError> {
    let ed_ng = curve25519_dalek_ng::edwards::CompressedEdwardsY(ed.to_bytes())
        .decompress()
        .ok_or(CryptoError::InvalidEdPoint)?;
    let proof = proof.decode()?;
    if dleq_system().verify(&proof, (*secp, ed_ng)) {
        Ok(())
    } else {
        Err(CryptoError::InvalidDleqProof)
    }
}

fn adaptor() -> AdaptorScheme {
    AdaptorScheme::default()
}

/// The public point `secret · G` on secp256k1.
pub fn secp_public(secret: &SecpScalar) -> SecpPoint {
    ecdsa_fun::fun::g!(secret * G).normalize()
}

/// Converts a secp256k1 point to a compressed Bitcoin public key.
pub fn to_bitcoin_key(point: &SecpPoint) -> bitcoin::PublicKey {
    bitcoin::PublicKey::new(
        secp256k1::PublicKey::from_slice(&point.to_bytes()).expect("a valid point is a valid key"),
    )
}

/// Signs a 32-byte message hash (a sighash or a commitment hash) with plain ECDSA, low-S.
pub fn sign(secret: &SecpScalar, message: &[u8; 32]) -> secp256k1::ecdsa::Signature {
    let ecdsa = ecdsa_fun::ECDSA::new(Deterministic::<Sha256>::default());
    ecdsa.sign(secret, message).into()
}

/// Converts a libsecp256k1 signature, which may carry a zero `r` or `s` (DER parsing yields
/// zero for out-of-range integers), into ecdsa_fun's, which cannot. `None` for such a
/// signature: it is invalid anyway. (ecdsa_fun's own `From` conversion panics on it.)
fn to_fun_signature(signature: &secp256k1::ecdsa::Signature) -> Option<ecdsa_fun::Signature> {
    ecdsa_fun::Signature::from_bytes(signature.serialize_compact())
}

/// Verifies a plain ECDSA signature.
///
/// # Errors
/// [`CryptoError::InvalidSignature`] when it does not verify.
pub fn verify(
    key: &SecpPoint,
    message: &[u8; 32],
    signature: &secp256k1::ecdsa::Signature,
) -> Result<(), CryptoError> {
    let sig = to_fun_signature(signature).ok_or(CryptoError::InvalidSignature)?;
    if ecdsa_fun::ECDSA::verify_only().verify(key, message, &sig) {
        Ok(())
    } else {
        Err(CryptoError::InvalidSignature)
    }
}

/// Creates an adaptor signature on `message` under `signing_key`, encrypted to `encryption_key`.
pub fn encrypted_sign(
    signing_key: &SecpScalar,
    encryption_key: &SecpPoint,
    message: &[u8; 32],
) -> EncryptedSignature {
    adaptor().encrypted_sign(signing_key, encryption_key, message)
}

/// Checks that `encrypted` decrypts (with the secret of `encryption_key`) to a valid signature
/// by `verification_key` on `message`.
///
/// # Errors
/// [`CryptoError::InvalidEncryptedSignature`] when it does not.
pub fn verify_encrypted_signature(
    verification_key: &SecpPoint,
    encryption_key: &SecpPoint,
    message: &[u8; 32],
    encrypted: &EncryptedSignature,
) -> Result<(), CryptoError> {
    if adaptor().verify_encrypted_signature(verification_key, encryption_key, message, encrypted) {
        Ok(())
    } else {
        Err(CryptoError::InvalidEncryptedSignature)
    }
}

/// Decrypts an adaptor signature with the decryption secret. Publishing the result reveals
/// `decryption_key` to whoever holds `encrypted`.
pub fn decrypt_signature(
    decryption_key: &SecpScalar,
    encrypted: &EncryptedSignature,
) -> secp256k1::ecdsa::Signature {
    adaptor()
        .decrypt_signature(decryption_key, encrypted.clone())
        .into()
}

/// Recovers the decryption secret from a published signature and the adaptor signature it was
/// decrypted from.
///
/// # Errors
/// [`CryptoError::SecretNotRecoverable`] when `published` is not the decryption of `encrypted`
/// under `encryption_key`.
pub fn recover_decryption_key(
    encryption_key: &SecpPoint,
    published: &secp256k1::ecdsa::Signature,
    encrypted: &EncryptedSignature,
) -> Result<SecpScalar, CryptoError> {
    let sig = to_fun_signature(published).ok_or(CryptoError::SecretNotRecoverable)?;
    adaptor()
        .recover_decryption_key(encryption_key, &sig, encrypted)
        .ok_or(CryptoError::SecretNotRecoverable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed_secret(byte: u8) -> EdScalar {
        let mut bytes = [byte; 32];
        bytes[31] &= 0x0f;
        EdScalar::from_canonical_bytes(bytes).unwrap()
    }

    #[test]
    fn dleq_proof_verifies_for_its_points_and_not_for_others() {
        let (proof, secp, ed) = dleq_prove(&ed_secret(7), [1; 32]);
        assert_eq!(dleq_verify(&proof, &secp, &ed), Ok(()));
        let (_, other_secp, other_ed) = dleq_prove(&ed_secret(8), [2; 32]);
        assert_eq!(
            dleq_verify(&proof, &other_secp, &ed),
            Err(CryptoError::InvalidDleqProof)
        );
        assert_eq!(
            dleq_verify(&proof, &secp, &other_ed),
            Err(CryptoError::InvalidDleqProof)
        );
        // the secp point really is the same integer times G
        assert_eq!(secp_public(&ed_scalar_to_secp(&ed_secret(7))), secp);
    }

    #[test]
    fn adaptor_signature_round_trip_reveals_the_secret() {
        let signer = ed_scalar_to_secp(&ed_secret(3));
        let decryption = ed_scalar_to_secp(&ed_secret(5));
        let encryption_key = secp_public(&decryption);
        let message = [9u8; 32];
        let encrypted = encrypted_sign(&signer, &encryption_key, &message);
        let signer_key = secp_public(&signer);
        assert_eq!(
            verify_encrypted_signature(&signer_key, &encryption_key, &message, &encrypted),
            Ok(())
        );
        assert!(
            verify_encrypted_signature(&signer_key, &encryption_key, &[8u8; 32], &encrypted)
                .is_err()
        );
        let signature = decrypt_signature(&decryption, &encrypted);
        assert_eq!(verify(&signer_key, &message, &signature), Ok(()));
        let recovered = recover_decryption_key(&encryption_key, &signature, &encrypted).unwrap();
        assert_eq!(recovered, decryption);
        assert_eq!(secp_scalar_to_ed(&recovered).unwrap(), ed_secret(5));
        let unrelated = sign(&signer, &message);
        assert_eq!(
            recover_decryption_key(&encryption_key, &unrelated, &encrypted),
            Err(CryptoError::SecretNotRecoverable)
        );
    }

    #[test]
    fn ed_points_with_torsion_are_rejected() {
        // the identity and a small-order point
        assert!(EdPoint::from_bytes(EdwardsPoint::default().compress().to_bytes()).is_err());
        let small_order = curve25519_dalek::constants::EIGHT_TORSION[1]
            .compress()
            .to_bytes();
        assert!(EdPoint::from_bytes(small_order).is_err());
        let good = EdPoint::from_scalar(&ed_secret(4));
        assert_eq!(EdPoint::from_bytes(good.to_bytes()), Ok(good));
    }
}
