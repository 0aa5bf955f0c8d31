//! Confiaro's Bitcoin wallet.
//!
//! A [`Wallet`] is a `bdk_wallet` wallet with BIP84 (native segwit, P2WPKH) descriptors
//! derived from the app's BIP39 seed, whose state is persisted as BDK changesets through any
//! BDK [`AsyncWalletPersister`] (the app's is `confiaro_store::WalletPersister`). It learns
//! about the chain from a [`ChainSource`] (see [`chain`]), builds and signs sends, and builds
//! the swap's lock transaction as a PSBT that the protocol crate's
//! [`TxLock`](confiaro_protocol::btc::TxLock) validates.
//!
//! All amounts are [`bitcoin::Amount`] (integer satoshi).

pub mod chain;
pub mod fee;
pub mod psbt_file;
pub mod watch;

use bdk_wallet::chain::BlockId;
use bdk_wallet::{AsyncWalletPersister, KeychainKind, PersistedWallet, SignOptions};
use bitcoin::bip32::Xpriv;
use bitcoin::psbt::Psbt;
use bitcoin::{Address, Amount, FeeRate, Network, OutPoint, ScriptBuf, Transaction};
use confiaro_protocol::btc::{TwoOfTwo, TxError, TxLock};

pub use bdk_wallet::Balance;
pub use bip39::Mnemonic;
pub use chain::{
    BitcoindAuth, BitcoindSource, BlockUpdate, ChainSource, ChainUpdate, ElectrumSource,
    EsploraSource, SourceError, TlsTrust, TxStatus,
};

/// Errors of the wallet.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The persister failed to load or store the wallet's changesets.
    #[error("wallet store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The descriptors could not be derived from the seed, or BDK refused them.
    #[error("wallet descriptors: {0}")]
    Descriptor(String),
    /// The stored wallet does not match the seed or network it is opened with, or its
    /// changesets are incomplete.
    #[error("stored wallet does not load: {0}")]
    Load(String),
    /// The chain source failed (unreachable, bad answer, refused broadcast).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The chain source sent blocks that do not connect to the wallet's chain (a lying or
    /// confused source); nothing of that update was applied after the failing block.
    #[error("chain source sent block {height} that does not connect: {reason}")]
    InconsistentChain {
        /// The block's height.
        height: u32,
        /// BDK's reason.
        reason: String,
    },
    /// The transaction could not be built (insufficient funds, dust, ...).
    #[error("cannot build transaction: {0}")]
    CreateTx(#[from] bdk_wallet::error::CreateTxError),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(#[from] bdk_wallet::signer::SignerError),
    /// The PSBT is not fully signed by this wallet (an input it does not own, or one it
    /// cannot finalize).
    #[error("the PSBT is not fully signed by this wallet")]
    NotFullySigned,
    /// The lock transaction was refused by the protocol's template.
    #[error("lock transaction: {0}")]
    Lock(#[from] TxError),
    /// The address is for another network.
    #[error("address is not for {expected}")]
    WrongNetwork {
        /// The wallet's network.
        expected: Network,
    },
    /// A fee-bumping child cannot spend the output it was asked to (not ours, not in the
    /// transaction, or signed wrongly).
    #[error("cannot pay for the transaction: {0}")]
    Cpfp(String),
}

/// The unconfirmed transactions a fee-bumping child pays for: a waiting transaction and the
/// children this wallet already added on top of it (see [`Wallet::cpfp_package`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpfpPackage {
    /// Their fees together.
    pub fee: Amount,
    /// Their virtual sizes together.
    pub vsize: u64,
    /// The output the next child spends: the waiting transaction's own output when no child
    /// exists yet, otherwise the last child's output to this wallet.
    pub next: OutPoint,
    /// That output's value and script.
    pub next_output: bitcoin::TxOut,
    /// The children the wallet already added, first to last.
    pub children: Vec<Transaction>,
}

