//! Confiaro's persistent store.
//!
//! One SQLite database (through sqlx) holds the app's durable state. The schema lives in the
//! repository's `migrations/` directory and is embedded in this crate; [`Store::open`] applies
//! any pending migration before it returns.
//!
//! For now the store keeps the Bitcoin wallet's data: `bdk_wallet` [`ChangeSet`]s, appended
//! as serde_json rows (BDK's own rusqlite store is not used, its SQLite links conflict with
//! sqlx's). A wallet's state is the in-order [`Merge`] of all of its rows.

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use bdk_wallet::chain::Merge;
use bdk_wallet::ChangeSet;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
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
}

/// A handle to the app's database. Cheap to clone (a connection pool); all clones share
/// the same database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens the SQLite database at `path`, creating the file if it does not exist, in WAL
    /// journal mode, and applies all pending migrations.
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
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
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
