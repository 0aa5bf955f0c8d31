//! The [`Engine`], the facade on top of the layers: opens a data directory, starts the
//! adapters, the intake and the watchers, resumes every unfinished swap, and offers the
//! operations the CLI and the GUI call (buy XMR, quote as a maker, commands, wallets,
//! receipts), each handed to the layer that does it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::address::NetworkUnchecked;
use bitcoin::Amount;
use confiaro_bitcoin::Mnemonic;
use confiaro_p2p::{Multiaddr, NetworkConfig, NetworkEvent, PeerId};
use confiaro_protocol::machine::Command;
use confiaro_protocol::quote::{Price, QuoteReply};
use confiaro_protocol::{Input, Phase, SwapId, SwapState, XmrAmount};
use confiaro_store::{KdfParams, Store, StoreError, Vault};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::btc::BtcSide;
use crate::config::{EngineConfig, StoreLocation};
use crate::context::{random_bytes, BusyJobs, Context, DataDirLock};
use crate::driver::start_driver;
use crate::error::EngineError;
use crate::events::{EventStream, SwapView};
use crate::faults::Faults;
use crate::inbox::DriverMsg;
use crate::intake::{unpromised_xmr, Intake};
use crate::keys::EngineKeys;
use crate::maker::{MakerSettings, MakerStatus};
use crate::net::{NetSide, SwapNodes};
use crate::receipt::Receipt;
use crate::registry::SwapRegistry;
use crate::taker::Offer;
use crate::xmr::XmrSide;

/// Capacity of the event stream; slow subscribers miss the oldest events (they are a live
/// view; the store has the record).
const EVENT_CAPACITY: usize = 4096;

/// Both wallets' balances, in integer units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WalletBalances {
    /// Confirmed, spendable BTC (sat).
    pub btc_confirmed_sat: u64,
    /// Unconfirmed BTC (sat).
    pub btc_pending_sat: u64,
    /// Immature coinbase BTC (sat).
    pub btc_immature_sat: u64,
    /// All XMR (piconero).
    pub xmr_total_piconero: u64,
    /// Spendable XMR (piconero).
    pub xmr_unlocked_piconero: u64,
}

/// The swap engine. See the [crate docs](crate).
///
/// Cheap to clone (an `Arc`); all clones drive the same swaps.
#[derive(Clone)]
pub struct Engine {
    cx: Arc<Context>,
    intake: Arc<Intake>,
}

async fn unlock(store: &Store, data_dir: &Path, password: &str) -> Result<Vault, EngineError> {
    store.unlock_vault(password).await.map_err(|e| match e {
        StoreError::NoVault => EngineError::NoWallet(data_dir.to_path_buf()),
        StoreError::WrongPassword => EngineError::WrongPassword(data_dir.to_path_buf()),
        other => EngineError::Store(other),
    })
}

fn mnemonic_of(vault: &Vault) -> Result<Mnemonic, EngineError> {
    let phrase = std::str::from_utf8(vault.wallet_secret()).map_err(|_| {
        EngineError::InvalidInput("the stored wallet secret is not a mnemonic".into())
    })?;
    Mnemonic::parse(phrase).map_err(|_| {
        EngineError::InvalidInput("the stored wallet secret is not a valid mnemonic".into())
    })
}

/// What [`Engine::open_with_progress`] is doing, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenStep {
    /// Tor is bootstrapping: how far (0 to 100) and what it is doing (or what blocks it).
    Tor {
        /// Percent done.
        percent: u8,
        /// Tor's own words for the step.
        status: String,
    },
    /// Opening the wallets: the Bitcoin wallet's sync, the Monero wallet RPC.
    Wallets,
    /// Joining the peer network and resuming unfinished swaps.
    Network,
}

/// Tor while the engine runs: the client, for the node's transport, and the local proxy the
/// chain clients reach their servers through.
struct RunningTor {
    tor: confiaro_tor::Tor,
    proxy: confiaro_tor::LocalProxy,
}

/// Refuses TCP listen addresses with Tor on: over Tor the node has none (a maker serves an
/// onion service).
fn check_tor_listen(config: &EngineConfig) -> Result<(), EngineError> {
    if config.p2p.tor.is_some() && !config.p2p.listen.is_empty() {
        return Err(EngineError::InvalidInput(
            "over Tor the node listens on no TCP address (a maker serves an onion service): \
             drop the listen addresses, or turn Tor off"
                .into(),
        ));
    }
    Ok(())
}

