//! Delivery until acknowledged: [`send_with_retry`] re-sends a message with exponential
//! backoff until the peer acknowledges it or the caller cancels.
//!
//! The state machine decides when a message is no longer needed (e.g. the swap moved on or
//! was aborted) and cancels the [`CancellationToken`]; this module never gives up on its own
//! for transport failures. Re-sending means the peer may receive a message more than once,
//! so receivers must treat repeats as harmless (the protocol machines do).

use crate::error::SendError;
use crate::network::Network;
use crate::protocol::SwapProtocol;
use libp2p::PeerId;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Delays between attempts: `initial`, doubled after each failure, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 500 ms, doubling up to 30 s.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

/// Sends `payload` to `peer` on `protocol` until it is acknowledged, retrying transport
/// failures ([`SendError::is_retryable`]) with `backoff`, until `cancel` is cancelled.
///
/// Returns the ack's payload.
///
/// # Errors
/// [`SendError::Cancelled`] once `cancel` fires; otherwise the first non-retryable error
/// ([`SendError::Refused`], [`SendError::TooLarge`], [`SendError::UnsupportedProtocol`],
/// [`SendError::InvalidReply`], [`SendError::Stopped`]).
pub async fn send_with_retry(
    network: &Network,
    peer: PeerId,
    protocol: SwapProtocol,
    payload: Vec<u8>,
    backoff: Backoff,
    cancel: &CancellationToken,
) -> Result<Option<Vec<u8>>, SendError> {
    let mut delay = backoff.initial;
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(SendError::Cancelled),
            result = network.send(peer, protocol, payload.clone()) => result,
        };
        match result {
            Ok(ack) => return Ok(ack),
            Err(error) if error.is_retryable() => {
                tracing::debug!(%peer, %protocol, attempt, %error, ?delay, "send failed, retrying");
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(SendError::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = delay.saturating_mul(2).min(backoff.max);
            }
            Err(error) => return Err(error),
        }
    }
}
