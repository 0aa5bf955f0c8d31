//! [`App`]: the desktop app's state and commands. It owns the engine (and, on regtest, the
//! local devnet with its demo maker), turns the engine's events into UI events, and answers
//! every command with an IPC type or a [`CommandError`] that says what to do next.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::Amount;
use confiaro_orchestrator::connection_check::check_connections;
use confiaro_orchestrator::events::SwapEventKind;
use confiaro_orchestrator::receipt::parse_swap_id;
use confiaro_orchestrator::{
    BitcoinSourceConfig, BitcoindAuth, Engine, EngineConfig, EngineEvent, LocalData, Mnemonic,
    MoneroConfig, Multiaddr, Network, OpenStep, Received, StoreLocation, SwapView, TlsTrust,
    TorNetworkChoice, TorSettings, XmrAmount,
};

use crate::ipc::*;
use crate::ipc_table::AppEvent;
use crate::local_devnet::LocalDevnet;
use crate::logbook::Logbook;
use crate::settings::{self, SettingsError};

/// Where the app's events go (the shell emits them to the window).
pub type EventSink = Arc<dyn Fn(AppEvent) + Send + Sync>;

/// The shortest wallet password the app accepts.
const MIN_PASSWORD_CHARS: usize = 8;

/// How long an abort waits for the peer to hear it.
const ABORT_FLUSH: Duration = Duration::from_secs(5);

/// The desktop app. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    sink: EventSink,
    log: Logbook,
    status: Mutex<AppStatus>,
    settings: Mutex<Option<Settings>>,
    running: tokio::sync::Mutex<Running>,
}

#[derive(Default)]
struct Running {
    engine: Option<Engine>,
    devnet: Option<Arc<LocalDevnet>>,
    follower: Option<tokio::task::JoinHandle<()>>,
}

fn not_ready() -> CommandError {
    CommandError::new(
        "the wallet is not open yet",
        "Wait until the app has started (or unlock the wallet).",
    )
}

fn invalid(message: impl Into<String>) -> CommandError {
    CommandError::new(message, "Correct the value and try again.")
}

fn settings_error(error: SettingsError) -> CommandError {
    CommandError::new(
        error.to_string(),
        "Check that the app's directory is writable and the disk is not full.",
    )
}

/// A Bitcoin address the user typed, of `network`'s Bitcoin network.
fn bitcoin_address(network: NetworkName, text: &str) -> Result<bitcoin::Address, CommandError> {
    let text = text.trim();
    let address = text
        .parse()
        .map_err(|e| invalid(format!("{text:?} is not a Bitcoin address: {e}")))?;
    Network::from(network)
        .check_bitcoin_address(address)
        .map_err(|e| invalid(e.to_string()))
}

/// A Monero address the user typed, of `network`'s Monero network.
fn monero_address(network: NetworkName, text: &str) -> Result<monero::Address, CommandError> {
    let text = text.trim();
    let address = monero::Address::from_str(text)
        .map_err(|e| invalid(format!("{text:?} is not a Monero address: {e}")))?;
    Network::from(network)
        .check_monero_address(&address)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(address)
}

/// A maker's address as the UI sends it (an offer's `address`).
fn maker_address(text: &str) -> Result<Multiaddr, CommandError> {
    text.parse()
        .map_err(|e| invalid(format!("maker address {text:?}: {e}")))
}

fn units(text: &str, what: &str) -> Result<u64, CommandError> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| invalid(format!("{what} {text:?} is not a whole number of units")))
}

impl App {
    /// Opens the app in `dir` (created if missing); events go to `sink`. The stage is
    /// `needs_setup` before the first run, `locked` after.
    ///
    /// # Errors
    /// [`SettingsError`] when the settings file is unreadable.
    pub fn new(dir: impl Into<PathBuf>, sink: EventSink) -> Result<App, SettingsError> {
        let dir = dir.into();
        let settings = settings::load(&dir)?;
        let (stage, network) = match &settings {
            Some(s) if StoreLocation::sqlite(wallet_dir(&dir, s.network)).may_exist() => {
                (AppStage::Locked, s.network)
            }
            Some(s) => (AppStage::NeedsSetup, s.network),
            // what the first-run screen offers first: the play-money devnet where this
            // build has it, else a public test network
            None if DEVNET_BUILT_IN => (AppStage::NeedsSetup, NetworkName::Regtest),
            None => (AppStage::NeedsSetup, NetworkName::Signet),
        };
        let status = AppStatus {
            stage,
            network,
            data_dir: wallet_dir(&dir, network).display().to_string(),
            peer_id: None,
            managed_devnet: settings.as_ref().is_some_and(manages_devnet),
            devnet_built_in: DEVNET_BUILT_IN,
        };
        Ok(App {
            inner: Arc::new(Inner {
                dir,
                sink,
                log: Logbook::default(),
                status: Mutex::new(status),
                settings: Mutex::new(settings),
                running: tokio::sync::Mutex::new(Running::default()),
            }),
        })
    }

