//! A private Tor network on loopback for tests, from Debian's `tor` package (chutney's
//! networks are the model): 3 directory authorities (also relays and directory caches) and 5
//! exit relays on 127.0.0.1, `TestingTorNetwork` with 10 s votes, every relay voted Guard,
//! Exit and HSDir at once. A usable consensus exists about 10 s after the start. Nothing
//! reaches the public Tor network: every node knows only these authorities.
//!
//! An embedded Tor client (arti) joins it with [`TorNetwork::authorities`] and
//! [`TorNetwork::fallbacks`], and must be told that relays on loopback are fine.
//! The authorities publish `cbtmintimeout=3000`: on loopback a client otherwise learns a
//! circuit-build timeout of some 60 ms and gives up slower onion-service circuits after a
//! few minutes.
//!
//! Each `tor` runs in the foreground as our child, in a [`crate::leftovers::test_dir`]: the
//! handle stops them (SIGTERM, SIGKILL after 5 s: a relay was once seen to hang on exit)
//! and a killed run's nodes are reaped by the next one. Missing binaries fail with a pointer
//! to `./scripts/setup.sh`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOR: &str = "tor";
const GENCERT: &str = "tor-gencert";
const AUTHORITIES: usize = 3;
const EXITS: usize = 5;
/// How long [`TorNetwork::start`] waits for a consensus listing every node with its flags.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How many of a missing node's last notice-log lines a failed start quotes.
const LOG_TAIL_LINES: usize = 25;
/// How long a node has to exit on SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One node of the network.
#[derive(Debug, Clone)]
pub struct TorNode {
    /// Its nickname (`auth0`…, `relay3`…).
    pub nick: String,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its ORPort on 127.0.0.1.
    pub or_port: u16,
    /// Its DirPort on 127.0.0.1 (authorities only).
    pub dir_port: Option<u16>,
    /// Its RSA identity fingerprint (40 hex digits).
    pub rsa_fingerprint: String,
    /// Its ed25519 identity (unpadded base64), as a client's fallback list names it.
    pub ed25519_identity: String,
    /// Its v3 authority identity (40 hex digits; authorities only).
    pub v3_identity: Option<String>,
    /// Whether it is an exit (to any address, loopback included).
    pub exit: bool,
}

/// A directory cache a client can bootstrap from (see [`TorNetwork::fallbacks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// RSA identity fingerprint (hex).
    pub rsa_fingerprint: String,
    /// ed25519 identity (unpadded base64).
    pub ed25519_identity: String,
    /// Its ORPort.
    pub or_address: std::net::SocketAddr,
}

/// A running private Tor network; stopped when dropped.
pub struct TorNetwork {
    nodes: Vec<TorNode>,
    children: Vec<Child>,
    ready_after: Duration,
    // removed after the nodes are stopped (fields drop after `Drop::drop`)
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for TorNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorNetwork")
            .field("dir", &self.dir.path())
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

/// Runs `command`, panicking with `what` and its output when it fails.
fn run(command: &mut Command, input: Option<&str>, what: &str) -> String {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not run ({e}): run ./scripts/setup.sh"));
    if let Some(input) = input {
        let _ = child
            .stdin
            .take()
            .expect("a piped stdin")
            .write_all(input.as_bytes());
    }
    let output = child.wait_with_output().expect("its output");
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `count` free ports on 127.0.0.1 (held until all are picked, so they differ).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("its address").port())
        .collect()
}

/// The second word of the one-line file `path` (`<nick> <value>`).
fn second_word(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{} has no value", path.display()))
        .to_owned()
}

fn private_dir(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(path).expect("a node directory");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .expect("tor wants its directories private");
}

