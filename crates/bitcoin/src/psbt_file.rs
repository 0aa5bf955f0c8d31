//! PSBT export and import, for signing the swap's lock transaction with an external signer
//! (a hardware wallet, Sparrow, Bitcoin Core's `walletprocesspsbt`).
//!
//! Export writes the PSBT as base64 text (what those tools read and print) to a file,
//! atomically; import reads base64 text or the binary format (BIP174's `psbt\xff` magic),
//! then [`import_signed_lock`] accepts the signed PSBT only if it is the same transaction,
//! fully finalized, and every input's signature verifies against the output it spends (the
//! wallet's inputs are P2WPKH: BIP143 sighash, low-S ECDSA, the key matching the script).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use bitcoin::ecdsa::Signature as EcdsaSignature;
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::{Message, Secp256k1};
use bitcoin::sighash::SighashCache;
use bitcoin::{CompressedPublicKey, ScriptBuf, Transaction, TxOut};
use confiaro_protocol::btc::{TxError, TxLock};

/// BIP174's magic bytes at the start of a binary PSBT.
const PSBT_MAGIC: &[u8] = b"psbt\xff";
/// The largest PSBT file we read (a lock PSBT is a few kB).
const MAX_PSBT_FILE: u64 = 16 * 1024 * 1024;

/// Why a PSBT could not be exported or imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PsbtFileError {
    /// The file could not be written or read.
    #[error("PSBT file {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The file is larger than any PSBT we would sign.
    #[error("PSBT file {path} is {size} bytes: too large to be a PSBT")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The text is neither base64 nor a binary PSBT, or does not decode as a PSBT.
    #[error("not a PSBT (expected base64 text or a binary PSBT): {0}")]
    Parse(String),
    /// The signed PSBT is not the lock transaction that was exported, or is not fully
    /// finalized.
    #[error("signed PSBT refused: {0}")]
    Lock(#[from] TxError),
    /// An input's signature does not verify, or its witness does not fit the output it
    /// spends.
    #[error("signed PSBT refused: input {index} does not verify ({reason})")]
    BadSignature {
        /// The failing input.
        index: usize,
        /// libbitcoinconsensus's error.
        reason: String,
    },
    /// An input carries no `witness_utxo`, so its signature cannot be checked.
    #[error("signed PSBT refused: input {index} has no witness_utxo")]
    MissingSpentOutput {
        /// The input.
        index: usize,
    },
}

/// The PSBT as base64 text (BIP174's text form).
pub fn to_base64(psbt: &Psbt) -> String {
    base64::engine::general_purpose::STANDARD.encode(psbt.serialize())
}

/// Decodes a PSBT from base64 text (surrounding whitespace ignored) or from the binary form.
///
/// # Errors
///
/// [`PsbtFileError::Parse`] if it is neither.
pub fn parse(bytes: &[u8]) -> Result<Psbt, PsbtFileError> {
    if bytes.starts_with(PSBT_MAGIC) {
        return Psbt::deserialize(bytes).map_err(|e| PsbtFileError::Parse(e.to_string()));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| PsbtFileError::Parse("neither UTF-8 text nor binary PSBT".into()))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| PsbtFileError::Parse(format!("base64: {e}")))?;
    Psbt::deserialize(&raw).map_err(|e| PsbtFileError::Parse(e.to_string()))
}

/// Writes `psbt` as base64 text to `path`, atomically: a crash leaves either the old file or
/// the complete new one, never a truncated PSBT.
///
/// # Errors
///
/// [`PsbtFileError::Io`] if the file cannot be written (full disk, no permission); the
/// temporary file is removed.
pub fn write(psbt: &Psbt, path: &Path) -> Result<(), PsbtFileError> {
    let io = |e: std::io::Error| PsbtFileError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".partial");
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(to_base64(psbt).as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Reads a PSBT file written by [`write`] or by another tool (base64 text or binary).
///
/// # Errors
///
/// [`PsbtFileError::Io`], [`PsbtFileError::TooLarge`] or [`PsbtFileError::Parse`].
pub fn read(path: &Path) -> Result<Psbt, PsbtFileError> {
    let io = |e: std::io::Error| PsbtFileError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_PSBT_FILE {
        return Err(PsbtFileError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    parse(&std::fs::read(path).map_err(io)?)
}

/// Accepts `signed` as the signed form of `lock` and returns the lock transaction to
/// broadcast: it must be the same transaction (same txid), every input finalized with a
/// witness, and every input a P2WPKH spend whose signature verifies for the output it spends
/// (the PSBT's `witness_utxo`; the txid commits to the outpoints and BIP143 signatures to
/// the values, so a lying `witness_utxo` only fails here or on the network).
///
/// # Errors
///
/// [`PsbtFileError::Lock`] if it is another transaction or not fully finalized;
/// [`PsbtFileError::MissingSpentOutput`]; [`PsbtFileError::BadSignature`].
pub fn import_signed_lock(lock: &TxLock, signed: Psbt) -> Result<Transaction, PsbtFileError> {
    let spent: Vec<_> = signed
        .inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            input
                .witness_utxo
                .clone()
                .ok_or(PsbtFileError::MissingSpentOutput { index })
        })
        .collect::<Result<_, _>>()?;
    let tx = lock.complete(signed)?;
    for (index, out) in spent.iter().enumerate() {
        verify_p2wpkh_input(&tx, index, out)
            .map_err(|reason| PsbtFileError::BadSignature { index, reason })?;
    }
    Ok(tx)
}

/// Verifies input `index` of `tx` as a P2WPKH spend of `spent`.
fn verify_p2wpkh_input(tx: &Transaction, index: usize, spent: &TxOut) -> Result<(), String> {
    let witness = &tx.input[index].witness;
    let (Some(sig), Some(key), 2) = (witness.nth(0), witness.nth(1), witness.len()) else {
        return Err("not a P2WPKH witness (signature, key)".into());
    };
    let key = CompressedPublicKey::from_slice(key).map_err(|e| format!("bad public key: {e}"))?;
    if spent.script_pubkey != ScriptBuf::new_p2wpkh(&key.wpubkey_hash()) {
        return Err("the key does not match the spent output's script".into());
    }
    let sig =
        EcdsaSignature::from_slice(sig).map_err(|e| format!("bad signature encoding: {e}"))?;
    let sighash = SighashCache::new(tx)
        .p2wpkh_signature_hash(index, &spent.script_pubkey, spent.value, sig.sighash_type)
        .map_err(|e| format!("sighash: {e}"))?;
    let mut normalized = sig.signature;
    normalized.normalize_s();
    if normalized != sig.signature {
        return Err("high-S signature (non-standard)".into());
    }
    Secp256k1::verification_only()
        .verify_ecdsa(&Message::from(sighash), &sig.signature, &key.0)
        .map_err(|e| format!("signature: {e}"))
}
