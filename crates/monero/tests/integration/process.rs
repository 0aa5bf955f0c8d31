//! Process hygiene against real `monero-wallet-rpc` processes: a wallet RPC does not
//! outlive a crash of the process that started it, a leftover of an earlier run on the same
//! data directory is stopped at the next start, where the start is called from does not
//! matter, and neither server spends its start on a TLS certificate nobody uses.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use confiaro_monero::process::{ProcessConfig, WalletRpc};
use confiaro_monero::rpc::{RpcConfig, RpcLogin, WalletClient};
use confiaro_monero::MoneroError;
use confiaro_testkit::xmr::Stack;

/// Set (to `<wallet dir>|<daemon address>|<port>`) in the helper process only.
const HELPER_ENV: &str = "CONFIARO_MONERO_TEST_HELPER";

/// Whether `pid` runs (a zombie does not: it holds no port and no file lock).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Waits up to `timeout` for `pid` to be gone; how long it took, or `None`.
async fn gone_within(pid: u32, timeout: Duration) -> Option<Duration> {
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(started.elapsed())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn wallet_config(dir: &Path, port: u16) -> ProcessConfig {
    ProcessConfig {
        rpc_port: port,
        ..ProcessConfig::new("monero-wallet-rpc", dir)
    }
}

fn pid_in_file(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("monero-wallet-rpc.pid"))
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

/// Not a test on its own: the helper process of
/// `a_wallet_rpc_does_not_outlive_its_parent_killed_with_sigkill`, which runs this test
/// binary again with only this test and `HELPER_ENV` set. It starts a wallet RPC with an
/// open wallet, says so on stdout, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process, started by another test"]
async fn helper_starts_a_wallet_rpc_and_waits_to_be_killed() {
    let Ok(spec) = std::env::var(HELPER_ENV) else {
        println!("{HELPER_ENV} is not set: nothing to do");
        return;
    };
    let mut parts = spec.split('|');
    let (Some(dir), Some(daemon), Some(port)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("{HELPER_ENV} must be <dir>|<daemon address>|<port>, not {spec}");
    };
    let port: u16 = port.parse().expect("port");
    let rpc = WalletRpc::start(&wallet_config(Path::new(dir), port), daemon)
        .await
        .expect("wallet rpc");
    rpc.client()
        .create_wallet("w", "")
        .await
        .expect("create wallet");
    println!("READY {}", rpc.pid().expect("pid"));
    tokio::time::sleep(Duration::from_secs(600)).await;
    panic!("the helper was not killed");
}

#[tokio::test]
async fn a_wallet_rpc_does_not_outlive_its_parent_killed_with_sigkill() {
    let stack = Stack::start().await;
    let dir = stack.dir.path().join("engine");
    let port = free_port();
    let mut helper = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "process::helper_starts_a_wallet_rpc_and_waits_to_be_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(
            HELPER_ENV,
            format!("{}|{}|{port}", dir.display(), stack.monerod.address()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("helper");
    let stdout = helper.stdout.take().expect("piped stdout");
    let wallet_pid = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("READY ").map(str::to_owned))
    })
    .await
    .expect("reader")
    .expect("the helper never said READY")
    .parse::<u32>()
    .expect("pid");
    assert!(alive(wallet_pid));
    assert_eq!(pid_in_file(&dir), Some(wallet_pid));

    helper.kill().expect("SIGKILL the helper");
    helper.wait().expect("reap the helper");
    // PR_SET_PDEATHSIG: the kernel sends the orphan SIGTERM; it saves and exits.
    let Some(took) = gone_within(wallet_pid, Duration::from_secs(15)).await else {
        // Leave no orphan behind: it would hold the port until the machine stops.
        if let Ok(pid) = libc::pid_t::try_from(wallet_pid) {
            // SAFETY: kill(2) on the wallet rpc the helper started; no memory involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        panic!("the wallet rpc outlived its killed parent");
    };
    println!("the orphaned wallet rpc exited {took:?} after its parent was killed");

    // The port and the wallet file are free again.
    let rpc = WalletRpc::start(&wallet_config(&dir, port), &stack.monerod.address())
        .await
        .expect("a new wallet rpc on the same directory and port");
    rpc.client()
        .open_wallet("w", "")
        .await
        .expect("the wallet file is not locked");
    rpc.stop().await;
    assert_eq!(pid_in_file(&dir), None, "stop removes the pid file");
    stack.monerod.stop().await;
}