/// Makes `nick`'s keys in `dir`: a v3 authority key and certificate when `dir_port` is set,
/// and the relay identity. Returns the node.
fn make_node(dir: &Path, nick: &str, or_port: u16, dir_port: Option<u16>) -> TorNode {
    private_dir(&dir.join("keys"));
    private_dir(dir);
    let v3_identity = dir_port.map(|dir_port| {
        let keys = dir.join("keys");
        run(
            Command::new(GENCERT)
                .args(["--create-identity-key", "--passphrase-fd", "0", "-i"])
                .arg(keys.join("authority_identity_key"))
                .arg("-s")
                .arg(keys.join("authority_signing_key"))
                .arg("-c")
                .arg(keys.join("authority_certificate"))
                .args(["-m", "12", "-a", &format!("127.0.0.1:{dir_port}")]),
            Some("\n"),
            "tor-gencert",
        );
        let certificate = std::fs::read_to_string(keys.join("authority_certificate"))
            .expect("the authority certificate");
        certificate
            .lines()
            .find_map(|line| line.strip_prefix("fingerprint "))
            .expect("the certificate names its fingerprint")
            .trim()
            .to_owned()
    });
    run(
        Command::new(TOR)
            .args([
                "--ignore-missing-torrc",
                "-f",
                "/dev/null",
                "--list-fingerprint",
            ])
            .args(["--orport", "1", "--DataDirectory"])
            .arg(dir)
            .args(["--Nickname", nick])
            .args([
                "--dirserver",
                "x 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff",
            ]),
        None,
        "tor --list-fingerprint",
    );
    TorNode {
        nick: nick.to_owned(),
        dir: dir.to_path_buf(),
        or_port,
        dir_port,
        rsa_fingerprint: second_word(&dir.join("fingerprint")),
        ed25519_identity: second_word(&dir.join("fingerprint-ed25519")),
        v3_identity,
        exit: dir_port.is_none(),
    }
}

/// The torrc of `node` in a network whose authorities are `authorities` (`DirAuthority`
/// lines).
fn torrc(node: &TorNode, authorities: &str) -> String {
    let dir = node.dir.display();
    let nick = &node.nick;
    let mut text = format!(
        "TestingTorNetwork 1
DataDirectory {dir}
RunAsDaemon 0
Nickname {nick}
ContactInfo {nick}@test.invalid
SocksPort 0
OrPort 127.0.0.1:{or_port}
Address 127.0.0.1
Log notice file {dir}/notice.log
SafeLogging 0
ShutdownWaitLength 0
Sandbox 0
ServerDNSDetectHijacking 0
ServerDNSTestAddresses
ServerDNSResolvConfFile /dev/null
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
AssumeReachable 1
{authorities}
",
        or_port = node.or_port
    );
    if let Some(dir_port) = node.dir_port {
        text.push_str(&format!(
            "DirPort 127.0.0.1:{dir_port}
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
ConsensusParams cbtmintimeout=3000
ExitRelay 0
"
        ));
    } else {
        // `accept *:*` last: a client that reads microdescriptors sees only the port
        // summary, which must say the exit takes any port
        text.push_str(
            "ExitRelay 1
ExitPolicyRejectPrivate 0
ExitPolicyRejectLocalInterfaces 0
ExitPolicy accept 127.0.0.0/8:*
ExitPolicy accept private:*
ExitPolicy accept *:*
",
        );
    }
    text
}

/// The relays a consensus lists, with their flags (from `r` and `s` lines).
fn consensus_flags(text: &str) -> Vec<(String, Vec<String>)> {
    let mut relays: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("r ") {
            let nick = rest.split_whitespace().next().unwrap_or_default();
            relays.push((nick.to_owned(), Vec::new()));
        } else if let Some(flags) = line.strip_prefix("s ") {
            if let Some((_, last)) = relays.last_mut() {
                *last = flags.split_whitespace().map(str::to_owned).collect();
            }
        }
    }
    relays
}

impl TorNetwork {
    /// Starts the network and waits until a consensus lists every node with the flags a
    /// client needs (Guard, HSDir, Fast, Running, Valid, and Exit for the exits).
    ///
    /// # Panics
    ///
    /// If `tor` or `tor-gencert` is missing (run ./scripts/setup.sh), a node does not start,
    /// or no such consensus comes within two minutes, twice: a start that fails that way is
    /// retried once on fresh ports and directories, with what went wrong written to stderr;
    /// the panic quotes the missing nodes' notice logs of both tries.
    pub fn start() -> TorNetwork {
        let first = match TorNetwork::try_start() {
            Ok(network) => return network,
            Err(failure) => failure,
        };
        eprintln!("testkit: the private Tor network did not come up; trying once more:\n{first}");
        match TorNetwork::try_start() {
            Ok(network) => network,
            Err(second) => panic!("{first}\n-- and on a second try --\n{second}"),
        }
    }