    /// Where the app keeps its files: `CONFIARO_APP_DIR`, else `~/.confiaro-app`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("CONFIARO_APP_DIR") {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        Path::new(&home).join(".confiaro-app")
    }

    /// The app's state now.
    pub fn status(&self) -> AppStatus {
        self.inner
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_stage(&self, stage: AppStage, peer_id: Option<String>) {
        let status = {
            let mut status = self.inner.status.lock().unwrap_or_else(|p| p.into_inner());
            status.stage = stage;
            if peer_id.is_some() {
                status.peer_id = peer_id;
            }
            status.clone()
        };
        (self.inner.sink)(AppEvent::Status(status));
    }

    fn log(&self, level: Level, swap_id: Option<String>, message: impl Into<String>) {
        let line = self.inner.log.push(level, swap_id, message.into());
        (self.inner.sink)(AppEvent::Log(line));
    }

    fn settings(&self) -> Option<Settings> {
        self.inner
            .settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// First run: creates (or restores) the wallet on `request.network` under its password,
    /// starting the local devnet first on regtest. Returns the new wallet's words; the app
    /// then goes on starting (`app-status` events) until `ready`.
    ///
    /// # Errors
    /// A short password, bad restore words, a wallet that exists, or a devnet/node failure.
    pub async fn create_wallet(&self, request: CreateWallet) -> Result<NewWallet, CommandError> {
        if self.status().stage != AppStage::NeedsSetup {
            return Err(CommandError::new(
                "a wallet exists already",
                "Unlock it with its password.",
            ));
        }
        if request.password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(invalid(format!(
                "the password must have at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        if request.network == NetworkName::Mainnet && !request.accept_real_money {
            return Err(CommandError::new(
                "a mainnet wallet moves real bitcoin and monero, and you have not confirmed that",
                "Tick \"I understand that this is real money\" under the network choice, or choose a test network.",
            ));
        }
        let restore = match request.restore_words.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(words) => Some(Mnemonic::parse(words).map_err(|e| {
                invalid(format!("those words are not a valid recovery phrase: {e}"))
            })?),
        };
        let settings = self
            .settings()
            .filter(|s| s.network == request.network)
            .unwrap_or_else(|| settings::defaults(request.network));
        settings::save(&self.inner.dir, &settings).map_err(settings_error)?;
        *self
            .inner
            .settings
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(settings.clone());
        {
            let mut status = self.inner.status.lock().unwrap_or_else(|p| p.into_inner());
            status.network = settings.network;
            status.data_dir = wallet_dir(&self.inner.dir, settings.network)
                .display()
                .to_string();
            status.managed_devnet = manages_devnet(&settings);
        }
        // Past this point the stage may have moved on (the devnet's progress): a failure is
        // shown as the `failed` stage too, whose retry leads back to this screen.
        let config = match self.prepare_chains(&settings).await {
            Ok(config) => config,
            Err(e) => {
                self.fail(e.clone());
                return Err(e);
            }
        };
        let restored = restore.is_some();
        let mnemonic = match Engine::init(&config, &request.password, restore).await {
            Ok(m) => m,
            Err(e) => {
                let e = CommandError::from(e);
                self.fail(e.clone());
                return Err(e);
            }
        };
        self.log(
            Level::Info,
            None,
            if restored {
                "wallet restored"
            } else {
                "wallet created"
            },
        );
        let app = self.clone();
        let password = request.password;
        tokio::spawn(async move { app.open_engine(config, password).await });
        Ok(NewWallet {
            words: if restored {
                Vec::new()
            } else {
                mnemonic.words().map(str::to_owned).collect()
            },
        })
    }

    /// Unlocks the wallet with its password (checked at once), then starts: the local devnet
    /// on regtest, the engine, resuming every unfinished swap. Returns the status (usually
    /// `starting`); `app-status` events follow until `ready` or `failed`.
    ///
    /// # Errors
    /// A wrong password (nothing starts), or no wallet.
    pub async fn unlock(&self, request: Unlock) -> Result<AppStatus, CommandError> {
        match self.status().stage {
            AppStage::Locked | AppStage::Failed { .. } => {}
            AppStage::NeedsSetup => {
                return Err(CommandError::new(
                    "there is no wallet yet",
                    "Create or restore one first.",
                ))
            }
            AppStage::Starting { .. } | AppStage::Ready => return Ok(self.status()),
        }
        let settings = self.settings().ok_or_else(|| {
            CommandError::new("there is no wallet yet", "Create or restore one first.")
        })?;
        let store = StoreLocation::sqlite(wallet_dir(&self.inner.dir, settings.network));
        if !store.may_exist() {
            // a first run that failed before the wallet was made: back to the first-run screen
            self.set_stage(AppStage::NeedsSetup, None);
            return Ok(self.status());
        }
        let local = LocalData::open(&store, &request.password).await?;
        drop(local);
        self.set_stage(
            AppStage::Starting {
                step: "starting".into(),
                done: 0,
                total: self.steps(&settings),
            },
            None,
        );
        let app = self.clone();
        tokio::spawn(async move {
            match app.prepare_chains(&settings).await {
                Ok(config) => app.open_engine(config, request.password).await,
                Err(e) => app.fail(e),
            }
        });
        Ok(self.status())
    }

    fn fail(&self, error: CommandError) {
        self.log(
            Level::Error,
            None,
            format!("starting failed: {}", error.message),
        );
        self.set_stage(
            AppStage::Failed {
                error: error.message,
                next_step: error.next_step,
            },
            None,
        );
    }

    fn steps(&self, settings: &Settings) -> u32 {
        if manages_devnet(settings) {
            3
        } else {
            1
        }
    }

    /// Starts the local devnet when the app manages it; returns the engine config.
    async fn prepare_chains(&self, settings: &Settings) -> Result<EngineConfig, CommandError> {
        let data_dir = wallet_dir(&self.inner.dir, settings.network);
        if !manages_devnet(settings) {
            return node_config(&data_dir, settings);
        }
        let total = self.steps(settings);
        let mut running = self.inner.running.lock().await;
        if running.devnet.is_none() {
            let stage = |step: &str, done| AppStage::Starting {
                step: step.to_owned(),
                done,
                total,
            };
            self.set_stage(stage("starting the local devnet", 0), None);
            let app = self.clone();
            let on_step = move |text: String, done| {
                app.log(Level::Info, None, &text);
                app.set_stage(stage(&text, done), None);
            };
            let devnet = LocalDevnet::start(&self.inner.dir.join("devnet"), on_step).await?;
            running.devnet = Some(Arc::new(devnet));
        }
        let devnet = running.devnet.as_ref().expect("started above");
        devnet.engine_config(&data_dir)
    }

    async fn open_engine(&self, config: EngineConfig, password: String) {
        let total = self.settings().map(|s| self.steps(&s)).unwrap_or(1);
        self.set_stage(
            AppStage::Starting {
                step: "opening the wallet and resuming swaps".into(),
                done: total - 1,
                total,
            },
            None,
        );
        let app = self.clone();
        let on_step = move |step: OpenStep| {
            let step = match step {
                OpenStep::Tor { percent, status } => {
                    format!("connecting to Tor: {percent}% ({status})")
                }
                OpenStep::Wallets => "opening the wallets".to_owned(),
                OpenStep::Network => "joining the network and resuming swaps".to_owned(),
            };
            app.set_stage(
                AppStage::Starting {
                    step,
                    done: total - 1,
                    total,
                },
                None,
            );
        };
        let engine = match Engine::open_with_progress(config, &password, on_step).await {
            Ok(engine) => engine,
            Err(e) => return self.fail(e.into()),
        };
        drop(password);
        let peer_id = engine.peer_id().to_string();
        let mut running = self.inner.running.lock().await;
        running.follower = Some(tokio::spawn(follow(self.clone(), engine.clone())));
        running.engine = Some(engine);
        drop(running);
        self.log(Level::Info, None, "ready");
        self.set_stage(AppStage::Ready, Some(peer_id));
        self.emit_balances().await;
    }

    async fn engine(&self) -> Result<Engine, CommandError> {
        self.inner
            .running
            .lock()
            .await
            .engine
            .clone()
            .ok_or_else(not_ready)
    }

    async fn emit_balances(&self) {
        if let Ok(engine) = self.engine().await {
            if let Ok(balances) = engine.balances().await {
                (self.inner.sink)(AppEvent::Balances(balances.into()));
            }
        }
    }

    /// The settings (the Bitcoin node's password blanked).
    ///
    /// # Errors
    /// None today; a command like the others.
    pub fn get_settings(&self) -> Result<Settings, CommandError> {
        let mut settings = self
            .settings()
            .unwrap_or_else(|| settings::defaults(self.status().network));
        settings.bitcoin_rpc_password.clear();
        Ok(settings)
    }

    /// Saves the settings, used from the next start. The network cannot change; an empty
    /// Bitcoin node password keeps the old one.
    ///
    /// # Errors
    /// A changed network, a URL or rendezvous address that does not parse, a write failure.
    pub fn save_settings(&self, mut request: Settings) -> Result<Settings, CommandError> {
        let old = self.settings().ok_or_else(|| {
            CommandError::new("there is no wallet yet", "Create or restore one first.")
        })?;
        if request.network != old.network {
            return Err(CommandError::new(
                "the network of a wallet cannot change",
                "Use another app directory (CONFIARO_APP_DIR) for another network.",
            ));
        }
        check_settings(&request)?;
        if request.network != NetworkName::Regtest {
            request.start_devnet = false;
        }
        if request.bitcoin_rpc_password.is_empty() {
            request.bitcoin_rpc_password = old.bitcoin_rpc_password;
        }
        settings::save(&self.inner.dir, &request).map_err(settings_error)?;
        *self
            .inner
            .settings
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(request);
        self.log(
            Level::Info,
            None,
            "settings saved; they apply from the next start",
        );
        self.get_settings()
    }

    /// Tests the chain sources and `monero-wallet-rpc` of `request` (settings as the Settings
    /// screen has them, saved or not; an empty Bitcoin node password means the saved one):
    /// each part says what it found or what is wrong. Sources the engine would reach
    /// through Tor are tested through the running engine's Tor, or not at all before it runs.
    /// With the local devnet, its nodes are tested.
    ///
    /// # Errors
    /// Settings that do not parse (as [`App::save_settings`]); the local devnet not running.
    pub async fn test_connections(
        &self,
        mut request: Settings,
    ) -> Result<ConnectionCheck, CommandError> {
        check_settings(&request)?;
        if request.bitcoin_rpc_password.is_empty() {
            if let Some(saved) = self.settings() {
                request.bitcoin_rpc_password = saved.bitcoin_rpc_password;
            }
        }
        let data_dir = wallet_dir(&self.inner.dir, request.network);
        let (config, proxy) = {
            let running = self.inner.running.lock().await;
            let config = match (&running.devnet, manages_devnet(&request)) {
                (Some(devnet), true) => devnet.engine_config(&data_dir)?,
                (None, true) => {
                    return Err(CommandError::new(
                        "the local devnet is not running",
                        "It starts with the app once the wallet is unlocked.",
                    ))
                }
                (_, false) => node_config(&data_dir, &request)?,
            };
            let proxy = running.engine.as_ref().and_then(Engine::tor_proxy);
            (config, proxy)
        };
        let report = check_connections(&config, proxy).await;
        Ok(report.into())
    }

    /// Offers at the rendezvous points, each with its quote.
    ///
    /// # Errors
    /// Not ready; rendezvous errors.
    pub async fn offers(&self) -> Result<Vec<OfferView>, CommandError> {
        let offers = self.engine().await?.offers().await?;
        Ok(offers.iter().map(OfferView::from).collect())
    }

    /// Starts buying XMR.
    ///
    /// # Errors
    /// Bad amounts or addresses, the maker's limits, too little BTC, an unreachable maker.
    pub async fn buy_xmr(&self, request: BuyXmr) -> Result<SwapDetail, CommandError> {
        let maker = maker_address(&request.maker)?;
        let sat = units(&request.btc_sat, "BTC amount")?;
        if sat == 0 {
            return Err(invalid("the amount must be above zero"));
        }
        let limit = self.settings().map(|s| s.confirm_above_sat);
        check_limit(
            limit.as_deref(),
            sat,
            request.confirmed_above_limit,
            |sat| format!("{} BTC", Amount::from_sat(sat).to_btc()),
        )?;
        let receive = match request.receive_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(monero_address(self.status().network, text)?),
        };
        let engine = self.engine().await?;
        let swap_id = engine
            .buy_xmr(&maker, Amount::from_sat(sat), receive)
            .await?;
        self.log(
            Level::Info,
            Some(swap_id.to_string()),
            format!("buying XMR for {} BTC", Amount::from_sat(sat).to_btc()),
        );
        Ok(detail(&engine, &engine.swap(&swap_id).await?).await)
    }

    /// Starts selling XMR from the built-in XMR wallet.
    ///
    /// # Errors
    /// Bad amounts or addresses (a Bitcoin address of another network), a maker that does not
    /// buy XMR or whose limits the amount misses, too little unlocked XMR, an unreachable maker.
    pub async fn sell_xmr(&self, request: SellXmr) -> Result<SwapDetail, CommandError> {
        let maker = maker_address(&request.maker)?;
        let piconero = units(&request.xmr_piconero, "XMR amount")?;
        if piconero == 0 {
            return Err(invalid("the amount must be above zero"));
        }
        let limit = self.settings().map(|s| s.confirm_above_piconero);
        check_limit(
            limit.as_deref(),
            piconero,
            request.confirmed_above_limit,
            |piconero| XmrAmount::from_piconero(piconero).to_string(),
        )?;
        let receive = match request.receive_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(bitcoin_address(self.status().network, text)?.into_unchecked()),
        };
        let engine = self.engine().await?;
        let xmr = XmrAmount::from_piconero(piconero);
        let swap_id = engine.sell_xmr(&maker, xmr, receive).await?;
        self.log(
            Level::Info,
            Some(swap_id.to_string()),
            format!("selling {xmr}"),
        );
        Ok(detail(&engine, &engine.swap(&swap_id).await?).await)
    }

    /// All swaps, newest first.
    ///
    /// # Errors
    /// Not ready; store errors.
    pub async fn swaps(&self) -> Result<Vec<SwapDetail>, CommandError> {
        let engine = self.engine().await?;
        let mut details = Vec::new();
        for view in engine.swaps().await? {
            details.push(detail(&engine, &view).await);
        }
        Ok(details)
    }

    /// One swap.
    ///
    /// # Errors
    /// Not ready; an unknown id.
    pub async fn swap(&self, request: SwapRef) -> Result<SwapDetail, CommandError> {
        let id = parse_swap_id(&request.swap_id)?;
        let engine = self.engine().await?;
        Ok(detail(&engine, &engine.swap(&id).await?).await)
    }

    /// Cancels and refunds now (once the cancel timelock has passed).
    ///
    /// # Errors
    /// Too early (the message says in how many blocks), unknown swap.
    pub async fn cancel_refund(&self, request: SwapRef) -> Result<SwapDetail, CommandError> {
        let id = parse_swap_id(&request.swap_id)?;
        let engine = self.engine().await?;
        engine.cancel_refund(&id).await?;
        self.log(
            Level::Info,
            Some(id.to_string()),
            "cancel and refund requested",
        );
        Ok(detail(&engine, &engine.swap(&id).await?).await)
    }

    /// Aborts a swap before anything is locked.
    ///
    /// # Errors
    /// Too late to abort (the message says what happens instead), unknown swap.
    pub async fn abort_swap(&self, request: SwapRef) -> Result<SwapDetail, CommandError> {
        let id = parse_swap_id(&request.swap_id)?;
        let engine = self.engine().await?;
        engine.abort(&id, ABORT_FLUSH).await?;
        self.log(Level::Info, Some(id.to_string()), "abort requested");
        Ok(detail(&engine, &engine.swap(&id).await?).await)
    }

    /// Writes the swap's receipt to `receipts/<swap id>.json` in the app's directory.
    ///
    /// # Errors
    /// A swap without a receipt yet (not finished), a write failure.
    pub async fn export_receipt(&self, request: SwapRef) -> Result<ReceiptExport, CommandError> {
        let id = parse_swap_id(&request.swap_id)?;
        let receipt = self.engine().await?.receipt(&id).await?;
        let json = serde_json::to_string_pretty(&receipt).expect("receipts serialize");
        let path = self.export("receipts", &format!("{id}.json"), json.as_bytes())?;
        Ok(ReceiptExport { path, json })
    }

    /// Both wallets' balances.
    ///
    /// # Errors
    /// Not ready; node errors.
    pub async fn balances(&self) -> Result<Balances, CommandError> {
        Ok(self.engine().await?.balances().await?.into())
    }

    /// Receive addresses.
    ///
    /// # Errors
    /// Not ready; wallet errors.
    pub async fn addresses(&self) -> Result<Addresses, CommandError> {
        let engine = self.engine().await?;
        Ok(Addresses {
            btc: engine.btc_address().await?.to_string(),
            xmr: engine.xmr_address().to_string(),
        })
    }

    /// Sends coins out of a built-in wallet.
    ///
    /// # Errors
    /// Bad addresses or amounts, too little, node errors.
    pub async fn withdraw(&self, request: Withdraw) -> Result<Sent, CommandError> {
        let network = self.status().network;
        let amount = request
            .amount
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .map(|a| units(a, "amount"))
            .transpose()?;
        let txid = match request.asset {
            Asset::Btc => {
                let to = bitcoin_address(network, &request.to)?.into_unchecked();
                let engine = self.engine().await?;
                engine
                    .withdraw_btc(to, amount.map(Amount::from_sat))
                    .await?
                    .to_string()
            }
            Asset::Xmr => {
                let to = monero_address(network, &request.to)?;
                let amount = amount.ok_or_else(|| invalid("say how much XMR to send"))?;
                let engine = self.engine().await?;
                engine
                    .withdraw_xmr(to, XmrAmount::from_piconero(amount))
                    .await?
            }
        };
        self.log(
            Level::Info,
            None,
            format!("sent {:?}: {txid}", request.asset),
        );
        self.emit_balances().await;
        Ok(Sent { txid })
    }

    /// Regtest: play money from the app's devnet.
    ///
    /// # Errors
    /// Not on the app's own devnet; bad amounts; the devnet cannot pay.
    pub async fn devnet_fund(&self, request: DevnetFund) -> Result<Balances, CommandError> {
        let (engine, devnet) = {
            let running = self.inner.running.lock().await;
            (running.engine.clone(), running.devnet.clone())
        };
        let engine = engine.ok_or_else(not_ready)?;
        let devnet = devnet.ok_or_else(|| {
            CommandError::new(
                "play money comes only from the app's own regtest devnet",
                "On regtest, turn on \"start the local devnet\" in Settings and restart.",
            )
        })?;
        let btc = request
            .btc_sat
            .as_deref()
            .map(|s| units(s, "BTC amount").map(Amount::from_sat))
            .transpose()?;
        let xmr = request
            .xmr_piconero
            .as_deref()
            .map(|s| units(s, "XMR amount").map(XmrAmount::from_piconero))
            .transpose()?;
        devnet.fund(&engine, btc, xmr).await?;
        self.log(Level::Info, None, "received play money from the devnet");
        let balances: Balances = engine.balances().await?.into();
        (self.inner.sink)(AppEvent::Balances(balances.clone()));
        Ok(balances)
    }

    /// The log, oldest first.
    pub fn logs(&self) -> Vec<LogLine> {
        self.inner.log.lines()
    }

    /// Writes the log with identifiers and amounts replaced to `logs/` in the app's directory.
    ///
    /// # Errors
    /// A write failure.
    pub fn export_logs(&self) -> Result<LogExport, CommandError> {
        let (text, redactions) = self.inner.log.redacted_text();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let path = self.export("logs", &format!("confiaro-{stamp}.log"), text.as_bytes())?;
        Ok(LogExport { path, redactions })
    }

    /// Writes an exported file to `folder/name` in the app's directory; returns its path.
    fn export(&self, folder: &str, name: &str, contents: &[u8]) -> Result<String, CommandError> {
        let dir = self.inner.dir.join(folder);
        let path = dir.join(name);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, contents))
            .map_err(|e| {
                CommandError::new(
                    format!("writing {}: {e}", path.display()),
                    "Free some disk space, then export again.",
                )
            })?;
        Ok(path.display().to_string())
    }

    /// Stops the engine (swaps resume on the next start) and the app's devnet.
    pub async fn shutdown(&self) {
        let mut running = self.inner.running.lock().await;
        if let Some(follower) = running.follower.take() {
            follower.abort();
        }
        if let Some(engine) = running.engine.take() {
            engine.shutdown().await;
        }
        if let Some(devnet) = running.devnet.take() {
            match Arc::try_unwrap(devnet) {
                Ok(devnet) => devnet.stop().await,
                Err(_) => tracing::warn!("the devnet is still in use; it stops with the process"),
            }
        }
    }
}

