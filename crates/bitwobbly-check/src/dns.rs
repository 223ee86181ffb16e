//! The dns probe: one query to one server, with the server's real answer reported.
//!
//! Unlike name resolution for other checks (see [`crate::resolve`]), a DNS check sends a
//! single query straight to a server and reports what came back, response code
//! included, so that assertions can judge it. The whole check is phase `dns`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bitwobbly_core::{
    AssertionKind, CheckError, DnsFacts, DnsRecord, DnsSpec, DnsTransport, ErrorKind, Phase,
    RecordType, ResolverSpec,
};
use hickory_net::NetError;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsExchange, DnsHandle, DnsMultiplexer, DnsRequestSender, FirstAnswer};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Query, ResponseCode};
use hickory_proto::rr::{self, Name, RData, Record};
use hickory_resolver::config::ProtocolConfig;
use tokio::time::Instant;

use crate::checker::{Checker, Run};
use crate::resolve::parse_ip_literal;

/// How long the system's first name server is remembered before the configuration is
/// read again.
const SYSTEM_CONF_TTL: Duration = Duration::from_secs(30);

/// Runs a dns check, recording what it learns in `run`.
///
/// The answer is recorded whatever its response code. A response code other than
/// `NOERROR` is an error (`dns_no_such_name` for `NXDOMAIN`, else `dns_failure`) only
/// when the spec has no `dns_rcode` assertion; with one, the assertion decides.
pub(crate) async fn run(
    _checker: &Checker,
    spec: &DnsSpec,
    run: &mut Run,
) -> Result<(), CheckError> {
    run.clock.enter(Phase::Dns);
    let name = query_name(spec)?;
    let (server, transport) = server_for(&spec.resolver)?;
    run.remote_addr = Some(server);
    let query = Query::query(name, record_type(spec.record_type)?);
    let request = DnsRequest::from_query(query, DnsRequestOptions::default());
    let response = exchange(server, transport, request, spec.timeout).await?;
    let rcode = response.metadata.response_code;
    run.dns = Some(DnsFacts {
        rcode: rcode_mnemonic(rcode),
        answers: response.answers.iter().map(present).collect(),
        server: Some(server),
    });
    let judged_by_assertion = spec
        .assertions
        .iter()
        .any(|a| matches!(a.kind, AssertionKind::DnsRcode { .. }));
    if rcode == ResponseCode::NoError || judged_by_assertion {
        return Ok(());
    }
    let target = format!("{} {}", spec.name, spec.record_type);
    Err(if rcode == ResponseCode::NXDomain {
        CheckError::new(
            ErrorKind::DnsNoSuchName,
            Phase::Dns,
            format!("{server} answered NXDOMAIN for {target}"),
        )
    } else {
        CheckError::new(
            ErrorKind::DnsFailure,
            Phase::Dns,
            format!("{server} answered {} for {target}", rcode_mnemonic(rcode)),
        )
    })
}

/// The name to ask for: the spec's name made absolute, or for a `PTR` query of an
/// address the `in-addr.arpa` / `ip6.arpa` name of that address.
fn query_name(spec: &DnsSpec) -> Result<Name, CheckError> {
    if spec.record_type == RecordType::Ptr
        && let Some(ip) = parse_ip_literal(&spec.name)
    {
        return Ok(Name::from(ip));
    }
    let mut name = Name::from_utf8(&spec.name).map_err(|e| {
        CheckError::new(
            ErrorKind::InvalidTarget,
            Phase::Dns,
            format!("{:?} is not a domain name: {e}", spec.name),
        )
    })?;
    name.set_fqdn(true);
    Ok(name)
}

/// The server to ask and how: the spec's server, or the system's first name server.
fn server_for(resolver: &ResolverSpec) -> Result<(SocketAddr, DnsTransport), CheckError> {
    match resolver {
        ResolverSpec::Server { addr, transport } => Ok((*addr, *transport)),
        _ => system_server().map(|addr| (addr, DnsTransport::Udp)),
    }
}

/// The first name server of the system configuration, re-read every
/// [`SYSTEM_CONF_TTL`].
fn system_server() -> Result<SocketAddr, CheckError> {
    static CACHE: Mutex<Option<(Instant, SocketAddr)>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((read_at, addr)) = *cache
        && read_at.elapsed() < SYSTEM_CONF_TTL
    {
        return Ok(addr);
    }
    let no_server = |why: String| {
        CheckError::new(
            ErrorKind::DnsFailure,
            Phase::Dns,
            format!("no system name server to ask: {why}"),
        )
    };
    let (config, _opts) =
        hickory_resolver::system_conf::read_system_conf().map_err(|e| no_server(e.to_string()))?;
    let ns = config
        .name_servers()
        .first()
        .ok_or_else(|| no_server("the configuration lists none".to_owned()))?;
    let port = ns
        .connections
        .iter()
        .find(|c| matches!(c.protocol, ProtocolConfig::Udp | ProtocolConfig::Tcp))
        .map_or(53, |c| c.port);
    let addr = SocketAddr::new(ns.ip, port);
    *cache = Some((Instant::now(), addr));
    Ok(addr)
}

/// Sends `request` to `server` and waits for its answer: over UDP, again over TCP when
/// the UDP answer is truncated, or over TCP only.
async fn exchange(
    server: SocketAddr,
    transport: DnsTransport,
    request: DnsRequest,
    timeout: Duration,
) -> Result<DnsResponse, CheckError> {
    if transport != DnsTransport::Tcp {
        let mut udp = UdpClientStream::builder(server, TokioRuntimeProvider::new())
            .with_timeout(Some(timeout))
            .build();
        let response = udp
            .send_message(request.clone())
            .first_answer()
            .await
            .map_err(|e| net_error(server, "UDP", &e))?;
        if !response.metadata.truncation {
            return Ok(response);
        }
        tracing::debug!(%server, "answer truncated over UDP, asking again over TCP");
    }
    exchange_tcp(server, request, timeout).await
}

