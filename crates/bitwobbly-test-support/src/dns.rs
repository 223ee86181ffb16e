//! DNS test servers: an authoritative server for a small in-memory zone, and a black hole
//! that never answers.
//!
//! [`DnsServer`] answers over UDP and TCP on the same port of `127.0.0.1` for two zones:
//!
//! ```text
//! example.test.            3600 SOA   ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300
//! example.test.            3600 NS    ns1.example.test.
//! example.test.             300 MX    10 mail.example.test.
//! example.test.             300 TXT   "v=spf1 -all"
//! example.test.             300 CAA   0 issue "ca.example.net"
//! ns1.example.test.         300 A     127.0.0.1
//! mail.example.test.        300 A     127.0.0.1
//! www.example.test.         300 A     127.0.0.1
//! www.example.test.         300 AAAA  ::1
//! v4only.example.test.      300 A     127.0.0.1
//! v6only.example.test.      300 AAAA  ::1
//! alias.example.test.       300 CNAME www.example.test.
//! _http._tcp.example.test.  300 SRV   10 5 8080 www.example.test.
//! big.example.test.         300 TXT   (40 strings of 200 bytes: too big for UDP)
//!
//! 0.0.127.in-addr.arpa.     3600 SOA  ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300
//! 0.0.127.in-addr.arpa.     3600 NS   ns1.example.test.
//! 1.0.0.127.in-addr.arpa.    300 PTR  www.example.test.
//! ```
//!
//! Other names in these zones get `NXDOMAIN`; names outside them get `REFUSED`.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// The forward zone the server is authoritative for.
pub const ZONE: &str = "example.test.";
/// The reverse zone the server is authoritative for.
pub const REVERSE_ZONE: &str = "0.0.127.in-addr.arpa.";
/// A host with `A 127.0.0.1` and `AAAA ::1`, for checks that connect to local servers.
pub const WWW: &str = "www.example.test";
/// A host with only `A 127.0.0.1`.
pub const V4_ONLY: &str = "v4only.example.test";
/// A host with only `AAAA ::1`.
pub const V6_ONLY: &str = "v6only.example.test";
/// A `CNAME` to [`WWW`].
pub const ALIAS: &str = "alias.example.test";
/// An `SRV` record pointing at [`WWW`] port 8080.
pub const SRV_NAME: &str = "_http._tcp.example.test";
/// A name whose `TXT` records do not fit a UDP answer (the answer is truncated).
pub const BIG_TXT: &str = "big.example.test";
/// Number of `TXT` strings at [`BIG_TXT`].
pub const BIG_TXT_STRINGS: usize = 40;
/// A name in the zone that does not exist (`NXDOMAIN`).
pub const MISSING: &str = "missing.example.test";
/// A name outside every zone of the server (`REFUSED`).
pub const OUTSIDE: &str = "elsewhere.invalid-zone.test";
/// TTL of the records other than SOA and NS.
pub const TTL: u32 = 300;

const ZONE_TTL: u32 = 3600;
const SERIAL: u32 = 2_024_010_101;
/// How long the server keeps an idle TCP connection.
const TCP_IDLE: Duration = Duration::from_secs(5);

/// An authoritative DNS server on `127.0.0.1` (UDP and TCP, same port) serving the
/// zones in the [module docs](self). Shuts down when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    // Dropping the server aborts its tasks (they live in a `JoinSet`).
    _server: Server<Catalog>,
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Starts a server on a free port of `127.0.0.1`. Call from within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// When no port is free for both UDP and TCP.
    pub async fn start() -> io::Result<Self> {
        let mut catalog = Catalog::new();
        for (origin, handler) in [(ZONE, forward_zone()), (REVERSE_ZONE, reverse_zone())] {
            catalog.upsert(LowerName::from(name(origin)), vec![Arc::new(handler)]);
        }
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 64);
        Ok(Self {
            addr,
            _server: server,
        })
    }

    /// The address the server answers on, over UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Binds UDP and TCP on the same free port of `127.0.0.1`.
async fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port for UDP and TCP")))
}

