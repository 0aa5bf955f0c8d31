//! Wallet tests against a real devnet node, through its bitcoind JSON-RPC server.

use bitcoin::{Amount, FeeRate, Network};
use confiaro_testkit::btc::{burn, mnemonic, wallet as open_wallet, Devnet};

#[tokio::test]
async fn fund_send_reload() {
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut w1 = open_wallet(&store, "w1", 1).await;
    let mut w2 = open_wallet(&store, "w2", 2).await;
    let a1 = w1.new_address().await.unwrap();
    assert_eq!(
        confiaro_bitcoin::first_address(&mnemonic(1), "", Network::Regtest).unwrap(),
        a1,
        "the first address handed out is the one computable without a store"
    );
    dev.node().mine(101, &a1.script_pubkey()).unwrap();
    let r = w1.sync(&mut source).await.unwrap();
    assert_eq!(r.blocks_applied, 101);
    let b = w1.balance();
    // Coinbases at heights 1 and 2 are spendable in block 102 (Core's and BDK's rule).
    assert_eq!(b.confirmed, Amount::from_btc(100.0).unwrap());
    assert_eq!(b.immature, Amount::from_sat(99 * 50 * 100_000_000));

    let a2 = w2.new_address().await.unwrap();
    let psbt = w1
        .build_send(
            &a2,
            Amount::from_sat(10 * 100_000_000),
            FeeRate::from_sat_per_vb(2).unwrap(),
        )
        .await
        .unwrap();
    let fee = psbt.fee().unwrap();
    let tx = w1.sign_and_extract(psbt).unwrap();
    dev.node().submit(tx).unwrap();
    dev.node().mine(1, &burn()).unwrap();
    w1.sync(&mut source).await.unwrap();
    w2.sync(&mut source).await.unwrap();
    let expected = Amount::from_sat(150 * 100_000_000 - 10 * 100_000_000) - fee;
    assert_eq!(w1.balance().confirmed, expected);
    assert_eq!(
        w1.balance().immature,
        Amount::from_sat(98 * 50 * 100_000_000)
    );
    assert_eq!(w2.balance().confirmed, Amount::from_sat(10 * 100_000_000));
    let tip = w1.tip();
    let addrs = w1.revealed_addresses();
    drop(w1);
    let mut w1 = open_wallet(&store, "w1", 1).await;
    assert_eq!(w1.tip(), tip);
    assert_eq!(w1.revealed_addresses(), addrs);
    assert_eq!(w1.balance().confirmed, expected);
    let r = w1.sync(&mut source).await.unwrap();
    assert_eq!(r.blocks_applied, 0);
    println!("send fee {fee}, w1 confirmed {}", w1.balance().confirmed);
}

#[tokio::test]
async fn lock_psbt_signed_and_confirmed() {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use confiaro_protocol::btc::{TwoOfTwo, TxLock};
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut w = open_wallet(&store, "bob", 3).await;
    let a = w.new_address().await.unwrap();
    dev.node().mine(101, &a.script_pubkey()).unwrap();
    w.sync(&mut source).await.unwrap();
    let secp = Secp256k1::new();
    let key =
        |b: u8| bitcoin::PublicKey::new(SecretKey::from_slice(&[b; 32]).unwrap().public_key(&secp));
    let two = TwoOfTwo::new(key(7), key(8)).unwrap();
    let amount = Amount::from_sat(123_456_789);
    let lock = w
        .build_lock(
            two.clone(),
            amount,
            FeeRate::from_sat_per_vb(3).unwrap(),
            &[],
        )
        .await
        .unwrap();
    // The counterparty's check on the same PSBT.
    let checked = TxLock::from_psbt(lock.psbt().clone(), amount, two).unwrap();
    assert_eq!(checked.txid(), lock.txid());
    let tx = w.sign_lock(&lock).unwrap();
    assert_eq!(tx.compute_txid(), lock.txid());
    dev.node().submit(tx).unwrap();
    dev.node().mine(1, &a.script_pubkey()).unwrap();
    let (_, confs) = dev.node().get_tx(&lock.txid()).unwrap();
    assert_eq!(confs, Some(1));
    assert_eq!(
        dev.node().utxo(&lock.outpoint()).unwrap().txout.value,
        amount
    );
    w.sync(&mut source).await.unwrap();
    let expected = Amount::from_btc(150.0).unwrap() - amount - lock.fee();
    assert_eq!(w.balance().confirmed, expected);
}

