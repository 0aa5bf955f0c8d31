//! Starting, health-checking and stopping `monerod` and `monero-wallet-rpc`.
//!
//! Both listen on loopback only, keep their data and logs in a given directory, and are
//! killed if their handle is dropped (so a panicking test never leaves one behind).
//! [`Monerod::start`] runs a regtest daemon (offline, fixed difficulty 1, no ZMQ, no UPnP);
//! [`WalletRpc::start`] runs one wallet RPC, which holds at most one open wallet, against a
//! daemon URL (ours or the user's).
//!
//! The wallet RPC listens on 127.0.0.1 only and asks for a login: a random one made at each
//! start ([`RpcLogin::random`]), handed to it in a config file readable by our user alone and
//! removed once it answers (never on its command line, which any local user can read), so
//! that no other local process can spend from the wallet it holds. It trusts its daemon only
//! when the daemon is on this machine (`--trusted-daemon`); a remote node is
//! `--untrusted-daemon`, so the wallet does not lean on it for what it must check itself.
//!
//! # When our process dies
//!
//! A child must not outlive a crash of our process, holding its port and (wallet RPC) the
//! wallet file's lock, so that the restarted app cannot start its own. Two guards:
//!
//! - On Linux each child is started with `PR_SET_PDEATHSIG` = `SIGTERM`: the kernel sends
//!   it `SIGTERM` (which both programs handle by saving and exiting) when its parent dies,
//!   even by `SIGKILL`. The kernel's "parent" here is the *thread* that forked the child,
//!   not the process: a child forked from a thread that then exits (a `spawn_blocking`
//!   thread that goes idle, a short-lived `std::thread`) would be terminated with it. So
//!   every child is forked by one dedicated thread that lives as long as the process,
//!   whichever thread calls `start`; callers need not care where they call it from.
//! - Each start writes the child's pid to `<data_dir>/<what>.pid` (`monerod.pid`,
//!   `monero-wallet-rpc.pid`), removed when the child is stopped or dropped. If a start
//!   finds that file and the pid is alive, runs the same binary and names the same data
//!   directory on its command line, it is a leftover of an earlier run (or a second
//!   start on the same directory): it gets `SIGTERM`, then `SIGKILL` after
//!   [`STALE_GRACE`], before the new one starts. This also covers systems without
//!   `PR_SET_PDEATHSIG` (only Linux has it; elsewhere the pid file is the only guard, and
//!   it is checked only on Linux, through `/proc`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::rpc::{DaemonClient, RpcConfig, RpcLogin, WalletClient};
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
    /// Wallet RPC only: serve without a login (`--disable-rpc-login`), so that other local
    /// programs can reach it (the devnet's shared play-money wallet). `false`, the default,
    /// asks for a random login made at each start (tests/integration/process.rs).
    pub without_login: bool,
    /// Wallet RPC only: a SOCKS proxy (e.g. Tor's local proxy) the wallet reaches its daemon
    /// through (`--proxy`); `None` connects directly.
    pub daemon_proxy: Option<std::net::SocketAddr>,
}

impl ProcessConfig {
    /// `binary` from `PATH`, data in `data_dir`, a free port, 60 s to start, default RPC
    /// timeouts, a wallet RPC with a random login (see [`ProcessConfig::without_login`]).
    pub fn new(binary: &str, data_dir: impl Into<PathBuf>) -> Self {
        ProcessConfig {
            binary: PathBuf::from(binary),
            data_dir: data_dir.into(),
            rpc_port: 0,
            start_timeout: Duration::from_secs(60),
            rpc: RpcConfig::default(),
            without_login: false,
            daemon_proxy: None,
        }
    }
}

/// The binary's full path: as given if it contains a `/`; a bare name beside this program's
/// own executable first (a package may ship it along), then the first match in `PATH`.
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
    let beside_us = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(binary)));
    beside_us
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .map(|dir| dir.join(binary)),
        )
        .find(|candidate| candidate.is_file())
        .ok_or_else(missing)
}

