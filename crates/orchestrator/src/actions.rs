//! Performing a machine's actions, idempotently.
//!
//! Quick actions (hand a message to delivery, register a watch) happen right away. Long ones
//! become jobs — futures the driver runs at most once per kind at a time — that report their
//! result back to the driver as an [`Input`]. Every job can be run again after a crash
//! (the machine re-emits its actions on `Resume`) without doing anything twice:
//! - funding the lock only builds a PSBT (nothing is spent until the agreed lock is signed);
//! - publishing a Bitcoin transaction twice is harmless (a known transaction is accepted);
//! - the XMR lock is built without relaying, persisted, then relayed: after a crash the
//!   persisted transfer is relayed again (or found on chain), never a second one built;
//! - a sweep reopens its restored wallet and finds it already swept.

use std::sync::Arc;
use std::time::Duration;

use confiaro_bitcoin::{SourceError, TxStatus, WalletError};
use confiaro_monero::swap::{PreparedLock, SweepOutcome, TxPresence};
use confiaro_monero::MoneroError;
use confiaro_protocol::machine::{SecretScalar, TxLabel};
use confiaro_protocol::{Action, Input, Role, SwapState, XmrAmount};
use curve25519_dalek::Scalar;

use crate::context::{Context, SwapCtx};
use crate::error::EngineError;
use crate::events::SwapEventKind;
use crate::fee_bump;
use crate::inbox::{DriverMsg, Job};

/// Long-running work of a swap, at most one of each kind at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum JobKind {
    FundLock,
    PublishLock,
    Publish(confiaro_protocol::machine::TxLabel),
    LockXmr,
    WatchXmr,
    Sweep,
}

impl JobKind {
    /// Whether stopping the engine in the middle of this job would leave the swap waiting
    /// for an action it needs (a transaction on its way out, a lock, a sweep); a graceful
    /// stop ([`crate::Engine::drain`]) waits for these. Funding and watching are not.
    pub(crate) fn must_finish(self) -> bool {
        matches!(
            self,
            JobKind::PublishLock | JobKind::Publish(_) | JobKind::LockXmr | JobKind::Sweep
        )
    }
}

/// The swap data key of Alice's prepared XMR lock.
pub(crate) const XMR_LOCK_KEY: &str = "xmr-lock";