/// Bootstraps Tor when [`P2pConfig::tor`](crate::P2pConfig::tor) asks for it (in the data
/// directory's `tor/`, its progress logged and passed to `progress`), and opens the local
/// proxy.
async fn start_tor(
    config: &EngineConfig,
    progress: &Arc<dyn Fn(OpenStep) + Send + Sync>,
) -> Result<Option<RunningTor>, EngineError> {
    let Some(settings) = &config.p2p.tor else {
        return Ok(None);
    };
    let tor_config = confiaro_tor::TorConfig {
        dir: config.data_dir.join("tor"),
        network: settings.network.clone(),
    };
    let started = std::time::Instant::now();
    let report = Arc::clone(progress);
    let tor = confiaro_tor::Tor::bootstrap(&tor_config, move |step| {
        let percent = (step.fraction.clamp(0.0, 1.0) * 100.0).round() as u8;
        tracing::info!(percent, "Tor bootstrap: {}", step.status);
        report(OpenStep::Tor {
            percent,
            status: step.status,
        });
    })
    .await?;
    let proxy = confiaro_tor::LocalProxy::serve(tor.clone())
        .await
        .map_err(EngineError::io("opening the local Tor proxy"))?;
    tracing::info!(
        ms = started.elapsed().as_millis(),
        proxy = %proxy.address(),
        "Tor ready"
    );
    Ok(Some(RunningTor { tor, proxy }))
}

/// The node's network: over TCP; or, with Tor running, over Tor alone, listening on the
/// maker's onion service instead of TCP addresses.
async fn start_network(
    config: &EngineConfig,
    keys: &EngineKeys,
    tor: Option<confiaro_tor::Tor>,
) -> Result<(confiaro_p2p::Network, mpsc::Receiver<NetworkEvent>), EngineError> {
    let mut p2p = NetworkConfig::new(keys.identity.clone());
    p2p.advertise_listen_addresses = config.p2p.advertise_listen_addresses;
    let (Some(tor), Some(settings)) = (tor, &config.p2p.tor) else {
        p2p.listen = config.p2p.listen.clone();
        return Ok(confiaro_p2p::Network::start(p2p).await?);
    };
    let transport = match settings.onion_port {
        None => confiaro_tor::TorTransport::new(tor),
        Some(port) => {
            let service = tor.launch_onion_service("confiaro-maker", port)?;
            p2p.listen = vec![service.address().clone()];
            tracing::info!(address = %service.address(), "onion service launched");
            confiaro_tor::TorTransport::with_onion_service(tor, service)
        }
    };
    Ok(confiaro_p2p::Network::start_over(p2p, confiaro_p2p::stream_transport(transport)).await?)
}

impl Engine {
    /// Creates the wallet of a new data directory: a new 24-word mnemonic (or `restore`),
    /// encrypted under `password`. Returns the mnemonic, for the user to write down — the only
    /// time the app shows it.
    ///
    /// # Errors
    /// [`EngineError::WalletExists`] if the directory has one; store errors.
    pub async fn init(
        config: &EngineConfig,
        password: &str,
        restore: Option<Mnemonic>,
    ) -> Result<Mnemonic, EngineError> {
        let _lock = DataDirLock::acquire(&config.data_dir)?;
        let store = config.store().open().await?;
        if store.has_vault().await? {
            return Err(EngineError::WalletExists(config.data_dir.clone()));
        }
        let fresh = restore.is_none();
        let mnemonic = match restore {
            Some(m) => m,
            None => Mnemonic::from_entropy(&random_bytes::<32>()?)
                .map_err(|e| EngineError::InvalidInput(format!("mnemonic: {e}")))?,
        };
        let vault = store
            .create_vault(
                password,
                mnemonic.to_string().as_bytes(),
                KdfParams::default(),
            )
            .await
            .map_err(|e| match e {
                StoreError::WeakPassword => {
                    EngineError::InvalidInput("the password must not be empty".into())
                }
                other => EngineError::Store(other),
            })?;
        if fresh {
            let through_tor = config
                .p2p
                .tor
                .as_ref()
                .is_some_and(|tor| tor.carries(&config.monero.daemon_url));
            XmrSide::record_birth(&config.data_dir, &config.monero, !through_tor).await?;
        }
        store
            .append_audit(
                &vault,
                None,
                "wallet-created",
                serde_json::json!({"restored": !fresh}),
            )
            .await?;
        store.close().await;
        Ok(mnemonic)
    }

