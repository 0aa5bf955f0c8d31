//! TLS for the light-client chain sources: `ssl://` Electrum and `https://` Esplora servers,
//! verified against the system's CA certificates or a CA file the user gives.
//!
//! Both sources reach a TLS server through a [`TlsTunnel`]: a loopback HTTP `CONNECT` proxy
//! of their own that opens the TCP connection (directly, or through Tor's local proxy),
//! completes the TLS handshake with rustls and then relays plaintext. The Electrum client
//! speaks to the tunnel over a plain socket, and `esplora-client`'s HTTP client uses it as
//! its proxy, so neither needs TLS of its own, both verify certificates the same way, and a
//! refused certificate reaches the user as [`SourceError::Certificate`] with its reason
//! (unknown issuer, expired, not valid for the name), not as a dropped connection.
//!
//! The tunnel connects only to the one server it was made for and listens on loopback only.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::SourceError;

/// Which certificate authorities a TLS chain source trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// The system's CA certificates (`/etc/ssl/certs`; `SSL_CERT_FILE` and `SSL_CERT_DIR`
    /// override), as for public servers with certificates from a public CA.
    #[default]
    System,
    /// Only the CA certificates in this PEM file: a server with a certificate of its own CA
    /// (a self-hosted Electrum server), or a test CA.
    CaFile(PathBuf),
}

/// Why a TLS connection to a chain source failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsFailure {
    /// The server's certificate was refused; the text says why.
    Certificate(String),
    /// The server could not be reached (or the proxy refused to reach it).
    Unreachable(String),
    /// The handshake failed for another reason (no common protocol, not a TLS server).
    Handshake(String),
}

impl TlsFailure {
    /// The failure as the source's error.
    pub(crate) fn into_source_error(self, source_name: String) -> SourceError {
        match self {
            TlsFailure::Certificate(reason) => SourceError::Certificate {
                source_name,
                reason,
            },
            TlsFailure::Unreachable(reason) => SourceError::Unreachable {
                source_name,
                reason,
            },
            TlsFailure::Handshake(reason) => SourceError::Failed {
                source_name,
                reason: format!("TLS handshake failed: {reason}"),
            },
        }
    }
}

