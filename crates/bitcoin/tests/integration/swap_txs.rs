//! The protocol crate's transactions on a real chain, broadcast through the wallet's
//! bitcoind source to the devnet node: each is accepted exactly when the protocol allows it,
//! and a premature or conflicting one is refused with Bitcoin Core's reject reason.

use bitcoin::secp256k1::{Message, Secp256k1};
use bitcoin::{Amount, FeeRate, Transaction};
use confiaro_bitcoin::{BitcoindSource, ChainSource, SourceError, TxStatus};
use confiaro_devnet::testkit::TestKey;
use confiaro_protocol::btc::{
    TwoOfTwo, TxCancel, TxEarlyRefund, TxLock, TxPunish, TxRedeem, TxRefund,
};
use confiaro_testkit::btc::{wallet, Devnet, StoreWallet};

/// Regtest's timelocks (`confiaro_protocol::network`): cancel 12 blocks after the lock
/// confirms, punish 6 blocks after the cancel confirms.
const CANCEL_TIMELOCK: u16 = 12;
const PUNISH_TIMELOCK: u16 = 6;
const FEE: Amount = Amount::from_sat(2_000);

type Sig = bitcoin::secp256k1::ecdsa::Signature;

fn sign(sighash: [u8; 32], p: &TestKey) -> bitcoin::secp256k1::ecdsa::Signature {
    Secp256k1::new().sign_ecdsa(&Message::from_digest(sighash), &p.secret)
}

struct Swap {
    alice: TestKey,
    bob: TestKey,
    lock: TxLock,
    cancel: TxCancel,
}

impl Swap {
    fn signed<T>(&self, sighash: [u8; 32], complete: impl Fn(&Sig, &Sig) -> T) -> T {
        complete(&sign(sighash, &self.alice), &sign(sighash, &self.bob))
    }
    fn cancel_tx(&self) -> Transaction {
        self.signed(self.cancel.sighash(), |a, b| self.cancel.complete(a, b))
            .expect("cancel")
    }
    fn redeem_tx(&self) -> Transaction {
        let redeem = TxRedeem::new(&self.lock, &self.alice.p2wpkh(), FEE).expect("redeem");
        self.signed(redeem.sighash(), |a, b| redeem.complete(a, b))
            .expect("redeem")
    }
    fn early_refund_tx(&self) -> Transaction {
        let early = TxEarlyRefund::new(&self.lock, &self.bob.p2wpkh(), FEE).expect("early");
        self.signed(early.sighash(), |a, b| early.complete(a, b))
            .expect("early refund")
    }
    fn refund_tx(&self) -> Transaction {
        let refund = TxRefund::new(&self.cancel, &self.bob.p2wpkh(), FEE).expect("refund");
        self.signed(refund.sighash(), |a, b| refund.complete(a, b))
            .expect("refund")
    }
    fn punish_tx(&self) -> Transaction {
        let punish = TxPunish::new(&self.cancel, &self.alice.p2wpkh(), PUNISH_TIMELOCK, FEE)
            .expect("punish");
        self.signed(punish.sighash(), |a, b| punish.complete(a, b))
            .expect("punish")
    }
}

/// Bob's wallet locks 1 BTC to a fresh 2-of-2 (keys `n`, `n + 1`), broadcast through the
/// source and confirmed.
async fn locked_swap(
    dev: &Devnet,
    source: &mut BitcoindSource,
    bob_wallet: &mut StoreWallet,
    n: u8,
) -> Swap {
    let alice = TestKey::new(n);
    let bob = TestKey::new(n + 1);
    let two = TwoOfTwo::new(alice.public, bob.public).expect("2-of-2");
    bob_wallet.sync(source).await.expect("sync");
    let lock = bob_wallet
        .build_lock(two, Amount::ONE_BTC, FeeRate::from_sat_per_vb_u32(2), &[])
        .await
        .expect("build lock");
    let tx = bob_wallet.sign_lock(&lock).expect("sign lock");
    source.broadcast(&tx).expect("lock accepted");
    dev.mine_empty(1);
    let status = source
        .tx_status(&lock.txid(), &lock.two_of_two().script_pubkey())
        .expect("status");
    assert!(matches!(status, TxStatus::Confirmed { .. }));
    let cancel = TxCancel::new(&lock, CANCEL_TIMELOCK, FEE).expect("cancel");
    Swap {
        alice,
        bob,
        lock,
        cancel,
    }
}

fn rejected(result: Result<bitcoin::Txid, SourceError>, code: &str) -> String {
    match result {
        Err(SourceError::Rejected { reason }) => {
            assert!(reason.contains(code), "expected {code}, got {reason}");
            reason
        }
        other => panic!("expected a rejection with {code}, got {other:?}"),
    }
}

/// Mines until the next block is the first in which a relative timelock of `blocks` from
/// a transaction confirmed at `confirmed_at` is satisfied, minus `early` blocks.
fn mine_until_timelock(dev: &Devnet, confirmed_at: u32, blocks: u16, early: u32) {
    // Valid in the block at height confirmed_at + blocks.
    let target_tip = confirmed_at + u32::from(blocks) - 1 - early;
    let tip = dev.node().tip_height();
    if target_tip > tip {
        dev.mine_empty(target_tip - tip);
    }
}