    /// Opens the engine in `config.data_dir` with `password`: unlocks the wallet, syncs the
    /// Bitcoin wallet, starts the Monero wallet RPC and the network, and resumes every
    /// unfinished swap. Needs a multi-threaded tokio runtime.
    ///
    /// # Errors
    /// [`EngineError::NoWallet`], [`EngineError::WrongPassword`],
    /// [`EngineError::DataDirLocked`]; a chain, Monero or network error if one cannot be
    /// reached at start (its message names it).
    pub async fn open(config: EngineConfig, password: &str) -> Result<Engine, EngineError> {
        Engine::open_with_progress(config, password, |_| {}).await
    }

    /// [`Engine::open`], telling `progress` each step as it starts (Tor's bootstrap step by
    /// step): for an app's start screen.
    ///
    /// # Errors
    /// As [`Engine::open`]; a Tor error names its cause (no circuits, timed out).
    pub async fn open_with_progress(
        mut config: EngineConfig,
        password: &str,
        progress: impl Fn(OpenStep) + Send + Sync + 'static,
    ) -> Result<Engine, EngineError> {
        let progress: Arc<dyn Fn(OpenStep) + Send + Sync> = Arc::new(progress);
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let store = config.store().open().await?;
        let vault = unlock(&store, &config.data_dir, password).await?;
        let keys = EngineKeys::derive(&mnemonic_of(&vault)?);
        let network = config.network;
        check_tor_listen(&config)?;
        // Tor before the wallets when the chain clients need its proxy; else after them, so
        // that a dead local node fails the start at once, not after Tor's bootstrap
        let chain_over_tor = config.p2p.tor.as_ref().is_some_and(|tor| {
            tor.carries(config.bitcoin.url()) || tor.carries(&config.monero.daemon_url)
        });
        let tor = if chain_over_tor {
            start_tor(&config, &progress).await?
        } else {
            None
        };
        let chain_proxy = |url: &str| match (&tor, &config.p2p.tor) {
            (Some(running), Some(settings)) if settings.carries(url) => {
                Some(running.proxy.address())
            }
            _ => None,
        };
        let bitcoin_proxy = chain_proxy(config.bitcoin.url());
        config.monero.daemon_proxy = chain_proxy(&config.monero.daemon_url);
        if let Some(settings) = &config.p2p.tor {
            tracing::info!(
                bitcoin = bitcoin_proxy.is_some(),
                monero = config.monero.daemon_proxy.is_some(),
                chain_traffic = settings.chain_traffic,
                "chain sources through Tor"
            );
        }
        progress(OpenStep::Wallets);
        let opening = std::time::Instant::now();
        let btc = Arc::new(
            BtcSide::open(
                store.clone(),
                vault.clone(),
                &keys.mnemonic,
                network,
                crate::btc::source_factory(config.bitcoin.clone(), bitcoin_proxy),
            )
            .await?,
        );
        let bitcoin_ms = opening.elapsed().as_millis();
        let xmr = XmrSide::start(&config.monero, &keys, network, &config.data_dir).await?;
        tracing::info!(
            bitcoin_ms,
            monero_ms = opening.elapsed().as_millis() - bitcoin_ms,
            "wallets open"
        );
        let tor = match tor {
            Some(running) => Some(running),
            None => match start_tor(&config, &progress).await {
                Ok(started) => started,
                Err(e) => {
                    xmr.stop().await;
                    return Err(e);
                }
            },
        };
        progress(OpenStep::Network);
        let (tor_client, tor_proxy) = match tor {
            Some(RunningTor { tor, proxy }) => (Some(tor), Some(proxy)),
            None => (None, None),
        };
        let swap_nodes = SwapNodes {
            tor: tor_client.clone(),
        };
        let (p2p_network, p2p_events) = match start_network(&config, &keys, tor_client).await {
            Ok(started) => started,
            Err(e) => {
                xmr.stop().await;
                return Err(e);
            }
        };
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let cx = Arc::new(Context {
            faults: Faults::from_env(network),
            tor_proxy,
            net: NetSide::new(
                p2p_network,
                swap_nodes,
                network == confiaro_protocol::Network::Regtest,
            ),
            config,
            store,
            vault,
            keys,
            btc,
            xmr,
            drivers: SwapRegistry::default(),
            events,
            busy: BusyJobs::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            _lock: lock,
        });
        cx.tasks.spawn(crate::btc::run_watcher(
            Arc::clone(&cx.btc),
            cx.config.poll_interval,
            cx.events.clone(),
            cx.shutdown.clone(),
        ));
        let intake = Arc::new(Intake::new(Arc::clone(&cx)));
        cx.tasks
            .spawn(crate::peers::run_peer_refresh(Arc::clone(&cx)));
        for address in cx.config.p2p.rendezvous.clone() {
            if let Err(e) = cx.net.dial(&address).await {
                cx.warn(format!("rendezvous point {address}: {e}"));
            }
        }
        let engine = Engine { cx, intake };
        engine.resume_all().await?;
        // peers' messages are taken once every unfinished swap has its driver again: one
        // arriving earlier waits in the network's queue rather than finding no driver
        engine
            .cx
            .tasks
            .spawn(Arc::clone(&engine.intake).run(p2p_events));
        Ok(engine)
    }

