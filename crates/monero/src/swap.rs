//! The swap's Monero operations, as the orchestrator calls them.
//!
//! - Alice: [`prepare_lock`] builds and signs the transfer of the agreed amount to the lock
//!   address without publishing it; the caller persists the [`PreparedLock`], then
//!   [`publish_lock`] relays it (idempotent: it is safe to call again after a crash). The
//!   [`TransferProof`] she sends Bob is [`PreparedLock::proof`]. ([`lock`] sends at once,
//!   for callers that keep no state.)
//! - Bob: [`verify_transfer`] checks that proof against the lock address with the daemon:
//!   exact amount and confirmations, as a typed [`TransferVerdict`].
//! - The winner (Bob after the redeem, Alice after a refund): [`sweep`] restores a wallet
//!   from the combined spend key and the shared view key *at the lock height* and sends
//!   everything to a destination once it is unlocked; calling it again finds nothing and
//!   says so.
//! - Makers: [`prove_reserves`] and [`check_reserves`].

use std::time::{Duration, Instant};

use confiaro_protocol::XmrAmount;
use monero::{Address, PrivateKey};

use crate::rpc::{is_hex32, DaemonClient, WalletClient};
use crate::{MoneroError, SPENDABLE_AGE};

pub use crate::rpc::TxPresence;

/// What Alice sends Bob after locking: enough for him to check the lock with the view key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferProof {
    /// The lock transaction's hash (hex).
    pub tx_hash: String,
    /// Its transaction key (hex); proves what it paid to an address. Not a spend key.
    pub tx_key: String,
}

/// Alice's lock, built and signed by her wallet but not yet relayed: what the caller
/// persists between [`prepare_lock`] and [`publish_lock`], so that a crash in between
/// neither pays twice nor loses the transaction key.
///
/// It holds the transaction key, a secret for privacy (with it anyone can tell what the
/// transaction paid to an address), and the wallet's metadata, which contains the signed
/// transaction: `Debug` leaves both out; never log them.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreparedLock {
    /// The lock transaction's hash (hex).
    pub tx_hash: String,
    /// Its transaction key (hex).
    pub tx_key: String,
    /// The wallet's serialized pending transaction (hex), which [`publish_lock`] relays.
    pub tx_metadata: String,
    /// The amount it sends to the lock address.
    pub amount: XmrAmount,
    /// The fee it pays.
    pub fee: XmrAmount,
    /// The daemon's height when it was prepared: the transaction is mined at this height
    /// or later, so a sweep of the lock address restores from here.
    pub height: u64,
}

impl PreparedLock {
    /// What Alice sends Bob once it is published.
    pub fn proof(&self) -> TransferProof {
        TransferProof {
            tx_hash: self.tx_hash.clone(),
            tx_key: self.tx_key.clone(),
        }
    }
}

impl std::fmt::Debug for PreparedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedLock")
            .field("tx_hash", &self.tx_hash)
            .field("tx_key", &"<redacted>")
            .field("tx_metadata", &"<redacted>")
            .field("amount", &self.amount)
            .field("fee", &self.fee)
            .field("height", &self.height)
            .finish()
    }
}

/// Alice's lock, first step: builds and signs the transfer of exactly `amount` from the
/// open wallet of `wallet` to `lock_address` without relaying it, and notes the daemon's
/// height. Nothing is published: persist the result, then call [`publish_lock`].
///
/// Before building, the wallet scans new blocks and asks the daemon which of its outputs
/// are spent (`rescan_spent`, skipped when the daemon is not trusted). Within one wallet
/// RPC session the wallet marks a lock's inputs as spent as soon as [`publish_lock`]
/// relayed it; but if the wallet RPC was killed before it saved that, the reopened wallet
/// sees the lock in the daemon's pool without marking its inputs spent (until it is
/// mined), and would pick them again. The rescan closes that gap.
///
/// A prepared transfer reserves nothing: two prepares with no publish in between may spend
/// the same outputs, and then only one can ever be published. Callers serialize: publish
/// every persisted [`PreparedLock`] (or give it up for good) before preparing the next.
///
/// # Errors
///
/// The wallet RPC's error (not enough unlocked balance, ...), a transport error, or
/// [`MoneroError::InvalidAnswer`] if the wallet built a transfer of another amount.
pub async fn prepare_lock(
    wallet: &WalletClient,
    daemon: &DaemonClient,
    lock_address: &Address,
    amount: XmrAmount,
) -> Result<PreparedLock, MoneroError> {
    let height = daemon.height().await?;
    wallet.refresh().await?;
    match wallet.rescan_spent().await {
        Ok(()) => {}
        // The user's own wallet RPC on an untrusted daemon: the gap above stays open, but
        // it can only make a later publish fail, never pay twice.
        Err(MoneroError::Rpc { message, .. }) if message.contains("trusted daemon") => {}
        Err(e) => return Err(e),
    }
    let transfer = wallet.transfer_unrelayed(lock_address, amount).await?;
    if transfer.amount != amount || !is_hex32(&transfer.tx_hash) || !is_hex32(&transfer.tx_key) {
        return Err(MoneroError::InvalidAnswer {
            what: "monero-wallet-rpc",
            method: "transfer".into(),
            reason: format!(
                "asked for a transfer of {} piconero, got {} piconero in {}",
                amount.as_piconero(),
                transfer.amount.as_piconero(),
                transfer.tx_hash
            ),
        });
    }
    Ok(PreparedLock {
        tx_hash: transfer.tx_hash,
        tx_key: transfer.tx_key,
        tx_metadata: transfer.tx_metadata,
        amount: transfer.amount,
        fee: transfer.fee,
        height,
    })
}

