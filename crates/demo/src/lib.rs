//! The local regtest stack with a demo maker, as `confiaro devnet up` and the desktop app on
//! regtest start it: the devnet node, regtest monerod with a funded wallet, a rendezvous point,
//! blocks on a timer, and a maker engine quoting a fixed price. Regtest only: its coins are
//! play money.
//!
//! This crate is the only way the products reach the devnet, and only with their `devnet`
//! feature (`confiaro-app/devnet`, `confiaro-cli/devnet`, `confiaro-desktop/devnet`): a default
//! build of the desktop app or the `confiaro` command contains no devnet node and so no
//! libbitcoinkernel.

use std::path::Path;
use std::time::Duration;

use bitcoin::Amount;
use confiaro_devnet::stack::{AutoMiner, Stack};
pub use confiaro_devnet::stack::{MoneroPorts, StackConfig, StackError, StackInfo};
use confiaro_orchestrator::config::P2pConfig;
use confiaro_orchestrator::{
    BitcoinSourceConfig, BitcoindAuth, Engine, EngineConfig, EngineError, MakerSettings,
    MoneroConfig, Multiaddr, Network, Price, SellSide, XmrAmount,
};

/// The demo maker's wallet password (regtest only: its coins are play money).
pub const DEMO_MAKER_PASSWORD: &str = "devnet";

/// XMR the demo maker keeps at least (it is topped up to four times this on start).
const DEMO_MAKER_OUTPUT: XmrAmount = XmrAmount::from_piconero(10 * 1_000_000_000_000);

/// Why the devnet could not start or pay.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The stack failed (a port in use, monerod missing, a refused block, ...).
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The demo maker's engine failed.
    #[error("the demo maker: {0}")]
    Maker(#[source] EngineError),
    /// The user's engine failed while being paid (its addresses).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The stack runs without Monero or a rendezvous point (it is always started with both).
    #[error("the devnet runs without {0}")]
    Missing(&'static str),
}

/// The demo maker's terms.
#[derive(Debug, Clone, Copy)]
pub struct DemoMaker {
    /// Its libp2p port (0: any free port).
    pub port: u16,
    /// Piconero per BTC.
    pub price: Price,
    /// Smallest swap.
    pub min: Amount,
    /// Largest swap.
    pub max: Amount,
    /// The side on which it buys XMR from takers selling it, if it takes that side.
    pub sell: Option<DemoSell>,
}

/// The demo maker's side for takers selling XMR: it buys XMR at `bid`, for `min..=max` of
/// BTC, and is funded with [`DEMO_MAKER_BTC`] to pay for it.
#[derive(Debug, Clone, Copy)]
pub struct DemoSell {
    /// Piconero per BTC the maker pays.
    pub bid: Price,
    /// Smallest swap, in BTC.
    pub min: Amount,
    /// Largest swap, in BTC.
    pub max: Amount,
}

/// The BTC a demo maker with a sell side holds (topped up to it at each start).
pub const DEMO_MAKER_BTC: Amount = Amount::from_sat(100_000_000);
/// The demo maker's smallest sell-side swap: 0.0001 BTC.
pub const DEMO_SELL_MIN: Amount = Amount::from_sat(10_000);
/// The demo maker's largest sell-side swap: 0.1 BTC, a tenth of [`DEMO_MAKER_BTC`].
pub const DEMO_SELL_MAX: Amount = Amount::from_sat(10_000_000);

/// A step of [`DemoDevnet::start`], in the order they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevnetStep {
    /// Starting the chains, the rendezvous point and the block timer.
    Stack,
    /// Opening (on first use, creating) the demo maker.
    Maker,
    /// Funding the demo maker with XMR (only when it holds too little).
    FundingMaker,
    /// Funding the demo maker with BTC for its sell side (only when it holds too little).
    FundingMakerBtc,
}

impl std::fmt::Display for DevnetStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DevnetStep::Stack => "starting the local devnet (the first start mines the Monero wallet's funds: about a minute)",
            DevnetStep::Maker => "starting the demo maker",
            DevnetStep::FundingMaker => "funding the demo maker with 40 XMR (in four outputs)",
            DevnetStep::FundingMakerBtc => "funding the demo maker with 1 BTC for the takers selling XMR",
        })
    }
}

/// A running devnet with, optionally, its demo maker. Stops when [`DemoDevnet::stop`] is
/// called (dropping it stops the miner; the stack's processes end with this process).
pub struct DemoDevnet {
    stack: Stack,
    miner: Option<AutoMiner>,
    maker: Option<Engine>,
}

