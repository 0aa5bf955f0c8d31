//! Test doubles for the engine's edges, after LDK's `test_utils`: an empty regtest chain
//! ([`EmptyChain`]) for the Bitcoin side, a wallet RPC that reports a fixed balance
//! ([`FakeMoneroWallet`]) for the Monero side, and [`test_context`], a whole [`Context`] on
//! them with a real SQLite store and real libp2p on loopback. With these, the intake, the
//! driver and the actions run in process: no node, no `monero-wallet-rpc`, no devnet.

use std::sync::Arc;

use bdk_wallet::chain::BlockId;
use bitcoin::Amount;
use bitcoin::{FeeRate, Script, Transaction, Txid};
use confiaro_bitcoin::{ChainSource, ChainUpdate, Mnemonic, SourceError, TxStatus};
use confiaro_p2p::{IdentitySecret, Multiaddr, Network as P2pNetwork, NetworkConfig, NetworkEvent};
use confiaro_protocol::bob::Bob;
use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
use confiaro_protocol::messages::{Message, SwapTerms};
use confiaro_protocol::{
    Action, Direction, Input, Network, Role, SwapId, SwapState, Timestamp, XmrAmount,
};
use confiaro_store::KdfParams;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::btc::BtcSide;
use crate::config::{BitcoinSourceConfig, EngineConfig, MoneroConfig, StoreLocation};
use crate::context::{BusyJobs, Context, DataDirLock};
use crate::faults::Faults;
use crate::keys::EngineKeys;
use crate::net::NetSide;
use crate::registry::SwapRegistry;
use crate::xmr::XmrSide;

/// A regtest chain with nothing but its genesis block: every transaction is unknown, every
/// broadcast is refused, the fee estimate is 5 sat/vB.
pub(crate) struct EmptyChain;

impl ChainSource for EmptyChain {
    fn name(&self) -> String {
        "empty test chain".into()
    }

    fn update(&mut self, _wallet: &bdk_wallet::Wallet) -> Result<ChainUpdate, SourceError> {
        Ok(ChainUpdate::Blocks {
            blocks: Vec::new(),
            mempool: Vec::new(),
            evicted: Vec::new(),
        })
    }

    fn tip(&mut self) -> Result<BlockId, SourceError> {
        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        Ok(BlockId {
            height: 0,
            hash: genesis.block_hash(),
        })
    }

    fn block_hash(&mut self, height: u32) -> Result<bitcoin::BlockHash, SourceError> {
        match height {
            0 => Ok(bitcoin::constants::genesis_block(bitcoin::Network::Regtest).block_hash()),
            _ => Err(SourceError::Failed {
                source_name: self.name(),
                reason: format!("no block at height {height}"),
            }),
        }
    }

    fn median_time_past(&mut self, _block: &BlockId) -> Result<u64, SourceError> {
        Ok(u64::from(
            bitcoin::constants::genesis_block(bitcoin::Network::Regtest)
                .header
                .time,
        ))
    }

    fn tx_status(&mut self, _txid: &Txid, _script: &Script) -> Result<TxStatus, SourceError> {
        Ok(TxStatus::NotFound)
    }

    fn transaction(
        &mut self,
        _txid: &Txid,
        _script: &Script,
    ) -> Result<Option<Transaction>, SourceError> {
        Ok(None)
    }

    fn broadcast(&mut self, _tx: &Transaction) -> Result<Txid, SourceError> {
        Err(SourceError::Rejected {
            reason: "the empty test chain takes no transactions".into(),
        })
    }

    fn estimate_fee_rate(&mut self, _target_blocks: u16) -> Result<Option<FeeRate>, SourceError> {
        Ok(Some(FeeRate::from_sat_per_vb_u32(5)))
    }
}

/// A `monero-wallet-rpc` stand-in on loopback HTTP: `refresh` succeeds and `get_balance`
/// reports `unlocked` as both the balance and the unlocked balance; anything else is a
/// JSON-RPC error. Stops with the test's runtime.
pub(crate) struct FakeMoneroWallet {
    /// Its URL, `http://127.0.0.1:<port>`.
    pub(crate) url: String,
}

impl FakeMoneroWallet {
    /// Starts serving.
    pub(crate) async fn start(unlocked: XmrAmount) -> FakeMoneroWallet {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, unlocked));
            }
        });
        FakeMoneroWallet { url }
    }
}

/// Answers one HTTP request of a JSON-RPC client.
async fn answer(mut stream: tokio::net::TcpStream, unlocked: XmrAmount) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body = loop {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request);
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        if request.len() >= end + 4 + length {
            break request[end + 4..end + 4 + length].to_vec();
        }
    };
    let call: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let result = match call["method"].as_str() {
        Some("refresh") => serde_json::json!({"result": {"blocks_fetched": 0}}),
        Some("get_balance") => serde_json::json!({"result": {
            "balance": unlocked.as_piconero(),
            "unlocked_balance": unlocked.as_piconero(),
        }}),
        other => {
            serde_json::json!({"error": {"code": -1, "message": format!("the fake wallet does not do {other:?}")}})
        }
    };
    let mut reply = serde_json::json!({"jsonrpc": "2.0", "id": call["id"]});
    reply
        .as_object_mut()
        .expect("an object")
        .extend(result.as_object().expect("an object").clone());
    let body = reply.to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