/// Block `height`'s transactions after the coinbase.
fn block_txs(dev: &Devnet, height: u32) -> Vec<bitcoin::Txid> {
    dev.node().block_txids(height).expect("block")[1..].to_vec()
}

#[tokio::test]
async fn children_pay_for_a_waiting_transaction_and_for_a_keyed_anchor() {
    use confiaro_devnet::testkit::TestKey;
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut wallet = open_wallet(&store, "w", 3).await;
    let address = wallet.new_address().await.unwrap();
    dev.node().mine(101, &address.script_pubkey()).unwrap();
    wallet.sync(&mut source).await.unwrap();
    // miners now take 5 sat/vB at least
    dev.node().set_min_mining_fee_rate(5);

    // a parent at 1 sat/vB paying 1 BTC to the wallet itself
    let to_self = wallet.new_address().await.unwrap();
    let psbt = wallet
        .build_send(
            &to_self,
            Amount::from_btc(1.0).unwrap(),
            FeeRate::from_sat_per_vb(1).unwrap(),
        )
        .await
        .unwrap();
    let parent_fee = psbt.fee().unwrap();
    let parent = wallet.sign_and_extract(psbt).unwrap();
    let parent_txid = dev.node().submit(parent.clone()).unwrap();
    wallet.note_broadcast(parent.clone()).await.unwrap();
    let vout = parent
        .output
        .iter()
        .position(|o| o.script_pubkey == to_self.script_pubkey())
        .unwrap() as u32;
    dev.node().mine(1, &burn()).unwrap();
    assert_eq!(
        dev.node().mempool(),
        vec![parent_txid],
        "below the miners' minimum"
    );

    // a first child to 3 sat/vB is not enough: it waits with its parent
    let package = wallet.cpfp_package(&parent, vout, parent_fee).unwrap();
    assert_eq!((package.children.len(), package.rate_sat_per_vb()), (0, 1));
    let first = wallet.build_cpfp(&package, 3, None, &[]).unwrap();
    let first_txid = dev.node().submit(first.clone()).unwrap();
    wallet.note_broadcast(first).await.unwrap();
    dev.node().mine(1, &burn()).unwrap();
    assert_eq!(dev.node().mempool(), vec![parent_txid, first_txid]);

    // the next bump builds on the first child (found in the wallet after a reopen)
    drop(wallet);
    let mut wallet = open_wallet(&store, "w", 3).await;
    let package = wallet.cpfp_package(&parent, vout, parent_fee).unwrap();
    assert_eq!(package.children.len(), 1);
    assert_eq!(package.rate_sat_per_vb(), 3, "{package:?}");
    let second = wallet.build_cpfp(&package, 6, None, &[]).unwrap();
    let second_txid = dev.node().submit(second.clone()).unwrap();
    wallet.note_broadcast(second).await.unwrap();
    let package = wallet.cpfp_package(&parent, vout, parent_fee).unwrap();
    assert_eq!(package.children.len(), 2);
    assert!(package.rate_sat_per_vb() >= 6, "{package:?}");
    dev.node().mine(1, &burn()).unwrap();
    let tip = dev.node().tip_height();
    assert_eq!(
        block_txs(&dev, tip),
        vec![parent_txid, first_txid, second_txid]
    );

    // a waiting transaction with a 330 sat anchor to a key the wallet does not own
    wallet.sync(&mut source).await.unwrap();
    let anchor_key = TestKey::new(7);
    let anchor_address = anchor_key.address();
    let psbt = wallet
        .build_send(
            &anchor_address,
            Amount::from_sat(330),
            FeeRate::from_sat_per_vb(1).unwrap(),
        )
        .await
        .unwrap();
    let cancel_fee = psbt.fee().unwrap();
    let cancel = wallet.sign_and_extract(psbt).unwrap();
    let cancel_txid = dev.node().submit(cancel.clone()).unwrap();
    wallet.note_broadcast(cancel.clone()).await.unwrap();
    let anchor_vout = cancel
        .output
        .iter()
        .position(|o| o.script_pubkey == anchor_key.p2wpkh())
        .unwrap() as u32;
    let package = wallet
        .cpfp_package(&cancel, anchor_vout, cancel_fee)
        .unwrap();
    assert!(
        wallet.build_cpfp(&package, 6, None, &[]).is_err(),
        "a foreign output needs its signer"
    );
    let spent = package.next_output.clone();
    let sign = move |child: &bitcoin::Transaction, index: usize| {
        let mut signed = child.clone();
        anchor_key.sign_p2wpkh(&mut signed, index, &spent);
        Ok(signed.input[index].witness.clone())
    };
    let child = wallet.build_cpfp(&package, 6, Some(&sign), &[]).unwrap();
    assert!(child
        .input
        .iter()
        .any(|i| i.previous_output.vout == anchor_vout && i.previous_output.txid == cancel_txid));
    let child_txid = dev.node().submit(child).unwrap();
    dev.node().mine(1, &burn()).unwrap();
    let tip = dev.node().tip_height();
    assert_eq!(block_txs(&dev, tip), vec![cancel_txid, child_txid]);
}

