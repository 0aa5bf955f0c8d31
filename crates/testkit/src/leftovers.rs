//! The kit's temporary directories, and the servers a killed run left running in them.
//!
//! A test run that is killed (SIGKILL, a CI timeout, Ctrl-C on `cargo test`) has no chance to
//! stop what it started: a PostgreSQL server, monerod, monero-wallet-rpc and `confiaro`
//! parties keep running, holding ports, memory and disk. So every directory the kit hands out
//! ([`test_dir`]) is named `confiaro-test-*` in the system's temporary directory and holds an
//! [`OWNER_FILE`] naming the process that made it (its pid and start time, so that a reused
//! pid is not taken for it). [`reap`] finds the directories whose owner is gone, stops every
//! process whose command line or environment names one (SIGTERM, then SIGKILL), and removes
//! them. The kit reaps once per process before it makes its first directory, and the test
//! command runs `confiaro-testkit-reap` first; a live run's directories are never touched.
//!
//! Other harnesses (the desktop test in `ui/tests/`) take part by writing the same owner
//! file into their own `confiaro-test-*` directory.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, SystemTime};

/// The prefix of every directory the kit makes in the temporary directory.
pub const DIR_PREFIX: &str = "confiaro-test-";

/// The file in each kit directory naming its owner: `<pid> <start time>` (the start time in
/// clock ticks since boot, field 22 of `/proc/<pid>/stat`).
pub const OWNER_FILE: &str = "confiaro-test-owner";

/// How long a directory without an owner file is left alone (its maker may be about to
/// write it).
const UNOWNED_GRACE: Duration = Duration::from_secs(120);

/// How long a leftover process has to exit on SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A new directory `$TMPDIR/confiaro-test-<what>-XXXXXX` owned by this process, removed
/// when the handle is dropped (or, if this process is killed first, by the next run's
/// [`reap`]). The first call in a process reaps what earlier, killed runs left.
///
/// # Panics
///
/// If the directory or its owner file cannot be written.
pub fn test_dir(what: &str) -> tempfile::TempDir {
    static REAPED: Once = Once::new();
    REAPED.call_once(|| {
        for line in reap() {
            eprintln!("testkit: {line}");
        }
    });
    make_test_dir(&std::env::temp_dir(), what)
}

/// [`test_dir`] under `root`, without the reaping.
fn make_test_dir(root: &Path, what: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{what}-"))
        .tempdir_in(root)
        .expect("a temporary directory");
    let owner = Owner::current().expect("this process's own /proc entry");
    std::fs::write(dir.path().join(OWNER_FILE), owner.to_line()).expect("the owner file");
    dir
}

/// Stops what killed runs left behind: for every `confiaro-test-*` directory in the
/// temporary directory whose owner process is gone, the processes whose command line or
/// environment names the directory are stopped (SIGTERM; SIGKILL after 10 s) and the
/// directory is removed. Returns one line per leftover found, saying what was done.
pub fn reap() -> Vec<String> {
    reap_in(&std::env::temp_dir())
}

/// [`reap`] in `root` instead of the temporary directory.
fn reap_in(root: &Path) -> Vec<String> {
    let mut said = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return said;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if !name.starts_with(DIR_PREFIX) || !path.is_dir() {
            continue;
        }
        let owner = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|line| Owner::parse(&line));
        let gone = match &owner {
            Some(owner) => !owner.is_alive(),
            None => older_than(&path, UNOWNED_GRACE),
        };
        if !gone {
            continue;
        }
        let stopped = stop_processes_naming(&path);
        let removed = std::fs::remove_dir_all(&path).is_ok();
        let whose = match owner {
            Some(owner) => format!("its run (pid {}) is gone", owner.pid),
            None => "it has no owner".to_owned(),
        };
        let mut line = if stopped.is_empty() {
            format!("leftover {} ({whose})", path.display())
        } else {
            format!(
                "stopped {} left running on {} ({whose})",
                stopped.join(", "),
                path.display()
            )
        };
        line.push_str(if removed {
            "; removed it"
        } else {
            "; could not remove it"
        });
        said.push(line);
    }
    said
}

/// Whether `path` was last modified more than `age` ago.
fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    pid: u32,
    start_ticks: u64,
}

impl Owner {
    /// This process.
    fn current() -> Option<Owner> {
        let pid = std::process::id();
        Some(Owner {
            pid,
            start_ticks: start_ticks(pid)?,
        })
    }

    fn to_line(&self) -> String {
        format!("{} {}\n", self.pid, self.start_ticks)
    }

    fn parse(line: &str) -> Option<Owner> {
        let mut parts = line.split_whitespace();
        Some(Owner {
            pid: parts.next()?.parse().ok()?,
            start_ticks: parts.next()?.parse().ok()?,
        })
    }