/// A Monero binary found by [`locate_binary`], with the version it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedBinary {
    /// Its full path.
    pub path: PathBuf,
    /// The version `--version` prints, e.g. `v0.18.3.4-release`.
    pub version: String,
}

/// Where `binary` (`monero-wallet-rpc` or `monerod`, a bare name or a path) is found the way
/// the engine finds it (beside this program, then on `PATH`), and its version: what a user's
/// settings show before anything runs.
///
/// # Errors
/// [`MoneroError::BinaryMissing`] naming where it was looked for; [`MoneroError::Spawn`]
/// when it cannot be run or prints no version within 10 s.
pub async fn locate_binary(
    what: &'static str,
    binary: &Path,
) -> Result<LocatedBinary, MoneroError> {
    let path = find_binary(what, binary)?;
    let failed = |reason: String| MoneroError::Spawn { what, reason };
    let output = tokio::time::timeout(
        Duration::from_secs(10),
        Command::new(&path)
            .arg("--version")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| failed("--version did not answer within 10 s".into()))?
    .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "Monero 'Fluorine Fermi' (v0.18.3.4-release)"
    let version = text
        .split(['(', ')', ' ', '\n'])
        .find(|word| word.starts_with('v') && word[1..].starts_with(|c: char| c.is_ascii_digit()))
        .ok_or_else(|| {
            failed(format!(
                "{} --version printed no version: {text:?}",
                path.display()
            ))
        })?
        .to_owned();
    Ok(LocatedBinary { path, version })
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

/// The RPC settings of a readiness probe: no retries, at most 5 s per call.
fn probe_config(rpc: RpcConfig) -> RpcConfig {
    RpcConfig {
        timeout: rpc.timeout.min(Duration::from_secs(5)),
        retries: 0,
        ..rpc
    }
}

/// Copies what a child writes to `from` into its console log `log`, line by line, with
/// what would name the wallet's coins blanked out ([`redact_line`]): the data directory
/// keeps no address or transaction id in clear.
async fn copy_redacted(
    from: impl tokio::io::AsyncRead + Unpin,
    log: std::sync::Arc<Mutex<std::fs::File>>,
) {
    use std::io::Write;
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = redact_line(&String::from_utf8_lossy(&line));
                let mut file = log.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = file.write_all(text.as_bytes());
            }
        }
    }
}

