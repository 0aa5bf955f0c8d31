//! `confiaro check`: the configured chain sources and `monero-wallet-rpc`, tested before they
//! are relied on. The Bitcoin source's tip and median time past (and whether this machine's
//! clock is in step with it), the Monero node's height and sync state, and the
//! `monero-wallet-rpc` the engine would run, with its version. Each part says what is wrong
//! and what to do; the command fails if any part does.
//!
//! The test itself is the engine's ([`check_connections`]); this prints it. Sources that the
//! engine reaches through Tor are not dialled here (that would show this machine's address to
//! them): they are reported as such, with how to test them directly.

use std::process::ExitCode;

use confiaro_orchestrator::connection_check::{check_connections, Checked};
use serde_json::{json, Value};

use crate::output::Output;
use crate::settings;
use crate::Global;

/// One part's outcome, as JSON: `ok`, then what was found (or `skipped` and why) or what is
/// wrong.
fn part<T>(checked: &Checked<T>, found: impl Fn(&T) -> Value) -> Value {
    match checked {
        Checked::Ok(value) => {
            let mut entry = found(value);
            entry["ok"] = json!(true);
            entry
        }
        Checked::Skipped(reason) => {
            json!({"ok": true, "skipped": format!("{reason}; pass --tor-chain off to test it directly")})
        }
        Checked::Failed(error) => json!({"ok": false, "error": error}),
    }
}

pub(crate) async fn run(global: &Global, out: &Output) -> anyhow::Result<ExitCode> {
    let config = settings::engine_config(global)?;
    let report = check_connections(&config, None).await;
    let ok = report.passed();
    let entries = json!({
        "network": report.network.name(),
        "bitcoin": part(&report.bitcoin, |b| json!({"source": b.source, "height": b.height,
            "median_time_past": b.median_time_past})),
        "monero": part(&report.monero, |m| json!({"node": m.node, "height": m.height})),
        "wallet_rpc": part(&report.wallet_rpc, |w| json!({"path": w.path, "version": w.version})),
    });
    if out.json() {
        let mut entries = entries;
        entries["ok"] = json!(ok);
        out.result(&entries, "");
    } else {
        out.info(&format!("network: {}", report.network.name()));
        for name in ["bitcoin", "monero", "wallet_rpc"] {
            let entry = &entries[name];
            let text = match entry["error"].as_str() {
                Some(error) => format!("FAIL {error}"),
                None => {
                    let mut found = entry.clone();
                    if let Some(found) = found.as_object_mut() {
                        found.remove("ok");
                    }
                    format!("ok   {found}")
                }
            };
            out.info(&format!("{name:<10} {text}"));
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
