//! Every source reports the chain's median time past (BIP113) as the node computes it, for
//! the tip and for a block below it, and refuses a block that is not in its chain.

use bdk_wallet::chain::BlockId;
use bitcoin::hashes::Hash;
use confiaro_bitcoin::ChainSource;
use confiaro_testkit::btc::Devnet;

#[test]
fn every_source_reports_the_nodes_median_time_past() {
    let dev = Devnet::start();
    let electrum = dev.start_electrum();
    let esplora = dev.start_esplora();
    dev.mine_empty(15);
    let mut sources: Vec<Box<dyn ChainSource>> = vec![
        Box::new(dev.bitcoind()),
        Box::new(dev.electrum(&electrum)),
        Box::new(dev.esplora(&esplora)),
    ];
    let (tip, tip_mtp) = {
        let node = dev.node();
        (
            node.tip_height(),
            u64::from(node.median_time_past(node.tip_height())),
        )
    };
    let (low_hash, low_mtp) = {
        let node = dev.node();
        (
            node.block_hash(5).expect("block 5"),
            u64::from(node.median_time_past(5)),
        )
    };
    for source in &mut sources {
        let name = source.name();
        let block = source.tip().expect("tip");
        assert_eq!(block.height, tip, "{name}");
        assert_eq!(
            source.median_time_past(&block).expect("mtp"),
            tip_mtp,
            "{name}"
        );
        let low = BlockId {
            height: 5,
            hash: low_hash,
        };
        assert_eq!(
            source.median_time_past(&low).expect("mtp"),
            low_mtp,
            "{name}"
        );
        let unknown = BlockId {
            height: 5,
            hash: bitcoin::BlockHash::all_zeros(),
        };
        assert!(source.median_time_past(&unknown).is_err(), "{name}");
    }
}
