//! A proxy on 127.0.0.1 that sends every connection through Tor, for the programs and
//! libraries that reach a chain source themselves: Electrum and bitcoind clients speak
//! SOCKS5, the Esplora client HTTP `CONNECT`, monero-wallet-rpc (`--proxy`) SOCKS4a.
//!
//! [`LocalProxy::serve`] listens on a free loopback port and takes all three, told apart by
//! their first byte (4, 5, or an ASCII method). Only `CONNECT` is served, with no login: the
//! port is on loopback, and what it gives is a Tor stream, which any local user could open
//! with Tor anyway. A handshake must finish within [`HANDSHAKE_TIMEOUT`] and fit in a few
//! KiB, so a stuck or hostile local client holds nothing. When Tor fails, the client is
//! told so in its own protocol (SOCKS reply codes, an HTTP status) and the reason is logged
//! (never the host: the log must not name what the user watches).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::{Failure, Tor, TorError};

/// How long a client may take to say where it goes.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest HTTP `CONNECT` head taken.
const MAX_HTTP_HEAD: usize = 4096;

/// A running local proxy into Tor. Stops listening when dropped (streams already open run
/// to their end).
#[derive(Debug)]
pub struct LocalProxy {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl LocalProxy {
    /// Listens on a free port of 127.0.0.1 and sends each connection through `tor`. Must run
    /// inside a tokio runtime.
    ///
    /// # Errors
    /// The listening socket's error.
    pub async fn serve(tor: Tor) -> std::io::Result<LocalProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    // out of file descriptors, say: let others finish before the next accept
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let tor = tor.clone();
                tokio::spawn(async move {
                    if let Err(reason) = relay(client, &tor).await {
                        tracing::debug!(%reason, "Tor proxy: a connection failed");
                    }
                });
            }
        });
        Ok(LocalProxy { address, task })
    }

    /// Where it listens (127.0.0.1 and a port).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for LocalProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a proxied connection ended early (for the log: never names the target).
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("the client's handshake: {0}")]
    Handshake(String),
    #[error("the handshake took longer than {HANDSHAKE_TIMEOUT:?}")]
    SlowHandshake,
    #[error("Tor: {0}")]
    Tor(Failure),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Where a client wants to go, and how to answer it.
struct Request {
    host: String,
    port: u16,
    protocol: Protocol,
}

#[derive(Clone, Copy)]
enum Protocol {
    Socks4,
    Socks5,
    HttpConnect,
}

async fn relay(mut client: TcpStream, tor: &Tor) -> Result<(), RelayError> {
    let request = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_request(&mut client))
        .await
        .map_err(|_| RelayError::SlowHandshake)??;
    let mut stream = match tor.connect(&request.host, request.port).await {
        Ok(stream) => stream,
        Err(e) => {
            let failure = e.failure().unwrap_or(Failure::Other);
            let _ = answer(&mut client, request.protocol, Some(failure)).await;
            return Err(match e {
                TorError::Tor { .. } => RelayError::Tor(failure),
                other => RelayError::Handshake(other.to_string()),
            });
        }
    };
    answer(&mut client, request.protocol, None).await?;
    tokio::io::copy_bidirectional(&mut client, &mut stream).await?;
    Ok(())
}

/// Reads a SOCKS4/4a, SOCKS5 or HTTP `CONNECT` request (answering SOCKS5's greeting on the
/// way); refusals of what is not served are answered here.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
) -> Result<Request, RelayError> {
    let first = client.read_u8().await?;
    match first {
        4 => read_socks4(client).await,
        5 => read_socks5(client).await,
        b'A'..=b'Z' => read_http_connect(client, first).await,
        other => Err(RelayError::Handshake(format!(
            "unknown protocol (first byte {other:#04x})"
        ))),
    }
}