    /// Whether this very process still runs (a zombie does not).
    fn is_alive(&self) -> bool {
        start_ticks(self.pid) == Some(self.start_ticks) && !is_zombie(self.pid)
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// A process's start time (field 22 of its stat, the 20th after the name).
fn start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|state| state == "Z"))
}

/// The live processes whose command line or environment mentions `dir` (a server's data
/// directory is an argument; the desktop test hands the app its directory in
/// `CONFIARO_APP_DIR`), as (pid, program name).
fn processes_naming(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            if pid == own || is_zombie(pid) {
                return None;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let in_environ = environ
                .split(|b| *b == 0)
                .any(|var| String::from_utf8_lossy(var).contains(&needle));
            if !in_environ && !args.iter().any(|a| a.contains(&needle)) {
                return None;
            }
            let program = args
                .first()
                .map(PathBuf::from)
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            Some((pid, program))
        })
        .collect()
}

/// Stops every process naming `dir`: SIGTERM, then SIGKILL for those still there after
/// [`STOP_GRACE`]. A process seen only on a later look (one that was still starting up, its
/// command line not yet its own, on the first) is stopped and reported the same way.
/// Returns `program (pid N)` for each.
fn stop_processes_naming(dir: &Path) -> Vec<String> {
    let mut found: Vec<(u32, String)> = Vec::new();
    let deadline = std::time::Instant::now() + STOP_GRACE;
    loop {
        let running = processes_naming(dir);
        if running.is_empty() {
            break;
        }
        for process in running {
            if !found.contains(&process) {
                signal(process.0, libc::SIGTERM);
                found.push(process);
            }
        }
        if std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (pid, _) in processes_naming(dir) {
        signal(pid, libc::SIGKILL);
    }
    found
        .into_iter()
        .map(|(pid, program)| format!("{program} (pid {pid})"))
        .collect()
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on a pid whose command line names a directory of a dead test
        // run; no memory is involved.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};

    /// A process that names `dir` on its command line (`tail -f DIR/OWNER_FILE`), as a
    /// server started on a test directory does.
    /// Returns once the process shows under `/proc` with that command line: on a loaded
    /// machine a just-spawned child can be missing from a scan for a moment, and a test that
    /// reaps then would find nothing to stop.
    fn server_on(dir: &Path) -> Child {
        let child = Command::new("tail")
            .arg("-f")
            .arg(dir.join(OWNER_FILE))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tail runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !processes_naming(dir)
            .iter()
            .any(|(pid, _)| *pid == child.id())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "tail (pid {}) never showed in /proc naming {}",
                child.id(),
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    #[test]
    fn an_owner_is_this_process_until_it_is_gone() {
        let me = Owner::current().expect("our own stat");
        assert!(me.is_alive());
        assert_eq!(Owner::parse(&me.to_line()), Some(me.clone()));
        let reused = Owner {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        assert!(
            !reused.is_alive(),
            "a pid with another start time is not the owner"
        );
        assert_eq!(Owner::parse("garbage"), None);
    }

    #[test]
    fn a_killed_runs_server_is_stopped_and_its_directory_removed_but_a_live_runs_is_not() {
        // a temporary directory of its own, so that no other test process reaps it first
        let root = tempfile::tempdir().expect("a root");
        // a run that died: its directory's owner is a process that has exited
        let dead = make_test_dir(root.path(), "dead").keep();
        let mut exited = Command::new("true").spawn().expect("true runs");
        let exited_pid = exited.id();
        exited.wait().expect("true exits");
        std::fs::write(dead.join(OWNER_FILE), format!("{exited_pid} 1\n")).expect("owner");
        let mut leftover = server_on(&dead);
        // a live run's directory (ours), with a server on it
        let live = make_test_dir(root.path(), "live");
        let mut neighbour = server_on(live.path());

        let said = reap_in(root.path());

        let status = leftover.wait().expect("the leftover exits");
        assert!(!status.success(), "the leftover was stopped: {status}");
        assert!(!dead.exists(), "the dead run's directory is removed");
        assert!(
            said.iter().any(|l| l.contains(&dead.display().to_string())
                && l.contains("stopped tail (pid")
                && l.contains(&format!("its run (pid {exited_pid}) is gone"))),
            "{said:?}"
        );
        assert_eq!(said.len(), 1, "only the dead run is reported: {said:?}");
        assert!(
            live.path().join(OWNER_FILE).exists(),
            "a live run's directory stays"
        );
        assert!(
            neighbour.try_wait().expect("try_wait").is_none(),
            "a live run's server is left alone"
        );
        let _ = neighbour.kill();
        let _ = neighbour.wait();
    }

    #[test]
    fn a_directory_without_an_owner_is_left_alone_while_young() {
        let root = tempfile::tempdir().expect("a root");
        let young = root.path().join(format!("{DIR_PREFIX}young-x"));
        std::fs::create_dir(&young).expect("dir");
        assert!(reap_in(root.path()).is_empty());
        assert!(
            young.exists(),
            "its maker may be about to write the owner file"
        );
    }
}
