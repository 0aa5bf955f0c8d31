//! The audit log: append-only, hash-chained evidence of what the engine did (state changes,
//! timeouts, verification outcomes).
//!
//! Each entry's detail (txids, addresses, amounts) is stored sealed by the [`Vault`], bound
//! to the entry's id (associated data `"confiaro/audit-detail/v1" || id (i64, big-endian)`);
//! id, time, swap id and kind are in clear. Entries appended by a version that did not seal
//! them (ids before [`Vault::clear_audit_before`]) stay in clear: the log is never rewritten.
//! The hash covers the detail's plaintext, so reading or verifying the log needs the vault.
//!
//! Each entry's `hash` covers the previous entry's hash, so editing, deleting or inserting a
//! row out of band breaks the chain from that row on, and [`Store::verify_audit_log`] names
//! the first entry that no longer matches. Database triggers refuse UPDATE and DELETE on the
//! table; the chain is what catches someone who drops them. Ids are never reused (SQLite's
//! `AUTOINCREMENT` record, or its PostgreSQL twin kept by a trigger, holds the highest id ever
//! inserted), so a deleted entry shows as a gap in the ids, even at the end of the log.
//! Keep the returned [`AuditCheck::head`] somewhere else to pin the whole log, tail included.
//!
//! # Hash encoding (version 1)
//!
//! `hash = SHA-256(m)` where `m` is the concatenation of:
//!
//! | field | encoding |
//! |---|---|
//! | domain tag | the 17 ASCII bytes `confiaro/audit/v1` |
//! | `prev_hash` | 32 bytes; 32 zero bytes for the first entry |
//! | `id` | i64, big-endian, 8 bytes |
//! | `at_ms` | i64, big-endian, 8 bytes (Unix milliseconds) |
//! | `swap_id` | 32 bytes; 32 zero bytes when the entry has none |
//! | swap flag | 1 byte: 1 if the entry has a swap id, 0 if not |
//! | `kind` | its UTF-8 length as u64 big-endian, then its UTF-8 bytes |
//! | `detail` | the length of its canonical JSON text as u64 big-endian, then that text |
//!
//! The canonical JSON text of a value is compact (no whitespace), with every object's keys
//! sorted by their UTF-8 bytes, strings escaped and numbers written as serde_json writes them.
//! It is also exactly what the `detail` column holds once opened, and [`audit_entry_hash`]
//! computes `hash` for anyone who wants to check an exported log.
//!
//! Appends are serialized across all clones of a [`Store`] (an async mutex) and across
//! processes (the database's write lock, taken before the last hash is read), so the chain
//! never forks; `UNIQUE (prev_hash)` makes the database refuse a fork as well.

use confiaro_protocol::SwapId;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::swaps::parse_swap_id;
use crate::{now_ms, Store, StoreError, Vault};

const DOMAIN: &[u8] = b"confiaro/audit/v1";
const DETAIL_CONTEXT: &[u8] = b"confiaro/audit-detail/v1";

/// The associated data of entry `id`'s sealed detail.
fn detail_context(id: i64) -> Vec<u8> {
    let mut context = DETAIL_CONTEXT.to_vec();
    context.extend_from_slice(&id.to_be_bytes());
    context
}
/// The `prev_hash` of the first entry.
const GENESIS: [u8; 32] = [0; 32];
/// Rows read per query while verifying.
const VERIFY_PAGE: i64 = 1000;

/// One audit log entry. hash = SHA-256 over a fixed, documented encoding of
/// (prev_hash, id, at_ms, swap_id or 32 zero bytes + a flag, kind, detail's canonical JSON text).
/// The first entry's prev_hash is 32 zero bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, never reused.
    pub id: i64,
    /// When it was appended (Unix milliseconds).
    pub at_ms: i64,
    /// The swap it is about, if any.
    pub swap_id: Option<SwapId>,
    /// What happened (e.g. `state`, `timeout`, `verification`).
    pub kind: String,
    /// The details (no secrets: they are shown to the user and exported in receipts).
    pub detail: Value,
    /// The previous entry's hash (32 zero bytes for the first).
    pub prev_hash: [u8; 32],
    /// This entry's hash (see the module docs).
    pub hash: [u8; 32],
}