    /// One start: the network, or why no usable consensus came in time (see
    /// [`TorNetwork::wait_ready`]).
    fn try_start() -> Result<TorNetwork, String> {
        let dir = crate::leftovers::test_dir("tor");
        let started = Instant::now();
        let ports = free_ports(2 * (AUTHORITIES + EXITS));
        let nodes: Vec<TorNode> = (0..AUTHORITIES + EXITS)
            .map(|i| {
                let authority = i < AUTHORITIES;
                let nick = if authority {
                    format!("auth{i}")
                } else {
                    format!("relay{i}")
                };
                let dir_port = authority.then(|| ports[2 * i + 1]);
                make_node(&dir.path().join(&nick), &nick, ports[2 * i], dir_port)
            })
            .collect();
        let authorities: String = nodes
            .iter()
            .filter_map(|n| {
                Some(format!(
                    "DirAuthority {} orport={} v3ident={} 127.0.0.1:{} {}\n",
                    n.nick,
                    n.or_port,
                    n.v3_identity.as_ref()?,
                    n.dir_port?,
                    n.rsa_fingerprint
                ))
            })
            .collect();
        let mut network = TorNetwork {
            nodes,
            children: Vec::new(),
            ready_after: Duration::ZERO,
            dir,
        };
        for node in network.nodes.clone() {
            let path = node.dir.join("torrc");
            std::fs::write(&path, torrc(&node, &authorities)).expect("a torrc");
            let child = Command::new(TOR)
                .arg("-f")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("tor does not start ({e}): run ./scripts/setup.sh"));
            network.children.push(child);
        }
        network.wait_ready(started)?;
        Ok(network)
    }

    /// Waits until the consensus lists every node with its flags. A node that exits is a
    /// panic (a broken install or torrc, which a retry does not mend); no such consensus
    /// within [`READY_TIMEOUT`] is an error quoting the missing nodes' notice logs.
    fn wait_ready(&mut self, started: Instant) -> Result<(), String> {
        let consensus = self.nodes[0].dir.join("cached-microdesc-consensus");
        let mut missing: Vec<String> = self.nodes.iter().map(|n| n.nick.clone()).collect();
        while started.elapsed() < READY_TIMEOUT {
            for (child, node) in self.children.iter_mut().zip(&self.nodes) {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "tor {} exited ({status}); see {}",
                        node.nick,
                        node.dir.join("notice.log").display()
                    );
                }
            }
            let listed = std::fs::read_to_string(&consensus)
                .map(|text| consensus_flags(&text))
                .unwrap_or_default();
            missing = self
                .nodes
                .iter()
                .filter(|node| {
                    let mut wanted = vec!["Guard", "HSDir", "Fast", "Running", "Valid"];
                    if node.exit {
                        wanted.push("Exit");
                    }
                    !listed.iter().any(|(nick, flags)| {
                        nick == &node.nick && wanted.iter().all(|w| flags.iter().any(|f| f == w))
                    })
                })
                .map(|node| node.nick.clone())
                .collect();
            if missing.is_empty() {
                self.ready_after = started.elapsed();
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let listed = std::fs::read_to_string(&consensus)
            .map(|text| consensus_flags(&text))
            .unwrap_or_default();
        let mut failure = format!(
            "no consensus with every node and its flags within {READY_TIMEOUT:?} (missing: {})",
            missing.join(", ")
        );
        for node in self.nodes.iter().filter(|n| missing.contains(&n.nick)) {
            let flags = listed
                .iter()
                .find(|(nick, _)| nick == &node.nick)
                .map_or_else(|| "not listed".to_owned(), |(_, flags)| flags.join(" "));
            let log = std::fs::read_to_string(node.dir.join("notice.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n  ");
            failure.push_str(&format!(
                "\n{} (consensus flags: {flags}); the end of its notice.log:\n  {tail}",
                node.nick
            ));
        }
        Err(failure)
    }

    /// How long the start took, key generation included, until the consensus was usable.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// The nodes.
    pub fn nodes(&self) -> &[TorNode] {
        &self.nodes
    }

    /// The v3 identities of the directory authorities (what a client trusts instead of the
    /// public network's).
    pub fn authorities(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| n.v3_identity.clone())
            .collect()
    }

    /// The directory caches a client bootstraps from: the authorities.
    pub fn fallbacks(&self) -> Vec<Fallback> {
        self.nodes
            .iter()
            .filter(|n| n.dir_port.is_some())
            .map(|n| Fallback {
                rsa_fingerprint: n.rsa_fingerprint.clone(),
                ed25519_identity: n.ed25519_identity.clone(),
                or_address: std::net::SocketAddr::from(([127, 0, 0, 1], n.or_port)),
            })
            .collect()
    }

    /// The network's directory (a client's state can live in it too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the file a client joins this network with (`confiaro --tor-network FILE`,
    /// `confiaro_tor::PrivateTorNetwork` in JSON: `authorities`, `fallbacks`) into the
    /// network's directory; returns its path.
    pub fn client_file(&self) -> PathBuf {
        let quoted = |items: Vec<String>| items.join(",");
        let authorities = quoted(
            self.authorities()
                .into_iter()
                .map(|a| format!("\"{a}\""))
                .collect(),
        );
        let fallbacks = quoted(
            self.fallbacks()
                .into_iter()
                .map(|f| {
                    format!(
                        "{{\"rsa_fingerprint\":\"{}\",\"ed25519_identity\":\"{}\",\"or_address\":\"{}\"}}",
                        f.rsa_fingerprint, f.ed25519_identity, f.or_address
                    )
                })
                .collect(),
        );
        let path = self.dir.path().join("client-network.json");
        std::fs::write(
            &path,
            format!("{{\"authorities\":[{authorities}],\"fallbacks\":[{fallbacks}]}}\n"),
        )
        .expect("the client file is written");
        path
    }

    /// The ORPorts of every relay, on 127.0.0.1 (where a Tor client connects).
    pub fn or_ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.or_port).collect()
    }
}

