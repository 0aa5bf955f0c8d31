//! Consensus tests of the devnet node: every block is validated by Bitcoin Core's consensus
//! library (libbitcoinkernel). Each test runs on its own node in its own temporary directory.
//!
//! The same suite is meant to run against a real Bitcoin Core when `BITCOIND_EXE` points at a
//! `bitcoind` binary. That backend is not implemented in this slice: each test prints a notice
//! saying so (or a skip notice when the variable is unset) and runs only the devnet backend.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, Secp256k1};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    absolute::LockTime, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxOut, Witness,
};
use confiaro_devnet::testkit::TestKey as Key;
use confiaro_devnet::{DevnetError, Node, RejectReason, COINBASE_MATURITY};
use confiaro_protocol::btc::{FundingInput, TwoOfTwo, TxCancel, TxLock};

/// Prints what happens to the bitcoind variant of `test`, honestly: it does not run.
fn bitcoind_variant(test: &str) {
    match std::env::var_os("BITCOIND_EXE") {
        Some(path) => println!(
            "[{test}] BITCOIND_EXE set ({}): running against bitcoind is not implemented in this slice",
            path.to_string_lossy()
        ),
        None => println!("[{test}] bitcoind variant skipped: BITCOIND_EXE is not set"),
    }
}

fn open_node() -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(dir.path()).expect("open node");
    (dir, node)
}

/// A signed P2WPKH spend of `outpoint` (worth `value`, paying to `key`) to `to`, minus `fee`.
fn spend(outpoint: OutPoint, value: Amount, key: &Key, to: ScriptBuf, fee: Amount) -> Transaction {
    key.spend_to(outpoint, value, to, fee)
}

/// Signs input `index` of `tx`, spending `spent` (a P2WPKH of `key`), with SIGHASH_ALL.
fn sign_p2wpkh(tx: &mut Transaction, index: usize, spent: &TxOut, key: &Key) {
    key.sign_p2wpkh(tx, index, spent);
}

/// The coinbase transaction of the block at `height`.
fn coinbase_of(node: &Node, height: u32) -> Transaction {
    let txid = node.block_txids(height).expect("block exists")[0];
    node.get_tx(&txid).expect("coinbase indexed").0
}

/// The first output of the coinbase of the block at `height`, and its value.
fn coinbase_outpoint(node: &Node, height: u32) -> (OutPoint, Amount) {
    let tx = coinbase_of(node, height);
    (OutPoint::new(tx.compute_txid(), 0), tx.output[0].value)
}

/// A node with 101 blocks mined to `key`: the coinbase of block 1 is spendable.
fn funded_node(key: &Key) -> (tempfile::TempDir, Node) {
    let (dir, mut node) = open_node();
    let hashes = node
        .mine(COINBASE_MATURITY + 1, &key.p2wpkh())
        .expect("mine");
    assert_eq!(hashes.len(), 101);
    assert_eq!(node.tip_height(), 101);
    assert_eq!(node.tip_hash(), node.kernel_tip_hash());
    (dir, node)
}

#[test]
fn mine_and_spend_a_mature_coinbase() {
    bitcoind_variant("mine_and_spend_a_mature_coinbase");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);

    let (outpoint, value) = coinbase_outpoint(&node, 1);
    assert!(node.utxo(&outpoint).is_some_and(|u| u.is_coinbase));
    let tx = spend(
        outpoint,
        value,
        &key,
        Key::new(2).p2wpkh(),
        Amount::from_sat(1_000),
    );
    let txid = node.submit(tx).expect("accepted");
    assert_eq!(node.mempool(), vec![txid]);
    assert_eq!(node.get_tx(&txid).map(|(_, c)| c), Some(None));

    node.mine(1, &key.p2wpkh()).expect("mine");
    assert!(node.mempool().is_empty());
    assert_eq!(node.get_tx(&txid).map(|(_, c)| c), Some(Some(1)));
    assert!(node.utxo(&outpoint).is_none());
    assert!(node.utxo(&OutPoint::new(txid, 0)).is_some());
    // The coinbase got the fee.
    let tip_coinbase = coinbase_of(&node, 102);
    assert_eq!(
        tip_coinbase.output[0].value,
        Amount::from_int_btc(50) + Amount::from_sat(1_000)
    );
    println!("spent mature coinbase {outpoint} in {txid}, confirmed at height 102");
}

