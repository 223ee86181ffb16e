//! Assertions: conditions on a check's result, and their evaluation.
//!
//! An [`Assertion`] is serialisable data. [`CompiledAssertions::compile`] validates a
//! list of them for one kind of check and prepares regular expressions and JSONPath
//! queries; [`CompiledAssertions::evaluate`] then judges an [`Observation`] and gives one
//! [`AssertionResult`] per assertion, with the actual and the expected value.
//! [`verdict`] turns those results (and any error) into a [`Status`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
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
    Json {
        /// The query, e.g. `$.checks[0].status`.
        path: String,
        /// The comparison.
        op: JsonOp,
        /// The value compared with (any JSON value); not used by `exists`/`not_exists`.
        #[serde(default)]
        value: Option<serde_json::Value>,
    },
    /// A response header has exactly this value (name case-insensitive).
    HeaderEquals {
        /// Header name.
        name: String,
        /// Expected value.
        value: String,
    },
    /// A response header matches a regular expression.
    HeaderMatches {
        /// Header name.
        name: String,
        /// The expression.
        pattern: String,
    },
    /// The certificate stays valid for more than `days` days.
    CertMinDays {
        /// Minimum days left.
        days: i64,
    },
    /// A DNS answer's data contains `value` (e.g. an address, or `mail.example.com`).
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
    items: Vec<(Assertion, Compiled)>,
}

/// One assertion's prepared form (compiled expressions and queries).
#[derive(Debug, Clone)]
enum Compiled {
    Plain,
}

impl CompiledAssertions {
    /// Validates `assertions` for a check of `kind` (`http`, `tcp`, `dns`, `tls`).
    ///
    /// # Errors
    ///
    /// A [`SpecError`] whose field is `[index].field`, for a bad regular expression or
    /// JSONPath, an out-of-range value, or an assertion that does not apply to `kind`.
    pub fn compile(kind: &str, assertions: &[Assertion]) -> Result<Self, SpecError> {
        todo!("{kind} {assertions:?}")
    }

    /// Judges `obs`, giving one result per assertion in order.
    pub fn evaluate(&self, obs: &Observation<'_>) -> Vec<AssertionResult> {
        todo!("{obs:?}")
    }

    /// Whether any assertion looks at a TCP banner (so the probe must read one).
    pub fn needs_banner(&self) -> bool {
        todo!()
    }

    /// The assertions in order.
    pub fn iter(&self) -> impl Iterator<Item = &Assertion> {
        self.items.iter().map(|(a, _)| a)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Turns an error (if the check could not complete) and assertion results into a
/// status and a one-line reason.
///
/// An error, or any failed [`Severity::Fail`] assertion, means [`Status::Down`]; else any
/// failed [`Severity::Degrade`] assertion means [`Status::Degraded`]; else [`Status::Up`]
/// with no reason.
#[must_use = "the verdict is the check's status"]
pub fn verdict(error: Option<&CheckError>, results: &[AssertionResult]) -> (Status, Option<String>) {
    todo!("{error:?} {results:?}")
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