/// SOCKS4 (an IPv4 address) and SOCKS4a (a host name): `cmd port ip user\0 [host\0]`.
async fn read_socks4<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
) -> Result<Request, RelayError> {
    let command = client.read_u8().await?;
    let port = client.read_u16().await?;
    let mut ip = [0u8; 4];
    client.read_exact(&mut ip).await?;
    let _user = read_until_nul(client, 255).await?;
    if command != 1 {
        let _ = client.write_all(&socks4_reply(false)).await;
        return Err(RelayError::Handshake(format!(
            "SOCKS4 command {command} (only CONNECT is served)"
        )));
    }
    // 0.0.0.x with x != 0: a SOCKS4a name follows
    let host = if ip[..3] == [0, 0, 0] && ip[3] != 0 {
        read_until_nul(client, 255).await?
    } else {
        Ipv4Addr::from(ip).to_string()
    };
    Ok(Request {
        host,
        port,
        protocol: Protocol::Socks4,
    })
}

/// SOCKS5 without authentication: the greeting, then `5 cmd 0 atyp addr port`.
async fn read_socks5<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
) -> Result<Request, RelayError> {
    let count = client.read_u8().await?;
    let mut methods = vec![0u8; usize::from(count)];
    client.read_exact(&mut methods).await?;
    if !methods.contains(&0) {
        client.write_all(&[5, 0xFF]).await?;
        return Err(RelayError::Handshake(
            "SOCKS5 without the no-login method".into(),
        ));
    }
    client.write_all(&[5, 0]).await?;
    let mut head = [0u8; 4];
    client.read_exact(&mut head).await?;
    let [version, command, _, address_type] = head;
    if version != 5 {
        return Err(RelayError::Handshake(format!("SOCKS5 version {version}")));
    }
    let host = match address_type {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let length = client.read_u8().await?;
            let mut name = vec![0u8; usize::from(length)];
            client.read_exact(&mut name).await?;
            String::from_utf8(name)
                .map_err(|_| RelayError::Handshake("a SOCKS5 host name that is not UTF-8".into()))?
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            Ipv6Addr::from(ip).to_string()
        }
        other => {
            client.write_all(&socks5_reply(8)).await?;
            return Err(RelayError::Handshake(format!(
                "SOCKS5 address type {other}"
            )));
        }
    };
    let port = client.read_u16().await?;
    if command != 1 {
        client.write_all(&socks5_reply(7)).await?;
        return Err(RelayError::Handshake(format!(
            "SOCKS5 command {command} (only CONNECT is served)"
        )));
    }
    Ok(Request {
        host,
        port,
        protocol: Protocol::Socks5,
    })
}

/// `CONNECT host:port HTTP/1.1`, headers, a blank line. Other methods get 405.
async fn read_http_connect<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    first: u8,
) -> Result<Request, RelayError> {
    let mut head = vec![first];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HTTP_HEAD {
            client
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n")
                .await?;
            return Err(RelayError::Handshake("an HTTP head over 4 KiB".into()));
        }
        head.push(client.read_u8().await?);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "CONNECT" {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\n\r\n")
            .await?;
        return Err(RelayError::Handshake(format!(
            "HTTP method {method:?} (only CONNECT is served)"
        )));
    }
    let parsed = target
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)));
    let Some((host, port)) = parsed else {
        client
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await?;
        return Err(RelayError::Handshake(
            "a CONNECT target without a port".into(),
        ));
    };
    Ok(Request {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        protocol: Protocol::HttpConnect,
    })
}