impl DemoDevnet {
    /// Starts the stack described by `config` (blocks every `btc_every`/`xmr_every`), then,
    /// with `maker`, the demo maker in `config.data_dir/maker` (created and funded with 40 XMR
    /// on first use). `progress` hears each step as it begins.
    ///
    /// # Errors
    /// [`DevnetError`]; on a maker failure the stack is stopped again.
    pub async fn start(
        config: StackConfig,
        btc_every: Option<Duration>,
        xmr_every: Option<Duration>,
        maker: Option<DemoMaker>,
        progress: impl Fn(DevnetStep),
    ) -> Result<DemoDevnet, DevnetError> {
        let dir = config.data_dir.clone();
        progress(DevnetStep::Stack);
        let stack = Stack::start(config).await?;
        let miner = Some(stack.auto_mine(btc_every, xmr_every));
        let mut devnet = DemoDevnet {
            stack,
            miner,
            maker: None,
        };
        if let Some(terms) = maker {
            progress(DevnetStep::Maker);
            match devnet.start_maker(&dir, terms, &progress).await {
                Ok(engine) => devnet.maker = Some(engine),
                Err(e) => {
                    devnet.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(devnet)
    }

    async fn start_maker(
        &self,
        dir: &Path,
        terms: DemoMaker,
        progress: &impl Fn(DevnetStep),
    ) -> Result<Engine, DevnetError> {
        let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", terms.port)
            .parse()
            .expect("a valid multiaddr");
        let config = self.engine_config(&dir.join("maker"), listen)?;
        if !config.store().may_exist() {
            Engine::init(&config, DEMO_MAKER_PASSWORD, None)
                .await
                .map_err(DevnetError::Maker)?;
        }
        let engine = Engine::open(config, DEMO_MAKER_PASSWORD)
            .await
            .map_err(DevnetError::Maker)?;
        let balances = engine.balances().await.map_err(DevnetError::Maker)?;
        if XmrAmount::from_piconero(balances.xmr_total_piconero) < DEMO_MAKER_OUTPUT {
            progress(DevnetStep::FundingMaker);
            let address = engine.xmr_address();
            for _ in 0..4 {
                self.stack.fund_xmr(&address, DEMO_MAKER_OUTPUT).await?;
            }
        }
        if terms.sell.is_some() {
            let btc = balances.btc_confirmed_sat + balances.btc_pending_sat;
            if btc < DEMO_MAKER_BTC.to_sat() {
                progress(DevnetStep::FundingMakerBtc);
                let address = engine.btc_address().await.map_err(DevnetError::Maker)?;
                self.stack
                    .fund_btc(&address, DEMO_MAKER_BTC - Amount::from_sat(btc))
                    .await?;
            }
        }
        let settings = MakerSettings {
            sell: terms.sell.map(|s| SellSide::new(s.min, s.max)),
            ..MakerSettings::new(terms.min, terms.max)
        };
        engine
            .start_maker(settings, Ok(terms.price))
            .await
            .map_err(DevnetError::Maker)?;
        if let Some(sell) = terms.sell {
            engine.set_bid_price(Ok(sell.bid));
        }
        Ok(engine)
    }

    /// The stack's endpoints.
    pub fn info(&self) -> &StackInfo {
        self.stack.info()
    }

    /// The demo maker, if one runs.
    pub fn maker(&self) -> Option<&Engine> {
        self.maker.as_ref()
    }

    /// An engine config for a wallet in `data_dir` on this devnet, listening on `listen` and
    /// registering at the devnet's rendezvous point.
    ///
    /// # Errors
    /// [`DevnetError::Missing`] on a stack without Monero or rendezvous point.
    pub fn engine_config(
        &self,
        data_dir: &Path,
        listen: Multiaddr,
    ) -> Result<EngineConfig, DevnetError> {
        let info = self.stack.info();
        let mut config = EngineConfig::new(
            data_dir.to_path_buf(),
            Network::Regtest,
            BitcoinSourceConfig::Bitcoind {
                url: info.bitcoin_rpc_url.clone(),
                auth: BitcoindAuth::UserPass {
                    user: info.rpc_user.clone(),
                    password: info.rpc_password.clone(),
                },
            },
            MoneroConfig::new(
                info.monerod_url
                    .clone()
                    .ok_or(DevnetError::Missing("Monero"))?,
            ),
        );
        let rendezvous = info
            .rendezvous
            .as_deref()
            .and_then(|r| r.parse().ok())
            .ok_or(DevnetError::Missing("a rendezvous point"))?;
        config.p2p = P2pConfig {
            listen: vec![listen],
            rendezvous: vec![rendezvous],
            advertise_listen_addresses: true,
            tor: None,
        };
        Ok(config)
    }

    /// Pays play money to `engine`'s wallets: `btc` (then mines a block) and `xmr` (then
    /// mines until it is spendable).
    ///
    /// # Errors
    /// [`DevnetError`] when the devnet cannot pay.
    pub async fn fund(
        &self,
        engine: &Engine,
        btc: Option<Amount>,
        xmr: Option<XmrAmount>,
    ) -> Result<(), DevnetError> {
        if let Some(amount) = btc {
            let address = engine.btc_address().await?;
            self.stack.fund_btc(&address, amount).await?;
        }
        if let Some(amount) = xmr {
            self.stack.fund_xmr(&engine.xmr_address(), amount).await?;
        }
        Ok(())
    }

    /// Stops the maker (gracefully), the miner and the stack.
    pub async fn stop(mut self) {
        if let Some(maker) = self.maker.take() {
            maker.shutdown().await;
        }
        drop(self.miner.take());
        self.stack.stop().await;
    }
}
