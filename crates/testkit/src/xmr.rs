//! Shared set-up of the Monero tests and benchmarks: a regtest monerod in a temporary
//! directory, wallet RPCs next to it, and test keys.

use confiaro_monero::process::{Monerod, ProcessConfig, WalletRpc};
use confiaro_monero::swap::TxPresence;
use curve25519_dalek::Scalar;

/// One XMR in piconero.
pub const XMR: u64 = 1_000_000_000_000;

/// A regtest monerod in a temporary directory (killed when dropped).
pub struct Stack {
    /// The temporary directory holding the chain (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The running monerod.
    pub monerod: Monerod,
}

impl Stack {
    /// Starts a regtest monerod in a fresh temporary directory.
    pub async fn start() -> Stack {
        let dir = crate::leftovers::test_dir("xmr");
        let monerod = Monerod::start(&ProcessConfig::new("monerod", dir.path().join("monerod")))
            .await
            .expect("monerod");
        Stack { dir, monerod }
    }

    /// A wallet RPC with its files in `<dir>/<name>`, on this daemon.
    pub async fn wallet_rpc(&self, name: &str) -> WalletRpc {
        WalletRpc::start(
            &ProcessConfig::new("monero-wallet-rpc", self.dir.path().join(name)),
            &self.monerod.address(),
        )
        .await
        .expect("wallet rpc")
    }

    /// Mines `blocks` blocks paying `to`.
    pub async fn mine(&self, blocks: u64, to: &monero::Address) {
        self.monerod
            .client()
            .generate_blocks(blocks, to)
            .await
            .expect("mine");
    }

    /// Mines one block at a time until every one of `tx_hashes` is in the chain, and returns
    /// the height of the block that took the last of them (so each has at least one
    /// confirmation, the last exactly one). monerod does not always put a just-relayed
    /// transaction in the very next block it generates; a test that needs it mined waits
    /// here rather than assuming one block is enough. Panics after 20 blocks.
    pub async fn mine_until_mined(&self, tx_hashes: &[&str], to: &monero::Address) -> u64 {
        let daemon = self.monerod.client();
        for _ in 0..20 {
            self.mine(1, to).await;
            let mut last = None;
            for hash in tx_hashes {
                match daemon.tx_presence(hash).await.expect("presence") {
                    TxPresence::Mined { height, .. } => {
                        last = Some(last.map_or(height, |h: u64| h.max(height)))
                    }
                    _ => {
                        last = None;
                        break;
                    }
                }
            }
            if let Some(height) = last {
                return height;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("{tx_hashes:?} not mined in 20 blocks");
    }
}

/// A test scalar from `seed` (below 2^252, as the protocol's spend shares are).
pub fn scalar(seed: u8) -> Scalar {
    let mut bytes = [seed; 32];
    bytes[31] &= 0x0f;
    Scalar::from_bytes_mod_order(bytes)
}

/// A wallet's keys and address from `seed` (regtest uses mainnet addresses).
pub fn wallet_keys(seed: u8) -> (monero::PrivateKey, monero::PrivateKey, monero::Address) {
    let spend = confiaro_protocol::xmr::private_key(&scalar(seed));
    let view = confiaro_protocol::xmr::private_key(&scalar(seed.wrapping_add(100)));
    let address = monero::Address::standard(
        monero::Network::Mainnet,
        monero::PublicKey::from_private_key(&spend),
        monero::PublicKey::from_private_key(&view),
    );
    (spend, view, address)
}

/// The 2-of-2 lock address of a swap whose key shares come from `seed`.
pub fn lock_address(seed: u8) -> monero::Address {
    use confiaro_protocol::crypto::EdPoint;
    use confiaro_protocol::{xmr, Network};
    let view = xmr::shared_view_key(&scalar(seed), &scalar(seed.wrapping_add(1)));
    xmr::lock_address(
        Network::Regtest,
        &EdPoint::from_scalar(&scalar(seed.wrapping_add(2))),
        &EdPoint::from_scalar(&scalar(seed.wrapping_add(3))),
        &view,
    )
}

/// The key images a transaction spends, from the daemon's decoded copy of it.
pub async fn key_images(daemon_url: &str, tx_hash: &str) -> Vec<String> {
    let answer: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
        .post(format!("{daemon_url}/get_transactions"))
        .json(&serde_json::json!({"txs_hashes": [tx_hash], "decode_as_json": true}))
        .send()
        .await
        .expect("get_transactions")
        .json()
        .await
        .expect("json");
    let tx: serde_json::Value =
        serde_json::from_str(answer["txs"][0]["as_json"].as_str().expect("as_json"))
            .expect("transaction json");
    tx["vin"]
        .as_array()
        .expect("vin")
        .iter()
        .map(|input| {
            input["key"]["k_image"]
                .as_str()
                .expect("k_image")
                .to_owned()
        })
        .collect()
}
