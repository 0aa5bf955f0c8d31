//! The bottom of the running engine: the [`Context`] every task shares — the adapters (the
//! Bitcoin and Monero sides, the network, the store and its vault), the event stream, the
//! registry of running drivers, and the engine's task bookkeeping — and the per-swap
//! [`SwapCtx`] its jobs carry. Everything above (actions, the driver, the intake, the
//! taker's side, the [`Engine`](crate::Engine) facade) takes a `Context`; nothing here knows
//! any of them.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use confiaro_p2p::PeerId;
use confiaro_protocol::messages::Message;
use confiaro_protocol::{Role, SwapId, Timestamp};
use confiaro_store::{Store, Vault};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::btc::BtcSide;
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::events::{EngineEvent, SwapEvent, SwapEventKind};
use crate::faults::Faults;
use crate::inbox::{DriverMsg, DriverSender, Job};
use crate::keys::EngineKeys;
use crate::net::{DeliveryFailure, NetSide};
use crate::registry::SwapRegistry;
use crate::xmr::XmrSide;

/// What a running engine shares between its tasks.
pub(crate) struct Context {
    pub(crate) config: EngineConfig,
    pub(crate) store: Store,
    pub(crate) vault: Vault,
    pub(crate) keys: EngineKeys,
    pub(crate) btc: Arc<BtcSide>,
    pub(crate) xmr: XmrSide,
    pub(crate) net: NetSide,
    /// The running drivers.
    pub(crate) drivers: SwapRegistry,
    pub(crate) events: broadcast::Sender<EngineEvent>,
    /// Jobs a graceful stop waits for.
    pub(crate) busy: BusyJobs,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) faults: Faults,
    /// Tor's local proxy, which the chain clients and wallet RPCs reach their servers
    /// through when Tor carries chain traffic: open as long as the engine.
    pub(crate) tor_proxy: Option<confiaro_tor::LocalProxy>,
    /// The data directory's lock, held as long as anything of the engine runs.
    pub(crate) _lock: DataDirLock,
}

impl Context {
    /// Sends an engine-wide warning.
    pub(crate) fn warn(&self, message: String) {
        let _ = self.events.send(EngineEvent::Warning { message });
    }
}

/// An exclusive lock on a data directory, held while an engine runs in it.
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub(crate) fn acquire(data_dir: &Path) -> Result<DataDirLock, EngineError> {
        std::fs::create_dir_all(data_dir)
            .map_err(EngineError::io(format!("creating {}", data_dir.display())))?;
        let path = data_dir.join("confiaro.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(EngineError::io(format!("opening {}", path.display())))?;
        // SAFETY: flock(2) on a file descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(EngineError::DataDirLocked {
                path: data_dir.to_path_buf(),
                pid: pid.trim().to_owned(),
            });
        }
        file.set_len(0)
            .map_err(EngineError::io("writing the lock file"))?;
        write!(file, "{}", std::process::id()).map_err(EngineError::io("writing the lock file"))?;
        Ok(DataDirLock { _file: file })
    }
}

/// The number of running jobs that [`JobKind::must_finish`], engine-wide.
#[derive(Debug, Clone, Default)]
pub(crate) struct BusyJobs(Arc<std::sync::atomic::AtomicUsize>);

impl BusyJobs {
    /// How many run now.
    pub(crate) fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts `job` while it runs.
    pub(crate) fn track(&self, job: Job) -> Job {
        let counter = Arc::clone(&self.0);
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let guard = BusyGuard(counter);
        Box::pin(async move {
            let _guard = guard;
            job.await;
        })
    }
}

/// Decrements the busy count when its job ends (or is dropped).
struct BusyGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What the driver's jobs need to know about their swap.
#[derive(Clone)]
pub(crate) struct SwapCtx {
    pub(crate) swap_id: SwapId,
    pub(crate) role: Role,
    pub(crate) peer: PeerId,
    /// Where Bob's XMR goes (`None`: the built-in wallet).
    pub(crate) receive: Option<monero::Address>,
    /// Cancelled when the swap ends or the engine stops: its jobs and deliveries stop.
    pub(crate) cancel: CancellationToken,
    /// The driver's own inbox, for jobs to report back.
    pub(crate) sender: DriverSender,
}

impl SwapCtx {
    /// Sleeps `delay`; false (at once) when the swap stops first.
    pub(crate) async fn pause(&self, delay: std::time::Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    /// Sends an event about this swap.
    pub(crate) fn emit(&self, cx: &Context, kind: SwapEventKind) {
        let _ = cx.events.send(EngineEvent::Swap(SwapEvent::new(
            &self.swap_id,
            self.role,
            kind,
        )));
    }

    /// Appends to the audit log (failures are logged: the log is evidence, not control).
    pub(crate) async fn audit(&self, cx: &Context, kind: &str, detail: serde_json::Value) {
        if let Err(e) = cx
            .store
            .append_audit(&cx.vault, Some(&self.swap_id), kind, detail)
            .await
        {
            tracing::warn!(swap = %self.swap_id, "audit log append failed: {e}");
        }
    }

    /// Delivers `message` to this swap's counterparty until acknowledged (see
    /// [`NetSide::deliver`]); a refusal or failure is audited and reported as an event. An
    /// abort outlives the swap (which ends with it): it stops only with the engine.
    pub(crate) fn send(&self, cx: &Arc<Context>, message: Message) {
        let cancel = if matches!(message, Message::Abort(_)) {
            cx.shutdown.child_token()
        } else {
            self.cancel.child_token()
        };
        let report = {
            let cx = Arc::clone(cx);
            let swap = self.clone();
            move |failure: DeliveryFailure| async move {
                match failure {
                    DeliveryFailure::Refused { message, reason } => {
                        swap.audit(
                            &cx,
                            "peer-refused",
                            serde_json::json!({"message": message, "reason": reason}),
                        )
                        .await;
                        // a maker that refuses a taker's setup request (its terms, its limits,
                        // the taker's record, the reserve proof) will not open the swap: end
                        // it now rather than asking again until the setup times out (a busy
                        // maker is asked again by the delivery and never gets here)
                        if message == "setup_request" {
                            let (reply, _) = tokio::sync::oneshot::channel();
                            let _ = swap.sender.send(DriverMsg::Command {
                                command: confiaro_protocol::machine::Command::Abort,
                                reply,
                            });
                        }
                        swap.emit(&cx, SwapEventKind::PeerRefused { reason });
                    }
                    DeliveryFailure::Failed { message, error } => swap.emit(
                        &cx,
                        SwapEventKind::Problem {
                            message: format!("sending {message}: {error}"),
                        },
                    ),
                }
            }
        };
        cx.net
            .deliver(self.swap_id, self.peer, message, cancel, report);
    }
}

/// `N` bytes from the operating system's entropy.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], EngineError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(no_randomness)?;
    Ok(bytes)
}

/// The error of a failed draw from the operating system's entropy.
pub(crate) fn no_randomness(error: impl std::fmt::Display) -> EngineError {
    EngineError::Io {
        what: "drawing random bytes".into(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// The machine's notion of now: unix seconds.
pub(crate) fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}
