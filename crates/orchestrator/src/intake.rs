//! The intake: everything that comes to the engine from peers — quote requests and swap
//! messages, routed to the swap's driver or, for a maker's new setup (a taker buying XMR) or
//! setup request (a taker selling XMR), accepted as a new swap — and the maker's side that
//! decides what it takes: the desk (prices, limits, pause), the XMR and BTC it has promised
//! and can still promise, its exposure to takers selling XMR (open setups, each taker's
//! record of walk-aways), the reserve proofs (its own, and those takers selling XMR send),
//! and its registration at rendezvous points.
//!
//! Nothing below this module knows it: the driver, actions and adapters take a
//! [`Context`]; the [`Engine`](crate::Engine) holds an [`Intake`] beside it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::Amount;
use confiaro_p2p::{InboundRequest, NetworkEvent, PeerId, SwapProtocol};
use confiaro_protocol::btc::{fee_for_weight, TxCancel};
use confiaro_protocol::messages::{self, Envelope, Message, SetupBob, SetupRequest};
use confiaro_protocol::quote::{self, Price, QuoteReply, ReserveProof};
use confiaro_protocol::{Direction, Input, Phase, Role, SwapId, XmrAmount};
use confiaro_store::{Store, SwapRecord, Vault};
use tokio::sync::{mpsc, oneshot};

use crate::chain_clock;
use crate::context::{now, Context};
use crate::driver::{open_swap, NewSwapPlan};
use crate::error::EngineError;
use crate::inbox::{DriverMsg, DriverSender, Refusal};
use crate::maker::{Desk, MakerSettings, SellSide, RESERVE_PROOF_REFRESH};
use crate::net::{namespace, protocol_of_kind};
use crate::proofs::{ProofChecker, ProofLimits};
use crate::registry::SwapRegistry;

/// The intake of a running engine (see the module docs).
pub(crate) struct Intake {
    cx: Arc<Context>,
    /// The maker's desk, once [`Intake::start_maker`] ran.
    desk: Mutex<Option<Desk>>,
    /// Serializes the creation of swaps (so two copies of one setup make one swap).
    accepting: tokio::sync::Mutex<()>,
    /// Decodes the messages that carry proofs, a bounded number at a time.
    proofs: ProofChecker,
    /// On a taker swap's own node: that swap, the only one it speaks for.
    only: Option<SwapId>,
}

/// Where a peer's swap message goes (see [`route_of`]), decided from its envelope alone,
/// before the message is decoded.
pub(crate) enum Route {
    /// To the swap's running driver.
    Driver(DriverSender),
    /// A repeat for a swap that is over: acknowledged, nothing to do.
    Over,
    /// A new swap (the message opens one): a maker's to accept, within its limits.
    New,
    /// Not taken, for good or for now, with the reason the peer is told.
    Refuse(Refusal),
}

/// Where `peer`'s message with `envelope` goes: to the running driver of its swap when the
/// swap is with `peer`; a repeat for a finished swap is acknowledged from the store; a
/// message that opens a swap nobody knows is a new swap; anything else is refused with the
/// reason. Reads only the envelope, so nothing is spent on a message that goes nowhere.
/// The answer to a message whose swap's driver stopped before taking it.
fn stopping() -> Refusal {
    Refusal::busy("the swap is stopping")
}

/// The refusal of a message for a swap this node does not know (or does not speak for: the
/// same answer, so that it tells nothing of other identities' swaps).
fn unknown_swap(swap_id: &SwapId) -> Refusal {
    Refusal::Final(format!("unknown swap {swap_id}"))
}

/// The refusal of a message for a swap that is not one with its sender.
fn not_yours(swap_id: &confiaro_protocol::SwapId) -> Refusal {
    Refusal::Final(format!("swap {swap_id} is not a swap with you"))
}

pub(crate) async fn route_of(
    drivers: &SwapRegistry,
    store: &Store,
    vault: &Vault,
    peer: PeerId,
    envelope: Envelope,
) -> Route {
    let swap_id = envelope.swap_id;
    match drivers.sender_and_peer(&swap_id) {
        Some((_, owner)) if owner != peer => Route::Refuse(not_yours(&swap_id)),
        Some((sender, _)) => Route::Driver(sender),
        None => match store.swap(vault, &swap_id).await {
            Ok(Some(record)) if record.peer != peer.to_string() => {
                Route::Refuse(not_yours(&swap_id))
            }
            // a swap that is over: repeats are harmless
            Ok(Some(record)) if record.phase.is_terminal() => Route::Over,
            Ok(Some(_)) => Route::Refuse(Refusal::busy("the swap is resuming")),
            Ok(None) if envelope.opens_a_swap() => Route::New,
            Ok(None) => Route::Refuse(unknown_swap(&swap_id)),
            Err(e) => Route::Refuse(Refusal::busy(e)),
        },
    }
}

impl Intake {
    /// The intake over `cx`; not a maker until [`Intake::start_maker`].
    pub(crate) fn new(cx: Arc<Context>) -> Intake {
        Intake::with_proof_limits(cx, ProofLimits::default())
    }

    /// The intake over `cx`, checking proofs within `limits`.
    pub(crate) fn with_proof_limits(cx: Arc<Context>, limits: ProofLimits) -> Intake {
        Intake {
            cx,
            desk: Mutex::new(None),
            accepting: tokio::sync::Mutex::new(()),
            proofs: ProofChecker::start(limits),
            only: None,
        }
    }

    /// The intake of taker swap `swap_id`'s own node ([`crate::net`]): it takes that swap's
    /// messages and nothing else (no quotes, no new swaps, and "unknown swap" for any other
    /// swap id, as from a stranger).
    pub(crate) fn for_swap_node(cx: Arc<Context>, swap_id: SwapId) -> Intake {
        Intake {
            only: Some(swap_id),
            ..Intake::new(cx)
        }
    }

    /// Runs `f` on the maker's desk; `None` on an engine that is not a maker.
    pub(crate) fn with_desk<T>(&self, f: impl FnOnce(&mut Desk) -> T) -> Option<T> {
        self.desk
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(f)
    }

