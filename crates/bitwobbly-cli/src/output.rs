//! Human and JSON output. Every function writes into an `impl Write` and reads nothing
//! else, so the text can be tested on hand-built reports.
//!
//! The human report, in the spirit of httpstat:
//!
//! ```text
//! HTTP/2 200 OK  https://127.0.0.1:8443/ok  (127.0.0.1:8443)
//!
//!    DNS lookup     TCP connect     TLS handshake     Server wait     Content transfer
//! [      0.00ms  |       0.12ms  |         2.31ms  |       1.05ms  |            0.08ms  ]
//!                |               |                 |               |                    |
//!        namelookup:0.00ms       |                 |               |                    |
//!                         connect:0.12ms           |               |                    |
//!                                             tls:2.43ms           |                    |
//!                                                             ttfb:3.48ms               |
//!                                                                            total:3.56ms
//! ```
//!
//! then redirects, body size, certificate, DNS answers or banner, assertions (`✓`/`✗`)
//! and a final `UP`, `DEGRADED: reason` or `DOWN: reason` line.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use bitwobbly_core::{CheckReport, Phase, Severity, Status};

use crate::escape;
use crate::stats::Summary;

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
}

impl Style {
    /// Plain text, no escape codes.
    pub const PLAIN: Self = Self { color: false };

    /// Colour when standard output is a terminal, unless `--no-color` was given or
    /// `NO_COLOR` is set to a non-empty value.
    pub fn detect(
        no_color_flag: bool,
        no_color_env: Option<&std::ffi::OsStr>,
        is_terminal: bool,
    ) -> Self {
        let env_says_no = no_color_env.is_some_and(|v| !v.is_empty());
        Self {
            color: is_terminal && !no_color_flag && !env_says_no,
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn green(self, t: &str) -> String {
        self.paint("32", t)
    }

    fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }

    fn red(self, t: &str) -> String {
        self.paint("31", t)
    }

    fn cyan(self, t: &str) -> String {
        self.paint("36", t)
    }

    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }

    fn status(self, status: Status, t: &str) -> String {
        match status {
            Status::Up => self.green(t),
            Status::Degraded => self.yellow(t),
            _ => self.red(t),
        }
    }
}

/// Milliseconds with two decimals: `3.56ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

/// One column of the timing diagram.
struct Column {
    label: &'static str,
    phase: Phase,
    mark: &'static str,
}

const fn col(label: &'static str, phase: Phase, mark: &'static str) -> Column {
    Column { label, phase, mark }
}

/// The phases worth showing for this report's kind.
fn columns(r: &CheckReport) -> Vec<Column> {
    let dns = col("DNS lookup", Phase::Dns, "namelookup");
    let connect = col("TCP connect", Phase::Connect, "connect");
    let tls = col("TLS handshake", Phase::Tls, "tls");
    match r.kind.as_str() {
        "http" => {
            let https = r
                .target
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
            let mut cols = vec![dns, connect];
            if https || !r.timings.tls.is_zero() {
                cols.push(tls);
            }
            cols.push(col("Server wait", Phase::Ttfb, "ttfb"));
            cols.push(col("Content transfer", Phase::Transfer, "transfer"));
            cols
        }
        "tcp" if r.tcp.is_some() || !r.timings.ttfb.is_zero() => vec![
            dns,
            connect,
            col("Banner wait", Phase::Ttfb, "first_byte"),
            col("Banner read", Phase::Transfer, "banner"),
        ],
        "tcp" => vec![dns, connect],
        "tls" => vec![dns, connect, tls],
        "dns" => vec![col("DNS query", Phase::Dns, "query")],
        _ => Phase::ALL
            .into_iter()
            .map(|p| col(p.as_str(), p, p.as_str()))
            .collect(),
    }
}

/// The phases shown for a report's kind, for summaries.
pub fn shown_phases(r: &CheckReport) -> Vec<Phase> {
    columns(r).iter().map(|c| c.phase).collect()
}

