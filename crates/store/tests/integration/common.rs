//! Helpers shared by the store's integration tests: real protocol machines, cheap KDF
//! parameters, a test database on either backend ([`TestDb`], with [`both_backends!`] to run
//! one test body on each) and raw connections to it (to play the attacker).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, ScriptBuf, WPubkeyHash};
use confiaro_protocol::alice::Alice;
use confiaro_protocol::bob::Bob;
use confiaro_protocol::keys::{SwapEntropy, SwapSecrets, WalletSeed};
use confiaro_protocol::machine::{Action, Command, Input};
use confiaro_protocol::messages::{self, SwapTerms};
use confiaro_protocol::{Network, Role, SwapId, SwapState, Timestamp, XmrAmount};
use confiaro_store::{KdfParams, Store, Vault};
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::AnyPool;
use sqlx::ConnectOptions;

use confiaro_testkit::postgres::PgServer;

/// Generates, for each named test body (an `async fn(TestDb)`), a test on a fresh SQLite
/// file (`sqlite::NAME`) and one on a fresh database of a throwaway PostgreSQL server
/// (`postgres::NAME`).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::common::TestDb::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::common::TestDb::postgres().await).await
                }
            )*
        }
    };
}

/// Which database a [`TestDb`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database on a throwaway PostgreSQL server.
    Postgres,
}

/// Where a [`TestDb`] lives; shared by the databases [`TestDb::another`] creates.
enum Home {
    Sqlite(Arc<tempfile::TempDir>),
    Postgres(Arc<PgServer>),
}

/// An empty database for one test, removed (file or server) when the last handle on its
/// directory or server is dropped.
pub struct TestDb {
    /// The backend.
    pub backend: Backend,
    /// The SQLite file, for SQLite.
    pub path: Option<PathBuf>,
    /// The URL that [`Store::connect`] takes.
    pub url: String,
    home: Home,
}

/// Numbers SQLite files in one directory.
static NEXT_FILE: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A fresh SQLite file.
    pub async fn sqlite() -> TestDb {
        TestDb::sqlite_in(Arc::new(tempfile::tempdir().unwrap()))
    }

    fn sqlite_in(dir: Arc<tempfile::TempDir>) -> TestDb {
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = dir.path().join(format!("app{n}.sqlite"));
        TestDb {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            path: Some(path),
            home: Home::Sqlite(dir),
        }
    }

    /// A fresh database on a new throwaway PostgreSQL server.
    pub async fn postgres() -> TestDb {
        let server = Arc::new(PgServer::start().await);
        TestDb::postgres_on(server).await
    }

    async fn postgres_on(server: Arc<PgServer>) -> TestDb {
        TestDb {
            backend: Backend::Postgres,
            url: server.create_database().await,
            path: None,
            home: Home::Postgres(server),
        }
    }

    /// Another fresh database on the same backend (same directory or server).
    pub async fn another(&self) -> TestDb {
        match &self.home {
            Home::Sqlite(dir) => TestDb::sqlite_in(dir.clone()),
            Home::Postgres(server) => TestDb::postgres_on(server.clone()).await,
        }
    }

    /// Opens a store on it: [`Store::open`] on the SQLite file, [`Store::connect`] on the
    /// PostgreSQL URL.
    pub async fn open(&self) -> Store {
        match &self.path {
            Some(path) => Store::open(path).await.unwrap(),
            None => Store::connect(&self.url).await.unwrap(),
        }
    }

    /// A raw connection pool to the same database, for SQL the store's API does not allow
    /// (tampering, checking triggers). Queries use `$N` placeholders.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.path {
            Some(path) => SqliteConnectOptions::new()
                .filename(path)
                .to_url_lossy()
                .to_string(),
            None => self.url.clone(),
        };
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap()
    }

    /// Drops the triggers that make the audit log append-only, as an attacker with write
    /// access to the database can.
    pub async fn drop_audit_triggers(&self, raw: &AnyPool) {
        for trigger in ["audit_log_no_update", "audit_log_no_delete"] {
            let sql = match self.backend {
                Backend::Sqlite => format!("DROP TRIGGER {trigger}"),
                Backend::Postgres => format!("DROP TRIGGER {trigger} ON audit_log"),
            };
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(raw)
                .await
                .unwrap();
        }
    }
}