#[test]
fn immature_coinbase_spend_is_rejected() {
    bitcoind_variant("immature_coinbase_spend_is_rejected");
    let key = Key::new(1);
    let (_dir, mut node) = open_node();
    // The coinbase of block 1 may be spent in block 101 at the earliest.
    node.mine(COINBASE_MATURITY - 1, &key.p2wpkh())
        .expect("mine");
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let tx = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    assert_eq!(
        node.submit(tx.clone()),
        Err(RejectReason::PrematureCoinbaseSpend)
    );
    node.mine(1, &key.p2wpkh()).expect("mine");
    node.submit(tx).expect("mature now");
}

#[test]
fn double_spend_is_rejected_in_mempool_and_after_confirmation() {
    bitcoind_variant("double_spend_is_rejected_in_mempool_and_after_confirmation");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let first = spend(
        outpoint,
        value,
        &key,
        Key::new(2).p2wpkh(),
        Amount::from_sat(1_000),
    );
    let second = spend(
        outpoint,
        value,
        &key,
        Key::new(3).p2wpkh(),
        Amount::from_sat(2_000),
    );
    node.submit(first).expect("first accepted");

    let in_mempool = node.submit(second.clone()).expect_err("double spend");
    println!("double spend while the first is in the mempool: {in_mempool}");
    assert_eq!(in_mempool.to_string(), "txn-mempool-conflict");

    node.mine(1, &key.p2wpkh()).expect("mine");
    let after = node.submit(second.clone()).expect_err("double spend");
    println!("double spend after the first confirmed: {after}");
    assert_eq!(after.to_string(), "bad-txns-inputs-missingorspent");

    // Our own block builder refuses to spend an output the chain no longer has.
    let err = node
        .mine_unchecked(vec![second], &key.p2wpkh())
        .expect_err("spent input");
    assert!(matches!(err, DevnetError::UnknownInput { .. }), "{err}");
}

#[test]
fn kernel_refuses_a_block_with_a_double_spend() {
    bitcoind_variant("kernel_refuses_a_block_with_a_double_spend");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let first = spend(
        outpoint,
        value,
        &key,
        Key::new(2).p2wpkh(),
        Amount::from_sat(1_000),
    );
    let second = spend(
        outpoint,
        value,
        &key,
        Key::new(3).p2wpkh(),
        Amount::from_sat(2_000),
    );
    let tip = node.tip_hash();
    let err = node
        .mine_unchecked(vec![first, second], &key.p2wpkh())
        .expect_err("kernel refuses a block spending one output twice");
    println!("kernel on a block with a double spend: {err}");
    assert!(matches!(err, DevnetError::BlockRejected { .. }), "{err}");
    assert_eq!(node.tip_hash(), tip);
    assert_eq!(node.kernel_tip_hash(), tip);
}

#[test]
fn invalid_signature_is_rejected_by_the_kernel_script_check() {
    bitcoind_variant("invalid_signature_is_rejected_by_the_kernel_script_check");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    // Signed by the wrong key, with the right public key in the witness.
    let mut tx = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    let wrong = Key::new(9);
    let secp = Secp256k1::new();
    let sighash = SighashCache::new(&tx)
        .p2wpkh_signature_hash(0, &key.p2wpkh(), value, EcdsaSighashType::All)
        .expect("sighash");
    let sig = secp.sign_ecdsa(
        &Message::from_digest(sighash.to_byte_array()),
        &wrong.secret,
    );
    tx.input[0].witness = Witness::p2wpkh(
        &bitcoin::ecdsa::Signature::sighash_all(sig),
        &key.public.inner,
    );

    let err = node.submit(tx.clone()).expect_err("bad signature");
    println!("invalid signature: {err}");
    assert_eq!(err.code(), "mandatory-script-verify-flag-failed");
    assert!(node.mempool().is_empty());

    let tip = node.tip_hash();
    let err = node
        .mine_unchecked(vec![tx], &key.p2wpkh())
        .expect_err("kernel refuses the block");
    println!("kernel on a block with the invalid signature: {err}");
    assert!(matches!(err, DevnetError::BlockRejected { .. }));
    assert_eq!(node.tip_hash(), tip);
}