/// Writes the timing diagram: per-phase boxes, then cumulative marks, the last one
/// being the total.
pub fn write_timeline(w: &mut impl Write, r: &CheckReport, style: Style) -> io::Result<()> {
    let cols = columns(r);
    let values: Vec<String> = cols.iter().map(|c| ms(r.timings.phase(c.phase))).collect();
    let widths: Vec<usize> = cols
        .iter()
        .zip(&values)
        .map(|(c, v)| (c.label.len().max(v.len()) + 4).max(12))
        .collect();
    // Column i spans starts[i]..starts[i] + widths[i]; its right edge is at bounds[i].
    let mut starts = Vec::with_capacity(cols.len());
    let mut bounds = Vec::with_capacity(cols.len());
    let mut at = 1;
    for width in &widths {
        starts.push(at);
        bounds.push(at + width);
        at += width + 1;
    }

    let mut labels = String::from(" ");
    let mut boxes = String::from("[");
    for (i, c) in cols.iter().enumerate() {
        labels.push_str(&format!("{:^width$} ", c.label, width = widths[i]));
        let pad = widths[i] - values[i].len() - 2;
        boxes.push_str(&" ".repeat(pad));
        boxes.push_str(&style.cyan(&values[i]));
        boxes.push_str("  ");
        boxes.push(if i + 1 == cols.len() { ']' } else { '|' });
    }
    writeln!(w, "{}", labels.trim_end())?;
    writeln!(w, "{boxes}")?;
    writeln!(w, "{}", pipes(&bounds, 0))?;

    let mut cumulative = Duration::ZERO;
    for (i, c) in cols.iter().enumerate() {
        cumulative += r.timings.phase(c.phase);
        let last = i + 1 == cols.len();
        let (mark, value) = if last {
            ("total", r.timings.total)
        } else {
            (c.mark, cumulative)
        };
        let text = format!("{mark}:{}", ms(value));
        let len = text.len();
        let start = if last {
            (bounds[i] + 1).saturating_sub(len)
        } else {
            // Centred under the edge, but clear of the next edge.
            let centred = bounds[i].saturating_sub(len / 2);
            centred.min(bounds[i + 1].saturating_sub(len + 1))
        };
        let mut line: Vec<char> = pipes(&bounds, i + 1).chars().collect();
        if line.len() < start + len {
            line.resize(start + len, ' ');
        }
        let before: String = line[..start].iter().collect();
        let after: String = line[start + len..].iter().collect();
        let painted = format!("{mark}:{}", style.cyan(&ms(value)));
        writeln!(w, "{}", format!("{before}{painted}{after}").trim_end())?;
    }
    Ok(())
}

/// A line with `|` at each edge from `from` on.
fn pipes(bounds: &[usize], from: usize) -> String {
    let Some(&end) = bounds.last() else {
        return String::new();
    };
    let mut line = vec![' '; end + 1];
    for &b in &bounds[from.min(bounds.len())..] {
        line[b] = '|';
    }
    line.into_iter().collect::<String>().trim_end().to_owned()
}

/// The first line: what was checked, and what answered.
fn write_headline(w: &mut impl Write, r: &CheckReport, style: Style) -> io::Result<()> {
    let remote = r
        .remote_addr
        .map(|a| format!("  ({a})"))
        .unwrap_or_default();
    match (&r.http, r.kind.as_str()) {
        (Some(h), _) => {
            let reason = http::StatusCode::from_u16(h.status)
                .ok()
                .and_then(|c| c.canonical_reason())
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let head = format!("{} {}{reason}", h.version, h.status);
            let head = if h.status < 400 {
                style.green(&head)
            } else {
                style.red(&head)
            };
            let url = h
                .hops
                .last()
                .map_or(r.target.as_str(), |hop| hop.url.as_str());
            writeln!(w, "{}  {url}{remote}", style.bold(&head))
        }
        (None, "dns") => {
            let server = r
                .dns
                .as_ref()
                .and_then(|d| d.server)
                .map(|s| format!("  (server {s})"))
                .unwrap_or_default();
            writeln!(w, "{} {}{server}", style.bold("DNS"), r.target)
        }
        (None, kind) => {
            writeln!(
                w,
                "{} {}{remote}",
                style.bold(&kind.to_ascii_uppercase()),
                r.target
            )
        }
    }
}