/// A UDP socket on `127.0.0.1` that receives queries and never answers, for DNS
/// timeouts. Closed when dropped.
#[derive(Debug)]
pub struct BlackHole {
    addr: SocketAddr,
    _socket: UdpSocket,
}

impl BlackHole {
    /// Binds a black hole on a free port of `127.0.0.1`. Call from within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound.
    pub async fn start() -> io::Result<Self> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        Ok(Self {
            addr: socket.local_addr()?,
            _socket: socket,
        })
    }

    /// The address that never answers.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn name(s: &str) -> Name {
    // The names here are constants of this module; a bad one is a bug in this file.
    Name::from_str(s).unwrap_or_else(|e| panic!("bad test zone name {s:?}: {e}"))
}

fn fqdn(s: &str) -> Name {
    let mut n = name(s);
    n.set_fqdn(true);
    n
}

fn soa_and_ns(origin: &str) -> [Record; 2] {
    let soa = SOA::new(
        name("ns1.example.test."),
        name("hostmaster.example.test."),
        SERIAL,
        7200,
        3600,
        1_209_600,
        TTL,
    );
    [
        Record::from_rdata(name(origin), ZONE_TTL, RData::SOA(soa)),
        Record::from_rdata(
            name(origin),
            ZONE_TTL,
            RData::NS(NS(name("ns1.example.test."))),
        ),
    ]
}

fn zone(origin: &str, records: Vec<Record>) -> InMemoryZoneHandler<TokioRuntimeProvider> {
    let mut handler = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        name(origin),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    for record in soa_and_ns(origin).into_iter().chain(records) {
        let what = format!("{record}");
        assert!(
            handler.upsert_mut(record, SERIAL),
            "test zone rejected {what}"
        );
    }
    handler
}

fn forward_zone() -> InMemoryZoneHandler<TokioRuntimeProvider> {
    let rec = |owner: &str, data: RData| Record::from_rdata(fqdn(owner), TTL, data);
    let www = || fqdn(WWW);
    let big = (0..BIG_TXT_STRINGS)
        .map(|i| format!("{i:02}{}", "x".repeat(198)))
        .collect();
    zone(
        ZONE,
        vec![
            rec(ZONE, RData::MX(MX::new(10, name("mail.example.test.")))),
            rec(ZONE, RData::TXT(TXT::new(vec!["v=spf1 -all".to_owned()]))),
            rec(
                ZONE,
                RData::CAA(CAA::new_issue(
                    false,
                    Some(name("ca.example.net")),
                    Vec::new(),
                )),
            ),
            rec("ns1.example.test", RData::A(A(Ipv4Addr::LOCALHOST))),
            rec("mail.example.test", RData::A(A(Ipv4Addr::LOCALHOST))),
            rec(WWW, RData::A(A(Ipv4Addr::LOCALHOST))),
            rec(WWW, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))),
            rec(V4_ONLY, RData::A(A(Ipv4Addr::LOCALHOST))),
            rec(V6_ONLY, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))),
            rec(ALIAS, RData::CNAME(CNAME(www()))),
            rec(SRV_NAME, RData::SRV(SRV::new(10, 5, 8080, www()))),
            rec(BIG_TXT, RData::TXT(TXT::new(big))),
        ],
    )
}

fn reverse_zone() -> InMemoryZoneHandler<TokioRuntimeProvider> {
    zone(
        REVERSE_ZONE,
        vec![Record::from_rdata(
            name("1.0.0.127.in-addr.arpa."),
            TTL,
            RData::PTR(PTR(fqdn(WWW))),
        )],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn server_binds_udp_and_tcp_on_one_port() {
        let server = DnsServer::start().await.unwrap();
        assert!(server.addr().ip().is_loopback());
        // The TCP port is taken by the server: binding it again fails.
        assert!(std::net::TcpListener::bind(server.addr()).is_err());
    }

    #[test]
    fn zones_hold_every_record_set() {
        // Apex SOA, NS, MX, TXT, CAA; ns1, mail, www (A and AAAA), v4only, v6only, alias,
        // SRV and the big TXT.
        assert_eq!(forward_zone().records_get_mut().len(), 14);
        // SOA, NS and one PTR.
        assert_eq!(reverse_zone().records_get_mut().len(), 3);
    }
}