#[test]
fn fee_and_locktime_rules() {
    bitcoind_variant("fee_and_locktime_rules");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);

    // Outputs above inputs.
    let mut tx = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    tx.output[0].value = value + Amount::from_sat(1);
    sign_p2wpkh(
        &mut tx,
        0,
        &TxOut {
            value,
            script_pubkey: key.p2wpkh(),
        },
        &key,
    );
    assert_eq!(node.submit(tx), Err(RejectReason::InBelowOut));

    // nLockTime = next block's height: valid only from the block after it (nLockTime < height).
    let mut tx = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    tx.lock_time = LockTime::from_height(node.tip_height() + 1).expect("height");
    sign_p2wpkh(
        &mut tx,
        0,
        &TxOut {
            value,
            script_pubkey: key.p2wpkh(),
        },
        &key,
    );
    assert_eq!(node.submit(tx.clone()), Err(RejectReason::NonFinal));
    node.mine(1, &key.p2wpkh()).expect("mine");
    node.submit(tx).expect("final in the next block");

    // An unknown input.
    let missing = OutPoint::new(bitcoin::Txid::all_zeros(), 7);
    let tx = spend(missing, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    assert_eq!(node.submit(tx), Err(RejectReason::InputsMissingOrSpent));
}

/// THE KEY TEST: the protocol's cancel transaction, with its BIP68 relative timelock, is
/// rejected one block early (by the mempool, and a block carrying it by the kernel) and
/// accepted exactly on time.
#[test]
fn protocol_cancel_is_bip68_final_exactly_on_time() {
    bitcoind_variant("protocol_cancel_is_bip68_final_exactly_on_time");
    const CANCEL_TIMELOCK: u16 = 5;
    let funder = Key::new(1);
    let alice = Key::new(0xa1);
    let bob = Key::new(0xb0);
    let (_dir, mut node) = funded_node(&funder);

    // Lock: the coinbase of block 1 -> 2-of-2(alice, bob) plus change.
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let two_of_two = TwoOfTwo::new(alice.public, bob.public).expect("2-of-2");
    let lock_amount = Amount::from_int_btc(1);
    let change = value - lock_amount - Amount::from_sat(2_000);
    let lock = TxLock::new(
        vec![FundingInput {
            outpoint,
            txout: TxOut {
                value,
                script_pubkey: funder.p2wpkh(),
            },
        }],
        lock_amount,
        two_of_two,
        Some((funder.p2wpkh(), change)),
    )
    .expect("lock");
    let mut psbt = lock.psbt().clone();
    let mut unsigned = psbt.unsigned_tx.clone();
    sign_p2wpkh(
        &mut unsigned,
        0,
        &TxOut {
            value,
            script_pubkey: funder.p2wpkh(),
        },
        &funder,
    );
    psbt.inputs[0].final_script_witness = Some(unsigned.input[0].witness.clone());
    let lock_tx = lock.complete(psbt).expect("signed lock");
    let lock_txid = node.submit(lock_tx).expect("lock accepted");
    node.mine(1, &funder.p2wpkh()).expect("mine");
    let lock_height = node.tip_height();
    assert_eq!(node.get_tx(&lock_txid).and_then(|(_, c)| c), Some(1));
    println!("lock {lock_txid} confirmed at height {lock_height}");

    // Cancel, fully signed by both parties.
    let cancel = TxCancel::new(&lock, CANCEL_TIMELOCK, Amount::from_sat(1_000)).expect("cancel");
    let secp = Secp256k1::new();
    let msg = Message::from_digest(cancel.sighash());
    let sig_a = secp.sign_ecdsa(&msg, &alice.secret);
    let sig_b = secp.sign_ecdsa(&msg, &bob.secret);
    let cancel_tx = cancel.complete(&sig_a, &sig_b).expect("signed cancel");

    // Valid from the block at lock_height + CANCEL_TIMELOCK: one block early, the next
    // block is lock_height + CANCEL_TIMELOCK - 1.
    let early_tip = lock_height + u32::from(CANCEL_TIMELOCK) - 2;
    node.mine(early_tip - node.tip_height(), &funder.p2wpkh())
        .expect("mine");
    let early = node.submit(cancel_tx.clone());
    println!(
        "BIP68 cancel_timelock={CANCEL_TIMELOCK}: one block early (tip {}, lock confirmations {}, next block {}): {}",
        node.tip_height(),
        node.tip_height() - lock_height + 1,
        node.tip_height() + 1,
        match &early {
            Ok(txid) => format!("ACCEPTED {txid}"),
            Err(reason) => format!("REJECTED {reason}"),
        }
    );
    assert_eq!(early, Err(RejectReason::NonBip68Final));

    // The kernel itself refuses a block carrying it one block early: the tip does not move.
    let tip = node.tip_hash();
    let kernel = node.mine_unchecked(vec![cancel_tx.clone()], &funder.p2wpkh());
    println!(
        "BIP68 cancel_timelock={CANCEL_TIMELOCK}: block at height {} with the early cancel, handed to the kernel: {}",
        node.tip_height() + 1,
        match &kernel {
            Ok(hash) => format!("ACCEPTED {hash}"),
            Err(err) => format!("REFUSED ({err})"),
        }
    );
    assert!(matches!(kernel, Err(DevnetError::BlockRejected { .. })));
    assert_eq!(node.tip_hash(), tip);
    assert_eq!(node.kernel_tip_hash(), tip);

    node.mine(1, &funder.p2wpkh()).expect("mine");
    let on_time = node.submit(cancel_tx);
    println!(
        "BIP68 cancel_timelock={CANCEL_TIMELOCK}: exactly on time (tip {}, lock confirmations {}, next block {}): {}",
        node.tip_height(),
        node.tip_height() - lock_height + 1,
        node.tip_height() + 1,
        match &on_time {
            Ok(txid) => format!("ACCEPTED {txid}"),
            Err(reason) => format!("REJECTED {reason}"),
        }
    );
    let cancel_txid = on_time.expect("cancel accepted on time");
    node.mine(1, &funder.p2wpkh()).expect("mine");
    assert_eq!(
        node.get_tx(&cancel_txid).and_then(|(_, c)| c),
        Some(1),
        "the kernel connected the block with the cancel"
    );
    assert_eq!(node.tip_height(), lock_height + u32::from(CANCEL_TIMELOCK));
    println!(
        "cancel {cancel_txid} confirmed at height {} (lock at {lock_height})",
        node.tip_height()
    );
}