/// Sends `request` over a new TCP connection, driving the connection in this task
/// (nothing is spawned) until the answer arrives or the connection fails.
async fn exchange_tcp(
    server: SocketAddr,
    request: DnsRequest,
    timeout: Duration,
) -> Result<DnsResponse, CheckError> {
    let (connect, sender) =
        TcpClientStream::new(server, None, Some(timeout), TokioRuntimeProvider::new());
    let stream = connect.await.map_err(|e| net_error(server, "TCP", &e))?;
    let multiplexer = DnsMultiplexer::new(stream, sender).with_timeout(timeout);
    let (client, background) = DnsExchange::<TokioRuntimeProvider>::from_stream(multiplexer);
    let mut background = std::pin::pin!(background);
    let mut answer = client.send(request).first_answer();
    let mut connection_done = false;
    let result = loop {
        tokio::select! {
            r = &mut answer => break r,
            () = &mut background, if !connection_done => connection_done = true,
        }
    };
    result.map_err(|e| net_error(server, "TCP", &e))
}

/// Classifies a failed exchange with a server.
fn net_error(server: SocketAddr, over: &str, e: &NetError) -> CheckError {
    match crate::resolve::classify(e) {
        ErrorKind::DnsTimeout => CheckError::new(
            ErrorKind::DnsTimeout,
            Phase::Dns,
            format!("no answer from {server} over {over} in time"),
        ),
        _ => CheckError::new(
            ErrorKind::DnsFailure,
            Phase::Dns,
            format!("asking {server} over {over}: {e}"),
        ),
    }
}

/// The hickory record type for a spec's record type, matched by mnemonic.
fn record_type(t: RecordType) -> Result<rr::RecordType, CheckError> {
    t.as_str().parse().map_err(|e| {
        CheckError::new(
            ErrorKind::InvalidTarget,
            Phase::Dns,
            format!("cannot ask for {t} records: {e}"),
        )
    })
}

/// The mnemonic of a response code, as `dig` prints it (`NOERROR`, `NXDOMAIN`, ...);
/// codes without one are `RCODE<n>`.
pub(crate) fn rcode_mnemonic(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS => "BADVERS",
        ResponseCode::BADSIG => "BADSIG",
        ResponseCode::BADKEY => "BADKEY",
        ResponseCode::BADTIME => "BADTIME",
        ResponseCode::BADMODE => "BADMODE",
        ResponseCode::BADNAME => "BADNAME",
        ResponseCode::BADALG => "BADALG",
        ResponseCode::BADTRUNC => "BADTRUNC",
        ResponseCode::BADCOOKIE => "BADCOOKIE",
        other => return format!("RCODE{}", u16::from(other)),
    };
    name.to_owned()
}

/// One answer record in presentation form.
fn present(record: &Record) -> DnsRecord {
    DnsRecord {
        name: record.name.to_string(),
        record_type: record.record_type().to_string(),
        ttl: record.ttl,
        data: present_data(&record.data),
    }
}

/// Record data in presentation form (RFC 1035 master-file syntax), e.g.
/// `10 mail.example.com.` for MX or `"v=spf1" "-all"` for TXT.
fn present_data(data: &RData) -> String {
    match data {
        RData::TXT(txt) => {
            let mut out = String::new();
            for (i, part) in txt.txt_data.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                quote_character_string(part, &mut out);
            }
            out
        }
        other => other.to_string(),
    }
}

/// Writes one `<character-string>` quoted, escaping `"` and `\` with a backslash and
/// bytes outside printable ASCII as `\DDD`.
fn quote_character_string(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::rdata::{MX, TXT};

    use super::*;

    #[test]
    fn rcodes_have_dig_mnemonics() {
        assert_eq!(rcode_mnemonic(ResponseCode::NoError), "NOERROR");
        assert_eq!(rcode_mnemonic(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_mnemonic(ResponseCode::ServFail), "SERVFAIL");
        assert_eq!(rcode_mnemonic(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_mnemonic(ResponseCode::Unknown(3841)), "RCODE3841");
    }

    #[test]
    fn txt_is_quoted_per_string_with_escapes() {
        let txt = TXT::from_bytes(vec![b"v=spf1 -all", b"say \"hi\"\\", b"\x01"]);
        assert_eq!(
            present_data(&RData::TXT(txt)),
            r#""v=spf1 -all" "say \"hi\"\\" "\001""#
        );
    }

    #[test]
    fn mx_is_preference_then_exchange() {
        let mx = MX::new(10, Name::from_ascii("mail.example.com.").unwrap());
        assert_eq!(present_data(&RData::MX(mx)), "10 mail.example.com.");
    }

    #[test]
    fn ptr_queries_of_addresses_ask_for_reverse_names() {
        let spec = DnsSpec::query("127.0.0.1", RecordType::Ptr);
        assert_eq!(
            query_name(&spec).unwrap().to_string(),
            "1.0.0.127.in-addr.arpa."
        );
        let spec = DnsSpec::query("::1", RecordType::Ptr);
        assert!(
            query_name(&spec)
                .unwrap()
                .to_string()
                .ends_with(".ip6.arpa.")
        );
        let spec = DnsSpec::query("www.example.test", RecordType::A);
        assert_eq!(query_name(&spec).unwrap().to_string(), "www.example.test.");
    }

    #[test]
    fn every_spec_type_maps_to_its_hickory_type() {
        for t in RecordType::ALL {
            assert_eq!(record_type(t).unwrap().to_string(), t.as_str());
        }
    }
}