/// Alice's lock, second step: publishes `lock` and returns where the daemon has it.
/// Idempotent, so it is the one thing to do with a persisted [`PreparedLock`] after a
/// restart, whatever happened before the crash:
///
/// - if the daemon already has the transaction (pool or chain), it returns that without
///   relaying;
/// - otherwise the wallet scans new blocks (after a restart it must know the outputs the
///   transfer spends) and relays it (`relay_tx`), which also marks those outputs as spent
///   in the wallet;
/// - if the relay fails (already known, a double spend of itself, a lost answer), the
///   daemon decides: when it has the transaction, that is a success.
///
/// [`TxPresence::NotFound`] after a successful relay means the daemon dropped the
/// transaction or has not got it yet (a wallet RPC on another daemon); calling again is
/// safe.
///
/// # Errors
///
/// The relay's error when the daemon does not have the transaction afterwards: it was not
/// published, and calling again is safe. A "Failed to commit tx." that persists means the
/// daemon rejects it, e.g. because another transaction spent its outputs: it can then
/// never be published, and a new lock must be prepared. Also the daemon's and wallet's
/// transport errors, and [`MoneroError::InvalidAnswer`] if the metadata is of another
/// transaction than `lock.tx_hash`.
pub async fn publish_lock(
    wallet: &WalletClient,
    daemon: &DaemonClient,
    lock: &PreparedLock,
) -> Result<TxPresence, MoneroError> {
    let presence = daemon.tx_presence(&lock.tx_hash).await?;
    if presence != TxPresence::NotFound {
        return Ok(presence);
    }
    wallet.refresh().await?;
    match wallet.relay_tx(&lock.tx_metadata).await {
        Ok(relayed) if relayed.eq_ignore_ascii_case(&lock.tx_hash) => {}
        Ok(relayed) => {
            return Err(MoneroError::InvalidAnswer {
                what: "monero-wallet-rpc",
                method: "relay_tx".into(),
                reason: format!(
                    "relayed {relayed}, but the prepared lock is {}",
                    lock.tx_hash
                ),
            })
        }
        Err(relay_error) => {
            return match daemon.tx_presence(&lock.tx_hash).await? {
                TxPresence::NotFound => Err(relay_error),
                presence => Ok(presence),
            }
        }
    }
    daemon.tx_presence(&lock.tx_hash).await
}

/// Alice's lock in one step, for callers that keep no state: sends exactly `amount` from
/// the open wallet of `wallet` to `lock_address` (`transfer`, which relays at once) and
/// returns the proof for Bob and the fee. Not crash-safe: if the caller dies before it
/// saved the result, calling again pays twice and the transaction key is lost; the swap
/// engine uses [`prepare_lock`] and [`publish_lock`]. Never retried: after an error, look
/// at the wallet's outgoing transfers before calling again.
///
/// # Errors
///
/// The wallet RPC's error (not enough unlocked balance, ...), or a transport error.
pub async fn lock(
    wallet: &WalletClient,
    lock_address: &Address,
    amount: XmrAmount,
) -> Result<(TransferProof, XmrAmount), MoneroError> {
    let sent = wallet.transfer(lock_address, amount).await?;
    Ok((
        TransferProof {
            tx_hash: sent.tx_hash,
            tx_key: sent.tx_key,
        },
        sent.fee,
    ))
}

