//! A throwaway PostgreSQL server for tests, as the Monero tests run their own monerod:
//! `initdb` into a temporary directory, `postgres` listening on loopback at a free port (and
//! on a Unix socket in the same directory), a database per test, and the server shut down
//! when the handle is dropped.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, `initdb` and `postgres`
//! run as the `postgres` user (through `setpriv`), in a directory handed to that user.
//! Missing binaries fail the test with a pointer to `./scripts/setup.sh`; they never skip it.
//! The server's directory comes from [`crate::leftovers::test_dir`]: a server left running by
//! a killed run is stopped by the next one.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many ports a server tries before giving up.
const ATTEMPTS: usize = 5;

/// A running server; stopped (immediate shutdown) and its directory removed on drop.
pub struct PgServer {
    child: Child,
    port: u16,
    next_db: AtomicU32,
    // dropped after the server is stopped (fields drop in order, after `Drop::drop`)
    _dir: tempfile::TempDir,
}

/// The directory holding `initdb` and `postgres`: `$PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else wherever `PATH` has `initdb`.
///
/// # Panics
///
/// If there is none, or `$PG_BINDIR` lacks either program.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        let dir = PathBuf::from(dir);
        for program in ["initdb", "postgres"] {
            assert!(
                dir.join(program).exists(),
                "PostgreSQL's {program} is not in $PG_BINDIR ({}): run ./scripts/setup.sh, or \
                 point PG_BINDIR at the server binaries",
                dir.display()
            );
        }
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("postgres").exists() {
                return dir;
            }
        }
    }
    panic!(
        "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, \
         $PG_BINDIR or PATH: run ./scripts/setup.sh"
    );
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("`id -u` runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `program` run as the `postgres` user when we are root, as ourselves otherwise.
fn command_as_server_user(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl PgServer {
    /// Initializes a cluster and starts a server on it; returns once it accepts connections.
    ///
    /// # Panics
    ///
    /// If the binaries are missing (run ./scripts/setup.sh), or the server does not start
    /// within a minute (the panic names its log file).
    pub async fn start() -> PgServer {
        PgServer::start_on(None).await
    }

    /// [`PgServer::start`], trying `first_port` first (tests of the port handling).
    async fn start_on(mut first_port: Option<u16>) -> PgServer {
        let bin = bin_dir();
        let as_postgres = running_as_root();
        let dir = crate::leftovers::test_dir("pg");
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "chown postgres {} failed",
                dir.path().display()
            );
        }
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        let output = command_as_server_user(&bin.join("initdb"), as_postgres)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .args(["--locale=C", "--no-instructions"])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "initdb ({}) does not run: {e}; run ./scripts/setup.sh",
                    bin.display()
                )
            });
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let log_file = File::create(&log).expect("the server log file");
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&log)
                .status()
                .expect("chown runs");
            assert!(status.success());
        }
        drop(log_file);
        // A free port can be taken by another test process between our probe and the
        // server's bind; then the other process's server answers on it. Try another port.
        for _ in 0..ATTEMPTS {
            let port = first_port.take().unwrap_or_else(free_port);
            let log_file = File::options()
                .append(true)
                .open(&log)
                .expect("the server log file");
            let mut child = command_as_server_user(&bin.join("postgres"), as_postgres)
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(dir.path())
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                // a test server: durability is not what these tests are about
                .args(["-c", "fsync=off", "-c", "max_connections=100"])
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("the log file handle"))
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "postgres ({}) does not start: {e}; run ./scripts/setup.sh",
                        bin.display()
                    )
                });
            match wait_ready(&mut child, port, &data, &log).await {
                Ready::Yes => {
                    return PgServer {
                        child,
                        port,
                        next_db: AtomicU32::new(0),
                        _dir: dir,
                    }
                }
                Ready::PortTaken => stop(&mut child),
            }
        }
        panic!(
            "the PostgreSQL test server found its port taken {ATTEMPTS} times; see {}",
            log.display()
        );
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("test_{}", self.next_db.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("the test server accepts connections");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        self.url(&name)
    }
}

/// What waiting for a freshly started server found.
enum Ready {
    /// It accepts connections on its port.
    Yes,
    /// Its port was taken (it could not bind it, or another server answers there).
    PortTaken,
}

/// Waits until the server `child` (data directory `data`) accepts connections on `port`.
///
/// # Panics
///
/// If it exits for another reason than its port, or is not ready within [`READY_TIMEOUT`].
async fn wait_ready(child: &mut Child, port: u16, data: &Path, log: &Path) -> Ready {
    let started = Instant::now();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let said = std::fs::read_to_string(log).unwrap_or_default();
            if said.contains("could not bind") || said.contains("could not create any TCP/IP") {
                return Ready::PortTaken;
            }
            panic!(
                "the PostgreSQL test server exited ({status}) before accepting connections; \
                 see {}:\n{said}",
                log.display()
            );
        }
        if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
            // the server that answers must be ours, not another test's on a reused port
            let serves: Result<(String,), _> =
                sqlx::query_as("SELECT current_setting('data_directory')")
                    .fetch_one(&mut conn)
                    .await;
            conn.close().await.ok();
            let ours = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_owned());
            return match serves {
                Ok((dir,)) if Path::new(&dir) == data || Path::new(&dir) == ours => Ready::Yes,
                _ => Ready::PortTaken,
            };
        }
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "the PostgreSQL test server did not accept connections within {READY_TIMEOUT:?}; \
             see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops a server: SIGQUIT (immediate shutdown; its children exit with it), SIGKILL if it
/// is still there after 10 s.
fn stop(child: &mut Child) {
    let stopped = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if stopped {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for PgServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_whose_port_another_server_holds_moves_to_a_free_port() {
        let first = PgServer::start().await;
        // the race a free-port probe loses to another test process, made certain
        let second = PgServer::start_on(Some(first.port)).await;
        assert_ne!(second.port, first.port);
        // each holds its own databases: the same first name on both
        let on_first = first.create_database().await;
        let on_second = second.create_database().await;
        assert_ne!(on_first, on_second);
        for (server, url) in [(&first, &on_first), (&second, &on_second)] {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connects");
            let (dir,): (String,) = sqlx::query_as("SELECT current_setting('data_directory')")
                .fetch_one(&mut conn)
                .await
                .expect("data_directory");
            assert!(
                dir.starts_with(&*server._dir.path().to_string_lossy()),
                "{url} is served from {dir}"
            );
        }
    }
}
