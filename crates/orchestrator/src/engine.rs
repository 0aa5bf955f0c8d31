//! The [`Engine`]: opens a data directory, starts the adapters, resumes every unfinished swap,
//! and offers the operations the CLI and the GUI call (buy XMR, quote as a maker, commands,
//! wallets, receipts).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::address::NetworkUnchecked;
use bitcoin::Amount;
use confiaro_bitcoin::Mnemonic;
use confiaro_p2p::{Multiaddr, NetworkConfig, PeerId};
use confiaro_protocol::alice::Alice;
use confiaro_protocol::bob::Bob;
use confiaro_protocol::btc::{fee_for_weight, TxCancel};
use confiaro_protocol::machine::Command;
use confiaro_protocol::messages::SetupBob;
use confiaro_protocol::quote::{Price, Quote, ReserveProof};
use confiaro_protocol::{Input, Phase, Role, SwapId, SwapState, XmrAmount};
use confiaro_store::{KdfParams, NewSwap, Store, StoreError, Vault};
use serde::Serialize;
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::btc::BtcSide;
use crate::config::{EngineConfig, StoreLocation};
use crate::error::EngineError;
use crate::events::{EngineEvent, EventStream, SwapView};
use crate::faults::Faults;
use crate::keys::EngineKeys;
use crate::maker::{Desk, MakerSettings, MakerStatus, RESERVE_PROOF_REFRESH};
use crate::net::{namespace, NetSide};
use crate::receipt::Receipt;
use crate::swap::{start_driver, BusyJobs, DriverMsg, SwapRegistry};
use crate::xmr::XmrSide;

/// Capacity of the event stream; slow subscribers miss the oldest events (they are a live
/// view; the store has the record).
const EVENT_CAPACITY: usize = 4096;

/// What a running engine shares between its tasks.
pub(crate) struct Inner {
    pub(crate) config: EngineConfig,
    pub(crate) store: Store,
    pub(crate) vault: Vault,
    pub(crate) keys: EngineKeys,
    pub(crate) btc: Arc<BtcSide>,
    pub(crate) xmr: XmrSide,
    pub(crate) net: NetSide,
    pub(crate) drivers: SwapRegistry,
    pub(crate) events: broadcast::Sender<EngineEvent>,
    /// The maker's desk, once [`Engine::start_maker`] ran.
    pub(crate) maker: Mutex<Option<Desk>>,
    /// Jobs a graceful stop waits for.
    pub(crate) busy: BusyJobs,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) faults: Faults,
    /// Serializes the creation of swaps (so two copies of one setup make one swap).
    accept: tokio::sync::Mutex<()>,
    _lock: DataDirLock,
}

impl Inner {
    /// Runs `f` on the maker's desk; `None` on an engine that is not a maker.
    pub(crate) fn with_desk<T>(&self, f: impl FnOnce(&mut Desk) -> T) -> Option<T> {
        self.maker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(f)
    }
}

/// An exclusive lock on a data directory, held while an engine runs in it.
struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    fn acquire(data_dir: &Path) -> Result<DataDirLock, EngineError> {
        std::fs::create_dir_all(data_dir)
            .map_err(EngineError::io(format!("creating {}", data_dir.display())))?;
        let path = data_dir.join("confiaro.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(EngineError::io(format!("opening {}", path.display())))?;
        // SAFETY: flock(2) on a file descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(EngineError::DataDirLocked {
                path: data_dir.to_path_buf(),
                pid: pid.trim().to_owned(),
            });
        }
        file.set_len(0)
            .map_err(EngineError::io("writing the lock file"))?;
        write!(file, "{}", std::process::id()).map_err(EngineError::io("writing the lock file"))?;
        Ok(DataDirLock { _file: file })
    }
}

