//! `audit verify RECEIPT` (a swap's atomicity from public data) and `audit log` (the local,
//! hash-chained audit log).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use confiaro_monero::process::{ProcessConfig, WalletRpc};
use confiaro_orchestrator::receipt::{parse_swap_id, Check};
use confiaro_orchestrator::{BitcoinSourceConfig, Receipt};

use crate::output::Output;
use crate::settings;
use crate::swap::open_local;
use crate::Global;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check a receipt: its signatures and commitment, then both chains (with the endpoints
    /// of the global options, or the running devnet's).
    Verify {
        /// The receipt file (from `confiaro swap receipt`).
        receipt: PathBuf,
        /// Only the checks that need no chain.
        #[arg(long)]
        offline: bool,
    },
    /// Check the local audit log's hash chain and print its entries.
    Log {
        /// Only this swap's entries.
        #[arg(long)]
        swap: Option<String>,
    },
}

pub(crate) async fn run(
    global: &Global,
    out: &Output,
    command: AuditCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { receipt, offline } => verify(global, out, &receipt, offline).await,
        AuditCommand::Log { swap } => {
            let local = open_local(global).await?;
            let swap_id = swap.as_deref().map(parse_swap_id).transpose()?;
            let check = local.verify_audit_log().await?;
            let entries = local.audit_entries(swap_id.as_ref()).await?;
            if out.json() {
                out.result(
                    &serde_json::json!({"intact": true, "entries": check.entries, "head": hex(check.head), "shown": entries}),
                    "",
                );
            } else {
                for e in &entries {
                    out.info(&format!(
                        "#{:<5} {} {:<22} {} {}",
                        e.id,
                        e.at_ms,
                        e.kind,
                        e.swap_id
                            .map(|s| s.to_string()[..8].to_owned())
                            .unwrap_or_else(|| "-".repeat(8)),
                        e.detail
                    ));
                }
                out.info(&format!(
                    "audit log intact: {} entries, head {}",
                    check.entries,
                    hex(check.head)
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn verify(
    global: &Global,
    out: &Output,
    path: &PathBuf,
    offline: bool,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let receipt: Receipt = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Confiaro receipt", path.display()))?;
    let mut checks = receipt.check();
    if !offline && checks.iter().all(|c| c.ok) {
        checks.extend(chain_checks(global, &receipt).await?);
    }
    let ok = checks.iter().all(|c| c.ok);
    if out.json() {
        out.result(&serde_json::json!({"receipt": path, "swap_id": receipt.swap_id, "ok": ok, "checks": checks}), "");
    } else {
        out.info(&format!(
            "receipt of swap {} ({:?}, exported by {:?})",
            receipt.swap_id, receipt.phase, receipt.exported_by
        ));
        for Check { what, ok, detail } in &checks {
            out.info(&format!(
                "  {} {what}: {detail}",
                if *ok { "ok  " } else { "FAIL" }
            ));
        }
        out.info(if ok { "verified" } else { "NOT verified" });
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads both chains for the receipt. Monero is checked with a throwaway wallet RPC.
async fn chain_checks(global: &Global, receipt: &Receipt) -> anyhow::Result<Vec<Check>> {
    let config = settings::engine_config(global)
        .context("checking against the chains needs their endpoints (or pass --offline)")?;
    let bitcoin: BitcoinSourceConfig = config.bitcoin.clone();
    let for_fetch = receipt.clone();
    let seen = tokio::task::spawn_blocking(move || {
        let mut source = confiaro_orchestrator::config::new_source(&bitcoin, None)?;
        for_fetch.fetch_bitcoin(source.as_mut())
    })
    .await??;
    let dir = tempfile::tempdir()?;
    let wallet = WalletRpc::start(
        &ProcessConfig {
            binary: config.monero.wallet_rpc_binary.clone(),
            ..ProcessConfig::new("monero-wallet-rpc", dir.path())
        },
        &config.monero.daemon_url,
    )
    .await?;
    wallet.client().create_wallet("audit", "").await?;
    let checks = receipt.check_chains(&seen, Some(wallet.client())).await;
    wallet.stop().await;
    Ok(checks)
}
