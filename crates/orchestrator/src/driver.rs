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
//!
//! A swap begins here too, for taker and maker alike: [`open_swap`] makes the machine of
//! either role, stores it, and starts its driver.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use confiaro_p2p::PeerId;
use confiaro_protocol::alice::Alice;
use confiaro_protocol::bob::Bob;
use confiaro_protocol::machine::Command;
use confiaro_protocol::messages::{SetupRequest, SwapTerms};
use confiaro_protocol::{
    Action, Event, Input, Phase, ProtocolError, Role, SwapId, SwapState, Timestamp,
};
use confiaro_store::NewSwap;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::actions::{self, JobKind};
use crate::context::{no_randomness, now, Context, SwapCtx};
use crate::error::EngineError;
use crate::events::SwapEventKind;
use crate::inbox::{DriverMsg, Refusal};
use crate::progress::progress;
use crate::registry::DriverHandle;

/// How long a finished taker swap's node waits for its last deliveries (an abort's go on
/// for ten minutes) before it stops.
const SWAP_NODE_LINGER: Duration = Duration::from_secs(600);

fn until(deadline: Option<Timestamp>) -> Duration {
    match deadline {
        Some(at) => Duration::from_secs(at.0.saturating_sub(now().0)),
        // nothing scheduled: wake up rarely, only to be safe
        None => Duration::from_secs(3600),
    }
}

/// A swap about to begin, for [`open_swap`].
pub(crate) struct NewSwapPlan {
    pub(crate) swap_id: SwapId,
    /// Alice (a maker taking a setup, or a taker selling XMR) or Bob (a taker buying XMR, or
    /// a maker taking a taker's setup request).
    pub(crate) role: Role,
    pub(crate) terms: SwapTerms,
    /// The counterparty.
    pub(crate) peer: PeerId,
    /// Where Bob's XMR goes (`None`: the built-in wallet).
    pub(crate) receive: Option<monero::Address>,
    /// Where Alice's redeem pays (`None`: a fresh address of the built-in wallet).
    pub(crate) btc_receive: Option<bitcoin::Address>,
    /// As a taker selling XMR (Alice): the request that asks the maker to open as Bob.
    pub(crate) setup_request: Option<SetupRequest>,
    /// As a maker buying XMR (Bob): the wallet the taker proved its XMR in (its primary
    /// address), kept with the swap for the taker's record.
    pub(crate) counterparty_wallet: Option<String>,
    /// sat/vB for the swap's transactions, from our own estimate.
    pub(crate) fee_rate: u64,
    /// What the audit log's `swap-created` entry says besides the role and amounts.
    pub(crate) audit: serde_json::Value,
    /// A taker's swap, running on a node of its own ([`crate::net`]): recorded with the swap
    /// so that a restart opens the node again.
    pub(crate) own_node: bool,
}

/// The key of the engine data that marks a swap as running on its own node (its value is
/// empty).
pub(crate) const OWN_NODE_KEY: &str = "own-node";

/// Whether swap `swap_id` runs (or ran) on a node of its own: a taker's swap.
pub(crate) async fn runs_on_own_node(cx: &Context, swap_id: &SwapId) -> bool {
    cx.net.has_swap_node(swap_id)
        || matches!(
            cx.store.swap_data(&cx.vault, swap_id, OWN_NODE_KEY).await,
            Ok(Some(_))
        )
}