/// An offer found at a rendezvous point.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    /// The maker.
    pub peer: String,
    /// Where to reach it (with `/p2p/<peer id>`).
    pub addresses: Vec<String>,
    /// Its quote, or why it could not be had (or cannot be trusted: an attached reserve
    /// proof that does not verify).
    pub quote: Result<Quote, String>,
    /// The XMR the maker's attached reserve proof proves (piconero), checked by this
    /// engine's wallet against the chain; `None` when the maker attaches no proof.
    pub reserve_piconero: Option<u64>,
}

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
    inner: Arc<Inner>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], EngineError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| EngineError::Io {
        what: "drawing random bytes".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(bytes)
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
        store
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
            XmrSide::record_birth(&config.data_dir, &config.monero).await?;
        }
        store
            .append_audit(
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
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let store = config.store().open().await?;
        let vault = unlock(&store, &config.data_dir, password).await?;
        let keys = EngineKeys::derive(&mnemonic_of(&vault)?);
        let network = config.network;
        let opening = std::time::Instant::now();
        let btc = Arc::new(
            BtcSide::open(
                store.clone(),
                &keys.mnemonic,
                network,
                config.bitcoin.clone(),
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
        let mut p2p = NetworkConfig::new(keys.identity.clone());
        p2p.listen = config.p2p.listen.clone();
        p2p.advertise_listen_addresses = config.p2p.advertise_listen_addresses;
        let (p2p_network, p2p_events) = match confiaro_p2p::Network::start(p2p).await {
            Ok(started) => started,
            Err(e) => {
                xmr.stop().await;
                return Err(e.into());
            }
        };
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let inner = Arc::new(Inner {
            faults: Faults::from_env(network),
            net: NetSide::new(p2p_network, network == confiaro_protocol::Network::Regtest),
            config,
            store,
            vault,
            keys,
            btc,
            xmr,
            drivers: SwapRegistry::default(),
            events,
            maker: Mutex::new(None),
            busy: BusyJobs::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            accept: tokio::sync::Mutex::new(()),
            _lock: lock,
        });
        inner.tasks.spawn(crate::btc::run_watcher(
            Arc::clone(&inner.btc),
            inner.config.poll_interval,
            inner.events.clone(),
            inner.shutdown.clone(),
        ));
        inner.tasks.spawn(crate::net::run_network_events(
            Arc::clone(&inner),
            p2p_events,
        ));
        inner
            .tasks
            .spawn(crate::net::run_peer_refresh(Arc::clone(&inner)));
        for address in inner.config.p2p.rendezvous.clone() {
            if let Err(e) = inner.net.dial(&address).await {
                let _ = inner.events.send(EngineEvent::Warning {
                    message: format!("rendezvous point {address}: {e}"),
                });
            }
        }
        let engine = Engine { inner };
        engine.resume_all().await?;
        Ok(engine)
    }

    async fn resume_all(&self) -> Result<(), EngineError> {
        let inner = &self.inner;
        for record in inner.store.unfinished_swaps().await? {
            let Some(state) = inner
                .store
                .swap_state(&inner.vault, &record.swap_id)
                .await?
            else {
                continue;
            };
            let Ok(peer) = record.peer.parse::<PeerId>() else {
                tracing::error!(swap = %record.swap_id, "stored peer id {} is invalid", record.peer);
                continue;
            };
            if let Some(known) = inner.store.peer(&record.peer).await? {
                for address in known.addresses.iter().filter_map(|a| a.parse().ok()) {
                    inner.net.network.add_peer_address(peer, address).await;
                }
            }
            if let (SwapState::Bob(_), Some(agreement)) = (&state, state.agreement()) {
                inner.btc.reserve(agreement.txs.lock.psbt());
            }
            let receive = record
                .receive_address
                .as_deref()
                .and_then(|a| a.parse::<monero::Address>().ok());
            start_driver(
                inner,
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
        EventStream::new(self.inner.events.subscribe())
    }

    /// This node's libp2p identity.
    pub fn peer_id(&self) -> PeerId {
        self.inner.net.network.local_peer_id()
    }

    /// The addresses this node listens on, with `/p2p/<peer id>`.
    pub async fn listen_addresses(&self) -> Vec<Multiaddr> {
        let peer = self.peer_id();
        self.inner
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
        self.inner.config.network
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
        *self.inner.maker.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Desk::new(settings, price));
        if settings.reserve_proof {
            self.inner
                .tasks
                .spawn(keep_reserve_proof(Arc::clone(&self.inner)));
        }
        let inner = Arc::clone(&self.inner);
        self.inner.tasks.spawn(async move {
            loop {
                refresh_free_xmr(&inner).await;
                tokio::select! {
                    _ = inner.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(FREE_XMR_REFRESH) => {}
                }
            }
        });
        let namespace = namespace(self.network());
        for address in self.inner.config.p2p.rendezvous.clone() {
            let inner = Arc::clone(&self.inner);
            let namespace = namespace.clone();
            self.inner.tasks.spawn(async move {
                loop {
                    let result = async {
                        let point = inner.net.dial(&address).await?;
                        inner.net.network.register(point, &namespace, None).await?;
                        Ok::<_, EngineError>(())
                    }
                    .await;
                    match result {
                        Ok(()) => {
                            tracing::info!("registered at {address}");
                            return;
                        }
                        Err(e) => {
                            let _ = inner.events.send(EngineEvent::Warning {
                                message: format!("registering at {address}: {e} (retrying)"),
                            });
                        }
                    }
                    tokio::select! {
                        _ = inner.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    }
                }
            });
        }
        Ok(())
    }

    /// Sets the maker's price (from its price feed); an `Err` stops quoting and is the
    /// reason takers are told. Does nothing on an engine that is not a maker.
    pub fn set_maker_price(&self, price: Result<Price, String>) {
        self.inner.with_desk(|desk| desk.set_price(price));
    }

    /// Pauses (`true`) or resumes (`false`) quoting and taking new swaps; swaps already
    /// taken go on. Does nothing on an engine that is not a maker.
    pub fn pause_quoting(&self, paused: bool) {
        self.inner.with_desk(|desk| desk.set_paused(paused));
    }

    /// What the maker is doing (quoting or why not, price, limits, free XMR, counters), or
    /// `None` on an engine that is not a maker.
    pub fn maker_status(&self) -> Option<MakerStatus> {
        let network = self.network();
        self.inner.with_desk(|desk| desk.status(network))
    }

    /// The offers registered at the configured rendezvous points, each with its quote.
    ///
    /// # Errors
    /// [`EngineError::InvalidInput`] when no rendezvous point is configured; the first
    /// rendezvous error when none answered.
    pub async fn offers(&self) -> Result<Vec<Offer>, EngineError> {
        let points = self.inner.config.p2p.rendezvous.clone();
        if points.is_empty() {
            return Err(EngineError::InvalidInput(
                "no rendezvous point configured: pass --rendezvous /ip4/.../tcp/.../p2p/<id>"
                    .into(),
            ));
        }
        let namespace = namespace(self.network());
        let mut found: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
        let mut last_error = None;
        for address in points {
            match self.inner.net.discover_at(&address, &namespace).await {
                Ok(peers) => {
                    for p in peers {
                        found.entry(p.peer).or_default().extend(p.addresses);
                    }
                }
                Err(e) => last_error = Some(e),
            }
        }
        if found.is_empty() {
            if let Some(e) = last_error {
                return Err(e);
            }
        }
        let mut offers = Vec::new();
        for (peer, addresses) in found {
            let trusted = trusted_quote(&self.inner, peer).await;
            let reserve_piconero = trusted
                .as_ref()
                .ok()
                .and_then(|(_, proven)| proven.map(XmrAmount::as_piconero));
            let quote = trusted.map(|(quote, _)| quote).map_err(|e| e.to_string());
            offers.push(Offer {
                peer: peer.to_string(),
                addresses: addresses
                    .into_iter()
                    .map(|a| a.with_p2p(peer).unwrap_or_else(|a| a).to_string())
                    .collect(),
                quote,
                reserve_piconero,
            });
        }
        offers.sort_by(|a, b| a.peer.cmp(&b.peer));
        Ok(offers)
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
    ) -> Result<(Quote, Option<XmrAmount>), EngineError> {
        let peer = self.inner.net.dial(maker).await?;
        trusted_quote(&self.inner, peer).await
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
        let inner = &self.inner;
        let network = self.network();
        if let Some(address) = &receive {
            if address.network != network.monero() {
                return Err(EngineError::InvalidInput(format!(
                    "{address} is a Monero {:?} address; this wallet swaps on {network:?}",
                    address.network
                )));
            }
        }
        let peer = inner.net.dial(maker).await?;
        inner
            .store
            .upsert_peer(&peer.to_string(), &[maker.to_string()])
            .await?;
        let (quote, _) = trusted_quote(inner, peer).await?;
        let terms = quote.terms_for(btc)?;
        let fee_rate = inner.btc.fee_rate().await?;
        // the lock's fee is at most what a cancel of the same size costs, with room for inputs
        let lock_fee = fee_for_weight(fee_rate, TxCancel::max_weight()) * 2;
        inner.btc.sync().await?;
        let balance = inner.btc.balance().await;
        let need = btc + lock_fee;
        if balance.trusted_spendable() < need {
            return Err(EngineError::InsufficientFunds {
                coin: "BTC",
                have: balance.trusted_spendable().to_string(),
                need: format!("{need} (the swap plus its lock's fee)"),
            });
        }
        let swap_id = match inner.faults.reuse_swap_id {
            Some(id) => SwapId(id),
            None => SwapId(random_bytes::<32>()?),
        };
        let secrets = inner
            .keys
            .new_swap_secrets(&swap_id, Role::Bob)
            .map_err(|e| EngineError::Io {
                what: "drawing random bytes".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let share_secrets = secrets.clone();
        let own_share = tokio::task::spawn_blocking(move || share_secrets.public_share())
            .await
            .map_err(|_| EngineError::Stopped)?;
        let refund = inner.btc.new_address().await?.script_pubkey();
        let bob = Bob::new(
            swap_id,
            terms,
            secrets,
            own_share,
            refund,
            fee_rate,
            crate::swap::now(),
        );
        let state = SwapState::Bob(Box::new(bob));
        let receive_text = receive.map(|a| a.to_string());
        inner
            .store
            .insert_swap(
                &inner.vault,
                &NewSwap {
                    peer: &peer.to_string(),
                    receive_address: receive_text.as_deref(),
                },
                &state,
            )
            .await?;
        inner
            .store
            .append_audit(
                Some(&swap_id),
                "swap-created",
                serde_json::json!({
                    "role": "Bob",
                    "maker": maker.to_string(),
                    "btc_sat": terms.btc_amount.to_sat(),
                    "xmr_piconero": terms.xmr_amount.as_piconero(),
                    "price": quote.price.0,
                }),
            )
            .await?;
        start_driver(
            inner,
            state,
            peer,
            receive,
            vec![DriverMsg::Input(Input::Tick)],
        );
        Ok(swap_id)
    }

    async fn command(&self, swap_id: &SwapId, command: Command) -> Result<(), EngineError> {
        let Some(sender) = self.inner.drivers.sender(swap_id) else {
            return match self.inner.store.swap(swap_id).await? {
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
        Ok(self.inner.net.flush(swap_id, flush).await)
    }

    /// Bob: cancels and refunds now (only once the cancel timelock has passed; before, the
    /// error says in how many blocks). The engine does this on its own anyway; the command is
    /// for when it was not running.
    ///
    /// # Errors
    /// As [`Engine::abort`].
    pub async fn cancel_refund(&self, swap_id: &SwapId) -> Result<(), EngineError> {
        // the machine decides from the lock's depth: let it learn the chain as it is now
        self.inner.btc.fresh_chain_view().await;
        self.command(swap_id, Command::CancelRefund).await
    }

    /// Waits until the swap reaches a terminal phase and returns it.
    ///
    /// # Errors
    /// [`EngineError::UnknownSwap`]; [`EngineError::Stopped`] if the engine stops first.
    pub async fn wait_for_end(&self, swap_id: &SwapId) -> Result<Phase, EngineError> {
        let Some(mut receiver) = self.inner.drivers.phase(swap_id) else {
            return match self.inner.store.swap(swap_id).await? {
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
                _ = self.inner.shutdown.cancelled() => return Err(EngineError::Stopped),
                changed = receiver.changed() => {
                    if changed.is_err() {
                        let record = self.inner.store.swap(swap_id).await?;
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
            &self.inner.store,
            &self.inner.vault,
            self.inner.btc.observed_block_seconds(),
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
        for record in self.inner.store.swaps().await? {
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
            &self.inner.store,
            &self.inner.vault,
            swap_id,
            self.inner.btc.observed_block_seconds(),
        )
        .await
    }

    /// The receipt of a finished swap.
    ///
    /// # Errors
    /// [`EngineError::UnknownSwap`]; [`EngineError::InvalidInput`] if it is not finished.
    pub async fn receipt(&self, swap_id: &SwapId) -> Result<Receipt, EngineError> {
        crate::receipt::load_receipt(&self.inner.store, &self.inner.vault, swap_id).await
    }

    /// The balances of the built-in wallets.
    ///
    /// # Errors
    /// Chain and Monero errors.
    pub async fn balances(&self) -> Result<WalletBalances, EngineError> {
        self.inner.btc.sync().await?;
        let btc = self.inner.btc.balance().await;
        let xmr = self.inner.xmr.balance().await?;
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
        self.inner.btc.new_address().await
    }

    /// The built-in Monero wallet's address.
    pub fn xmr_address(&self) -> monero::Address {
        self.inner.xmr.address()
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
        let network = self.network().bitcoin();
        let to = to.require_network(network).map_err(|_| {
            EngineError::InvalidInput(format!("that address is not a {network} address"))
        })?;
        let txid = self.inner.btc.withdraw(&to, amount).await?;
        self.inner
            .store
            .append_audit(
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
        if to.network != self.network().monero() {
            return Err(EngineError::InvalidInput(format!(
                "{to} is a Monero {:?} address",
                to.network
            )));
        }
        let (available, promised) = unpromised_xmr(&self.inner).await?;
        if amount > available {
            return Err(EngineError::InsufficientFunds {
                coin: "XMR",
                have: format!("{available} (unlocked, minus {promised} promised to swaps)"),
                need: amount.to_string(),
            });
        }
        let tx = self.inner.xmr.withdraw(&to, amount).await?;
        self.inner
            .store
            .append_audit(
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
            let busy = self.inner.busy.count();
            if busy == 0 || started.elapsed() >= grace {
                return busy;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The number of swap actions running now that a graceful stop waits for (see
    /// [`Engine::drain`]).
    pub fn busy_actions(&self) -> usize {
        self.inner.busy.count()
    }

    /// Stops the engine: drivers stop (their state is already stored), the wallet RPC saves
    /// and exits, the network closes. Unfinished swaps resume at the next [`Engine::open`].
    pub async fn shutdown(self) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        inner.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), inner.tasks.wait()).await;
        inner.xmr.stop().await;
        inner.net.network.shutdown().await;
        inner.store.close().await;
    }
}

/// How far a reserve proof's time may be from this engine's clock (past: how old it may be;
/// future: clock skew).
const RESERVE_PROOF_MAX_AGE: Duration = Duration::from_secs(2 * 3600);
const RESERVE_PROOF_MAX_SKEW: Duration = Duration::from_secs(300);

/// `peer`'s quote, once its reserve proof (when it attaches one) is checked: made for this
/// maker and network within [`RESERVE_PROOF_MAX_AGE`], valid for its address against the
/// chain (by this engine's own wallet RPC), and covering the XMR of the largest swap quoted.
/// Returns the quote and the XMR the proof proves.
pub(crate) async fn trusted_quote(
    inner: &Inner,
    peer: PeerId,
) -> Result<(Quote, Option<XmrAmount>), EngineError> {
    let network = inner.config.network;
    let reply = inner.net.request_quote(peer, network).await?;
    let Some(proof) = reply.reserve_proof else {
        return Ok((reply.quote, None));
    };
    let untrusted = |why: String| {
        EngineError::InvalidInput(format!(
            "{peer}'s reserve proof {why}: its offer is not trusted"
        ))
    };
    let now = crate::swap::now().0;
    if proof.made_at + RESERVE_PROOF_MAX_AGE.as_secs() < now {
        return Err(untrusted(format!(
            "is {} s old (at most {} s)",
            now - proof.made_at,
            RESERVE_PROOF_MAX_AGE.as_secs()
        )));
    }
    if proof.made_at > now + RESERVE_PROOF_MAX_SKEW.as_secs() {
        return Err(untrusted("is dated in the future".into()));
    }
    let address: monero::Address = proof
        .address
        .parse()
        .map_err(|_| untrusted("names no valid Monero address".into()))?;
    if address.network != network.monero() {
        return Err(untrusted(format!(
            "is for a Monero {:?} address",
            address.network
        )));
    }
    let message = ReserveProof::message(&peer.to_string(), network, proof.made_at);
    let proven = inner
        .xmr
        .check_reserves(&address, &message, &proof.signature)
        .await?
        .ok_or_else(|| untrusted("does not verify".into()))?;
    let offered = reply
        .quote
        .price
        .xmr_for(reply.quote.max_btc)
        .unwrap_or(XmrAmount::from_piconero(u64::MAX));
    if proven < offered {
        return Err(untrusted(format!(
            "proves {proven}, less than the {offered} of the largest swap it quotes"
        )));
    }
    Ok((reply.quote, Some(proven)))
}

/// Makes a new reserve proof for the maker's desk now and every [`RESERVE_PROOF_REFRESH`]
/// until the engine stops; a failed attempt is retried after a minute.
async fn keep_reserve_proof(inner: Arc<Inner>) {
    loop {
        let made_at = crate::swap::now().0;
        let message = ReserveProof::message(
            &inner.net.network.local_peer_id().to_string(),
            inner.config.network,
            made_at,
        );
        let wait = match inner.xmr.prove_reserves(&message).await {
            Ok((signature, proven)) => {
                let proof = ReserveProof {
                    address: inner.xmr.address().to_string(),
                    made_at,
                    signature,
                };
                inner.with_desk(|desk| desk.set_reserve_proof(proof, proven));
                tracing::info!("new reserve proof: {proven}");
                RESERVE_PROOF_REFRESH
            }
            Err(e) => {
                tracing::warn!("cannot make a reserve proof: {e} (retrying in a minute)");
                Duration::from_secs(60)
            }
        };
        tokio::select! {
            _ = inner.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// How often a maker recomputes its free XMR (also after each swap it takes).
const FREE_XMR_REFRESH: Duration = Duration::from_secs(5);

/// Recomputes the maker's free XMR for its desk: unlocked, minus what is promised, minus the
/// next swap's lock fee allowance. On an error the last known value stays (and is logged).
async fn refresh_free_xmr(inner: &Inner) {
    match unpromised_xmr(inner).await {
        Ok((unpromised, _)) => {
            let free = unpromised
                .checked_sub(XMR_LOCK_FEE_ALLOWANCE)
                .unwrap_or(XmrAmount::ZERO);
            inner.with_desk(|desk| desk.set_free_xmr(free));
        }
        Err(e) => tracing::warn!("cannot tell the maker's free XMR: {e}"),
    }
}

/// What a maker sets aside for the fee of each XMR lock it has promised: far above a lock's
/// fee at normal priority (about 0.0001 XMR), so promised swaps can always pay theirs.
pub(crate) const XMR_LOCK_FEE_ALLOWANCE: XmrAmount = XmrAmount::from_piconero(10_000_000_000);

/// XMR a maker has promised to swaps that have not locked it yet, each with its lock's fee
/// allowance ([`XMR_LOCK_FEE_ALLOWANCE`]).
async fn promised_xmr(inner: &Inner) -> Result<XmrAmount, EngineError> {
    let mut promised = XmrAmount::ZERO;
    for record in inner.store.unfinished_swaps().await? {
        if record.role == Role::Alice && record.phase < Phase::Locked {
            promised = promised
                .checked_add(record.xmr_amount)
                .and_then(|p| p.checked_add(XMR_LOCK_FEE_ALLOWANCE))
                .unwrap_or(promised);
        }
    }
    Ok(promised)
}

/// The one measure of the XMR a maker can still promise or withdraw: its unlocked XMR minus
/// [`promised_xmr`] (zero when more is promised than unlocked). Returns it and the promised
/// part.
async fn unpromised_xmr(inner: &Inner) -> Result<(XmrAmount, XmrAmount), EngineError> {
    let promised = promised_xmr(inner).await?;
    let unlocked = inner.xmr.balance().await?.unlocked;
    Ok((
        unlocked.checked_sub(promised).unwrap_or(XmrAmount::ZERO),
        promised,
    ))
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
    for record in store.swaps().await? {
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
        .swap(swap_id)
        .await?
        .ok_or(EngineError::UnknownSwap(*swap_id))?;
    let state = store.swap_state(vault, swap_id).await?;
    Ok(SwapView::new(&record, state.as_ref(), block_seconds))
}

/// A maker takes a new swap: checks the taker's terms against its quote and its XMR, makes
/// Alice's machine, stores it and hands it the setup.
pub(crate) async fn accept_swap(
    inner: &Arc<Inner>,
    peer: PeerId,
    setup: SetupBob,
) -> Result<(), String> {
    let guard = inner.accept.lock().await;
    let swap_id = setup.swap_id;
    // a copy of this setup may have created the swap while we waited
    if inner.drivers.contains(&swap_id) {
        return Err("swap is starting, try again".into());
    }
    let network = inner.config.network;
    let price = inner
        .with_desk(|desk| desk.check_terms(network, &setup.terms, Instant::now()))
        .ok_or("not a maker: this node does not take swaps")??;
    let (unpromised, _) = unpromised_xmr(inner)
        .await
        .map_err(|e| format!("busy ({e})"))?;
    let needed = setup
        .terms
        .xmr_amount
        .checked_add(XMR_LOCK_FEE_ALLOWANCE)
        .ok_or("amount too large")?;
    if unpromised < needed {
        return Err(format!(
            "the maker cannot lock {} now (its unlocked XMR is promised to other swaps); try a smaller amount or later",
            setup.terms.xmr_amount
        ));
    }
    let secrets = inner
        .keys
        .new_swap_secrets(&swap_id, Role::Alice)
        .map_err(|e| format!("internal error: {e}"))?;
    let share_secrets = secrets.clone();
    let own_share = tokio::task::spawn_blocking(move || share_secrets.public_share())
        .await
        .map_err(|e| format!("internal error: {e}"))?;
    let addresses = async {
        let redeem = inner.btc.new_address().await?.script_pubkey();
        let punish = inner.btc.new_address().await?.script_pubkey();
        let fee_rate = inner.btc.fee_rate().await?;
        Ok::<_, EngineError>((redeem, punish, fee_rate))
    }
    .await;
    let (redeem, punish, fee_rate) = addresses.map_err(|e| format!("busy ({e})"))?;
    let alice = Alice::new(
        swap_id,
        setup.terms,
        secrets,
        own_share,
        redeem,
        punish,
        fee_rate,
        crate::swap::now(),
    );
    let state = SwapState::Alice(Box::new(alice));
    inner
        .store
        .insert_swap(
            &inner.vault,
            &NewSwap {
                peer: &peer.to_string(),
                receive_address: None,
            },
            &state,
        )
        .await
        .map_err(|e| format!("busy ({e})"))?;
    let _ = inner
        .store
        .append_audit(
            Some(&swap_id),
            "swap-created",
            serde_json::json!({
                "role": "Alice",
                "taker": peer.to_string(),
                "btc_sat": setup.terms.btc_amount.to_sat(),
                "xmr_piconero": setup.terms.xmr_amount.as_piconero(),
                "price": price.0,
            }),
        )
        .await;
    let (reply, answer) = oneshot::channel();
    start_driver(
        inner,
        state,
        peer,
        None,
        vec![DriverMsg::Peer {
            message: confiaro_protocol::messages::Message::SetupBob(setup),
            reply,
        }],
    );
    drop(guard);
    let refresh = Arc::clone(inner);
    inner
        .tasks
        .spawn(async move { refresh_free_xmr(&refresh).await });
    answer
        .await
        .unwrap_or_else(|_| Err("swap is stopping, try again".into()))
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
        Ok(self.store.verify_audit_log().await?)
    }

    /// The audit log, all or one swap's.
    ///
    /// # Errors
    /// Store errors.
    pub async fn audit_entries(
        &self,
        swap_id: Option<&SwapId>,
    ) -> Result<Vec<confiaro_store::AuditEntry>, EngineError> {
        Ok(self.store.audit_entries(swap_id).await?)
    }
}
