//! Monero key math: the shared spend and view keys of a swap and its lock address.
//!
//! The XMR is locked to the address with public spend key `S_a + S_b` and private view key
//! `v_a + v_b`. Whoever learns both spend shares (`s_a + s_b`) can sweep it.

use crate::crypto::EdPoint;
use crate::network::Network;
use curve25519_dalek::Scalar as EdScalar;
use monero::util::key::{PrivateKey, PublicKey};

/// The shared private view key `v = v_a + v_b`.
pub fn shared_view_key(view_a: &EdScalar, view_b: &EdScalar) -> EdScalar {
    view_a + view_b
}

/// The shared private spend key `s = s_a + s_b`, known only once a secret is revealed.
pub fn shared_spend_key(spend_a: &EdScalar, spend_b: &EdScalar) -> EdScalar {
    spend_a + spend_b
}

/// The public spend key of the lock address, `S_a + S_b`.
pub fn shared_public_spend(spend_a: &EdPoint, spend_b: &EdPoint) -> PublicKey {
    PublicKey {
        point: (spend_a.point() + spend_b.point()).compress(),
    }
}

/// Converts a scalar to a `monero` private key.
pub fn private_key(scalar: &EdScalar) -> PrivateKey {
    PrivateKey { scalar: *scalar }
}

/// The lock address for `network` (regtest uses mainnet prefixes, as monerod does).
pub fn lock_address(
    network: Network,
    spend_a: &EdPoint,
    spend_b: &EdPoint,
    view: &EdScalar,
) -> monero::Address {
    let public_view = PublicKey::from_private_key(&private_key(view));
    monero::Address::standard(
        network.monero(),
        shared_public_spend(spend_a, spend_b),
        public_view,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(byte: u8) -> EdScalar {
        EdScalar::from_bytes_mod_order([byte; 32])
    }

    #[test]
    fn address_from_shares_matches_address_from_combined_key() {
        let (s_a, s_b, v_a, v_b) = (scalar(1), scalar(2), scalar(3), scalar(4));
        let view = shared_view_key(&v_a, &v_b);
        let from_shares = lock_address(
            Network::Regtest,
            &EdPoint::from_scalar(&s_a),
            &EdPoint::from_scalar(&s_b),
            &view,
        );
        let spend = private_key(&shared_spend_key(&s_a, &s_b));
        let pair = monero::KeyPair {
            view: private_key(&view),
            spend,
        };
        assert_eq!(
            from_shares,
            monero::Address::from_keypair(monero::Network::Mainnet, &pair)
        );
        let stagenet = lock_address(
            Network::Signet,
            &EdPoint::from_scalar(&s_a),
            &EdPoint::from_scalar(&s_b),
            &view,
        );
        assert!(stagenet.to_string().starts_with('5'), "stagenet prefix");
        assert!(from_shares.to_string().starts_with('4'), "mainnet prefix");
    }
}
