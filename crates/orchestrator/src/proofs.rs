//! The proof checker: decodes the peer messages that carry a cross-curve DLEQ proof (the
//! setups, ~0.1 s of CPU each) on threads of its own, a bounded number at a time, so a flood
//! of setups costs the engine at most those threads and never holds up chain polling or a
//! time-critical broadcast. Work beyond the queue is refused at once ("busy"), as is a peer
//! that already has its share of checks in flight.

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use confiaro_p2p::PeerId;
use confiaro_protocol::messages::{self, DecodeError, Message};
use tokio::sync::oneshot;

use crate::inbox::Refusal;

/// One decode to run: the bytes and where its result goes.
type Job = (Vec<u8>, oneshot::Sender<Result<Message, DecodeError>>);

/// How many proof checks run at once, how many may wait, and how many one peer may have in
/// flight (running or waiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProofLimits {
    pub(crate) threads: usize,
    pub(crate) queue: usize,
    pub(crate) per_peer: u32,
}

impl Default for ProofLimits {
    /// One thread (of a 2-core machine, the other stays free), 8 waiting, 2 per peer.
    fn default() -> Self {
        ProofLimits {
            threads: 1,
            queue: 8,
            per_peer: 2,
        }
    }
}

/// The engine's proof checker (see the module docs). Its threads end when it is dropped.
pub(crate) struct ProofChecker {
    jobs: std_mpsc::SyncSender<Job>,
    in_flight: Mutex<HashMap<PeerId, u32>>,
    per_peer: u32,
}

/// Why the checker did not decode a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CheckRefusal {
    /// The queue is full, or the peer has its share in flight: try again later.
    Busy(String),
    /// The message does not decode.
    Invalid(DecodeError),
}

impl From<CheckRefusal> for Refusal {
    /// What the peer is told: busy, so it asks again; or invalid, for good.
    fn from(refusal: CheckRefusal) -> Refusal {
        match refusal {
            CheckRefusal::Busy(reason) => Refusal::Busy(reason),
            invalid @ CheckRefusal::Invalid(_) => Refusal::Final(invalid.to_string()),
        }
    }
}

impl std::fmt::Display for CheckRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckRefusal::Busy(reason) => write!(f, "busy: {reason}"),
            CheckRefusal::Invalid(e) => write!(f, "invalid message: {e}"),
        }
    }
}