/// Writes the full human report of one run.
pub fn write_report(w: &mut impl Write, r: &CheckReport, style: Style) -> io::Result<()> {
    write_headline(w, r, style)?;
    writeln!(w)?;
    write_timeline(w, r, style)?;
    writeln!(w)?;
    let mut facts = String::new();
    write_facts(&mut facts, r).map_err(io::Error::other)?;
    if !facts.is_empty() {
        write!(w, "{facts}")?;
        writeln!(w)?;
    }
    if !r.assertions.is_empty() {
        write_assertions(w, r, style)?;
        writeln!(w)?;
    }
    writeln!(w, "{}", status_line(r, style))
}

/// Redirects, body size, certificate, DNS answer and banner, as they apply.
fn write_facts(out: &mut String, r: &CheckReport) -> std::fmt::Result {
    if let Some(h) = &r.http {
        if h.hops.len() > 1 {
            writeln!(out, "Redirects:")?;
            let url_width = h
                .hops
                .iter()
                .map(|h| h.url.chars().count())
                .max()
                .unwrap_or(0);
            for (i, hop) in h.hops.iter().enumerate() {
                let status = hop
                    .status
                    .map_or_else(|| "---".to_owned(), |s| s.to_string());
                writeln!(
                    out,
                    "  {}. {status}  {:<url_width$}  {}",
                    i + 1,
                    hop.url,
                    ms(hop.timings.total)
                )?;
            }
        }
        write!(out, "Body:         {} bytes", h.body_len)?;
        if h.body_truncated {
            write!(out, " (first {} kept)", h.body.len())?;
        }
        writeln!(out)?;
    }
    if let Some(c) = &r.tls {
        let left = match c.days_left {
            d if d < 0 => format!("expired {} days ago", -d),
            1 => "1 day left".to_owned(),
            d => format!("{d} days left"),
        };
        writeln!(out, "Certificate:")?;
        writeln!(out, "  subject    {}", c.subject)?;
        writeln!(out, "  issuer     {}", c.issuer)?;
        writeln!(out, "  names      {}", c.names.join(", "))?;
        writeln!(out, "  expires    {} ({left})", c.not_after.date())?;
        let plural = if c.chain_len == 1 { "" } else { "s" };
        writeln!(out, "  chain      {} certificate{plural}", c.chain_len)?;
        let version = c.tls_version.as_deref().unwrap_or("unknown");
        let alpn = c.alpn.as_deref().unwrap_or("none");
        writeln!(out, "  protocol   {version}, ALPN {alpn}")?;
    }
    if let Some(d) = &r.dns {
        let n = d.answers.len();
        let records = match n {
            0 => "no records".to_owned(),
            1 => "1 record".to_owned(),
            n => format!("{n} records"),
        };
        writeln!(out, "Answer:       {}, {records}", d.rcode)?;
        let name_w = d.answers.iter().map(|a| a.name.len()).max().unwrap_or(0);
        let ttl_w = d
            .answers
            .iter()
            .map(|a| a.ttl.to_string().len())
            .max()
            .unwrap_or(0);
        let type_w = d
            .answers
            .iter()
            .map(|a| a.record_type.len())
            .max()
            .unwrap_or(0);
        for a in &d.answers {
            writeln!(
                out,
                "  {:<name_w$}  {:>ttl_w$}  {:<type_w$}  {}",
                a.name, a.ttl, a.record_type, a.data
            )?;
        }
    }
    if let Some(t) = &r.tcp {
        if t.banner.is_empty() {
            writeln!(out, "Banner:       (nothing received)")?;
        } else {
            let n = t.banner.len();
            let unit = if n == 1 { "byte" } else { "bytes" };
            writeln!(
                out,
                "Banner:       \"{}\" ({n} {unit})",
                escape::encode(&t.banner)
            )?;
        }
    }
    Ok(())
}