impl CpfpPackage {
    /// The package's fee rate in sat/vB, rounded down.
    pub fn rate_sat_per_vb(&self) -> u64 {
        self.fee.to_sat() / self.vsize.max(1)
    }
}

/// Signs the input of a fee-bumping child that spends an output the wallet does not own (a
/// keyed anchor): gets the child and the input's index, returns the input's witness.
pub type ForeignSigner<'a> =
    &'a (dyn Fn(&Transaction, usize) -> Result<bitcoin::Witness, String> + Sync);

/// Witness weight of a P2WPKH input with a maximal (73-byte) signature: item count, two
/// length bytes, the signature and the 33-byte key.
const P2WPKH_SATISFACTION_WEIGHT: bitcoin::Weight = bitcoin::Weight::from_wu(1 + 1 + 73 + 1 + 33);

/// Report of one [`Wallet::sync`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    /// Blocks applied (including replacements after a reorg).
    pub blocks_applied: usize,
    /// Mempool transactions offered to the wallet (relevant or not).
    pub mempool_seen: usize,
    /// The wallet's tip after the sync.
    pub tip: BlockId,
}

/// The app's Bitcoin wallet: BIP84 descriptors from a BIP39 seed, persisted through the
/// BDK persister `P`.
///
/// Every method that changes the wallet's state (addresses revealed, blocks and
/// transactions applied) persists it before returning `Ok`, so a wallet reopened with
/// [`Wallet::open`] comes back with the same addresses, transactions and balance.
#[derive(Debug)]
pub struct Wallet<P> {
    inner: PersistedWallet<P>,
    persister: P,
    network: Network,
}

/// What the wallet needs of its persister: BDK's async persister with an error that can be
/// carried in [`WalletError::Store`].
pub trait Persister: AsyncWalletPersister<Error = Self::Failure> + Send {
    /// The persister's error.
    type Failure: std::error::Error + Send + Sync + 'static;
}

impl<P> Persister for P
where
    P: AsyncWalletPersister + Send,
    P::Error: std::error::Error + Send + Sync + 'static,
{
    type Failure = P::Error;
}

fn store_error(e: impl std::error::Error + Send + Sync + 'static) -> WalletError {
    WalletError::Store(Box::new(e))
}

/// The BIP84 external and internal (change) descriptors, with private keys, for `seed`:
/// `wpkh(xprv/84'/c'/0'/0/*)` and `wpkh(xprv/84'/c'/0'/1/*)`, where the coin type `c` is 0 on
/// mainnet and 1 on every test network.
///
/// The returned strings contain the private key: never log them.
///
/// # Errors
///
/// [`WalletError::Descriptor`] if the master key cannot be derived from the seed.
pub fn bip84_descriptors(seed: &[u8], network: Network) -> Result<(String, String), WalletError> {
    let xprv =
        Xpriv::new_master(network, seed).map_err(|e| WalletError::Descriptor(e.to_string()))?;
    let coin = if network == Network::Bitcoin { 0 } else { 1 };
    Ok((
        format!("wpkh({xprv}/84'/{coin}'/0'/0/*)"),
        format!("wpkh({xprv}/84'/{coin}'/0'/1/*)"),
    ))
}

/// The first receive address (BIP84 external index 0) of the wallet of `mnemonic` (with BIP39
/// `passphrase`) on `network`, computed without a store: where to send the first coins to a
/// wallet that was just created. [`Wallet::new_address`] hands out the same address first.
///
/// # Errors
///
/// [`WalletError::Descriptor`] if the descriptors cannot be built.
pub fn first_address(
    mnemonic: &Mnemonic,
    passphrase: &str,
    network: Network,
) -> Result<Address, WalletError> {
    let (external, internal) = bip84_descriptors(&mnemonic.to_seed(passphrase), network)?;
    let wallet = bdk_wallet::Wallet::create(external, internal)
        .network(network)
        .create_wallet_no_persist()
        .map_err(|e| WalletError::Descriptor(e.to_string()))?;
    Ok(wallet.peek_address(KeychainKind::External, 0).address)
}

