//! `confiaro check`: the configured chain sources and `monero-wallet-rpc`, tested before they
//! are relied on. The Bitcoin source's tip and median time past (and whether this machine's
//! clock is in step with it), the Monero node's height and sync state, and the
//! `monero-wallet-rpc` the engine would run, with its version. Each part says what is wrong
//! and what to do; the command fails if any part does.
//!
//! Sources that the engine reaches through Tor are not dialled here (that would show this
//! machine's address to them): they are reported as such, with how to test them directly.

use std::process::ExitCode;
use std::time::Duration;

use confiaro_monero::rpc::{DaemonClient, RpcConfig};
use confiaro_orchestrator::chain_clock::{bitcoin_verdict_now, monero_verdict};
use serde_json::{json, Value};

use crate::output::Output;
use crate::settings;
use crate::Global;

/// One part's outcome, as JSON: `ok`, then what was found or what is wrong.
fn part(result: Result<Value, String>) -> Value {
    match result {
        Ok(Value::Object(mut found)) => {
            found.insert("ok".into(), json!(true));
            Value::Object(found)
        }
        Ok(other) => json!({"ok": true, "found": other}),
        Err(error) => json!({"ok": false, "error": error}),
    }
}

const THROUGH_TOR: &str = "reached through Tor when the engine runs, so not dialled from here; \
                           pass --tor-chain off to test it directly";

pub(crate) async fn run(global: &Global, out: &Output) -> anyhow::Result<ExitCode> {
    let config = settings::engine_config(global)?;
    let network = config.network;
    let tor = config.p2p.tor.clone();
    let carried = |url: &str| tor.as_ref().is_some_and(|t| t.carries(url));

    let bitcoin_config = config.bitcoin.clone();
    let bitcoin = if carried(bitcoin_config.url()) {
        Ok(json!({"source": bitcoin_config.url(), "skipped": THROUGH_TOR}))
    } else {
        tokio::task::spawn_blocking(move || {
            let mut source = confiaro_orchestrator::config::new_source(&bitcoin_config, None)
                .map_err(|e| e.to_string())?;
            let tip = source.tip().map_err(|e| e.to_string())?;
            let median = source.median_time_past(&tip).map_err(|e| e.to_string())?;
            bitcoin_verdict_now(network, median, tip.height)?;
            Ok(json!({"source": source.name(), "height": tip.height,
                "median_time_past": median}))
        })
        .await
        .unwrap_or_else(|e| Err(format!("the check stopped: {e}")))
    };

    let daemon_url = config.monero.daemon_url.clone();
    let monero = if carried(&daemon_url) {
        Ok(json!({"node": daemon_url, "skipped": THROUGH_TOR}))
    } else {
        let quick = RpcConfig {
            timeout: Duration::from_secs(10),
            retries: 0,
            ..RpcConfig::default()
        };
        async {
            let daemon = DaemonClient::new(&daemon_url, quick).map_err(|e| e.to_string())?;
            let info = daemon.info().await.map_err(|e| e.to_string())?;
            monero_verdict(&info)?;
            Ok(json!({"node": daemon_url, "height": info.height}))
        }
        .await
    };

    let wallet_rpc = confiaro_monero::process::locate_binary(
        "monero-wallet-rpc",
        &config.monero.wallet_rpc_binary,
    )
    .await
    .map(|found| json!({"path": found.path, "version": found.version}))
    .map_err(|e| e.to_string());

    let report = json!({
        "network": network.name(),
        "bitcoin": part(bitcoin),
        "monero": part(monero),
        "wallet_rpc": part(wallet_rpc),
    });
    let ok = ["bitcoin", "monero", "wallet_rpc"]
        .iter()
        .all(|name| report[name]["ok"] == true);
    if out.json() {
        let mut report = report;
        report["ok"] = json!(ok);
        out.result(&report, "");
    } else {
        out.info(&format!("network: {}", network.name()));
        for name in ["bitcoin", "monero", "wallet_rpc"] {
            let entry = &report[name];
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