    async fn resume_all(&self) -> Result<(), EngineError> {
        let cx = &self.cx;
        for record in cx.store.unfinished_swaps(&cx.vault).await? {
            let Some(state) = cx.store.swap_state(&cx.vault, &record.swap_id).await? else {
                continue;
            };
            let Ok(peer) = record.peer.parse::<PeerId>() else {
                tracing::error!(swap = %record.swap_id, "stored peer id {} is invalid", record.peer);
                continue;
            };
            // a taker's swap speaks from its own node again, with its identity
            let node = if crate::driver::runs_on_own_node(cx, &record.swap_id).await {
                crate::taker::start_swap_node(cx, record.swap_id).await?
            } else {
                cx.net.network.clone()
            };
            if let Some(known) = cx.store.peer(&record.peer).await? {
                for address in known.addresses.iter().filter_map(|a| a.parse().ok()) {
                    node.add_peer_address(peer, address).await;
                }
            }
            if let (SwapState::Bob(_), Some(agreement)) = (&state, state.agreement()) {
                cx.btc.reserve(agreement.txs.lock.psbt());
            }
            // Bob's XMR address; Alice's is a Bitcoin address, already in her redeem output
            let receive = record
                .receive_address
                .as_deref()
                .filter(|_| matches!(state, SwapState::Bob(_)))
                .and_then(|a| a.parse::<monero::Address>().ok());
            start_driver(
                cx,
                state,
                peer,
                receive,
                vec![DriverMsg::Input(Input::Resume)],
            );
            tracing::info!(swap = %record.swap_id, state = record.state_name, "resumed");
        }
        Ok(())
    }

    /// A new subscriber to the engine's events, from now on. The stream is lossy: a
    /// subscriber more than 4,096 events behind is told what it missed
    /// ([`Received::Lagged`](crate::events::Received::Lagged)) and resyncs from
    /// [`Engine::swaps`] (see [`crate::events`]).
    pub fn subscribe(&self) -> EventStream {
        EventStream::new(self.cx.events.subscribe())
    }

    /// This node's libp2p identity.
    pub fn peer_id(&self) -> PeerId {
        self.cx.net.network.local_peer_id()
    }

    /// The addresses this node listens on, with `/p2p/<peer id>`.
    pub async fn listen_addresses(&self) -> Vec<Multiaddr> {
        let peer = self.peer_id();
        self.cx
            .net
            .network
            .listen_addresses()
            .await
            .into_iter()
            .map(|a| a.with_p2p(peer).unwrap_or_else(|a| a))
            .collect()
    }

    /// The network this engine swaps on.
    pub fn network(&self) -> confiaro_protocol::Network {
        self.cx.config.network
    }

    /// The address of Tor's local SOCKS proxy, while this engine sends its chain traffic
    /// through Tor; `None` otherwise. Pass it to
    /// [`check_connections`](crate::connection_check::check_connections) to test sources as
    /// the engine reaches them.
    pub fn tor_proxy(&self) -> Option<std::net::SocketAddr> {
        self.cx
            .tor_proxy
            .as_ref()
            .map(confiaro_tor::LocalProxy::address)
    }