/// The UI's view of a swap. A finished swap's transactions say which reached the chain, from
/// its receipt (the engine's swap view lists the agreed transactions only); a running swap's
/// stay [`TxOnChain::Unknown`].
async fn detail(engine: &Engine, view: &SwapView) -> SwapDetail {
    let mut detail = SwapDetail::from(view);
    if !view.phase.is_terminal() || detail.txs.is_empty() {
        return detail;
    }
    let receipt = match parse_swap_id(&view.swap_id) {
        Ok(id) => engine.receipt(&id).await,
        Err(e) => Err(e),
    };
    match receipt {
        Ok(receipt) => detail.note_chain(
            receipt
                .transactions
                .iter()
                .map(|tx| (tx.txid.as_str(), tx.confirmations)),
        ),
        Err(e) => tracing::warn!(swap = %view.swap_id, "no receipt to show its transactions: {e}"),
    }
    detail
}

/// Turns the engine's events into UI events until the engine stops.
async fn follow(app: App, engine: Engine) {
    let mut events = engine.subscribe();
    loop {
        let event = match events.next().await {
            Some(Received::Event(event)) => event,
            Some(Received::Lagged { missed }) => {
                // the UI's truth is the store: show every swap and the balances as they are
                app.log(
                    Level::Warning,
                    None,
                    format!("{missed} engine events were missed; the view was refreshed"),
                );
                for view in engine.swaps().await.unwrap_or_default() {
                    let swap = detail(&engine, &view).await;
                    (app.inner.sink)(AppEvent::Swap(Box::new(swap)));
                }
                app.emit_balances().await;
                continue;
            }
            None => return,
        };
        match event {
            EngineEvent::Swap(event) => {
                let id = Some(event.swap_id.clone());
                let (level, message) = match &event.kind {
                    SwapEventKind::StateChanged { state, .. } => {
                        (Level::Info, format!("state {state}"))
                    }
                    SwapEventKind::Progress { progress } => (Level::Info, progress.step.clone()),
                    SwapEventKind::Rejected { reason } => {
                        (Level::Warning, format!("refused an input: {reason}"))
                    }
                    SwapEventKind::PeerRefused { reason } => (
                        Level::Warning,
                        format!("the peer refused our message: {reason}"),
                    ),
                    SwapEventKind::Published { tx, txid } => (
                        Level::Info,
                        format!("published the {tx:?} transaction {txid}"),
                    ),
                    SwapEventKind::FeeBumped {
                        tx,
                        child_txid,
                        package_sat_per_vb,
                        ..
                    } => (
                        Level::Info,
                        format!(
                            "the {tx:?} transaction waits: child {child_txid} pays for it ({package_sat_per_vb} sat/vB together)"
                        ),
                    ),
                    SwapEventKind::Problem { message } => (Level::Warning, message.clone()),
                    SwapEventKind::Finished { phase, state } => {
                        (Level::Info, format!("finished: {phase:?} ({state})"))
                    }
                };
                app.log(level, id, message);
                // Balances move when a swap changes state or ends; new blocks are covered by
                // BitcoinTip (Progress also comes for every confirmation counted).
                if matches!(
                    event.kind,
                    SwapEventKind::StateChanged { .. } | SwapEventKind::Finished { .. }
                ) {
                    app.emit_balances().await;
                }
                // The engine follows every state change with a Progress event: the swap is
                // read (and its state decrypted) once per change, on that one.
                if matches!(event.kind, SwapEventKind::StateChanged { .. }) {
                    continue;
                }
                if let Ok(swap_id) = parse_swap_id(&event.swap_id) {
                    if let Ok(view) = engine.swap(&swap_id).await {
                        let swap = detail(&engine, &view).await;
                        (app.inner.sink)(AppEvent::Swap(Box::new(swap)));
                    }
                }
            }
            EngineEvent::BitcoinTip { .. } => app.emit_balances().await,
            EngineEvent::Warning { message } => app.log(Level::Warning, None, message),
        }
    }
}

