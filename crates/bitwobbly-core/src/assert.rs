//! Assertions: conditions on a check's result, and their evaluation.
//!
//! An [`Assertion`] is serialisable data. [`CompiledAssertions::compile`] validates a
//! list of them for one kind of check and prepares regular expressions and JSONPath
//! queries; [`CompiledAssertions::evaluate`] then judges an [`Observation`] and gives one
//! [`AssertionResult`] per assertion, with the actual and the expected value.
//! [`verdict`] turns those results (and any error) into a [`Status`].

use std::cmp::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json_path::JsonPath;
use time::OffsetDateTime;

use crate::error::SpecError;
use crate::report::{CertFacts, CheckError, DnsFacts, HttpFacts, Phase, Status, TcpFacts, Timings};

/// What happens when an assertion fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// The check is down.
    #[default]
    Fail,
    /// The check is degraded (reachable but not healthy, e.g. slow).
    Degrade,
}

/// The status an HTTP check expects when its assertions name none: 200 to 399.
pub const DEFAULT_HTTP_STATUS: StatusMatch = StatusMatch::Range(200, 399);

/// One condition, and what its failure means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Assertion {
    /// The condition.
    #[serde(flatten)]
    pub kind: AssertionKind,
    /// Down or degraded on failure. Default [`Severity::Fail`].
    #[serde(default)]
    pub severity: Severity,
}

impl Assertion {
    /// An assertion that fails the check.
    pub fn fail(kind: AssertionKind) -> Self {
        Self {
            kind,
            severity: Severity::Fail,
        }
    }

    /// An assertion that only degrades the check.
    pub fn degrade(kind: AssertionKind) -> Self {
        Self {
            kind,
            severity: Severity::Degrade,
        }
    }
}

/// Expected HTTP status codes, written as `200`, `200,204,301` or `200-299`
/// (a range is inclusive; `2xx` is short for `200-299`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusMatch {
    /// Exactly this code.
    Exact(u16),
    /// Any of these codes.
    OneOf(Vec<u16>),
    /// Any code from the first to the second, inclusive.
    Range(u16, u16),
}

/// Comparison in a JSONPath assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JsonOp {
    /// The selected value equals `value` (numbers compare numerically).
    Eq,
    /// The selected value differs from `value`.
    Ne,
    /// The selected number is less than `value`.
    Lt,
    /// The selected number is at most `value`.
    Le,
    /// The selected number is greater than `value`.
    Gt,
    /// The selected number is at least `value`.
    Ge,
    /// The selected string contains `value`, or the selected array contains an element
    /// equal to `value`.
    Contains,
    /// The path selects at least one node (`value` is not used).
    Exists,
    /// The path selects nothing (`value` is not used).
    NotExists,
}

/// A condition on a check's result.
///
/// Serialised with a `type` tag, e.g. `{"type": "status_code", "expect": "200-299"}` or
/// `{"type": "json", "path": "$.status", "op": "eq", "value": "ok"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum AssertionKind {
    /// HTTP status code.
    StatusCode {
        /// Codes that pass.
        expect: StatusMatch,
    },
    /// A phase (or, with no phase, the whole check) took less than `below`.
    Time {
        /// The phase measured; `None` means the total.
        #[serde(default)]
        phase: Option<Phase>,
        /// Exclusive upper bound.
        #[serde(with = "humantime_serde")]
        below: Duration,
    },
    /// The captured body contains `text`.
    BodyContains {
        /// Substring looked for.
        text: String,
    },
    /// The captured body does not contain `text`.
    BodyNotContains {
        /// Substring that must be absent.
        text: String,
    },
    /// The captured body matches a regular expression (Rust `regex` syntax).
    BodyMatches {
        /// The expression.
        pattern: String,
    },
    /// A JSONPath (RFC 9535) query on the body, compared with a value.
    ///
    /// The query selects a list of nodes. `eq` passes when it selects exactly one node
    /// equal to `value` (numbers compare by value, so `1 == 1.0`) and `ne` is its
    /// negation; `lt`, `le`, `gt` and `ge` need exactly one number node (a numeric string
    /// is not converted); `contains` needs exactly one node, a string containing the
    /// string `value` or an array with an element equal to `value`; `exists` passes when
    /// something is selected and `not_exists` when nothing is. A body that is not JSON
    /// fails every `json` assertion.
    Json {
        /// The query, e.g. `$.checks[0].status`.
        path: String,
        /// The comparison.
        op: JsonOp,
        /// The value compared with (any JSON value); not used by `exists`/`not_exists`.
        #[serde(default)]
        value: Option<serde_json::Value>,
    },
    /// A response header has exactly this value (name case-insensitive; the first value
    /// when the header is repeated).
    HeaderEquals {
        /// Header name.
        name: String,
        /// Expected value.
        value: String,
    },
    /// A response header matches a regular expression (the first value when the header
    /// is repeated).
    HeaderMatches {
        /// Header name.
        name: String,
        /// The expression.
        pattern: String,
    },
    /// The certificate stays valid for more than `days` whole days after the check.
    CertMinDays {
        /// Minimum days left.
        days: i64,
    },
    /// A DNS answer's data contains `value` (e.g. an address, or `mail.example.com`).
    ///
    /// Names compare case-insensitively and a trailing dot does not matter
    /// (`mail.example.com` matches `10 mail.example.com.`); `TXT` data compares exactly.
    DnsAnswerContains {
        /// Text looked for in the answers' presentation form.
        value: String,
    },
    /// The DNS response code is `rcode` (e.g. `NOERROR`, `NXDOMAIN`).
    DnsRcode {
        /// Expected mnemonic, case-insensitive.
        rcode: String,
    },
    /// The TCP banner contains these bytes (given as text with escapes decoded).
    BannerContains {
        /// Bytes looked for.
        text: String,
    },
    /// The TCP banner matches a regular expression (on its bytes).
    BannerMatches {
        /// The expression.
        pattern: String,
    },
}

/// The outcome of one assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// The assertion's type tag, e.g. `status_code`.
    pub kind: String,
    /// A short description, e.g. `status code in 200-299`.
    pub description: String,
    /// What failure means.
    pub severity: Severity,
    /// Whether it held.
    pub passed: bool,
    /// The expected value as text.
    pub expected: String,
    /// The actual value as text, when there was one (no value at all, e.g. a missing
    /// header, is `None`).
    pub actual: Option<String>,
}

/// What a check observed, borrowed from the report being built, for evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Timing breakdown.
    pub timings: &'a Timings,
    /// HTTP response, if any.
    pub http: Option<&'a HttpFacts>,
    /// Certificate facts, if any.
    pub cert: Option<&'a CertFacts>,
    /// DNS answer, if any.
    pub dns: Option<&'a DnsFacts>,
    /// TCP banner, if any.
    pub tcp: Option<&'a TcpFacts>,
    /// The current time, for certificate lifetimes.
    pub now: OffsetDateTime,
}

impl<'a> Observation<'a> {
    /// An observation holding only timings, at `now`.
    pub fn new(timings: &'a Timings, now: OffsetDateTime) -> Self {
        Self {
            timings,
            http: None,
            cert: None,
            dns: None,
            tcp: None,
            now,
        }
    }
}

/// Assertions validated for one kind of check, ready to evaluate many times.
#[derive(Debug, Clone, Default)]
pub struct CompiledAssertions {
    items: Vec<Item>,
    has_json: bool,
    needs_banner: bool,
}

/// One assertion with its prepared form and fixed description.
#[derive(Debug, Clone)]
struct Item {
    assertion: Assertion,
    description: String,
    compiled: Compiled,
}

/// One assertion's prepared form (compiled expressions and queries).
#[derive(Debug, Clone)]
enum Compiled {
    /// Nothing to prepare.
    Plain,
    /// An expression matched against text (header values).
    Text(regex::Regex),
    /// An expression matched against bytes (bodies and banners).
    Bytes(regex::bytes::Regex),
    /// A parsed JSONPath query.
    Json(JsonPath),
}

/// Largest compiled size of one regular expression, so that a hostile pattern fails to
/// compile instead of eating memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Longest text a `*_contains` assertion may look for.
const MAX_LITERAL_LEN: usize = 16 * 1024;
/// Longest JSONPath query accepted.
const JSON_PATH_MAX_LEN: usize = 4096;
/// Deepest bracket or parenthesis nesting accepted in a JSONPath query. The parser
/// recurses on nesting (a few thousand levels overflow the stack) and backtracks through
/// nested filters in time exponential in their depth (a millisecond at 16 levels, a
/// second at 32), so hostile queries are refused before parsing.
const JSON_PATH_MAX_NESTING: usize = 16;
/// Longest value text put in a result (longer ones are cut and end with `…`).
const MAX_VALUE_TEXT: usize = 200;
/// Bytes of a body or banner shown in a result.
const EXCERPT_LEN: usize = 80;
/// DNS response codes (IANA mnemonics) a `dns_rcode` assertion may name.
const RCODES: [&str; 19] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "BADVERS",
    "BADSIG",
    "BADKEY",
    "BADTIME",
    "BADMODE",
    "BADNAME",
    "BADCOOKIE",
];

impl CompiledAssertions {
    /// Validates `assertions` for a check of `kind` (`http`, `tcp`, `dns`, `tls`).
    ///
    /// Which assertions apply to which kind:
    ///
    /// | assertion | kinds |
    /// | --- | --- |
    /// | `status_code`, `body_*`, `json`, `header_*` | `http` |
    /// | `time` | all, for the phases the kind has (`http`: all; `tls`: dns, connect, tls; `tcp`: dns, connect, ttfb, transfer; `dns`: dns) |
    /// | `cert_min_days` | `http` (for `https://` URLs, checked by [`crate::CheckSpec::compile`]) and `tls` |
    /// | `dns_*` | `dns` |
    /// | `banner_*` | `tcp` |
    ///
    /// # Errors
    ///
    /// A [`SpecError`] whose field is `[index].field` (or `[index]` when the assertion does
    /// not apply to `kind`), for a bad regular expression or JSONPath, a missing or
    /// out-of-range value, or an assertion that does not apply to `kind`. An unknown `kind`
    /// is an error on the field `type`.
    pub fn compile(kind: &str, assertions: &[Assertion]) -> Result<Self, SpecError> {
        let phases = phases_for(kind).ok_or_else(|| {
            SpecError::new(
                "type",
                format!("unknown check kind {kind:?}, expected http, tcp, dns or tls"),
            )
        })?;
        let mut items = Vec::with_capacity(assertions.len());
        for (i, assertion) in assertions.iter().enumerate() {
            let compiled = compile_one(kind, phases, &assertion.kind)
                .map_err(|e| e.within(&format!("[{i}]")))?;
            items.push(Item {
                description: describe(&assertion.kind),
                assertion: assertion.clone(),
                compiled,
            });
        }
        let has_json = items
            .iter()
            .any(|it| matches!(it.assertion.kind, AssertionKind::Json { .. }));
        let needs_banner = items.iter().any(|it| {
            matches!(
                it.assertion.kind,
                AssertionKind::BannerContains { .. } | AssertionKind::BannerMatches { .. }
            )
        });
        Ok(Self {
            items,
            has_json,
            needs_banner,
        })
    }

    /// Judges `obs`, giving one result per assertion in order.
    ///
    /// An assertion whose fact is missing (no HTTP response because the check failed, no
    /// certificate, no DNS answer, no banner) fails with `actual` set to `None`. The body
    /// is parsed as JSON at most once, and only when a `json` assertion exists.
    pub fn evaluate(&self, obs: &Observation<'_>) -> Vec<AssertionResult> {
        let json = if self.has_json {
            obs.http.map(parse_body_json)
        } else {
            None
        };
        self.items
            .iter()
            .map(|item| {
                let (passed, expected, actual) = judge(item, obs, json.as_ref());
                AssertionResult {
                    kind: item.assertion.kind.tag().to_owned(),
                    description: item.description.clone(),
                    severity: item.assertion.severity,
                    passed,
                    expected,
                    actual,
                }
            })
            .collect()
    }