#[tokio::test]
async fn a_wallet_rpc_left_running_on_the_data_dir_is_stopped_at_the_next_start() {
    let stack = Stack::start().await;
    let dir = stack.dir.path().join("engine");
    let port = free_port();
    let first = WalletRpc::start(&wallet_config(&dir, port), &stack.monerod.address())
        .await
        .expect("first wallet rpc");
    first
        .client()
        .create_wallet("w", "")
        .await
        .expect("create wallet");
    let first_pid = first.pid().expect("pid");
    assert_eq!(pid_in_file(&dir), Some(first_pid));
    // As if our process had lost track of it without stopping it (its parent is still
    // alive, so no PR_SET_PDEATHSIG): only the pid file knows.
    std::mem::forget(first);

    // Without the pid file this start would fail: the port is taken.
    let second = WalletRpc::start(&wallet_config(&dir, port), &stack.monerod.address())
        .await
        .expect("second wallet rpc on the same directory and port");
    assert!(!alive(first_pid), "the leftover was stopped");
    assert_eq!(pid_in_file(&dir), second.pid());
    second
        .client()
        .open_wallet("w", "")
        .await
        .expect("the leftover saved and released the wallet");

    // A pid file naming a process that is not ours (this test) is left alone.
    let own = std::process::id();
    second.stop().await;
    std::fs::write(dir.join("monero-wallet-rpc.pid"), format!("{own}\n")).expect("write");
    let third = WalletRpc::start(&wallet_config(&dir, port), &stack.monerod.address())
        .await
        .expect("third wallet rpc");
    assert_eq!(pid_in_file(&dir), third.pid());
    third.stop().await;

    // And a port held by something else is still reported as taken.
    let holder = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let held = holder.local_addr().expect("addr").port();
    let err = WalletRpc::start(&wallet_config(&dir, held), &stack.monerod.address())
        .await
        .expect_err("port taken");
    assert!(matches!(err, MoneroError::PortTaken { .. }), "{err:?}");
    stack.monerod.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_rpc_started_from_a_short_lived_thread_outlives_that_thread() {
    let stack = Stack::start().await;
    let dir = stack.dir.path().join("engine");
    let config = wallet_config(&dir, 0);
    let daemon = stack.monerod.address();
    let runtime = tokio::runtime::Handle::current();
    // PR_SET_PDEATHSIG follows the thread that forks: were the child forked on this thread,
    // it would get SIGTERM as soon as the thread ends.
    let starter = std::thread::spawn(move || runtime.block_on(WalletRpc::start(&config, &daemon)));
    let rpc = tokio::task::spawn_blocking(move || starter.join())
        .await
        .expect("join")
        .expect("starter thread")
        .expect("wallet rpc");
    let pid = rpc.pid().expect("pid");
    // The starting thread has ended. A SIGTERMed wallet rpc without a wallet exits in well
    // under a second; give it three.
    assert_eq!(
        gone_within(pid, Duration::from_secs(3)).await,
        None,
        "the wallet rpc died with the thread that started it"
    );
    rpc.client()
        .create_wallet("w", "")
        .await
        .expect("the wallet rpc still answers");
    rpc.stop().await;
    stack.monerod.stop().await;
}

/// Whether a TLS handshake (any certificate accepted) with `http_url`'s server succeeds.
async fn speaks_tls(http_url: &str) -> bool {
    let https = http_url.replacen("http://", "https://", 1);
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("https client");
    client
        .post(format!("{https}/json_rpc"))
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "get_version"}))
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn monerod_and_the_wallet_rpc_serve_plain_http_on_loopback_without_a_tls_certificate() {
    // With TLS on (monero's default, "autodetect"), each start first generates a self-signed
    // RSA-4096 certificate: seconds of CPU at every command, for a server only this process
    // talks to on 127.0.0.1.
    let stack = Stack::start().await;
    let rpc = WalletRpc::start(
        &wallet_config(&stack.dir.path().join("engine"), 0),
        &stack.monerod.address(),
    )
    .await
    .expect("wallet rpc");
    rpc.client()
        .create_wallet("w", "")
        .await
        .expect("plain HTTP works");
    assert!(
        !speaks_tls(rpc.client().url()).await,
        "the wallet RPC answered TLS"
    );
    assert!(
        stack.monerod.client().height().await.is_ok(),
        "plain HTTP works"
    );
    assert!(
        !speaks_tls(stack.monerod.client().url()).await,
        "monerod answered TLS"
    );
    rpc.stop().await;
    stack.monerod.stop().await;
}

