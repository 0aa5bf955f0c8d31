//! The end-to-end harness: one devnet per test binary (the Bitcoin devnet node, regtest
//! monerod with a funded wallet, a rendezvous point; blocks mined on a timer on both chains),
//! and `confiaro` processes — each party its own data directory and its own OS process —
//! talking libp2p over loopback.
//!
//! Processes run with `--json`; the harness reads their event lines to know where each swap
//! is, kills them (SIGKILL) or stops them (SIGTERM), and restarts them.
//!
//! The harness runs the `confiaro` binary it is given: the CLI's integration tests and
//! benchmarks pass `env!("CARGO_BIN_EXE_confiaro")` (an absolute path cargo fills in) to
//! [`Devnet::shared`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use confiaro_devnet::stack::{AutoMiner, Stack, StackConfig, StackInfo};

use serde_json::Value;

/// The wallet password every test party uses.
pub const PASSWORD: &str = "e2e-password";
/// 1 BTC in sat.
pub const BTC: u64 = 100_000_000;
/// 1 XMR in piconero.
pub const XMR: u64 = 1_000_000_000_000;
/// The test maker's price: 100 XMR per BTC.
pub const PRICE: &str = "100";

/// The devnet shared by the tests of one binary, and the `confiaro` binary they run on it.
pub struct Devnet {
    /// Where the devnet's servers are (its `devnet.json`).
    pub info: StackInfo,
    /// The devnet's data directory.
    pub dir: PathBuf,
    /// The `confiaro` binary every [`Party`] runs.
    binary: PathBuf,
    runtime: tokio::runtime::Runtime,
    stack: Stack,
    miners: Mutex<Miners>,
}

/// The block timers, one per chain so that Bitcoin's can pause alone.
#[derive(Default)]
struct Miners {
    btc_every: Option<Duration>,
    btc: Option<AutoMiner>,
    xmr: Option<AutoMiner>,
    /// Live [`BtcPause`]s: Bitcoin blocks come again when the last one goes.
    btc_pauses: usize,
}

/// Holds the devnet's Bitcoin block timer (see [`Devnet::pause_btc_mining`]).
pub struct BtcPause {
    devnet: &'static Devnet,
}

impl Drop for BtcPause {
    fn drop(&mut self) {
        let mut miners = self.devnet.miners.lock().unwrap();
        miners.btc_pauses -= 1;
        if miners.btc_pauses == 0 {
            if let Some(every) = miners.btc_every {
                miners.btc = Some(self.devnet.auto_mine(Some(every), None));
            }
        }
    }
}

static DEVNET: OnceLock<Devnet> = OnceLock::new();

impl Devnet {
    /// The test binary's devnet, started on first use, with a block every [`BTC_BLOCK`] and
    /// [`XMR_BLOCK`]; its parties run `binary` (the same one on every call).
    pub fn shared(binary: &str) -> &'static Devnet {
        Devnet::shared_with(binary, Some((BTC_BLOCK, XMR_BLOCK)))
    }

    /// [`Devnet::shared`] with other block intervals: when `mining` is given, a block every
    /// `(btc, xmr)` interval on each chain; none on a timer otherwise. The first call decides.
    ///
    /// # Panics
    ///
    /// If `binary` is not an absolute path to a file, or the devnet does not start.
    pub fn shared_with(binary: &str, mining: Option<(Duration, Duration)>) -> &'static Devnet {
        let devnet = DEVNET.get_or_init(|| Devnet::start(binary, mining));
        assert_eq!(
            devnet.binary,
            Path::new(binary),
            "one test binary runs one confiaro binary"
        );
        devnet
    }

    fn start(binary: &str, mining: Option<(Duration, Duration)>) -> Devnet {
        let binary = PathBuf::from(binary);
        assert!(
            binary.is_absolute() && binary.is_file(),
            "the confiaro binary under test is {}: not an absolute path to a file",
            binary.display()
        );
        // kept: the devnet lives as long as the test process; the next run's reaper removes
        // the directory once this process is gone
        let dir = crate::leftovers::test_dir("e2e-devnet").keep();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let started = Instant::now();
        let stack = runtime
            .block_on(Stack::start(StackConfig::ephemeral(&dir)))
            .expect("the devnet starts");
        eprintln!(
            "e2e: devnet up in {:.1} s ({}), mining {mining:?}",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
        let devnet = Devnet {
            info: stack.info().clone(),
            dir,
            binary,
            runtime,
            stack,
            miners: Mutex::default(),
        };
        if let Some((btc, xmr)) = mining {
            devnet.start_mining(btc, xmr);
        }
        devnet
    }
}