/// The outcome of a successful [`Store::verify_audit_log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCheck {
    /// Number of entries checked.
    pub entries: u64,
    /// The last entry's hash (32 zero bytes for an empty log).
    pub head: [u8; 32],
}

/// Writes `value` as canonical JSON (see the module docs) to `out`.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a string always serializes"));
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => {
            out.push_str(&serde_json::to_string(scalar).expect("a JSON scalar always serializes"))
        }
    }
}

/// The canonical JSON text of `value` (see the module docs).
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// The hash of an audit entry, from its fields and the canonical JSON text of its detail
/// (the encoding is in the module docs).
pub fn audit_entry_hash(
    prev_hash: &[u8; 32],
    id: i64,
    at_ms: i64,
    swap_id: Option<&SwapId>,
    kind: &str,
    detail_json: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev_hash);
    h.update(id.to_be_bytes());
    h.update(at_ms.to_be_bytes());
    match swap_id {
        Some(swap_id) => {
            h.update(swap_id.0);
            h.update([1]);
        }
        None => {
            h.update([0u8; 32]);
            h.update([0]);
        }
    }
    h.update((kind.len() as u64).to_be_bytes());
    h.update(kind.as_bytes());
    h.update((detail_json.len() as u64).to_be_bytes());
    h.update(detail_json.as_bytes());
    h.finalize().into()
}