/// Cheap argon2id costs, so tests that are not about the KDF stay fast.
pub const FAST_KDF: KdfParams = KdfParams {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};

/// The vault of `store`: created (password `pw`, [`FAST_KDF`]) if it has none, else
/// unlocked.
pub async fn vault_of(store: &Store) -> Vault {
    if store.has_vault().await.unwrap() {
        store.unlock_vault("pw").await.unwrap()
    } else {
        store.create_vault("pw", b"m", FAST_KDF).await.unwrap()
    }
}

/// A P2WPKH script.
pub fn p2wpkh(byte: u8) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([byte; 20]))
}

/// Terms of a regtest swap of 0.01 BTC for 1 XMR.
pub fn terms() -> SwapTerms {
    SwapTerms::new(
        Network::Regtest,
        confiaro_protocol::Direction::BuyXmr,
        Amount::from_sat(1_000_000),
        XmrAmount::from_piconero(1_000_000_000_000),
    )
}

/// A wallet seed with distinct bytes.
pub fn seed(salt: u8) -> WalletSeed {
    let mut bytes = [0u8; 64];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(salt);
    }
    WalletSeed(bytes)
}

/// A fresh Bob machine (phase Initialized) and its secrets.
pub fn bob(seed: &WalletSeed, swap_id: SwapId) -> (SwapState, SwapSecrets) {
    let secrets = SwapSecrets::derive(seed, &swap_id, Role::Bob, &SwapEntropy([0; 32]));
    let share = secrets.public_share();
    let machine = Bob::new(
        swap_id,
        terms(),
        secrets.clone(),
        share,
        p2wpkh(1),
        5,
        Timestamp(0),
    );
    (SwapState::Bob(Box::new(machine)), secrets)
}

/// A fresh Alice machine (phase Initialized) and its secrets.
pub fn alice(seed: &WalletSeed, swap_id: SwapId) -> (SwapState, SwapSecrets) {
    let secrets = SwapSecrets::derive(seed, &swap_id, Role::Alice, &SwapEntropy([0; 32]));
    let share = secrets.public_share();
    let machine = Alice::new(
        swap_id,
        terms(),
        secrets.clone(),
        share,
        p2wpkh(2),
        p2wpkh(3),
        5,
        Timestamp(0),
    );
    (SwapState::Alice(Box::new(machine)), secrets)
}

/// Feeds `input` and returns the messages the machine sends, encoded and decoded as on the
/// wire.
pub fn step(state: &mut SwapState, input: Input) -> Vec<Input> {
    state
        .handle(Timestamp(1), input)
        .expect("honest input")
        .into_iter()
        .filter_map(|action| match action {
            Action::Send(m) => Some(Input::Message(
                messages::decode(&m.encode()).expect("valid message"),
            )),
            _ => None,
        })
        .collect()
}

/// Bob's states through a setup that he then aborts: Initialized, SetupSent (Negotiating),
/// LockFunding (Negotiating, after Alice's answer), Aborted. Also returns Alice's state after
/// answering (Negotiating).
pub fn bob_states(
    seed_bob: &WalletSeed,
    seed_alice: &WalletSeed,
    swap_id: SwapId,
) -> (Vec<SwapState>, SwapState) {
    let (mut bob, _) = bob(seed_bob, swap_id);
    let (mut alice, _) = alice(seed_alice, swap_id);
    let mut states = vec![bob.clone()];
    let to_alice = step(&mut bob, Input::Tick);
    states.push(bob.clone());
    let mut to_bob = Vec::new();
    for m in to_alice {
        to_bob.extend(step(&mut alice, m));
    }
    for m in to_bob {
        step(&mut bob, m);
    }
    states.push(bob.clone());
    step(&mut bob, Input::Command(Command::Abort));
    states.push(bob);
    (states, alice)
}

/// A second connection pool to the same SQLite file, for raw SQL the store's API does not
/// allow (the SQLite-only tests).
pub async fn raw_pool(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::from_str("sqlite:")
        .unwrap()
        .filename(path);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}