impl<P: Persister> Wallet<P> {
    /// Opens the wallet `persister` keeps for `mnemonic` (with BIP39 `passphrase`) on
    /// `network`: loads it from its stored changesets, or creates it (and persists the new
    /// wallet) if the persister has none.
    ///
    /// # Errors
    ///
    /// [`WalletError::Store`] if the store fails; [`WalletError::Descriptor`] if the
    /// descriptors cannot be built; [`WalletError::Load`] if the stored wallet belongs to
    /// another seed or network.
    pub async fn open(
        mut persister: P,
        mnemonic: &Mnemonic,
        passphrase: &str,
        network: Network,
    ) -> Result<Wallet<P>, WalletError> {
        let seed = mnemonic.to_seed(passphrase);
        let (external, internal) = bip84_descriptors(&seed, network)?;
        let loaded = bdk_wallet::Wallet::load()
            .descriptor(KeychainKind::External, Some(external.clone()))
            .descriptor(KeychainKind::Internal, Some(internal.clone()))
            .extract_keys()
            .check_network(network)
            .load_wallet_async(&mut persister)
            .await
            .map_err(|e| match e {
                bdk_wallet::LoadWithPersistError::Persist(e) => store_error(e),
                bdk_wallet::LoadWithPersistError::InvalidChangeSet(e) => {
                    WalletError::Load(e.to_string())
                }
            })?;
        let inner = match loaded {
            Some(inner) => inner,
            None => bdk_wallet::Wallet::create(external, internal)
                .network(network)
                .create_wallet_async(&mut persister)
                .await
                .map_err(|e| match e {
                    bdk_wallet::CreateWithPersistError::Persist(e) => store_error(e),
                    other => WalletError::Descriptor(other.to_string()),
                })?,
        };
        Ok(Wallet {
            inner,
            persister,
            network,
        })
    }