    /// Whether any assertion looks at a TCP banner (so the probe must read one).
    pub fn needs_banner(&self) -> bool {
        self.needs_banner
    }

    /// The assertions in order.
    pub fn iter(&self) -> impl Iterator<Item = &Assertion> {
        self.items.iter().map(|it| &it.assertion)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// Turns an error (if the check could not complete) and assertion results into a
/// status and a one-line reason.
///
/// An error means [`Status::Down`] with the reason `<kind> during <phase>: <message>`;
/// else the first failed [`Severity::Fail`] assertion means [`Status::Down`]; else the
/// first failed [`Severity::Degrade`] assertion means [`Status::Degraded`], each with the
/// reason `assertion failed: <description> (expected <expected>, got <actual>)`; else
/// [`Status::Up`] with no reason.
#[must_use = "the verdict is the check's status"]
pub fn verdict(
    error: Option<&CheckError>,
    results: &[AssertionResult],
) -> (Status, Option<String>) {
    if let Some(e) = error {
        return (Status::Down, Some(e.to_string()));
    }
    let first_failed =
        |severity: Severity| results.iter().find(|r| !r.passed && r.severity == severity);
    if let Some(r) = first_failed(Severity::Fail) {
        return (Status::Down, Some(failure_reason(r)));
    }
    if let Some(r) = first_failed(Severity::Degrade) {
        return (Status::Degraded, Some(failure_reason(r)));
    }
    (Status::Up, None)
}

fn failure_reason(r: &AssertionResult) -> String {
    format!(
        "assertion failed: {} (expected {}, got {})",
        r.description,
        r.expected,
        r.actual.as_deref().unwrap_or("nothing")
    )
}

// === impl AssertionKind ===

impl AssertionKind {
    /// The serialised `type` tag, e.g. `status_code`.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::StatusCode { .. } => "status_code",
            Self::Time { .. } => "time",
            Self::BodyContains { .. } => "body_contains",
            Self::BodyNotContains { .. } => "body_not_contains",
            Self::BodyMatches { .. } => "body_matches",
            Self::Json { .. } => "json",
            Self::HeaderEquals { .. } => "header_equals",
            Self::HeaderMatches { .. } => "header_matches",
            Self::CertMinDays { .. } => "cert_min_days",
            Self::DnsAnswerContains { .. } => "dns_answer_contains",
            Self::DnsRcode { .. } => "dns_rcode",
            Self::BannerContains { .. } => "banner_contains",
            Self::BannerMatches { .. } => "banner_matches",
        }
    }

    /// The check kinds (`http`, `tcp`, `dns`, `tls`) this assertion applies to.
    pub fn applies_to(&self) -> &'static [&'static str] {
        match self {
            Self::StatusCode { .. }
            | Self::BodyContains { .. }
            | Self::BodyNotContains { .. }
            | Self::BodyMatches { .. }
            | Self::Json { .. }
            | Self::HeaderEquals { .. }
            | Self::HeaderMatches { .. } => &["http"],
            Self::Time { .. } => &["http", "tcp", "dns", "tls"],
            Self::CertMinDays { .. } => &["http", "tls"],
            Self::DnsAnswerContains { .. } | Self::DnsRcode { .. } => &["dns"],
            Self::BannerContains { .. } | Self::BannerMatches { .. } => &["tcp"],
        }
    }
}

// === impl JsonOp ===

impl JsonOp {
    /// The serialised name, e.g. `not_exists`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Contains => "contains",
            Self::Exists => "exists",
            Self::NotExists => "not_exists",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Contains => "contains",
            Self::Exists => "exists",
            Self::NotExists => "does not exist",
        }
    }

    fn is_ordering(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge)
    }
}

impl std::fmt::Display for JsonOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// === compile ===

/// The phases a check of `kind` has, or `None` for an unknown kind.
fn phases_for(kind: &str) -> Option<&'static [Phase]> {
    match kind {
        "http" => Some(&Phase::ALL),
        "tls" => Some(&[Phase::Dns, Phase::Connect, Phase::Tls]),
        "tcp" => Some(&[Phase::Dns, Phase::Connect, Phase::Ttfb, Phase::Transfer]),
        "dns" => Some(&[Phase::Dns]),
        _ => None,
    }
}

fn compile_one(kind: &str, phases: &[Phase], a: &AssertionKind) -> Result<Compiled, SpecError> {
    if !a.applies_to().contains(&kind) {
        return Err(SpecError::new(
            "",
            format!("{} does not apply to {kind} checks", a.tag()),
        ));
    }
    match a {
        AssertionKind::StatusCode { expect } => {
            check_status_match(expect).map_err(|p| SpecError::new("expect", p))?;
            Ok(Compiled::Plain)
        }
        AssertionKind::Time { phase, below } => {
            if let Some(p) = phase
                && !phases.contains(p)
            {
                return Err(SpecError::new(
                    "phase",
                    format!("phase {p} does not apply to {kind} checks"),
                ));
            }
            if below.is_zero() {
                return Err(SpecError::new("below", "must be greater than zero"));
            }
            Ok(Compiled::Plain)
        }
        AssertionKind::BodyContains { text }
        | AssertionKind::BodyNotContains { text }
        | AssertionKind::BannerContains { text } => {
            non_empty("text", text)?;
            if text.len() > MAX_LITERAL_LEN {
                return Err(SpecError::new(
                    "text",
                    format!("longer than {MAX_LITERAL_LEN} bytes"),
                ));
            }
            // A literal expression: the regex crate searches it with a fast substring
            // search, so a long body costs linear time.
            regex::bytes::RegexBuilder::new(&regex::escape(text))
                .unicode(false)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Compiled::Bytes)
                .map_err(|e| SpecError::new("text", regex_problem(&e)))
        }
        AssertionKind::BodyMatches { pattern } | AssertionKind::BannerMatches { pattern } => {
            regex::bytes::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Compiled::Bytes)
                .map_err(|e| SpecError::new("pattern", regex_problem(&e)))
        }
        AssertionKind::HeaderMatches { name, pattern } => {
            header_name("name", name)?;
            regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Compiled::Text)
                .map_err(|e| SpecError::new("pattern", regex_problem(&e)))
        }
        AssertionKind::HeaderEquals { name, .. } => {
            header_name("name", name)?;
            Ok(Compiled::Plain)
        }
        AssertionKind::Json { path, op, value } => {
            let compiled = compile_json_path(path)?;
            check_json_value(*op, value.as_ref())?;
            Ok(Compiled::Json(compiled))
        }
        AssertionKind::CertMinDays { days } => {
            if *days < 0 {
                return Err(SpecError::new("days", "must be >= 0"));
            }
            Ok(Compiled::Plain)
        }
        AssertionKind::DnsAnswerContains { value } => {
            non_empty("value", value)?;
            Ok(Compiled::Plain)
        }
        AssertionKind::DnsRcode { rcode } => {
            let r = rcode.trim();
            if RCODES.iter().any(|k| k.eq_ignore_ascii_case(r)) {
                Ok(Compiled::Plain)
            } else {
                Err(SpecError::new(
                    "rcode",
                    format!(
                        "unknown response code {rcode:?}, expected a mnemonic such as NOERROR, NXDOMAIN, SERVFAIL or REFUSED"
                    ),
                ))
            }
        }
    }
}

fn check_status_match(m: &StatusMatch) -> Result<(), String> {
    let valid = |c: &u16| (100..=599).contains(c);
    match m {
        StatusMatch::Exact(c) if !valid(c) => Err(format!("code {c} is outside 100-599")),
        StatusMatch::OneOf(cs) if cs.is_empty() => Err("no status codes given".to_owned()),
        StatusMatch::OneOf(cs) => match cs.iter().find(|c| !valid(c)) {
            Some(c) => Err(format!("code {c} is outside 100-599")),
            None => Ok(()),
        },
        StatusMatch::Range(lo, hi) if !valid(lo) || !valid(hi) => {
            Err(format!("range {lo}-{hi} is outside 100-599"))
        }
        StatusMatch::Range(lo, hi) if lo > hi => Err(format!("range {lo}-{hi} runs backwards")),
        _ => Ok(()),
    }
}