/// Performs `action`; returns the job to run when it is long work.
pub(crate) fn perform(
    cx: &Arc<Context>,
    ctx: &SwapCtx,
    state: &SwapState,
    action: Action,
) -> Option<(JobKind, Job)> {
    let cx = Arc::clone(cx);
    let ctx = ctx.clone();
    match action {
        Action::Send(confiaro_protocol::messages::Message::RedeemEncryptedSignature(signature))
            if cx.faults.late_redeem_signature =>
        {
            let agreement = state.agreement()?;
            let lock = agreement.txs.lock.txid();
            let script = agreement.txs.lock.two_of_two().script_pubkey();
            let depth = u32::from(agreement.terms.cancel_timelock) - 1;
            let message = confiaro_protocol::messages::Message::RedeemEncryptedSignature(signature);
            tokio::spawn(async move {
                loop {
                    if let Ok((TxStatus::Confirmed { block }, tip)) =
                        cx.btc.tx_status_and_tip(lock, script.clone()).await
                    {
                        if tip + 1 >= block.height + depth {
                            eprintln!(
                                "confiaro: CONFIARO_TEST_FAULT=late-redeem-signature: sending it at lock depth {}",
                                tip + 1 - block.height
                            );
                            ctx.send(&cx, message);
                            return;
                        }
                    }
                    if !ctx.pause(Duration::from_millis(500)).await {
                        return;
                    }
                }
            });
            None
        }
        Action::Send(message) => {
            let message = match message {
                confiaro_protocol::messages::Message::TransferProof(mut proof)
                    if cx.faults.xmr_proof_lies =>
                {
                    proof.height += 1_000_000;
                    confiaro_protocol::messages::Message::TransferProof(proof)
                }
                other => other,
            };
            ctx.send(&cx, message);
            None
        }
        Action::WatchBtc { label, txid } => {
            let agreement = state.agreement()?;
            let script = crate::btc::watch_script(agreement, label);
            cx.btc.watch(ctx.swap_id, txid, script, &ctx.sender);
            None
        }
        Action::FundLock { amount, two_of_two } => Some((
            JobKind::FundLock,
            Box::pin(async move {
                let input = fund_lock(&cx, &ctx, two_of_two, amount).await;
                let _ = ctx.sender.send(DriverMsg::Input(input));
            }),
        )),
        Action::SignAndPublishLock { .. } => {
            let lock = state.agreement()?.txs.lock.clone();
            Some((
                JobKind::PublishLock,
                Box::pin(async move { publish_lock(&cx, &ctx, lock).await }),
            ))
        }
        Action::PublishBtc { label, tx } => {
            let waiting = bump_plan(state, ctx.role, label, &tx);
            Some((
                JobKind::Publish(label),
                Box::pin(async move {
                    if publish(&cx, &ctx, label, tx).await {
                        if let Some(waiting) = waiting {
                            // not part of the job: a graceful stop need not wait for blocks
                            tokio::spawn(
                                async move { fee_bump::accelerate(&cx, &ctx, waiting).await },
                            );
                        }
                    }
                }),
            ))
        }
        Action::LockXmr { address, amount } => Some((
            JobKind::LockXmr,
            Box::pin(async move {
                if let Some(input) = lock_xmr(&cx, &ctx, address, amount).await {
                    let _ = ctx.sender.send(DriverMsg::Input(input));
                }
            }),
        )),
        Action::FindXmrLock { .. } => Some((
            JobKind::LockXmr,
            Box::pin(async move {
                if let Some(input) = find_xmr_lock(&cx, &ctx).await {
                    let _ = ctx.sender.send(DriverMsg::Input(input));
                }
            }),
        )),
        Action::WatchXmrTransfer {
            address,
            tx_hash,
            tx_key,
            ..
        } => Some((
            JobKind::WatchXmr,
            Box::pin(async move { watch_xmr(&cx, &ctx, address, tx_hash, tx_key).await }),
        )),
        Action::SweepXmr {
            address,
            spend_key,
            view_key,
            restore_height,
            amount,
        } => Some((
            JobKind::Sweep,
            Box::pin(async move {
                let keys = SweepKeys {
                    spend_key,
                    view_key,
                    restore_height,
                    amount,
                };
                if let Some(input) = sweep(&cx, &ctx, address, keys).await {
                    let _ = ctx.sender.send(DriverMsg::Input(input));
                }
            }),
        )),
        Action::Emit(_) => None,
    }
}

fn problem(cx: &Context, ctx: &SwapCtx, message: String) {
    tracing::warn!(swap = %ctx.swap_id, "{message}");
    ctx.emit(cx, SwapEventKind::Problem { message });
}

/// Bob's wallet funds the lock: `LockFunded`, or `LockFundingFailed` when it cannot
/// (transport failures are retried a few times first).
async fn fund_lock(
    cx: &Context,
    ctx: &SwapCtx,
    two_of_two: confiaro_protocol::btc::TwoOfTwo,
    amount: bitcoin::Amount,
) -> Input {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = async {
            let fee_rate = cx.btc.fee_rate().await?;
            cx.btc.fund_lock(two_of_two.clone(), amount, fee_rate).await
        }
        .await;
        match result {
            Ok(psbt) => return Input::LockFunded { psbt },
            Err(EngineError::BitcoinWallet(
                e @ (WalletError::CreateTx(_) | WalletError::Lock(_)),
            )) => {
                return Input::LockFundingFailed {
                    reason: e.to_string(),
                }
            }
            Err(e) if attempt >= 5 => {
                return Input::LockFundingFailed {
                    reason: e.to_string(),
                }
            }
            Err(e) => {
                problem(cx, ctx, format!("funding the BTC lock: {e}; retrying"));
                if !ctx.pause(Duration::from_secs(2)).await {
                    return Input::LockFundingFailed {
                        reason: "stopped".into(),
                    };
                }
            }
        }
    }
}