    /// Starts quoting with `settings` at `price` (an `Err` says why there is no price yet:
    /// the maker refuses quotes, with that reason, until [`Engine::set_maker_price`] gives
    /// one), keeps its free XMR up to date (unlocked minus what unlocked swaps were
    /// promised; the largest swap quoted shrinks to it) and registers at the rendezvous
    /// points (a point that cannot be reached is retried in the background).
    ///
    /// # Errors
    /// [`EngineError::Quote`] if the settings do not make a valid quote at `price` (or at a
    /// nominal price when there is none yet).
    pub async fn start_maker(
        &self,
        settings: MakerSettings,
        price: Result<Price, String>,
    ) -> Result<(), EngineError> {
        let check_price = price.clone().unwrap_or(Price(1));
        settings.quote(self.network(), check_price).validate()?;
        self.intake.start_maker(settings, price);
        Ok(())
    }

    /// Sets the maker's price (from its price feed); an `Err` stops quoting and is the
    /// reason takers are told. Does nothing on an engine that is not a maker.
    pub fn set_maker_price(&self, price: Result<Price, String>) {
        self.intake.with_desk(|desk| desk.set_price(price));
    }

    /// Pauses (`true`) or resumes (`false`) quoting and taking new swaps; swaps already
    /// taken go on. Does nothing on an engine that is not a maker.
    pub fn pause_quoting(&self, paused: bool) {
        self.intake.with_desk(|desk| desk.set_paused(paused));
    }

    /// What the maker is doing (quoting or why not, price, limits, free XMR, counters), or
    /// `None` on an engine that is not a maker.
    pub fn maker_status(&self) -> Option<MakerStatus> {
        let network = self.network();
        self.intake.with_desk(|desk| desk.status(network))
    }

    /// The offers registered at the configured rendezvous points, each with its quote.
    ///
    /// # Errors
    /// [`EngineError::InvalidInput`] when no rendezvous point is configured; the first
    /// rendezvous error when none answered.
    pub async fn offers(&self) -> Result<Vec<Offer>, EngineError> {
        crate::taker::offers(&self.cx).await
    }

    /// Asks the maker at `maker` (a multiaddr ending in `/p2p/<peer id>`) for its quote, and
    /// checks its reserve proof when it attaches one. Returns the quote and what the proof
    /// proves (`None`: no proof attached).
    ///
    /// # Errors
    /// Dial, request and quote errors; [`EngineError::InvalidInput`] when an attached reserve
    /// proof does not verify.
    pub async fn request_quote(
        &self,
        maker: &Multiaddr,
    ) -> Result<(QuoteReply, Option<XmrAmount>), EngineError> {
        crate::taker::request_quote(&self.cx, maker).await
    }

    /// Starts buying XMR for `btc` from the maker at `maker` (a multiaddr ending in
    /// `/p2p/<peer id>`): asks its quote, checks the amount against it and the wallet, and
    /// opens the swap (as Bob). The XMR goes to `receive`, or to the built-in wallet.
    /// Returns at once with the swap's id; follow it with [`Engine::subscribe`] and
    /// [`Engine::wait_for_end`].
    ///
    /// # Errors
    /// [`EngineError::Quote`] (amount outside the maker's limits), [`EngineError::InsufficientFunds`],
    /// [`EngineError::InvalidInput`] (receive address of another network), network errors.
    pub async fn buy_xmr(
        &self,
        maker: &Multiaddr,
        btc: Amount,
        receive: Option<monero::Address>,
    ) -> Result<SwapId, EngineError> {
        crate::taker::buy_xmr(&self.cx, maker, btc, receive).await
    }

    /// Starts selling exactly `xmr` to the maker at `maker`: asks its quotes, checks the
    /// amount against its sell quote (the side on which it buys XMR) and the XMR this wallet
    /// has unlocked and not promised, proves the wallet's reserves for this swap, and opens
    /// the swap (as Alice); the maker checks the proof with its own node and opens as Bob.
    /// The BTC goes to `receive`, or to the built-in wallet. Returns at once with the swap's
    /// id; follow it with [`Engine::subscribe`] and [`Engine::wait_for_end`].
    ///
    /// # Errors
    /// [`EngineError::Quote`] (amount outside the maker's limits), [`EngineError::InsufficientFunds`],
    /// [`EngineError::InvalidInput`] (a maker that does not buy XMR, a receive address of
    /// another network), wallet and network errors.
    pub async fn sell_xmr(
        &self,
        maker: &Multiaddr,
        xmr: XmrAmount,
        receive: Option<bitcoin::Address<NetworkUnchecked>>,
    ) -> Result<SwapId, EngineError> {
        crate::taker::sell_xmr(&self.cx, maker, xmr, receive).await
    }

