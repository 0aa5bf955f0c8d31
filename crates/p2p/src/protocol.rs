//! The swap protocols this crate carries: their wire names, size limits and timeouts.
//!
//! Every protocol name carries a version (`/1`). A node only speaks the versions it knows, so
//! a peer on another version fails with [`crate::SendError::UnsupportedProtocol`] instead of
//! exchanging bytes it cannot read.

use libp2p::StreamProtocol;
use std::fmt;
use std::time::Duration;

/// Size limit of the quote protocol: `confiaro_protocol::quote::MAX_QUOTE_BYTES` (60 KiB, a
/// quote may carry a Monero reserve proof) plus headroom.
pub const QUOTE_MAX_BYTES: usize = 64 * 1024;

/// Size limit shared by the small messages (transfer proof, encrypted signature, abort).
///
/// Matches `confiaro_protocol::messages`' limit for small kinds (2 KiB) with headroom.
pub const SMALL_MAX_BYTES: usize = 16 * 1024;

/// Size limit of the swap-setup protocol: `confiaro_protocol::messages::MAX_MESSAGE_BYTES`
/// (128 KiB, a setup message carries a ~50 KiB DLEQ proof) plus headroom.
pub const SETUP_MAX_BYTES: usize = 160 * 1024;

/// The longest reason string a refusal may carry, in bytes.
pub const MAX_REFUSAL_REASON_BYTES: usize = 1024;

/// One of the request-response protocols of a swap.
///
/// Each has its own libp2p protocol name, maximum payload size (checked before sending and
/// before allocating on receipt) and request timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SwapProtocol {
    /// `/confiaro/quote/2`: a taker asks a maker for a price and limits (and gets a reserve
    /// proof when the maker attaches one).
    Quote,
    /// `/confiaro/swap-setup/1`: the setup messages (keys, proofs, lock proposal, signatures).
    SwapSetup,
    /// `/confiaro/transfer-proof/1`: Alice tells Bob where her XMR lock is.
    TransferProof,
    /// `/confiaro/encrypted-signature/1`: Bob sends the encrypted redeem signature.
    EncryptedSignature,
    /// `/confiaro/abort/1`: either side says the swap will not continue.
    Abort,
}

impl SwapProtocol {
    /// All protocols, in a fixed order.
    pub const ALL: [SwapProtocol; 5] = [
        SwapProtocol::Quote,
        SwapProtocol::SwapSetup,
        SwapProtocol::TransferProof,
        SwapProtocol::EncryptedSignature,
        SwapProtocol::Abort,
    ];

    /// The versioned libp2p protocol name, e.g. `/confiaro/quote/2`.
    pub const fn name(self) -> &'static str {
        match self {
            SwapProtocol::Quote => "/confiaro/quote/2",
            SwapProtocol::SwapSetup => "/confiaro/swap-setup/1",
            SwapProtocol::TransferProof => "/confiaro/transfer-proof/1",
            SwapProtocol::EncryptedSignature => "/confiaro/encrypted-signature/1",
            SwapProtocol::Abort => "/confiaro/abort/1",
        }
    }

    /// The protocol name as a libp2p [`StreamProtocol`].
    pub const fn stream_protocol(self) -> StreamProtocol {
        StreamProtocol::new(self.name())
    }

    /// The largest request payload (and ack payload) accepted on this protocol, in bytes.
    ///
    /// Bigger payloads are refused before sending with [`crate::SendError::TooLarge`] and, on
    /// receipt, before any allocation (the sender is then disconnected).
    pub const fn max_message_bytes(self) -> usize {
        match self {
            SwapProtocol::SwapSetup => SETUP_MAX_BYTES,
            SwapProtocol::Quote => QUOTE_MAX_BYTES,
            _ => SMALL_MAX_BYTES,
        }
    }

    /// How long one request may take, dialing excluded, before it fails with
    /// [`crate::SendError::Timeout`].
    pub const fn default_timeout(self) -> Duration {
        match self {
            SwapProtocol::SwapSetup => Duration::from_secs(60),
            _ => Duration::from_secs(30),
        }
    }
}

impl fmt::Display for SwapProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_name_is_versioned_and_distinct() {
        let mut names: Vec<_> = SwapProtocol::ALL.iter().map(|p| p.name()).collect();
        assert!(
            names.iter().all(|n| n.starts_with("/confiaro/")
                && n.rsplit('/')
                    .next()
                    .is_some_and(|v| v.parse::<u32>().is_ok())),
            "{names:?}"
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SwapProtocol::ALL.len());
    }
}