/// Whether this build has the local devnet inside (the `devnet` feature).
const DEVNET_BUILT_IN: bool = cfg!(feature = "devnet");

/// Whether the app starts the local devnet itself.
fn manages_devnet(settings: &Settings) -> bool {
    settings.network == NetworkName::Regtest && settings.start_devnet
}

/// The wallet's data directory for `network` inside the app's directory.
fn wallet_dir(dir: &Path, network: NetworkName) -> PathBuf {
    dir.join(format!("wallet-{}", Network::from(network).name()))
}

/// Refuses `amount` above the user's `limit` (units; empty or none: no limit) unless the user
/// confirmed it a second time. `text` writes an amount for the message.
fn check_limit(
    limit: Option<&str>,
    amount: u64,
    confirmed: bool,
    text: impl Fn(u64) -> String,
) -> Result<(), CommandError> {
    let Some(limit) = limit.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let limit = units(limit, "the confirmation limit in Settings")?;
    if amount > limit && !confirmed {
        return Err(CommandError::new(
            format!(
                "{} is above your limit of {} for a swap without a second confirmation",
                text(amount),
                text(limit)
            ),
            "Tick the second confirmation on the Confirm step, or change the limit in Settings.",
        ));
    }
    Ok(())
}

/// The URL schemes each kind of Bitcoin source takes.
fn bitcoin_schemes(kind: BitcoinSourceKind) -> &'static [&'static str] {
    match kind {
        BitcoinSourceKind::Bitcoind | BitcoinSourceKind::Esplora => &["http://", "https://"],
        BitcoinSourceKind::Electrum => &["tcp://", "ssl://"],
    }
}