fn non_empty(field: &str, text: &str) -> Result<(), SpecError> {
    if text.is_empty() {
        Err(SpecError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn header_name(field: &str, name: &str) -> Result<(), SpecError> {
    if crate::validate::is_token(name) {
        Ok(())
    } else {
        Err(SpecError::new(
            field,
            format!("{name:?} is not a valid HTTP header name"),
        ))
    }
}

fn regex_problem(e: &regex::Error) -> String {
    // The crate's messages span several lines (with a caret under the error); keep
    // the result on one line.
    let text = e.to_string();
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("invalid regular expression: {one_line}")
}

fn compile_json_path(path: &str) -> Result<JsonPath, SpecError> {
    if path.len() > JSON_PATH_MAX_LEN {
        return Err(SpecError::new(
            "path",
            format!("invalid JSONPath: longer than {JSON_PATH_MAX_LEN} bytes"),
        ));
    }
    if json_path_nesting(path) > JSON_PATH_MAX_NESTING {
        return Err(SpecError::new(
            "path",
            format!("invalid JSONPath: nested deeper than {JSON_PATH_MAX_NESTING} levels"),
        ));
    }
    JsonPath::parse(path)
        .map_err(|e| SpecError::new("path", format!("invalid JSONPath {path:?}: {e}")))
}

/// The deepest nesting of brackets and parentheses in a JSONPath query, ignoring those
/// inside string literals.
fn json_path_nesting(path: &str) -> usize {
    JsonPathScan::new(path)
        .map(|(_, _, depth)| depth)
        .max()
        .unwrap_or(0)
}

/// Walks a JSONPath query's structure: yields each character outside string literals
/// with its byte offset and the bracket depth after it (`[` and `(` open a level, `]`
/// and `)` close one), skipping quoted text with its escapes.
///
/// Useful to find where a query ends inside a longer expression (the first space or
/// operator at depth zero) without parsing it.
///
/// ```
/// use bitwobbly_core::assert::JsonPathScan;
///
/// let expr = "$.items[?(@.name == 'a b')].n >= 3";
/// let end = JsonPathScan::new(expr)
///     .find(|&(_, c, depth)| depth == 0 && c.is_whitespace())
///     .map(|(i, _, _)| i);
/// assert_eq!(&expr[..end.unwrap()], "$.items[?(@.name == 'a b')].n");
/// ```
#[derive(Debug, Clone)]
pub struct JsonPathScan<'a> {
    chars: std::str::CharIndices<'a>,
    depth: usize,
    quote: Option<char>,
    escaped: bool,
}

impl<'a> JsonPathScan<'a> {
    /// Starts at the beginning of `path`.
    pub fn new(path: &'a str) -> Self {
        Self {
            chars: path.char_indices(),
            depth: 0,
            quote: None,
            escaped: false,
        }
    }

    /// Whether everything seen so far closed its quotes and brackets.
    pub fn is_balanced(&self) -> bool {
        self.quote.is_none() && self.depth == 0
    }
}

impl Iterator for JsonPathScan<'_> {
    type Item = (usize, char, usize);

    fn next(&mut self) -> Option<Self::Item> {
        for (i, c) in self.chars.by_ref() {
            if let Some(q) = self.quote {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.quote = None;
                }
                continue;
            }
            match c {
                '\'' | '"' => self.quote = Some(c),
                '[' | '(' => self.depth += 1,
                ']' | ')' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            return Some((i, c, self.depth));
        }
        None
    }
}

fn check_json_value(op: JsonOp, value: Option<&Value>) -> Result<(), SpecError> {
    match (op, value) {
        (JsonOp::Exists | JsonOp::NotExists, Some(_)) => Err(SpecError::new(
            "value",
            format!("not used by op {op}, remove it"),
        )),
        (JsonOp::Exists | JsonOp::NotExists, None) => Ok(()),
        (_, None) => Err(SpecError::new("value", format!("required for op {op}"))),
        (op, Some(v)) if op.is_ordering() && !v.is_number() => Err(SpecError::new(
            "value",
            format!("must be a number for op {op}"),
        )),
        (_, Some(_)) => Ok(()),
    }
}

/// A short description of what the assertion requires.
fn describe(a: &AssertionKind) -> String {
    match a {
        AssertionKind::StatusCode { expect } => match expect {
            StatusMatch::Exact(c) => format!("status code is {c}"),
            other => format!("status code in {other}"),
        },
        AssertionKind::Time { phase, below } => format!(
            "{} below {}",
            phase.map_or("total", Phase::as_str),
            format_duration(*below)
        ),
        AssertionKind::BodyContains { text } => format!("body contains {text:?}"),
        AssertionKind::BodyNotContains { text } => format!("body does not contain {text:?}"),
        AssertionKind::BodyMatches { pattern } => format!("body matches /{pattern}/"),
        AssertionKind::Json { path, op, value } => match value {
            Some(v) if !matches!(op, JsonOp::Exists | JsonOp::NotExists) => {
                format!("{path} {} {}", op.symbol(), json_text(v))
            }
            _ => format!("{path} {}", op.symbol()),
        },
        AssertionKind::HeaderEquals { name, value } => format!("header {name} is {value:?}"),
        AssertionKind::HeaderMatches { name, pattern } => {
            format!("header {name} matches /{pattern}/")
        }
        AssertionKind::CertMinDays { days } => {
            format!("certificate valid for more than {days} days")
        }
        AssertionKind::DnsAnswerContains { value } => format!("dns answer contains {value:?}"),
        AssertionKind::DnsRcode { rcode } => {
            format!("dns rcode is {}", rcode.trim().to_ascii_uppercase())
        }
        AssertionKind::BannerContains { text } => format!("banner contains {text:?}"),
        AssertionKind::BannerMatches { pattern } => format!("banner matches /{pattern}/"),
    }
}

// === evaluate ===

/// `(passed, expected, actual)` of one assertion.
type Judgement = (bool, String, Option<String>);

/// The body parsed as JSON, or why it could not be.
type ParsedBody = Result<Value, String>;

fn parse_body_json(http: &HttpFacts) -> ParsedBody {
    serde_json::from_slice(&http.body).map_err(|e| {
        if http.body_truncated {
            format!(
                "body is not JSON: {e} (only the first {} bytes were captured)",
                http.body.len()
            )
        } else {
            format!("body is not JSON: {e}")
        }
    })
}

fn judge(item: &Item, obs: &Observation<'_>, json: Option<&ParsedBody>) -> Judgement {
    match (&item.assertion.kind, &item.compiled) {
        (AssertionKind::StatusCode { expect }, _) => {
            let actual = obs.http.map(|h| h.status);
            (
                actual.is_some_and(|c| expect.matches(c)),
                expect.to_string(),
                actual.map(|c| c.to_string()),
            )
        }
        (AssertionKind::Time { phase, below }, _) => {
            let took = phase.map_or(obs.timings.total, |p| obs.timings.phase(p));
            (
                took < *below,
                format!("< {}", format_duration(*below)),
                Some(format_millis(took)),
            )
        }
        (AssertionKind::BodyContains { text }, Compiled::Bytes(re)) => {
            let body = obs.http.map(|h| &h.body[..]);
            search(format!("containing {text:?}"), re, body, true)
        }
        (AssertionKind::BodyNotContains { text }, Compiled::Bytes(re)) => {
            let body = obs.http.map(|h| &h.body[..]);
            search(format!("not containing {text:?}"), re, body, false)
        }
        (AssertionKind::BodyMatches { pattern }, Compiled::Bytes(re)) => {
            let body = obs.http.map(|h| &h.body[..]);
            search(format!("matching /{pattern}/"), re, body, true)
        }
        (AssertionKind::BannerContains { text }, Compiled::Bytes(re)) => {
            let banner = obs.tcp.map(|t| &t.banner[..]);
            search(format!("containing {text:?}"), re, banner, true)
        }
        (AssertionKind::BannerMatches { pattern }, Compiled::Bytes(re)) => {
            let banner = obs.tcp.map(|t| &t.banner[..]);
            search(format!("matching /{pattern}/"), re, banner, true)
        }
        (AssertionKind::Json { op, value, .. }, Compiled::Json(path)) => {
            judge_json(path, *op, value.as_ref(), json)
        }
        (AssertionKind::HeaderEquals { name, value }, _) => {
            let actual = obs.http.and_then(|h| h.header(name));
            (
                actual == Some(value.as_str()),
                format!("{value:?}"),
                actual.map(|v| clip(&format!("{v:?}"))),
            )
        }
        (AssertionKind::HeaderMatches { pattern, name }, Compiled::Text(re)) => {
            let actual = obs.http.and_then(|h| h.header(name));
            (
                actual.is_some_and(|v| re.is_match(v)),
                format!("matching /{pattern}/"),
                actual.map(|v| clip(&format!("{v:?}"))),
            )
        }
        (AssertionKind::CertMinDays { days }, _) => {
            let left = obs
                .cert
                .map(|c| CertFacts::days_until_expiry(c.not_after, obs.now));
            (
                left.is_some_and(|l| l > *days),
                format!("> {days} days"),
                left.map(|l| format!("{l} days")),
            )
        }
        (AssertionKind::DnsAnswerContains { value }, _) => judge_dns_answer(value, obs.dns),
        (AssertionKind::DnsRcode { rcode }, _) => {
            let want = rcode.trim();
            let actual = obs.dns.map(|d| d.rcode.as_str());
            (
                actual.is_some_and(|r| r.trim().eq_ignore_ascii_case(want)),
                want.to_ascii_uppercase(),
                actual.map(str::to_owned),
            )
        }
        // `compile` pairs every regex and JSONPath kind with its prepared form, so these
        // combinations cannot occur; fail rather than panic should that ever change.
        (
            AssertionKind::BodyContains { .. }
            | AssertionKind::BodyNotContains { .. }
            | AssertionKind::BodyMatches { .. }
            | AssertionKind::BannerContains { .. }
            | AssertionKind::BannerMatches { .. }
            | AssertionKind::HeaderMatches { .. }
            | AssertionKind::Json { .. },
            _,
        ) => (false, "a compiled assertion".to_owned(), None),
    }
}

/// Searches `hay` with `re`; passes when a match is found and `want_match`, or when none
/// is found and not `want_match`. The actual value is an excerpt around the match, or
/// from the start when there is none.
fn search(
    expected: String,
    re: &regex::bytes::Regex,
    hay: Option<&[u8]>,
    want_match: bool,
) -> Judgement {
    let Some(hay) = hay else {
        return (false, expected, None);
    };
    match re.find(hay) {
        Some(m) => (want_match, expected, Some(excerpt(hay, m.start()))),
        None => (!want_match, expected, Some(excerpt(hay, 0))),
    }
}

fn judge_dns_answer(value: &str, dns: Option<&DnsFacts>) -> Judgement {
    let expected = format!("containing {value:?}");
    let Some(dns) = dns else {
        return (false, expected, None);
    };
    // A trailing dot (the root) must not matter: `mail.example.com.` is `mail.example.com`.
    let want = value.strip_suffix('.').unwrap_or(value);
    let want_lower = want.to_ascii_lowercase();
    let hit = dns.answers.iter().find(|r| {
        if r.record_type.eq_ignore_ascii_case("TXT") {
            // Text is data, not names: compare it as written.
            r.data.contains(want)
        } else {
            r.data.to_ascii_lowercase().contains(&want_lower)
        }
    });
    if let Some(r) = hit {
        return (true, expected, Some(clip(&r.data)));
    }
    let actual = if dns.answers.is_empty() {
        None
    } else {
        let all: Vec<&str> = dns.answers.iter().map(|r| r.data.as_str()).collect();
        Some(clip(&all.join(", ")))
    };
    (false, expected, actual)
}

fn judge_json(
    path: &JsonPath,
    op: JsonOp,
    value: Option<&Value>,
    json: Option<&ParsedBody>,
) -> Judgement {
    let expected = match (op, value) {
        (JsonOp::Exists, _) => "at least one node".to_owned(),
        (JsonOp::NotExists, _) => "no node".to_owned(),
        (JsonOp::Eq, Some(v)) => json_text(v),
        (JsonOp::Contains, Some(v)) => format!("containing {}", json_text(v)),
        (op, Some(v)) => format!("{} {}", op.symbol(), json_text(v)),
        (op, None) => op.symbol().to_owned(),
    };
    let doc = match json {
        None => return (false, expected, None),
        Some(Err(why)) => return (false, expected, Some(clip(why))),
        Some(Ok(doc)) => doc,
    };
    let nodes = path.query(doc).all();
    let actual = match nodes.as_slice() {
        [] => None,
        [one] => Some(json_text(one)),
        many => Some(clip(&format!(
            "{} nodes: {}",
            many.len(),
            serde_json::to_string(many).unwrap_or_default()
        ))),
    };
    let single = match nodes.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let passed = match (op, value) {
        (JsonOp::Exists, _) => !nodes.is_empty(),
        (JsonOp::NotExists, _) => nodes.is_empty(),
        (JsonOp::Eq, Some(v)) => single.is_some_and(|n| json_eq(n, v)),
        (JsonOp::Ne, Some(v)) => !single.is_some_and(|n| json_eq(n, v)),
        (JsonOp::Contains, Some(v)) => single.is_some_and(|n| json_contains(n, v)),
        (op, Some(Value::Number(want))) => single.is_some_and(|n| match n {
            Value::Number(got) => num_cmp(got, want).is_some_and(|o| match op {
                JsonOp::Lt => o.is_lt(),
                JsonOp::Le => o.is_le(),
                JsonOp::Gt => o.is_gt(),
                JsonOp::Ge => o.is_ge(),
                _ => false,
            }),
            _ => false,
        }),
        // `compile` rejects a missing or non-numeric value for these ops.
        (_, _) => false,
    };
    (passed, expected, actual)
}

/// JSON equality where numbers compare by value (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y).is_some_and(Ordering::is_eq),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| json_eq(x, y)))
        }
        _ => a == b,
    }
}

/// A string containing the string `needle`, or an array with an element equal to it.
fn json_contains(hay: &Value, needle: &Value) -> bool {
    match (hay, needle) {
        (Value::String(h), Value::String(n)) => h.contains(n.as_str()),
        (Value::Array(items), n) => items.iter().any(|i| json_eq(i, n)),
        _ => false,
    }
}