    /// Makes this engine a maker: quoting with `settings` at `price`, keeping its free XMR
    /// up to date, its reserve proof fresh (when `settings` asks for one), and its
    /// registration at every rendezvous point (retried in the background).
    pub(crate) fn start_maker(
        self: &Arc<Self>,
        settings: MakerSettings,
        price: Result<Price, String>,
    ) {
        let cx = &self.cx;
        *self.desk.lock().unwrap_or_else(|p| p.into_inner()) = Some(Desk::new(settings, price));
        if settings.reserve_proof {
            cx.tasks.spawn(Arc::clone(self).keep_reserve_proof());
        }
        // until the first check says otherwise, the clock is not known to be in step
        self.with_desk(|desk| desk.set_out_of_step(Some("not checked yet".into())));
        let intake = Arc::clone(self);
        cx.tasks.spawn(async move {
            loop {
                intake.refresh_chain_step().await;
                tokio::select! {
                    _ = intake.cx.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(CHAIN_STEP_REFRESH) => {}
                }
            }
        });
        let intake = Arc::clone(self);
        cx.tasks.spawn(async move {
            loop {
                intake.refresh_free_xmr().await;
                intake.refresh_free_btc().await;
                tokio::select! {
                    _ = intake.cx.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(FREE_XMR_REFRESH) => {}
                }
            }
        });
        let namespace = namespace(cx.config.network);
        for address in cx.config.p2p.rendezvous.clone() {
            let cx = Arc::clone(cx);
            let namespace = namespace.clone();
            self.cx.tasks.spawn(async move {
                loop {
                    let result = async {
                        let point = cx.net.dial(&address).await?;
                        cx.net.network.register(point, &namespace, None).await?;
                        Ok::<_, EngineError>(())
                    }
                    .await;
                    match result {
                        Ok(()) => {
                            tracing::info!("registered at {address}");
                            return;
                        }
                        Err(e) => cx.warn(format!("registering at {address}: {e} (retrying)")),
                    }
                    tokio::select! {
                        _ = cx.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    }
                }
            });
        }
    }

