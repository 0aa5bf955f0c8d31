//! Fee bumping: while one of our time-critical transactions waits unconfirmed, children pay
//! for it (CPFP).
//!
//! Every spend of the swap's 2-of-2 outputs was signed at setup with the fee of that day. A
//! redeem that waits past cancel, or a refund past punish, loses the swap, so after each
//! block such a transaction waits we add a child that lifts the package (it and our earlier
//! children) to a higher rate ([`bump_target_rate`]), spending the output it pays us or our
//! keyed anchor of cancel ([`SwapTxs::bump_output`]). The decision is the protocol crate's;
//! the children are the wallet's; this module only watches and glues. One task per
//! transaction engine-wide ([`crate::btc::BtcSide::claim_bump`]); it ends when the
//! transaction confirms, disappears (a conflicting spend won), or the swap stops.
//!
//! [`SwapTxs::bump_output`]: confiaro_protocol::machine::SwapTxs::bump_output

use std::time::Duration;

use bitcoin::Transaction;
use confiaro_bitcoin::TxStatus;
use confiaro_protocol::btc::{bump_rate_cap, bump_target_rate};
use confiaro_protocol::keys::SwapSecrets;
use confiaro_protocol::machine::{BumpOutput, TxLabel};
use confiaro_protocol::messages::SwapTerms;

use crate::context::{Context, SwapCtx};
use crate::events::SwapEventKind;

/// How often a waiting transaction is looked at (new blocks are what matter).
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// What to accelerate: our published transaction `tx` and how we can pay for it.
pub(crate) struct Waiting {
    pub(crate) label: TxLabel,
    pub(crate) tx: Transaction,
    pub(crate) output: BumpOutput,
    pub(crate) terms: SwapTerms,
    pub(crate) secrets: SwapSecrets,
}

/// Accelerates `waiting` until it confirms, is gone, or the swap stops. Does nothing when
/// another task already accelerates it.
pub(crate) async fn accelerate(cx: &Context, ctx: &SwapCtx, waiting: Waiting) {
    let txid = waiting.tx.compute_txid();
    let Some(_claim) = cx.btc.claim_bump(txid) else {
        return;
    };
    tracing::info!(swap = %ctx.swap_id, "watching {:?} {txid} to pay for it if it waits", waiting.label);
    let script = waiting.output.output.script_pubkey.clone();
    let band_max = waiting.terms.network.params().fee_band.max_sat_per_vb;
    let budget = waiting.terms.max_bump_fee();
    let mut first_seen_tip: Option<u32> = None;
    // at most one attempt per block, whether it added a child or failed
    let mut tried_at: Option<u32> = None;
    loop {
        if !ctx.pause(CHECK_EVERY).await {
            return;
        }
        let (status, tip) = match cx.btc.tx_status_and_tip(txid, script.clone()).await {
            Ok(seen) => seen,
            Err(e) => {
                tracing::debug!(swap = %ctx.swap_id, "fee bumping {:?}: {e}", waiting.label);
                continue;
            }
        };
        match status {
            TxStatus::Confirmed { .. } | TxStatus::NotFound => {
                tracing::info!(swap = %ctx.swap_id, "{:?} {txid}: {status:?}, no more bumping", waiting.label);
                return;
            }
            TxStatus::InMempool => {}
        }
        let since = *first_seen_tip.get_or_insert(tip);
        let waited = tip.saturating_sub(since);
        if waited == 0 || tried_at == Some(tip) {
            continue;
        }
        tried_at = Some(tip);
        if let Err(e) = bump_once(cx, ctx, &waiting, waited, band_max, budget).await {
            tracing::warn!(swap = %ctx.swap_id, "fee bumping {:?}: {e}", waiting.label);
            ctx.emit(
                cx,
                SwapEventKind::Problem {
                    message: format!("paying for the waiting {:?}: {e}; retrying", waiting.label),
                },
            );
        }
    }
}

/// One look at the package: adds a child when the decision says so.
async fn bump_once(
    cx: &Context,
    ctx: &SwapCtx,
    waiting: &Waiting,
    waited: u32,
    band_max: u64,
    budget: bitcoin::Amount,
) -> Result<(), crate::EngineError> {
    let package = cx
        .btc
        .cpfp_package(
            &waiting.tx,
            waiting.output.outpoint.vout,
            waiting.output.parent_fee,
        )
        .await?;
    if !cx.btc.rebroadcast_children(&package).await? {
        // a recorded child was refused for good and forgotten: decide on the next block
        return Ok(());
    }
    let estimate = cx.btc.fee_rate().await?;
    let cap = bump_rate_cap(budget, package.vsize, band_max);
    let Some(target) = bump_target_rate(waited, estimate, package.rate_sat_per_vb(), cap) else {
        tracing::info!(
            swap = %ctx.swap_id,
            "{:?} waited {waited} blocks at {} sat/vB (estimate {estimate}, cap {cap}): left as it is",
            waiting.label,
            package.rate_sat_per_vb()
        );
        return Ok(());
    };
    let anchor = waiting.output.output.clone();
    let secrets = &waiting.secrets;
    let sign_anchor = move |child: &Transaction, index: usize| {
        secrets
            .anchor_witness(child, index, &anchor)
            .map_err(|e| e.to_string())
    };
    let signer: Option<confiaro_bitcoin::ForeignSigner<'_>> =
        if waiting.output.keyed && package.children.is_empty() {
            Some(&sign_anchor)
        } else {
            None
        };
    let child = cx.btc.pay_for(&package, target, signer).await?;
    let child_txid = child.compute_txid();
    tracing::info!(
        swap = %ctx.swap_id,
        "{:?} waited {waited} blocks: child {child_txid} lifts it to {target} sat/vB",
        waiting.label
    );
    ctx.audit(
        cx,
        "fee-bumped",
        serde_json::json!({
            "tx": format!("{:?}", waiting.label),
            "txid": waiting.tx.compute_txid().to_string(),
            "child": child_txid.to_string(),
            "package_sat_per_vb": target,
            "waited_blocks": waited,
        }),
    )
    .await;
    ctx.emit(
        cx,
        SwapEventKind::FeeBumped {
            tx: waiting.label,
            txid: waiting.tx.compute_txid().to_string(),
            child_txid: child_txid.to_string(),
            package_sat_per_vb: target,
        },
    );
    Ok(())
}