#[tokio::test]
async fn a_waiting_transaction_from_a_foreign_output_is_paid_for_across_syncs() {
    use confiaro_devnet::testkit::TestKey;
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut wallet = open_wallet(&store, "w", 4).await;
    // a foreign coin (like the cancel's 2-of-2 output), spent to the wallet (like a refund)
    let foreign = TestKey::new(9);
    dev.node().mine(101, &foreign.p2wpkh()).unwrap();
    wallet.sync(&mut source).await.unwrap();
    let coinbase = {
        let node = dev.node();
        let txid = node.block_txids(1).unwrap()[0];
        node.get_tx(&txid).unwrap().0
    };
    let refund_address = wallet.new_address().await.unwrap();
    let refund = foreign.spend_to(
        bitcoin::OutPoint::new(coinbase.compute_txid(), 0),
        coinbase.output[0].value,
        refund_address.script_pubkey(),
        Amount::from_sat(200),
    );
    dev.node().set_min_mining_fee_rate(5);
    dev.node().submit(refund.clone()).unwrap();
    // the watcher syncs the wallet now and then, before and after the bump looks
    wallet.sync(&mut source).await.unwrap();
    let package = wallet
        .cpfp_package(&refund, 0, Amount::from_sat(200))
        .unwrap();
    wallet.sync(&mut source).await.unwrap();
    let package_again = wallet
        .cpfp_package(&refund, 0, Amount::from_sat(200))
        .unwrap();
    assert_eq!(package, package_again);
    wallet.sync(&mut source).await.unwrap();
    let child = wallet.build_cpfp(&package, 6, None, &[]).unwrap();
    wallet.note_broadcast(child.clone()).await.unwrap();
    dev.node().submit(child.clone()).unwrap();
    wallet.sync(&mut source).await.unwrap();
    assert_eq!(
        wallet
            .cpfp_package(&refund, 0, Amount::from_sat(200))
            .unwrap()
            .children,
        vec![child.clone()],
        "the child is still known after a sync"
    );
    dev.node().mine(1, &burn()).unwrap();
    let tip = dev.node().tip_height();
    assert_eq!(
        block_txs(&dev, tip),
        vec![refund.compute_txid(), child.compute_txid()]
    );
}
