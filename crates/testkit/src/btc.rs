//! Shared set-up of the wallet tests: a devnet node behind its real servers (bitcoind
//! JSON-RPC; Electrum and Esplora when those tests use them), and wallets on a real SQLite
//! store.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bitcoin::{Network, ScriptBuf};
use confiaro_bitcoin::{
    BitcoindAuth, BitcoindSource, ElectrumSource, EsploraSource, Mnemonic, Wallet,
};
use confiaro_devnet::electrum::ElectrumServer;
use confiaro_devnet::esplora::EsploraServer;
use confiaro_devnet::rpc::{RpcConfig, RpcServer, SharedNode};
use confiaro_devnet::Node;
use confiaro_store::{KdfParams, Store, Vault, WalletPersister};

/// The wallet as the app keeps it: persisted in the store.
pub type StoreWallet = Wallet<WalletPersister>;

/// The devnet RPC server's user name.
pub const USER: &str = "confiaro";
/// The devnet RPC server's password.
pub const PASSWORD: &str = "test-password";

/// A devnet node with its bitcoind RPC server, in a temporary directory.
pub struct Devnet {
    /// The temporary directory holding the node (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The node, shared with its RPC server.
    pub node: SharedNode,
    /// Its bitcoind-compatible RPC server on loopback.
    pub rpc: RpcServer,
}

impl Devnet {
    /// Opens a fresh node in a temporary directory and starts its RPC server.
    pub fn start() -> Devnet {
        let dir = crate::leftovers::test_dir("btc");
        let node = Arc::new(Mutex::new(
            Node::open(dir.path().join("node")).expect("node"),
        ));
        let rpc = RpcServer::start(
            node.clone(),
            RpcConfig {
                port: 0,
                user_password: Some((USER.into(), PASSWORD.into())),
                cookie_file: None,
            },
        )
        .expect("rpc server");
        Devnet { dir, node, rpc }
    }

    /// The node, locked for direct use (mining, mempool inspection).
    pub fn node(&self) -> MutexGuard<'_, Node> {
        self.node.lock().expect("node lock")
    }

    /// A bitcoind RPC source on this devnet.
    pub fn bitcoind(&self) -> BitcoindSource {
        BitcoindSource::new(
            &self.rpc.url(),
            BitcoindAuth::UserPass {
                user: USER.into(),
                password: PASSWORD.into(),
            },
            Duration::from_secs(10),
        )
        .expect("source")
    }

    /// Starts an Electrum server on this devnet's node (on a free port); it runs until the
    /// returned server is shut down or dropped.
    pub fn start_electrum(&self) -> ElectrumServer {
        ElectrumServer::start(self.node.clone(), 0).expect("electrum server")
    }

    /// An Electrum source on `server`.
    pub fn electrum(&self, server: &ElectrumServer) -> ElectrumSource {
        ElectrumSource::new(&server.url(), Duration::from_secs(10)).expect("electrum source")
    }

    /// Starts an Esplora REST server on this devnet's node (on a free port). The test keeps
    /// it: dropping it (or `shutdown()`) stops it.
    pub fn start_esplora(&self) -> EsploraServer {
        EsploraServer::start(self.node.clone(), 0).expect("esplora server")
    }

    /// An Esplora source on `server`.
    pub fn esplora(&self, server: &EsploraServer) -> EsploraSource {
        EsploraSource::new(&server.url(), Duration::from_secs(10)).expect("esplora source")
    }

    /// Mines `n` blocks to `to`.
    pub fn mine(&self, n: u32, to: &ScriptBuf) {
        self.node().mine(n, to).expect("mine");
    }

    /// Mines `n` blocks to an unspendable script.
    pub fn mine_empty(&self, n: u32) {
        self.mine(n, &burn());
    }

    /// A store in this devnet's directory.
    pub async fn store(&self) -> Store {
        Store::open(self.dir.path().join("app.sqlite"))
            .await
            .expect("store")
    }
}

/// A script nobody can spend (P2WSH of OP_TRUE is spendable; this one is not standard to
/// spend without its witness script, and no test does).
pub fn burn() -> ScriptBuf {
    ScriptBuf::new_p2wsh(&ScriptBuf::from(vec![0x51]).wscript_hash())
}

/// The mnemonic of test seed number `n`.
pub fn mnemonic(n: u8) -> Mnemonic {
    Mnemonic::from_entropy(&[n; 16]).expect("mnemonic")
}

/// The vault of a test store: created on first use (password `test`, the cheapest argon2id
/// costs), unlocked after.
pub async fn test_vault(store: &Store) -> Vault {
    const PASSWORD: &str = "test";
    let kdf = KdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    if store.has_vault().await.expect("the vault row") {
        store.unlock_vault(PASSWORD).await.expect("the test vault")
    } else {
        store
            .create_vault(PASSWORD, b"", kdf)
            .await
            .expect("a test vault")
    }
}

/// Opens wallet `id` from seed `n` on regtest.
pub async fn wallet(store: &Store, id: &str, n: u8) -> StoreWallet {
    Wallet::open(
        WalletPersister::new(store.clone(), test_vault(store).await, id),
        &mnemonic(n),
        "",
        Network::Regtest,
    )
    .await
    .expect("wallet")
}
