//! The TCP sockets a process holds, read from `/proc` (Linux): what a test checks to show
//! that a process listens on no TCP port, or connects only where it should.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One TCP socket of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    /// Its local address.
    pub local: SocketAddr,
    /// Its peer's address (unspecified for a listening socket).
    pub remote: SocketAddr,
    /// Whether it listens (state `LISTEN`).
    pub listening: bool,
    /// Whether it is connected (state `ESTABLISHED`).
    pub established: bool,
}

/// The TCP sockets (IPv4 and IPv6) process `pid` holds now; empty once it has exited.
pub fn tcp_sockets_of(pid: u32) -> Vec<TcpSocket> {
    let inodes: HashSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    ["tcp", "tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(parse_line)
                .collect::<Vec<_>>()
        })
        .filter(|(inode, _)| inodes.contains(inode))
        .map(|(_, socket)| socket)
        .collect()
}

/// The processes whose parent is `pid` (e.g. a party's monero-wallet-rpc).
pub fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid …": comm may hold spaces and parentheses
                    let (_, rest) = stat.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// One line of `/proc/<pid>/net/tcp{,6}`: the socket's inode and the socket.
fn parse_line(line: &str) -> Option<(u64, TcpSocket)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = parse_endpoint(fields.get(1)?)?;
    let remote = parse_endpoint(fields.get(2)?)?;
    let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((
        inode,
        TcpSocket {
            local,
            remote,
            listening: state == 0x0A,
            established: state == 0x01,
        },
    ))
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6), each 32-bit word of the
/// address printed in the host's byte order.
fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words = (0..address.len() / 8)
        .map(|i| u32::from_str_radix(address.get(8 * i..8 * i + 8)?, 16).ok())
        .collect::<Option<Vec<u32>>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_of_this_process_is_found_and_read_right() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let address = listener.local_addr().expect("an address");
        let sockets = tcp_sockets_of(std::process::id());
        assert!(
            sockets.iter().any(|s| s.listening && s.local == address),
            "{address} not in {sockets:?}"
        );
        let client = std::net::TcpStream::connect(address).expect("connects");
        let sockets = tcp_sockets_of(std::process::id());
        assert!(
            sockets.iter().any(|s| s.established
                && s.remote == address
                && s.local == client.local_addr().expect("an address")),
            "the connection to {address} not in {sockets:?}"
        );
    }

    #[test]
    fn a_child_process_is_found() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        assert!(children_of(std::process::id()).contains(&child.id()));
        let _ = child.kill();
        let _ = child.wait();
    }
}