/// Refuses settings that cannot work, naming the field: a rendezvous point, URL, CA file
/// or `monero-wallet-rpc` path that does not parse or does not exist.
fn check_settings(settings: &Settings) -> Result<(), CommandError> {
    for point in &settings.rendezvous {
        point
            .parse::<Multiaddr>()
            .map_err(|e| invalid(format!("rendezvous point {point:?}: {e}")))?;
    }
    for (what, url, schemes) in [
        (
            "Bitcoin source URL",
            &settings.bitcoin_url,
            bitcoin_schemes(settings.bitcoin_source),
        ),
        (
            "Monero node URL",
            &settings.monerod_url,
            &["http://", "https://"][..],
        ),
    ] {
        if !(url.is_empty() || schemes.iter().any(|s| url.starts_with(s))) {
            return Err(invalid(format!(
                "{what} {url:?} must start with {}",
                schemes.join(" or ")
            )));
        }
    }
    for (what, limit) in [
        ("BTC confirmation limit", &settings.confirm_above_sat),
        ("XMR confirmation limit", &settings.confirm_above_piconero),
    ] {
        if !limit.is_empty() {
            units(limit, what)?;
        }
    }
    for (what, path) in [
        ("CA file", &settings.bitcoin_ca_file),
        ("monero-wallet-rpc", &settings.wallet_rpc_path),
    ] {
        if !path.is_empty() && !Path::new(path).is_file() {
            return Err(invalid(format!("{what} {path:?} does not exist")));
        }
    }
    Ok(())
}

