//! Chain sources: where the wallet learns about blocks and the mempool.
//!
//! Sans-IO in BDK's style: a [`ChainSource`] looks at the wallet's local chain tip and
//! produces a [`ChainUpdate`] (the blocks the wallet has not seen, each with the block it
//! connects to, and the current mempool); [`crate::Wallet::sync`] applies it. A source
//! never mutates the wallet, so one that is dead fails with its own error and one that lies
//! (blocks that do not connect) is refused by the wallet's chain.

use std::sync::Arc;

use bdk_wallet::chain::{BlockId, CheckPoint};
use bitcoin::{Block, Transaction};

/// One block for the wallet, in chain order.
#[derive(Debug, Clone)]
pub struct BlockUpdate {
    /// The full block (the wallet keeps only its relevant transactions and header).
    pub block: Block,
    /// Its height.
    pub height: u32,
    /// A block the wallet already has (or the block just before in the same update) that
    /// this block builds on; after a reorg, the fork point.
    pub connected_to: BlockId,
}

/// What a source knows that the wallet does not yet.
#[derive(Debug, Clone, Default)]
pub struct ChainUpdate {
    /// New blocks, lowest first; the first one connects to a block in the wallet's local
    /// chain (blocks above that point are replaced: a reorg).
    pub blocks: Vec<BlockUpdate>,
    /// The source's mempool, each transaction with the unix time it was last seen.
    /// Irrelevant transactions are filtered out by the wallet.
    pub mempool: Vec<(Arc<Transaction>, u64)>,
}

/// A source of chain data for [`crate::Wallet::sync`].
pub trait ChainSource {
    /// The source's own error (connection lost, bad answer, ...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The update that brings a wallet whose local chain ends at `local_tip` up to the
    /// source's view: blocks above the last block both agree on, and the mempool.
    ///
    /// # Errors
    ///
    /// `Self::Error` if the source cannot be read.
    fn update(&mut self, local_tip: &CheckPoint) -> Result<ChainUpdate, Self::Error>;
}

#[cfg(feature = "devnet")]
pub use devnet::DevnetSource;

#[cfg(feature = "devnet")]
mod devnet {
    use std::sync::Arc;
    use std::time::{SystemTime, UNIX_EPOCH};

    use bdk_wallet::chain::{BlockId, CheckPoint};
    use confiaro_devnet::{DevnetError, Node};

    use super::{BlockUpdate, ChainSource, ChainUpdate};

    /// A [`ChainSource`] reading the in-process devnet [`Node`] directly (tests and the
    /// devnet command). Borrow it for one sync: `wallet.sync(&mut DevnetSource::new(&node))`.
    #[derive(Debug)]
    pub struct DevnetSource<'a> {
        node: &'a Node,
    }

    impl<'a> DevnetSource<'a> {
        /// A source over `node`.
        pub fn new(node: &'a Node) -> Self {
            DevnetSource { node }
        }
    }

    impl ChainSource for DevnetSource<'_> {
        type Error = DevnetError;

        fn update(&mut self, local_tip: &CheckPoint) -> Result<ChainUpdate, DevnetError> {
            let node = self.node;
            // The fork point: the highest local checkpoint that the node's chain agrees on.
            let agree = local_tip
                .iter()
                .find(|cp| node.block_hash(cp.height()) == Some(cp.hash()))
                .map(|cp| cp.block_id())
                .unwrap_or(BlockId {
                    height: 0,
                    hash: node.block_hash(0).expect("the node has a genesis block"),
                });
            let mut blocks = Vec::new();
            let mut connected_to = agree;
            for height in agree.height + 1..=node.tip_height() {
                let Some(block) = node.block(height)? else {
                    break;
                };
                let hash = block.block_hash();
                blocks.push(BlockUpdate {
                    block,
                    height,
                    connected_to,
                });
                connected_to = BlockId { height, hash };
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mempool = node
                .mempool()
                .iter()
                .filter_map(|txid| node.get_tx(txid))
                .map(|(tx, _)| (Arc::new(tx), now))
                .collect();
            Ok(ChainUpdate { blocks, mempool })
        }
    }
}
