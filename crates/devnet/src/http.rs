//! The bit of HTTP/1.1 the devnet's servers ([`crate::rpc`], [`crate::esplora`]) share:
//! reading one request (with keep-alive, `Content-Length` bodies only) and writing one
//! response. Connection threads poll a shutdown flag between reads, so a server can stop
//! without waiting for idle clients to hang up.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};

/// The largest request body accepted, in bytes.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The largest request head (request line and headers) accepted, in bytes.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed HTTP request.
pub(crate) struct HttpRequest {
    /// The method, as sent (`GET`, `POST`, ...).
    pub(crate) method: String,
    /// The request target, as sent (e.g. `/tx/<txid>/status`); empty if missing.
    pub(crate) target: String,
    /// Whether the connection stays open after the response (HTTP/1.1 default, or
    /// `Connection: keep-alive`), unless the client sent `Connection: close`.
    pub(crate) keep_alive: bool,
    /// The `Authorization` header's value, if any.
    pub(crate) authorization: Option<String>,
    /// The body (`Content-Length` bytes).
    pub(crate) body: Vec<u8>,
}

fn find_header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Reads one request from `stream`, keeping extra bytes in `buf` for the next one.
/// `Ok(None)` when the peer closed the connection or `shutdown` was raised. The stream
/// should have a short read timeout: `shutdown` is checked after every timed-out read.
///
/// # Errors
///
/// [`ErrorKind::InvalidData`] for a head over 64 KiB, a bad `Content-Length` or a body
/// over 32 MiB; the stream's own errors otherwise.
pub(crate) fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shutdown: &AtomicBool,
) -> std::io::Result<Option<HttpRequest>> {
    let mut chunk = [0u8; 8192];
    let mut fill = |buf: &mut Vec<u8>| -> std::io::Result<bool> {
        loop {
            if shutdown.load(Ordering::SeqCst) {
                return Ok(false);
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    };
    let header_end = loop {
        if let Some(end) = find_header_end(buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "header too large",
            ));
        }
        if !fill(buf)? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or("HTTP/1.0");
    let mut keep_alive = version == "HTTP/1.1";
    let mut content_length = 0usize;
    let mut authorization = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = value.parse().map_err(|_| {
                    std::io::Error::new(ErrorKind::InvalidData, "bad Content-Length")
                })?;
            }
            "authorization" => authorization = Some(value.to_string()),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
            _ => {}
        }
    }
    if content_length > MAX_BODY {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "body too large",
        ));
    }
    while buf.len() < header_end + content_length {
        if !fill(buf)? {
            return Ok(None);
        }
    }
    let body = buf[header_end..header_end + content_length].to_vec();
    buf.drain(..header_end + content_length);
    Ok(Some(HttpRequest {
        method,
        target,
        keep_alive,
        authorization,
        body,
    }))
}

/// Writes one response with `Content-Type: content_type`, its `Content-Length` and a
/// `Connection` header matching `keep_alive`; `extra_headers` are whole `Name: value\r\n`
/// lines.
///
/// # Errors
///
/// The stream's error if the client went away.
pub(crate) fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
    extra_headers: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n{extra_headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}