/// Begins a swap, for taker and maker alike: draws the swap's secrets, takes fresh wallet
/// addresses for what the role may receive (Bob: his refund; Alice: her punish, and her
/// redeem unless the plan names one),
/// makes the role's machine, stores it (the swap exists from here on, and resumes after a
/// crash), records `swap-created` in the audit log, and starts the driver with `first`.
///
/// # Errors
/// Randomness, wallet and store errors; nothing is stored when one comes before the insert.
pub(crate) async fn open_swap(
    cx: &Arc<Context>,
    plan: NewSwapPlan,
    first: DriverMsg,
) -> Result<(), EngineError> {
    let NewSwapPlan {
        swap_id,
        role,
        terms,
        peer,
        receive,
        btc_receive,
        setup_request,
        counterparty_wallet,
        fee_rate,
        mut audit,
        own_node,
    } = plan;
    let secrets = cx
        .keys
        .new_swap_secrets(&swap_id, role)
        .map_err(no_randomness)?;
    // where our coins go when not to the built-in wallet: XMR as Bob, BTC as Alice
    let receive_text = match (&receive, &btc_receive) {
        (Some(xmr), _) => Some(xmr.to_string()),
        (None, Some(btc)) => Some(btc.to_string()),
        (None, None) => None,
    };
    let share_secrets = secrets.clone();
    // a DLEQ proof: ~0.1 s of CPU, off the async threads
    let own_share = tokio::task::spawn_blocking(move || share_secrets.public_share())
        .await
        .map_err(|_| EngineError::Stopped)?;
    let state = match role {
        Role::Bob => {
            let refund = cx.btc.new_address().await?.script_pubkey();
            SwapState::Bob(Box::new(Bob::new(
                swap_id,
                terms,
                secrets,
                own_share,
                refund,
                fee_rate,
                now(),
            )))
        }
        Role::Alice => {
            let redeem = match btc_receive {
                Some(address) => address.script_pubkey(),
                None => cx.btc.new_address().await?.script_pubkey(),
            };
            let punish = cx.btc.new_address().await?.script_pubkey();
            let alice = Alice::new(
                swap_id,
                terms,
                secrets,
                own_share,
                redeem,
                punish,
                fee_rate,
                now(),
            );
            SwapState::Alice(Box::new(match setup_request {
                Some(request) => alice.requesting_setup(request),
                None => alice,
            }))
        }
    };
    cx.store
        .insert_swap(
            &cx.vault,
            &NewSwap {
                peer: &peer.to_string(),
                receive_address: receive_text.as_deref(),
                counterparty_wallet: counterparty_wallet.as_deref(),
            },
            &state,
        )
        .await?;
    if own_node {
        // before any message goes out: a restart must speak for the swap with its identity
        if let Err(e) = cx
            .store
            .put_swap_data(&cx.vault, &swap_id, OWN_NODE_KEY, &[])
            .await
        {
            tracing::warn!(swap = %swap_id, "cannot record the swap's own node: {e}");
        }
    }
    if let Some(detail) = audit.as_object_mut() {
        detail.insert("role".into(), format!("{role:?}").into());
        detail.insert("btc_sat".into(), terms.btc_amount.to_sat().into());
        detail.insert("xmr_piconero".into(), terms.xmr_amount.as_piconero().into());
    }
    // the swap is stored and will run: a failed audit append is logged, not fatal
    if let Err(e) = cx
        .store
        .append_audit(&cx.vault, Some(&swap_id), "swap-created", audit)
        .await
    {
        tracing::warn!(swap = %swap_id, "audit log append failed: {e}");
    }
    start_driver(cx, state, peer, receive, vec![first]);
    Ok(())
}

/// Starts the driver of a swap whose state is already stored, feeding it `first` inputs
/// (typically `Resume`, or the first message), and registers its handle in the engine.
pub(crate) fn start_driver(
    cx: &Arc<Context>,
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
        cancel: cx.shutdown.child_token(),
        sender: sender.clone(),
    };
    for msg in first {
        let _ = sender.send(msg);
    }
    let driver = Driver {
        cx: Arc::clone(cx),
        ctx,
        state,
        receiver,
        phase: phase_tx,
        jobs: HashMap::new(),
    };
    let swap_id = driver.ctx.swap_id;
    // registered before it runs, so that it leaves after it was registered
    cx.drivers.insert(
        swap_id,
        DriverHandle {
            sender,
            peer,
            phase: phase_rx,
        },
    );
    cx.tasks.spawn(driver.run());
}