#[tokio::test]
async fn an_https_daemon_url_is_never_downgraded_to_plain_http() {
    // monerod serves plain HTTP only: a wallet RPC told `https://` must not reach it (monero's
    // default would retry without TLS), while `http://` and a bare address reach it.
    let stack = Stack::start().await;
    let address = stack.monerod.address();
    for (daemon, reaches) in [
        (format!("https://{address}"), false),
        (format!("http://{address}/"), true),
        (address.clone(), true),
    ] {
        let rpc = WalletRpc::start(
            &wallet_config(
                &stack
                    .dir
                    .path()
                    .join(format!("w-{reaches}-{}", daemon.len())),
                0,
            ),
            &daemon,
        )
        .await
        .expect("wallet rpc");
        // creating a wallet asks the daemon for its height; refreshing reads its blocks
        let reached = match rpc.client().create_wallet("w", "").await {
            Ok(()) => rpc.client().refresh().await.map(drop),
            Err(e) => Err(e),
        };
        assert_eq!(
            reached.is_ok(),
            reaches,
            "{daemon}: {reached:?} (TLS exactly when the URL says https)"
        );
        rpc.stop().await;
    }
    stack.monerod.stop().await;
}

/// The wallet RPC holds a wallet that can spend: no other local process may use it. It asks
/// for a login made at its start, which is on no command line and, once it runs, in no file;
/// a client without it is refused, ours is served.
#[tokio::test]
async fn a_wallet_rpc_serves_only_the_process_that_started_it() {
    let stack = Stack::start().await;
    let dir = stack.dir.path().join("locked");
    let config = ProcessConfig {
        without_login: false,
        ..wallet_config(&dir, free_port())
    };
    let rpc = WalletRpc::start(&config, &stack.monerod.address())
        .await
        .expect("a wallet rpc");
    rpc.client()
        .create_wallet("w", "")
        .await
        .expect("our client is served");
    assert!(
        rpc.client().height().await.is_ok(),
        "and again (a reused challenge)"
    );

    let stranger = WalletClient::new(rpc.url(), RpcConfig::default()).expect("a client");
    let refused = stranger.height().await;
    assert!(
        matches!(refused, Err(MoneroError::Unauthorized { .. })),
        "a client without the login: {refused:?}"
    );
    let guesser = WalletClient::new(rpc.url(), RpcConfig::default())
        .expect("a client")
        .with_login(RpcLogin::new("confiaro", "guess"));
    assert!(matches!(
        guesser.height().await,
        Err(MoneroError::Unauthorized { .. })
    ));

    let pid = rpc.pid().expect("running");
    let command_line = std::fs::read(format!("/proc/{pid}/cmdline")).expect("its command line");
    let command_line = String::from_utf8_lossy(&command_line).replace('\0', " ");
    assert!(!command_line.contains("rpc-login"), "{command_line}");
    assert!(
        !command_line.contains("disable-rpc-login"),
        "{command_line}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("the data dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("login"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the login file is removed: {leftovers:?}"
    );

    // many calls at once share the login (each may need a fresh challenge)
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = rpc.client().clone();
            tokio::spawn(async move { client.height().await })
        })
        .collect();
    for call in calls {
        call.await
            .expect("the task")
            .expect("every concurrent call is served");
    }
    rpc.stop().await;
    stack.monerod.stop().await;
}

