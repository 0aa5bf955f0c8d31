//! Small helpers for tests and benchmarks that spend coins on the devnet directly: a
//! deterministic P2WPKH key that signs its own spends.
//!
//! Keys are derived from one byte (`[byte; 32]`): publicly known, for regtest only.

use bitcoin::absolute::LockTime;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, CompressedPublicKey, Network, OutPoint, PublicKey, ScriptBuf, Sequence,
    Transaction, TxIn, TxOut, Witness,
};

/// A regtest key whose secret is `[byte; 32]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestKey {
    /// The secret key.
    pub secret: SecretKey,
    /// Its public key.
    pub public: PublicKey,
}

impl TestKey {
    /// The key with secret `[byte; 32]` (`byte` must not be 0).
    ///
    /// # Panics
    ///
    /// If `byte` is 0 (not a valid secret key).
    pub fn new(byte: u8) -> TestKey {
        let secret = SecretKey::from_slice(&[byte; 32]).expect("a non-zero byte is a valid key");
        TestKey {
            public: PublicKey::new(secret.public_key(&Secp256k1::new())),
            secret,
        }
    }

    /// The compressed public key.
    pub fn compressed(&self) -> CompressedPublicKey {
        CompressedPublicKey(self.public.inner)
    }

    /// Its P2WPKH script.
    pub fn p2wpkh(&self) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&self.compressed().wpubkey_hash())
    }

    /// Its P2WPKH regtest address.
    pub fn address(&self) -> Address {
        Address::p2wpkh(&self.compressed(), Network::Regtest)
    }

    /// Signs input `index` of `tx`, which spends `spent` (this key's P2WPKH output), with
    /// SIGHASH_ALL, and sets its witness.
    ///
    /// # Panics
    ///
    /// If `index` is not an input of `tx`.
    pub fn sign_p2wpkh(&self, tx: &mut Transaction, index: usize, spent: &TxOut) {
        let sighash = SighashCache::new(&*tx)
            .p2wpkh_signature_hash(
                index,
                &spent.script_pubkey,
                spent.value,
                EcdsaSighashType::All,
            )
            .expect("input index within the transaction");
        let sig = Secp256k1::new().sign_ecdsa(&Message::from(sighash), &self.secret);
        tx.input[index].witness = Witness::p2wpkh(
            &bitcoin::ecdsa::Signature::sighash_all(sig),
            &self.public.inner,
        );
    }

    /// A signed version-2 transaction spending `outpoint` (worth `value`, paying to this key)
    /// to `outputs`; the fee is whatever `outputs` leave.
    pub fn spend(&self, outpoint: OutPoint, value: Amount, outputs: Vec<TxOut>) -> Transaction {
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output: outputs,
        };
        let spent = TxOut {
            value,
            script_pubkey: self.p2wpkh(),
        };
        self.sign_p2wpkh(&mut tx, 0, &spent);
        tx
    }

    /// [`TestKey::spend`] of everything but `fee` to `to`.
    pub fn spend_to(
        &self,
        outpoint: OutPoint,
        value: Amount,
        to: ScriptBuf,
        fee: Amount,
    ) -> Transaction {
        self.spend(
            outpoint,
            value,
            vec![TxOut {
                value: value - fee,
                script_pubkey: to,
            }],
        )
    }
}
