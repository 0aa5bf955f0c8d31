//! Confiaro's persistent store.
//!
//! One SQLite database (through sqlx) holds the app's durable state. The schema lives in the
//! repository's `migrations/` directory and is embedded in this crate; [`Store::open`] applies
//! any pending migration before it returns. Connections run in WAL mode with
//! `synchronous = FULL`, so a write that returned `Ok` survives a power cut.
//!
//! What it keeps:
//!
//! - the Bitcoin wallet's data: `bdk_wallet` [`ChangeSet`]s, appended as serde_json rows
//!   (BDK's own rusqlite store is not used, its SQLite links conflict with sqlx's). A wallet's
//!   state is the in-order [`Merge`] of all of its rows;
//! - the [`vault`]: a random data key, wrapped under a key derived from the user's password
//!   (argon2id), that seals every secret the store holds, starting with the wallet secret;
//! - [`swaps`]: one summary row per swap, its current [`confiaro_protocol::SwapState`]
//!   (sealed) and the append-only history of every state it was saved in;
//! - [`peers`]: known counterparties and their addresses;
//! - the [`audit`] log: plaintext, append-only, hash-chained evidence of what happened.
//!
//! Secrets never leave the vault unsealed: the database files hold no key, seed, mnemonic or
//! password in the clear (`tests/secrets.rs` scans them). Errors never carry secret data.
//!
//! The history and the audit log are append-only, enforced by SQLite triggers; everything that
//! reads and then writes runs in a `BEGIN IMMEDIATE` transaction, so concurrent writers (other
//! clones of the [`Store`], or another process) queue on SQLite's write lock instead of failing.
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod audit;
pub mod peers;
pub mod swaps;
pub mod vault;

pub use audit::{audit_entry_hash, AuditCheck, AuditEntry};
pub use peers::PeerRecord;
pub use swaps::{NewSwap, StateEntry, SwapRecord};
pub use vault::{KdfParams, Vault};
pub use zeroize::Zeroizing;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bdk_wallet::chain::Merge;
use bdk_wallet::ChangeSet;
use confiaro_protocol::{Phase, SwapId};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Row;

/// The migrations in the repository's `migrations/` directory, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, or a query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration could not be applied (or the database has one this build does not know).
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored wallet changeset does not decode (or a changeset does not encode).
    #[error("wallet changeset {id} of wallet {wallet:?} is corrupt: {source}")]
    CorruptChangeset {
        /// The wallet the row belongs to.
        wallet: String,
        /// The row id (0 when encoding a new changeset failed).
        id: i64,
        /// The serde_json error.
        source: serde_json::Error,
    },
    /// [`Store::create_vault`] on a database that already has a vault.
    #[error("a vault already exists")]
    VaultExists,
    /// [`Store::unlock_vault`] or [`Store::change_password`] before a vault was created.
    #[error("no vault has been created")]
    NoVault,
    /// The password does not unlock the vault.
    #[error("wrong password")]
    WrongPassword,
    /// A new password was refused (it is empty).
    #[error("the password is too weak: it must not be empty")]
    WeakPassword,
    /// A [`Vault`] unlocked from another database was used with this one.
    #[error("the vault does not belong to this database")]
    WrongVault,
    /// The key-derivation parameters are invalid, or the derivation could not run.
    #[error("key derivation failed: {reason}")]
    Kdf {
        /// What went wrong (never contains the password).
        reason: String,
    },
    /// A sealed value does not open: wrong key, or the data was altered or moved to another
    /// place than the one it was sealed for.
    #[error("decryption failed: the data was altered, moved or sealed with another key")]
    Decrypt,
    /// [`Store::insert_swap`] with an id that is already stored.
    #[error("swap {swap_id} already exists")]
    SwapExists {
        /// The id.
        swap_id: SwapId,
    },
    /// No swap with this id is stored.
    #[error("unknown swap {swap_id}")]
    UnknownSwap {
        /// The id.
        swap_id: SwapId,
    },
    /// A state saved for a swap does not match the stored swap (another role or other terms).
    #[error(
        "the state does not belong to swap {swap_id}: its {field} differs from the stored swap"
    )]
    SwapMismatch {
        /// The id.
        swap_id: SwapId,
        /// Which field differs (`role`, `network`, `btc_amount` or `xmr_amount`).
        field: &'static str,
    },
    /// A state whose phase is before the stored one; phases only move forward.
    #[error("swap {swap_id} cannot go back from phase {from:?} to phase {to:?}")]
    PhaseRegression {
        /// The id.
        swap_id: SwapId,
        /// The stored phase.
        from: Phase,
        /// The refused phase.
        to: Phase,
    },
    /// The audit log's hash chain does not verify at entry `id`: a row was edited, deleted or
    /// inserted out of band.
    #[error("the audit log is broken at entry {id}: {reason}")]
    AuditBroken {
        /// The first entry found wrong (for missing entries: the one after the gap).
        id: i64,
        /// What does not match.
        reason: String,
    },
    /// A stored row does not decode (an unknown enum name, a bad length, a state that does
    /// not deserialize). The description names the row, never its secret contents.
    #[error("corrupt data in the database: {what}")]
    Corrupt {
        /// Which row and what is wrong with it.
        what: String,
    },
    /// A value does not fit in the database's integer columns (an amount above `i64::MAX`).
    #[error("{what} is too large to store")]
    OutOfRange {
        /// The value's name.
        what: &'static str,
    },
}

