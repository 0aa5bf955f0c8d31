//! Starting, health-checking and stopping `monerod` and `monero-wallet-rpc`.
//!
//! Both listen on loopback only, keep their data and logs in a given directory, and are
//! killed if their handle is dropped (so a panicking test never leaves one behind).
//! [`Monerod::start`] runs a regtest daemon (offline, fixed difficulty 1, no ZMQ, no UPnP);
//! [`WalletRpc::start`] runs one wallet RPC, which holds at most one open wallet, against a
//! daemon URL (ours or the user's).
//!
//! The wallet RPC runs with `--disable-rpc-login`: it listens on 127.0.0.1 only and holds
//! only swap wallets; digest authentication is left for when it serves user wallets.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::rpc::{DaemonClient, RpcConfig, WalletClient};
use crate::MoneroError;

/// How a process is started.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The binary: a path, or a name looked up in `PATH`.
    pub binary: PathBuf,
    /// Where its data and logs go (created if missing).
    pub data_dir: PathBuf,
    /// Loopback RPC port; 0 picks a free one.
    pub rpc_port: u16,
    /// How long to wait for its RPC to answer after starting.
    pub start_timeout: Duration,
    /// The RPC client's timeouts and retries.
    pub rpc: RpcConfig,
}

impl ProcessConfig {
    /// `binary` from `PATH`, data in `data_dir`, a free port, 60 s to start, default RPC
    /// timeouts.
    pub fn new(binary: &str, data_dir: impl Into<PathBuf>) -> Self {
        ProcessConfig {
            binary: PathBuf::from(binary),
            data_dir: data_dir.into(),
            rpc_port: 0,
            start_timeout: Duration::from_secs(60),
            rpc: RpcConfig::default(),
        }
    }
}

/// The binary's full path: as given if it contains a `/`, else the first match in `PATH`.
fn find_binary(what: &'static str, binary: &Path) -> Result<PathBuf, MoneroError> {
    let missing = || MoneroError::BinaryMissing {
        binary: what,
        path: binary.to_path_buf(),
    };
    if binary.components().count() > 1 {
        return if binary.is_file() {
            Ok(binary.to_path_buf())
        } else {
            Err(missing())
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .ok_or_else(missing)
}

/// `port` if it is free on 127.0.0.1 (a free one if 0).
fn loopback_port(what: &'static str, port: u16) -> Result<u16, MoneroError> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| MoneroError::Spawn {
                what,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(MoneroError::PortTaken { what, port })
        }
        Err(e) => Err(MoneroError::Spawn {
            what,
            reason: format!("port {port}: {e}"),
        }),
    }
}

/// The last lines of a log file, without terminal colour codes.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip "ESC [ ... letter".
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            clean.push(c);
        }
    }
    let lines: Vec<&str> = clean.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(6)..].join(" | ")
}

/// A child process with its console log.
#[derive(Debug)]
struct Supervised {
    what: &'static str,
    child: Child,
    console_log: PathBuf,
}

