//! TLS in front of the devnet's servers, with a certificate authority made on the spot: the
//! devnet's Electrum server then speaks `ssl://` and its Esplora server `https://`, as public
//! servers do, so the chain sources' TLS is tested against real TLS servers.
//!
//! [`TestCa`] makes a CA and certificates it signs (for given host names, valid or expired);
//! [`TlsFront`] accepts TLS connections with one such certificate and relays the plaintext to
//! a devnet server on loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A test certificate authority could not be made, or a front could not start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key could not be made.
    #[error("test certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The TLS server configuration refused the certificate or key.
    #[error("TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The listener or the front's thread could not start.
    #[error("TLS front: {0}")]
    Io(#[from] std::io::Error),
}

/// A certificate authority made for one test run: its key lives only in memory.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

/// A server certificate (with the CA's) and its private key, for a [`TlsFront`].
#[derive(Clone)]
pub struct ServerCertificate {
    chain: Vec<CertificateDer<'static>>,
    /// The private key, PKCS#8 DER.
    key: Vec<u8>,
}

impl TestCa {
    /// A new CA named `name`.
    ///
    /// # Errors
    /// [`TlsError::Certificate`] if the key or certificate cannot be made.
    pub fn new(name: &str) -> Result<TestCa, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate()?;
        let pem = params.clone().self_signed(&key)?.pem();
        Ok(TestCa { params, key, pem })
    }

    /// The CA's certificate in PEM, as a client's CA file holds it.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (host names or IP addresses) signed by this CA; an
    /// `expired` one was valid only during 2020.
    ///
    /// # Errors
    /// [`TlsError::Certificate`] if it cannot be made.
    pub fn server_certificate(
        &self,
        names: &[&str],
        expired: bool,
    ) -> Result<ServerCertificate, TlsError> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "devnet server");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate()?;
        let issuer = self.params.clone().self_signed(&self.key)?;
        let cert = params.signed_by(&key, &issuer, &self.key)?;
        Ok(ServerCertificate {
            chain: vec![cert.der().clone(), issuer.der().clone()],
            key: key.serialize_der(),
        })
    }
}

/// A TLS server on loopback relaying every connection's plaintext to one backend (a devnet
/// Electrum or Esplora server). It stops when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsFront {
    /// Starts serving TLS with `certificate` on a free loopback port, relaying to `backend`.
    ///
    /// # Errors
    /// [`TlsError::Config`] for a certificate rustls refuses; [`TlsError::Io`] if the port or
    /// the thread cannot be had.
    pub fn start(
        backend: SocketAddr,
        certificate: ServerCertificate,
    ) -> Result<TlsFront, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                certificate.chain,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certificate.key)),
            )?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("devnet-tls-front".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        () = accept_loop(listener, acceptor, backend) => {}
                    }
                });
            })?;
        Ok(TlsFront {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the front listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    backend: SocketAddr,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // a client that refuses the certificate ends the handshake: nothing to relay
            let Ok(mut tls) = acceptor.accept(client).await else {
                return;
            };
            let Ok(mut server) = tokio::net::TcpStream::connect(backend).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
        });
    }
}