/// Compares two JSON numbers by value, exactly for integers.
fn num_cmp(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    // One is a float, or one is an integer beyond the other's range (a negative i64 and
    // a u64 above i64::MAX), where floating point orders them correctly.
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// The JSON text of `v`, cut to a readable length.
fn json_text(v: &Value) -> String {
    clip(&serde_json::to_string(v).unwrap_or_default())
}

/// `text` cut at a character boundary to at most [`MAX_VALUE_TEXT`] bytes, with `…`
/// when cut.
fn clip(text: &str) -> String {
    if text.len() <= MAX_VALUE_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_VALUE_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A quoted, lossily decoded window of `bytes` starting a little before `at`, with `…`
/// marking cut ends.
fn excerpt(bytes: &[u8], at: usize) -> String {
    let is_continuation = |b: u8| (0x80..0xC0).contains(&b);
    let mut start = at.min(bytes.len()).saturating_sub(EXCERPT_LEN / 4);
    // Do not start or end inside a UTF-8 sequence (at most three continuation bytes).
    for _ in 0..3 {
        if start < bytes.len() && start > 0 && is_continuation(bytes[start]) {
            start += 1;
        }
    }
    let mut end = (start + EXCERPT_LEN).min(bytes.len());
    for _ in 0..3 {
        if end < bytes.len() && end > start && is_continuation(bytes[end]) {
            end -= 1;
        }
    }
    let text = String::from_utf8_lossy(&bytes[start..end]);
    format!(
        "{}{text:?}{}",
        if start > 0 { "…" } else { "" },
        if end < bytes.len() { "…" } else { "" }
    )
}

/// A duration as the user would write it, e.g. `200ms` or `1s 500ms`.
fn format_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

/// A measured duration in milliseconds with up to microsecond precision, e.g. `312.456ms`.
fn format_millis(d: Duration) -> String {
    let us = d.as_micros();
    let (ms, frac) = (us / 1000, us % 1000);
    if frac == 0 {
        format!("{ms}ms")
    } else {
        let frac = format!("{frac:03}");
        format!("{ms}.{}ms", frac.trim_end_matches('0'))
    }
}

// === impl StatusMatch ===

impl StatusMatch {
    /// Whether `code` passes.
    pub fn matches(&self, code: u16) -> bool {
        match self {
            Self::Exact(c) => *c == code,
            Self::OneOf(cs) => cs.contains(&code),
            Self::Range(lo, hi) => (*lo..=*hi).contains(&code),
        }
    }
}

impl std::fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(c) => write!(f, "{c}"),
            Self::OneOf(cs) => {
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Self::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

impl std::str::FromStr for StatusMatch {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = |why: &str| SpecError::new("expect", format!("{why} in status codes {s:?}"));
        let code = |t: &str| -> Result<u16, SpecError> {
            let c: u16 = t.trim().parse().map_err(|_| bad("not a number"))?;
            if (100..=599).contains(&c) {
                Ok(c)
            } else {
                Err(bad("a code outside 100-599"))
            }
        };
        if let Some(class) = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX")) {
            let d: u16 = class.parse().map_err(|_| bad("not a status class"))?;
            if !(1..=5).contains(&d) {
                return Err(bad("a class outside 1xx-5xx"));
            }
            return Ok(Self::Range(d * 100, d * 100 + 99));
        }
        if let Some((lo, hi)) = s.split_once('-') {
            let (lo, hi) = (code(lo)?, code(hi)?);
            if lo > hi {
                return Err(bad("a range that runs backwards"));
            }
            return Ok(Self::Range(lo, hi));
        }
        if s.contains(',') {
            let codes = s.split(',').map(code).collect::<Result<Vec<_>, _>>()?;
            return Ok(Self::OneOf(codes));
        }
        code(s).map(Self::Exact)
    }
}

impl Serialize for StatusMatch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // A lone code stays a number so that `expect = 200` round-trips.
            Self::Exact(c) => s.serialize_u16(*c),
            other => s.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for StatusMatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u16),
            List(Vec<u16>),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Code(c) => c.to_string().parse(),
            Raw::List(cs) => cs
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
                .parse(),
            Raw::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use serde_json::json;
    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;
    use crate::report::{DnsRecord, ErrorKind};

    const NOW: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

    fn http_facts(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpFacts {
        HttpFacts {
            status,
            version: "HTTP/1.1".to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Bytes::copy_from_slice(body),
            body_len: body.len() as u64,
            body_truncated: false,
            hops: Vec::new(),
        }
    }

    fn cert_expiring(not_after: OffsetDateTime) -> CertFacts {
        CertFacts {
            subject: "CN=example.com".to_owned(),
            names: vec!["example.com".to_owned()],
            issuer: "CN=Test CA".to_owned(),
            not_before: datetime!(2025-01-01 0:00 UTC),
            not_after,
            days_left: 0,
            chain_len: 2,
            tls_version: Some("TLSv1.3".to_owned()),
            alpn: None,
        }
    }

    fn dns_facts(rcode: &str, answers: &[(&str, &str)]) -> DnsFacts {
        DnsFacts {
            rcode: rcode.to_owned(),
            answers: answers
                .iter()
                .map(|(t, d)| DnsRecord {
                    name: "example.com.".to_owned(),
                    record_type: (*t).to_owned(),
                    ttl: 300,
                    data: (*d).to_owned(),
                })
                .collect(),
            server: None,
        }
    }

    fn compiled(kind: &str, a: AssertionKind) -> CompiledAssertions {
        CompiledAssertions::compile(kind, &[Assertion::fail(a)]).expect("assertion compiles")
    }

    fn compile_err(kind: &str, a: AssertionKind) -> SpecError {
        CompiledAssertions::compile(kind, &[Assertion::fail(a)]).expect_err("assertion is rejected")
    }

    fn eval_one(kind: &str, a: AssertionKind, obs: &Observation<'_>) -> AssertionResult {
        let mut results = compiled(kind, a).evaluate(obs);
        assert_eq!(results.len(), 1);
        results.remove(0)
    }

    fn eval_http(a: AssertionKind, facts: &HttpFacts) -> AssertionResult {
        let timings = Timings::default();
        let obs = Observation {
            http: Some(facts),
            ..Observation::new(&timings, NOW)
        };
        eval_one("http", a, &obs)
    }

    fn eval_bare(kind: &str, a: AssertionKind) -> AssertionResult {
        let timings = Timings::default();
        eval_one(kind, a, &Observation::new(&timings, NOW))
    }

    fn json_body(body: &[u8], path: &str, op: JsonOp, value: Option<Value>) -> AssertionResult {
        eval_http(
            AssertionKind::Json {
                path: path.to_owned(),
                op,
                value,
            },
            &http_facts(200, &[], body),
        )
    }

    fn status(expect: &str) -> AssertionKind {
        AssertionKind::StatusCode {
            expect: expect.parse().expect("valid status match"),
        }
    }

    fn text(s: &str) -> String {
        s.to_owned()
    }

    fn result(passed: bool, severity: Severity, description: &str) -> AssertionResult {
        AssertionResult {
            kind: "time".to_owned(),
            description: description.to_owned(),
            severity,
            passed,
            expected: "< 200ms".to_owned(),
            actual: Some("312ms".to_owned()),
        }
    }

    // --- status_code ---

    #[test]
    fn status_code_in_range_passes() {
        let r = eval_http(status("200-299"), &http_facts(204, &[], b""));
        assert!(r.passed);
        assert_eq!(r.kind, "status_code");
        assert_eq!(r.description, "status code in 200-299");
        assert_eq!(r.expected, "200-299");
        assert_eq!(r.actual.as_deref(), Some("204"));
    }

    #[test]
    fn status_code_outside_range_fails() {
        let r = eval_http(status("2xx"), &http_facts(503, &[], b""));
        assert!(!r.passed);
        assert_eq!(r.expected, "200-299");
        assert_eq!(r.actual.as_deref(), Some("503"));
    }

    #[test]
    fn status_code_exact_is_described_with_is() {
        let r = eval_http(status("200"), &http_facts(200, &[], b""));
        assert!(r.passed);
        assert_eq!(r.description, "status code is 200");
    }

    #[test]
    fn status_code_one_of_list_fails_for_other_code() {
        let r = eval_http(status("200,204"), &http_facts(201, &[], b""));
        assert!(!r.passed);
        assert_eq!(r.description, "status code in 200,204");
        assert_eq!(r.actual.as_deref(), Some("201"));
    }

    #[test]
    fn status_code_without_response_fails_with_no_actual() {
        let r = eval_bare("http", status("200"));
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn status_code_outside_100_599_is_rejected() {
        let e = compile_err(
            "http",
            AssertionKind::StatusCode {
                expect: StatusMatch::Exact(999),
            },
        );
        assert_eq!(e.field, "[0].expect");
        assert!(e.problem.contains("999"), "{e}");
    }

    #[test]
    fn status_code_backwards_range_is_rejected() {
        let e = compile_err(
            "http",
            AssertionKind::StatusCode {
                expect: StatusMatch::Range(299, 200),
            },
        );
        assert_eq!(e.field, "[0].expect");
        assert!(e.problem.contains("backwards"), "{e}");
    }

    #[test]
    fn status_code_empty_list_is_rejected() {
        let e = compile_err(
            "http",
            AssertionKind::StatusCode {
                expect: StatusMatch::OneOf(Vec::new()),
            },
        );
        assert_eq!(e.field, "[0].expect");
    }

    // --- StatusMatch parsing ---

    #[test]
    fn status_match_parses_single_code() {
        assert_eq!("200".parse::<StatusMatch>(), Ok(StatusMatch::Exact(200)));
    }

    #[test]
    fn status_match_parses_list() {
        assert_eq!(
            "200, 204,301".parse::<StatusMatch>(),
            Ok(StatusMatch::OneOf(vec![200, 204, 301]))
        );
    }

    #[test]
    fn status_match_parses_range() {
        assert_eq!(
            "200-299".parse::<StatusMatch>(),
            Ok(StatusMatch::Range(200, 299))
        );
    }

    #[test]
    fn status_match_parses_class_in_either_case() {
        assert_eq!(
            "2xx".parse::<StatusMatch>(),
            Ok(StatusMatch::Range(200, 299))
        );
        assert_eq!(
            "5XX".parse::<StatusMatch>(),
            Ok(StatusMatch::Range(500, 599))
        );
    }

    #[test]
    fn status_match_rejects_bad_inputs() {
        for bad in [
            "", "abc", "99", "600", "70000", "299-200", "6xx", "0xx", "x", "2xx5", "200,", "-",
            "200-", "20x",
        ] {
            let e = bad.parse::<StatusMatch>().expect_err(bad);
            assert_eq!(e.field, "expect", "{bad:?}");
        }
    }

    #[test]
    fn status_match_round_trips_through_display() {
        for text in ["200", "200,204,301", "200-299"] {
            let m: StatusMatch = text.parse().expect("valid");
            assert_eq!(m.to_string(), text);
        }
    }

    #[test]
    fn status_match_deserialises_number_list_and_text() {
        let m: StatusMatch = serde_json::from_value(json!(200)).expect("number");
        assert_eq!(m, StatusMatch::Exact(200));
        let m: StatusMatch = serde_json::from_value(json!([200, 204])).expect("list");
        assert_eq!(m, StatusMatch::OneOf(vec![200, 204]));
        let m: StatusMatch = serde_json::from_value(json!("2xx")).expect("text");
        assert_eq!(m, StatusMatch::Range(200, 299));
    }

    #[test]
    fn status_match_serialises_exact_as_number_and_others_as_text() {
        assert_eq!(
            serde_json::to_value(StatusMatch::Exact(200)).expect("serialise"),
            json!(200)
        );
        assert_eq!(
            serde_json::to_value(StatusMatch::Range(200, 299)).expect("serialise"),
            json!("200-299")
        );
    }

    #[test]
    fn status_match_rejects_bad_json() {
        assert!(serde_json::from_value::<StatusMatch>(json!("1000")).is_err());
        assert!(serde_json::from_value::<StatusMatch>(json!(true)).is_err());
    }

    // --- time ---

    fn time(phase: Option<Phase>, below_ms: u64) -> AssertionKind {
        AssertionKind::Time {
            phase,
            below: Duration::from_millis(below_ms),
        }
    }

    #[test]
    fn time_phase_below_bound_passes() {
        let timings = Timings {
            ttfb: Duration::from_millis(150),
            ..Timings::default()
        };
        let r = eval_one(
            "http",
            time(Some(Phase::Ttfb), 200),
            &Observation::new(&timings, NOW),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "time");
        assert_eq!(r.description, "ttfb below 200ms");
        assert_eq!(r.expected, "< 200ms");
        assert_eq!(r.actual.as_deref(), Some("150ms"));
    }

    #[test]
    fn time_equal_to_bound_fails() {
        let timings = Timings {
            total: Duration::from_millis(200),
            ..Timings::default()
        };
        let r = eval_one("tcp", time(None, 200), &Observation::new(&timings, NOW));
        assert!(!r.passed);
        assert_eq!(r.description, "total below 200ms");
        assert_eq!(r.actual.as_deref(), Some("200ms"));
    }

    #[test]
    fn time_actual_keeps_microseconds() {
        let timings = Timings {
            connect: Duration::from_micros(312_450),
            ..Timings::default()
        };
        let r = eval_one(
            "tcp",
            time(Some(Phase::Connect), 300),
            &Observation::new(&timings, NOW),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("312.45ms"));
    }

    #[test]
    fn time_bound_in_seconds_is_described_as_written() {
        let r = eval_bare(
            "dns",
            AssertionKind::Time {
                phase: Some(Phase::Dns),
                below: Duration::from_millis(1500),
            },
        );
        assert_eq!(r.description, "dns below 1s 500ms");
        assert!(r.passed);
    }

    #[test]
    fn time_phase_missing_from_kind_is_rejected() {
        let e = compile_err("dns", time(Some(Phase::Connect), 100));
        assert_eq!(e.field, "[0].phase");
        assert_eq!(e.problem, "phase connect does not apply to dns checks");
    }

    #[test]
    fn time_tls_phase_is_rejected_for_tcp() {
        let e = compile_err("tcp", time(Some(Phase::Tls), 100));
        assert_eq!(e.field, "[0].phase");
    }

    #[test]
    fn time_zero_bound_is_rejected() {
        let e = compile_err("http", time(None, 0));
        assert_eq!(e.field, "[0].below");
    }

    #[test]
    fn time_phases_per_kind() {
        let allowed = [
            ("http", &Phase::ALL[..]),
            ("tls", &[Phase::Dns, Phase::Connect, Phase::Tls][..]),
            (
                "tcp",
                &[Phase::Dns, Phase::Connect, Phase::Ttfb, Phase::Transfer][..],
            ),
            ("dns", &[Phase::Dns][..]),
        ];
        for (kind, phases) in allowed {
            assert!(CompiledAssertions::compile(kind, &[Assertion::fail(time(None, 5))]).is_ok());
            for p in Phase::ALL {
                let ok =
                    CompiledAssertions::compile(kind, &[Assertion::fail(time(Some(p), 5))]).is_ok();
                assert_eq!(ok, phases.contains(&p), "{kind} {p}");
            }
        }
    }

    // --- body ---

    #[test]
    fn body_contains_passes_with_excerpt_at_match() {
        let r = eval_http(
            AssertionKind::BodyContains { text: text("ok") },
            &http_facts(200, &[], br#"{"status":"ok"}"#),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "body_contains");
        assert_eq!(r.description, r#"body contains "ok""#);
        assert_eq!(r.expected, r#"containing "ok""#);
        assert_eq!(r.actual.as_deref(), Some(r#""{\"status\":\"ok\"}""#));
    }

    #[test]
    fn body_contains_fails_showing_body_start() {
        let r = eval_http(
            AssertionKind::BodyContains { text: text("bye") },
            &http_facts(200, &[], b"hello world"),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""hello world""#));
    }

    #[test]
    fn body_contains_without_response_fails_with_no_actual() {
        let r = eval_bare("http", AssertionKind::BodyContains { text: text("ok") });
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn body_contains_treats_text_literally() {
        let r = eval_http(
            AssertionKind::BodyContains { text: text("a.c") },
            &http_facts(200, &[], b"abc"),
        );
        assert!(!r.passed);
    }

    #[test]
    fn body_contains_searches_non_utf8_bytes() {
        let r = eval_http(
            AssertionKind::BodyContains { text: text("ok") },
            &http_facts(200, &[], b"\xff\xfe\x00ok\xc3"),
        );
        assert!(r.passed);
        assert!(r.actual.expect("excerpt").contains("ok"));
    }

    #[test]
    fn body_contains_empty_text_is_rejected() {
        let e = compile_err("http", AssertionKind::BodyContains { text: text("") });
        assert_eq!(e.field, "[0].text");
    }

    #[test]
    fn body_contains_huge_text_is_rejected() {
        let e = compile_err(
            "http",
            AssertionKind::BodyContains {
                text: "x".repeat(MAX_LITERAL_LEN + 1),
            },
        );
        assert_eq!(e.field, "[0].text");
    }

    #[test]
    fn body_excerpt_of_long_body_is_cut_around_match() {
        let mut body = vec![b'a'; 10_000];
        body.extend_from_slice(b"needle");
        body.extend_from_slice(&[b'b'; 10_000]);
        let r = eval_http(
            AssertionKind::BodyContains {
                text: text("needle"),
            },
            &http_facts(200, &[], &body),
        );
        let actual = r.actual.expect("excerpt");
        assert!(actual.starts_with('…'), "{actual}");
        assert!(actual.ends_with('…'), "{actual}");
        assert!(actual.contains("needle"), "{actual}");
        assert!(actual.len() < 2 * EXCERPT_LEN, "{actual}");
    }

    #[test]
    fn body_excerpt_does_not_split_utf8() {
        let body = "é".repeat(100);
        let r = eval_http(
            AssertionKind::BodyContains { text: text("z") },
            &http_facts(200, &[], body.as_bytes()),
        );
        let actual = r.actual.expect("excerpt");
        assert!(!actual.contains('\u{fffd}'), "{actual}");
    }

    #[test]
    fn body_not_contains_passes_when_absent() {
        let r = eval_http(
            AssertionKind::BodyNotContains {
                text: text("error"),
            },
            &http_facts(200, &[], b"all good"),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "body_not_contains");
        assert_eq!(r.description, r#"body does not contain "error""#);
        assert_eq!(r.expected, r#"not containing "error""#);
    }

    #[test]
    fn body_not_contains_fails_showing_the_match() {
        let r = eval_http(
            AssertionKind::BodyNotContains {
                text: text("error"),
            },
            &http_facts(200, &[], b"fatal error here"),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""fatal error here""#));
    }

    #[test]
    fn body_not_contains_without_response_fails() {
        let r = eval_bare(
            "http",
            AssertionKind::BodyNotContains {
                text: text("error"),
            },
        );
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn body_matches_passes() {
        let r = eval_http(
            AssertionKind::BodyMatches {
                pattern: text(r"version \d+\.\d+"),
            },
            &http_facts(200, &[], b"running version 2.14"),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "body_matches");
        assert_eq!(r.description, r"body matches /version \d+\.\d+/");
        assert_eq!(r.expected, r"matching /version \d+\.\d+/");
    }

    #[test]
    fn body_matches_fails_showing_body_start() {
        let r = eval_http(
            AssertionKind::BodyMatches {
                pattern: text("^ok$"),
            },
            &http_facts(200, &[], b"not ok"),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""not ok""#));
    }

    #[test]
    fn body_matches_non_utf8_body() {
        let r = eval_http(
            AssertionKind::BodyMatches {
                pattern: text(r"o\w"),
            },
            &http_facts(200, &[], b"\xff\xfe\x80ok\xff"),
        );
        assert!(r.passed);
    }

    #[test]
    fn body_matches_bad_regex_names_index_and_field() {
        let list = [
            Assertion::fail(status("200")),
            Assertion::fail(AssertionKind::BodyContains { text: text("a") }),
            Assertion::fail(AssertionKind::BodyMatches {
                pattern: text("(unclosed"),
            }),
        ];
        let e = CompiledAssertions::compile("http", &list).expect_err("bad regex");
        assert_eq!(e.field, "[2].pattern");
        assert!(e.problem.starts_with("invalid regular expression: "), "{e}");
        assert!(!e.problem.contains('\n'), "{e}");
    }

    #[test]
    fn huge_regex_is_an_error_not_a_hang() {
        let e = compile_err(
            "http",
            AssertionKind::BodyMatches {
                pattern: text(r"(\w{1000}){1000}"),
            },
        );
        assert_eq!(e.field, "[0].pattern");
    }

    #[test]
    fn deeply_nested_regex_is_an_error_not_a_crash() {
        let pattern = format!("{}a{}", "(".repeat(50_000), ")".repeat(50_000));
        let e = compile_err("tcp", AssertionKind::BannerMatches { pattern });
        assert_eq!(e.field, "[0].pattern");
    }

    // --- json ---

    #[test]
    fn json_eq_string_passes() {
        let r = json_body(
            br#"{"status":"ok"}"#,
            "$.status",
            JsonOp::Eq,
            Some(json!("ok")),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "json");
        assert_eq!(r.description, r#"$.status == "ok""#);
        assert_eq!(r.expected, r#""ok""#);
        assert_eq!(r.actual.as_deref(), Some(r#""ok""#));
    }

    #[test]
    fn json_eq_fails_with_actual_value() {
        let r = json_body(
            br#"{"status":"degraded"}"#,
            "$.status",
            JsonOp::Eq,
            Some(json!("ok")),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""degraded""#));
    }

    #[test]
    fn json_eq_compares_numbers_numerically() {
        let r = json_body(br#"{"n":1.0}"#, "$.n", JsonOp::Eq, Some(json!(1)));
        assert!(r.passed, "{r:?}");
    }

    #[test]
    fn json_eq_compares_nested_numbers_numerically() {
        let r = json_body(
            br#"{"a":{"b":[1.0,{"c":2}]}}"#,
            "$.a",
            JsonOp::Eq,
            Some(json!({"b": [1, {"c": 2.0}]})),
        );
        assert!(r.passed, "{r:?}");
    }

    #[test]
    fn json_eq_does_not_coerce_strings() {
        let r = json_body(br#"{"n":"1"}"#, "$.n", JsonOp::Eq, Some(json!(1)));
        assert!(!r.passed);
    }

    #[test]
    fn json_eq_with_several_nodes_fails() {
        let r = json_body(
            br#"{"items":[1,1]}"#,
            "$.items[*]",
            JsonOp::Eq,
            Some(json!(1)),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("2 nodes: [1,1]"));
    }

    #[test]
    fn json_eq_with_no_node_fails_with_no_actual() {
        let r = json_body(br#"{}"#, "$.missing", JsonOp::Eq, Some(json!(1)));
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn json_ne_passes_when_different() {
        let r = json_body(br#"{"s":"up"}"#, "$.s", JsonOp::Ne, Some(json!("down")));
        assert!(r.passed);
        assert_eq!(r.description, r#"$.s != "down""#);
        assert_eq!(r.expected, r#"!= "down""#);
    }

    #[test]
    fn json_ne_passes_when_missing() {
        let r = json_body(br#"{}"#, "$.s", JsonOp::Ne, Some(json!("down")));
        assert!(r.passed);
    }

    #[test]
    fn json_ne_fails_when_equal() {
        let r = json_body(br#"{"n":2}"#, "$.n", JsonOp::Ne, Some(json!(2.0)));
        assert!(!r.passed);
    }

    #[test]
    fn json_ordering_ops() {
        let cases = [
            (JsonOp::Lt, 5, true),
            (JsonOp::Lt, 4, false),
            (JsonOp::Le, 4, true),
            (JsonOp::Le, 3, false),
            (JsonOp::Gt, 3, true),
            (JsonOp::Gt, 4, false),
            (JsonOp::Ge, 4, true),
            (JsonOp::Ge, 5, false),
        ];
        for (op, bound, pass) in cases {
            let r = json_body(br#"{"n":4}"#, "$.n", op, Some(json!(bound)));
            assert_eq!(r.passed, pass, "4 {op} {bound}");
            assert_eq!(r.actual.as_deref(), Some("4"));
        }
    }

    #[test]
    fn json_ordering_describes_with_symbols() {
        let r = json_body(br#"{"ms":120.5}"#, "$.ms", JsonOp::Le, Some(json!(100)));
        assert!(!r.passed);
        assert_eq!(r.description, "$.ms <= 100");
        assert_eq!(r.expected, "<= 100");
        assert_eq!(r.actual.as_deref(), Some("120.5"));
    }

    #[test]
    fn json_ordering_mixes_integers_and_floats() {
        let r = json_body(br#"{"n":2.5}"#, "$.n", JsonOp::Gt, Some(json!(2)));
        assert!(r.passed);
    }

    #[test]
    fn json_ordering_handles_extreme_integers() {
        let r = json_body(
            br#"{"n":18446744073709551615}"#,
            "$.n",
            JsonOp::Gt,
            Some(json!(-1)),
        );
        assert!(r.passed);
        let r = json_body(br#"{"n":-5}"#, "$.n", JsonOp::Lt, Some(json!(u64::MAX)));
        assert!(r.passed);
    }

    #[test]
    fn json_ordering_does_not_coerce_numeric_strings() {
        let r = json_body(br#"{"n":"5"}"#, "$.n", JsonOp::Lt, Some(json!(10)));
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""5""#));
    }

    #[test]
    fn json_ordering_with_several_nodes_fails() {
        let r = json_body(br#"[1,2]"#, "$[*]", JsonOp::Lt, Some(json!(10)));
        assert!(!r.passed);
    }

    #[test]
    fn json_contains_substring_of_string_node() {
        let r = json_body(
            br#"{"msg":"all systems go"}"#,
            "$.msg",
            JsonOp::Contains,
            Some(json!("systems")),
        );
        assert!(r.passed);
        assert_eq!(r.description, r#"$.msg contains "systems""#);
        assert_eq!(r.expected, r#"containing "systems""#);
    }

    #[test]
    fn json_contains_element_of_array_node() {
        let r = json_body(
            br#"{"ids":[1,2,3]}"#,
            "$.ids",
            JsonOp::Contains,
            Some(json!(2.0)),
        );
        assert!(r.passed);
    }

    #[test]
    fn json_contains_fails_for_missing_element() {
        let r = json_body(
            br#"{"tags":["a","b"]}"#,
            "$.tags",
            JsonOp::Contains,
            Some(json!("c")),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#"["a","b"]"#));
    }

    #[test]
    fn json_contains_fails_for_number_node() {
        let r = json_body(br#"{"n":12}"#, "$.n", JsonOp::Contains, Some(json!(1)));
        assert!(!r.passed);
    }

    #[test]
    fn json_exists_passes_for_null_node() {
        let r = json_body(br#"{"a":null}"#, "$.a", JsonOp::Exists, None);
        assert!(r.passed);
        assert_eq!(r.description, "$.a exists");
        assert_eq!(r.expected, "at least one node");
        assert_eq!(r.actual.as_deref(), Some("null"));
    }

    #[test]
    fn json_exists_fails_with_no_actual() {
        let r = json_body(br#"{}"#, "$.a", JsonOp::Exists, None);
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn json_not_exists_passes_when_absent() {
        let r = json_body(br#"{}"#, "$.error", JsonOp::NotExists, None);
        assert!(r.passed);
        assert_eq!(r.description, "$.error does not exist");
        assert_eq!(r.expected, "no node");
    }

    #[test]
    fn json_not_exists_fails_when_present() {
        let r = json_body(br#"{"error":"boom"}"#, "$.error", JsonOp::NotExists, None);
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""boom""#));
    }

    #[test]
    fn json_filter_query_selects_nodes() {
        let r = json_body(
            br#"{"checks":[{"name":"db","ok":true},{"name":"cache","ok":false}]}"#,
            "$.checks[?@.name == 'cache'].ok",
            JsonOp::Eq,
            Some(json!(true)),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("false"));
    }

    #[test]
    fn json_on_body_that_is_not_json_fails() {
        let r = json_body(b"<html>", "$.a", JsonOp::Exists, None);
        assert!(!r.passed);
        let actual = r.actual.expect("reason");
        assert!(actual.starts_with("body is not JSON: "), "{actual}");
    }

    #[test]
    fn json_on_truncated_body_says_so() {
        let mut facts = http_facts(200, &[], br#"{"a":"#);
        facts.body_truncated = true;
        let r = eval_http(
            AssertionKind::Json {
                path: text("$.a"),
                op: JsonOp::Exists,
                value: None,
            },
            &facts,
        );
        let actual = r.actual.expect("reason");
        assert!(actual.contains("only the first 5 bytes"), "{actual}");
    }

    #[test]
    fn json_on_non_utf8_body_fails_without_panic() {
        let r = json_body(b"\xff\xfe{\"a\":1}", "$.a", JsonOp::Exists, None);
        assert!(!r.passed);
        assert!(r.actual.expect("reason").starts_with("body is not JSON"));
    }

    #[test]
    fn json_deeply_nested_body_fails_without_panic() {
        let body = "[".repeat(200_000);
        let r = json_body(body.as_bytes(), "$..a", JsonOp::Exists, None);
        assert!(!r.passed);
        assert!(r.actual.expect("reason").starts_with("body is not JSON"));
    }

    #[test]
    fn json_recursive_descent_on_nested_body_works() {
        let body = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
        let r = json_body(body.as_bytes(), "$..a", JsonOp::Exists, None);
        assert!(r.passed);
    }

    #[test]
    fn json_without_response_fails_with_no_actual() {
        let r = eval_bare(
            "http",
            AssertionKind::Json {
                path: text("$.a"),
                op: JsonOp::Exists,
                value: None,
            },
        );
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn json_long_value_text_is_clipped() {
        let long = "x".repeat(1000);
        let body = serde_json::to_vec(&json!({ "s": long })).expect("serialise");
        let r = json_body(&body, "$.s", JsonOp::Eq, Some(json!("y")));
        let actual = r.actual.expect("value");
        assert!(actual.ends_with('…'), "{actual}");
        assert!(actual.len() <= MAX_VALUE_TEXT + '…'.len_utf8());
    }

    fn json_err(path: &str, op: JsonOp, value: Option<Value>) -> SpecError {
        compile_err(
            "http",
            AssertionKind::Json {
                path: path.to_owned(),
                op,
                value,
            },
        )
    }

    #[test]
    fn json_invalid_path_is_rejected() {
        let e = json_err("$.[", JsonOp::Exists, None);
        assert_eq!(e.field, "[0].path");
        assert!(e.problem.starts_with("invalid JSONPath"), "{e}");
    }

    #[test]
    fn json_path_without_root_is_rejected() {
        let e = json_err("status", JsonOp::Exists, None);
        assert_eq!(e.field, "[0].path");
    }

    #[test]
    fn json_deeply_nested_path_is_rejected() {
        let path = format!("$[?{}@.a{}]", "(".repeat(1_000), ")".repeat(1_000));
        let e = json_err(&path, JsonOp::Exists, None);
        assert_eq!(e.field, "[0].path");
        assert!(e.problem.contains("nested"), "{e}");
    }

    #[test]
    fn json_nested_filters_at_the_limit_parse() {
        let levels = JSON_PATH_MAX_NESTING / 2;
        let path = format!(
            "$[?{}@.a{}]",
            "(@[?".repeat(levels - 1),
            "])".repeat(levels - 1)
        );
        assert_eq!(json_path_nesting(&path), JSON_PATH_MAX_NESTING - 1);
        assert!(JsonPath::parse(&path).is_ok());
    }

    #[test]
    fn json_path_nested_within_limit_parses() {
        let depth = JSON_PATH_MAX_NESTING - 1;
        let path = format!("$[?{}@.a == 1{}]", "(".repeat(depth), ")".repeat(depth));
        let r = json_body(br#"[{"a":1},{"a":2}]"#, &path, JsonOp::Exists, None);
        assert!(r.passed, "{r:?}");
    }

    #[test]
    fn json_path_brackets_in_strings_do_not_count_as_nesting() {
        let path = format!("$['{}']", "[(".repeat(100));
        assert_eq!(json_path_nesting(&path), 1);
        assert!(
            CompiledAssertions::compile(
                "http",
                &[Assertion::fail(AssertionKind::Json {
                    path,
                    op: JsonOp::Exists,
                    value: None,
                })]
            )
            .is_ok()
        );
    }

    #[test]
    fn json_overlong_path_is_rejected() {
        let path = format!("$.{}", "a".repeat(JSON_PATH_MAX_LEN));
        let e = json_err(&path, JsonOp::Exists, None);
        assert_eq!(e.field, "[0].path");
    }

    #[test]
    fn json_ordering_op_requires_value() {
        let list = [
            Assertion::fail(status("200")),
            Assertion::fail(AssertionKind::Json {
                path: text("$.n"),
                op: JsonOp::Lt,
                value: None,
            }),
        ];
        let e = CompiledAssertions::compile("http", &list).expect_err("missing value");
        assert_eq!(e.field, "[1].value");
        assert_eq!(e.problem, "required for op lt");
    }

    #[test]
    fn json_ordering_op_requires_numeric_value() {
        let e = json_err("$.n", JsonOp::Gt, Some(json!("5")));
        assert_eq!(e.field, "[0].value");
        assert_eq!(e.problem, "must be a number for op gt");
    }

    #[test]
    fn json_eq_ne_contains_require_value() {
        for op in [JsonOp::Eq, JsonOp::Ne, JsonOp::Contains] {
            let e = json_err("$.n", op, None);
            assert_eq!(e.field, "[0].value");
            assert_eq!(e.problem, format!("required for op {op}"));
        }
    }

    #[test]
    fn json_exists_rejects_value() {
        for op in [JsonOp::Exists, JsonOp::NotExists] {
            let e = json_err("$.n", op, Some(json!(1)));
            assert_eq!(e.field, "[0].value");
        }
    }

    #[test]
    fn json_eq_accepts_null_value() {
        let r = json_body(br#"{"a":null}"#, "$.a", JsonOp::Eq, Some(Value::Null));
        assert!(r.passed);
        assert_eq!(r.description, "$.a == null");
    }

    // --- headers ---

    #[test]
    fn header_equals_matches_name_case_insensitively() {
        let r = eval_http(
            AssertionKind::HeaderEquals {
                name: text("Content-Type"),
                value: text("application/json"),
            },
            &http_facts(200, &[("content-type", "application/json")], b""),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "header_equals");
        assert_eq!(
            r.description,
            r#"header Content-Type is "application/json""#
        );
        assert_eq!(r.expected, r#""application/json""#);
        assert_eq!(r.actual.as_deref(), Some(r#""application/json""#));
    }

    #[test]
    fn header_equals_compares_value_exactly() {
        let r = eval_http(
            AssertionKind::HeaderEquals {
                name: text("x-mode"),
                value: text("Live"),
            },
            &http_facts(200, &[("x-mode", "live")], b""),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""live""#));
    }

    #[test]
    fn header_equals_uses_first_value() {
        let r = eval_http(
            AssertionKind::HeaderEquals {
                name: text("x-a"),
                value: text("2"),
            },
            &http_facts(200, &[("x-a", "1"), ("x-a", "2")], b""),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""1""#));
    }

    #[test]
    fn header_equals_missing_header_fails_with_no_actual() {
        let r = eval_http(
            AssertionKind::HeaderEquals {
                name: text("x-missing"),
                value: text("1"),
            },
            &http_facts(200, &[("x-other", "1")], b""),
        );
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn header_matches_passes() {
        let r = eval_http(
            AssertionKind::HeaderMatches {
                name: text("cache-control"),
                pattern: text(r"max-age=\d+"),
            },
            &http_facts(200, &[("Cache-Control", "public, max-age=600")], b""),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "header_matches");
        assert_eq!(r.description, r"header cache-control matches /max-age=\d+/");
        assert_eq!(r.expected, r"matching /max-age=\d+/");
    }

    #[test]
    fn header_matches_fails_with_actual() {
        let r = eval_http(
            AssertionKind::HeaderMatches {
                name: text("server"),
                pattern: text("^nginx"),
            },
            &http_facts(200, &[("server", "apache")], b""),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""apache""#));
    }

    #[test]
    fn header_matches_missing_header_fails_with_no_actual() {
        let r = eval_bare(
            "http",
            AssertionKind::HeaderMatches {
                name: text("server"),
                pattern: text("."),
            },
        );
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn header_invalid_name_is_rejected() {
        let e = compile_err(
            "http",
            AssertionKind::HeaderEquals {
                name: text("bad name"),
                value: text("x"),
            },
        );
        assert_eq!(e.field, "[0].name");
    }

    #[test]
    fn header_matches_bad_regex_is_rejected() {
        let e = compile_err(
            "http",
            AssertionKind::HeaderMatches {
                name: text("server"),
                pattern: text("[z-a]"),
            },
        );
        assert_eq!(e.field, "[0].pattern");
    }

    // --- cert_min_days ---

    fn eval_cert(kind: &str, days: i64, cert: Option<&CertFacts>) -> AssertionResult {
        let timings = Timings::default();
        let obs = Observation {
            cert,
            ..Observation::new(&timings, NOW)
        };
        eval_one(kind, AssertionKind::CertMinDays { days }, &obs)
    }

    #[test]
    fn cert_min_days_passes_with_more_days_left() {
        let cert = cert_expiring(NOW + time::Duration::days(40));
        let r = eval_cert("tls", 30, Some(&cert));
        assert!(r.passed);
        assert_eq!(r.kind, "cert_min_days");
        assert_eq!(r.description, "certificate valid for more than 30 days");
        assert_eq!(r.expected, "> 30 days");
        assert_eq!(r.actual.as_deref(), Some("40 days"));
    }

    #[test]
    fn cert_min_days_fails_with_exactly_that_many_days() {
        let cert = cert_expiring(NOW + time::Duration::days(30) + time::Duration::hours(3));
        let r = eval_cert("http", 30, Some(&cert));
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("30 days"));
    }

    #[test]
    fn cert_min_days_uses_now_not_recorded_days_left() {
        let mut cert = cert_expiring(NOW + time::Duration::days(5));
        cert.days_left = 100;
        let r = eval_cert("tls", 10, Some(&cert));
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("5 days"));
    }

    #[test]
    fn cert_min_days_expired_shows_negative_days() {
        let cert = cert_expiring(NOW - time::Duration::days(3));
        let r = eval_cert("tls", 0, Some(&cert));
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("-3 days"));
    }

    #[test]
    fn cert_min_days_without_certificate_fails_with_no_actual() {
        let r = eval_cert("tls", 7, None);
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn cert_min_days_negative_is_rejected() {
        let list = [
            Assertion::fail(time(None, 100)),
            Assertion::fail(time(None, 200)),
            Assertion::fail(time(None, 300)),
            Assertion::fail(AssertionKind::CertMinDays { days: -1 }),
        ];
        let e = CompiledAssertions::compile("tls", &list).expect_err("negative days");
        assert_eq!(e.field, "[3].days");
        assert_eq!(e.problem, "must be >= 0");
    }

    // --- dns ---

    fn eval_dns(a: AssertionKind, dns: &DnsFacts) -> AssertionResult {
        let timings = Timings::default();
        let obs = Observation {
            dns: Some(dns),
            ..Observation::new(&timings, NOW)
        };
        eval_one("dns", a, &obs)
    }

    fn answer_contains(value: &str) -> AssertionKind {
        AssertionKind::DnsAnswerContains {
            value: value.to_owned(),
        }
    }

    #[test]
    fn dns_answer_contains_address_passes() {
        let dns = dns_facts("NOERROR", &[("A", "192.0.2.1"), ("A", "192.0.2.7")]);
        let r = eval_dns(answer_contains("192.0.2.7"), &dns);
        assert!(r.passed);
        assert_eq!(r.kind, "dns_answer_contains");
        assert_eq!(r.description, r#"dns answer contains "192.0.2.7""#);
        assert_eq!(r.expected, r#"containing "192.0.2.7""#);
        assert_eq!(r.actual.as_deref(), Some("192.0.2.7"));
    }

    #[test]
    fn dns_answer_contains_ignores_trailing_dot_of_answer() {
        let dns = dns_facts("NOERROR", &[("MX", "10 mail.example.com.")]);
        assert!(eval_dns(answer_contains("mail.example.com"), &dns).passed);
    }

    #[test]
    fn dns_answer_contains_ignores_trailing_dot_of_value() {
        let dns = dns_facts("NOERROR", &[("CNAME", "target.example.net")]);
        assert!(eval_dns(answer_contains("target.example.net."), &dns).passed);
    }

    #[test]
    fn dns_answer_contains_ignores_case_of_names() {
        let dns = dns_facts("NOERROR", &[("NS", "NS1.Example.COM.")]);
        assert!(eval_dns(answer_contains("ns1.example.com."), &dns).passed);
    }

    #[test]
    fn dns_answer_contains_txt_is_case_sensitive() {
        let dns = dns_facts("NOERROR", &[("TXT", "\"v=spf1 -all\"")]);
        assert!(eval_dns(answer_contains("v=spf1"), &dns).passed);
        assert!(!eval_dns(answer_contains("V=SPF1"), &dns).passed);
    }

    #[test]
    fn dns_answer_contains_fails_listing_answers() {
        let dns = dns_facts("NOERROR", &[("A", "192.0.2.1"), ("A", "192.0.2.2")]);
        let r = eval_dns(answer_contains("198.51.100.1"), &dns);
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("192.0.2.1, 192.0.2.2"));
    }

    #[test]
    fn dns_answer_contains_with_no_answers_fails_with_no_actual() {
        let dns = dns_facts("NXDOMAIN", &[]);
        let r = eval_dns(answer_contains("192.0.2.1"), &dns);
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn dns_answer_contains_without_answer_fails_with_no_actual() {
        let r = eval_bare("dns", answer_contains("192.0.2.1"));
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn dns_answer_contains_empty_value_is_rejected() {
        let e = compile_err("dns", answer_contains(""));
        assert_eq!(e.field, "[0].value");
    }

    #[test]
    fn dns_rcode_compares_case_insensitively() {
        let r = eval_dns(
            AssertionKind::DnsRcode {
                rcode: text("nxdomain"),
            },
            &dns_facts("NXDOMAIN", &[]),
        );
        assert!(r.passed);
        assert_eq!(r.kind, "dns_rcode");
        assert_eq!(r.description, "dns rcode is NXDOMAIN");
        assert_eq!(r.expected, "NXDOMAIN");
        assert_eq!(r.actual.as_deref(), Some("NXDOMAIN"));
    }

    #[test]
    fn dns_rcode_fails_with_actual() {
        let r = eval_dns(
            AssertionKind::DnsRcode {
                rcode: text("NOERROR"),
            },
            &dns_facts("SERVFAIL", &[]),
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some("SERVFAIL"));
    }

    #[test]
    fn dns_rcode_without_answer_fails_with_no_actual() {
        let r = eval_bare(
            "dns",
            AssertionKind::DnsRcode {
                rcode: text("NOERROR"),
            },
        );
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn dns_rcode_unknown_mnemonic_is_rejected() {
        let e = compile_err(
            "dns",
            AssertionKind::DnsRcode {
                rcode: text("NOERRROR"),
            },
        );
        assert_eq!(e.field, "[0].rcode");
    }

    // --- banner ---

    fn eval_banner(a: AssertionKind, banner: &[u8]) -> AssertionResult {
        let timings = Timings::default();
        let tcp = TcpFacts {
            banner: Bytes::copy_from_slice(banner),
        };
        let obs = Observation {
            tcp: Some(&tcp),
            ..Observation::new(&timings, NOW)
        };
        eval_one("tcp", a, &obs)
    }

    #[test]
    fn banner_contains_passes() {
        let r = eval_banner(
            AssertionKind::BannerContains {
                text: text("SSH-2.0"),
            },
            b"SSH-2.0-OpenSSH_9.6\r\n",
        );
        assert!(r.passed);
        assert_eq!(r.kind, "banner_contains");
        assert_eq!(r.description, r#"banner contains "SSH-2.0""#);
        assert_eq!(r.expected, r#"containing "SSH-2.0""#);
        assert_eq!(r.actual.as_deref(), Some(r#""SSH-2.0-OpenSSH_9.6\r\n""#));
    }

    #[test]
    fn banner_contains_fails_with_actual() {
        let r = eval_banner(
            AssertionKind::BannerContains { text: text("220") },
            b"421 busy\r\n",
        );
        assert!(!r.passed);
        assert_eq!(r.actual.as_deref(), Some(r#""421 busy\r\n""#));
    }

    #[test]
    fn banner_matches_binary_banner() {
        let r = eval_banner(
            AssertionKind::BannerMatches {
                pattern: text(r"(?-u)^\x00\xff+OK"),
            },
            b"\x00\xff\xffOK",
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(r.kind, "banner_matches");
    }

    #[test]
    fn banner_matches_fails() {
        let r = eval_banner(
            AssertionKind::BannerMatches {
                pattern: text(r"^\+OK"),
            },
            b"-ERR",
        );
        assert!(!r.passed);
        assert_eq!(r.expected, r"matching /^\+OK/");
    }

    #[test]
    fn banner_without_banner_fails_with_no_actual() {
        let r = eval_bare("tcp", AssertionKind::BannerContains { text: text("x") });
        assert!(!r.passed);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn needs_banner_only_with_banner_assertions() {
        assert!(compiled("tcp", AssertionKind::BannerContains { text: text("x") }).needs_banner());
        assert!(
            compiled("tcp", AssertionKind::BannerMatches { pattern: text("x") }).needs_banner()
        );
        assert!(!compiled("tcp", time(None, 10)).needs_banner());
        assert!(!CompiledAssertions::default().needs_banner());
    }

    // --- kinds, order, tags ---

    fn one_of_each() -> Vec<AssertionKind> {
        vec![
            status("200-299"),
            time(Some(Phase::Dns), 100),
            AssertionKind::BodyContains { text: text("ok") },
            AssertionKind::BodyNotContains {
                text: text("error"),
            },
            AssertionKind::BodyMatches {
                pattern: text("o+k"),
            },
            AssertionKind::Json {
                path: text("$.status"),
                op: JsonOp::Eq,
                value: Some(json!("ok")),
            },
            AssertionKind::HeaderEquals {
                name: text("content-type"),
                value: text("text/plain"),
            },
            AssertionKind::HeaderMatches {
                name: text("server"),
                pattern: text("^nginx"),
            },
            AssertionKind::CertMinDays { days: 14 },
            answer_contains("192.0.2.1"),
            AssertionKind::DnsRcode {
                rcode: text("NOERROR"),
            },
            AssertionKind::BannerContains { text: text("SSH-") },
            AssertionKind::BannerMatches {
                pattern: text("^220 "),
            },
        ]
    }

    #[test]
    fn assertion_applies_to_the_documented_kinds() {
        let expected: [(&str, &[&str]); 13] = [
            ("status_code", &["http"]),
            ("time", &["http", "tcp", "dns", "tls"]),
            ("body_contains", &["http"]),
            ("body_not_contains", &["http"]),
            ("body_matches", &["http"]),
            ("json", &["http"]),
            ("header_equals", &["http"]),
            ("header_matches", &["http"]),
            ("cert_min_days", &["http", "tls"]),
            ("dns_answer_contains", &["dns"]),
            ("dns_rcode", &["dns"]),
            ("banner_contains", &["tcp"]),
            ("banner_matches", &["tcp"]),
        ];
        for (kind, (tag, kinds)) in one_of_each().into_iter().zip(expected) {
            assert_eq!(kind.tag(), tag);
            for check in ["http", "tcp", "dns", "tls"] {
                let res = CompiledAssertions::compile(check, &[Assertion::fail(kind.clone())]);
                assert_eq!(res.is_ok(), kinds.contains(&check), "{tag} on {check}");
            }
        }
    }

    #[test]
    fn assertion_for_wrong_kind_names_index_only() {
        let list = [
            Assertion::fail(time(None, 1)),
            Assertion::fail(time(None, 2)),
            Assertion::fail(time(None, 3)),
            Assertion::fail(time(None, 4)),
            Assertion::fail(AssertionKind::BodyContains { text: text("x") }),
        ];
        let e = CompiledAssertions::compile("dns", &list).expect_err("wrong kind");
        assert_eq!(e.field, "[4]");
        assert_eq!(e.problem, "body_contains does not apply to dns checks");
        assert_eq!(e.within("assertions").field, "assertions[4]");
    }

    #[test]
    fn unknown_check_kind_is_rejected() {
        let e = CompiledAssertions::compile("ftp", &[]).expect_err("unknown kind");
        assert_eq!(e.field, "type");
    }

    #[test]
    fn empty_list_compiles_and_evaluates_to_nothing() {
        let c = CompiledAssertions::compile("tcp", &[]).expect("empty");
        assert!(c.is_empty());
        assert_eq!(c.len(), 0);
        let timings = Timings::default();
        assert!(c.evaluate(&Observation::new(&timings, NOW)).is_empty());
    }

    #[test]
    fn evaluate_keeps_order_and_severity() {
        let list = [
            Assertion::degrade(time(None, 100)),
            Assertion::fail(status("200")),
            Assertion::fail(AssertionKind::BodyContains { text: text("ok") }),
        ];
        let c = CompiledAssertions::compile("http", &list).expect("compiles");
        assert_eq!(c.len(), 3);
        assert_eq!(c.iter().cloned().collect::<Vec<_>>(), list.to_vec());
        let timings = Timings {
            total: Duration::from_millis(250),
            ..Timings::default()
        };
        let facts = http_facts(200, &[], b"ok");
        let obs = Observation {
            http: Some(&facts),
            ..Observation::new(&timings, NOW)
        };
        let results = c.evaluate(&obs);
        let summary: Vec<_> = results
            .iter()
            .map(|r| (r.kind.as_str(), r.severity, r.passed))
            .collect();
        assert_eq!(
            summary,
            [
                ("time", Severity::Degrade, false),
                ("status_code", Severity::Fail, true),
                ("body_contains", Severity::Fail, true),
            ]
        );
    }

    #[test]
    fn evaluate_is_repeatable() {
        let c = compiled(
            "http",
            AssertionKind::Json {
                path: text("$.a"),
                op: JsonOp::Eq,
                value: Some(json!(1)),
            },
        );
        let timings = Timings::default();
        let facts = http_facts(200, &[], br#"{"a":1}"#);
        let obs = Observation {
            http: Some(&facts),
            ..Observation::new(&timings, NOW)
        };
        assert_eq!(c.evaluate(&obs), c.evaluate(&obs));
    }

    // --- serde ---

    #[test]
    fn every_assertion_kind_round_trips_with_its_tag() {
        for kind in one_of_each() {
            let a = Assertion::degrade(kind);
            let v = serde_json::to_value(&a).expect("serialise");
            assert_eq!(v["type"], json!(a.kind.tag()));
            assert_eq!(v["severity"], json!("degrade"));
            let back: Assertion = serde_json::from_value(v).expect("deserialise");
            assert_eq!(back, a);
        }
    }

    #[test]
    fn assertion_json_format_is_stable() {
        let a: Assertion = serde_json::from_value(json!({
            "type": "time", "phase": "ttfb", "below": "200ms", "severity": "degrade"
        }))
        .expect("deserialise");
        assert_eq!(a, Assertion::degrade(time(Some(Phase::Ttfb), 200)));
        let a: Assertion = serde_json::from_value(json!({
            "type": "json", "path": "$.status", "op": "not_exists"
        }))
        .expect("deserialise");
        assert_eq!(
            a,
            Assertion::fail(AssertionKind::Json {
                path: text("$.status"),
                op: JsonOp::NotExists,
                value: None,
            })
        );
        let a: Assertion =
            serde_json::from_value(json!({"type": "status_code", "expect": "2xx"})).expect("2xx");
        assert_eq!(a, Assertion::fail(status("200-299")));
    }

    #[test]
    fn assertion_severity_defaults_to_fail() {
        let a: Assertion =
            serde_json::from_value(json!({"type": "cert_min_days", "days": 7})).expect("parse");
        assert_eq!(a.severity, Severity::Fail);
    }

    #[test]
    fn assertion_unknown_field_is_rejected() {
        let r = serde_json::from_value::<Assertion>(json!({
            "type": "cert_min_days", "days": 7, "sevrity": "degrade"
        }));
        assert!(r.is_err());
    }

    #[test]
    fn assertion_unknown_type_is_rejected() {
        let r = serde_json::from_value::<Assertion>(json!({"type": "body_equals", "text": "x"}));
        assert!(r.is_err());
    }

    #[test]
    fn json_op_names_match_serde() {
        for op in [
            JsonOp::Eq,
            JsonOp::Ne,
            JsonOp::Lt,
            JsonOp::Le,
            JsonOp::Gt,
            JsonOp::Ge,
            JsonOp::Contains,
            JsonOp::Exists,
            JsonOp::NotExists,
        ] {
            assert_eq!(
                serde_json::to_value(op).expect("serialise"),
                json!(op.as_str())
            );
        }
    }

    #[test]
    fn assertion_result_round_trips() {
        let r = result(false, Severity::Degrade, "ttfb below 200ms");
        let v = serde_json::to_value(&r).expect("serialise");
        assert_eq!(v["severity"], json!("degrade"));
        let back: AssertionResult = serde_json::from_value(v).expect("deserialise");
        assert_eq!(back, r);
    }

    // --- verdict ---

    #[test]
    fn verdict_all_passed_is_up() {
        let results = [
            result(true, Severity::Fail, "a"),
            result(true, Severity::Degrade, "b"),
        ];
        assert_eq!(verdict(None, &results), (Status::Up, None));
        assert_eq!(verdict(None, &[]), (Status::Up, None));
    }

    #[test]
    fn verdict_error_wins_over_assertions() {
        let e = CheckError::new(ErrorKind::Timeout, Phase::Ttfb, "no answer within 10s");
        let results = [result(false, Severity::Fail, "a")];
        assert_eq!(
            verdict(Some(&e), &results),
            (
                Status::Down,
                Some("timeout during ttfb: no answer within 10s".to_owned())
            )
        );
    }

    #[test]
    fn verdict_failed_fail_is_down_with_reason() {
        let results = [
            result(true, Severity::Fail, "a"),
            result(false, Severity::Fail, "ttfb below 200ms"),
        ];
        assert_eq!(
            verdict(None, &results),
            (
                Status::Down,
                Some("assertion failed: ttfb below 200ms (expected < 200ms, got 312ms)".to_owned())
            )
        );
    }

    #[test]
    fn verdict_fail_beats_earlier_degrade() {
        let results = [
            result(false, Severity::Degrade, "slow"),
            result(false, Severity::Fail, "broken"),
        ];
        let (status, reason) = verdict(None, &results);
        assert_eq!(status, Status::Down);
        assert!(reason.expect("reason").contains("broken"));
    }

    #[test]
    fn verdict_first_failed_fail_is_reported() {
        let results = [
            result(false, Severity::Fail, "first"),
            result(false, Severity::Fail, "second"),
        ];
        let (_, reason) = verdict(None, &results);
        assert!(reason.expect("reason").contains("first"));
    }

    #[test]
    fn verdict_failed_degrade_is_degraded() {
        let results = [
            result(true, Severity::Fail, "ok"),
            result(false, Severity::Degrade, "total below 200ms"),
        ];
        assert_eq!(
            verdict(None, &results),
            (
                Status::Degraded,
                Some(
                    "assertion failed: total below 200ms (expected < 200ms, got 312ms)".to_owned()
                )
            )
        );
    }

    #[test]
    fn verdict_missing_actual_reads_nothing() {
        let mut r = result(false, Severity::Fail, "status code is 200");
        r.expected = "200".to_owned();
        r.actual = None;
        assert_eq!(
            verdict(None, &[r]).1.as_deref(),
            Some("assertion failed: status code is 200 (expected 200, got nothing)")
        );
    }

    // --- hostile input ---

    proptest::proptest! {
        #[test]
        fn evaluate_never_panics_on_arbitrary_bodies(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            value in "\\PC{0,40}",
        ) {
            let list: Vec<Assertion> = one_of_each()
                .into_iter()
                .filter(|k| k.applies_to().contains(&"http"))
                .map(Assertion::fail)
                .collect();
            let c = CompiledAssertions::compile("http", &list).expect("compiles");
            let facts = http_facts(200, &[("server", value.as_str())], &body);
            let timings = Timings::default();
            let obs = Observation {
                http: Some(&facts),
                ..Observation::new(&timings, NOW)
            };
            let results = c.evaluate(&obs);
            proptest::prop_assert_eq!(results.len(), list.len());
            for r in &results {
                let (_, reason) = verdict(None, std::slice::from_ref(r));
                proptest::prop_assert_eq!(reason.is_some(), !r.passed);
            }
        }
    }

    // --- helpers ---

    #[test]
    fn format_millis_trims_trailing_zeros() {
        assert_eq!(format_millis(Duration::ZERO), "0ms");
        assert_eq!(format_millis(Duration::from_micros(1_500)), "1.5ms");
        assert_eq!(format_millis(Duration::from_micros(7)), "0.007ms");
        assert_eq!(format_millis(Duration::from_secs(2)), "2000ms");
    }

    #[test]
    fn num_cmp_orders_across_representations() {
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!("numbers only"),
        };
        assert_eq!(num_cmp(&n(json!(1)), &n(json!(1.0))), Some(Ordering::Equal));
        assert_eq!(
            num_cmp(&n(json!(-1)), &n(json!(u64::MAX))),
            Some(Ordering::Less)
        );
        assert_eq!(
            num_cmp(
                &n(json!(9_007_199_254_740_993_u64)),
                &n(json!(9_007_199_254_740_992_u64))
            ),
            Some(Ordering::Greater)
        );
    }
}
