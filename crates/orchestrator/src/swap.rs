//! One swap's driver: the only place a swap's machine is changed.
//!
//! The driver owns the [`SwapState`]. For each input — a message from the counterparty, a
//! chain fact from a watcher, a wallet result from a job, a user command, or a `Tick` at the
//! machine's own deadline — it:
//! 1. calls [`SwapState::handle`];
//! 2. if the state changed, **persists it** (store: current state + history row, one
//!    transaction) and only then
//! 3. performs the actions ([`crate::actions`]): messages are handed to delivery, long work
//!    (funding, publishing, locking, sweeping, watching) runs as jobs that report back here
//!    as inputs.
//!
//! A peer message is acknowledged only after the new state is durable, so an acknowledged
//! message is never lost. If persisting fails, the old state is kept, nothing is performed,
//! and the input is refused (the peer resends; watchers report again).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use confiaro_p2p::PeerId;
use confiaro_protocol::machine::Command;
use confiaro_protocol::messages::Message;
use confiaro_protocol::{
    Action, Event, Input, Phase, ProtocolError, Role, SwapId, SwapState, Timestamp,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::actions;
use crate::engine::Inner;
use crate::events::{EngineEvent, SwapEvent, SwapEventKind};
use crate::progress::progress;

/// What a driver is told.
pub(crate) enum DriverMsg {
    /// A chain fact or a job's result.
    Input(Input),
    /// A validated message from the counterparty; `reply` gets `Ok` once the resulting state
    /// is durable, or the reason it was refused.
    Peer {
        message: Message,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A user command.
    Command {
        command: Command,
        reply: oneshot::Sender<Result<(), ProtocolError>>,
    },
}

/// The sending side of a driver's inbox.
pub(crate) type DriverSender = mpsc::UnboundedSender<DriverMsg>;

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

/// Long-running work of a swap, at most one of each kind at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum JobKind {
    FundLock,
    PublishLock,
    Publish(confiaro_protocol::machine::TxLabel),
    LockXmr,
    WatchXmr,
    Sweep,
}

impl JobKind {
    /// Whether stopping the engine in the middle of this job would leave the swap waiting
    /// for an action it needs (a transaction on its way out, a lock, a sweep); a graceful
    /// stop ([`crate::Engine::drain`]) waits for these. Funding and watching are not.
    fn must_finish(self) -> bool {
        matches!(
            self,
            JobKind::PublishLock | JobKind::Publish(_) | JobKind::LockXmr | JobKind::Sweep
        )
    }
}

/// The number of running jobs that [`JobKind::must_finish`], engine-wide.
#[derive(Debug, Clone, Default)]
pub(crate) struct BusyJobs(Arc<std::sync::atomic::AtomicUsize>);

impl BusyJobs {
    /// How many run now.
    pub(crate) fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts `job` while it runs.
    fn track(&self, job: actions::Job) -> actions::Job {
        let counter = Arc::clone(&self.0);
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let guard = BusyGuard(counter);
        Box::pin(async move {
            let _guard = guard;
            job.await;
        })
    }
}

/// Decrements the busy count when its job ends (or is dropped).
struct BusyGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What the driver's jobs need to know about their swap.
#[derive(Clone)]
pub(crate) struct SwapCtx {
    pub(crate) swap_id: SwapId,
    pub(crate) role: Role,
    pub(crate) peer: PeerId,
    /// Where Bob's XMR goes (`None`: the built-in wallet).
    pub(crate) receive: Option<monero::Address>,
    /// Cancelled when the swap ends or the engine stops: its jobs and deliveries stop.
    pub(crate) cancel: CancellationToken,
    /// The driver's own inbox, for jobs to report back.
    pub(crate) sender: DriverSender,
}

impl SwapCtx {
    /// Sleeps `delay`; false (at once) when the swap stops first.
    pub(crate) async fn pause(&self, delay: std::time::Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    /// Sends an event about this swap.
    pub(crate) fn emit(&self, inner: &Inner, kind: SwapEventKind) {
        let _ = inner.events.send(EngineEvent::Swap(SwapEvent::new(
            &self.swap_id,
            self.role,
            kind,
        )));
    }

    /// Appends to the audit log (failures are logged: the log is evidence, not control).
    pub(crate) async fn audit(&self, inner: &Inner, kind: &str, detail: serde_json::Value) {
        if let Err(e) = inner
            .store
            .append_audit(Some(&self.swap_id), kind, detail)
            .await
        {
            tracing::warn!(swap = %self.swap_id, "audit log append failed: {e}");
        }
    }
}

/// The machine's notion of now: unix seconds.
pub(crate) fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

fn until(deadline: Option<Timestamp>) -> Duration {
    match deadline {
        Some(at) => Duration::from_secs(at.0.saturating_sub(now().0)),
        // nothing scheduled: wake up rarely, only to be safe
        None => Duration::from_secs(3600),
    }
}

/// Starts the driver of a swap whose state is already stored, feeding it `first` inputs
/// (typically `Resume`, or the first message), and registers its handle in the engine.
pub(crate) fn start_driver(
    inner: &Arc<Inner>,
    state: SwapState,
    peer: PeerId,
    receive: Option<monero::Address>,
    first: Vec<DriverMsg>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (phase_tx, phase_rx) = watch::channel(state.phase());
    let ctx = SwapCtx {
        swap_id: state.swap_id(),
        role: state.role(),
        peer,
        receive,
        cancel: inner.shutdown.child_token(),
        sender: sender.clone(),
    };
    for msg in first {
        let _ = sender.send(msg);
    }
    let driver = Driver {
        inner: Arc::clone(inner),
        ctx,
        state,
        receiver,
        phase: phase_tx,
        jobs: HashMap::new(),
    };
    let swap_id = driver.ctx.swap_id;
    // registered before it runs, so that it leaves after it was registered
    inner.drivers.insert(
        swap_id,
        DriverHandle {
            sender,
            peer,
            phase: phase_rx,
        },
    );
    inner.tasks.spawn(driver.run());
}

struct Driver {
    inner: Arc<Inner>,
    ctx: SwapCtx,
    state: SwapState,
    receiver: mpsc::UnboundedReceiver<DriverMsg>,
    phase: watch::Sender<Phase>,
    jobs: HashMap<JobKind, JoinHandle<()>>,
}

impl Driver {
    async fn run(mut self) {
        let swap_id = self.ctx.swap_id;
        loop {
            let sleep = until(self.state.next_deadline());
            let msg = tokio::select! {
                biased;
                _ = self.inner.shutdown.cancelled() => break,
                msg = self.receiver.recv() => match msg {
                    Some(msg) => msg,
                    None => break,
                },
                _ = tokio::time::sleep(sleep) => DriverMsg::Input(Input::Tick),
            };
            let (input, peer_reply, command_reply) = match msg {
                DriverMsg::Input(input) => (input, None, None),
                DriverMsg::Peer { message, reply } => (Input::Message(message), Some(reply), None),
                DriverMsg::Command { command, reply } => {
                    (Input::Command(command), None, Some(reply))
                }
            };
            let outcome = self.step(input).await;
            match outcome {
                Ok(()) => {
                    if let Some(reply) = peer_reply {
                        let _ = reply.send(Ok(()));
                    }
                    if let Some(reply) = command_reply {
                        let _ = reply.send(Ok(()));
                    }
                }
                Err(StepError::Protocol(e)) => {
                    if let Some(reply) = peer_reply {
                        let _ = reply.send(Err(e.to_string()));
                    }
                    if let Some(reply) = command_reply {
                        let _ = reply.send(Err(e));
                    }
                }
                Err(StepError::Persist(reason)) => {
                    if let Some(reply) = peer_reply {
                        let _ = reply.send(Err(format!("busy, try again ({reason})")));
                    }
                    if let Some(reply) = command_reply {
                        let _ = reply.send(Err(ProtocolError::NotAllowed {
                            command: Command::Abort,
                            reason: format!("the swap could not be saved: {reason}"),
                        }));
                    }
                    // give the store a moment before the next input
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            if self.state.phase().is_terminal() {
                self.finish().await;
                break;
            }
        }
        for job in self.jobs.values() {
            job.abort();
        }
        self.inner.drivers.leave(&swap_id, &self.ctx.sender);
        tracing::debug!(swap = %swap_id, "driver stopped");
    }

    /// Handles one input: machine, persistence, then actions.
    async fn step(&mut self, input: Input) -> Result<(), StepError> {
        let before = self.state.clone();
        let was_tick = matches!(input, Input::Tick);
        let rejected_input = describe_input(&input);
        let actions = match self.state.handle(crate::swap::now(), input) {
            Ok(actions) => actions,
            Err(e) => {
                self.ctx
                    .audit(
                        &self.inner,
                        "rejected",
                        serde_json::json!({"input": rejected_input, "reason": e.to_string()}),
                    )
                    .await;
                self.ctx.emit(
                    &self.inner,
                    SwapEventKind::Rejected {
                        reason: e.to_string(),
                    },
                );
                return Err(StepError::Protocol(e));
            }
        };
        if self.state != before {
            if let Err(e) = self
                .inner
                .store
                .save_swap_state(&self.inner.vault, &self.state)
                .await
            {
                tracing::error!(swap = %self.ctx.swap_id, "cannot persist the swap's state: {e}");
                self.ctx.emit(
                    &self.inner,
                    SwapEventKind::Problem {
                        message: format!("cannot save the swap's state ({e}); retrying"),
                    },
                );
                self.state = before;
                return Err(StepError::Persist(e.to_string()));
            }
            if self.state.state_name() != before.state_name() {
                self.inner
                    .faults
                    .after_persist(self.ctx.role, self.state.state_name());
                // the XMR transfer is only watched in the state that asks for it
                if let Some(job) = self.jobs.remove(&JobKind::WatchXmr) {
                    job.abort();
                }
                if was_tick {
                    self.ctx
                        .audit(
                            &self.inner,
                            "timeout",
                            serde_json::json!({
                                "from": before.state_name(),
                                "to": self.state.state_name(),
                            }),
                        )
                        .await;
                }
            }
            let _ = self.phase.send(self.state.phase());
        }
        let changed = self.state != before;
        self.perform(actions).await;
        if changed {
            self.ctx.emit(
                &self.inner,
                SwapEventKind::Progress {
                    progress: progress(&self.state, self.inner.btc.observed_block_seconds()),
                },
            );
        }
        Ok(())
    }

    async fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Emit(Event::StateChanged { state, phase, .. }) => {
                    self.ctx
                        .audit(
                            &self.inner,
                            "state",
                            serde_json::json!({"state": state, "phase": phase}),
                        )
                        .await;
                    self.ctx
                        .emit(&self.inner, SwapEventKind::StateChanged { state, phase });
                }
                Action::Emit(Event::Rejected { reason }) => {
                    self.ctx
                        .audit(
                            &self.inner,
                            "rejected",
                            serde_json::json!({"reason": reason}),
                        )
                        .await;
                    self.ctx
                        .emit(&self.inner, SwapEventKind::Rejected { reason });
                }
                other => {
                    if let Some((kind, job)) =
                        actions::perform(&self.inner, &self.ctx, &self.state, other)
                    {
                        let running = self.jobs.get(&kind).is_some_and(|j| !j.is_finished());
                        if !running {
                            let job = if kind.must_finish() {
                                self.inner.busy.track(job)
                            } else {
                                job
                            };
                            self.jobs.insert(kind, tokio::spawn(job));
                        }
                    }
                }
            }
        }
    }

    /// The swap is over: stop its jobs and watches, store its receipt, tell everyone.
    async fn finish(&mut self) {
        let phase = self.state.phase();
        let state = self.state.state_name().to_owned();
        // deliveries of an abort go on (they have their own token); everything else stops
        self.ctx.cancel.cancel();
        self.inner.btc.unwatch_swap(&self.ctx.swap_id);
        if let Some(agreement) = self.state.agreement() {
            self.inner.btc.release(agreement.txs.lock.psbt());
        }
        match crate::receipt::Receipt::build(&self.inner, &self.state).await {
            Ok(receipt) => {
                if let Err(e) = crate::receipt::store_receipt(&self.inner, &receipt).await {
                    tracing::warn!(swap = %self.ctx.swap_id, "cannot store the receipt: {e}");
                }
            }
            Err(e) => tracing::warn!(swap = %self.ctx.swap_id, "cannot build the receipt: {e}"),
        }
        self.ctx
            .audit(
                &self.inner,
                "finished",
                serde_json::json!({"state": state, "phase": phase}),
            )
            .await;
        self.ctx
            .emit(&self.inner, SwapEventKind::Finished { phase, state });
        let _ = self.phase.send(phase);
    }
}

enum StepError {
    Protocol(ProtocolError),
    Persist(String),
}

/// A short description of an input for the audit log (no secrets: no witnesses, no keys).
fn describe_input(input: &Input) -> serde_json::Value {
    match input {
        Input::Message(m) => serde_json::json!({"message": m.name()}),
        Input::BtcTxSeen { tx, confirmations } => serde_json::json!({
            "btc_tx_seen": tx.compute_txid().to_string(), "confirmations": confirmations,
        }),
        Input::BtcTxAbsent { txid } => serde_json::json!({"btc_tx_absent": txid.to_string()}),
        Input::LockFunded { .. } => serde_json::json!("lock_funded"),
        Input::LockFundingFailed { reason } => serde_json::json!({"lock_funding_failed": reason}),
        Input::XmrLocked { height, .. } => serde_json::json!({"xmr_locked_at": height}),
        Input::XmrLockFailed { reason } => serde_json::json!({"xmr_lock_failed": reason}),
        Input::XmrTransferSeen {
            amount,
            confirmations,
            ..
        } => serde_json::json!({
            "xmr_transfer_seen": amount.as_piconero(), "confirmations": confirmations,
        }),
        Input::XmrSwept { amount } => serde_json::json!({"xmr_swept": amount.as_piconero()}),
        Input::Tick => serde_json::json!("tick"),
        Input::Resume => serde_json::json!("resume"),
        Input::Command(c) => serde_json::json!({"command": format!("{c:?}")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