    /// Writes the wallet's staged changes (if any) through the persister.
    ///
    /// # Errors
    ///
    /// [`WalletError::Store`] if the persister fails; the changes stay staged and are
    /// retried by the next persisting call.
    pub async fn persist(&mut self) -> Result<(), WalletError> {
        self.inner
            .persist_async(&mut self.persister)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// The wallet's network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// A new receive address (the next unrevealed external index), persisted so the
    /// wallet keeps watching it after a restart.
    ///
    /// # Errors
    ///
    /// [`WalletError::Store`] if persisting fails.
    pub async fn new_address(&mut self) -> Result<Address, WalletError> {
        let info = self.inner.reveal_next_address(KeychainKind::External);
        self.persist().await?;
        Ok(info.address)
    }

    /// All revealed receive addresses, lowest index first.
    pub fn revealed_addresses(&self) -> Vec<Address> {
        match self.inner.derivation_index(KeychainKind::External) {
            Some(last) => (0..=last)
                .map(|i| self.inner.peek_address(KeychainKind::External, i).address)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The balance: confirmed (mature, spendable now), immature coinbase, and pending
    /// (unconfirmed; trusted when sent by this wallet).
    pub fn balance(&self) -> Balance {
        self.inner.balance()
    }

    /// The wallet's local chain tip (the last block it has applied).
    pub fn tip(&self) -> BlockId {
        self.inner.latest_checkpoint().block_id()
    }

    /// The underlying BDK wallet, for reading (transactions, UTXOs).
    pub fn bdk(&self) -> &bdk_wallet::Wallet {
        &self.inner
    }

    /// Brings the wallet up to `source`'s view and persists it: applies the source's update
    /// (new blocks in order, rolling back blocks above the fork point after a reorg, or a
    /// script scan's transactions and anchors), the mempool, and the evictions.
    ///
    /// The source does blocking I/O: in async code with a busy runtime, prefer running the
    /// whole sync on a blocking thread.
    ///
    /// # Errors
    ///
    /// [`WalletError::Source`] if the source fails (the wallet is unchanged);
    /// [`WalletError::InconsistentChain`] if the update does not connect to the wallet's
    /// chain (blocks before the failing one are applied and persisted);
    /// [`WalletError::Store`] if persisting fails.
    pub async fn sync<S: ChainSource + ?Sized>(
        &mut self,
        source: &mut S,
    ) -> Result<SyncReport, WalletError> {
        let update = source.update(&self.inner)?;
        let mut blocks_applied = 0;
        let mut mempool_seen = 0;
        let mut failure = None;
        match update {
            ChainUpdate::Blocks {
                blocks,
                mempool,
                evicted,
            } => {
                for b in &blocks {
                    if let Err(e) =
                        self.inner
                            .apply_block_connected_to(&b.block, b.height, b.connected_to)
                    {
                        failure = Some(WalletError::InconsistentChain {
                            height: b.height,
                            reason: e.to_string(),
                        });
                        break;
                    }
                    blocks_applied += 1;
                }
                if failure.is_none() {
                    mempool_seen = mempool.len();
                    self.inner.apply_unconfirmed_txs(mempool);
                    self.inner.apply_evicted_txs(evicted);
                }
            }
            ChainUpdate::Scan(update) => {
                let height = update
                    .chain
                    .as_ref()
                    .map_or(self.tip().height, |cp| cp.height());
                let before = self.tip();
                if let Err(e) = self.inner.apply_update(*update) {
                    failure = Some(WalletError::InconsistentChain {
                        height,
                        reason: e.to_string(),
                    });
                } else if self.tip() != before {
                    blocks_applied =
                        usize::try_from(self.tip().height.saturating_sub(before.height))
                            .unwrap_or(0)
                            .max(1);
                }
            }
        }
        self.persist().await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(SyncReport {
                blocks_applied,
                mempool_seen,
                tip: self.tip(),
            }),
        }
    }

    /// Builds an unsigned send of `amount` to `to` at `fee_rate`, with change to a new
    /// internal address; the PSBT has only `witness_utxo`s and version 2. The revealed
    /// change index is persisted.
    ///
    /// # Errors
    ///
    /// [`WalletError::WrongNetwork`] if `to` is for another network;
    /// [`WalletError::CreateTx`] if the wallet cannot fund it; [`WalletError::Store`].
    pub async fn build_send(
        &mut self,
        to: &Address,
        amount: Amount,
        fee_rate: FeeRate,
    ) -> Result<Psbt, WalletError> {
        self.build_withdrawal(to, Some(amount), fee_rate, &[]).await
    }

    /// Builds an unsigned send to `to` of `amount`, or of everything the wallet can spend
    /// (minus the fee) when `amount` is `None`, never spending the `reserved` outputs (coins
    /// promised to swaps). Same PSBT shape as [`Wallet::build_send`].
    ///
    /// # Errors
    ///
    /// [`WalletError::WrongNetwork`] if `to` is for another network;
    /// [`WalletError::CreateTx`] if the wallet cannot fund it; [`WalletError::Store`].
    pub async fn build_withdrawal(
        &mut self,
        to: &Address,
        amount: Option<Amount>,
        fee_rate: FeeRate,
        reserved: &[OutPoint],
    ) -> Result<Psbt, WalletError> {
        if !to.as_unchecked().is_valid_for_network(self.network) {
            return Err(WalletError::WrongNetwork {
                expected: self.network,
            });
        }
        match amount {
            Some(amount) => {
                self.build_to_script(to.script_pubkey(), amount, fee_rate, reserved)
                    .await
            }
            None => {
                let mut builder = self.inner.build_tx();
                builder
                    .drain_wallet()
                    .drain_to(to.script_pubkey())
                    .fee_rate(fee_rate)
                    .version(2)
                    .only_witness_utxo()
                    .unspendable(reserved.to_vec());
                let psbt = builder.finish()?;
                self.persist().await?;
                Ok(psbt)
            }
        }
    }

    async fn build_to_script(
        &mut self,
        script_pubkey: ScriptBuf,
        amount: Amount,
        fee_rate: FeeRate,
        reserved: &[OutPoint],
    ) -> Result<Psbt, WalletError> {
        let mut builder = self.inner.build_tx();
        builder
            .add_recipient(script_pubkey, amount)
            .fee_rate(fee_rate)
            .version(2)
            .only_witness_utxo()
            .unspendable(reserved.to_vec());
        let psbt = builder.finish()?;
        self.persist().await?;
        Ok(psbt)
    }

    /// Records `tx`, which this app just broadcast, as unconfirmed so that the balance and the
    /// next transactions built account for it before the next [`Wallet::sync`] sees it, and
    /// persists that.
    ///
    /// # Errors
    ///
    /// [`WalletError::Store`] if persisting fails.
    pub async fn note_broadcast(&mut self, tx: Transaction) -> Result<(), WalletError> {
        self.inner
            .apply_unconfirmed_txs([(std::sync::Arc::new(tx), chain::unix_now())]);
        self.persist().await
    }

    /// What waits unconfirmed at output `vout` of `parent` (paying `parent_fee`): `parent`
    /// itself and the chain of children this wallet already built on that output (each child
    /// spending the one before, found in the wallet's own transactions, so a restart finds
    /// them too). Records `parent` in the wallet (unpersisted) so its output can be spent.
    ///
    /// Call it each time before deciding on a bump, with the parent as published (signed).
    ///
    /// # Errors
    ///
    /// [`WalletError::Cpfp`] if `parent` has no output `vout`.
    pub fn cpfp_package(
        &mut self,
        parent: &Transaction,
        vout: u32,
        parent_fee: Amount,
    ) -> Result<CpfpPackage, WalletError> {
        let output = parent
            .output
            .get(usize::try_from(vout).unwrap_or(usize::MAX))
            .cloned()
            .ok_or_else(|| WalletError::Cpfp(format!("the transaction has no output {vout}")))?;
        let parent_txid = parent.compute_txid();
        // seen now: also undoes an eviction a sync may have recorded for it
        self.inner
            .apply_unconfirmed_txs([(std::sync::Arc::new(parent.clone()), chain::unix_now())]);
        // a foreign output (an anchor) must be known for fees of its children to be computed
        self.inner
            .insert_txout(OutPoint::new(parent_txid, vout), output.clone());
        let mut package = CpfpPackage {
            fee: parent_fee,
            vsize: u64::try_from(parent.vsize()).unwrap_or(u64::MAX),
            next: OutPoint::new(parent_txid, vout),
            next_output: output,
            children: Vec::new(),
        };
        while let Some(child) = self.unconfirmed_spend_of(package.next) {
            let Some((vout, out)) = child
                .output
                .iter()
                .enumerate()
                .find(|(_, o)| self.inner.is_mine(o.script_pubkey.clone()))
            else {
                break;
            };
            let fee = self
                .inner
                .calculate_fee(&child)
                .map_err(|e| WalletError::Cpfp(format!("the fee of an earlier child: {e}")))?;
            package.fee += fee;
            package.vsize += u64::try_from(child.vsize()).unwrap_or(u64::MAX);
            package.next = OutPoint::new(child.compute_txid(), u32::try_from(vout).unwrap_or(0));
            package.next_output = out.clone();
            package.children.push(child.clone());
        }
        Ok(package)
    }

    /// The unconfirmed transaction of this wallet (canonical: not replaced) spending
    /// `outpoint`, if any.
    fn unconfirmed_spend_of(&self, outpoint: OutPoint) -> Option<Transaction> {
        self.inner
            .transactions()
            .filter(|t| !t.chain_position.is_confirmed())
            .find(|t| {
                t.tx_node
                    .tx
                    .input
                    .iter()
                    .any(|i| i.previous_output == outpoint)
            })
            .map(|t| (*t.tx_node.tx).clone())
    }

    /// Builds and signs a child that spends `package.next` and pays enough for the whole
    /// package to reach `target_sat_per_vb` ([`cpfp_child_fee`]), adding wallet coins if
    /// that output alone cannot pay, with its change to this wallet. `sign_foreign` signs
    /// the spent output when the wallet does not own it (a keyed anchor): it gets the child
    /// and the input's index and returns the witness. `reserved` coins are never spent.
    ///
    /// The child is not broadcast or recorded: record it with [`Wallet::note_broadcast`]
    /// before broadcasting it, so the next [`Wallet::cpfp_package`] builds on it even when
    /// the broadcast's answer is lost (re-broadcast the package's children each time, and
    /// [`Wallet::forget`] one that nodes refuse for good).
    ///
    /// # Errors
    ///
    /// [`WalletError::CreateTx`] if the wallet cannot fund the fee; [`WalletError::Cpfp`] if
    /// the output is foreign and no signer is given, or the signer fails;
    /// [`WalletError::Sign`]/[`WalletError::NotFullySigned`] as [`Wallet::sign`].
    ///
    /// [`cpfp_child_fee`]: confiaro_protocol::btc::cpfp_child_fee
    pub fn build_cpfp(
        &mut self,
        package: &CpfpPackage,
        target_sat_per_vb: u64,
        sign_foreign: Option<ForeignSigner<'_>>,
        reserved: &[OutPoint],
    ) -> Result<Transaction, WalletError> {
        let foreign = !self
            .inner
            .is_mine(package.next_output.script_pubkey.clone());
        if foreign && sign_foreign.is_none() {
            return Err(WalletError::Cpfp(
                "the output is not the wallet's and nobody can sign it".into(),
            ));
        }
        let change = self
            .inner
            .next_unused_address(KeychainKind::Internal)
            .script_pubkey();
        // Build at the target rate first to learn the child's size, then at the fee that
        // lifts the package; another round covers an input added for the larger fee.
        let mut fee = None;
        let mut rounds = 0;
        let mut psbt = loop {
            let built =
                self.cpfp_psbt(package, foreign, &change, fee, target_sat_per_vb, reserved)?;
            let inputs = u64::try_from(built.unsigned_tx.input.len()).unwrap_or(u64::MAX);
            let weight = built.unsigned_tx.weight().to_wu()
                + 2 // segwit marker and flag
                + inputs * P2WPKH_SATISFACTION_WEIGHT.to_wu();
            let needed = confiaro_protocol::btc::cpfp_child_fee(
                target_sat_per_vb,
                package.fee,
                package.vsize,
                weight.div_ceil(4),
            );
            rounds += 1;
            if fee.is_some_and(|fee| fee >= needed) || rounds == 4 {
                break built;
            }
            self.inner.cancel_tx(&built.unsigned_tx);
            fee = Some(needed);
        };
        if let (true, Some(sign)) = (foreign, sign_foreign) {
            let index = psbt
                .unsigned_tx
                .input
                .iter()
                .position(|i| i.previous_output == package.next)
                .ok_or_else(|| WalletError::Cpfp("the child lost its input".into()))?;
            let witness = sign(&psbt.unsigned_tx, index).map_err(WalletError::Cpfp)?;
            psbt.inputs[index].final_script_witness = Some(witness);
        }
        self.sign_and_extract(psbt)
    }

    /// The unsigned child of [`Wallet::build_cpfp`]: spends `package.next` (as a foreign
    /// input when `foreign`), plus wallet coins as needed, all change to `change`, paying
    /// `fee`, or the target rate when `None`.
    fn cpfp_psbt(
        &mut self,
        package: &CpfpPackage,
        foreign: bool,
        change: &ScriptBuf,
        fee: Option<Amount>,
        target_sat_per_vb: u64,
        reserved: &[OutPoint],
    ) -> Result<Psbt, WalletError> {
        let mut builder = self.inner.build_tx();
        if foreign {
            let input = bitcoin::psbt::Input {
                witness_utxo: Some(package.next_output.clone()),
                ..Default::default()
            };
            builder
                .add_foreign_utxo(package.next, input, P2WPKH_SATISFACTION_WEIGHT)
                .map_err(|e| WalletError::Cpfp(e.to_string()))?;
        } else {
            builder
                .add_utxo(package.next)
                .map_err(|e| WalletError::Cpfp(e.to_string()))?;
        }
        builder
            .drain_to(change.clone())
            .version(2)
            .only_witness_utxo()
            .unspendable(reserved.to_vec());
        match fee {
            Some(fee) => builder.fee_absolute(fee),
            None => builder.fee_rate(
                FeeRate::from_sat_per_vb(target_sat_per_vb).unwrap_or(FeeRate::BROADCAST_MIN),
            ),
        };
        Ok(builder.finish()?)
    }

    /// Drops `tx`, which this wallet recorded but nodes refuse for good (its inputs are
    /// spent elsewhere), from the wallet's unconfirmed transactions, and persists that.
    ///
    /// # Errors
    ///
    /// [`WalletError::Store`] if persisting fails.
    pub async fn forget(&mut self, tx: &Transaction) -> Result<(), WalletError> {
        self.inner
            .apply_evicted_txs([(tx.compute_txid(), chain::unix_now())]);
        self.persist().await
    }

    /// Signs and finalizes every input of `psbt` this wallet owns.
    ///
    /// # Errors
    ///
    /// [`WalletError::Sign`] if a signer fails; [`WalletError::NotFullySigned`] if some
    /// input is still not finalized (not ours, or missing data).
    pub fn sign(&self, psbt: &mut Psbt) -> Result<(), WalletError> {
        // Our PSBTs carry only `witness_utxo`s (the lock template requires them); BIP143 commits
        // to the spent value, so a lying value only invalidates the signature.
        let options = SignOptions {
            trust_witness_utxo: true,
            ..SignOptions::default()
        };
        let finalized = self.inner.sign(psbt, options)?;
        if finalized {
            Ok(())
        } else {
            Err(WalletError::NotFullySigned)
        }
    }

    /// Signs `psbt` and extracts the final transaction.
    ///
    /// # Errors
    ///
    /// As [`Wallet::sign`].
    pub fn sign_and_extract(&self, mut psbt: Psbt) -> Result<Transaction, WalletError> {
        self.sign(&mut psbt)?;
        Ok(psbt.extract_tx_unchecked_fee_rate())
    }

    /// Builds the swap's lock transaction: a PSBT paying exactly `amount` to `two_of_two`,
    /// funded by this wallet at `fee_rate` with change back to it, validated by
    /// [`TxLock::from_psbt`]. Sign it with [`Wallet::sign_lock`] (or export the PSBT).
    ///
    /// `reserved` are outputs the wallet must not spend: the inputs of other swaps' lock
    /// PSBTs that are agreed but not yet published (the wallet does not know about them, so
    /// without this two concurrent swaps could pick the same coins).
    ///
    /// # Errors
    ///
    /// [`WalletError::CreateTx`] if the wallet cannot fund it; [`WalletError::Lock`] if the
    /// protocol's template refuses it; [`WalletError::Store`].
    pub async fn build_lock(
        &mut self,
        two_of_two: TwoOfTwo,
        amount: Amount,
        fee_rate: FeeRate,
        reserved: &[OutPoint],
    ) -> Result<TxLock, WalletError> {
        let psbt = self
            .build_to_script(two_of_two.script_pubkey(), amount, fee_rate, reserved)
            .await?;
        Ok(TxLock::from_psbt(psbt, amount, two_of_two)?)
    }

    /// Signs `lock`'s PSBT with this wallet and returns the complete lock transaction
    /// (same txid as [`TxLock::txid`]), ready to broadcast.
    ///
    /// # Errors
    ///
    /// As [`Wallet::sign`]; [`WalletError::Lock`] if [`TxLock::complete`] refuses the result.
    pub fn sign_lock(&self, lock: &TxLock) -> Result<Transaction, WalletError> {
        let mut psbt = lock.psbt().clone();
        self.sign(&mut psbt)?;
        Ok(lock.complete(psbt)?)
    }
}