/// A peer on loopback libp2p for a test to play the other side with: its network handle
/// and its events (inbound requests to answer).
pub(crate) async fn loopback_peer(seed: u8) -> (P2pNetwork, mpsc::Receiver<NetworkEvent>) {
    let mut config = NetworkConfig::new(IdentitySecret::from_bytes([seed; 32]));
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("a multiaddr")];
    P2pNetwork::start(config).await.expect("a loopback network")
}

/// A running engine's [`Context`] in `dir` on the doubles: regtest, an [`EmptyChain`], a
/// [`FakeMoneroWallet`] holding `unlocked` XMR, a real SQLite store and real libp2p
/// listening on loopback. Returns it with its network's events (for an intake to run on).
pub(crate) async fn test_context(
    dir: &std::path::Path,
    unlocked: XmrAmount,
) -> (Arc<Context>, mpsc::Receiver<NetworkEvent>) {
    let monero = FakeMoneroWallet::start(unlocked).await;
    let config = EngineConfig::new(
        dir.to_path_buf(),
        Network::Regtest,
        BitcoinSourceConfig::Esplora {
            url: "http://127.0.0.1:9/unused".into(),
            tls: Default::default(),
        },
        MoneroConfig::new(monero.url.clone()),
    );
    let lock = DataDirLock::acquire(dir).expect("the data dir");
    let store = StoreLocation::sqlite(dir).open().await.expect("a store");
    let vault = store
        .create_vault(
            "pw",
            b"unused",
            KdfParams {
                memory_kib: 256,
                iterations: 1,
                parallelism: 1,
            },
        )
        .await
        .expect("a vault");
    let mnemonic = Mnemonic::from_entropy(&[7; 32]).expect("a mnemonic");
    let keys = EngineKeys::derive(&mnemonic);
    let btc = BtcSide::open(
        store.clone(),
        vault.clone(),
        &keys.mnemonic,
        Network::Regtest,
        Arc::new(|| Ok(Box::new(EmptyChain) as Box<dyn ChainSource>)),
    )
    .await
    .expect("the Bitcoin side");
    let xmr = XmrSide::over(
        &monero.url,
        keys.monero_address(Network::Regtest),
        dir.join("monero"),
    );
    let mut p2p = NetworkConfig::new(keys.identity.clone());
    p2p.listen = vec!["/ip4/127.0.0.1/tcp/0"
        .parse::<Multiaddr>()
        .expect("a multiaddr")];
    let (network, events) = P2pNetwork::start(p2p).await.expect("a loopback network");
    let (event_sender, _) = broadcast::channel(1024);
    let cx = Context {
        config,
        store,
        vault,
        keys,
        btc: Arc::new(btc),
        xmr,
        net: NetSide::new(network, crate::net::SwapNodes::default(), true),
        drivers: SwapRegistry::default(),
        events: event_sender,
        busy: BusyJobs::default(),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
        faults: Faults::default(),
        tor_proxy: None,
        _lock: lock,
    };
    (Arc::new(cx), events)
}

/// A standard P2WPKH script.
pub(crate) fn p2wpkh(byte: u8) -> bitcoin::ScriptBuf {
    use bitcoin::hashes::Hash as _;
    bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([byte; 20]))
}

/// A taker's fresh machine for `swap_id`, and the setup message it sends first.
pub(crate) fn bob_and_setup(swap_id: SwapId) -> (SwapState, Message) {
    let terms = SwapTerms::new(
        Network::Regtest,
        Direction::BuyXmr,
        Amount::from_sat(1_000_000),
        XmrAmount::from_piconero(1_000_000_000_000),
    );
    bob_with(terms, swap_id)
}

/// A taker's fresh machine for `swap_id` on `terms`, and its setup message.
pub(crate) fn bob_with(terms: SwapTerms, swap_id: SwapId) -> (SwapState, Message) {
    let secrets = SwapSecrets::derive(
        &WalletSeed([9; 64]),
        &swap_id,
        Role::Bob,
        &SwapEntropy([1; 32]),
    );
    let share = secrets.public_share();
    let refund = p2wpkh(1);
    let bob = Bob::new(swap_id, terms, secrets, share, refund, 5, Timestamp(0));
    let mut state = SwapState::Bob(Box::new(bob));
    let setup = state
        .handle(Timestamp(1), Input::Tick)
        .expect("a fresh machine starts")
        .into_iter()
        .find_map(|action| match action {
            Action::Send(message) => Some(message),
            _ => None,
        })
        .expect("Bob sends his setup");
    (state, setup)
}

/// A taker's setup message for a swap buying 1 XMR (its DLEQ proof takes ~0.1 s to check).
pub(crate) fn a_setup_message() -> Message {
    bob_and_setup(SwapId([0x5E; 32])).1
}