/// `line` with every run of 64 or more hex digits (txids, key images, block hashes,
/// transaction blobs) replaced by `<hex>`, and every base58 word of 95 characters or more
/// (a Monero address) by `<address>`.
pub(crate) fn redact_line(line: &str) -> String {
    const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut out = String::with_capacity(line.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.len() >= 64 && word.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push_str("<hex>");
        } else if word.len() >= 95 && word.chars().all(|c| BASE58.contains(c)) {
            out.push_str("<address>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
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

/// How long a leftover process of an earlier run gets to exit after `SIGTERM` (a wallet
/// RPC saves its wallet, a daemon flushes its database) before it is killed.
pub const STALE_GRACE: Duration = Duration::from_secs(20);

/// `<data_dir>/<what>.pid`.
fn pid_file(data_dir: &Path, what: &str) -> PathBuf {
    data_dir.join(format!("{what}.pid"))
}

/// A job for the spawner thread.
type SpawnJob = Box<dyn FnOnce() + Send + 'static>;

/// The channel to the thread that forks every child (see the module docs: a child's
/// `PR_SET_PDEATHSIG` fires when the thread that forked it exits, and this one never does).
static SPAWNER: Mutex<Option<mpsc::Sender<SpawnJob>>> = Mutex::new(None);

/// Runs `job` on the spawner thread, starting that thread on first use.
fn on_spawner_thread(job: SpawnJob) -> std::io::Result<()> {
    let mut spawner = SPAWNER.lock().unwrap_or_else(PoisonError::into_inner);
    if spawner.is_none() {
        let (send, receive) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("confiaro-child-spawner".into())
            .spawn(move || {
                // The sender lives in a static: this loop ends only with the process.
                for job in receive {
                    // A panicking job must not end the thread (and with it every child).
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        *spawner = Some(send);
    }
    let sent = spawner
        .as_ref()
        .map(|send| send.send(job).is_ok())
        .unwrap_or(false);
    if sent {
        Ok(())
    } else {
        *spawner = None;
        Err(std::io::Error::other("the child spawner thread is gone"))
    }
}

/// Makes the child get `SIGTERM` when the thread that forks it (the spawner thread, so in
/// effect our process) dies.
#[cfg(target_os = "linux")]
fn terminate_with_parent(command: &mut Command) {
    let parent = std::process::id();
    let signal =
        libc::c_ulong::try_from(libc::SIGTERM).expect("SIGTERM is a small positive number");
    // SAFETY: the closure runs in the forked child before exec. It only makes the
    // async-signal-safe system calls prctl(2) and getppid(2) and allocates nothing (the
    // errors are raw OS errors).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // If we died between fork and prctl, the signal will never come: do not run.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn terminate_with_parent(_command: &mut Command) {}

/// Makes the child ignore `SIGPIPE`. Its console goes through a pipe to our process
/// ([`copy_redacted`]); when our process dies first, the wallet RPC is told to stop
/// (`SIGTERM`) and saves its wallet, and a log line written meanwhile to the closed pipe must
/// fail with `EPIPE`, not kill it before the save.
fn ignore_broken_pipe(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec (after the standard library
    // has reset the signal dispositions). It only calls signal(2), which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::signal(libc::SIGPIPE, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Stops a leftover `what` of an earlier run on `data_dir` (see the module docs): reads
/// its pid file, and if that pid is alive, runs `binary` and names `data_dir`, sends it
/// `SIGTERM`, then `SIGKILL` after [`STALE_GRACE`], and waits until it is gone. Removes
/// the pid file.
async fn stop_leftover(
    what: &'static str,
    binary: &Path,
    data_dir: &Path,
) -> Result<(), MoneroError> {
    let path = pid_file(data_dir, what);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    if let Ok(pid) = text.trim().parse::<libc::pid_t>() {
        if pid > 1 && leftover::is_ours(pid, binary, data_dir) {
            // SAFETY: kill(2) on a pid checked above to be our binary on our data
            // directory; no memory involved.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            if !leftover::wait_gone(pid, STALE_GRACE).await {
                // SAFETY: as above.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                if !leftover::wait_gone(pid, Duration::from_secs(5)).await {
                    return Err(MoneroError::Spawn {
                        what,
                        reason: format!(
                            "an earlier {what} (pid {pid}) on {} does not exit",
                            data_dir.display()
                        ),
                    });
                }
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Looking at other processes through `/proc` (Linux only).
mod leftover {
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// Whether `pid` is alive (not a zombie), runs `binary`, and has `data_dir` as an
    /// argument.
    #[cfg(target_os = "linux")]
    pub(super) fn is_ours(pid: libc::pid_t, binary: &Path, data_dir: &Path) -> bool {
        if !alive(pid) {
            return false;
        }
        let proc_dir = Path::new("/proc").join(pid.to_string());
        // A zombie or another user's process has no readable `exe`: not ours.
        let Ok(exe) = std::fs::read_link(proc_dir.join("exe")) else {
            return false;
        };
        let exe = exe.to_string_lossy();
        let exe = Path::new(exe.trim_end_matches(" (deleted)"));
        let same_binary = std::fs::canonicalize(binary)
            .map(|b| b == exe)
            .unwrap_or(false);
        let Ok(cmdline) = std::fs::read(proc_dir.join("cmdline")) else {
            return false;
        };
        let wanted = std::fs::canonicalize(data_dir).ok();
        let names_dir = cmdline
            .split(|&b| b == 0)
            .filter_map(|arg| std::str::from_utf8(arg).ok())
            .any(|arg| {
                Path::new(arg) == data_dir
                    || wanted
                        .as_ref()
                        .is_some_and(|w| std::fs::canonicalize(arg).ok().as_ref() == Some(w))
            });
        same_binary && names_dir
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn is_ours(_pid: libc::pid_t, _binary: &Path, _data_dir: &Path) -> bool {
        false
    }

    /// Whether `pid` exists and is not a zombie (a zombie holds no port and no lock).
    pub(super) fn alive(pid: libc::pid_t) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) S ...": the state follows the last ')'.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    }

    /// Waits up to `timeout` for `pid` to be gone; whether it is.
    pub(super) async fn wait_gone(pid: libc::pid_t, timeout: Duration) -> bool {
        let started = Instant::now();
        while alive(pid) {
            if started.elapsed() > timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }
}

/// A child process with its console log and pid file.
#[derive(Debug)]
struct Supervised {
    what: &'static str,
    child: Child,
    console_log: PathBuf,
    /// The tasks that copy the child's standard output and error into its console log.
    copiers: Vec<tokio::task::JoinHandle<()>>,
    pid_file: PathBuf,
    pid: Option<u32>,
}

impl Supervised {
    /// Starts `binary` on the spawner thread (see the module docs) and writes its pid file
    /// in `data_dir` (callers first call [`stop_leftover`]). The child is killed if the
    /// returned value is dropped.
    async fn spawn(
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
        let log = std::sync::Arc::new(Mutex::new(
            std::fs::File::create(&console_log).map_err(spawn_err)?,
        ));
        let mut command = Command::new(binary);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        terminate_with_parent(&mut command);
        ignore_broken_pipe(&mut command);
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| spawn_err(std::io::Error::other(e)))?;
        let (reply, spawned) = tokio::sync::oneshot::channel();
        on_spawner_thread(Box::new(move || {
            // The child is registered with the caller's runtime, which reaps it.
            let _entered = runtime.enter();
            let _ = reply.send(command.spawn());
        }))
        .map_err(spawn_err)?;
        let mut child = spawned
            .await
            .map_err(|_| spawn_err(std::io::Error::other("the child spawner thread failed")))?
            .map_err(spawn_err)?;
        let mut copiers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            copiers.push(tokio::spawn(copy_redacted(stdout, log.clone())));
        }
        if let Some(stderr) = child.stderr.take() {
            copiers.push(tokio::spawn(copy_redacted(stderr, log)));
        }
        let pid = child.id();
        let pid_file = pid_file(data_dir, what);
        let supervised = Supervised {
            what,
            child,
            console_log,
            copiers,
            pid_file,
            pid,
        };
        if let Some(pid) = pid {
            // On error `supervised` is dropped, which kills the child.
            std::fs::write(&supervised.pid_file, format!("{pid}\n")).map_err(spawn_err)?;
        }
        Ok(supervised)
    }

    /// Removes the pid file if it still names our child (a restart on the same directory
    /// may have written its own since).
    fn remove_pid_file(&self) {
        let Some(pid) = self.pid else { return };
        if std::fs::read_to_string(&self.pid_file).is_ok_and(|text| text.trim() == pid.to_string())
        {
            let _ = std::fs::remove_file(&self.pid_file);
        }
    }

    fn tail(&self) -> String {
        log_tail(&self.console_log)
    }

    /// If the process has exited: the error describing it.
    async fn exited(&mut self, port: u16) -> Option<MoneroError> {
        let status = self.child.try_wait().ok().flatten()?;
        // its last words may still be on their way to the console log
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for copier in &mut self.copiers {
            let _ = tokio::time::timeout_at(deadline, copier).await;
        }
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
            if let Some(err) = self.exited(port).await {
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
        self.remove_pid_file();
    }
}

impl Drop for Supervised {
    /// The child is killed (`kill_on_drop`) right after this: its pid file goes now.
    fn drop(&mut self) {
        self.remove_pid_file();
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
        let data_dir = config.data_dir.clone();
        // Before the port check: a leftover of ours may hold the port.
        stop_leftover(WHAT, &binary, &data_dir).await?;
        let rpc_port = loopback_port(WHAT, config.rpc_port)?;
        let p2p_port = loopback_port(WHAT, 0)?;
        let args: Vec<String> = vec![
            "--regtest".into(),
            "--offline".into(),
            "--fixed-difficulty".into(),
            "1".into(),
            // Without it a regtest ("fakechain") monerod deletes its chain at every start,
            // while wallets remember blocks that are gone.
            "--keep-fakechain".into(),
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
            // Loopback only: without this, every start generates a self-signed RSA-4096
            // certificate first (seconds of CPU) that no client of ours uses.
            "--rpc-ssl".into(),
            "disabled".into(),
            "--non-interactive".into(),
            "--log-file".into(),
            data_dir.join("monerod.log").display().to_string(),
            "--log-level".into(),
            "0".into(),
        ];
        let mut process = Supervised::spawn(WHAT, &binary, &args, &data_dir).await?;
        let client = DaemonClient::new(&format!("http://127.0.0.1:{rpc_port}"), config.rpc)?;
        // The probe is polled every 100 ms: no retries of its own, which would only delay
        // noticing that the server is up.
        let probe = DaemonClient::new(client.url(), probe_config(config.rpc))?;
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

    /// The daemon's process id (`None` once it was reaped).
    pub fn pid(&self) -> Option<u32> {
        self.process.child.id()
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

/// `--daemon-address` and `--daemon-ssl` for a wallet RPC talking to `daemon` (a URL, or a
/// bare `host:port` for plain HTTP). TLS is on exactly when the URL says `https`: it is never
/// tried and silently dropped (monero's default, "autodetect", falls back to plain HTTP when
/// the handshake fails, which anyone on the path can make happen), and never set up for a
/// plain daemon (a TLS client context costs an RSA-4096 key: seconds of CPU at every start).
fn daemon_args(daemon: &str) -> Vec<String> {
    let (tls, address) = match daemon.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, daemon.strip_prefix("http://").unwrap_or(daemon)),
    };
    vec![
        "--daemon-address".into(),
        address.trim_end_matches('/').into(),
        "--daemon-ssl".into(),
        if tls { "enabled" } else { "disabled" }.into(),
    ]
}

/// Where a system keeps the CA certificates a TLS client verifies servers with (Debian's
/// bundle first).
const SYSTEM_CA_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// The wallet RPC's arguments to reach `daemon` through the SOCKS `proxy` (Tor). Through a
/// proxy monero-wallet-rpc refuses a plain-HTTP node on a clear address (an exit could
/// rewrite its answers): it takes an onion address as it is, and an `https://` node only
/// with a certificate it can verify (the system's CAs here).
///
/// # Errors
/// [`MoneroError::Spawn`] for a plain-HTTP node that is no onion service, or an `https://`
/// node on a system without a CA bundle.
fn proxy_args(daemon: &str, proxy: std::net::SocketAddr) -> Result<Vec<String>, MoneroError> {
    const WHAT: &str = "monero-wallet-rpc";
    let mut args = vec!["--proxy".to_owned(), proxy.to_string()];
    if host_of(daemon).ends_with(".onion") {
        return Ok(args);
    }
    if !daemon.starts_with("https://") {
        return Err(MoneroError::Spawn {
            what: WHAT,
            reason: format!(
                "through Tor it reaches a Monero node only at an onion address or by https \
                 with a certificate it can verify, and {daemon} is neither: give such a node, \
                 or reach it directly (--tor-chain off)"
            ),
        });
    }
    let bundle = SYSTEM_CA_BUNDLES
        .into_iter()
        .find(|path| Path::new(path).is_file())
        .ok_or_else(|| MoneroError::Spawn {
            what: WHAT,
            reason: format!(
                "{daemon} by https through Tor needs the system's CA certificates, and none \
                 were found ({})",
                SYSTEM_CA_BUNDLES.join(", ")
            ),
        })?;
    args.extend(["--daemon-ssl-ca-certificates".to_owned(), bundle.to_owned()]);
    Ok(args)
}

/// The host of a daemon URL as [`daemon_args`] takes it.
fn host_of(daemon: &str) -> &str {
    let address = daemon
        .strip_prefix("https://")
        .or_else(|| daemon.strip_prefix("http://"))
        .unwrap_or(daemon);
    match address.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => address.split([':', '/']).next().unwrap_or(""),
    }
}

/// Whether the daemon at `daemon` (as [`daemon_args`] takes it) runs on this machine: the
/// only daemon a wallet RPC trusts.
fn daemon_is_local(daemon: &str) -> bool {
    let host = host_of(daemon);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Writes `text` to a new file at `path` that only our user can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    // a file left by a crash may have other permissions: start afresh
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
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
    /// to the (trusted) daemon at `daemon`, and waits until it answers. `daemon` is the
    /// daemon's URL, `http://host:port` or `https://host:port`, or a bare `host:port` (plain
    /// HTTP); see [`daemon_args`] for how the scheme decides TLS.
    ///
    /// # Errors
    ///
    /// As [`Monerod::start`].
    pub async fn start(config: &ProcessConfig, daemon: &str) -> Result<WalletRpc, MoneroError> {
        const WHAT: &str = "monero-wallet-rpc";
        let binary = find_binary(WHAT, &config.binary)?;
        let dir = config.data_dir.clone();
        // Before the port check: a leftover of ours may hold the port.
        stop_leftover(WHAT, &binary, &dir).await?;
        let port = loopback_port(WHAT, config.rpc_port)?;
        let login = (!config.without_login).then(RpcLogin::random);
        let login_file = dir.join("monero-wallet-rpc.login.conf");
        let access = match &login {
            Some(login) => {
                std::fs::create_dir_all(&dir)
                    .and_then(|()| {
                        write_private(
                            &login_file,
                            &format!("rpc-login={}\n", login.user_and_password()),
                        )
                    })
                    .map_err(|e| MoneroError::Spawn {
                        what: WHAT,
                        reason: format!("writing {}: {e}", login_file.display()),
                    })?;
                vec!["--config-file".to_owned(), login_file.display().to_string()]
            }
            None => vec!["--disable-rpc-login".to_owned()],
        };
        let mut args = daemon_args(daemon);
        args.extend([
            if daemon_is_local(daemon) {
                "--trusted-daemon"
            } else {
                "--untrusted-daemon"
            }
            .into(),
            "--rpc-bind-ip".into(),
            "127.0.0.1".into(),
            "--rpc-bind-port".into(),
            port.to_string(),
            // Loopback only, for this process alone: without this, every start generates a
            // self-signed RSA-4096 certificate first (1–10 s of CPU, at every command).
            "--rpc-ssl".into(),
            "disabled".into(),
            "--wallet-dir".into(),
            dir.display().to_string(),
            "--non-interactive".into(),
            // Its own log file would keep the wallet's address and transaction ids in clear;
            // the console log (redacted, see `copy_redacted`) holds the same lines.
            "--log-file".into(),
            "/dev/null".into(),
            "--log-level".into(),
            "0".into(),
        ]);
        args.extend(access);
        if let Some(proxy) = config.daemon_proxy {
            args.extend(proxy_args(daemon, proxy)?);
        }
        let spawned = Supervised::spawn(WHAT, &binary, &args, &dir).await;
        let mut process = match spawned {
            Ok(process) => process,
            Err(e) => {
                let _ = std::fs::remove_file(&login_file);
                return Err(e);
            }
        };
        let mut client = WalletClient::new(&format!("http://127.0.0.1:{port}"), config.rpc)?;
        let mut probe = WalletClient::new(client.url(), probe_config(config.rpc))?;
        if let Some(login) = login {
            client = client.with_login(login.clone());
            probe = probe.with_login(login);
        }
        let ready = process
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
            .await;
        // read at its start: the password stays on disk no longer than that
        let _ = std::fs::remove_file(&login_file);
        ready?;
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

    /// The wallet RPC's process id (`None` once it was reaped).
    pub fn pid(&self) -> Option<u32> {
        self.process.child.id()
    }

    /// Kills the wallet RPC at once (SIGKILL), without saving the open wallet, as a crash
    /// would, and waits for it to exit. For tests of recovery.
    pub async fn kill(mut self) {
        let _ = self.process.child.kill().await;
        self.process.remove_pid_file();
    }

    /// Stores the open wallet and stops (SIGTERM, which saves; SIGKILL after 20 s).
    pub async fn stop(mut self) {
        let _ = self.client.close_wallet().await;
        self.process.terminate(Duration::from_secs(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_lose_addresses_and_hashes_and_keep_the_rest() {
        let address = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
        let txid = "8fef56af2f093c34618cbdf4d0edc881822fda9a74887d1279a4fce876c9936d";
        let line =
            format!("2026-12-07 I Loaded wallet keys file, with public address: {address}\n");
        assert_eq!(
            redact_line(&line),
            "2026-12-07 I Loaded wallet keys file, with public address: <address>\n"
        );
        assert_eq!(
            redact_line(&format!("tx <{txid}> sent, blob {txid}{txid}.")),
            "tx <<hex>> sent, blob <hex>."
        );
        // short words, ports and error text stay as they are
        let plain = "Failed to bind 127.0.0.1:18083: Address already in use (errno 98)";
        assert_eq!(redact_line(plain), plain);
    }

    #[test]
    fn only_a_daemon_on_this_machine_is_trusted() {
        for local in [
            "127.0.0.1:18081",
            "http://127.0.0.1:18081",
            "https://localhost:18089/",
            "http://[::1]:18081",
        ] {
            assert!(daemon_is_local(local), "{local}");
        }
        for remote in [
            "node.example.org:18089",
            "https://node.example.org:18089",
            "http://192.168.1.20:18081",
            "http://[2001:db8::1]:18081",
            "http://localhost.example.org:18081",
        ] {
            assert!(!daemon_is_local(remote), "{remote}");
        }
    }

    #[test]
    fn through_a_proxy_a_node_is_an_onion_or_verified_https() {
        let proxy: std::net::SocketAddr = "127.0.0.1:9150".parse().expect("an address");
        let onion = proxy_args("http://xmrnodeabc.onion:18081", proxy).expect("an onion");
        assert_eq!(onion, ["--proxy", "127.0.0.1:9150"]);
        let refused = proxy_args("http://node.example:18081", proxy).expect_err("plain http");
        assert!(refused.to_string().contains("--tor-chain off"), "{refused}");
        assert!(
            proxy_args("203.0.113.5:18081", proxy).is_err(),
            "a bare address is http"
        );
        if let Ok(https) = proxy_args("https://node.example:18089", proxy) {
            assert_eq!(https[2], "--daemon-ssl-ca-certificates");
            assert!(std::path::Path::new(&https[3]).is_file());
        }
    }

    #[test]
    fn the_login_file_is_ours_alone_and_a_login_prints_no_password() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("login.conf");
        std::fs::write(&path, "old").expect("a leftover");
        let login = RpcLogin::random();
        write_private(&path, &login.user_and_password()).expect("written");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            login.user_and_password()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let password = login.user_and_password();
        let password = password.split(':').nth(1).expect("user:password");
        assert_eq!(password.len(), 32);
        assert!(!format!("{login:?}").contains(password));
        assert_ne!(RpcLogin::random(), login, "a fresh password each time");
    }
}