/// Bob's verdict on a transfer proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferVerdict {
    /// It pays exactly the expected amount and has at least the required confirmations.
    Confirmed {
        /// Its confirmations.
        confirmations: u64,
    },
    /// It pays exactly the expected amount but needs more confirmations (0 = in the pool).
    Pending {
        /// Its confirmations so far.
        confirmations: u64,
    },
    /// It pays the lock address, but not the agreed amount: the swap must not go on.
    WrongAmount {
        /// The agreed amount.
        expected: XmrAmount,
        /// What it pays.
        received: XmrAmount,
    },
    /// It pays nothing to the lock address (another address, or the key does not match).
    NotToLockAddress,
    /// The daemon does not know the transaction (yet, or at all).
    NotFound,
}

/// Checks `proof` against `lock_address` for exactly `expected`, needing `min_confirmations`,
/// through any wallet RPC connected to the daemon (no wallet of the lock address needed).
///
/// # Errors
///
/// Only transport failures and unexpected RPC errors; every answer about the transfer
/// itself is a [`TransferVerdict`].
pub async fn verify_transfer(
    wallet: &WalletClient,
    proof: &TransferProof,
    lock_address: &Address,
    expected: XmrAmount,
    min_confirmations: u64,
) -> Result<TransferVerdict, MoneroError> {
    if !is_hex32(&proof.tx_hash) || !is_hex32(&proof.tx_key) {
        return Ok(TransferVerdict::NotFound);
    }
    let check = match wallet
        .check_tx_key(&proof.tx_hash, &proof.tx_key, lock_address)
        .await
    {
        Ok(check) => check,
        // wallet-rpc answers code -1 / "Failed to get transaction from daemon" for unknown
        // transactions and "Tx key not found" style errors for a key that is no key.
        Err(MoneroError::Rpc { message, .. })
            if message.contains("Failed to get transaction") || message.contains("not found") =>
        {
            return Ok(TransferVerdict::NotFound)
        }
        Err(e) => return Err(e),
    };
    Ok(if check.received == XmrAmount::ZERO {
        TransferVerdict::NotToLockAddress
    } else if check.received != expected {
        TransferVerdict::WrongAmount {
            expected,
            received: check.received,
        }
    } else if check.confirmations >= min_confirmations && !check.in_pool {
        TransferVerdict::Confirmed {
            confirmations: check.confirmations,
        }
    } else {
        TransferVerdict::Pending {
            confirmations: check.confirmations,
        }
    })
}

/// What a sweep found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepOutcome {
    /// Sent everything to the destination.
    Swept {
        /// The sweep transactions.
        tx_hashes: Vec<String>,
        /// The amount sent, after fees.
        amount: XmrAmount,
    },
    /// Nothing left to sweep: an earlier sweep (whose transactions are listed) took it.
    AlreadySwept {
        /// The wallet's outgoing transactions.
        tx_hashes: Vec<String>,
    },
    /// The lock address holds nothing (yet): nothing was sent.
    Empty,
}

/// What to sweep and where. Its `Debug` output leaves out the keys and the password.
#[derive(Clone)]
pub struct SweepRequest<'a> {
    /// Wallet file name for the restored wallet (e.g. `swap-<id>-redeem`); reopened if it
    /// exists, so a second call continues the first.
    pub wallet_name: &'a str,
    /// The password of that wallet file (the engine's: the file holds the spend key).
    pub wallet_password: &'a str,
    /// The lock address.
    pub lock_address: &'a Address,
    /// The combined spend key `s_a + s_b`.
    pub spend_key: &'a PrivateKey,
    /// The shared view key `v_a + v_b`.
    pub view_key: &'a PrivateKey,
    /// Scan from here: the height the lock transaction was mined at (or a little before).
    pub restore_height: u64,
    /// Sweep once at least this much is unlocked (the lock's amount): other outputs sent to
    /// the address (dust that keeps arriving) never hold the sweep back.
    pub min_unlocked: XmrAmount,
    /// Where the XMR goes.
    pub destination: &'a Address,
    /// Give up waiting for the funds to unlock after this long.
    pub unlock_timeout: Duration,
}

impl std::fmt::Debug for SweepRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SweepRequest")
            .field("wallet_name", &self.wallet_name)
            .field("wallet_password", &"<redacted>")
            .field("lock_address", &self.lock_address.to_string())
            .field("spend_key", &"<redacted>")
            .field("view_key", &"<redacted>")
            .field("restore_height", &self.restore_height)
            .field("min_unlocked", &self.min_unlocked)
            .field("destination", &self.destination.to_string())
            .field("unlock_timeout", &self.unlock_timeout)
            .finish()
    }
}