/// Longest actual value shown for an assertion.
const ACTUAL_MAX: usize = 60;

/// Each assertion with `✓`/`✗`, the expected and the actual value.
fn write_assertions(w: &mut impl Write, r: &CheckReport, style: Style) -> io::Result<()> {
    writeln!(w, "Assertions:")?;
    let desc_w = r
        .assertions
        .iter()
        .map(|a| a.description.chars().count())
        .max()
        .unwrap_or(0);
    for a in &r.assertions {
        let mark = match (a.passed, a.severity) {
            (true, _) => style.green("✓"),
            (false, Severity::Degrade) => style.yellow("✗"),
            (false, _) => style.red("✗"),
        };
        let actual = a
            .actual
            .as_deref()
            .map_or_else(|| "nothing".to_owned(), |v| one_line(v, ACTUAL_MAX));
        let degrades = if a.severity == Severity::Degrade {
            " (degrades)"
        } else {
            ""
        };
        let pad = desc_w - a.description.chars().count();
        writeln!(
            w,
            "  {mark} {}{}  expected {}, got {actual}{degrades}",
            a.description,
            " ".repeat(pad),
            one_line(&a.expected, ACTUAL_MAX)
        )?;
    }
    Ok(())
}

/// Text on one line: control characters escaped, cut at `max` characters with `…`.
fn one_line(s: &str, max: usize) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '\r' => vec!['\\', 'r'],
            '\n' => vec!['\\', 'n'],
            '\t' => vec!['\\', 't'],
            c if c.is_control() => format!("\\u{{{:x}}}", u32::from(c)).chars().collect(),
            c => vec![c],
        })
        .collect();
    if escaped.chars().count() > max {
        let mut cut: String = escaped.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        escaped
    }
}

