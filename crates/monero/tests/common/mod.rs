//! Shared set-up of the Monero tests and benchmarks: a regtest monerod in a temporary
//! directory, wallet RPCs next to it, and test keys.
#![allow(dead_code)]

use confiaro_monero::process::{Monerod, ProcessConfig, WalletRpc};
use curve25519_dalek::Scalar;

/// One XMR in piconero.
pub const XMR: u64 = 1_000_000_000_000;

/// A regtest monerod in a temporary directory (killed when dropped).
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub monerod: Monerod,
}

impl Stack {
    pub async fn start() -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
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
}

/// A test scalar from `seed` (below 2^252, as the protocol's spend shares are).
pub fn scalar(seed: u8) -> Scalar {
    let mut bytes = [seed; 32];
    bytes[31] &= 0x0f;
    Scalar::from_bytes_mod_order(bytes)
}