/// Whether a refused broadcast can never succeed: it conflicts with a transaction the node
/// already has. ("Inputs missing or spent" is not final: it is also the answer while the
/// parent — a cancel published a moment before its refund — is not known yet; a spend that
/// lost a race is retried until the swap, seeing the winner, ends.)
fn is_final_refusal(reason: &str) -> bool {
    ["conflict", "insufficient fee"]
        .iter()
        .any(|r| reason.contains(r))
}

/// Bob signs the agreed lock and publishes it, retrying until it is accepted.
async fn publish_lock(cx: &Context, ctx: &SwapCtx, lock: confiaro_protocol::btc::TxLock) {
    let mut delay = Duration::from_millis(500);
    loop {
        match cx.btc.publish_lock(&lock).await {
            Ok(txid) => {
                ctx.audit(
                    cx,
                    "published",
                    serde_json::json!({"tx": "Lock", "txid": txid.to_string()}),
                )
                .await;
                ctx.emit(
                    cx,
                    SwapEventKind::Published {
                        tx: TxLabel::Lock,
                        txid: txid.to_string(),
                    },
                );
                return;
            }
            Err(EngineError::BitcoinSource(SourceError::Rejected { reason }))
                if is_final_refusal(&reason) =>
            {
                ctx.audit(
                    cx,
                    "publish-refused",
                    serde_json::json!({"tx": "Lock", "reason": reason}),
                )
                .await;
                problem(
                    cx,
                    ctx,
                    format!("the BTC lock cannot be published: {reason}; its coins were spent elsewhere"),
                );
                return;
            }
            Err(e) => problem(cx, ctx, format!("publishing the BTC lock: {e}; retrying")),
        }
        if !ctx.pause(delay).await {
            return;
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Publishes a pre-signed transaction, retrying until accepted, refused for good (another
/// spend won: the watchers will tell the machine), or the swap ends.
/// How we can pay for `tx`, our pre-signed `label`, if it waits (see [`fee_bump`]).
fn bump_plan(
    state: &SwapState,
    role: Role,
    label: TxLabel,
    tx: &bitcoin::Transaction,
) -> Option<fee_bump::Waiting> {
    let output = state.agreement()?.txs.bump_output(label, role)?;
    (output.outpoint.txid == tx.compute_txid()).then(|| fee_bump::Waiting {
        label,
        tx: tx.clone(),
        output,
        terms: *state.terms(),
        secrets: state.secrets().clone(),
    })
}

/// Publishes `tx`, retrying while it is refused for a passing reason; true once a node
/// accepted it.
async fn publish(cx: &Context, ctx: &SwapCtx, label: TxLabel, tx: bitcoin::Transaction) -> bool {
    let mut delay = Duration::from_millis(500);
    let mut last_refusal: Option<String> = None;
    loop {
        match cx.btc.broadcast(tx.clone()).await {
            Ok(txid) => {
                ctx.audit(
                    cx,
                    "published",
                    serde_json::json!({"tx": format!("{label:?}"), "txid": txid.to_string()}),
                )
                .await;
                ctx.emit(
                    cx,
                    SwapEventKind::Published {
                        tx: label,
                        txid: txid.to_string(),
                    },
                );
                return true;
            }
            Err(SourceError::Rejected { reason }) if is_final_refusal(&reason) => {
                ctx.audit(
                    cx,
                    "publish-refused",
                    serde_json::json!({"tx": format!("{label:?}"), "reason": reason}),
                )
                .await;
                return false;
            }
            Err(SourceError::Rejected { reason }) => {
                // e.g. a timelock one block short: try again at the next blocks
                if last_refusal.as_deref() != Some(reason.as_str()) {
                    tracing::info!(swap = %ctx.swap_id, "{label:?} not accepted yet: {reason}");
                    ctx.audit(
                        cx,
                        "publish-deferred",
                        serde_json::json!({"tx": format!("{label:?}"), "reason": reason}),
                    )
                    .await;
                    last_refusal = Some(reason);
                }
            }
            Err(e) => problem(cx, ctx, format!("publishing {label:?}: {e}; retrying")),
        }
        if !ctx.pause(delay).await {
            return false;
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

/// What Alice's machine learns from a published lock.
fn locked_input(prepared: &PreparedLock) -> Option<Input> {
    let tx_hash = hex32(&prepared.tx_hash)?;
    let tx_key = Option::<Scalar>::from(Scalar::from_canonical_bytes(hex32(&prepared.tx_key)?))?;
    Some(Input::XmrLocked {
        tx_hash,
        tx_key: SecretScalar(tx_key),
        height: prepared.height,
        amount: prepared.amount,
    })
}

/// The XMR lock this swap prepared (and persisted before relaying), if any. An entry that
/// no longer parses counts as none.
async fn stored_xmr_lock(cx: &Context, ctx: &SwapCtx) -> Result<Option<PreparedLock>, EngineError> {
    let stored = cx
        .store
        .swap_data(&cx.vault, &ctx.swap_id, XMR_LOCK_KEY)
        .await?;
    Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Alice, too late to lock: reports the lock made before a crash if it was relayed
/// (`XmrLocked`), and `XmrLockFailed` when none was — a prepared but unrelayed transfer is
/// never relayed now.
async fn find_xmr_lock(cx: &Context, ctx: &SwapCtx) -> Option<Input> {
    let mut delay = Duration::from_millis(500);
    loop {
        let result = async {
            let Some(prepared) = stored_xmr_lock(cx, ctx).await? else {
                return Ok::<_, EngineError>(None);
            };
            let presence = cx.xmr.tx_presence(&prepared.tx_hash).await?;
            Ok((presence != TxPresence::NotFound).then_some(prepared))
        }
        .await;
        match result {
            Ok(Some(prepared)) => {
                return Some(locked_input(&prepared).unwrap_or(Input::XmrLockFailed {
                    reason: "the stored XMR lock has a malformed transaction hash or key".into(),
                }))
            }
            Ok(None) => {
                ctx.audit(
                    cx,
                    "xmr-lock-skipped",
                    serde_json::json!({"reason": "too late"}),
                )
                .await;
                return Some(Input::XmrLockFailed {
                    reason: "too late to lock XMR safely; no transfer was made".into(),
                });
            }
            Err(e) => {
                problem(cx, ctx, format!("looking for the XMR lock: {e}; retrying"));
                if !ctx.pause(delay).await {
                    return None;
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Alice locks XMR: prepare (without relaying), persist, relay. After a crash the persisted
/// transfer is relayed again instead of building another.
async fn lock_xmr(
    cx: &Context,
    ctx: &SwapCtx,
    address: monero::Address,
    amount: XmrAmount,
) -> Option<Input> {
    if cx.faults.xmr_lock_fails {
        return Some(Input::XmrLockFailed {
            reason: "fault injection: CONFIARO_TEST_FAULT=xmr-lock-fails".into(),
        });
    }
    let amount = if cx.faults.xmr_lock_short {
        XmrAmount::from_piconero(amount.as_piconero().saturating_sub(1))
    } else {
        amount
    };
    let mut delay = Duration::from_millis(500);
    loop {
        let stored = match stored_xmr_lock(cx, ctx).await {
            Ok(stored) => stored,
            Err(e) => {
                problem(cx, ctx, format!("reading the XMR lock: {e}; retrying"));
                if !ctx.pause(delay).await {
                    return None;
                }
                continue;
            }
        };
        let (prepared, guard) = match stored {
            Some(prepared) => (prepared, cx.xmr.money_guard().await),
            None => match cx.xmr.prepare_lock(&address, amount).await {
                Ok((prepared, guard)) => {
                    let bytes = serde_json::to_vec(&prepared).expect("a prepared lock serializes");
                    if let Err(e) = cx
                        .store
                        .put_swap_data(&cx.vault, &ctx.swap_id, XMR_LOCK_KEY, &bytes)
                        .await
                    {
                        // never relay what is not persisted: build a new one next time
                        problem(cx, ctx, format!("saving the XMR lock: {e}; retrying"));
                        drop(guard);
                        if !ctx.pause(delay).await {
                            return None;
                        }
                        continue;
                    }
                    (prepared, guard)
                }
                Err(MoneroError::Rpc { message, .. }) => {
                    return Some(Input::XmrLockFailed {
                        reason: format!("the Monero wallet cannot pay: {message}"),
                    })
                }
                Err(e) => {
                    problem(cx, ctx, format!("locking XMR: {e}; retrying"));
                    if !ctx.pause(delay).await {
                        return None;
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                    continue;
                }
            },
        };
        match cx.xmr.publish_lock(&prepared).await {
            Ok(presence) => {
                drop(guard);
                ctx.audit(
                    cx,
                    "xmr-locked",
                    serde_json::json!({
                        "tx_hash": prepared.tx_hash,
                        "amount": prepared.amount.as_piconero(),
                        "fee": prepared.fee.as_piconero(),
                        "height": prepared.height,
                        "presence": format!("{presence:?}"),
                    }),
                )
                .await;
                if cx.faults.xmr_dust {
                    // an attacking maker's dust: the taker's sweep must not wait for it
                    let dust = XmrAmount::from_piconero(1_000_000_000);
                    if let Err(e) = cx.xmr.withdraw(&address, dust).await {
                        tracing::warn!(swap = %ctx.swap_id, "test fault xmr-dust: {e}");
                    }
                }
                return Some(locked_input(&prepared).unwrap_or(Input::XmrLockFailed {
                    reason: "the Monero wallet returned a malformed transaction hash or key".into(),
                }));
            }
            Err(MoneroError::Rpc { message, .. }) => {
                // the daemon refused the relay and does not have the transfer: it will never
                // be published
                drop(guard);
                ctx.audit(
                    cx,
                    "xmr-lock-refused",
                    serde_json::json!({"tx_hash": prepared.tx_hash, "reason": message}),
                )
                .await;
                return Some(Input::XmrLockFailed {
                    reason: format!("the Monero network refused the lock: {message}"),
                });
            }
            Err(e) => {
                drop(guard);
                problem(cx, ctx, format!("publishing the XMR lock: {e}; retrying"));
                if !ctx.pause(delay).await {
                    return None;
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Bob checks Alice's transfer on every new Monero block and reports what it pays.
async fn watch_xmr(
    cx: &Context,
    ctx: &SwapCtx,
    address: monero::Address,
    tx_hash: [u8; 32],
    tx_key: SecretScalar,
) {
    // Bob decides from the XMR lock's depth *and* the BTC lock's: after a restart his
    // machine must learn the BTC chain as it is now before it hears about XMR
    // confirmations, or it could act on a stale BTC depth.
    cx.btc.fresh_chain_view().await;
    let hash_hex = hex::encode(tx_hash);
    let key_hex = hex::encode(tx_key.0.to_bytes());
    let mut last: Option<(XmrAmount, u32, Option<u64>, u64)> = None;
    // a transaction's unlock time never changes: asked for until the node knows it, once
    let mut unlock_time: Option<u64> = None;
    let mut failing = false;
    let interval = cx.config.poll_interval.max(Duration::from_millis(250)) * 2;
    loop {
        match cx.xmr.check_transfer(&hash_hex, &key_hex, &address).await {
            Ok(check) => {
                failing = false;
                // the block height and unlock time from our own node, never Alice's word
                if unlock_time.is_none() {
                    unlock_time = cx.xmr.tx_unlock_time(&hash_hex).await.ok().flatten();
                }
                let presence = cx.xmr.tx_presence(&hash_hex).await;
                let (Some(unlock_time), Ok(presence)) = (unlock_time, presence) else {
                    // not known yet, or the node did not answer: look again next time
                    if !ctx.pause(interval).await {
                        return;
                    }
                    continue;
                };
                let block_height = match presence {
                    TxPresence::Mined { height, .. } => Some(height),
                    TxPresence::InPool | TxPresence::NotFound => None,
                };
                let seen = (
                    check.received,
                    u32::try_from(check.confirmations).unwrap_or(u32::MAX),
                    block_height,
                    unlock_time,
                );
                if last != Some(seen) {
                    last = Some(seen);
                    ctx.audit(
                        cx,
                        "xmr-transfer-checked",
                        serde_json::json!({
                            "tx_hash": hash_hex,
                            "received": seen.0.as_piconero(),
                            "confirmations": seen.1,
                            "block_height": seen.2,
                            "unlock_time": seen.3,
                            "in_pool": check.in_pool,
                        }),
                    )
                    .await;
                    let _ = ctx.sender.send(DriverMsg::Input(Input::XmrTransferSeen {
                        tx_hash,
                        amount: seen.0,
                        confirmations: seen.1,
                        block_height: seen.2,
                        unlock_time: seen.3,
                    }));
                }
            }
            // not (yet) known to the daemon: keep looking
            Err(MoneroError::Rpc { .. }) => {}
            Err(e) => {
                if !failing {
                    problem(cx, ctx, format!("checking the XMR lock: {e}; retrying"));
                }
                failing = true;
            }
        }
        if !ctx.pause(interval).await {
            return;
        }
    }
}

/// What a sweep of the lock address needs (see [`Action::SweepXmr`]).
struct SweepKeys {
    spend_key: SecretScalar,
    view_key: SecretScalar,
    restore_height: u64,
    amount: XmrAmount,
}

/// Sweeps the lock address to our wallet once the lock's amount is unlocked.
async fn sweep(
    cx: &Context,
    ctx: &SwapCtx,
    address: monero::Address,
    keys: SweepKeys,
) -> Option<Input> {
    let SweepKeys {
        spend_key,
        view_key,
        restore_height,
        amount: min_unlocked,
    } = keys;
    let destination = match ctx.role {
        Role::Bob => ctx.receive.unwrap_or_else(|| cx.xmr.address()),
        Role::Alice => cx.xmr.address(),
    };
    let spend = monero::PrivateKey::from_slice(spend_key.0.as_bytes()).ok()?;
    let view = monero::PrivateKey::from_slice(view_key.0.as_bytes()).ok()?;
    let wallet_name = format!("sweep-{}", ctx.swap_id);
    let mut delay = Duration::from_secs(1);
    loop {
        let mut last_wait = None;
        let result = cx
            .xmr
            .sweep(
                &wallet_name,
                &address,
                &spend,
                &view,
                restore_height,
                min_unlocked,
                &destination,
                |blocks| {
                    if last_wait != Some(blocks) {
                        last_wait = Some(blocks);
                        tracing::debug!(swap = %ctx.swap_id, "sweep waits {blocks} blocks for the XMR to unlock");
                    }
                },
            )
            .await;
        match result {
            Ok(SweepOutcome::Swept { tx_hashes, amount }) => {
                ctx.audit(
                    cx,
                    "xmr-swept",
                    serde_json::json!({
                        "tx_hashes": tx_hashes,
                        "amount": amount.as_piconero(),
                        "to": destination.to_string(),
                    }),
                )
                .await;
                return Some(Input::XmrSwept { amount });
            }
            Ok(SweepOutcome::AlreadySwept { tx_hashes }) => {
                ctx.audit(
                    cx,
                    "xmr-swept",
                    serde_json::json!({"tx_hashes": tx_hashes, "already": true}),
                )
                .await;
                return Some(Input::XmrSwept {
                    amount: XmrAmount::ZERO,
                });
            }
            Ok(SweepOutcome::Empty) => {
                problem(
                    cx,
                    ctx,
                    "the XMR lock address shows nothing yet; looking again".into(),
                );
            }
            Err(e) => problem(cx, ctx, format!("sweeping the XMR: {e}; retrying")),
        }
        if !ctx.pause(delay).await {
            return None;
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}
