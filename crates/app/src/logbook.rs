//! The app's log as the Logs screen shows it: the last lines in memory (engine events, start
//! steps, failed commands; never secrets), and a redacted export for bug reports.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::ipc::{Level, LogLine};

/// Lines kept in memory; older ones are dropped.
const CAPACITY: usize = 5_000;

/// What replaces an identifier (address, txid, swap id, peer id, multiaddr) in an export.
const REDACTED_ID: &str = "[redacted]";
/// What replaces an amount in an export.
const REDACTED_AMOUNT: &str = "[amount]";

/// The last [`CAPACITY`] log lines.
#[derive(Default)]
pub(crate) struct Logbook {
    lines: Mutex<VecDeque<LogLine>>,
}

impl Logbook {
    /// Appends a line and returns it (for the `log` event).
    pub(crate) fn push(&self, level: Level, swap_id: Option<String>, message: String) -> LogLine {
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let line = LogLine {
            at_ms: at_ms.to_string(),
            level,
            swap_id,
            message,
        };
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line.clone());
        line
    }

    /// All lines, oldest first.
    pub(crate) fn lines(&self) -> Vec<LogLine> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect()
    }

    /// The log as text with identifiers and amounts replaced; returns it and the number of
    /// replacements.
    pub(crate) fn redacted_text(&self) -> (String, u32) {
        let mut text = String::new();
        let mut count = 0;
        for line in self.lines() {
            let (message, n) = redact(&line.message);
            count += n;
            let swap = if line.swap_id.is_some() {
                count += 1;
                format!(" swap {REDACTED_ID}")
            } else {
                String::new()
            };
            text.push_str(&format!(
                "{} {:?}{swap} {message}\n",
                line.at_ms, line.level
            ));
        }
        (text, count)
    }
}

/// Replaces in `text` every identifier (a run of at least 20 letters, digits or `/.:_-` that
/// holds a digit: addresses, txids, swap and peer ids, multiaddrs) and every amount (a number
/// followed by BTC, XMR, sat or piconero). Returns the text and how many were replaced.
pub(crate) fn redact(text: &str) -> (String, u32) {
    let is_id_char = |c: char| c.is_ascii_alphanumeric() || "/.:_-".contains(c);
    let tokens = split_keeping(text, is_id_char);
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let is_word = token.chars().next().is_some_and(is_id_char);
        if is_word && token.len() >= 20 && token.chars().any(|c| c.is_ascii_digit()) {
            out.push_str(REDACTED_ID);
            count += 1;
        } else if is_word && is_number(token) && unit_follows(&tokens[i + 1..]) {
            out.push_str(REDACTED_AMOUNT);
            count += 1;
        } else {
            out.push_str(token);
        }
        i += 1;
    }
    (out, count)
}

fn is_number(token: &str) -> bool {
    let digits = token.trim_end_matches(['.', ':']);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
}

fn unit_follows(rest: &[&str]) -> bool {
    match rest {
        [space, unit, ..] if space.trim().is_empty() => {
            matches!(
                unit.trim_end_matches(['.', ',', ':', ')']),
                "BTC" | "XMR" | "sat" | "piconero"
            )
        }
        _ => false,
    }
}

/// Splits `text` into maximal runs of characters that are, or are not, `word` characters.
fn split_keeping(text: &str, word: impl Fn(char) -> bool) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (index, c) in text.char_indices() {
        let kind = word(c);
        if current.is_some_and(|k| k != kind) {
            tokens.push(&text[start..index]);
            start = index;
        }
        current = Some(kind);
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_amounts_are_replaced_and_counted() {
        let (text, n) = redact(
            "swap 4f1c2e9a7b3d4f1c2e9a7b3d4f1c2e9a7b3d published lock \
             bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 for 0.01 BTC (12D3KooWAbc123def456ghi789)",
        );
        assert_eq!(
            text,
            "swap [redacted] published lock [redacted] for [amount] BTC ([redacted])"
        );
        assert_eq!(n, 4);
    }

    #[test]
    fn ordinary_words_and_counts_stay() {
        let (text, n) = redact("waiting for 3 of 10 confirmations; block 250 mined");
        assert_eq!(text, "waiting for 3 of 10 confirmations; block 250 mined");
        assert_eq!(n, 0);
    }

    #[test]
    fn the_export_hides_swap_ids_and_keeps_the_order() {
        let book = Logbook::default();
        book.push(Level::Info, None, "started".into());
        book.push(
            Level::Warning,
            Some("ab".repeat(32)),
            "sent 1.5 XMR to 4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge".into(),
        );
        let (text, n) = book.redacted_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("Info started"), "{text}");
        assert!(
            lines[1].ends_with("Warning swap [redacted] sent [amount] XMR to [redacted]"),
            "{text}"
        );
        assert!(!text.contains("abab"));
        assert_eq!(n, 3);
    }

    #[test]
    fn the_oldest_lines_go_first() {
        let book = Logbook::default();
        for i in 0..CAPACITY + 3 {
            book.push(Level::Info, None, format!("line {i}"));
        }
        let lines = book.lines();
        assert_eq!(lines.len(), CAPACITY);
        assert_eq!(lines[0].message, "line 3");
    }
}