/// Time between Bitcoin blocks in the tests: the window in which Bob may still send his
/// redeem signature (8 blocks on regtest) must leave room for a party's restart (several
/// seconds on a loaded two-core machine).
pub const BTC_BLOCK: Duration = Duration::from_secs(4);
/// Seconds between Monero blocks: ten confirmations must come within a few Bitcoin blocks.
pub const XMR_BLOCK: Duration = Duration::from_millis(400);

impl Devnet {
    /// Mines on a timer from now on (replacing any timer).
    pub fn start_mining(&self, btc: Duration, xmr: Duration) {
        let mut miners = self.miners.lock().unwrap();
        miners.btc_every = Some(btc);
        if miners.btc_pauses == 0 {
            miners.btc = Some(self.auto_mine(Some(btc), None));
        }
        miners.xmr = Some(self.auto_mine(None, Some(xmr)));
    }

    /// A block timer on the stack (on its runtime).
    fn auto_mine(&self, btc: Option<Duration>, xmr: Option<Duration>) -> AutoMiner {
        self.runtime
            .block_on(async { self.stack.auto_mine(btc, xmr) })
    }

    /// Stops the Bitcoin block timer until the returned guard (and every other live one) is
    /// dropped; Monero blocks go on. The tests' timelocks are a few blocks of a few seconds, so
    /// a process restarting on a loaded machine could otherwise miss a whole window while it
    /// is down (on a real chain the windows are hours).
    pub fn pause_btc_mining(&'static self) -> BtcPause {
        let mut miners = self.miners.lock().unwrap();
        miners.btc_pauses += 1;
        miners.btc = None;
        BtcPause { devnet: self }
    }

    /// Mines `btc` Bitcoin and `xmr` Monero blocks now.
    pub fn mine(&self, btc: u32, xmr: u64) {
        self.runtime.block_on(async {
            if btc > 0 {
                self.stack.mine_btc(btc).await.expect("mining BTC");
            }
            if xmr > 0 {
                self.stack.mine_xmr(xmr).await.expect("mining XMR");
            }
        });
    }

    /// Pays `sat` to a Bitcoin address (confirmed in one block).
    pub fn fund_btc(&self, address: &str, sat: u64) {
        let address: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
            address.parse().expect("a bitcoin address");
        let address = address.assume_checked();
        self.runtime
            .block_on(
                self.stack
                    .fund_btc(&address, bitcoin::Amount::from_sat(sat)),
            )
            .expect("funding BTC");
    }

    /// Pays `piconero` to a Monero address (spendable when this returns).
    pub fn fund_xmr(&self, address: &str, piconero: u64) {
        let address: monero::Address = address.parse().expect("a monero address");
        self.runtime
            .block_on(self.stack.fund_xmr(
                &address,
                confiaro_protocol::XmrAmount::from_piconero(piconero),
            ))
            .expect("funding XMR");
    }

    /// The Bitcoin tip height.
    pub fn btc_height(&self) -> u32 {
        self.stack
            .node()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tip_height()
    }

    /// Confirmations of a transaction (0 in the mempool, `None` unknown).
    pub fn btc_confirmations(&self, txid: &str) -> Option<u32> {
        let txid: bitcoin::Txid = txid.parse().expect("a txid");
        let node = self.stack.node().lock().unwrap_or_else(|p| p.into_inner());
        let (_, confirmations) = node.get_tx(&txid)?;
        Some(confirmations.unwrap_or(0))
    }

    /// Keeps transaction `txid` (in the mempool now or whenever it comes) out of blocks
    /// until a child pays for it: its fee counts as -1 sat when mining (bitcoind's
    /// `prioritisetransaction`), as if it paid far below what miners take.
    pub fn hold_btc_tx(&self, txid: &str) {
        let txid: bitcoin::Txid = txid.parse().expect("a txid");
        let mut node = self.stack.node().lock().unwrap_or_else(|p| p.into_inner());
        node.hold(txid);
    }