    /// The task that takes the network's events: inbound requests (each handled on its own task,
    /// so a slow proof check does not hold up others), connections, misbehaving peers.
    pub(crate) async fn run(self: Arc<Self>, mut events: mpsc::Receiver<NetworkEvent>) {
        let cx = Arc::clone(&self.cx);
        loop {
            let event = tokio::select! {
                _ = cx.shutdown.cancelled() => return,
                event = events.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            match event {
                NetworkEvent::InboundRequest(request) => {
                    let intake = Arc::clone(&self);
                    tokio::spawn(async move { intake.handle_inbound(request).await });
                }
                NetworkEvent::PeerConnected { peer, address } => {
                    if let Err(e) = cx
                        .store
                        .upsert_peer(&peer.to_string(), &[address.to_string()])
                        .await
                    {
                        tracing::debug!("cannot record peer {peer}: {e}");
                    }
                }
                NetworkEvent::PeerMisbehaved { peer, reason } => {
                    tracing::warn!(%peer, "peer disconnected for sending garbage: {reason}");
                    cx.warn(format!(
                        "peer {peer} sent garbage and was disconnected: {reason}"
                    ));
                }
                NetworkEvent::RegistrationRefreshFailed {
                    rendezvous, reason, ..
                } => {
                    cx.warn(format!(
                        "rendezvous point {rendezvous} refused our registration: {reason} (retrying)"
                    ));
                }
                NetworkEvent::PeerDisconnected { .. } => {}
            }
        }
    }

    async fn handle_inbound(self: &Arc<Self>, request: InboundRequest) {
        let InboundRequest {
            peer,
            protocol,
            payload,
            responder,
        } = request;
        if protocol == SwapProtocol::Quote {
            let answer = self.quote_answer(peer, &payload);
            let _ = match answer {
                Ok(reply) => responder.ack(Some(reply.encode())).await,
                Err(reason) => responder.refuse(reason).await,
            };
            return;
        }
        let result = self.take_message(peer, protocol, payload).await;
        let _ = match result {
            Ok(()) => responder.ack(None).await,
            Err(Refusal::Final(reason)) => responder.refuse(reason).await,
            Err(Refusal::Busy(reason)) => responder.busy(reason).await,
        };
    }

    /// Takes `peer`'s swap message on `protocol`: from its envelope alone, refuses what goes
    /// nowhere (a kind that does not belong on the protocol, another peer's swap, an unknown
    /// swap, a setup beyond the maker's limits); only then decodes it, its proofs checked on
    /// the bounded [`ProofChecker`]; then hands it to its swap's driver or accepts the new
    /// swap. Returns the answer for the peer.
    async fn take_message(
        self: &Arc<Self>,
        peer: PeerId,
        protocol: SwapProtocol,
        payload: Vec<u8>,
    ) -> Result<(), Refusal> {
        let envelope = messages::peek(&payload).map_err(|e| {
            tracing::info!(%peer, "refused a malformed message: {e}");
            format!("invalid message: {e}")
        })?;
        if protocol_of_kind(envelope.kind) != protocol {
            return Err(format!(
                "message kind {} does not belong on {protocol}",
                envelope.kind
            )
            .into());
        }
        // No node answers a peer anything about another identity's swaps: a swap's own node
        // speaks for that swap alone, the main node for none of the swaps that run (or ran)
        // on a node of their own. A swap nobody knows (a new one) is asked no further, so a
        // maker's setups cost no lookup here.
        if self.only.is_some_and(|only| only != envelope.swap_id) {
            return Err(unknown_swap(&envelope.swap_id));
        }
        let route = route_of(
            &self.cx.drivers,
            &self.cx.store,
            &self.cx.vault,
            peer,
            envelope,
        )
        .await;
        if self.only.is_none()
            && !matches!(route, Route::New)
            && crate::driver::runs_on_own_node(&self.cx, &envelope.swap_id).await
        {
            return Err(unknown_swap(&envelope.swap_id));
        }
        let sender = match route {
            Route::Driver(sender) => Some(sender),
            Route::Over => return Ok(()),
            Route::Refuse(reason) => return Err(reason),
            Route::New => {
                self.admits_setup(peer, envelope).await?;
                None
            }
        };
        let message = self
            .proofs
            .decode(peer, payload, envelope.carries_a_proof())
            .await
            .map_err(|refusal| {
                tracing::info!(%peer, "refused a message: {refusal}");
                Refusal::from(refusal)
            })?;
        match (sender, message) {
            (Some(sender), message) => {
                let (reply, answer) = oneshot::channel();
                if sender.send(DriverMsg::Peer { message, reply }).is_err() {
                    return Err(stopping());
                }
                answer.await.unwrap_or_else(|_| Err(stopping()))
            }
            (None, Message::SetupBob(setup)) => self.accept_swap(peer, setup).await,
            (None, Message::SetupRequest(request)) => self.accept_sell(peer, request).await,
            (None, other) => Err(format!("{} does not open a swap", other.name()).into()),
        }
    }

    /// Whether a maker would take a new swap of `envelope`'s kind from `peer` now, before its
    /// setup is decoded: it is a maker (on that side), and neither `peer` nor all takers
    /// together have as many setups open as its limits allow. The checks that need the setup
    /// (terms, price, inventory, the seller's wallet) follow once it is decoded.
    async fn admits_setup(&self, peer: PeerId, envelope: Envelope) -> Result<(), Refusal> {
        let settings = self
            .with_desk(|desk| desk.settings())
            .ok_or("not a maker: this node does not take swaps")?;
        let store = &self.cx.store;
        if envelope.opens() == Some(Direction::BuyXmr) {
            let open = open_buy_setups(store, &self.cx.vault, &peer.to_string())
                .await
                .map_err(Refusal::busy)?;
            return Ok(open.admits(&settings)?);
        }
        let side = settings.sell.ok_or("this maker does not buy XMR")?;
        // the seller's wallet is in the setup: its part of the record is checked after decoding
        Ok(sell_exposure(store, &self.cx.vault, &peer.to_string(), "")
            .await
            .map_err(Refusal::busy)?
            .admits(&side)?)
    }

    fn quote_answer(&self, peer: PeerId, payload: &[u8]) -> Result<QuoteReply, String> {
        let request = quote::decode_request(payload).map_err(|e| e.to_string())?;
        let network = self.cx.config.network;
        if request.network != network {
            return Err(format!(
                "this maker swaps on {network:?}, not {:?}",
                request.network
            ));
        }
        self.with_desk(|desk| desk.quote_for(peer, network, Instant::now()))
            .unwrap_or_else(|| Err("not a maker: this node does not quote".into()))
    }

    /// A maker takes a new swap: checks the taker's terms against its quote and its XMR,
    /// then opens the swap as Alice and hands her machine the setup. Returns once the setup
    /// is handled (the answer for the peer).
    async fn accept_swap(self: &Arc<Self>, peer: PeerId, setup: SetupBob) -> Result<(), Refusal> {
        let cx = &self.cx;
        let guard = self.accepting.lock().await;
        let swap_id = setup.swap_id;
        // a copy of this setup may have created the swap while we waited
        if cx.drivers.contains(&swap_id) {
            return Err(Refusal::busy("the swap is starting"));
        }
        let network = cx.config.network;
        let (settings, price) = self
            .with_desk(|desk| {
                let price = desk.check_terms(network, &setup.terms, Instant::now());
                (desk.settings(), price)
            })
            .ok_or("not a maker: this node does not take swaps")?;
        let price = price?;
        // under the lock, with every earlier setup stored: the limits hold however many
        // setups arrived at once
        open_buy_setups(&cx.store, &cx.vault, &peer.to_string())
            .await
            .map_err(Refusal::busy)?
            .admits(&settings)?;
        let (unpromised, _) = unpromised_xmr(cx).await.map_err(Refusal::busy)?;
        can_promise(unpromised, setup.terms.xmr_amount)?;
        let fee_rate = cx.btc.fee_rate().await.map_err(Refusal::busy)?;
        let plan = NewSwapPlan {
            swap_id,
            role: Role::Alice,
            terms: setup.terms,
            peer,
            receive: None,
            btc_receive: None,
            setup_request: None,
            counterparty_wallet: None,
            fee_rate,
            audit: serde_json::json!({"taker": peer.to_string(), "price": price.0}),
            own_node: false,
        };
        let (reply, answer) = oneshot::channel();
        let first = DriverMsg::Peer {
            message: Message::SetupBob(setup),
            reply,
        };
        open_swap(cx, plan, first).await.map_err(Refusal::busy)?;
        drop(guard);
        let intake = Arc::clone(self);
        cx.tasks
            .spawn(async move { intake.refresh_free_xmr().await });
        answer.await.unwrap_or_else(|_| Err(stopping()))
    }

    /// A maker takes a taker's request to sell XMR: checks the terms against its bid, its
    /// exposure (open unlocked sell setups in total and with this taker, the taker's record
    /// of walk-aways), its free BTC, and the taker's reserve proof for this swap against its
    /// own Monero node; then opens the swap as Bob, whose machine sends its setup. Every
    /// check comes before anything is stored or locked.
    async fn accept_sell(
        self: &Arc<Self>,
        peer: PeerId,
        request: SetupRequest,
    ) -> Result<(), Refusal> {
        let cx = &self.cx;
        let guard = self.accepting.lock().await;
        let swap_id = request.swap_id;
        if cx.drivers.contains(&swap_id) {
            return Err(Refusal::busy("the swap is starting"));
        }
        let network = cx.config.network;
        let terms = request.terms;
        let price = self
            .with_desk(|desk| desk.check_terms(network, &terms, Instant::now()))
            .ok_or("not a maker: this node does not take swaps")??;
        let side = self
            .with_desk(|desk| desk.sell_side())
            .flatten()
            .ok_or("this maker does not buy XMR")?;
        let checked = async {
            let wallet = sellers_wallet(&request.reserve_proof.address, network)?;
            let exposure = sell_exposure(&cx.store, &cx.vault, &peer.to_string(), &wallet.to_string())
                .await
                .map_err(Refusal::busy)?;
            exposure.admits(&side)?;
            let fee_rate = cx.btc.fee_rate().await.map_err(Refusal::busy)?;
            let (unpromised, _) = unpromised_btc(cx, fee_rate)
                .await
                .map_err(Refusal::busy)?;
            let need = terms.btc_amount + btc_lock_fee_allowance(fee_rate);
            if unpromised < need {
                return Err(Refusal::Final(format!(
                    "the maker cannot lock {} now (its BTC is promised to other swaps); try a smaller amount or later",
                    terms.btc_amount
                )));
            }
            self.check_sellers_reserve(peer, &request, &wallet).await?;
            Ok((fee_rate, exposure, wallet))
        }
        .await;
        let (fee_rate, exposure, wallet) = match checked {
            Ok(ok) => ok,
            Err(reason) => {
                self.with_desk(|desk| desk.refused(Direction::SellXmr));
                tracing::info!(%peer, swap = %swap_id, "refused a setup request: {reason}");
                return Err(reason);
            }
        };
        let plan = NewSwapPlan {
            swap_id,
            role: Role::Bob,
            terms,
            peer,
            receive: None,
            btc_receive: None,
            setup_request: None,
            counterparty_wallet: Some(wallet.to_string()),
            fee_rate,
            audit: serde_json::json!({
                "taker": peer.to_string(),
                "price": price.0,
                "taker_walk_aways": exposure.walk_aways,
                "taker_completions": exposure.completions,
                "reserve_address": request.reserve_proof.address,
            }),
            own_node: false,
        };
        open_swap(cx, plan, DriverMsg::Input(Input::Tick))
            .await
            .map_err(Refusal::busy)?;
        drop(guard);
        let intake = Arc::clone(self);
        cx.tasks
            .spawn(async move { intake.refresh_free_btc().await });
        Ok(())
    }

    /// Checks the reserve proof a taker selling XMR sent: it names a Monero address of our
    /// network and verifies, by our own wallet RPC against our own node, over the message
    /// bound to us, this swap and its amount, proving at least the XMR the swap locks.
    async fn check_sellers_reserve(
        &self,
        peer: PeerId,
        request: &SetupRequest,
        address: &monero::Address,
    ) -> Result<(), Refusal> {
        let cx = &self.cx;
        let network = cx.config.network;
        let proof = &request.reserve_proof;
        let message = ReserveProof::swap_message(
            &cx.net.network.local_peer_id().to_string(),
            network,
            &request.swap_id,
            request.terms.xmr_amount,
        );
        let proven = cx
            .xmr
            .check_reserves(address, &message, &proof.signature)
            .await
            .map_err(|e| Refusal::busy(format!("cannot check the reserve proof: {e}")))?
            .ok_or_else(|| {
                tracing::info!(%peer, "a reserve proof did not verify");
                "the reserve proof does not verify for this maker, swap and amount".to_string()
            })?;
        if proven < request.terms.xmr_amount {
            return Err(Refusal::Final(format!(
                "the reserve proof proves {proven}, less than the {} to lock",
                request.terms.xmr_amount
            )));
        }
        Ok(())
    }

    /// Recomputes the maker's free BTC for its desk (spendable minus what is promised and the
    /// next lock's fee allowance); on an error the last known value stays. Does nothing when the maker does not buy XMR.
    async fn refresh_free_btc(&self) {
        if self.with_desk(|desk| desk.sell_side()).flatten().is_none() {
            return;
        }
        if let Err(e) = self.cx.btc.sync().await {
            tracing::warn!("cannot tell the maker's free BTC: {e}");
            return;
        }
        let fee_rate = match self.cx.btc.fee_rate().await {
            Ok(rate) => rate,
            Err(e) => {
                tracing::warn!("cannot tell the maker's free BTC: {e}");
                return;
            }
        };
        match unpromised_btc(&self.cx, fee_rate).await {
            Ok((unpromised, _)) => {
                // the next lock's fee is set aside, as `accept_sell` requires: a quoted
                // maximum is one the maker takes
                let free = unpromised
                    .checked_sub(btc_lock_fee_allowance(fee_rate))
                    .unwrap_or(Amount::ZERO);
                self.with_desk(|desk| desk.set_free_btc(free));
            }
            Err(e) => tracing::warn!("cannot tell the maker's free BTC: {e}"),
        }
    }

    /// Makes a new reserve proof for the maker's desk now and every [`RESERVE_PROOF_REFRESH`]
    /// until the engine stops; a failed attempt is retried after a minute.
    async fn keep_reserve_proof(self: Arc<Self>) {
        let cx = &self.cx;
        loop {
            let made_at = now().0;
            let message = ReserveProof::message(
                &cx.net.network.local_peer_id().to_string(),
                cx.config.network,
                made_at,
            );
            let wait = match cx.xmr.prove_reserves(&message).await {
                Ok((signature, proven)) => {
                    let proof = ReserveProof {
                        address: cx.xmr.address().to_string(),
                        made_at,
                        signature,
                    };
                    self.with_desk(|desk| desk.set_reserve_proof(proof, proven));
                    tracing::info!("new reserve proof: {proven}");
                    RESERVE_PROOF_REFRESH
                }
                Err(e) => {
                    tracing::warn!("cannot make a reserve proof: {e} (retrying in a minute)");
                    Duration::from_secs(60)
                }
            };
            tokio::select! {
                _ = cx.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Checks the clock and chain sources ([`chain_clock::chain_step`]) for the maker's desk,
    /// which takes nothing while they are out of step. A change is logged; when the sources
    /// cannot be asked, the last verdict stays.
    async fn refresh_chain_step(&self) {
        match chain_clock::chain_step(&self.cx).await {
            Ok(verdict) => {
                let reason = verdict.err();
                let before = self.with_desk(|desk| {
                    let before = desk.out_of_step().map(str::to_owned);
                    desk.set_out_of_step(reason.clone());
                    before
                });
                match (before.flatten(), &reason) {
                    (before, Some(reason)) if before.as_ref() != Some(reason) => {
                        tracing::warn!("not quoting or taking swaps: {reason}");
                    }
                    (Some(_), None) => tracing::info!("the clock and chain sources are in step"),
                    _ => {}
                }
            }
            Err(e) => tracing::warn!("cannot check the clock against the chain: {e}"),
        }
    }

    /// Recomputes the maker's free XMR for its desk: unlocked, minus what is promised, minus the
    /// next swap's lock fee allowance. On an error the last known value stays (and is logged).
    pub(crate) async fn refresh_free_xmr(&self) {
        match unpromised_xmr(&self.cx).await {
            Ok((unpromised, _)) => {
                let free = unpromised
                    .checked_sub(XMR_LOCK_FEE_ALLOWANCE)
                    .unwrap_or(XmrAmount::ZERO);
                self.with_desk(|desk| desk.set_free_xmr(free));
            }
            Err(e) => tracing::warn!("cannot tell the maker's free XMR: {e}"),
        }
    }
}

/// How often a maker checks its clock and chain sources ([`chain_clock::chain_step`]).
const CHAIN_STEP_REFRESH: Duration = Duration::from_secs(60);

/// How often a maker recomputes its free XMR (also after each swap it takes).
const FREE_XMR_REFRESH: Duration = Duration::from_secs(5);

/// What a maker sets aside for the fee of each XMR lock it has promised: far above a lock's
/// fee at normal priority (about 0.0001 XMR), so promised swaps can always pay theirs.
pub(crate) const XMR_LOCK_FEE_ALLOWANCE: XmrAmount = XmrAmount::from_piconero(10_000_000_000);

/// XMR a maker has promised to swaps that can still lock it, each with its lock's fee
/// allowance ([`XMR_LOCK_FEE_ALLOWANCE`]): see [`holds_a_setup`].
async fn promised_xmr(store: &Store, vault: &Vault) -> Result<XmrAmount, EngineError> {
    let mut promised = XmrAmount::ZERO;
    for record in store.unfinished_swaps(vault).await? {
        if holds_a_setup(&record) {
            promised = promised
                .checked_add(record.xmr_amount)
                .and_then(|p| p.checked_add(XMR_LOCK_FEE_ALLOWANCE))
                .unwrap_or(promised);
        }
    }
    Ok(promised)
}

/// Whether `record` is a maker's swap that can still lock its XMR, and so holds the XMR and
/// one of the maker's open setups: a swap it took as Alice, not locked yet, and not walked
/// away from. An Alice who sent her abort (the taker's lock did not come, or came too late)
/// never locks, however long she then watches for the taker's lock to return it early: her
/// XMR is free again at once, not after the cancel timelock.
fn holds_a_setup(record: &SwapRecord) -> bool {
    record.role == Role::Alice && record.phase < Phase::Locked && record.state_name != "AbortSent"
}

/// The setups a maker has open on the side on which it sells XMR (see [`holds_a_setup`]), in
/// total and with one taker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OpenSetups {
    pub(crate) open: u32,
    pub(crate) open_with_peer: u32,
}

impl OpenSetups {
    /// Whether one more setup with this taker fits `settings`; the error is the reason the
    /// taker is told.
    pub(crate) fn admits(&self, settings: &MakerSettings) -> Result<(), String> {
        if self.open_with_peer >= settings.max_open_setups_per_peer {
            return Err(format!(
                "you have {} swap(s) with this maker that are not locked yet (at most {}); lock or abort first",
                self.open_with_peer, settings.max_open_setups_per_peer
            ));
        }
        if self.open >= settings.max_open_setups {
            return Err("this maker has too many swaps being set up now; try again later".into());
        }
        Ok(())
    }
}

/// The maker's [`OpenSetups`] with the taker known by `peer`, from its store.
pub(crate) async fn open_buy_setups(
    store: &Store,
    vault: &Vault,
    peer: &str,
) -> Result<OpenSetups, EngineError> {
    let mut open = OpenSetups::default();
    for record in store.unfinished_swaps(vault).await? {
        if holds_a_setup(&record) {
            open.open += 1;
            open.open_with_peer += u32::from(record.peer == peer);
        }
    }
    Ok(open)
}

/// What a maker sets aside for the fee of each BTC lock it has promised at `fee_rate`: what
/// a taker buying XMR must have beside the amount (twice a cancel's fee, room for inputs).
pub(crate) fn btc_lock_fee_allowance(fee_rate: u64) -> Amount {
    fee_for_weight(fee_rate, TxCancel::max_weight()) * 2
}

/// The BTC a maker can still promise: its spendable BTC minus what swaps in which it is Bob
/// and has not locked yet were promised (each with a lock fee allowance at `fee_rate`, our
/// estimate now). Returns it and the promised part.
pub(crate) async fn unpromised_btc(
    cx: &Context,
    fee_rate: u64,
) -> Result<(Amount, Amount), EngineError> {
    let mut promised = Amount::ZERO;
    for record in cx.store.unfinished_swaps(&cx.vault).await? {
        if record.role == Role::Bob && record.phase < Phase::Locked {
            promised += record.btc_amount + btc_lock_fee_allowance(fee_rate);
        }
    }
    let spendable = cx.btc.balance().await.trusted_spendable();
    Ok((
        spendable.checked_sub(promised).unwrap_or(Amount::ZERO),
        promised,
    ))
}

/// A maker's exposure to one taker selling XMR, from its own store: the swaps in which the
/// maker is Bob and the taker has not locked its XMR yet (in total and with this taker), and
/// the taker's record — swaps it walked away from (the maker took its BTC back) and swaps it
/// completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SellExposure {
    pub(crate) open: u32,
    pub(crate) open_with_peer: u32,
    pub(crate) walk_aways: u32,
    pub(crate) completions: u32,
}

impl SellExposure {
    /// Whether one more swap with this taker fits `side`'s limits; the error is the reason
    /// the taker is told.
    pub(crate) fn admits(&self, side: &SellSide) -> Result<(), String> {
        if self.walk_aways > self.completions + side.walk_aways_forgiven {
            return Err(format!(
                "this maker does not buy XMR from you: you walked away from {} of its swaps and completed {}",
                self.walk_aways, self.completions
            ));
        }
        if self.open_with_peer >= side.max_open_per_peer {
            return Err(format!(
                "you have {} swap(s) with this maker whose XMR is not locked yet (at most {}); lock or abort first",
                self.open_with_peer, side.max_open_per_peer
            ));
        }
        if self.open >= side.max_open {
            return Err(
                "this maker has too many swaps waiting for XMR now; try again later".into(),
            );
        }
        Ok(())
    }
}

/// The Monero wallet a seller's reserve proof names, as the one key the maker's record of it
/// uses: its primary address. An integrated address stands for the same wallet (the same
/// keys with any payment id) and becomes the primary address; a subaddress, or an address of
/// another network, is refused (a taker proves its funds with its primary address).
///
/// # Errors
/// The reason the taker is told.
pub(crate) fn sellers_wallet(
    text: &str,
    network: confiaro_protocol::Network,
) -> Result<monero::Address, String> {
    let address: monero::Address = text
        .parse()
        .map_err(|_| "the reserve proof names no valid Monero address".to_string())?;
    network
        .check_monero_address(&address)
        .map_err(|e| format!("the reserve proof is for another network: {e}"))?;
    match address.addr_type {
        monero::AddressType::Standard | monero::AddressType::Integrated(_) => Ok(
            monero::Address::standard(address.network, address.public_spend, address.public_view),
        ),
        monero::AddressType::SubAddress => {
            Err("the reserve proof must name the wallet's primary address, not a subaddress".into())
        }
    }
}

/// The maker's [`SellExposure`] to a taker known by its `peer` id and by the `wallet` (the
/// primary address, see [`sellers_wallet`]) it proves its XMR in, from the maker's swaps as
/// Bob: a swap counts as the taker's when either matches, so neither a new peer id nor a new
/// wallet alone starts a clean record. Only the maker's swaps with sellers count (the Bob
/// swaps that carry the seller's wallet): an engine that also takes offers as a buyer of XMR
/// does not fill its own sell limits with them.
pub(crate) async fn sell_exposure(
    store: &Store,
    vault: &Vault,
    peer: &str,
    wallet: &str,
) -> Result<SellExposure, EngineError> {
    let mut exposure = SellExposure::default();
    for record in store.swaps(vault).await? {
        if record.role != Role::Bob || record.counterparty_wallet.is_none() {
            continue;
        }
        let unlocked = record.phase < Phase::Locked || record.state_name == "BtcLockPublished";
        let ours = record.peer == peer || record.counterparty_wallet.as_deref() == Some(wallet);
        exposure.open += u32::from(unlocked);
        exposure.open_with_peer += u32::from(unlocked && ours);
        if ours {
            exposure.walk_aways += u32::from(record.phase == Phase::Refunded);
            exposure.completions += u32::from(record.phase == Phase::Completed);
        }
    }
    Ok(exposure)
}

/// Whether a maker with `unpromised` XMR can promise `amount` more: the amount and its lock's
/// fee allowance must fit. The error is the reason the taker is told.
fn can_promise(unpromised: XmrAmount, amount: XmrAmount) -> Result<(), String> {
    let needed = amount
        .checked_add(XMR_LOCK_FEE_ALLOWANCE)
        .ok_or("amount too large")?;
    if unpromised < needed {
        return Err(format!(
            "the maker cannot lock {amount} now (its unlocked XMR is promised to other swaps); try a smaller amount or later"
        ));
    }
    Ok(())
}

/// The one measure of the XMR a maker can still promise or withdraw: its unlocked XMR minus
/// [`promised_xmr`] (zero when more is promised than unlocked). Returns it and the promised
/// part.
pub(crate) async fn unpromised_xmr(cx: &Context) -> Result<(XmrAmount, XmrAmount), EngineError> {
    let promised = promised_xmr(&cx.store, &cx.vault).await?;
    let unlocked = cx.xmr.balance().await?.unlocked;
    Ok((
        unlocked.checked_sub(promised).unwrap_or(XmrAmount::ZERO),
        promised,
    ))
}

#[cfg(test)]
mod tests {
    //! Routing, in process: a real SQLite store, the registry, and plain channels standing in
    //! for the drivers (no chain, no Monero, no network).
    use super::*;
    use crate::registry::DriverHandle;
    use crate::test_utils::{bob_and_setup, bob_with, loopback_peer, p2wpkh};
    use bitcoin::Amount;
    use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
    use confiaro_protocol::machine::Command;
    use confiaro_protocol::messages::SwapTerms;
    use confiaro_protocol::{Input, Network, SwapId, SwapState, Timestamp};
    use confiaro_store::{KdfParams, NewSwap, Vault};
    use tokio::sync::watch;

    const FAST_KDF: KdfParams = KdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };

    /// A maker's fresh machine for the taker's `setup` (Alice's side of the same swap).
    fn alice_for(setup: &Message) -> SwapState {
        let Message::SetupBob(setup) = setup else {
            panic!("a setup");
        };
        let secrets = SwapSecrets::derive(
            &WalletSeed([8; 64]),
            &setup.swap_id,
            Role::Alice,
            &SwapEntropy([2; 32]),
        );
        let share = secrets.public_share();
        let script = p2wpkh(2);
        let alice = confiaro_protocol::alice::Alice::new(
            setup.swap_id,
            setup.terms,
            secrets,
            share,
            script.clone(),
            script,
            5,
            Timestamp(0),
        );
        SwapState::Alice(Box::new(alice))
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        vault: Vault,
        drivers: SwapRegistry,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = crate::config::StoreLocation::sqlite(dir.path())
            .open()
            .await
            .expect("a store");
        let vault = store
            .create_vault("pw", b"words", FAST_KDF)
            .await
            .expect("a vault");
        Fixture {
            _dir: dir,
            store,
            vault,
            drivers: SwapRegistry::default(),
        }
    }

    impl Fixture {
        /// Stores `state` as a swap with `peer`.
        async fn stored(&self, state: &SwapState, peer: PeerId) {
            self.stored_with_wallet(state, peer, None).await;
        }

        /// Stores `state` as a swap with `peer`, whose proven wallet is `wallet`.
        async fn stored_with_wallet(&self, state: &SwapState, peer: PeerId, wallet: Option<&str>) {
            let new = NewSwap {
                peer: &peer.to_string(),
                receive_address: None,
                counterparty_wallet: wallet,
            };
            self.store
                .insert_swap(&self.vault, &new, state)
                .await
                .expect("stored");
        }

        /// A stand-in driver for `swap_id` with `peer`: its inbox.
        fn driver(&self, swap_id: SwapId, peer: PeerId) -> mpsc::UnboundedReceiver<DriverMsg> {
            let (sender, inbox) = mpsc::unbounded_channel();
            let (_, phase) = watch::channel(Phase::Negotiating);
            self.drivers.insert(
                swap_id,
                DriverHandle {
                    sender,
                    peer,
                    phase,
                },
            );
            inbox
        }

        async fn route(&self, peer: PeerId, message: &Message) -> Route {
            let envelope = messages::peek(&message.encode()).expect("a valid message");
            route_of(&self.drivers, &self.store, &self.vault, peer, envelope).await
        }
    }

    fn refusal(route: Route) -> Refusal {
        match route {
            Route::Refuse(refusal) => refusal,
            Route::Driver(..) => panic!("routed to a driver"),
            Route::Over => panic!("acknowledged as over"),
            Route::New => panic!("taken as a new swap"),
        }
    }

    #[tokio::test]
    async fn a_message_reaches_the_running_driver_of_its_swap_only_from_its_peer() {
        let f = fixture().await;
        let swap_id = SwapId([1; 32]);
        let (_, setup) = bob_and_setup(swap_id);
        let (taker, stranger) = (PeerId::random(), PeerId::random());
        let mut inbox = f.driver(swap_id, taker);

        let Route::Driver(sender) = f.route(taker, &setup).await else {
            panic!("the swap's own peer reaches its driver");
        };
        let (reply, _) = oneshot::channel();
        sender
            .send(DriverMsg::Peer {
                message: setup.clone(),
                reply,
            })
            .expect("the driver's inbox is open");
        assert!(matches!(
            inbox.try_recv(),
            Ok(DriverMsg::Peer { message, .. }) if message.swap_id() == swap_id
        ));

        assert_eq!(
            refusal(f.route(stranger, &setup).await),
            Refusal::Final(format!("swap {swap_id} is not a swap with you"))
        );
    }

    #[tokio::test]
    async fn without_a_driver_the_store_decides_over_resuming_or_not_yours() {
        let f = fixture().await;
        let taker = PeerId::random();

        // a finished swap: a repeat is acknowledged, from its peer only
        let over = SwapId([2; 32]);
        let (mut state, setup) = bob_and_setup(over);
        state
            .handle(Timestamp(2), Input::Command(Command::Abort))
            .expect("Bob may abort before locking");
        assert!(state.phase().is_terminal());
        f.stored(&state, taker).await;
        assert!(matches!(f.route(taker, &setup).await, Route::Over));
        let stranger = refusal(f.route(PeerId::random(), &setup).await);
        assert_eq!(
            stranger,
            Refusal::Final(format!("swap {over} is not a swap with you"))
        );

        // an unfinished swap whose driver is not running (yet): busy, the peer asks again
        let resuming = SwapId([3; 32]);
        let (state, setup) = bob_and_setup(resuming);
        f.stored(&state, taker).await;
        assert_eq!(
            refusal(f.route(taker, &setup).await),
            Refusal::Busy("the swap is resuming".into())
        );
    }

    /// A maker's promises come from its store: every swap it takes as Alice counts, with
    /// its lock's fee allowance, until locked or over; a taker's swaps never count.
    #[tokio::test]
    async fn promised_xmr_counts_the_makers_unlocked_swaps_with_their_fee_allowance() {
        let f = fixture().await;
        assert_eq!(
            promised_xmr(&f.store, &f.vault).await.unwrap(),
            XmrAmount::ZERO
        );
        let taker = PeerId::random();
        let (bob, _) = bob_and_setup(SwapId([6; 32]));
        f.stored(&bob, taker).await;
        assert_eq!(
            promised_xmr(&f.store, &f.vault).await.unwrap(),
            XmrAmount::ZERO
        );
        // a swap the maker took, as Alice
        let (_, setup) = bob_and_setup(SwapId([7; 32]));
        let alice = alice_for(&setup);
        f.stored(&alice, taker).await;
        let one_swap = XmrAmount::from_piconero(1_000_000_000_000)
            .checked_add(XMR_LOCK_FEE_ALLOWANCE)
            .unwrap();
        assert_eq!(promised_xmr(&f.store, &f.vault).await.unwrap(), one_swap);
        let mut aborted = alice;
        aborted
            .handle(Timestamp(3), Input::Command(Command::Abort))
            .expect("Alice may abort before locking");
        f.store.save_swap_state(&f.vault, &aborted).await.unwrap();
        assert_eq!(
            promised_xmr(&f.store, &f.vault).await.unwrap(),
            XmrAmount::ZERO
        );
    }

    /// A setup the taker never locks holds the maker's XMR and a setup slot until it times
    /// out, not until the cancel timelock: once Alice sent her abort she never locks, so
    /// watching for the taker's late lock holds nothing.
    #[tokio::test]
    async fn a_setup_that_timed_out_frees_its_xmr_and_its_slot_at_once() {
        let f = fixture().await;
        let taker = PeerId::random();
        let (_, setup) = bob_and_setup(SwapId([8; 32]));
        let mut alice = alice_for(&setup);
        alice
            .handle(Timestamp(1), Input::Message(setup))
            .expect("Alice takes the setup");
        f.stored(&alice, taker).await;
        let one_swap = XmrAmount::from_piconero(1_000_000_000_000)
            .checked_add(XMR_LOCK_FEE_ALLOWANCE)
            .unwrap();
        assert_eq!(promised_xmr(&f.store, &f.vault).await.unwrap(), one_swap);
        let open = open_buy_setups(&f.store, &f.vault, &taker.to_string())
            .await
            .unwrap();
        assert_eq!((open.open, open.open_with_peer), (1, 1));
        // the setup deadline passes without the taker's lock: Alice walks away
        let timeout = Network::Regtest.params().setup_timeout_seconds;
        alice
            .handle(Timestamp(u64::from(timeout) + 1), Input::Tick)
            .expect("a tick");
        assert_eq!(alice.state_name(), "AbortSent");
        assert!(
            !alice.phase().is_terminal(),
            "she still watches for a late lock"
        );
        f.store.save_swap_state(&f.vault, &alice).await.unwrap();
        assert_eq!(
            promised_xmr(&f.store, &f.vault).await.unwrap(),
            XmrAmount::ZERO
        );
        let open = open_buy_setups(&f.store, &f.vault, &taker.to_string())
            .await
            .unwrap();
        assert_eq!((open.open, open.open_with_peer), (0, 0));
    }

    #[test]
    fn a_maker_bounds_open_setups_in_total_and_per_taker() {
        let settings = MakerSettings::new(Amount::from_sat(10_000), Amount::from_sat(100_000));
        let none = OpenSetups::default();
        assert_eq!(none.admits(&settings), Ok(()));
        let per_peer = OpenSetups {
            open: 2,
            open_with_peer: 2,
        };
        assert!(per_peer
            .admits(&settings)
            .unwrap_err()
            .contains("not locked yet (at most 2)"));
        let full = OpenSetups {
            open: 16,
            open_with_peer: 0,
        };
        assert!(full
            .admits(&settings)
            .unwrap_err()
            .contains("too many swaps"));
        let almost = OpenSetups {
            open: 15,
            open_with_peer: 1,
        };
        assert_eq!(almost.admits(&settings), Ok(()));
    }

    #[test]
    fn a_swap_is_promised_only_with_room_for_its_lock_fee() {
        let amount = XmrAmount::from_piconero(1_000_000_000_000);
        let exact = amount.checked_add(XMR_LOCK_FEE_ALLOWANCE).unwrap();
        assert_eq!(can_promise(exact, amount), Ok(()));
        let short = exact.checked_sub(XmrAmount::from_piconero(1)).unwrap();
        let reason = can_promise(short, amount).unwrap_err();
        assert!(reason.contains("cannot lock 1"), "{reason}");
        assert_eq!(
            can_promise(exact, XmrAmount::from_piconero(u64::MAX)),
            Err("amount too large".to_owned())
        );
    }

    #[tokio::test]
    async fn only_a_setup_opens_an_unknown_swap() {
        let f = fixture().await;
        let taker = PeerId::random();
        let fresh = SwapId([4; 32]);
        let (_, setup) = bob_and_setup(fresh);
        assert!(matches!(f.route(taker, &setup).await, Route::New));
        let proof = Message::TransferProof(confiaro_protocol::messages::TransferProof {
            swap_id: fresh,
            tx_hash: [5; 32],
            tx_key: curve25519_dalek::Scalar::ONE,
            height: 1,
        });
        assert_eq!(
            refusal(f.route(taker, &proof).await),
            Refusal::Final(format!("unknown swap {fresh}"))
        );
    }

    /// The maker's whole intake in process, on the test doubles (an empty chain, a wallet
    /// RPC holding 1.5 XMR, real libp2p on loopback): a taker's quote request is answered; a
    /// setup the maker's XMR covers becomes one stored swap whose driver answers the taker
    /// with Alice's setup over the network; a copy of that setup makes no second swap; and a
    /// second swap the XMR no longer covers is refused before anything is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_maker_takes_only_the_setups_its_xmr_covers_and_answers_over_the_network() {
        use crate::test_utils::test_context;
        use confiaro_p2p::{NetworkEvent, SwapProtocol};
        use confiaro_protocol::quote::QuoteRequest;
        use std::time::Duration;

        let dir = tempfile::tempdir().expect("a temp dir");
        let (cx, events) =
            test_context(dir.path(), XmrAmount::from_piconero(1_500_000_000_000)).await;
        let intake = Arc::new(Intake::new(Arc::clone(&cx)));
        cx.tasks.spawn(Arc::clone(&intake).run(events));
        intake.start_maker(
            MakerSettings::new(Amount::from_sat(10_000), Amount::from_sat(5_000_000)),
            Ok(Price(100 * 1_000_000_000_000)),
        );
        // the maker quotes once it knows its free XMR (1.5 XMR less one lock's allowance)
        for _ in 0..100 {
            let known = intake
                .with_desk(|d| d.status(Network::Regtest).free_piconero)
                .flatten();
            if known.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let (taker, mut taker_events) = loopback_peer(3).await;
        let address = cx.net.network.listen_addresses().await[0].clone();
        let maker = taker
            .dial(address.with_p2p(cx.net.network.local_peer_id()).unwrap())
            .await
            .expect("the taker reaches the maker");
        let request = QuoteRequest {
            network: Network::Regtest,
        }
        .encode();
        let reply = taker
            .send(maker, SwapProtocol::Quote, request)
            .await
            .expect("a quote")
            .expect("with a body");
        let quote = quote::decode_reply(&reply).expect("a valid quote").quotes[0];
        assert_eq!(quote.max_btc, Amount::from_sat(1_490_000));
        let terms = quote
            .terms_for(Amount::from_sat(1_000_000))
            .expect("in range");
        assert_eq!(
            terms.xmr_amount,
            XmrAmount::from_piconero(1_000_000_000_000)
        );

        let first = SwapId([11; 32]);
        let (_, setup) = bob_with(terms, first);
        let acked = taker
            .send(maker, SwapProtocol::SwapSetup, setup.encode())
            .await;
        assert!(acked.is_ok(), "the setup is taken: {acked:?}");
        let answer = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match taker_events.recv().await.expect("the taker's network runs") {
                    NetworkEvent::InboundRequest(request) => break request,
                    _ => continue,
                }
            }
        })
        .await
        .expect("the maker answers");
        assert_eq!(answer.protocol, SwapProtocol::SwapSetup);
        match messages::decode(&answer.payload).expect("a valid message") {
            Message::SetupAlice(alice) => assert_eq!(alice.swap_id, first),
            other => panic!("Alice answers with her setup, not {}", other.name()),
        }
        let _ = answer.responder.ack(None).await;

        // a copy of the setup (a retry): acknowledged, and still one swap
        let again = taker
            .send(maker, SwapProtocol::SwapSetup, setup.encode())
            .await;
        assert!(again.is_ok(), "a repeated setup is harmless: {again:?}");
        let stored = cx.store.swaps(&cx.vault).await.expect("the swaps");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].role, Role::Alice);
        assert_eq!(stored[0].swap_id, first);

        // 1 XMR more is not covered (1.5 - 1.01 promised): refused, nothing stored
        let (_, second) = bob_with(terms, SwapId([12; 32]));
        let refused = taker
            .send(maker, SwapProtocol::SwapSetup, second.encode())
            .await
            .expect_err("refused");
        assert!(
            refused.to_string().contains("cannot lock"),
            "the reason names the XMR: {refused}"
        );
        assert_eq!(cx.store.swaps(&cx.vault).await.expect("the swaps").len(), 1);

        cx.shutdown.cancel();
        cx.net.network.shutdown().await;
    }

    #[test]
    fn a_maker_bounds_open_sell_setups_and_refuses_takers_who_walked_away() {
        let side = SellSide::new(Amount::from_sat(100_000), Amount::from_sat(1_000_000));
        let fresh = SellExposure::default();
        assert_eq!(fresh.admits(&side), Ok(()));
        let busy_with_you = SellExposure {
            open: 1,
            open_with_peer: 1,
            ..fresh
        };
        assert!(busy_with_you
            .admits(&side)
            .unwrap_err()
            .contains("not locked yet"));
        let busy = SellExposure { open: 4, ..fresh };
        assert!(busy.admits(&side).unwrap_err().contains("too many swaps"));
        let walked = SellExposure {
            walk_aways: 1,
            ..fresh
        };
        assert!(walked
            .admits(&side)
            .unwrap_err()
            .contains("walked away from 1"));
        // a walk-away balanced by completed swaps, or forgiven, is admitted
        let balanced = SellExposure {
            walk_aways: 2,
            completions: 2,
            ..fresh
        };
        assert_eq!(balanced.admits(&side), Ok(()));
        let forgiving = SellSide {
            walk_aways_forgiven: 1,
            ..side
        };
        assert_eq!(walked.admits(&forgiving), Ok(()));
    }

    /// A Monero key pair's public key from a small scalar.
    fn public_key(byte: u8) -> monero::PublicKey {
        let mut bytes = [0u8; 32];
        bytes[0] = byte;
        monero::PublicKey::from_private_key(
            &monero::PrivateKey::from_slice(&bytes).expect("a canonical scalar"),
        )
    }

    #[test]
    fn a_sellers_wallet_is_its_primary_address_whatever_form_it_is_given_in() {
        let net = monero::Network::Mainnet;
        let (spend, view) = (public_key(1), public_key(2));
        let primary = monero::Address::standard(net, spend, view);
        let wallet = |text: String| sellers_wallet(&text, Network::Mainnet);
        assert_eq!(wallet(primary.to_string()), Ok(primary));
        // every payment id names the same wallet: the record cannot be dodged with one
        for id in [[0u8; 8], [7u8; 8]] {
            let integrated = monero::Address::integrated(
                net,
                spend,
                view,
                monero::util::address::PaymentId::from_slice(&id),
            );
            assert_ne!(integrated.to_string(), primary.to_string());
            assert_eq!(wallet(integrated.to_string()), Ok(primary));
        }
        let sub = monero::Address::subaddress(net, spend, view);
        assert!(wallet(sub.to_string()).unwrap_err().contains("subaddress"));
        let stagenet = monero::Address::standard(monero::Network::Stagenet, spend, view);
        assert!(wallet(stagenet.to_string())
            .unwrap_err()
            .contains("stagenet"));
        assert!(wallet("4abc".into())
            .unwrap_err()
            .contains("no valid Monero address"));
    }

    #[tokio::test]
    async fn a_takers_record_follows_its_wallet_across_peer_ids_and_its_peer_id_across_wallets() {
        let f = fixture().await;
        let sell = |byte: u8| {
            let terms = SwapTerms::new(
                Network::Regtest,
                Direction::SellXmr,
                Amount::from_sat(1_000_000),
                XmrAmount::from_piconero(1_000_000_000_000),
            );
            bob_with(terms, SwapId([byte; 32])).0
        };
        let (first_peer, second_peer, stranger) =
            (PeerId::random(), PeerId::random(), PeerId::random());
        f.stored_with_wallet(&sell(1), first_peer, Some("wallet-a"))
            .await;
        // the same wallet behind a new peer id
        f.stored_with_wallet(&sell(2), second_peer, Some("wallet-a"))
            .await;
        // the engine's own purchase of XMR from another maker (Bob, no seller's wallet)
        f.stored(&bob_and_setup(SwapId([3; 32])).0, first_peer)
            .await;
        let exposure = |peer: PeerId, wallet: &'static str| {
            let (store, vault) = (f.store.clone(), f.vault.clone());
            async move {
                sell_exposure(&store, &vault, &peer.to_string(), wallet)
                    .await
                    .expect("the exposure")
            }
        };
        let by_wallet = exposure(stranger, "wallet-a").await;
        assert_eq!((by_wallet.open, by_wallet.open_with_peer), (2, 2));
        let by_peer = exposure(first_peer, "wallet-b").await;
        assert_eq!((by_peer.open, by_peer.open_with_peer), (2, 1));
        let nobody = exposure(stranger, "wallet-b").await;
        assert_eq!((nobody.open, nobody.open_with_peer), (2, 0));
    }

    /// A maker sends messages for as long as it runs: the deliveries it holds are the ones in
    /// flight, not one per message ever sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_deliveries_are_not_kept() {
        let (ours, _our_events) = loopback_peer(41).await;
        let (theirs, mut their_events) = loopback_peer(42).await;
        tokio::spawn(async move {
            while let Some(event) = their_events.recv().await {
                if let NetworkEvent::InboundRequest(request) = event {
                    let _ = request.responder.ack(None).await;
                }
            }
        });
        let address = theirs.listen_addresses().await[0]
            .clone()
            .with_p2p(theirs.local_peer_id())
            .expect("a peer address");
        let side = crate::net::NetSide::new(ours, crate::net::SwapNodes::default(), true);
        let peer = side.dial(&address).await.expect("the peer is reachable");
        for n in 0..20u8 {
            let swap_id = SwapId([n; 32]);
            let proof = Message::TransferProof(confiaro_protocol::messages::TransferProof {
                swap_id,
                tx_hash: [n; 32],
                tx_key: curve25519_dalek::Scalar::ONE,
                height: 1,
            });
            side.deliver(
                swap_id,
                peer,
                proof,
                tokio_util::sync::CancellationToken::new(),
                |_| async {},
            );
            assert!(side.flush(&swap_id, Duration::from_secs(10)).await);
        }
        assert!(
            side.held_deliveries() <= 1,
            "{} deliveries held after 20 finished",
            side.held_deliveries()
        );
        side.network.shutdown().await;
        theirs.shutdown().await;
    }
}