impl Supervised {
    fn spawn(
        what: &'static str,
        binary: &Path,
        args: &[String],
        data_dir: &Path,
    ) -> Result<Supervised, MoneroError> {
        let spawn_err = |e: std::io::Error| MoneroError::Spawn {
            what,
            reason: e.to_string(),
        };
        std::fs::create_dir_all(data_dir).map_err(spawn_err)?;
        let console_log = data_dir.join(format!("{what}.console.log"));
        let log = std::fs::File::create(&console_log).map_err(spawn_err)?;
        let log2 = log.try_clone().map_err(spawn_err)?;
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_err)?;
        Ok(Supervised {
            what,
            child,
            console_log,
        })
    }

    fn tail(&self) -> String {
        log_tail(&self.console_log)
    }

    /// If the process has exited: the error describing it.
    fn exited(&mut self, port: u16) -> Option<MoneroError> {
        let status = self.child.try_wait().ok().flatten()?;
        let tail = self.tail();
        if tail.contains("Failed to bind") || tail.contains("Address already in use") {
            return Some(MoneroError::PortTaken {
                what: self.what,
                port,
            });
        }
        Some(MoneroError::Exited {
            what: self.what,
            status: status.to_string(),
            log_tail: tail,
        })
    }

    /// Waits until `ready` answers, the process exits, or `timeout` passes.
    async fn wait_ready<F, Fut>(
        &mut self,
        port: u16,
        timeout: Duration,
        mut ready: F,
    ) -> Result<(), MoneroError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            if let Some(err) = self.exited(port) {
                return Err(err);
            }
            if ready().await {
                return Ok(());
            }
            if started.elapsed() > timeout {
                let _ = self.child.start_kill();
                return Err(MoneroError::StartTimeout {
                    what: self.what,
                    after: timeout,
                    log_tail: self.tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for the exit.
    async fn terminate(&mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) with a pid we spawned and have not reaped; no memory involved.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A running regtest `monerod`.
#[derive(Debug)]
pub struct Monerod {
    process: Supervised,
    client: DaemonClient,
    rpc_port: u16,
    p2p_port: u16,
    data_dir: PathBuf,
}

impl Monerod {
    /// Starts a regtest daemon (offline, fixed difficulty 1, loopback only) with its chain in
    /// `config.data_dir`, and waits until its RPC answers.
    ///
    /// # Errors
    ///
    /// [`MoneroError::BinaryMissing`], [`MoneroError::PortTaken`], [`MoneroError::Spawn`],
    /// [`MoneroError::Exited`] (with its last log lines), [`MoneroError::StartTimeout`].
    pub async fn start(config: &ProcessConfig) -> Result<Monerod, MoneroError> {
        const WHAT: &str = "monerod";
        let binary = find_binary(WHAT, &config.binary)?;
        let rpc_port = loopback_port(WHAT, config.rpc_port)?;
        let p2p_port = loopback_port(WHAT, 0)?;
        let data_dir = config.data_dir.clone();
        let args: Vec<String> = vec![
            "--regtest".into(),
            "--offline".into(),
            "--fixed-difficulty".into(),
            "1".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--rpc-bind-ip".into(),
            "127.0.0.1".into(),
            "--rpc-bind-port".into(),
            rpc_port.to_string(),
            "--p2p-bind-ip".into(),
            "127.0.0.1".into(),
            "--p2p-bind-port".into(),
            p2p_port.to_string(),
            "--no-zmq".into(),
            "--no-igd".into(),
            "--disable-rpc-ban".into(),
            "--non-interactive".into(),
            "--log-file".into(),
            data_dir.join("monerod.log").display().to_string(),
            "--log-level".into(),
            "0".into(),
        ];
        let mut process = Supervised::spawn(WHAT, &binary, &args, &data_dir)?;
        let client = DaemonClient::new(&format!("http://127.0.0.1:{rpc_port}"), config.rpc)?;
        let probe = client.clone();
        process
            .wait_ready(rpc_port, config.start_timeout, || {
                let probe = probe.clone();
                async move { probe.info().await.is_ok() }
            })
            .await?;
        Ok(Monerod {
            process,
            client,
            rpc_port,
            p2p_port,
            data_dir,
        })
    }

    /// The RPC URL, e.g. `http://127.0.0.1:18081`.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// `host:port` as `monero-wallet-rpc --daemon-address` wants it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.rpc_port)
    }

    /// The RPC port.
    pub fn rpc_port(&self) -> u16 {
        self.rpc_port
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A client of this daemon.
    pub fn client(&self) -> &DaemonClient {
        &self.client
    }

    /// Kills the daemon at once (SIGKILL), as a crash would. For tests of recovery.
    pub async fn kill(&mut self) {
        let _ = self.process.child.kill().await;
    }

    /// Starts the daemon again after [`Monerod::kill`] or a crash, on the same data
    /// directory and ports.
    ///
    /// # Errors
    ///
    /// As [`Monerod::start`].
    pub async fn restart(&mut self, config: &ProcessConfig) -> Result<(), MoneroError> {
        let _ = self.process.child.kill().await;
        let config = ProcessConfig {
            rpc_port: self.rpc_port,
            data_dir: self.data_dir.clone(),
            ..config.clone()
        };
        // Keep the P2P port too: nothing connects to it, but it must be free.
        let _ = self.p2p_port;
        *self = Monerod::start(&config).await?;
        Ok(())
    }

    /// Stops the daemon cleanly (SIGTERM; SIGKILL after 20 s) and waits for it.
    pub async fn stop(mut self) {
        self.process.terminate(Duration::from_secs(20)).await;
    }
}

/// A running `monero-wallet-rpc` (one open wallet at a time).
#[derive(Debug)]
pub struct WalletRpc {
    process: Supervised,
    client: WalletClient,
    port: u16,
}

impl WalletRpc {
    /// Starts a wallet RPC on loopback with its wallet files in `config.data_dir`, talking
    /// to the daemon at `daemon_address` (`host:port`, trusted), and waits until it answers.
    ///
    /// # Errors
    ///
    /// As [`Monerod::start`].
    pub async fn start(
        config: &ProcessConfig,
        daemon_address: &str,
    ) -> Result<WalletRpc, MoneroError> {
        const WHAT: &str = "monero-wallet-rpc";
        let binary = find_binary(WHAT, &config.binary)?;
        let port = loopback_port(WHAT, config.rpc_port)?;
        let dir = config.data_dir.clone();
        let args: Vec<String> = vec![
            "--daemon-address".into(),
            daemon_address.into(),
            "--trusted-daemon".into(),
            "--rpc-bind-ip".into(),
            "127.0.0.1".into(),
            "--rpc-bind-port".into(),
            port.to_string(),
            "--disable-rpc-login".into(),
            "--wallet-dir".into(),
            dir.display().to_string(),
            "--non-interactive".into(),
            "--log-file".into(),
            dir.join("monero-wallet-rpc.log").display().to_string(),
            "--log-level".into(),
            "0".into(),
        ];
        let mut process = Supervised::spawn(WHAT, &binary, &args, &dir)?;
        let client = WalletClient::new(&format!("http://127.0.0.1:{port}"), config.rpc)?;
        let probe = client.clone();
        process
            .wait_ready(port, config.start_timeout, || {
                let probe = probe.clone();
                // Without an open wallet it answers with an error: that is an answer.
                async move {
                    !matches!(
                        probe.height().await,
                        Err(MoneroError::Unreachable { .. } | MoneroError::Timeout { .. })
                    )
                }
            })
            .await?;
        Ok(WalletRpc {
            process,
            client,
            port,
        })
    }

    /// The RPC URL.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// The RPC port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A client of this wallet RPC.
    pub fn client(&self) -> &WalletClient {
        &self.client
    }

    /// Stores the open wallet and stops (SIGTERM, which saves; SIGKILL after 20 s).
    pub async fn stop(mut self) {
        let _ = self.client.close_wallet().await;
        self.process.terminate(Duration::from_secs(20)).await;
    }
}