struct Driver {
    cx: Arc<Context>,
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
                _ = self.cx.shutdown.cancelled() => break,
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
                        let _ = reply.send(Err(Refusal::Final(e.to_string())));
                    }
                    if let Some(reply) = command_reply {
                        let _ = reply.send(Err(e));
                    }
                }
                Err(StepError::Persist(reason)) => {
                    if let Some(reply) = peer_reply {
                        let _ = reply.send(Err(Refusal::busy(format!(
                            "the swap could not be saved: {reason}"
                        ))));
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
        self.cx.drivers.leave(&swap_id, &self.ctx.sender);
        tracing::debug!(swap = %swap_id, "driver stopped");
    }

    /// Handles one input: machine, persistence, then actions.
    async fn step(&mut self, input: Input) -> Result<(), StepError> {
        let before = self.state.clone();
        let was_tick = matches!(input, Input::Tick);
        let rejected_input = describe_input(&input);
        let actions = match self.state.handle(now(), input) {
            Ok(actions) => actions,
            Err(e) => {
                self.ctx
                    .audit(
                        &self.cx,
                        "rejected",
                        serde_json::json!({"input": rejected_input, "reason": e.to_string()}),
                    )
                    .await;
                self.ctx.emit(
                    &self.cx,
                    SwapEventKind::Rejected {
                        reason: e.to_string(),
                    },
                );
                return Err(StepError::Protocol(e));
            }
        };
        if self.state != before {
            if let Err(e) = self
                .cx
                .store
                .save_swap_state(&self.cx.vault, &self.state)
                .await
            {
                tracing::error!(swap = %self.ctx.swap_id, "cannot persist the swap's state: {e}");
                self.ctx.emit(
                    &self.cx,
                    SwapEventKind::Problem {
                        message: format!("cannot save the swap's state ({e}); retrying"),
                    },
                );
                self.state = before;
                return Err(StepError::Persist(e.to_string()));
            }
            if self.state.state_name() != before.state_name() {
                self.cx
                    .faults
                    .after_persist(self.ctx.role, self.state.state_name());
                // the XMR transfer is only watched in the state that asks for it
                if let Some(job) = self.jobs.remove(&JobKind::WatchXmr) {
                    job.abort();
                }
                if was_tick {
                    self.ctx
                        .audit(
                            &self.cx,
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
                &self.cx,
                SwapEventKind::Progress {
                    progress: progress(&self.state, self.cx.btc.observed_block_seconds()),
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
                            &self.cx,
                            "state",
                            serde_json::json!({"state": state, "phase": phase}),
                        )
                        .await;
                    self.ctx
                        .emit(&self.cx, SwapEventKind::StateChanged { state, phase });
                }
                Action::Emit(Event::Rejected { reason }) => {
                    self.ctx
                        .audit(&self.cx, "rejected", serde_json::json!({"reason": reason}))
                        .await;
                    self.ctx.emit(&self.cx, SwapEventKind::Rejected { reason });
                }
                other => {
                    if let Some((kind, job)) =
                        actions::perform(&self.cx, &self.ctx, &self.state, other)
                    {
                        let running = self.jobs.get(&kind).is_some_and(|j| !j.is_finished());
                        if !running {
                            let job = if kind.must_finish() {
                                self.cx.busy.track(job)
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
        self.cx.btc.unwatch_swap(&self.ctx.swap_id);
        if let Some(agreement) = self.state.agreement() {
            self.cx.btc.release(agreement.txs.lock.psbt());
        }
        match crate::receipt::Receipt::build(&self.cx.store, &self.cx.vault, &self.state).await {
            Ok(receipt) => {
                if let Err(e) =
                    crate::receipt::store_receipt(&self.cx.store, &self.cx.vault, &receipt).await
                {
                    tracing::warn!(swap = %self.ctx.swap_id, "cannot store the receipt: {e}");
                }
            }
            Err(e) => tracing::warn!(swap = %self.ctx.swap_id, "cannot build the receipt: {e}"),
        }
        self.ctx
            .audit(
                &self.cx,
                "finished",
                serde_json::json!({"state": state, "phase": phase}),
            )
            .await;
        self.ctx
            .emit(&self.cx, SwapEventKind::Finished { phase, state });
        let _ = self.phase.send(phase);
        // a taker's node lives until its last deliveries (an abort's included) are done
        let (cx, swap_id) = (Arc::clone(&self.cx), self.ctx.swap_id);
        self.cx.tasks.spawn(async move {
            tokio::select! {
                _ = cx.shutdown.cancelled() => {}
                _ = cx.net.flush(&swap_id, SWAP_NODE_LINGER) => {}
            }
            cx.net.close_swap_node(&swap_id).await;
        });
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
