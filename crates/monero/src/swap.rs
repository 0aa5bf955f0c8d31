//! The swap's Monero operations, as the orchestrator calls them.
//!
//! - Alice: [`lock`] sends the agreed amount to the lock address and returns the
//!   [`TransferProof`] (transaction hash and key) she sends to Bob.
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

use crate::rpc::{DaemonClient, WalletClient};
use crate::{MoneroError, SPENDABLE_AGE};

/// What Alice sends Bob after locking: enough for him to check the lock with the view key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferProof {
    /// The lock transaction's hash (hex).
    pub tx_hash: String,
    /// Its transaction key (hex); proves what it paid to an address. Not a spend key.
    pub tx_key: String,
}

/// Alice's lock: sends exactly `amount` from the open wallet of `wallet` to `lock_address`.
/// Never retried (a second call would pay twice): after an error, look at the wallet's
/// outgoing transfers before calling again.
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

fn is_hex32(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
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

/// What to sweep and where.
#[derive(Debug, Clone)]
pub struct SweepRequest<'a> {
    /// Wallet file name for the restored wallet (e.g. `swap-<id>-redeem`); reopened if it
    /// exists, so a second call continues the first.
    pub wallet_name: &'a str,
    /// The lock address.
    pub lock_address: &'a Address,
    /// The combined spend key `s_a + s_b`.
    pub spend_key: &'a PrivateKey,
    /// The shared view key `v_a + v_b`.
    pub view_key: &'a PrivateKey,
    /// Scan from here: the height the lock transaction was mined at (or a little before).
    pub restore_height: u64,
    /// Where the XMR goes.
    pub destination: &'a Address,
    /// Give up waiting for the funds to unlock after this long.
    pub unlock_timeout: Duration,
}

/// Restores the lock wallet from the combined keys at `restore_height` in the wallet RPC
/// `wallet` (which must have no other wallet open that matters: it is closed), waits until
/// its funds are unlocked ([`SPENDABLE_AGE`] confirmations), and sweeps everything to the
/// destination. Idempotent: a second call reopens the same wallet and returns
/// [`SweepOutcome::AlreadySwept`].
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
    match wallet
        .generate_from_keys(
            request.wallet_name,
            request.lock_address,
            Some(request.spend_key),
            request.view_key,
            request.restore_height,
            "",
        )
        .await
    {
        Ok(()) => {}
        Err(MoneroError::Rpc { message, .. }) if message.contains("already exists") => {
            wallet.open_wallet(request.wallet_name, "").await?;
        }
        Err(e) => return Err(e),
    }
    let started = Instant::now();
    loop {
        wallet.refresh().await?;
        let balance = wallet.balance().await?;
        if balance.total == XmrAmount::ZERO {
            let outgoing = wallet.outgoing_transfers().await?;
            return Ok(if outgoing.is_empty() {
                SweepOutcome::Empty
            } else {
                SweepOutcome::AlreadySwept {
                    tx_hashes: outgoing,
                }
            });
        }
        if balance.unlocked == balance.total {
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