/// An audit row as stored, before its detail is parsed.
struct RawEntry {
    id: i64,
    at_ms: i64,
    swap_id: Option<String>,
    kind: String,
    detail: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

const COLUMNS: &str = "id, at_ms, swap_id, kind, detail, prev_hash, hash";

fn raw_from_row(row: &AnyRow) -> Result<RawEntry, StoreError> {
    Ok(RawEntry {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        swap_id: row.try_get("swap_id")?,
        kind: row.try_get("kind")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl RawEntry {
    /// Opens the detail in place: sealed from [`Vault::clear_audit_before`] on, in clear
    /// before it.
    fn open_detail(&mut self, vault: &Vault) -> Result<(), StoreError> {
        if self.id >= vault.clear_audit_before() {
            self.detail = vault.open_text(&detail_context(self.id), &self.detail)?;
        }
        Ok(())
    }

    fn decode(mut self, vault: &Vault) -> Result<AuditEntry, StoreError> {
        self.open_detail(vault)?;
        let id = self.id;
        let corrupt = |what: &str| StoreError::Corrupt {
            what: format!("audit entry {id}: {what}"),
        };
        Ok(AuditEntry {
            id,
            at_ms: self.at_ms,
            swap_id: match &self.swap_id {
                Some(text) => Some(parse_swap_id(text).ok_or_else(|| corrupt("bad swap id"))?),
                None => None,
            },
            kind: self.kind,
            detail: serde_json::from_str(&self.detail)
                .map_err(|_| corrupt("the detail is not JSON"))?,
            prev_hash: self
                .prev_hash
                .try_into()
                .map_err(|_| corrupt("prev_hash is not 32 bytes"))?,
            hash: self
                .hash
                .try_into()
                .map_err(|_| corrupt("hash is not 32 bytes"))?,
        })
    }
}

impl Store {
    /// Appends an entry (state changes, timeouts, verification outcomes), its detail sealed
    /// by `vault`. Serialized across all clones of the Store (concurrent swaps append at
    /// once), so the chain never forks. `detail` must contain no secrets (it is evidence,
    /// shown to the user and exported in receipts).
    ///
    /// Durable when it returns `Ok`; returns the entry as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the last entry's hash is malformed;
    /// [`StoreError::Database`].
    pub async fn append_audit(
        &self,
        vault: &Vault,
        swap_id: Option<&SwapId>,
        kind: &str,
        detail: Value,
    ) -> Result<AuditEntry, StoreError> {
        let detail_json = canonical_json(&detail);
        let _appending = self.audit_lock.lock().await;
        let mut tx = self.begin_write().await?;
        let next_id = self.next_audit_id(&mut tx).await?;
        let last: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let prev_hash: [u8; 32] = match last {
            Some((last_id, hash)) => hash.try_into().map_err(|_| StoreError::Corrupt {
                what: format!("audit entry {last_id}: hash is not 32 bytes"),
            })?,
            None => GENESIS,
        };
        let at_ms = now_ms();
        let hash = audit_entry_hash(&prev_hash, next_id, at_ms, swap_id, kind, &detail_json);
        sqlx::query(
            "INSERT INTO audit_log (id, at_ms, swap_id, kind, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(next_id)
        .bind(at_ms)
        .bind(swap_id.map(|s| s.to_string()))
        .bind(kind)
        .bind(vault.seal_text(&detail_context(next_id), &detail_json))
        .bind(prev_hash.as_slice())
        .bind(hash.as_slice())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AuditEntry {
            id: next_id,
            at_ms,
            swap_id: swap_id.copied(),
            kind: kind.to_owned(),
            detail,
            prev_hash,
            hash,
        })
    }

    /// The id the next appended entry gets: ids are never reused, so one after the highest
    /// id ever handed out.
    pub(crate) async fn next_audit_id(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<i64, StoreError> {
        let highest: Option<i64> = sqlx::query_scalar(self.backend.highest_audit_id())
            .fetch_optional(&mut *conn)
            .await?;
        let max_id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_log")
            .fetch_one(&mut *conn)
            .await?;
        Ok(highest.unwrap_or(0).max(max_id.unwrap_or(0)) + 1)
    }

    /// Entries oldest first, all or one swap's, their details opened with `vault`.
    ///
    /// This reads the entries as stored; it does not verify the chain
    /// ([`Store::verify_audit_log`] does).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a row does not decode; [`StoreError::Decrypt`] if a
    /// sealed detail does not open; [`StoreError::Database`].
    pub async fn audit_entries(
        &self,
        vault: &Vault,
        swap_id: Option<&SwapId>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = match swap_id {
            Some(swap_id) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM audit_log WHERE swap_id = $1 ORDER BY id"
                )))
                .bind(swap_id.to_string())
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM audit_log ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|row| raw_from_row(row)?.decode(vault))
            .collect()
    }

    /// Recomputes the whole chain. StoreError::AuditBroken { id, reason } at the first entry
    /// whose hash or link does not match (a row edited, deleted or inserted out of band).
    ///
    /// Checks, entry by entry in id order: the ids are consecutive from 1 (a gap means
    /// deleted entries, reported at the entry after the gap), `prev_hash` is the previous
    /// entry's `hash` (zeros for the first), and `hash` matches the entry's contents; and at
    /// the end, that no entry after the last one was deleted. A sealed detail that does not
    /// open with `vault` (altered, or moved from another entry) breaks the chain there.
    ///
    /// # Errors
    ///
    /// [`StoreError::AuditBroken`]; [`StoreError::Database`].
    pub async fn verify_audit_log(&self, vault: &Vault) -> Result<AuditCheck, StoreError> {
        let broken = |id: i64, reason: String| StoreError::AuditBroken { id, reason };
        // one read transaction: a consistent snapshot even while others append
        let mut snapshot = self.pool.begin_with(self.backend.begin_snapshot()).await?;
        let mut expected_prev = GENESIS;
        let mut last_id = 0i64;
        let mut entries = 0u64;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2"
            )))
            .bind(last_id)
            .bind(VERIFY_PAGE)
            .fetch_all(&mut *snapshot)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let mut raw = raw_from_row(row)?;
                let id = raw.id;
                if id != last_id + 1 {
                    let reason = if last_id == 0 {
                        format!("entries 1 to {} are missing", id - 1)
                    } else {
                        format!("entries {} to {} are missing", last_id + 1, id - 1)
                    };
                    return Err(broken(id, reason));
                }
                if raw.prev_hash.as_slice() != expected_prev.as_slice() {
                    let reason = if last_id == 0 {
                        "the first entry does not start from the genesis hash".to_owned()
                    } else {
                        format!("prev_hash does not link to entry {last_id}")
                    };
                    return Err(broken(id, reason));
                }
                raw.open_detail(vault).map_err(|_| {
                    broken(
                        id,
                        "the detail does not open: altered, or moved from another entry".to_owned(),
                    )
                })?;
                let swap_id = match &raw.swap_id {
                    Some(text) => Some(
                        parse_swap_id(text)
                            .ok_or_else(|| broken(id, "the swap id is malformed".to_owned()))?,
                    ),
                    None => None,
                };
                let computed = audit_entry_hash(
                    &expected_prev,
                    id,
                    raw.at_ms,
                    swap_id.as_ref(),
                    &raw.kind,
                    &raw.detail,
                );
                if raw.hash.as_slice() != computed.as_slice() {
                    return Err(broken(
                        id,
                        "the hash does not match the entry's contents".to_owned(),
                    ));
                }
                expected_prev = computed;
                last_id = id;
                entries += 1;
            }
        }
        let highest: Option<i64> = sqlx::query_scalar(self.backend.highest_audit_id())
            .fetch_optional(&mut *snapshot)
            .await?;
        snapshot.rollback().await?;
        if let Some(highest) = highest {
            if highest > last_id {
                let reason = if last_id == 0 {
                    format!("all {highest} entries are missing")
                } else {
                    format!("entries after {last_id} up to {highest} are missing")
                };
                return Err(broken(highest, reason));
            }
        }
        Ok(AuditCheck {
            entries,
            head: expected_prev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_has_no_whitespace() {
        let value = json!({"b": [1, {"z": null, "a": "x\"y"}], "a": true, "é": 1.5, "B": -2});
        assert_eq!(
            canonical_json(&value),
            r#"{"B":-2,"a":true,"b":[1,{"a":"x\"y","z":null}],"é":1.5}"#
        );
        let reparsed: Value = serde_json::from_str(&canonical_json(&value)).unwrap();
        assert_eq!(reparsed, value);
        assert_eq!(canonical_json(&reparsed), canonical_json(&value));
    }

    #[test]
    fn the_hash_covers_every_field() {
        let id = SwapId([3; 32]);
        let base = audit_entry_hash(&[1; 32], 5, 1000, Some(&id), "state", "{}");
        let variants = [
            audit_entry_hash(&[2; 32], 5, 1000, Some(&id), "state", "{}"),
            audit_entry_hash(&[1; 32], 6, 1000, Some(&id), "state", "{}"),
            audit_entry_hash(&[1; 32], 5, 1001, Some(&id), "state", "{}"),
            audit_entry_hash(&[1; 32], 5, 1000, Some(&SwapId([4; 32])), "state", "{}"),
            audit_entry_hash(&[1; 32], 5, 1000, None, "state", "{}"),
            audit_entry_hash(&[1; 32], 5, 1000, Some(&SwapId([0; 32])), "state", "{}"),
            audit_entry_hash(&[1; 32], 5, 1000, Some(&id), "states", "{}"),
            audit_entry_hash(&[1; 32], 5, 1000, Some(&id), "state", "[]"),
            // the length prefixes keep kind and detail apart
            audit_entry_hash(&[1; 32], 5, 1000, Some(&id), "state{", "}"),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // no swap and the all-zero swap id are told apart by the flag
        assert_ne!(
            audit_entry_hash(&[0; 32], 1, 0, None, "k", "{}"),
            audit_entry_hash(&[0; 32], 1, 0, Some(&SwapId([0; 32])), "k", "{}")
        );
    }
}
