//! Everything the engine derives from the wallet's BIP39 mnemonic, so that the mnemonic alone
//! restores every wallet:
//!
//! - the 64-byte BIP39 seed (empty passphrase): the Bitcoin wallet's BIP84 descriptors and,
//!   with fresh entropy per swap ([`EngineKeys::new_swap_secrets`]), the per-swap keys
//!   ([`confiaro_protocol::keys`]). A swap's keys live in its sealed stored state; they are
//!   deliberately *not* recoverable from the mnemonic alone, because a counterparty picks the
//!   swap id and must never make us derive the keys of an earlier swap again;
//! - the libp2p identity (HKDF-SHA256, info `confiaro/libp2p-identity/v1`): a stable PeerId;
//! - the libp2p identity of each swap the engine opens as a taker (HKDF-SHA256, info
//!   `confiaro/libp2p-swap-identity/v1/<swap id>`, [`EngineKeys::swap_identity`]): one
//!   PeerId per swap, unlinkable to the others without the seed, and the same after a
//!   restart. Only for swap ids this engine drew itself;
//! - the built-in Monero wallet: spend key from HKDF (info `confiaro/monero-wallet/v1`) reduced
//!   modulo ℓ, view key `Keccak256(spend) mod ℓ` as in Monero's own wallets;
//! - the password of the Monero wallet files the engine keeps (HKDF, info
//!   `confiaro/monero-wallet-password/v1`).
//!
//! Nothing here is printed: `Debug` of [`EngineKeys`] is redacted.

use confiaro_bitcoin::Mnemonic;
use confiaro_p2p::IdentitySecret;
use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
use confiaro_protocol::{Role, SwapId};
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

    /// The libp2p identity of taker swap `swap_id` (see the module docs). Call it only for a
    /// swap id this engine drew: a peer must not choose which identity we derive.
    pub fn swap_identity(&self, swap_id: &SwapId) -> IdentitySecret {
        let mut identity = [0u8; 32];
        identity.copy_from_slice(
            &expand(
                &self.seed.0,
                &format!("confiaro/libp2p-swap-identity/v1/{swap_id}"),
            )[..32],
        );
        IdentitySecret::from_bytes(identity)
    }

    /// The secrets of a new swap: derived from the seed, the swap id, our role and 32 bytes
    /// fresh from the OS, so they never repeat, even for a swap id seen before (after a
    /// restore from the mnemonic, or on a second instance with the same seed). Store them
    /// with the swap's state; they cannot be derived again.
    ///
    /// # Errors
    /// When the OS's random generator fails.
    pub fn new_swap_secrets(
        &self,
        swap_id: &SwapId,
        role: Role,
    ) -> Result<SwapSecrets, getrandom::Error> {
        let mut entropy = [0u8; 32];
        getrandom::getrandom(&mut entropy)?;
        Ok(SwapSecrets::derive(
            &self.seed,
            swap_id,
            role,
            &SwapEntropy(entropy),
        ))
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

    /// Finding 1 (docs/2026-12-06-malicious-counterparty.md): a maker restored from its
    /// mnemonic into an empty data directory is offered a swap id it used before; the keys it
    /// makes for it must not be the ones the taker learnt from the earlier swap.
    #[test]
    fn a_restored_wallet_offered_an_old_swap_id_makes_new_keys() {
        let words = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let before_restore = EngineKeys::derive(&mnemonic(words));
        let after_restore = EngineKeys::derive(&mnemonic(words));
        let swap_id = SwapId([0x42; 32]);
        let old = before_restore
            .new_swap_secrets(&swap_id, Role::Alice)
            .unwrap();
        let new = after_restore
            .new_swap_secrets(&swap_id, Role::Alice)
            .unwrap();
        assert_ne!(old.spend, new.spend, "the Monero spend share repeats");
        assert_ne!(old.btc, new.btc, "the 2-of-2 key repeats");
        assert_ne!(old.view, new.view, "the view share repeats");
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
