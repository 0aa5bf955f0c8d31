//! Everything the engine derives from the wallet's BIP39 mnemonic, so that the mnemonic alone
//! restores every wallet and every swap:
//!
//! - the 64-byte BIP39 seed (empty passphrase): the Bitcoin wallet's BIP84 descriptors and
//!   the per-swap keys ([`confiaro_protocol::keys`]);
//! - the libp2p identity (HKDF-SHA256, info `confiaro/libp2p-identity/v1`): a stable PeerId;
//! - the built-in Monero wallet: spend key from HKDF (info `confiaro/monero-wallet/v1`) reduced
//!   modulo ℓ, view key `Keccak256(spend) mod ℓ` as in Monero's own wallets;
//! - the password of the Monero wallet files the engine keeps (HKDF, info
//!   `confiaro/monero-wallet-password/v1`).
//!
//! Nothing here is printed: `Debug` of [`EngineKeys`] is redacted.

use confiaro_bitcoin::Mnemonic;
use confiaro_p2p::IdentitySecret;
use confiaro_protocol::keys::WalletSeed;
use curve25519_dalek::Scalar;
use hkdf::Hkdf;
use monero::{Address, KeyPair, PrivateKey};
use sha2::Sha256;

const SALT: &[u8] = b"confiaro/engine-keys/v1";

/// The keys of one wallet. Never logged.
#[derive(Clone)]
pub struct EngineKeys {
    /// The BIP39 mnemonic.
    pub mnemonic: Mnemonic,
    /// Its 64-byte seed (empty passphrase).
    pub seed: WalletSeed,
    /// The libp2p identity.
    pub identity: IdentitySecret,
    /// The built-in Monero wallet's keys.
    pub monero: KeyPair,
    /// The password of the engine's Monero wallet files (hex).
    pub monero_wallet_password: String,
}

impl std::fmt::Debug for EngineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EngineKeys(<redacted>)")
    }
}

fn expand(seed: &[u8; 64], info: &str) -> [u8; 64] {
    let hk = Hkdf::<Sha256>::new(Some(SALT), seed);
    let mut out = [0u8; 64];
    hk.expand(info.as_bytes(), &mut out)
        .expect("64 bytes is a valid HKDF-SHA256 output length");
    out
}

impl EngineKeys {
    /// Derives every key from `mnemonic`.
    pub fn derive(mnemonic: &Mnemonic) -> EngineKeys {
        let seed = mnemonic.to_seed("");
        let mut identity = [0u8; 32];
        identity.copy_from_slice(&expand(&seed, "confiaro/libp2p-identity/v1")[..32]);
        let spend = Scalar::from_bytes_mod_order_wide(&expand(&seed, "confiaro/monero-wallet/v1"));
        let view =
            Scalar::from_bytes_mod_order(monero::cryptonote::hash::keccak_256(spend.as_bytes()));
        let monero = KeyPair {
            view: PrivateKey::from_slice(view.as_bytes()).expect("a reduced scalar is a key"),
            spend: PrivateKey::from_slice(spend.as_bytes()).expect("a reduced scalar is a key"),
        };
        let password = hex::encode(&expand(&seed, "confiaro/monero-wallet-password/v1")[..32]);
        EngineKeys {
            mnemonic: mnemonic.clone(),
            seed: WalletSeed(seed),
            identity: IdentitySecret::from_bytes(identity),
            monero,
            monero_wallet_password: password,
        }
    }

    /// The built-in Monero wallet's primary address on `network`.
    pub fn monero_address(&self, network: confiaro_protocol::Network) -> Address {
        Address::from_keypair(network.monero(), &self.monero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mnemonic(words: &str) -> Mnemonic {
        Mnemonic::parse(words).expect("valid mnemonic")
    }

    #[test]
    fn the_same_mnemonic_gives_the_same_keys_and_another_gives_others() {
        let a = mnemonic("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about");
        let b =
            mnemonic("legal winner thank year wave sausage worth useful legal winner thank yellow");
        let (a1, a2, b1) = (
            EngineKeys::derive(&a),
            EngineKeys::derive(&a),
            EngineKeys::derive(&b),
        );
        let network = confiaro_protocol::Network::Regtest;
        assert_eq!(a1.monero_address(network), a2.monero_address(network));
        assert_eq!(
            a1.identity.peer_id().unwrap(),
            a2.identity.peer_id().unwrap()
        );
        assert_ne!(a1.monero_address(network), b1.monero_address(network));
        assert_ne!(
            a1.identity.peer_id().unwrap(),
            b1.identity.peer_id().unwrap()
        );
        assert_ne!(a1.monero_wallet_password, b1.monero_wallet_password);
        assert_eq!(format!("{a1:?}"), "EngineKeys(<redacted>)");
    }

    #[test]
    fn the_monero_view_key_follows_monero_wallets_convention() {
        let keys = EngineKeys::derive(&mnemonic(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        ));
        let expected = Scalar::from_bytes_mod_order(monero::cryptonote::hash::keccak_256(
            &keys.monero.spend.to_bytes(),
        ));
        assert_eq!(keys.monero.view.to_bytes(), expected.to_bytes());
    }
}