impl Drop for TorNetwork {
    fn drop(&mut self) {
        for child in &self.children {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) on our own child; no memory involved.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        for child in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consensus_is_read_as_relays_with_their_flags() {
        let text = "network-status-version 3 microdesc\n\
            r auth0 AAAA 2026-12-06 21:00:00 127.0.0.1 5000 0\n\
            m abc\n\
            s Authority Fast Guard HSDir Running V2Dir Valid\n\
            r relay3 BBBB 2026-12-06 21:00:00 127.0.0.1 5006 0\n\
            s Exit Fast Running Valid\n";
        let relays = consensus_flags(text);
        assert_eq!(relays.len(), 2);
        assert_eq!(relays[0].0, "auth0");
        assert!(relays[0].1.contains(&"HSDir".to_owned()));
        assert_eq!(relays[1].1, ["Exit", "Fast", "Running", "Valid"]);
    }

    #[test]
    fn an_exit_may_exit_to_loopback_and_an_authority_is_no_exit() {
        let node = |dir_port| TorNode {
            nick: "n".into(),
            dir: PathBuf::from("/tmp/n"),
            or_port: 5000,
            dir_port,
            rsa_fingerprint: "F".repeat(40),
            ed25519_identity: "e".into(),
            v3_identity: None,
            exit: dir_port.is_none(),
        };
        let exit = torrc(&node(None), "");
        assert!(exit.contains("ExitPolicy accept 127.0.0.0/8:*"));
        assert!(exit.ends_with("ExitPolicy accept *:*\n"));
        let authority = torrc(&node(Some(5001)), "");
        assert!(authority.contains("V3AuthoritativeDirectory 1"));
        assert!(authority.contains("ConsensusParams cbtmintimeout=3000"));
        assert!(authority.contains("ExitRelay 0"));
    }
}