/// The engine config from the settings' nodes.
fn node_config(data_dir: &Path, settings: &Settings) -> Result<EngineConfig, CommandError> {
    let missing = |what: &str| {
        CommandError::new(
            format!("no {what} is set"),
            "Set it in Settings, then unlock again.",
        )
    };
    if settings.bitcoin_url.is_empty() {
        return Err(missing("Bitcoin source URL"));
    }
    if settings.monerod_url.is_empty() {
        return Err(missing("Monero node URL"));
    }
    let url = settings.bitcoin_url.clone();
    let tls = match settings.bitcoin_ca_file.as_str() {
        "" => TlsTrust::System,
        file => TlsTrust::CaFile(PathBuf::from(file)),
    };
    let bitcoin = match settings.bitcoin_source {
        BitcoinSourceKind::Bitcoind => BitcoinSourceConfig::Bitcoind {
            url,
            auth: BitcoindAuth::UserPass {
                user: settings.bitcoin_rpc_user.clone(),
                password: settings.bitcoin_rpc_password.clone(),
            },
        },
        BitcoinSourceKind::Electrum => BitcoinSourceConfig::Electrum { url, tls },
        BitcoinSourceKind::Esplora => BitcoinSourceConfig::Esplora { url, tls },
    };
    let mut monero = MoneroConfig::new(settings.monerod_url.clone());
    if !settings.wallet_rpc_path.is_empty() {
        monero.wallet_rpc_binary = PathBuf::from(&settings.wallet_rpc_path);
    }
    let mut config = EngineConfig::new(
        data_dir.to_path_buf(),
        Network::from(settings.network),
        bitcoin,
        monero,
    );
    config.p2p.advertise_listen_addresses = settings.network == NetworkName::Regtest;
    if settings.network != NetworkName::Regtest {
        // off regtest, peers are reached through Tor only (no clear TCP of our own)
        config.p2p.tor = Some(TorSettings {
            network: TorNetworkChoice::Public,
            onion_port: None,
            chain_traffic: true,
        });
        config.p2p.listen.clear();
    }
    config.p2p.rendezvous = settings
        .rendezvous
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("a rendezvous point in Settings: {e}")))?;
    Ok(config)
}