    /// Sets the maker's bid price (where it buys XMR, from its price feed); an `Err` stops
    /// that side and is the reason takers are told. Does nothing on an engine that is not a
    /// maker or does not buy XMR.
    pub fn set_bid_price(&self, price: Result<Price, String>) {
        self.intake.with_desk(|desk| desk.set_bid(price));
    }

    async fn command(&self, swap_id: &SwapId, command: Command) -> Result<(), EngineError> {
        let Some(sender) = self.cx.drivers.sender(swap_id) else {
            return match self.cx.store.swap(&self.cx.vault, swap_id).await? {
                Some(_) => Err(EngineError::Protocol(
                    confiaro_protocol::ProtocolError::NotAllowed {
                        command,
                        reason: "the swap is over".into(),
                    },
                )),
                None => Err(EngineError::UnknownSwap(*swap_id)),
            };
        };
        let (reply, answer) = oneshot::channel();
        sender
            .send(DriverMsg::Command { command, reply })
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)??;
        Ok(())
    }

    /// Aborts a swap cooperatively (only before anything of ours is locked), and waits up to
    /// `flush` for the counterparty to acknowledge the abort.
    ///
    /// # Errors
    /// [`EngineError::Protocol`] when the swap is past the point of aborting (the message says
    /// what happens instead); [`EngineError::UnknownSwap`].
    pub async fn abort(&self, swap_id: &SwapId, flush: Duration) -> Result<bool, EngineError> {
        self.command(swap_id, Command::Abort).await?;
        Ok(self.cx.net.flush(swap_id, flush).await)
    }

    /// Bob: cancels and refunds now (only once the cancel timelock has passed; before, the
    /// error says in how many blocks). The engine does this on its own anyway; the command is
    /// for when it was not running.
    ///
    /// # Errors
    /// As [`Engine::abort`].
    pub async fn cancel_refund(&self, swap_id: &SwapId) -> Result<(), EngineError> {
        // the machine decides from the lock's depth: let it learn the chain as it is now
        self.cx.btc.fresh_chain_view().await;
        self.command(swap_id, Command::CancelRefund).await
    }

    /// Waits until the swap reaches a terminal phase and returns it.
    ///
    /// # Errors
    /// [`EngineError::UnknownSwap`]; [`EngineError::Stopped`] if the engine stops first.
    pub async fn wait_for_end(&self, swap_id: &SwapId) -> Result<Phase, EngineError> {
        let Some(mut receiver) = self.cx.drivers.phase(swap_id) else {
            return match self.cx.store.swap(&self.cx.vault, swap_id).await? {
                Some(record) if record.phase.is_terminal() => Ok(record.phase),
                Some(_) => Err(EngineError::Stopped),
                None => Err(EngineError::UnknownSwap(*swap_id)),
            };
        };
        loop {
            let phase = *receiver.borrow_and_update();
            if phase.is_terminal() {
                // the driver sends the terminal phase last, after the receipt is stored
                return Ok(phase);
            }
            tokio::select! {
                _ = self.cx.shutdown.cancelled() => return Err(EngineError::Stopped),
                changed = receiver.changed() => {
                    if changed.is_err() {
                        let record = self.cx.store.swap(&self.cx.vault, swap_id).await?;
                        return match record {
                            Some(r) if r.phase.is_terminal() => Ok(r.phase),
                            _ => Err(EngineError::Stopped),
                        };
                    }
                }
            }
        }
    }

    /// All swaps, newest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn swaps(&self) -> Result<Vec<SwapView>, EngineError> {
        swap_views(
            &self.cx.store,
            &self.cx.vault,
            self.cx.btc.observed_block_seconds(),
        )
        .await
    }

    /// How many swaps the store holds in each phase, from the swap records alone (no state is
    /// decrypted): cheap enough for a metrics scrape.
    ///
    /// # Errors
    /// Store errors.
    pub async fn swaps_by_phase(
        &self,
    ) -> Result<std::collections::BTreeMap<Phase, u64>, EngineError> {
        let mut by_phase = std::collections::BTreeMap::new();
        for record in self.cx.store.swaps(&self.cx.vault).await? {
            *by_phase.entry(record.phase).or_default() += 1;
        }
        Ok(by_phase)
    }

    /// One swap.
    ///
    /// # Errors
    /// [`EngineError::UnknownSwap`]; store errors.
    pub async fn swap(&self, swap_id: &SwapId) -> Result<SwapView, EngineError> {
        swap_view(
            &self.cx.store,
            &self.cx.vault,
            swap_id,
            self.cx.btc.observed_block_seconds(),
        )
        .await
    }

    /// The receipt of a finished swap.
    ///
    /// # Errors
    /// [`EngineError::UnknownSwap`]; [`EngineError::InvalidInput`] if it is not finished.
    pub async fn receipt(&self, swap_id: &SwapId) -> Result<Receipt, EngineError> {
        crate::receipt::load_receipt(&self.cx.store, &self.cx.vault, swap_id).await
    }

    /// The balances of the built-in wallets.
    ///
    /// # Errors
    /// Chain and Monero errors.
    pub async fn balances(&self) -> Result<WalletBalances, EngineError> {
        self.cx.btc.sync().await?;
        let btc = self.cx.btc.balance().await;
        let xmr = self.cx.xmr.balance().await?;
        Ok(WalletBalances {
            btc_confirmed_sat: btc.confirmed.to_sat(),
            btc_pending_sat: (btc.trusted_pending + btc.untrusted_pending).to_sat(),
            btc_immature_sat: btc.immature.to_sat(),
            xmr_total_piconero: xmr.total.as_piconero(),
            xmr_unlocked_piconero: xmr.unlocked.as_piconero(),
        })
    }

    /// A new Bitcoin receive address of the built-in wallet.
    ///
    /// # Errors
    /// Store errors.
    pub async fn btc_address(&self) -> Result<bitcoin::Address, EngineError> {
        self.cx.btc.new_address().await
    }

    /// The built-in Monero wallet's address.
    pub fn xmr_address(&self) -> monero::Address {
        self.cx.xmr.address()
    }

    /// Sends BTC out of the built-in wallet (`None`: everything not promised to a swap).
    ///
    /// # Errors
    /// [`EngineError::InvalidInput`] for an address of another network; wallet and chain errors.
    pub async fn withdraw_btc(
        &self,
        to: bitcoin::Address<NetworkUnchecked>,
        amount: Option<Amount>,
    ) -> Result<bitcoin::Txid, EngineError> {
        let to = self.network().check_bitcoin_address(to)?;
        let txid = self.cx.btc.withdraw(&to, amount).await?;
        self.cx
            .store
            .append_audit(
                &self.cx.vault,
                None,
                "btc-withdrawn",
                serde_json::json!({"txid": txid.to_string(), "to": to.to_string(),
                    "sat": amount.map(|a| a.to_sat())}),
            )
            .await?;
        Ok(txid)
    }

    /// Sends XMR out of the built-in wallet. A maker's XMR promised to swaps that are not
    /// locked yet is kept back.
    ///
    /// # Errors
    /// [`EngineError::InsufficientFunds`]; [`EngineError::InvalidInput`]; Monero errors.
    pub async fn withdraw_xmr(
        &self,
        to: monero::Address,
        amount: XmrAmount,
    ) -> Result<String, EngineError> {
        self.network().check_monero_address(&to)?;
        let (available, promised) = unpromised_xmr(&self.cx).await?;
        if amount > available {
            return Err(EngineError::InsufficientFunds {
                coin: "XMR",
                have: format!("{available} (unlocked, minus {promised} promised to swaps)"),
                need: amount.to_string(),
            });
        }
        let tx = self.cx.xmr.withdraw(&to, amount).await?;
        self.cx
            .store
            .append_audit(
                &self.cx.vault,
                None,
                "xmr-withdrawn",
                serde_json::json!({"tx_hash": tx, "to": to.to_string(), "piconero": amount.as_piconero()}),
            )
            .await?;
        Ok(tx)
    }

    /// The first half of a graceful stop: stops quoting and taking new swaps at once, then
    /// waits, at most `grace`, until no swap is in the middle of an action that must not be
    /// left half done (a transaction being published, the XMR lock, a sweep). Returns how
    /// many such actions were still running when it gave up (0: none). Call
    /// [`Engine::shutdown`] next; swaps still unfinished resume at the next start.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.pause_quoting(true);
        let started = Instant::now();
        loop {
            let busy = self.cx.busy.count();
            if busy == 0 || started.elapsed() >= grace {
                return busy;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The number of swap actions running now that a graceful stop waits for (see
    /// [`Engine::drain`]).
    pub fn busy_actions(&self) -> usize {
        self.cx.busy.count()
    }

    /// Stops the engine: drivers stop (their state is already stored), the wallet RPC saves
    /// and exits, the network closes. Unfinished swaps resume at the next [`Engine::open`].
    pub async fn shutdown(self) {
        let cx = &self.cx;
        cx.shutdown.cancel();
        cx.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), cx.tasks.wait()).await;
        cx.xmr.stop().await;
        cx.net.shutdown().await;
        cx.store.close().await;
    }
}

