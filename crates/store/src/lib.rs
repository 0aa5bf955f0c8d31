//! Confiaro's persistent store.
//!
//! One database (through sqlx) holds the app's durable state: a SQLite file by default
//! ([`Store::open`]), or a PostgreSQL database for makers who want one ([`Store::connect`] with
//! a `postgres://` URL). Both run the same queries (sqlx's `Any` driver, `$N` placeholders)
//! against the same tables; each has its own migrations, embedded in this crate from the
//! repository's `migrations/sqlite/` and `migrations/postgres/` directories, and applied
//! before `open`/`connect` return. SQLite connections run in WAL mode with
//! `synchronous = FULL`, so a write that returned `Ok` survives a power cut; PostgreSQL's
//! durability is the server's (`fsync`, `synchronous_commit`).
//!
//! What it keeps:
//!
//! - the Bitcoin wallet's data: `bdk_wallet` [`ChangeSet`]s, appended as serde_json rows
//!   sealed by the vault (they hold the xpub, addresses and transactions; BDK's own rusqlite
//!   store is not used, its SQLite links conflict with sqlx's). A wallet's state is the
//!   in-order [`Merge`] of all of its rows; [`WalletPersister`] is BDK's async persister over
//!   them;
//! - the [`vault`]: a random data key, wrapped under a key derived from the user's password
//!   (argon2id), that seals every secret the store holds, starting with the wallet secret;
//! - [`swaps`]: one summary row per swap (its addresses sealed), its current
//!   [`confiaro_protocol::SwapState`] (sealed) and the append-only history of every state it
//!   was saved in;
//! - [`peers`]: known counterparties and their addresses;
//! - the [`audit`] log: append-only, hash-chained evidence of what happened, each entry's
//!   detail sealed.
//!
//! Secrets never leave the vault unsealed: the database holds no key, seed, mnemonic or
//! password in the clear (`tests/secrets.rs` scans the SQLite files), and none of the
//! wallet's addresses, transactions or xpub either (someone who copies the data directory
//! learns which swaps ran, when, their amounts and counterparties' peer ids, not which coins
//! they moved). SQLite runs with `secure_delete`, so rows rewritten sealed leave no copy in
//! clear in free pages. Errors never carry secret data, nor the password of a database URL.
//!
//! The history and the audit log are append-only, enforced by triggers in both databases.
//! Everything that reads and then writes runs in a write transaction that first takes the
//! database's one write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped
//! advisory lock), so concurrent writers (other clones of the [`Store`], or other processes)
//! queue instead of failing or interleaving.
#![warn(unreachable_pub)]
#![forbid(unsafe_code)]

pub mod audit;
pub mod peers;
pub mod swaps;
pub mod vault;
pub mod wallet;

pub use audit::{audit_entry_hash, AuditCheck, AuditEntry};
pub use peers::PeerRecord;
pub use swaps::{NewSwap, StateEntry, SwapRecord};
pub use vault::{KdfParams, Vault};
pub use wallet::WalletPersister;
pub use zeroize::Zeroizing;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bdk_wallet::chain::Merge;
use bdk_wallet::ChangeSet;
use confiaro_protocol::{Phase, SwapId};
use sqlx::any::{Any, AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::AnyPool;
use sqlx::{ConnectOptions, Executor, Row};

/// The SQLite schema: the repository's `migrations/sqlite/` directory, embedded at build time.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The PostgreSQL schema (the same tables as SQLite's): `migrations/postgres/`.
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The associated-data prefix of a sealed wallet changeset (see [`changeset_context`]).
const CHANGESET_CONTEXT: &[u8] = b"confiaro/wallet-changeset/v1";

/// The key of the PostgreSQL advisory lock that write transactions take (any constant; this
/// one is the 8 ASCII bytes of "confiaro", big-endian).
const POSTGRES_WRITE_LOCK: i64 = 0x636f_6e66_6961_726f;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// [`Store::connect`] was given a URL it cannot use. The reason never contains the URL's
    /// password.
    #[error("invalid database URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
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

/// The database behind a [`Store`]. The queries are the same for both; only how a
/// transaction takes the write lock and where the audit id high-water mark lives differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The statement that begins a write transaction holding the database's one write lock.
    ///
    /// SQLite: `BEGIN IMMEDIATE` (a deferred transaction could not upgrade its read snapshot
    /// once another connection has written, and would fail instead of waiting). PostgreSQL:
    /// a read-committed transaction that first waits for a transaction-scoped advisory lock,
    /// so every later statement sees what the previous holder committed.
    fn begin_write(self) -> String {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            Backend::Postgres => {
                format!("BEGIN; SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})")
            }
        }
    }

    /// The statement that begins a read-only transaction whose reads all see one snapshot.
    fn begin_snapshot(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// A query for the highest audit id ever inserted (no row before the first append):
    /// SQLite's AUTOINCREMENT bookkeeping, or its PostgreSQL twin kept by a trigger.
    fn highest_audit_id(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
            Backend::Postgres => "SELECT seq FROM audit_log_sequence WHERE name = 'audit_log'",
        }
    }
}