#[tokio::test]
async fn protocol_transactions_are_accepted_only_in_protocol_order() {
    let dev = Devnet::start();
    let mut source = dev.bitcoind();
    let store = dev.store().await;
    let mut bob_wallet = wallet(&store, "bob", 7).await;
    let funding = bob_wallet.new_address().await.expect("address");
    dev.mine(110, &funding.script_pubkey());

    // 1. Happy path: the redeem spends the lock at once; a cancel after it is a double spend.
    let swap = locked_swap(&dev, &mut source, &mut bob_wallet, 10).await;
    let redeem = swap.redeem_tx();
    assert_eq!(
        source.broadcast(&redeem).expect("redeem"),
        redeem.compute_txid()
    );
    // Broadcasting the same transaction again is not an error.
    assert_eq!(
        source.broadcast(&redeem).expect("again"),
        redeem.compute_txid()
    );
    let reason = rejected(source.broadcast(&swap.cancel_tx()), "txn-mempool-conflict");
    println!("cancel after redeem (in mempool): {reason}");
    dev.mine_empty(1);
    let reason = rejected(
        source.broadcast(&swap.early_refund_tx()),
        "bad-txns-inputs-missingorspent",
    );
    println!("early refund after redeem (confirmed): {reason}");

    // 2. Early refund: Alice never locked XMR; Bob gets his BTC back before any timelock.
    let swap = locked_swap(&dev, &mut source, &mut bob_wallet, 20).await;
    source
        .broadcast(&swap.early_refund_tx())
        .expect("early refund");
    dev.mine_empty(1);
    rejected(
        source.broadcast(&swap.redeem_tx()),
        "bad-txns-inputs-missingorspent",
    );

    // 3. Cancel then refund: the cancel is refused one block early, accepted on time; the
    //    punish is refused before its own timelock; the refund is accepted at once; a punish
    //    after it is a double spend.
    let swap = locked_swap(&dev, &mut source, &mut bob_wallet, 30).await;
    let lock_height = dev.node().tip_height();
    rejected(source.broadcast(&swap.cancel_tx()), "non-BIP68-final");
    mine_until_timelock(&dev, lock_height, CANCEL_TIMELOCK, 1);
    let reason = rejected(source.broadcast(&swap.cancel_tx()), "non-BIP68-final");
    println!(
        "cancel one block early: {}",
        SourceError::Rejected { reason }
    );
    dev.mine_empty(1);
    source.broadcast(&swap.cancel_tx()).expect("cancel on time");
    dev.mine_empty(1);
    let cancel_height = dev.node().tip_height();
    rejected(source.broadcast(&swap.punish_tx()), "non-BIP68-final");
    // The redeem can no longer happen: the lock output is spent by the cancel.
    rejected(
        source.broadcast(&swap.redeem_tx()),
        "bad-txns-inputs-missingorspent",
    );
    source.broadcast(&swap.refund_tx()).expect("refund");
    dev.mine_empty(1);
    mine_until_timelock(&dev, cancel_height, PUNISH_TIMELOCK, 0);
    rejected(
        source.broadcast(&swap.punish_tx()),
        "bad-txns-inputs-missingorspent",
    );

    // 4. Cancel then punish: Bob vanished; Alice punishes exactly when the punish timelock
    //    allows, not one block before.
    let swap = locked_swap(&dev, &mut source, &mut bob_wallet, 40).await;
    let lock_height = dev.node().tip_height();
    mine_until_timelock(&dev, lock_height, CANCEL_TIMELOCK, 0);
    source.broadcast(&swap.cancel_tx()).expect("cancel");
    dev.mine_empty(1);
    let cancel_height = dev.node().tip_height();
    mine_until_timelock(&dev, cancel_height, PUNISH_TIMELOCK, 1);
    rejected(source.broadcast(&swap.punish_tx()), "non-BIP68-final");
    dev.mine_empty(1);
    let punish = swap.punish_tx();
    source.broadcast(&punish).expect("punish on time");
    dev.mine_empty(1);
    let status = source
        .tx_status(&punish.compute_txid(), &swap.alice.p2wpkh())
        .expect("status");
    assert_eq!(status.confirmations(dev.node().tip_height()), 1);
    rejected(
        source.broadcast(&swap.refund_tx()),
        "bad-txns-inputs-missingorspent",
    );

    // Bob's wallet paid exactly four locks and their fees (the 2-of-2 spends are not its).
    bob_wallet.sync(&mut source).await.expect("sync");
    let balance = bob_wallet.balance();
    let lock_fees: Amount = bob_wallet
        .bdk()
        .transactions()
        .filter(|t| !t.tx_node.tx.is_coinbase())
        .map(|t| bob_wallet.bdk().calculate_fee(&t.tx_node.tx).expect("fee"))
        .sum();
    assert_eq!(
        balance.confirmed + balance.immature,
        Amount::from_int_btc(110 * 50) - Amount::from_int_btc(4) - lock_fees
    );
    println!("bob's wallet after four swaps: {balance:?}, lock fees {lock_fees}");
}
