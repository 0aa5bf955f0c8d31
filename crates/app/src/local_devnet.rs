//! The app's own regtest devnet with its demo maker (`confiaro-demo`), present only with the
//! `devnet` feature (testers, `scripts/run.sh`). A default build has the same type with no
//! value: starting it fails with an error that names the missing feature, and nothing of the
//! devnet (libbitcoinkernel, the demo maker) is compiled in.

use std::path::Path;

use bitcoin::Amount;
use confiaro_orchestrator::{Engine, EngineConfig, XmrAmount};

use crate::ipc::CommandError;

/// The local devnet the app started (see the module docs).
#[cfg(feature = "devnet")]
pub(crate) struct LocalDevnet(confiaro_demo::DemoDevnet);

/// The local devnet the app started: none in a build without the `devnet` feature.
#[cfg(not(feature = "devnet"))]
pub(crate) enum LocalDevnet {}

#[cfg(feature = "devnet")]
impl LocalDevnet {
    /// Starts the stack in `dir` (blocks every 10 s / 2 s) and the demo maker: it sells XMR
    /// at 150 XMR per BTC for 0.0001 to 0.5 BTC, and buys XMR at 140 XMR per BTC for 0.0001
    /// to 0.1 BTC. `on_step` hears each step's text and how many of the app's
    /// start steps are done before it (the devnet 0, the demo maker 1).
    pub(crate) async fn start(
        dir: &Path,
        on_step: impl Fn(String, u32),
    ) -> Result<LocalDevnet, CommandError> {
        use confiaro_demo::{
            DemoDevnet, DemoMaker, DemoSell, DevnetStep, StackConfig, DEMO_SELL_MAX, DEMO_SELL_MIN,
        };
        use std::time::Duration;
        let maker = DemoMaker {
            port: 0,
            price: confiaro_orchestrator::Price(150 * 1_000_000_000_000),
            min: Amount::from_sat(10_000),
            max: Amount::from_sat(50_000_000),
            sell: Some(DemoSell {
                bid: confiaro_orchestrator::Price(140 * 1_000_000_000_000),
                min: DEMO_SELL_MIN,
                max: DEMO_SELL_MAX,
            }),
        };
        let progress = |step: DevnetStep| {
            let done = match step {
                DevnetStep::Stack => 0,
                DevnetStep::Maker | DevnetStep::FundingMaker | DevnetStep::FundingMakerBtc => 1,
            };
            on_step(step.to_string(), done);
        };
        DemoDevnet::start(
            StackConfig::ephemeral(dir.to_path_buf()),
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(2)),
            Some(maker),
            progress,
        )
        .await
        .map(LocalDevnet)
        .map_err(|e| {
            CommandError::new(
                format!("the local devnet did not start: {e}"),
                "Check that monerod and monero-wallet-rpc are installed (./scripts/setup.sh), then try again.",
            )
        })
    }

    /// An engine config for the user's wallet in `data_dir` on this devnet, its peer node on
    /// a free loopback port.
    pub(crate) fn engine_config(&self, data_dir: &Path) -> Result<EngineConfig, CommandError> {
        let listen = "/ip4/127.0.0.1/tcp/0".parse().expect("a valid multiaddr");
        self.0
            .engine_config(data_dir, listen)
            .map_err(|e| CommandError::new(e.to_string(), "Restart the app."))
    }

    /// Pays play money to `engine`'s wallets.
    pub(crate) async fn fund(
        &self,
        engine: &Engine,
        btc: Option<Amount>,
        xmr: Option<XmrAmount>,
    ) -> Result<(), CommandError> {
        self.0.fund(engine, btc, xmr).await.map_err(|e| {
            CommandError::new(
                format!("the devnet could not pay: {e}"),
                "Try a smaller amount.",
            )
        })
    }

    /// Stops the demo maker, the miner and the stack.
    pub(crate) async fn stop(self) {
        self.0.stop().await
    }
}

#[cfg(not(feature = "devnet"))]
impl LocalDevnet {
    /// Fails: this build has no devnet.
    pub(crate) async fn start(
        _dir: &Path,
        _on_step: impl Fn(String, u32),
    ) -> Result<LocalDevnet, CommandError> {
        Err(CommandError::new(
            "this build of the app has no local devnet (it was built without the `devnet` feature)",
            "Turn off \"start the local devnet\" in Settings and give your own regtest nodes, or run ./scripts/run.sh, which builds the app with its devnet.",
        ))
    }

    pub(crate) fn engine_config(&self, _data_dir: &Path) -> Result<EngineConfig, CommandError> {
        match *self {}
    }

    pub(crate) async fn fund(
        &self,
        _engine: &Engine,
        _btc: Option<Amount>,
        _xmr: Option<XmrAmount>,
    ) -> Result<(), CommandError> {
        match *self {}
    }

    pub(crate) async fn stop(self) {
        match self {}
    }
}