/// The rustls client configuration for `trust`.
///
/// # Errors
/// [`SourceError::Failed`] naming `source_name` if the CA file cannot be read or holds no
/// certificate, or the system has no CA certificates.
pub(crate) fn client_config(
    trust: &TlsTrust,
    source_name: &str,
) -> Result<Arc<ClientConfig>, SourceError> {
    let failed = |reason: String| SourceError::Failed {
        source_name: source_name.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    match trust {
        TlsTrust::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(failed(
                    "this system has no CA certificates (install ca-certificates, or give the \
                     server's CA file)"
                        .into(),
                ));
            }
        }
        TlsTrust::CaFile(path) => {
            let certs = read_ca_file(path).map_err(failed)?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(failed(format!(
                    "{} holds no usable CA certificate",
                    path.display()
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the CA file {} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the CA file {} holds no certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// What a refused certificate means, in words, for a server named `host`.
fn certificate_reason(error: &CertificateError, host: &str) -> String {
    match error {
        CertificateError::UnknownIssuer => {
            "it is not signed by a trusted certificate authority (unknown issuer)".into()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet (is this computer's clock right?)".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("it is not valid for the name {host} (wrong host name)")
        }
        CertificateError::Revoked => "it has been revoked".into(),
        CertificateError::BadSignature => "its signature does not verify".into(),
        other => format!("{other:?}"),
    }
}

/// The failure behind a handshake's I/O error.
fn handshake_failure(error: &std::io::Error, host: &str) -> TlsFailure {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            TlsFailure::Certificate(certificate_reason(cert, host))
        }
        Some(other) => TlsFailure::Handshake(other.to_string()),
        None => TlsFailure::Unreachable(error.to_string()),
    }
}

/// The target of a tunnel: the server's host name (checked against its certificate) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsTarget {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl TlsTarget {
    /// `host:port` (an IPv6 host in brackets) as an HTTP `CONNECT` names it.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Splits `host:port` (`[v6]:port` too).
    pub(crate) fn parse(text: &str) -> Option<TlsTarget> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return None;
        }
        Some(TlsTarget {
            host: host.to_owned(),
            port: port.parse().ok()?,
        })
    }
}

struct Shared {
    /// The last connection's failure, until a source reads it.
    failure: Mutex<Option<TlsFailure>>,
}

/// A loopback HTTP `CONNECT` proxy that opens TLS connections to one server (module docs).
///
/// It runs on a thread of its own with a small runtime, one task per connection, until it is
/// dropped. Each connection is checked against the same [`TlsTrust`], so a server whose
/// certificate is refused is never talked to.
pub(crate) struct TlsTunnel {
    addr: SocketAddr,
    target: TlsTarget,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TlsTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTunnel")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// How a tunnel's connection is made, for its tasks.
#[derive(Clone)]
struct Route {
    target: TlsTarget,
    config: Arc<ClientConfig>,
    /// An HTTP `CONNECT` proxy (Tor's local proxy) the TCP connection goes through.
    upstream: Option<SocketAddr>,
    timeout: Duration,
}

impl TlsTunnel {
    /// Starts a tunnel to `target`, trusting `config`'s CAs, through `upstream` if given;
    /// each connect and handshake gives up after `timeout`.
    ///
    /// # Errors
    /// The loopback listener or the tunnel's thread cannot be made.
    pub(crate) fn start(
        target: TlsTarget,
        config: Arc<ClientConfig>,
        upstream: Option<SocketAddr>,
        timeout: Duration,
    ) -> std::io::Result<TlsTunnel> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            failure: Mutex::new(None),
        });
        let route = Route {
            target: target.clone(),
            config,
            upstream,
            timeout,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let task_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("chain-tls-tunnel".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        () = accept_loop(listener, route, task_shared) => {}
                    }
                });
            })?;
        Ok(TlsTunnel {
            addr,
            target,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The tunnel's loopback address (an HTTP `CONNECT` proxy).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The failure of the last connection that failed, once (it is cleared).
    pub(crate) fn take_failure(&self) -> Option<TlsFailure> {
        self.shared
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// A plaintext connection to the server through the tunnel, blocking, for clients that
    /// speak to the server over a socket (Electrum). Every read and write of the returned
    /// stream gives up after `timeout`.
    ///
    /// # Errors
    /// An I/O error when the connection could not be made; what stopped it (a refused
    /// certificate, an unreachable server) is then [`TlsTunnel::take_failure`]'s.
    pub(crate) fn open(&self, timeout: Duration) -> std::io::Result<TcpStream> {
        let mut stream = TcpStream::connect_timeout(&self.addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let authority = self.target.authority();
        write!(
            stream,
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
        )?;
        let head = read_head_blocking(&mut stream)?;
        if head.starts_with("HTTP/1.1 200") {
            return Ok(stream);
        }
        Err(std::io::Error::other(format!(
            "no TLS connection to {authority}: {}",
            head.lines().next().unwrap_or("")
        )))
    }
}

impl Drop for TlsTunnel {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The most a `CONNECT` request's or answer's head may take.
const MAX_HEAD: usize = 8192;

/// Reads up to the end of an HTTP head (`\r\n\r\n`), byte by byte so nothing after it is
/// taken from the stream.
fn read_head_blocking(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD || stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::other("the tunnel closed the connection"));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(std::io::Error::other("HTTP head too long"));
        }
        head.push(stream.read_u8().await?);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

async fn accept_loop(listener: tokio::net::TcpListener, route: Route, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (route, shared) = (route.clone(), Arc::clone(&shared));
        tokio::spawn(async move { serve(client, &route, &shared).await });
    }
}

/// One client: its `CONNECT`, the TLS connection, then plaintext both ways until either side
/// closes. A failed connection's failure is recorded before the client hears of it.
async fn serve(mut client: tokio::net::TcpStream, route: &Route, shared: &Shared) {
    let Ok(head) = read_head(&mut client).await else {
        return;
    };
    let asked = head
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(TlsTarget::parse);
    if asked.as_ref() != Some(&route.target) {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    }
    match tokio::time::timeout(route.timeout, connect_tls(route)).await {
        Ok(Ok(mut server)) => {
            let established = client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await;
            if established.is_ok() {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        }
        outcome => {
            let failure = match outcome {
                Ok(Err(failure)) => failure,
                _ => TlsFailure::Unreachable(format!(
                    "no TLS connection within {} s",
                    route.timeout.as_secs()
                )),
            };
            *shared
                .failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(failure);
            let _ = client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    }
}

/// The TCP connection (through the upstream proxy if any) and the verified TLS session.
async fn connect_tls(
    route: &Route,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, TlsFailure> {
    let unreachable = |e: std::io::Error| TlsFailure::Unreachable(e.to_string());
    let target = &route.target;
    let tcp = match route.upstream {
        None => tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(unreachable)?,
        Some(proxy) => {
            let mut tcp = tokio::net::TcpStream::connect(proxy)
                .await
                .map_err(unreachable)?;
            let authority = target.authority();
            tcp.write_all(
                format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes(),
            )
            .await
            .map_err(unreachable)?;
            let head = read_head(&mut tcp).await.map_err(unreachable)?;
            if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
                return Err(TlsFailure::Unreachable(format!(
                    "the proxy could not reach {authority}: {}",
                    head.lines().next().unwrap_or("")
                )));
            }
            tcp
        }
    };
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| TlsFailure::Handshake(format!("{:?} is not a host name: {e}", target.host)))?;
    tokio_rustls::TlsConnector::from(Arc::clone(&route.config))
        .connect(name, tcp)
        .await
        .map_err(|e| handshake_failure(&e, &target.host))
}
