//! What the command prints: text and progress bars for people, or one JSON object per line
//! (`--json`) for scripts and tests. Errors go to standard error in both cases.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confiaro_orchestrator::progress::Waiting;
use confiaro_orchestrator::{EngineEvent, SwapEventKind, SwapProgress};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// The printer of one command run.
#[derive(Clone)]
pub(crate) struct Output {
    json: bool,
    /// Progress bars only on a terminal; elsewhere progress is printed as lines.
    terminal: bool,
    bar: Arc<Mutex<Option<ProgressBar>>>,
    last_progress: Arc<Mutex<String>>,
}

impl Output {
    pub(crate) fn new(json: bool) -> Output {
        use std::io::IsTerminal as _;
        Output {
            json,
            terminal: std::io::stdout().is_terminal(),
            bar: Arc::new(Mutex::new(None)),
            last_progress: Arc::new(Mutex::new(String::new())),
        }
    }

    pub(crate) fn json(&self) -> bool {
        self.json
    }

    fn println(&self, line: &str) {
        let bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match bar.as_ref() {
            Some(bar) => bar.println(line),
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
            }
        }
    }

    /// A line of text (nothing in JSON mode).
    pub(crate) fn info(&self, text: &str) {
        if !self.json {
            self.println(text);
        }
    }

    /// A result: `value` as a JSON line, or `text`.
    pub(crate) fn result<T: Serialize>(&self, value: &T, text: &str) {
        if self.json {
            let line = serde_json::to_string(value).expect("results serialize");
            self.println(&line);
        } else {
            self.println(text);
        }
    }

    /// A command's failure with its causes, on standard error (see [`error_text`]).
    pub(crate) fn failure(&self, error: &anyhow::Error) {
        self.error(&error_text(error));
    }

    /// An error, on standard error.
    pub(crate) fn error(&self, text: &str) {
        self.finish_bar();
        if self.json {
            eprintln!("{}", serde_json::json!({"error": text}));
        } else {
            eprintln!("error: {text}");
        }
    }

    /// An engine event: as a JSON line, or as text and progress.
    pub(crate) fn event(&self, event: &EngineEvent, prefix: &str) {
        if self.json {
            let line = serde_json::to_string(event).expect("events serialize");
            self.println(&line);
            return;
        }
        match event {
            EngineEvent::Swap(e) => {
                let id = &e.swap_id[..8];
                match &e.kind {
                    SwapEventKind::Progress { progress } => self.progress(prefix, id, progress),
                    SwapEventKind::StateChanged { .. } => {}
                    SwapEventKind::Rejected { reason } => {
                        self.println(&format!("{prefix}[{id}] refused an input: {reason}"))
                    }
                    SwapEventKind::PeerRefused { reason } => self.println(&format!(
                        "{prefix}[{id}] the peer refused our message: {reason}"
                    )),
                    SwapEventKind::Published { tx, txid } => {
                        self.println(&format!("{prefix}[{id}] published {tx:?} {txid}"))
                    }
                    SwapEventKind::FeeBumped {
                        tx,
                        child_txid,
                        package_sat_per_vb,
                        ..
                    } => self.println(&format!(
                        "{prefix}[{id}] {tx:?} waits: child {child_txid} pays for it ({package_sat_per_vb} sat/vB together)"
                    )),
                    SwapEventKind::Problem { message } => {
                        self.println(&format!("{prefix}[{id}] {message}"))
                    }
                    SwapEventKind::Finished { phase, state } => {
                        self.finish_bar();
                        self.println(&format!("{prefix}[{id}] finished: {phase:?} ({state})"));
                    }
                }
            }
            EngineEvent::BitcoinTip { .. } => {}
            EngineEvent::Warning { message } => {
                self.println(&format!("{prefix}warning: {message}"))
            }
        }
    }

    fn progress(&self, prefix: &str, id: &str, progress: &SwapProgress) {
        let mut message = format!("{prefix}[{id}] {:?}: {}", progress.phase, progress.step);
        if let Some(deadline) = &progress.deadline {
            message.push_str(&format!(
                " — {} in {} blocks (~{} min); then the app will {}",
                deadline.what,
                deadline.blocks,
                deadline.eta_seconds.div_ceil(60),
                deadline.automatic
            ));
        }
        if !self.terminal {
            if let Some(Waiting::Confirmations {
                what, have, need, ..
            }) = &progress.waiting
            {
                message.push_str(&format!(" [{what}: {have}/{need} confirmations]"));
            }
            let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
            if *last != message {
                self.println(&message);
                *last = message;
            }
            return;
        }
        let mut guard = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        let bar = guard.get_or_insert_with(|| {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        match &progress.waiting {
            Some(Waiting::Confirmations {
                what, have, need, ..
            }) => {
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg}\n  {bar:30} {pos}/{len} confirmations of the {prefix}",
                    )
                    .expect("a valid template"),
                );
                bar.set_prefix(what.clone());
                bar.set_length(u64::from(*need));
                bar.set_position(u64::from(*have));
            }
            _ => bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
            ),
        }
        bar.set_message(message);
    }

    pub(crate) fn finish_bar(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// The text of an error and its causes, each said once.
///
/// The project's error types already end their message with their source's text (so that
/// `to_string()` alone is complete), while `anyhow` context layers do not: a cause is
/// appended only when the text so far does not already end with it.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_text;
    use anyhow::Context;

    #[derive(Debug, thiserror::Error)]
    #[error("refused by the peer: {reason}")]
    struct Refused {
        reason: String,
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("{0}")]
        Send(#[from] Refused),
        #[error("store: {0}")]
        Store(#[source] Refused),
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once_and_context_is_kept() {
        let refused = || Refused {
            reason: "not quoting".into(),
        };
        let plain = anyhow::Error::from(Outer::Send(refused()));
        assert_eq!(error_text(&plain), "refused by the peer: not quoting");
        let prefixed: anyhow::Result<()> =
            Err(Outer::Store(refused())).context("cannot open the data directory");
        assert_eq!(
            error_text(&prefixed.unwrap_err()),
            "cannot open the data directory: store: refused by the peer: not quoting"
        );
        let bare = anyhow::anyhow!("no wallet").context("swap buy-xmr");
        assert_eq!(error_text(&bare), "swap buy-xmr: no wallet");
    }
}