#[test]
fn reopen_rebuilds_the_index_from_the_kernel() {
    bitcoind_variant("reopen_rebuilds_the_index_from_the_kernel");
    let key = Key::new(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (tip, spent_txid) = {
        let mut node = Node::open(dir.path()).expect("open");
        node.mine(101, &key.p2wpkh()).expect("mine");
        let (outpoint, value) = coinbase_outpoint(&node, 1);
        let tx = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(500));
        let txid = node.submit(tx).expect("accepted");
        node.mine(1, &key.p2wpkh()).expect("mine");
        (node.tip_hash(), txid)
    };
    let node = Node::open(dir.path()).expect("reopen");
    assert_eq!(node.tip_height(), 102);
    assert_eq!(node.tip_hash(), tip);
    assert_eq!(node.get_tx(&spent_txid).and_then(|(_, c)| c), Some(1));
    assert!(node.utxo(&OutPoint::new(spent_txid, 0)).is_some());
}

/// The node can move to another thread (e.g. an RPC server's).
#[test]
fn node_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Node>();
}

#[test]
fn several_nodes_in_one_process() {
    bitcoind_variant("several_nodes_in_one_process");
    let handles: Vec<_> = (0..3u8)
        .map(|i| {
            std::thread::spawn(move || {
                let key = Key::new(i + 1);
                let (_dir, mut node) = open_node();
                node.mine(20, &key.p2wpkh()).expect("mine");
                node.tip_height()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().expect("thread"), 20);
    }
}

#[test]
fn unconfirmed_parent_and_child_are_mined_together_in_order() {
    bitcoind_variant("unconfirmed_parent_and_child_are_mined_together_in_order");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let parent = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    let parent_out = OutPoint::new(parent.compute_txid(), 0);
    let parent_value = parent.output[0].value;
    let parent_txid = node.submit(parent).expect("parent");

    // A child with a one-block relative timelock on an unconfirmed parent is not final yet.
    let mut locked_child = spend(
        parent_out,
        parent_value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(1_000),
    );
    locked_child.input[0].sequence = Sequence::from_height(1);
    sign_p2wpkh(
        &mut locked_child,
        0,
        &TxOut {
            value: parent_value,
            script_pubkey: key.p2wpkh(),
        },
        &key,
    );
    assert_eq!(
        node.submit(locked_child.clone()),
        Err(RejectReason::NonBip68Final)
    );

    let child = spend(
        parent_out,
        parent_value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(1_000),
    );
    let child_txid = node.submit(child).expect("child of an unconfirmed parent");
    assert_eq!(node.mempool(), vec![parent_txid, child_txid]);
    node.mine(1, &key.p2wpkh()).expect("mine");
    let tip = node.tip_height();
    let txids = node.block_txids(tip).expect("tip block");
    assert_eq!(&txids[1..], &[parent_txid, child_txid]);
    // The locked child now conflicts with the confirmed child.
    assert_eq!(
        node.submit(locked_child),
        Err(RejectReason::InputsMissingOrSpent)
    );
}

#[test]
fn time_based_bip68_lock_follows_median_time_past() {
    bitcoind_variant("time_based_bip68_lock_follows_median_time_past");
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let parent = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    let parent_out = OutPoint::new(parent.compute_txid(), 0);
    let parent_value = parent.output[0].value;
    node.submit(parent).expect("parent");
    node.mine(1, &key.p2wpkh()).expect("mine");
    let coin_height = node.tip_height();
    // BIP68: the lock starts at the median time past of the block before the parent's.
    let coin_time = node.median_time_past(coin_height - 1);

    let mut child = spend(
        parent_out,
        parent_value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(1_000),
    );
    child.input[0].sequence = Sequence::from_512_second_intervals(1);
    sign_p2wpkh(
        &mut child,
        0,
        &TxOut {
            value: parent_value,
            script_pubkey: key.p2wpkh(),
        },
        &key,
    );

    // Stamp blocks 600 s ahead of the coin time (well within the kernel's two-hour limit)
    // and mine one block at a time until the median time past passes coin_time + 511.
    node.set_mock_time(Some(coin_time + 600));
    let mut kernel_checked = false;
    loop {
        let mtp = node.median_time_past(node.tip_height());
        let result = node.submit(child.clone());
        if mtp > coin_time + 511 {
            println!(
                "time-based BIP68 (512 s): tip MTP {mtp} > coin time {coin_time} + 511: {result:?}"
            );
            result.expect("final once the median time past has passed");
            break;
        }
        assert_eq!(result, Err(RejectReason::NonBip68Final), "MTP {mtp}");
        if !kernel_checked {
            let tip = node.tip_hash();
            let refused = node.mine_unchecked(vec![child.clone()], &key.p2wpkh());
            assert!(
                matches!(refused, Err(DevnetError::BlockRejected { .. })),
                "{refused:?}"
            );
            assert_eq!(node.kernel_tip_hash(), tip);
            kernel_checked = true;
        }
        node.mine(1, &key.p2wpkh()).expect("mine");
        assert!(
            node.tip_height() < coin_height + 20,
            "median time past never advanced"
        );
    }
    node.mine(1, &key.p2wpkh()).expect("mine");
    assert!(node.mempool().is_empty());
}

#[test]
fn reorg_returns_abandoned_transactions_to_the_mempool() {
    bitcoind_variant("reorg_returns_abandoned_transactions_to_the_mempool");
    let key = Key::new(1);
    let other = Key::new(2);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let tx = spend(
        outpoint,
        value,
        &key,
        other.p2wpkh(),
        Amount::from_sat(1_000),
    );
    let txid = node.submit(tx).expect("accepted");
    node.mine(2, &key.p2wpkh()).expect("mine");
    assert_eq!(node.get_tx(&txid).and_then(|(_, c)| c), Some(2));
    assert_eq!(
        node.script_history(&other.p2wpkh()),
        vec![(txid, Some(102))]
    );
    let old_tip = node.tip_hash();
    let old_102 = node.block_hash(102);

    // Replace blocks 102 and 103 with three empty ones: the kernel switches branches.
    let new = node.reorg(2, 3, &other.p2wpkh()).expect("reorg");
    assert_eq!(new.len(), 3);
    assert_eq!(node.tip_height(), 104);
    assert_eq!(node.tip_hash(), *new.last().unwrap());
    assert_eq!(node.kernel_tip_hash(), node.tip_hash());
    assert_ne!(node.tip_hash(), old_tip);
    assert_ne!(node.block_hash(102), old_102);
    assert_eq!(node.block_height(&old_tip), None);
    // The spend is unconfirmed again, its input unspent in the chain.
    assert_eq!(node.mempool(), vec![txid]);
    assert_eq!(node.get_tx(&txid).map(|(_, c)| c), Some(None));
    assert!(node.utxo(&outpoint).is_some());
    assert_eq!(
        node.script_history(&other.p2wpkh()).last(),
        Some(&(txid, None))
    );
    // Mined again on the new branch.
    node.mine(1, &key.p2wpkh()).expect("mine");
    assert_eq!(node.get_tx(&txid).and_then(|(_, c)| c), Some(1));
    // It can also be made to vanish: reorg it out and evict it.
    node.reorg(1, 2, &key.p2wpkh()).expect("reorg");
    assert!(node.evict(&txid));
    assert_eq!(node.get_tx(&txid), None);
    assert!(node
        .script_history(&other.p2wpkh())
        .iter()
        .all(|(t, _)| *t != txid));

    assert!(matches!(
        node.reorg(2, 2, &key.p2wpkh()),
        Err(DevnetError::BadReorg { .. })
    ));
    println!(
        "reorg: {old_tip} replaced; tip {} at {}",
        node.tip_hash(),
        node.tip_height()
    );
}

#[test]
fn a_transaction_below_the_mining_minimum_waits_until_a_child_pays_for_both() {
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let (other_outpoint, other_value) = coinbase_outpoint(&node, 2);
    // a parent at ~1 sat/vB and an unrelated transaction at ~10 sat/vB
    let parent = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(110));
    let parent_vsize = parent.vsize() as u64;
    let parent_out = OutPoint::new(parent.compute_txid(), 0);
    let parent_value = parent.output[0].value;
    let parent_txid = node.submit(parent).expect("parent");
    let rich = spend(
        other_outpoint,
        other_value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(1_100),
    );
    let rich_txid = node.submit(rich).expect("unrelated");
    assert_eq!(node.mempool_fee(&parent_txid), Some(Amount::from_sat(110)));

    node.set_min_mining_fee_rate(5);
    node.mine(1, &key.p2wpkh()).expect("mine");
    let tip = node.tip_height();
    assert_eq!(
        &node.block_txids(tip).unwrap()[1..],
        &[rich_txid],
        "only the rich one"
    );
    assert_eq!(node.mempool(), vec![parent_txid], "the cheap parent waits");

    // a child whose fee lifts the package (parent + child) to 6 sat/vB: both are mined
    let child_vsize = 110u64;
    let child_fee = 6 * (parent_vsize + child_vsize) - 110;
    let child = spend(
        parent_out,
        parent_value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(child_fee),
    );
    let child_txid = node.submit(child).expect("child");
    node.mine(1, &key.p2wpkh()).expect("mine");
    let tip = node.tip_height();
    assert_eq!(
        &node.block_txids(tip).unwrap()[1..],
        &[parent_txid, child_txid]
    );
    assert!(node.mempool().is_empty());
}

#[test]
fn a_deprioritised_transaction_is_held_until_its_package_makes_up_the_difference() {
    let key = Key::new(1);
    let (_dir, mut node) = funded_node(&key);
    let (outpoint, value) = coinbase_outpoint(&node, 1);
    let parent = spend(outpoint, value, &key, key.p2wpkh(), Amount::from_sat(1_000));
    let parent_out = OutPoint::new(parent.compute_txid(), 0);
    let parent_value = parent.output[0].value;
    // held before it arrives, as a test does with a transaction someone else publishes
    node.hold(parent.compute_txid());
    let parent_txid = node.submit(parent).expect("parent");
    node.mine(2, &key.p2wpkh()).expect("mine");
    assert_eq!(
        node.mempool(),
        vec![parent_txid],
        "held at a modified fee of -1 sat"
    );

    // a child paying 2 sat: the package's modified fee is 1 sat, mined at a minimum of 0
    let child = spend(
        parent_out,
        parent_value,
        &key,
        key.p2wpkh(),
        Amount::from_sat(2),
    );
    let child_txid = node.submit(child).expect("child");
    node.mine(1, &key.p2wpkh()).expect("mine");
    let tip = node.tip_height();
    assert_eq!(
        &node.block_txids(tip).unwrap()[1..],
        &[parent_txid, child_txid]
    );
}
