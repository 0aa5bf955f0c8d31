//! The running drivers by swap: where the intake finds the inbox for a peer's message, the
//! engine the inbox for a user's command or the phase to follow, and the peer refresh the
//! counterparties still needed. A driver registers before it runs and leaves when it ends.

use std::collections::HashMap;

use confiaro_p2p::PeerId;
use confiaro_protocol::{Phase, SwapId};
use tokio::sync::watch;

use crate::inbox::DriverSender;

/// A running driver, as the engine knows it.
pub(crate) struct DriverHandle {
    pub(crate) sender: DriverSender,
    pub(crate) peer: PeerId,
    /// The latest phase (terminal once the driver ended).
    pub(crate) phase: watch::Receiver<Phase>,
}

/// The running drivers by swap. A driver leaves when it ends, so later messages and commands
/// for its swap are answered from the store (a finished swap: "the swap is over") instead of
/// meeting a closed channel.
#[derive(Default)]
pub(crate) struct SwapRegistry {
    drivers: std::sync::Mutex<HashMap<SwapId, DriverHandle>>,
}

impl SwapRegistry {
    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<SwapId, DriverHandle>> {
        self.drivers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `swap_id`'s driver (replacing an earlier one).
    pub(crate) fn insert(&self, swap_id: SwapId, handle: DriverHandle) {
        self.locked().insert(swap_id, handle);
    }

    /// The inbox of `swap_id`'s running driver.
    pub(crate) fn sender(&self, swap_id: &SwapId) -> Option<DriverSender> {
        self.locked().get(swap_id).map(|d| d.sender.clone())
    }

    /// The inbox of `swap_id`'s running driver and its counterparty.
    pub(crate) fn sender_and_peer(&self, swap_id: &SwapId) -> Option<(DriverSender, PeerId)> {
        self.locked()
            .get(swap_id)
            .map(|d| (d.sender.clone(), d.peer))
    }

    /// The phase of `swap_id`'s running driver, to follow.
    pub(crate) fn phase(&self, swap_id: &SwapId) -> Option<watch::Receiver<Phase>> {
        self.locked().get(swap_id).map(|d| d.phase.clone())
    }

    /// Whether `swap_id` has a running driver.
    pub(crate) fn contains(&self, swap_id: &SwapId) -> bool {
        self.locked().contains_key(swap_id)
    }

    /// The counterparties of swaps not yet over.
    pub(crate) fn unfinished_peers(&self) -> std::collections::HashSet<PeerId> {
        self.locked()
            .values()
            .filter(|d| !d.phase.borrow().is_terminal())
            .map(|d| d.peer)
            .collect()
    }

    /// Removes `swap_id`'s driver if it is the one whose inbox is `sender` (a newer driver
    /// of the same swap stays).
    pub(crate) fn leave(&self, swap_id: &SwapId, sender: &DriverSender) {
        let mut drivers = self.locked();
        if drivers
            .get(swap_id)
            .is_some_and(|d| d.sender.same_channel(sender))
        {
            drivers.remove(swap_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::DriverMsg;
    use tokio::sync::mpsc;

    fn handle(peer: PeerId) -> (DriverHandle, mpsc::UnboundedReceiver<DriverMsg>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (_, phase) = watch::channel(Phase::Negotiating);
        (
            DriverHandle {
                sender,
                peer,
                phase,
            },
            receiver,
        )
    }

    /// A driver that ends leaves the registry (later messages and commands then read the
    /// store instead of meeting a closed inbox), but never takes a newer driver with it.
    #[test]
    fn an_ended_driver_leaves_the_registry_and_a_newer_one_stays() {
        let registry = SwapRegistry::default();
        let swap_id = SwapId([4; 32]);
        let peer = PeerId::random();
        let (first, _first_inbox) = handle(peer);
        let first_sender = first.sender.clone();
        registry.insert(swap_id, first);
        assert!(registry.contains(&swap_id));
        assert_eq!(registry.unfinished_peers().len(), 1);

        // the first driver is replaced (a restart of its task), then ends: the newer stays
        let (second, _second_inbox) = handle(peer);
        let second_sender = second.sender.clone();
        registry.insert(swap_id, second);
        registry.leave(&swap_id, &first_sender);
        let (kept, kept_peer) = registry.sender_and_peer(&swap_id).expect("newer driver");
        assert!(kept.same_channel(&second_sender));
        assert_eq!(kept_peer, peer);

        // the newer one ends: nothing is left for the swap
        registry.leave(&swap_id, &second_sender);
        assert!(!registry.contains(&swap_id));
        assert!(registry.sender(&swap_id).is_none());
        assert!(registry.phase(&swap_id).is_none());
    }
}