/// A relay on loopback in front of `upstream` that delays the body of every answer: it sends
/// the head (up to its blank line), waits 50 ms, then the rest — as a loaded machine can.
/// Returns its port.
fn slow_body_relay(upstream: u16) -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut to_server, mut from_client) = (
                server.try_clone().expect("clone"),
                client.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_client, &mut to_server);
            });
            let (mut from_server, mut to_client) = (server, client);
            std::thread::spawn(move || {
                let mut buffer = [0u8; 64 * 1024];
                while let Ok(read) = from_server.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    let chunk = &buffer[..read];
                    let split = chunk
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(read, |at| at + 4);
                    if to_client.write_all(&chunk[..split]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    if to_client.write_all(&chunk[split..]).is_err() {
                        break;
                    }
                }
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

/// monero-wallet-rpc keeps a digest session per connection: a challenge answered on another
/// connection is stale. A 401's body that arrives after its head must still be read, or the
/// connection cannot be reused and every retry lands on a new connection, stale again (seen
/// in CI as "refused our login" on loaded machines). Through a relay that delays every body,
/// each call is served.
#[tokio::test]
async fn a_login_holds_when_the_bodies_of_answers_arrive_late() {
    let stack = Stack::start().await;
    let dir = stack.dir.path().join("late-bodies");
    std::fs::create_dir_all(&dir).expect("a dir");
    let port = free_port();
    // started by hand, to know its login: the test's own, on its command line
    let mut rpc = tokio::process::Command::new("monero-wallet-rpc")
        .args(["--daemon-address", &stack.monerod.address()])
        .args([
            "--rpc-bind-ip",
            "127.0.0.1",
            "--rpc-bind-port",
            &port.to_string(),
        ])
        .args(["--rpc-login", "tester:secret", "--rpc-ssl", "disabled"])
        .arg("--wallet-dir")
        .arg(&dir)
        .args(["--non-interactive", "--log-level", "0"])
        .arg("--log-file")
        .arg(dir.join("wallet-rpc.log"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("monero-wallet-rpc starts");
    let login = RpcLogin::new("tester", "secret");
    let direct = WalletClient::new(&format!("http://127.0.0.1:{port}"), RpcConfig::default())
        .expect("a client")
        .with_login(login.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while matches!(
        direct.height().await,
        Err(MoneroError::Unreachable { .. } | MoneroError::Timeout { .. })
    ) {
        assert!(Instant::now() < deadline, "the wallet RPC answers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    direct.create_wallet("w", "").await.expect("a wallet");

    let relay = slow_body_relay(port);
    let client = WalletClient::new(&format!("http://127.0.0.1:{relay}"), RpcConfig::default())
        .expect("a client")
        .with_login(login);
    for call in 0..20 {
        client
            .height()
            .await
            .unwrap_or_else(|e| panic!("call {call} through the slow relay: {e}"));
    }
    let _ = rpc.kill().await;
    stack.monerod.stop().await;
}

#[tokio::test]
async fn the_wallet_rpc_is_located_with_its_version_and_a_missing_one_is_named() {
    let found = confiaro_monero::process::locate_binary(
        "monero-wallet-rpc",
        Path::new("monero-wallet-rpc"),
    )
    .await
    .expect("the installed monero-wallet-rpc");
    assert!(
        found.path.is_absolute() && found.path.is_file(),
        "{found:?}"
    );
    assert!(found.version.starts_with("v0.18."), "{found:?}");
    let missing = confiaro_monero::process::locate_binary(
        "monero-wallet-rpc",
        Path::new("/nonexistent/monero-wallet-rpc"),
    )
    .await
    .unwrap_err();
    let text = missing.to_string();
    assert!(
        text.contains("not found") && text.contains("/nonexistent/monero-wallet-rpc"),
        "{text}"
    );
}