/// Restores the lock wallet from the combined keys at `restore_height` in the wallet RPC
/// `wallet` (which must have no other wallet open that matters: it is closed), protected by
/// `wallet_password` ([`WalletClient::open_or_restore`]), waits until at least
/// `min_unlocked` of its funds are unlocked ([`SPENDABLE_AGE`] confirmations), and sweeps
/// everything unlocked to the destination. Outputs still locked then (dust sent to the
/// address on the side) stay behind. Idempotent: a second call reopens the same wallet and
/// returns [`SweepOutcome::AlreadySwept`].
///
/// `on_wait` is called with the blocks still to wait while the funds are locked, for
/// progress display.
///
/// # Errors
///
/// [`MoneroError::WaitTimeout`] if the funds do not unlock in time; RPC and transport errors.
pub async fn sweep(
    wallet: &WalletClient,
    request: &SweepRequest<'_>,
    mut on_wait: impl FnMut(u64),
) -> Result<SweepOutcome, MoneroError> {
    wallet
        .open_or_restore(
            request.wallet_name,
            request.wallet_password,
            request.lock_address,
            request.spend_key,
            request.view_key,
            request.restore_height,
        )
        .await?;
    let started = Instant::now();
    // only our own sweep spends from this wallet: once it has, the lock is swept
    wallet.refresh().await?;
    let outgoing = wallet.outgoing_transfers().await?;
    if !outgoing.is_empty() {
        return Ok(SweepOutcome::AlreadySwept {
            tx_hashes: outgoing,
        });
    }
    loop {
        wallet.refresh().await?;
        let balance = wallet.balance().await?;
        if balance.total == XmrAmount::ZERO {
            return Ok(SweepOutcome::Empty);
        }
        if balance.unlocked > XmrAmount::ZERO && balance.unlocked >= request.min_unlocked {
            let (tx_hashes, amount) = wallet.sweep_all(request.destination).await?;
            return Ok(SweepOutcome::Swept { tx_hashes, amount });
        }
        on_wait(balance.blocks_to_unlock.max(1));
        if started.elapsed() > request.unlock_timeout {
            return Err(MoneroError::WaitTimeout {
                waiting_for: format!(
                    "the lock's funds to unlock ({} blocks to go; they need {SPENDABLE_AGE} confirmations)",
                    balance.blocks_to_unlock
                ),
                after: request.unlock_timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the daemon's chain has at least `height` blocks, calling `on_wait` with the
/// blocks still missing.
///
/// # Errors
///
/// [`MoneroError::WaitTimeout`] after `timeout`; transport errors.
pub async fn wait_for_height(
    daemon: &DaemonClient,
    height: u64,
    timeout: Duration,
    mut on_wait: impl FnMut(u64),
) -> Result<(), MoneroError> {
    let started = Instant::now();
    loop {
        let now = daemon.height().await?;
        if now >= height {
            return Ok(());
        }
        on_wait(height - now);
        if started.elapsed() > timeout {
            return Err(MoneroError::WaitTimeout {
                waiting_for: format!("height {height} (at {now})"),
                after: timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A maker's proof that the open wallet of `wallet` holds its balance, bound to `message`
/// (e.g. the offer's id, so a proof cannot be replayed for another offer).
///
/// # Errors
///
/// RPC and transport errors.
pub async fn prove_reserves(wallet: &WalletClient, message: &str) -> Result<String, MoneroError> {
    wallet.reserve_proof(message).await
}

/// A taker's check of a maker's reserve proof: the proven unspent amount, or `None` if the
/// proof is not valid for `address` and `message`.
///
/// # Errors
///
/// Transport errors, and RPC errors other than a malformed proof.
pub async fn check_reserves(
    wallet: &WalletClient,
    address: &Address,
    message: &str,
    signature: &str,
) -> Result<Option<XmrAmount>, MoneroError> {
    match wallet
        .check_reserve_proof(address, message, signature)
        .await
    {
        Ok(check) if check.good => Ok(Some(XmrAmount::from_piconero(
            check
                .total
                .as_piconero()
                .saturating_sub(check.spent.as_piconero()),
        ))),
        Ok(_) => Ok(None),
        Err(MoneroError::Rpc { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