async fn read_until_nul<S: AsyncRead + Unpin>(
    client: &mut S,
    limit: usize,
) -> Result<String, RelayError> {
    let mut bytes = Vec::new();
    loop {
        match client.read_u8().await? {
            0 => break,
            byte if bytes.len() < limit => bytes.push(byte),
            _ => {
                return Err(RelayError::Handshake(
                    "a SOCKS4 field over 255 bytes".into(),
                ))
            }
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| RelayError::Handshake("a SOCKS4 field that is not UTF-8".into()))
}

fn socks4_reply(granted: bool) -> [u8; 8] {
    [0, if granted { 0x5A } else { 0x5B }, 0, 0, 0, 0, 0, 0]
}

fn socks5_reply(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

/// Answers a request: granted (`None`) or failed for `failure`, in the client's protocol.
async fn answer<S: AsyncWrite + Unpin>(
    client: &mut S,
    protocol: Protocol,
    failure: Option<Failure>,
) -> std::io::Result<()> {
    match protocol {
        Protocol::Socks4 => client.write_all(&socks4_reply(failure.is_none())).await,
        Protocol::Socks5 => {
            let code = match failure {
                None => 0,
                Some(Failure::Refused) => 5,
                Some(Failure::TimedOut) => 6,
                Some(Failure::OnionNotFound) => 4,
                Some(Failure::NoCircuits) => 3,
                Some(Failure::Other) => 1,
            };
            client.write_all(&socks5_reply(code)).await
        }
        Protocol::HttpConnect => {
            let head = match failure {
                None => "HTTP/1.1 200 Connection established\r\n\r\n".to_owned(),
                Some(Failure::TimedOut) => {
                    "HTTP/1.1 504 Gateway Timeout (Tor: timed out)\r\n\r\n".into()
                }
                Some(failure) => format!("HTTP/1.1 502 Bad Gateway (Tor: {failure})\r\n\r\n"),
            };
            client.write_all(head.as_bytes()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` to the request reader; returns the request and what it wrote back.
    async fn parse(bytes: &[u8]) -> (Result<(String, u16), String>, Vec<u8>) {
        let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
        theirs.write_all(bytes).await.expect("written");
        let parsed = read_request(&mut ours)
            .await
            .map(|r| (r.host, r.port))
            .map_err(|e| e.to_string());
        drop(ours);
        let mut written = Vec::new();
        theirs.read_to_end(&mut written).await.expect("read");
        (parsed, written)
    }

    #[tokio::test]
    async fn the_three_handshakes_name_their_target() {
        let (socks4, _) = parse(&[4, 1, 0x1F, 0x90, 10, 0, 0, 7, b'u', 0]).await;
        assert_eq!(socks4, Ok(("10.0.0.7".into(), 8080)));
        let mut socks4a = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        socks4a.extend_from_slice(b"node.example\0");
        assert_eq!(parse(&socks4a).await.0, Ok(("node.example".into(), 80)));

        let mut socks5 = vec![5, 2, 2, 0, 5, 1, 0, 3, 12];
        socks5.extend_from_slice(b"node.example");
        socks5.extend_from_slice(&50001u16.to_be_bytes());
        let (parsed, written) = parse(&socks5).await;
        assert_eq!(parsed, Ok(("node.example".into(), 50001)));
        assert_eq!(
            written,
            [5, 0],
            "no-login chosen, nothing else said before Tor answers"
        );
        let (v6, _) = parse(&[&[5, 1, 0, 5, 1, 0, 4][..], &[0; 15], &[1, 0, 80]].concat()).await;
        assert_eq!(v6, Ok(("::1".into(), 80)));

        let http = b"CONNECT [::1]:3000 HTTP/1.1\r\nHost: [::1]:3000\r\n\r\n";
        assert_eq!(parse(http).await.0, Ok(("::1".into(), 3000)));
    }

    #[tokio::test]
    async fn what_is_not_served_is_refused_in_the_clients_protocol() {
        let (bind, written) = parse(&[4, 2, 0, 80, 1, 2, 3, 4, 0]).await;
        assert!(bind.unwrap_err().contains("only CONNECT"));
        assert_eq!(written, socks4_reply(false));

        let (login_only, written) = parse(&[5, 1, 2]).await;
        assert!(login_only.unwrap_err().contains("no-login"));
        assert_eq!(written, [5, 0xFF]);

        let (udp, written) = parse(&[5, 1, 0, 5, 3, 0, 1, 1, 2, 3, 4, 0, 53]).await;
        assert!(udp.unwrap_err().contains("only CONNECT"));
        assert_eq!(written, [&[5u8, 0][..], &socks5_reply(7)].concat());

        let (get, written) = parse(b"GET http://node.example/ HTTP/1.1\r\n\r\n").await;
        assert!(get.unwrap_err().contains("only CONNECT"));
        assert!(written.starts_with(b"HTTP/1.1 405"));

        let huge = [b"CONNECT a:1 HTTP/1.1\r\nX: ".as_slice(), &[b'x'; 5000]].concat();
        let (too_long, written) = parse(&huge).await;
        assert!(too_long.unwrap_err().contains("4 KiB"));
        assert!(written.starts_with(b"HTTP/1.1 431"));

        let (garbage, _) = parse(&[0x16, 3, 1]).await;
        assert!(garbage.unwrap_err().contains("unknown protocol"));
    }
}