/// The views of all swaps in `store`.
/// Deadlines are estimated at `block_seconds` per Bitcoin block when given (see
/// [`crate::progress::progress`]).
pub(crate) async fn swap_views(
    store: &Store,
    vault: &Vault,
    block_seconds: Option<u32>,
) -> Result<Vec<SwapView>, EngineError> {
    let mut views = Vec::new();
    for record in store.swaps(vault).await? {
        let state = store.swap_state(vault, &record.swap_id).await?;
        views.push(SwapView::new(&record, state.as_ref(), block_seconds));
    }
    Ok(views)
}

/// The view of one swap in `store`.
pub(crate) async fn swap_view(
    store: &Store,
    vault: &Vault,
    swap_id: &SwapId,
    block_seconds: Option<u32>,
) -> Result<SwapView, EngineError> {
    let record = store
        .swap(vault, swap_id)
        .await?
        .ok_or(EngineError::UnknownSwap(*swap_id))?;
    let state = store.swap_state(vault, swap_id).await?;
    Ok(SwapView::new(&record, state.as_ref(), block_seconds))
}

/// Read-only access to a data directory's swaps without starting anything (for listing,
/// showing and exporting while no engine runs, or alongside one).
pub struct LocalData {
    store: Store,
    vault: Vault,
}