impl ProofChecker {
    /// A checker with `limits`, its threads started.
    pub(crate) fn start(limits: ProofLimits) -> ProofChecker {
        let (jobs, queue) = std_mpsc::sync_channel::<Job>(limits.queue);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..limits.threads.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("confiaro-proofs-{n}"))
                .spawn(move || loop {
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((bytes, answer)) = job else { return };
                    let _ = answer.send(messages::decode(&bytes));
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a proof-checking thread: {e}");
            }
        }
        ProofChecker {
            jobs,
            in_flight: Mutex::new(HashMap::new()),
            per_peer: limits.per_peer,
        }
    }

    /// Decodes `bytes` from `peer`: on a checker thread when the message carries a proof
    /// (`with_proof`, from [`messages::peek`]), in place otherwise.
    pub(crate) async fn decode(
        &self,
        peer: PeerId,
        bytes: Vec<u8>,
        with_proof: bool,
    ) -> Result<Message, CheckRefusal> {
        if !with_proof {
            return messages::decode(&bytes).map_err(CheckRefusal::Invalid);
        }
        let _slot = self.take_slot(peer)?;
        let (answer, result) = oneshot::channel();
        self.jobs.try_send((bytes, answer)).map_err(|e| match e {
            std_mpsc::TrySendError::Full(_) => {
                CheckRefusal::Busy("too many setups waiting to be checked".into())
            }
            std_mpsc::TrySendError::Disconnected(_) => {
                CheckRefusal::Busy("the proof checker stopped".into())
            }
        })?;
        result
            .await
            .map_err(|_| CheckRefusal::Busy("the proof checker stopped".into()))?
            .map_err(CheckRefusal::Invalid)
    }

    /// Counts one check of `peer`'s in flight until the slot is dropped.
    fn take_slot(&self, peer: PeerId) -> Result<Slot<'_>, CheckRefusal> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let count = in_flight.entry(peer).or_insert(0);
        if *count >= self.per_peer {
            return Err(CheckRefusal::Busy(format!(
                "you have {} setups being checked",
                *count
            )));
        }
        *count += 1;
        Ok(Slot {
            checker: self,
            peer,
        })
    }

    /// Peers with checks in flight (their entries are removed when the last one ends).
    #[cfg(test)]
    pub(crate) fn peers_in_flight(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// A peer's check in flight, counted until dropped.
struct Slot<'a> {
    checker: &'a ProofChecker,
    peer: PeerId,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .checker
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = in_flight.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confiaro_protocol::messages::TransferProof;
    use confiaro_protocol::SwapId;

    /// Something the checker must decode on its thread: a message with the header of a
    /// setup (kind 1) and a body that is not one.
    fn fake_setup() -> Vec<u8> {
        let mut bytes = messages::MAGIC.to_vec();
        bytes.extend([messages::PROTOCOL_VERSION, 1]);
        bytes.extend([7u8; 64]);
        bytes
    }

    #[tokio::test]
    async fn a_message_without_a_proof_decodes_in_place_and_one_with_a_proof_on_the_pool() {
        let checker = ProofChecker::start(ProofLimits::default());
        let peer = PeerId::random();
        let proof = Message::TransferProof(TransferProof {
            swap_id: SwapId([1; 32]),
            tx_hash: [2; 32],
            tx_key: curve25519_dalek::Scalar::ONE,
            height: 1,
        });
        assert_eq!(checker.decode(peer, proof.encode(), false).await, Ok(proof));
        let refused = checker.decode(peer, fake_setup(), true).await;
        assert!(
            matches!(refused, Err(CheckRefusal::Invalid(_))),
            "{refused:?}"
        );
        assert_eq!(checker.peers_in_flight(), 0, "the slot is given back");
    }

    /// The bounds hold under a burst: with one slow thread, a queue of 2 and 1 check per
    /// peer, a second check of one peer is refused at once, and of many peers' checks only
    /// what the thread and the queue hold are taken; the rest are told "busy", not queued.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_queue_or_a_peers_share_are_refused_as_busy() {
        let checker = Arc::new(ProofChecker::start(ProofLimits {
            threads: 1,
            queue: 2,
            per_peer: 1,
        }));
        // a real setup message decodes with its proof checks (~0.1 s): slow enough to pile up
        let setup = crate::test_utils::a_setup_message().encode();
        let greedy = PeerId::random();
        let first = tokio::spawn({
            let (checker, setup) = (Arc::clone(&checker), setup.clone());
            async move { checker.decode(greedy, setup, true).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let second = checker.decode(greedy, setup.clone(), true).await;
        assert!(
            matches!(&second, Err(CheckRefusal::Busy(r)) if r.contains("being checked")),
            "{second:?}"
        );
        let burst: Vec<_> = (0..10)
            .map(|_| {
                let (checker, setup) = (Arc::clone(&checker), setup.clone());
                tokio::spawn(async move { checker.decode(PeerId::random(), setup, true).await })
            })
            .collect();
        let mut decoded = 0;
        let mut busy = 0;
        for task in burst {
            match task.await.expect("the task") {
                Ok(_) => decoded += 1,
                Err(CheckRefusal::Busy(_)) => busy += 1,
                Err(other) => panic!("a valid setup: {other}"),
            }
        }
        assert!(first.await.expect("the task").is_ok());
        // the thread holds one (the first) and the queue 2: at most 3 of the burst get in
        // (fewer queued ones finish before the burst ends), never all 10
        assert!(
            busy >= 7 && decoded + busy == 10,
            "{decoded} decoded, {busy} busy"
        );
        assert_eq!(checker.peers_in_flight(), 0);
    }
}