/// A handle to the app's database. Cheap to clone (a connection pool and an `Arc`); all
/// clones share the same database. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Serializes audit-log appends across clones (the database's write lock does so across
    /// processes; this keeps in-process appenders from queueing on it).
    audit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Opens the SQLite database at `path`, creating the file if it does not exist, in WAL
    /// journal mode with `synchronous = FULL` (a commit is on disk when it returns), and
    /// applies all pending migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidUrl`] if the path is not valid UTF-8;
    /// [`StoreError::Database`] if the file cannot be opened or created;
    /// [`StoreError::Migrate`] if a migration fails or the database was migrated by a newer
    /// build.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if path.to_str().is_none() {
            return Err(StoreError::InvalidUrl {
                reason: format!("the SQLite path {} is not valid UTF-8", path.display()),
            });
        }
        let url = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .to_url_lossy();
        Store::connect_to(Backend::Sqlite, url.as_str()).await
    }

    /// Opens the database at `url`, and applies all pending migrations:
    ///
    /// - `sqlite://PATH` (or `sqlite:PATH`): a SQLite file, created if missing, as
    ///   [`Store::open`] opens it (`sqlite://data/app.sqlite` is relative,
    ///   `sqlite:///var/lib/app.sqlite` absolute);
    /// - `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`, with sqlx's query
    ///   parameters such as `sslmode`): an existing PostgreSQL database, on which the store
    ///   creates its own tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidUrl`] for another scheme or a malformed URL (the error never
    /// contains the password); [`StoreError::Database`] if the database cannot be reached;
    /// [`StoreError::Migrate`] if a migration fails or the database was migrated by a newer
    /// build.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            _ => {
                return Err(StoreError::InvalidUrl {
                    reason: "the URL must start with sqlite:// or postgres://".to_owned(),
                })
            }
        };
        if backend == Backend::Sqlite && !url.contains('?') {
            // like `open`: create the file if it does not exist
            return Store::connect_to(backend, &format!("{url}?mode=rwc")).await;
        }
        Store::connect_to(backend, url).await
    }

    /// Connects a pool to `url` (of `backend`), sets SQLite's durability pragmas on every
    /// connection and applies the backend's migrations.
    async fn connect_to(backend: Backend, url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
            reason: without_secrets(&e, url),
        })?;
        let mut pool_options = AnyPoolOptions::new().max_connections(4);
        if backend == Backend::Sqlite {
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| match e {
                sqlx::Error::Configuration(e) => StoreError::InvalidUrl {
                    reason: without_secrets(&*e, url),
                },
                e => StoreError::Database(e),
            })?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            audit_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Begins a transaction that holds the database's write lock (see [`Backend::begin_write`]),
    /// for anything that reads and then writes.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        Ok(self
            .pool
            .begin_with(sqlx::AssertSqlSafe(self.backend.begin_write()))
            .await?)
    }

    /// After rows were rewritten sealed: makes sure no copy in clear stays in the database's
    /// files. SQLite (`secure_delete` zeroes freed space) moves the write-ahead log into the
    /// database and truncates it; PostgreSQL keeps old row versions until its vacuum, which
    /// is the server's.
    async fn forget_old_pages(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_all(&self.pool)
                .await?;
        }
        Ok(())
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
        vault: &Vault,
        wallet_id: &str,
        changeset: &ChangeSet,
    ) -> Result<(), StoreError> {
        if changeset.is_empty() {
            return Ok(());
        }
        let json = Zeroizing::new(serde_json::to_string(changeset).map_err(|source| {
            StoreError::CorruptChangeset {
                wallet: wallet_id.to_owned(),
                id: 0,
                source,
            }
        })?);
        let sealed = vault.seal_text(&changeset_context(wallet_id), &json);
        let now = now_secs();
        sqlx::query(
            "INSERT INTO wallet_changesets (wallet, changeset, created_at) VALUES ($1, $2, $3)",
        )
        .bind(wallet_id)
        .bind(sealed)
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
        vault: &Vault,
        wallet_id: &str,
    ) -> Result<Option<ChangeSet>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, changeset FROM wallet_changesets WHERE wallet = $1 ORDER BY id",
        )
        .bind(wallet_id)
        .fetch_all(&self.pool)
        .await?;
        let mut aggregate: Option<ChangeSet> = None;
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let stored: String = row.try_get("changeset")?;
            let json = Zeroizing::new(vault.open_text(&changeset_context(wallet_id), &stored)?);
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

/// The associated data of wallet `wallet_id`'s sealed changesets: the context, the id's
/// length (u64, big-endian) and the id.
pub(crate) fn changeset_context(wallet_id: &str) -> Vec<u8> {
    let mut context = CHANGESET_CONTEXT.to_vec();
    context.extend_from_slice(&(wallet_id.len() as u64).to_be_bytes());
    context.extend_from_slice(wallet_id.as_bytes());
    context
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

/// The text of `error`, with `url`'s password (if it has one) replaced by `***` should the
/// text quote the URL.
fn without_secrets(error: &dyn std::fmt::Display, url: &str) -> String {
    let text = error.to_string();
    match url_password(url) {
        Some(password) if !password.is_empty() => text.replace(password, "***"),
        _ => text,
    }
}

/// The password in `scheme://user:password@host...`, found without parsing the rest.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    userinfo.split_once(':').map(|(_, password)| password)
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
    fn a_url_password_is_found_and_masked() {
        let url = "postgres://maker:s3cr%40t@db.example:5432/confiaro?sslmode=require";
        assert_eq!(url_password(url), Some("s3cr%40t"));
        assert_eq!(url_password("postgres://maker@db/confiaro"), None);
        assert_eq!(url_password("sqlite:///var/lib/a:b@c.sqlite"), None);
        let masked = without_secrets(&format!("cannot reach {url}"), url);
        assert!(!masked.contains("s3cr%40t"), "{masked}");
        assert!(masked.contains("maker:***@db.example"), "{masked}");
    }

    #[test]
    fn store_and_vault_are_send_sync_and_clone() {
        assert_send_sync_clone::<Store>();
        assert_send_sync_clone::<Vault>();
    }
}