impl LocalData {
    /// Opens the store at `location` and unlocks it; no chain or peer is contacted.
    ///
    /// # Errors
    /// [`EngineError::NoWallet`], [`EngineError::WrongPassword`], store errors.
    pub async fn open(location: &StoreLocation, password: &str) -> Result<LocalData, EngineError> {
        if !location.may_exist() {
            return Err(EngineError::NoWallet(location.data_dir.clone()));
        }
        let store = location.open().await?;
        let vault = unlock(&store, &location.data_dir, password).await?;
        Ok(LocalData { store, vault })
    }

    /// All swaps, newest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn swaps(&self) -> Result<Vec<SwapView>, EngineError> {
        swap_views(&self.store, &self.vault, None).await
    }

    /// One swap.
    ///
    /// # Errors
    /// [`EngineError::UnknownSwap`]; store errors.
    pub async fn swap(&self, swap_id: &SwapId) -> Result<SwapView, EngineError> {
        swap_view(&self.store, &self.vault, swap_id, None).await
    }

    /// The state history of a swap (state name, phase, unix time).
    ///
    /// # Errors
    /// Store errors.
    pub async fn history(
        &self,
        swap_id: &SwapId,
    ) -> Result<Vec<confiaro_store::StateEntry>, EngineError> {
        Ok(self.store.swap_history(swap_id).await?)
    }

    /// The receipt of a finished swap.
    ///
    /// # Errors
    /// As [`Engine::receipt`].
    pub async fn receipt(&self, swap_id: &SwapId) -> Result<Receipt, EngineError> {
        crate::receipt::load_receipt(&self.store, &self.vault, swap_id).await
    }

    /// Checks the audit log's hash chain; returns the number of entries and the head hash.
    ///
    /// # Errors
    /// [`EngineError::Store`] with `AuditBroken` naming the first bad entry.
    pub async fn verify_audit_log(&self) -> Result<confiaro_store::AuditCheck, EngineError> {
        Ok(self.store.verify_audit_log(&self.vault).await?)
    }

    /// The audit log, all or one swap's.
    ///
    /// # Errors
    /// Store errors.
    pub async fn audit_entries(
        &self,
        swap_id: Option<&SwapId>,
    ) -> Result<Vec<confiaro_store::AuditEntry>, EngineError> {
        Ok(self.store.audit_entries(&self.vault, swap_id).await?)
    }
}