/// Why the check is not up: the error (kind, phase, message), else the verdict's reason,
/// else the failed assertions.
pub fn reason(r: &CheckReport) -> String {
    if let Some(e) = &r.error {
        return e.to_string();
    }
    if let Some(reason) = &r.reason {
        return reason.clone();
    }
    r.assertions
        .iter()
        .filter(|a| !a.passed)
        .map(|a| a.description.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `UP`, `DEGRADED: reason` or `DOWN: reason`.
pub fn status_line(r: &CheckReport, style: Style) -> String {
    match r.status {
        Status::Up => style.bold(&style.green("UP")),
        Status::Degraded => style.yellow(&format!("{}: {}", style.bold("DEGRADED"), reason(r))),
        _ => style.red(&format!("{}: {}", style.bold("DOWN"), reason(r))),
    }
}

/// A short description of what answered, for one-line results.
fn brief(r: &CheckReport) -> String {
    if let Some(h) = &r.http {
        return format!("{} {}", h.version, h.status);
    }
    if let Some(d) = &r.dns {
        let n = d.answers.len();
        return format!("{} {n} answer{}", d.rcode, if n == 1 { "" } else { "s" });
    }
    if let Some(c) = &r.tls {
        return format!(
            "{} {}d left",
            c.tls_version.as_deref().unwrap_or("TLS"),
            c.days_left
        );
    }
    if let Some(t) = &r.tcp {
        return format!("banner {}B", t.banner.len());
    }
    if r.error.is_none() && r.kind == "tcp" {
        return "connected".to_owned();
    }
    "-".to_owned()
}

/// One line per run with `--count`:
/// `[2/5] UP        HTTP/2 200    total=3.56ms dns=0.00ms connect=0.12ms ...`,
/// followed by the reason for runs that are not up.
pub fn write_run_line(
    w: &mut impl Write,
    run: u32,
    count: u32,
    r: &CheckReport,
    style: Style,
) -> io::Result<()> {
    let width = count.to_string().len();
    let status = format!("{:<8}", r.status.as_str().to_ascii_uppercase());
    let mut line = format!(
        "[{run:>width$}/{count}] {}  {:<12}  total={}",
        style.status(r.status, &status),
        brief(r),
        style.cyan(&ms(r.timings.total))
    );
    for p in shown_phases(r) {
        line.push_str(&format!(" {p}={}", ms(r.timings.phase(p))));
    }
    if r.status != Status::Up {
        line.push_str(&format!("  {}", reason(r)));
    }
    writeln!(w, "{line}")
}

/// The human summary after `--count` runs: counts, then min / median / p95 / max for
/// each phase in `phases` and the total.
pub fn write_summary(
    w: &mut impl Write,
    s: &Summary,
    phases: &[Phase],
    style: Style,
) -> io::Result<()> {
    writeln!(w)?;
    let plural = if s.runs == 1 { "" } else { "s" };
    writeln!(
        w,
        "--- {}: {} run{plural}, {} up, {} degraded, {} down ---",
        s.target,
        s.runs,
        style.green(&s.up.to_string()),
        style.yellow(&s.degraded.to_string()),
        style.red(&s.down.to_string()),
    )?;
    let Some(total) = s.total else {
        return writeln!(w, "no run completed, so there are no timings to summarise");
    };
    writeln!(
        w,
        "{:<10} {:>10} {:>10} {:>10} {:>10}",
        "", "min", "median", "p95", "max"
    )?;
    let rows = s
        .phases
        .iter()
        .filter(|(p, _)| phases.contains(p))
        .map(|(p, spread)| (p.as_str(), *spread))
        .chain(std::iter::once(("total", total)));
    for (name, spread) in rows {
        writeln!(
            w,
            "{name:<10} {:>10} {:>10} {:>10} {:>10}",
            ms(spread.min),
            ms(spread.median),
            ms(spread.p95),
            ms(spread.max)
        )?;
    }
    Ok(())
}

/// The report as one JSON object: pretty for a single run, one line for `--count`.
pub fn write_json(w: &mut impl Write, r: &CheckReport, pretty: bool) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *w, r)?;
    } else {
        serde_json::to_writer(&mut *w, r)?;
    }
    writeln!(w)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddr;

    use bitwobbly_core::{
        AssertionResult, CertFacts, CheckError, DnsFacts, DnsRecord, ErrorKind, Hop, HttpFacts,
        TcpFacts, Timings,
    };
    use bytes::Bytes;
    use time::macros::datetime;

    use super::*;
    use crate::stats::Summary;

    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }

    fn timings() -> Timings {
        Timings {
            dns: us(0),
            connect: us(120),
            tls: us(2310),
            ttfb: us(1050),
            transfer: us(80),
            total: us(3560),
        }
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:8443".parse().unwrap()
    }

    fn passed(kind: &str, description: &str, expected: &str, actual: &str) -> AssertionResult {
        AssertionResult {
            kind: kind.into(),
            description: description.into(),
            severity: Severity::Fail,
            passed: true,
            expected: expected.into(),
            actual: Some(actual.into()),
        }
    }

    /// An HTTPS check that is up, with a certificate.
    pub(crate) fn up_report() -> CheckReport {
        CheckReport {
            kind: "http".into(),
            target: "https://127.0.0.1:8443/ok".into(),
            status: Status::Up,
            reason: None,
            started_at: datetime!(2026-04-03 10:00 UTC),
            timings: timings(),
            remote_addr: Some(addr()),
            error: None,
            http: Some(HttpFacts {
                status: 200,
                version: "HTTP/2".into(),
                headers: vec![("content-type".into(), "text/plain".into())],
                body: Bytes::from_static(b"ok"),
                body_len: 2,
                body_truncated: false,
                hops: vec![Hop {
                    url: "https://127.0.0.1:8443/ok".into(),
                    status: Some(200),
                    remote_addr: Some(addr()),
                    timings: timings(),
                }],
            }),
            tls: Some(CertFacts {
                subject: "CN=localhost".into(),
                names: vec!["localhost".into(), "127.0.0.1".into()],
                issuer: "CN=Bit Wobbly Test CA".into(),
                not_before: datetime!(2026-01-01 0:00 UTC),
                not_after: datetime!(2026-07-01 0:00 UTC),
                days_left: 88,
                chain_len: 2,
                tls_version: Some("TLSv1.3".into()),
                alpn: Some("h2".into()),
            }),
            dns: None,
            tcp: None,
            assertions: vec![passed(
                "status_code",
                "status code in 200-399",
                "200-399",
                "200",
            )],
        }
    }

    /// A TCP check refused at connect.
    pub(crate) fn down_report() -> CheckReport {
        CheckReport {
            kind: "tcp".into(),
            target: "127.0.0.1:9".into(),
            status: Status::Down,
            reason: Some("connection refused".into()),
            started_at: datetime!(2026-04-03 10:00 UTC),
            timings: Timings {
                connect: us(210),
                total: us(210),
                ..Timings::default()
            },
            remote_addr: None,
            error: Some(CheckError::new(
                ErrorKind::ConnectionRefused,
                Phase::Connect,
                "connecting to 127.0.0.1:9: Connection refused",
            )),
            http: None,
            tls: None,
            dns: None,
            tcp: None,
            assertions: Vec::new(),
        }
    }

    /// A plain HTTP check that followed a redirect, was slow and so is degraded.
    fn degraded_report() -> CheckReport {
        let hop = |url: &str, status, total| Hop {
            url: url.into(),
            status: Some(status),
            remote_addr: Some("127.0.0.1:8080".parse().unwrap()),
            timings: Timings {
                total: us(total),
                ..Timings::default()
            },
        };
        CheckReport {
            kind: "http".into(),
            target: "http://127.0.0.1:8080/old".into(),
            status: Status::Degraded,
            reason: Some("total time 1.20s is not below 1s".into()),
            started_at: datetime!(2026-04-03 10:00 UTC),
            timings: Timings {
                dns: us(0),
                connect: us(300),
                tls: us(0),
                ttfb: us(1_199_000),
                transfer: us(700),
                total: us(1_200_000),
            },
            remote_addr: Some("127.0.0.1:8080".parse().unwrap()),
            error: None,
            http: Some(HttpFacts {
                status: 200,
                version: "HTTP/1.1".into(),
                headers: Vec::new(),
                body: Bytes::from_static(b"0123456789"),
                body_len: 4096,
                body_truncated: true,
                hops: vec![
                    hop("http://127.0.0.1:8080/old", 301, 500),
                    hop("http://127.0.0.1:8080/new", 200, 1_199_500),
                ],
            }),
            tls: None,
            dns: None,
            tcp: None,
            assertions: vec![
                passed("status_code", "status code in 200-399", "200-399", "200"),
                AssertionResult {
                    kind: "time".into(),
                    description: "total time below 1s".into(),
                    severity: Severity::Degrade,
                    passed: false,
                    expected: "< 1s".into(),
                    actual: Some("1.2s".into()),
                },
            ],
        }
    }

    fn dns_report() -> CheckReport {
        let rec = |data: &str| DnsRecord {
            name: "example.test.".into(),
            record_type: "MX".into(),
            ttl: 300,
            data: data.into(),
        };
        CheckReport {
            kind: "dns".into(),
            target: "example.test MX".into(),
            status: Status::Up,
            reason: None,
            started_at: datetime!(2026-04-03 10:00 UTC),
            timings: Timings {
                dns: us(640),
                total: us(650),
                ..Timings::default()
            },
            remote_addr: None,
            error: None,
            http: None,
            tls: None,
            dns: Some(DnsFacts {
                rcode: "NOERROR".into(),
                answers: vec![rec("10 mail.example.test."), rec("20 backup.example.test.")],
                server: Some("127.0.0.1:5353".parse().unwrap()),
            }),
            tcp: None,
            assertions: vec![passed(
                "dns_answer_contains",
                "an answer contains \"mail.example.test\"",
                "mail.example.test",
                "10 mail.example.test., 20 backup.example.test.",
            )],
        }
    }

    fn tcp_banner_report() -> CheckReport {
        CheckReport {
            kind: "tcp".into(),
            target: "127.0.0.1:2525".into(),
            status: Status::Down,
            reason: Some("banner does not contain \"SSH\"".into()),
            started_at: datetime!(2026-04-03 10:00 UTC),
            timings: Timings {
                connect: us(150),
                ttfb: us(900),
                transfer: us(50),
                total: us(1100),
                ..Timings::default()
            },
            remote_addr: Some("127.0.0.1:2525".parse().unwrap()),
            error: None,
            http: None,
            tls: None,
            dns: None,
            tcp: Some(TcpFacts {
                banner: Bytes::from_static(b"220 mail ESMTP\r\n"),
            }),
            assertions: vec![AssertionResult {
                kind: "banner_contains".into(),
                description: "banner contains \"SSH\"".into(),
                severity: Severity::Fail,
                passed: false,
                expected: "SSH".into(),
                actual: Some("220 mail ESMTP\r\n".into()),
            }],
        }
    }

    fn render(r: &CheckReport) -> String {
        let mut out = Vec::new();
        write_report(&mut out, r, Style::PLAIN).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn https_up_report() {
        let expected = r#"HTTP/2 200 OK  https://127.0.0.1:8443/ok  (127.0.0.1:8443)

   DNS lookup     TCP connect     TLS handshake     Server wait     Content transfer
[      0.00ms  |       0.12ms  |         2.31ms  |       1.05ms  |            0.08ms  ]
               |               |                 |               |                    |
       namelookup:0.00ms       |                 |               |                    |
                        connect:0.12ms           |               |                    |
                                            tls:2.43ms           |                    |
                                                            ttfb:3.48ms               |
                                                                           total:3.56ms

Body:         2 bytes
Certificate:
  subject    CN=localhost
  issuer     CN=Bit Wobbly Test CA
  names      localhost, 127.0.0.1
  expires    2026-07-01 (88 days left)
  chain      2 certificates
  protocol   TLSv1.3, ALPN h2

Assertions:
  ✓ status code in 200-399  expected 200-399, got 200

UP
"#;
        assert_eq!(render(&up_report()), expected);
    }

    #[test]
    fn degraded_report_with_redirects_and_truncation() {
        let expected = r#"HTTP/1.1 200 OK  http://127.0.0.1:8080/new  (127.0.0.1:8080)

   DNS lookup     TCP connect     Server wait     Content transfer
[      0.00ms  |       0.30ms  |    1199.00ms  |            0.70ms  ]
               |               |               |                    |
       namelookup:0.00ms       |               |                    |
                        connect:0.30ms         |                    |
                                        ttfb:1199.30ms              |
                                                      total:1200.00ms

Redirects:
  1. 301  http://127.0.0.1:8080/old  0.50ms
  2. 200  http://127.0.0.1:8080/new  1199.50ms
Body:         4096 bytes (first 10 kept)

Assertions:
  ✓ status code in 200-399  expected 200-399, got 200
  ✗ total time below 1s     expected < 1s, got 1.2s (degrades)

DEGRADED: total time 1.20s is not below 1s
"#;
        assert_eq!(render(&degraded_report()), expected);
    }

    #[test]
    fn down_report_names_kind_and_phase() {
        let expected = r#"TCP 127.0.0.1:9

   DNS lookup     TCP connect
[      0.00ms  |       0.21ms  ]
               |               |
       namelookup:0.00ms       |
                    total:0.21ms

DOWN: connection_refused during connect: connecting to 127.0.0.1:9: Connection refused
"#;
        assert_eq!(render(&down_report()), expected);
    }

    #[test]
    fn dns_report_lists_answers() {
        let expected = r#"DNS example.test MX  (server 127.0.0.1:5353)

   DNS query
[     0.64ms  ]
              |
   total:0.65ms

Answer:       NOERROR, 2 records
  example.test.  300  MX  10 mail.example.test.
  example.test.  300  MX  20 backup.example.test.

Assertions:
  ✓ an answer contains "mail.example.test"  expected mail.example.test, got 10 mail.example.test., 20 backup.example.test.

UP
"#;
        assert_eq!(render(&dns_report()), expected);
    }

    #[test]
    fn tcp_report_escapes_the_banner() {
        let expected = r#"TCP 127.0.0.1:2525  (127.0.0.1:2525)

   DNS lookup     TCP connect     Banner wait     Banner read
[      0.00ms  |       0.15ms  |       0.90ms  |       0.05ms  ]
               |               |               |               |
       namelookup:0.00ms       |               |               |
                        connect:0.15ms         |               |
                                       first_byte:1.05ms       |
                                                    total:1.10ms

Banner:       "220 mail ESMTP\r\n" (16 bytes)

Assertions:
  ✗ banner contains "SSH"  expected SSH, got 220 mail ESMTP\r\n

DOWN: banner does not contain "SSH"
"#;
        assert_eq!(render(&tcp_banner_report()), expected);
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!render(&up_report()).contains('\x1b'));
        let mut out = Vec::new();
        write_report(&mut out, &up_report(), Style { color: true }).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\x1b[32m"), "{text}");
    }

    #[test]
    fn style_detection() {
        let some = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(Style::detect(false, None, true).color);
        assert!(Style::detect(false, empty, true).color);
        assert!(!Style::detect(false, some, true).color);
        assert!(!Style::detect(true, None, true).color);
        assert!(!Style::detect(false, None, false).color);
    }

    #[test]
    fn run_lines() {
        let mut out = Vec::new();
        write_run_line(&mut out, 1, 10, &up_report(), Style::PLAIN).unwrap();
        write_run_line(&mut out, 10, 10, &down_report(), Style::PLAIN).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[ 1/10] UP        HTTP/2 200    total=3.56ms dns=0.00ms connect=0.12ms tls=2.31ms ttfb=1.05ms transfer=0.08ms\n\
             [10/10] DOWN      -             total=0.21ms dns=0.00ms connect=0.21ms  connection_refused during connect: connecting to 127.0.0.1:9: Connection refused\n"
        );
    }

    #[test]
    fn summary_table() {
        let reports = [up_report(), down_report(), up_report()];
        let s = Summary::of("https://127.0.0.1:8443/ok", &reports);
        let mut out = Vec::new();
        write_summary(&mut out, &s, &shown_phases(&reports[0]), Style::PLAIN).unwrap();
        let expected = "
--- https://127.0.0.1:8443/ok: 3 runs, 2 up, 0 degraded, 1 down ---
                  min     median        p95        max
dns            0.00ms     0.00ms     0.00ms     0.00ms
connect        0.12ms     0.12ms     0.12ms     0.12ms
tls            2.31ms     2.31ms     2.31ms     2.31ms
ttfb           1.05ms     1.05ms     1.05ms     1.05ms
transfer       0.08ms     0.08ms     0.08ms     0.08ms
total          3.56ms     3.56ms     3.56ms     3.56ms
";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn summary_without_timings() {
        let s = Summary::of("t", &[down_report()]);
        let mut out = Vec::new();
        write_summary(&mut out, &s, &[], Style::PLAIN).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("1 run, 0 up, 0 degraded, 1 down"), "{text}");
        assert!(text.contains("no run completed"), "{text}");
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut out = Vec::new();
        write_json(&mut out, &up_report(), false).unwrap();
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["kind"], "http");
        assert_eq!(v["status"], "up");
        assert_eq!(v["timings"]["tls_us"], 2310);
        assert_eq!(v["http"]["status"], 200);
        assert_eq!(v["assertions"][0]["passed"], true);
    }

    #[test]
    fn one_line_escapes_and_cuts() {
        assert_eq!(one_line("a\nb", 10), "a\\nb");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("\u{1b}", 10), "\\u{1b}");
    }
}