    /// Waits until the Bitcoin chain is at least `height` high.
    pub fn wait_for_btc_height(&self, height: u32, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.btc_height() < height {
            assert!(
                Instant::now() < deadline,
                "the chain did not reach {height}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A party: a data directory with a wallet, and how to run `confiaro` on it against its
/// devnet.
pub struct Party {
    /// The party's name, in process names and errors.
    pub name: String,
    devnet: &'static Devnet,
    /// The libp2p port its maker listens on, kept across restarts (as a real maker's).
    maker_port: Mutex<Option<u16>>,
    /// Its data directory (removed when dropped).
    pub dir: tempfile::TempDir,
    /// Its wallet's first Bitcoin receive address.
    pub btc_address: String,
    /// Its wallet's Monero address.
    pub xmr_address: String,
    /// Its wallet's mnemonic.
    pub mnemonic: String,
    /// XMR paid to it by [`Devnet::funded_maker`], in piconero.
    pub funded_xmr: u64,
    /// Environment every command of this party gets (e.g. `CONFIARO_STORE_URL`).
    env: Vec<(String, String)>,
}

/// Parses the JSON lines of a process's standard output.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

impl Devnet {
    /// A new party with a fresh wallet on this devnet.
    pub fn party(&'static self, name: &str) -> Party {
        self.party_with_env(name, &[])
    }

    /// A new party with a fresh wallet, whose every command runs with `env`.
    pub fn party_with_env(&'static self, name: &str, env: &[(&str, &str)]) -> Party {
        let mut party = self.empty_party(name, env);
        let created = party.run_ok(&["init"]);
        party.mnemonic = created["mnemonic"].as_str().expect("mnemonic").to_owned();
        party.btc_address = created["btc_address"]
            .as_str()
            .expect("btc address")
            .to_owned();
        party.xmr_address = created["xmr_address"]
            .as_str()
            .expect("xmr address")
            .to_owned();
        party
    }

    /// A party in a new empty data directory, without a wallet yet.
    fn empty_party(&'static self, name: &str, env: &[(&str, &str)]) -> Party {
        Party {
            name: name.to_owned(),
            devnet: self,
            maker_port: Mutex::new(None),
            dir: crate::leftovers::test_dir(&format!("e2e-{name}")),
            btc_address: String::new(),
            xmr_address: String::new(),
            mnemonic: String::new(),
            funded_xmr: 0,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// A new party in a data directory of its own, restored from `mnemonic` (another
    /// party's: a second instance of one wallet, or a restore into an empty directory).
    pub fn restored_party(&'static self, name: &str, mnemonic: &str) -> Party {
        use std::io::Write;
        let mut party = self.empty_party(name, &[]);
        party.mnemonic = mnemonic.to_owned();
        let mut child = party
            .command(&["init", "--restore"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("confiaro runs");
        writeln!(child.stdin.take().expect("stdin"), "{mnemonic}").expect("mnemonic written");
        let output = child.wait_with_output().expect("init ends");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: init --restore failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let restored = json_lines(&stdout).pop().expect("a JSON line");
        party.btc_address = restored["btc_address"].as_str().expect("btc").to_owned();
        party.xmr_address = restored["xmr_address"].as_str().expect("xmr").to_owned();
        party
    }
}

impl Party {
    /// `confiaro --json --data-dir … --devnet … ARGS`, ready to run from the party's data
    /// directory (not the test's working directory: nothing may depend on where it starts).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.devnet.binary);
        command
            .current_dir(self.dir.path())
            .arg("--json")
            .arg("--data-dir")
            .arg(self.dir.path())
            .arg("--devnet")
            .arg(&self.devnet.dir)
            .args(args)
            .env("CONFIARO_PASSWORD", PASSWORD)
            .env("CONFIARO_LOG", "confiaro=info,warn")
            .env_remove("CONFIARO_TEST_KILL_AFTER")
            .env_remove("CONFIARO_TEST_FAULT")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    /// Runs a command to its end; returns its status and JSON lines.
    pub fn run(&self, args: &[&str]) -> (ExitStatus, Vec<Value>, String) {
        let output = self.command(args).output().expect("confiaro runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status, json_lines(&stdout), stderr)
    }

    /// Runs a command that must succeed; returns its last JSON line.
    pub fn run_ok(&self, args: &[&str]) -> Value {
        let (status, lines, stderr) = self.run(args);
        assert!(
            status.success(),
            "{}: confiaro {args:?} failed ({status}): {stderr}",
            self.name
        );
        lines.last().cloned().unwrap_or(Value::Null)
    }

    /// Starts a long-running command.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = self.command(args);
        for (k, v) in env {
            command.env(k, v);
        }
        Running::start(
            &format!("{} {}", self.name, args.join(" ")),
            command,
            self.dir.path(),
            None,
        )
    }

    /// Starts a long-running command whose every JSON line is also handed to `observer`.
    pub fn spawn_observed(&self, args: &[&str], observer: Observer) -> Running {
        Running::start(
            &format!("{} {}", self.name, args.join(" ")),
            self.command(args),
            self.dir.path(),
            Some(observer),
        )
    }

    /// The balances (`wallet balance`): confirmed + pending BTC sat, total XMR piconero.
    pub fn balances(&self) -> (u64, u64) {
        let b = self.run_ok(&["wallet", "balance"]);
        let btc = b["btc_confirmed_sat"].as_u64().unwrap() + b["btc_pending_sat"].as_u64().unwrap();
        (btc, b["xmr_total_piconero"].as_u64().unwrap())
    }

    /// The swaps of this party (`swap list`).
    pub fn swaps(&self) -> Vec<Value> {
        let (status, lines, stderr) = self.run(&["swap", "list"]);
        assert!(status.success(), "swap list: {stderr}");
        lines
            .last()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// Every file under the party's data directory that holds one of `secrets`, as
    /// `"FILE holds SECRET"`. A secret is looked for as its text; one in hex of 20 bytes or
    /// more (a script, a txid, a Monero tx hash) also as its raw bytes, and a 32-byte one in
    /// both byte orders. The harness's own captures of the processes' standard error
    /// (`stderr-*.log`: what a user's terminal or journal gets) are not the app's files and
    /// are left out.
    pub fn files_revealing(&self, secrets: &[String]) -> Vec<String> {
        let mut needles: Vec<(&str, Vec<u8>)> = Vec::new();
        for secret in secrets {
            needles.push((secret, secret.as_bytes().to_vec()));
            if let Ok(raw) = hex::decode(secret) {
                if raw.len() == 32 {
                    let mut reversed = raw.clone();
                    reversed.reverse();
                    needles.push((secret, reversed));
                }
                if raw.len() >= 20 {
                    needles.push((secret, raw));
                }
            }
        }
        let mut found = Vec::new();
        let mut dirs = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("the data directory reads") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.parent() == Some(self.dir.path())
                    && path.file_name().is_some_and(|name| {
                        let name = name.to_string_lossy();
                        name.starts_with("stderr-") && name.ends_with(".log")
                    })
                {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                for (secret, needle) in &needles {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                        found.push(format!("{} holds {secret}", path.display()));
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    /// One swap (`swap show`).
    pub fn swap(&self, id: &str) -> Value {
        self.run_ok(&["swap", "show", id])["swap"].clone()
    }
}

/// A function shown every JSON line of a process.
pub type Observer = Arc<dyn Fn(&Value) + Send + Sync>;

/// A running `confiaro` process whose JSON lines are read as they come.
pub struct Running {
    /// The process's name (the party and the command), in errors.
    pub name: String,
    child: Child,
    lines: Receiver<Value>,
    seen: Arc<Mutex<Vec<Value>>>,
    stderr_log: PathBuf,
}

impl Running {
    fn start(name: &str, mut command: Command, dir: &Path, observer: Option<Observer>) -> Running {
        let stderr_log = dir.join(format!(
            "stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let stderr = std::fs::File::create(&stderr_log).expect("stderr log");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("confiaro starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if let Some(observer) = &observer {
                        observer(&value);
                    }
                    seen2.lock().unwrap().push(value.clone());
                    let _ = tx.send(value);
                }
            }
        });
        Running {
            name: name.to_owned(),
            child,
            lines: rx,
            seen,
            stderr_log,
        }
    }

    /// Every JSON line so far.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// The process's standard error so far (its log) and its last JSON lines, for failure
    /// messages.
    pub fn stderr(&self) -> String {
        let lines: Vec<String> = self
            .seen()
            .iter()
            .filter(|v| v["event"] != "bitcoin_tip")
            .map(|v| v.to_string())
            .collect();
        format!(
            "{}\n-- last output lines --\n{}",
            std::fs::read_to_string(&self.stderr_log).unwrap_or_default(),
            tail(&lines.join("\n"), 25)
        )
    }

    /// Waits for a JSON line matching `pred` (lines already seen count), up to `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.lock().unwrap().iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no {what} within {timeout:?}; stderr:\n{}",
                    self.name,
                    tail(&self.stderr(), 40)
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: exited before {what}; stderr:\n{}",
                    self.name,
                    tail(&self.stderr(), 40)
                ),
            }
        }
    }

    /// Waits for the swap event `kind` of state `state` (e.g. `state_changed` / `XmrLocked`).
    pub fn wait_for_state(&self, state: &str, timeout: Duration) -> Value {
        self.wait_for(&format!("state {state}"), timeout, |v| {
            v["event"] == "swap" && v["kind"] == "state_changed" && v["state"] == state
        })
    }

    /// Waits for the swap to finish (the `finished` line); returns (phase, state).
    pub fn wait_for_finish(&self, timeout: Duration) -> (String, String) {
        let v = self.wait_for("finished swap", timeout, |v| {
            v["event"] == "swap" && v["kind"] == "finished"
        });
        (
            v["phase"].as_str().unwrap_or_default().to_owned(),
            v["state"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: did not exit within {timeout:?}; stderr:\n{}",
                self.name,
                tail(&self.stderr(), 40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a clean stop) and wait for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid; no memory involved.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        self.wait_exit(Duration::from_secs(60))
    }

    /// Whether it was killed by SIGKILL (the crash hook).
    pub fn killed_by_sigkill(status: &ExitStatus) -> bool {
        use std::os::unix::process::ExitStatusExt as _;
        status.signal() == Some(libc::SIGKILL)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: as in `terminate`.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Party {
    /// Runs `maker run` on this party's wallet (its XMR as funded), started with `env` (fault
    /// injection) on the port it had before, if it ran before; returns it running and its
    /// multiaddr once it is ready.
    pub fn start_maker(&self, env: &[(&str, &str)]) -> (Running, String) {
        self.start_maker_with(&[], env)
    }

    /// [`Party::start_maker`] that also buys XMR (takers sell it) at [`PRICE`], 0.001 to
    /// 0.1 BTC per swap: its BTC is what the party was funded with.
    pub fn start_two_sided_maker(&self, env: &[(&str, &str)]) -> (Running, String) {
        self.start_maker_with(
            &[
                "--sell-price",
                PRICE,
                "--sell-min",
                "0.001",
                "--sell-max",
                "0.1",
            ],
            env,
        )
    }

    fn start_maker_with(&self, extra: &[&str], env: &[(&str, &str)]) -> (Running, String) {
        let port = *self.maker_port.lock().unwrap();
        let listen = format!("/ip4/127.0.0.1/tcp/{}", port.unwrap_or(0));
        let mut args = vec!["--listen", &listen];
        args.extend_from_slice(extra);
        let (maker, address) = self.spawn_maker(&args, env, Duration::from_secs(120));
        let port: u16 = address
            .split('/')
            .nth(4)
            .and_then(|p| p.parse().ok())
            .expect("a tcp port in the address");
        *self.maker_port.lock().unwrap() = Some(port);
        (maker, address)
    }

    /// Runs `maker run` over Tor (the party's commands must join a Tor network, e.g. with
    /// `CONFIARO_TOR_NETWORK`): no TCP listen address, the maker serves an onion service.
    /// Returns it running and its onion multiaddr once it is ready.
    pub fn start_onion_maker(&self, env: &[(&str, &str)]) -> (Running, String) {
        self.spawn_maker(&[], env, Duration::from_secs(180))
    }

    /// `maker run` at [`PRICE`], 0.001 to 0.1 BTC per swap, with `extra` arguments; returns
    /// it running and its first address once it printed its ready line (within `ready`).
    fn spawn_maker(
        &self,
        extra: &[&str],
        env: &[(&str, &str)],
        ready: Duration,
    ) -> (Running, String) {
        let mut args = vec![
            "maker", "run", "--price", PRICE, "--min", "0.001", "--max", "0.1",
        ];
        args.extend_from_slice(extra);
        let maker = self.spawn(&args, env);
        let line = maker.wait_for("ready line", ready, |v| v["ready"] == true);
        let address = line["addresses"][0]
            .as_str()
            .expect("an address")
            .to_owned();
        (maker, address)
    }

    /// Starts `swap buy-xmr` of 0.01 BTC against `maker`; returns the running taker and the
    /// swap id.
    pub fn buy(&self, maker: &str, env: &[(&str, &str)]) -> (Running, String) {
        let running = self.spawn(&["swap", "buy-xmr", "--btc", "0.01", "--maker", maker], env);
        let started = running.wait_for("swap start", Duration::from_secs(60), |v| {
            v["started"] == true
        });
        let id = started["swap_id"].as_str().expect("swap id").to_owned();
        (running, id)
    }
}

impl Party {
    /// Starts `swap sell-xmr` of 1 XMR ([`SWAP_PICONERO`], 0.01 BTC at [`PRICE`]) against
    /// `maker`; returns the running taker and the swap id.
    pub fn sell(&self, maker: &str, env: &[(&str, &str)]) -> (Running, String) {
        let running = self.spawn(&["swap", "sell-xmr", "--xmr", "1", "--maker", maker], env);
        let started = running.wait_for("swap start", Duration::from_secs(60), |v| {
            v["started"] == true
        });
        let id = started["swap_id"].as_str().expect("swap id").to_owned();
        (running, id)
    }
}

/// What [`Devnet::funded_taker`] pays a taker: 0.1 BTC.
pub const TAKER_SAT: u64 = BTC / 10;

impl Devnet {
    /// A maker party whose XMR came in `outputs` separate transfers of 2 XMR.
    pub fn funded_maker(&'static self, name: &str, outputs: usize) -> Party {
        self.funded_maker_with_env(name, outputs, &[])
    }

    /// [`Devnet::funded_maker`] whose every command runs with `env`.
    pub fn funded_maker_with_env(
        &'static self,
        name: &str,
        outputs: usize,
        env: &[(&str, &str)],
    ) -> Party {
        let mut party = self.party_with_env(name, env);
        for _ in 0..outputs {
            self.fund_xmr(&party.xmr_address, 2 * XMR);
            party.funded_xmr += 2 * XMR;
        }
        party
    }

    /// A taker party selling XMR: holding 2 XMR, spendable.
    pub fn funded_seller(&'static self, name: &str) -> Party {
        let mut party = self.party(name);
        self.fund_xmr(&party.xmr_address, 2 * XMR);
        party.funded_xmr += 2 * XMR;
        party
    }

    /// A maker that sells XMR and buys it: 2 XMR and [`TAKER_SAT`] of BTC.
    pub fn funded_two_sided_maker(&'static self, name: &str) -> Party {
        let party = self.funded_maker(name, 1);
        self.fund_btc(&party.btc_address, TAKER_SAT);
        party
    }

    /// A taker party holding [`TAKER_SAT`].
    pub fn funded_taker(&'static self, name: &str) -> Party {
        self.funded_taker_with_env(name, &[])
    }

    /// [`Devnet::funded_taker`] whose every command runs with `env`.
    pub fn funded_taker_with_env(&'static self, name: &str, env: &[(&str, &str)]) -> Party {
        let party = self.party_with_env(name, env);
        self.fund_btc(&party.btc_address, TAKER_SAT);
        party
    }
}

/// The swap's BTC amount in these tests (0.01 BTC) and the XMR it buys at [`PRICE`].
pub const SWAP_SAT: u64 = BTC / 100;
/// 0.01 BTC × 100 XMR/BTC.
pub const SWAP_PICONERO: u64 = XMR;

/// Waits for `running`'s swap to finish in `phase` (and `state`), or fails with its log.
pub fn expect_finish(running: &Running, phase: &str, state: Option<&str>) {
    let (got_phase, got_state) = running.wait_for_finish(Duration::from_secs(300));
    let ok = got_phase == phase && state.is_none_or(|s| s == got_state);
    assert!(
        ok,
        "{}: finished {got_phase}/{got_state}, expected {phase}/{state:?}; stderr:\n{}",
        running.name,
        tail(&running.stderr(), 60)
    );
}