/// A handle to the app's database. Cheap to clone (a connection pool and an `Arc`); all
/// clones share the same database. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Serializes audit-log appends across clones (SQLite's write lock does so across
    /// processes; this keeps in-process appenders from spinning on it).
    audit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Opens the SQLite database at `path`, creating the file if it does not exist, in WAL
    /// journal mode with `synchronous = FULL` (a commit is on disk when it returns), and
    /// applies all pending migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the file cannot be opened or created;
    /// [`StoreError::Migrate`] if a migration fails or the database was migrated by a newer
    /// build.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path.as_ref())
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store {
            pool,
            audit_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Begins a transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), for
    /// anything that reads and then writes: a deferred transaction could not upgrade its read
    /// snapshot once another connection has written, and would fail instead of waiting.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Closes the pool, waiting for connections to be returned. Dropping the store also
    /// closes it, without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Appends `changeset` to the rows of wallet `wallet_id`. An empty changeset is not
    /// stored. Once this returns `Ok`, the row is durable and [`Store::load_wallet_changeset`]
    /// includes it.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptChangeset`] if the changeset does not serialize;
    /// [`StoreError::Database`] if the insert fails.
    pub async fn append_wallet_changeset(
        &self,
        wallet_id: &str,
        changeset: &ChangeSet,
    ) -> Result<(), StoreError> {
        if changeset.is_empty() {
            return Ok(());
        }
        let json =
            serde_json::to_string(changeset).map_err(|source| StoreError::CorruptChangeset {
                wallet: wallet_id.to_owned(),
                id: 0,
                source,
            })?;
        let now = now_secs();
        sqlx::query(
            "INSERT INTO wallet_changesets (wallet, changeset, created_at) VALUES (?, ?, ?)",
        )
        .bind(wallet_id)
        .bind(json)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The aggregate changeset of wallet `wallet_id`: all its rows merged in insertion
    /// order, or `None` if the wallet has no rows (a new wallet).
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptChangeset`] if a row does not decode;
    /// [`StoreError::Database`] if the query fails.
    pub async fn load_wallet_changeset(
        &self,
        wallet_id: &str,
    ) -> Result<Option<ChangeSet>, StoreError> {
        let rows =
            sqlx::query("SELECT id, changeset FROM wallet_changesets WHERE wallet = ? ORDER BY id")
                .bind(wallet_id)
                .fetch_all(&self.pool)
                .await?;
        let mut aggregate: Option<ChangeSet> = None;
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let json: String = row.try_get("changeset")?;
            let changeset: ChangeSet =
                serde_json::from_str(&json).map_err(|source| StoreError::CorruptChangeset {
                    wallet: wallet_id.to_owned(),
                    id,
                    source,
                })?;
            match &mut aggregate {
                Some(agg) => agg.merge(changeset),
                None => aggregate = Some(changeset),
            }
        }
        Ok(aggregate)
    }
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether `error` is a violated UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn store_and_vault_are_send_sync_and_clone() {
        assert_send_sync_clone::<Store>();
        assert_send_sync_clone::<Vault>();
    }
}
