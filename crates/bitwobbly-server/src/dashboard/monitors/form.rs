//! The monitor form: one table of fields, named by their path in the API's
//! [`MonitorInput`] (`spec.url`, `schedule.every`,
//! `thresholds.window`), drives both the form's inputs and the reading of what it sends, so
//! a validation message of the API names the very input it is about.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::MonitorInput;
use crate::api::monitors::MonitorView;

/// The check kinds a monitor can have, with their names for people.
pub(crate) const KINDS: [(&str, &str); 5] = [
    ("http", "HTTP(S)"),
    ("tcp", "TCP"),
    ("dns", "DNS"),
    ("tls", "TLS certificate"),
    ("heartbeat", "Heartbeat (push)"),
];

/// How a field is entered and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// One line of text, sent as a JSON string.
    Text,
    /// A number: a JSON number when it reads as one (else the text, for the API to refuse).
    Number,
    /// A checkbox: `true` when ticked, `false` when not.
    Check,
    /// One of a few values.
    Select(&'static [(&'static str, &'static str)]),
    /// Several lines of text, sent as one string.
    Area,
    /// HTTP headers, one `Name: value` a line, sent as `[[name, value], ...]`.
    Headers,
}

/// One field of the monitor form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// Its path in the monitor input, and the input's name.
    pub(crate) name: &'static str,
    /// Its label.
    pub(crate) label: &'static str,
    /// How it is entered.
    pub(crate) input: Input,
    /// The check kinds that have it (empty: every kind).
    pub(crate) kinds: &'static [&'static str],
    /// Only sent when another field (by name) has this value, e.g. `schedule.every` only for
    /// `schedule.type` = `interval`.
    pub(crate) when: Option<(&'static str, &'static str)>,
    /// A hint under the input.
    pub(crate) hint: &'static str,
    /// The section it is shown in.
    pub(crate) section: Section,
}

/// Where a field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// What to check.
    Check,
    /// When it runs.
    Schedule,
    /// When its state changes.
    Thresholds,
    /// Network and TLS details.
    Advanced,
}

/// Durations inside the spec, read by the form (see [`MonitorForm::from_pairs`]).
const SPEC_DURATIONS: &[&str] = &[
    "spec.timeout",
    "spec.expect.period",
    "spec.grace",
    "spec.max_runtime",
];

/// Fields the API needs: sent even when empty, so that its message names them.
const REQUIRED: &[&str] = &[
    "spec.url",
    "spec.host",
    "spec.port",
    "spec.name",
    "spec.expect.period",
    "spec.expect.cron.expr",
    "schedule.every",
    "schedule.expr",
];

const PROBES: &[&str] = &["http", "tcp", "dns", "tls"];
const CONNECTS: &[&str] = &["http", "tcp", "tls"];
const WITH_TLS: &[&str] = &["http", "tls"];
const HOSTS: &[&str] = &["tcp", "tls"];
const ALL: &[&str] = &[];

const METHODS: &[(&str, &str)] = &[
    ("GET", "GET"),
    ("HEAD", "HEAD"),
    ("POST", "POST"),
    ("PUT", "PUT"),
    ("PATCH", "PATCH"),
    ("DELETE", "DELETE"),
    ("OPTIONS", "OPTIONS"),
];
const IP: &[(&str, &str)] = &[("any", "Either"), ("v4", "IPv4 only"), ("v6", "IPv6 only")];
const VERSIONS: &[(&str, &str)] = &[
    ("auto", "HTTP/2 when offered, else HTTP/1.1"),
    ("http1", "HTTP/1.1 only"),
    ("http2", "HTTP/2 only"),
];
const RESOLVERS: &[(&str, &str)] = &[("system", "The system's"), ("server", "A DNS server")];
const TRANSPORTS: &[(&str, &str)] = &[("udp", "UDP"), ("tcp", "TCP")];
const RECORDS: &[(&str, &str)] = &[
    ("A", "A"),
    ("AAAA", "AAAA"),
    ("CNAME", "CNAME"),
    ("MX", "MX"),
    ("TXT", "TXT"),
    ("NS", "NS"),
    ("SOA", "SOA"),
    ("CAA", "CAA"),
    ("SRV", "SRV"),
    ("PTR", "PTR"),
];
const SCHEDULES: &[(&str, &str)] = &[("interval", "Every so often"), ("cron", "Cron expression")];
const EXPECTS: &[(&str, &str)] = &[("period", "Every so often"), ("cron", "At cron times")];

const fn f(
    name: &'static str,
    label: &'static str,
    input: Input,
    kinds: &'static [&'static str],
    section: Section,
) -> Field {
    Field {
        name,
        label,
        input,
        kinds,
        when: None,
        hint: "",
        section,
    }
}

const fn hint(mut field: Field, hint: &'static str) -> Field {
    field.hint = hint;
    field
}

const fn when(mut field: Field, name: &'static str, value: &'static str) -> Field {
    field.when = Some((name, value));
    field
}

use Input::*;
use Section::{Advanced, Check as CheckSection, Schedule, Thresholds};

/// Every field of the form, in the order shown.
pub(crate) static FIELDS: &[Field] = &[
    // What to check.
    hint(
        f("spec.url", "URL", Text, &["http"], CheckSection),
        "An absolute http:// or https:// URL.",
    ),
    f(
        "spec.method",
        "Method",
        Select(METHODS),
        &["http"],
        CheckSection,
    ),
    hint(
        f(
            "spec.headers",
            "Request headers",
            Headers,
            &["http"],
            CheckSection,
        ),
        "One `Name: value` a line.",
    ),
    f("spec.body", "Request body", Area, &["http"], CheckSection),
    f("spec.host", "Host", Text, HOSTS, CheckSection),
    f("spec.port", "Port", Number, HOSTS, CheckSection),
    hint(
        f(
            "spec.send",
            "Send after connecting",
            Text,
            &["tcp"],
            CheckSection,
        ),
        "Escapes such as \\r\\n are sent as is.",
    ),
    f(
        "spec.read_banner",
        "Read a banner",
        Check,
        &["tcp"],
        CheckSection,
    ),
    f("spec.name", "Name to query", Text, &["dns"], CheckSection),
    f(
        "spec.record_type",
        "Record type",
        Select(RECORDS),
        &["dns"],
        CheckSection,
    ),
    f(
        "spec.expect.type",
        "Pings expected",
        Select(EXPECTS),
        &["heartbeat"],
        CheckSection,
    ),
    when(
        hint(
            f(
                "spec.expect.period",
                "Period",
                Text,
                &["heartbeat"],
                CheckSection,
            ),
            "A duration such as 5m or 1h.",
        ),
        "spec.expect.type",
        "period",
    ),
    when(
        f(
            "spec.expect.cron.expr",
            "Cron expression",
            Text,
            &["heartbeat"],
            CheckSection,
        ),
        "spec.expect.type",
        "cron",
    ),
    when(
        f(
            "spec.expect.cron.tz",
            "Time zone",
            Text,
            &["heartbeat"],
            CheckSection,
        ),
        "spec.expect.type",
        "cron",
    ),
    hint(
        f("spec.grace", "Grace", Text, &["heartbeat"], CheckSection),
        "How late a ping may be, e.g. 1m.",
    ),
    hint(
        f(
            "spec.max_runtime",
            "Longest run",
            Text,
            &["heartbeat"],
            CheckSection,
        ),
        "Between a start ping and the finishing one; empty: runs are not timed.",
    ),
    hint(
        f("spec.timeout", "Timeout", Text, PROBES, CheckSection),
        "For the whole check, e.g. 10s.",
    ),
    // When it runs.
    f("schedule.type", "Runs", Select(SCHEDULES), PROBES, Schedule),
    when(
        hint(
            f("schedule.every", "Every", Text, PROBES, Schedule),
            "10s to 24h, e.g. 30s or 5m.",
        ),
        "schedule.type",
        "interval",
    ),
    when(
        f("schedule.expr", "Cron expression", Text, PROBES, Schedule),
        "schedule.type",
        "cron",
    ),
    when(
        hint(
            f("schedule.tz", "Time zone", Text, PROBES, Schedule),
            "An IANA name such as Europe/Paris; empty: UTC.",
        ),
        "schedule.type",
        "cron",
    ),
    // When its state changes.
    f(
        "thresholds.down_after",
        "Down after (failures)",
        Number,
        ALL,
        Thresholds,
    ),
    f(
        "thresholds.degraded_after",
        "Degraded after",
        Number,
        ALL,
        Thresholds,
    ),
    hint(
        f(
            "thresholds.window",
            "Out of the last (checks)",
            Number,
            ALL,
            Thresholds,
        ),
        "At least the larger of the two counts above, at most 100.",
    ),
    f(
        "thresholds.recover_after",
        "Recovers after (good checks)",
        Number,
        ALL,
        Thresholds,
    ),
    hint(
        f(
            "thresholds.flap_changes",
            "Flapping after (changes)",
            Number,
            ALL,
            Thresholds,
        ),
        "0 turns flapping detection off.",
    ),
    f("thresholds.flap_window", "Within", Text, ALL, Thresholds),
    // Network and TLS.
    f(
        "spec.http_version",
        "HTTP version",
        Select(VERSIONS),
        &["http"],
        Advanced,
    ),
    f(
        "spec.redirects.follow",
        "Follow redirects",
        Check,
        &["http"],
        Advanced,
    ),
    f(
        "spec.redirects.max",
        "Most redirects",
        Number,
        &["http"],
        Advanced,
    ),
    hint(
        f(
            "spec.body_capture",
            "Body bytes kept",
            Number,
            &["http"],
            Advanced,
        ),
        "For assertions and reports.",
    ),
    hint(
        f(
            "spec.max_body",
            "Largest body (bytes)",
            Number,
            &["http"],
            Advanced,
        ),
        "Longer bodies fail the check; empty: no limit.",
    ),
    f(
        "spec.banner_cap",
        "Most banner bytes",
        Number,
        &["tcp"],
        Advanced,
    ),
    f(
        "spec.tls.insecure",
        "Accept any certificate",
        Check,
        WITH_TLS,
        Advanced,
    ),
    hint(
        f(
            "spec.tls.server_name",
            "TLS server name",
            Text,
            WITH_TLS,
            Advanced,
        ),
        "When it differs from the host.",
    ),
    hint(
        f(
            "spec.tls.ca_pem",
            "Extra trusted roots (PEM)",
            Area,
            WITH_TLS,
            Advanced,
        ),
        "Added to the web's usual roots.",
    ),
    f("spec.ip", "Address family", Select(IP), CONNECTS, Advanced),
    f(
        "spec.resolver.kind",
        "Resolver",
        Select(RESOLVERS),
        PROBES,
        Advanced,
    ),
    when(
        hint(
            f("spec.resolver.addr", "DNS server", Text, PROBES, Advanced),
            "Address and port, e.g. 1.1.1.1:53.",
        ),
        "spec.resolver.kind",
        "server",
    ),
    when(
        f(
            "spec.resolver.transport",
            "DNS transport",
            Select(TRANSPORTS),
            PROBES,
            Advanced,
        ),
        "spec.resolver.kind",
        "server",
    ),
];

impl Field {
    /// Whether a monitor of `kind` has this field.
    pub(crate) fn applies(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Whether it is a checkbox.
    pub(crate) fn is_check(&self) -> bool {
        self.input == Check
    }

    /// Whether it is entered on several lines.
    pub(crate) fn is_area(&self) -> bool {
        matches!(self.input, Area | Headers)
    }

    /// Whether it is a number.
    pub(crate) fn is_number(&self) -> bool {
        self.input == Number
    }

    /// Its choices, for a select (empty otherwise).
    pub(crate) fn options(&self) -> &'static [(&'static str, &'static str)] {
        match self.input {
            Select(o) => o,
            _ => &[],
        }
    }
}

// === assertions ===

/// The assertion types, with their names for people and what `target` and `value` mean.
pub(crate) const ASSERTIONS: &[(&str, &str)] = &[
    (
        "status_code",
        "Status code is (value: 200, 200-299, 200,301)",
    ),
    (
        "time",
        "Takes less than (value: 500ms; target: a phase or empty)",
    ),
    ("body_contains", "Body contains (value)"),
    ("body_not_contains", "Body does not contain (value)"),
    ("body_matches", "Body matches regex (value)"),
    ("json", "JSON at path (target) compares (op) with value"),
    ("header_equals", "Header (target) equals (value)"),
    ("header_matches", "Header (target) matches regex (value)"),
    (
        "cert_min_days",
        "Certificate valid for more than (value) days",
    ),
    ("dns_answer_contains", "DNS answer contains (value)"),
    ("dns_rcode", "DNS response code is (value)"),
    ("banner_contains", "Banner contains (value)"),
    ("banner_matches", "Banner matches regex (value)"),
];

/// JSONPath comparisons.
pub(crate) const JSON_OPS: &[(&str, &str)] = &[
    ("eq", "="),
    ("ne", "≠"),
    ("lt", "<"),
    ("le", "≤"),
    ("gt", ">"),
    ("ge", "≥"),
    ("contains", "contains"),
    ("exists", "exists"),
    ("not_exists", "does not exist"),
];

/// Severities.
pub(crate) const SEVERITIES: &[(&str, &str)] = &[("fail", "Down"), ("degrade", "Degraded")];

/// Blank assertion rows offered under the existing ones.
pub(crate) const BLANK_ROWS: usize = 3;
/// Most assertion rows a form may send.
pub(crate) const MAX_ROWS: usize = 50;

/// One assertion row of the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    /// The assertion type (empty: the row is unused).
    pub(crate) kind: String,
    /// Phase, JSONPath or header name.
    pub(crate) target: String,
    /// The JSON comparison.
    pub(crate) op: String,
    /// The value.
    pub(crate) value: String,
    /// `fail` or `degrade`.
    pub(crate) severity: String,
}

impl Row {
    /// The assertion as the API takes it.
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(self.kind.clone()));
        let s = |v: &str| Value::String(v.to_owned());
        let target = self.target.trim();
        let value = self.value.as_str();
        match self.kind.as_str() {
            "status_code" => {
                m.insert("expect".into(), s(value.trim()));
            }
            "time" => {
                if !target.is_empty() {
                    m.insert("phase".into(), s(target));
                }
                m.insert("below".into(), s(value.trim()));
            }
            "body_contains" | "body_not_contains" | "banner_contains" => {
                m.insert("text".into(), s(value));
            }
            "body_matches" | "banner_matches" => {
                m.insert("pattern".into(), s(value));
            }
            "json" => {
                m.insert("path".into(), s(target));
                m.insert("op".into(), s(self.op.trim()));
                if !value.trim().is_empty() {
                    let v = serde_json::from_str(value.trim()).unwrap_or_else(|_| s(value));
                    m.insert("value".into(), v);
                }
            }
            "header_equals" => {
                m.insert("name".into(), s(target));
                m.insert("value".into(), s(value));
            }
            "header_matches" => {
                m.insert("name".into(), s(target));
                m.insert("pattern".into(), s(value));
            }
            "cert_min_days" => {
                let v = value
                    .trim()
                    .parse::<i64>()
                    .map_or_else(|_| s(value), Value::from);
                m.insert("days".into(), v);
            }
            "dns_answer_contains" => {
                m.insert("value".into(), s(value));
            }
            "dns_rcode" => {
                m.insert("rcode".into(), s(value.trim()));
            }
            // An unknown type goes as is, for the API to name it.
            _ => {}
        }
        if !self.severity.is_empty() {
            m.insert("severity".into(), s(&self.severity));
        }
        Value::Object(m)
    }

    /// A row showing an assertion of a saved spec.
    fn from_json(v: &Value) -> Self {
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let kind = text("type");
        let (target, value) = match kind.as_str() {
            "status_code" => (String::new(), text("expect")),
            "time" => (text("phase"), text("below")),
            "body_contains" | "body_not_contains" | "banner_contains" => {
                (String::new(), text("text"))
            }
            "body_matches" | "banner_matches" => (String::new(), text("pattern")),
            "json" => (
                text("path"),
                v.get("value")
                    .filter(|v| !v.is_null())
                    .map(Value::to_string)
                    .unwrap_or_default(),
            ),
            "header_equals" => (text("name"), text("value")),
            "header_matches" => (text("name"), text("pattern")),
            "cert_min_days" => (String::new(), text("days")),
            "dns_answer_contains" => (String::new(), text("value")),
            "dns_rcode" => (String::new(), text("rcode")),
            _ => (String::new(), String::new()),
        };
        Self {
            op: text("op"),
            severity: text("severity"),
            kind,
            target,
            value,
        }
    }
}

// === the form's values ===

/// What the form shows or was sent: every field's text by name, the assertion rows, and
/// the fields outside the spec.
#[derive(Debug, Clone, Default)]
pub(crate) struct MonitorForm {
    /// The check kind.
    pub(crate) kind: String,
    /// Field texts by name (checkboxes: `"true"` when ticked).
    pub(crate) values: BTreeMap<String, String>,
    /// Assertion rows (the saved ones, then blank ones).
    pub(crate) rows: Vec<Row>,
    /// Linked channel ids.
    pub(crate) channel_ids: Vec<i64>,
    /// Problems reading the form itself (a field, a message), beside the API's.
    pub(crate) problems: Vec<(String, String)>,
}

impl MonitorForm {
    /// A new monitor's form: the defaults of `kind`.
    pub(crate) fn new(kind: &str) -> Self {
        let mut values = BTreeMap::new();
        let defaults: &[(&str, &str)] = &[
            ("spec.method", "GET"),
            ("spec.timeout", "10s"),
            ("spec.redirects.follow", "true"),
            ("spec.redirects.max", "10"),
            ("spec.http_version", "auto"),
            ("spec.ip", "any"),
            ("spec.resolver.kind", "system"),
            ("spec.record_type", "A"),
            ("spec.port", if kind == "tls" { "443" } else { "" }),
            ("spec.expect.type", "period"),
            ("spec.expect.period", "5m"),
            ("spec.grace", "1m"),
            ("schedule.type", "interval"),
            ("schedule.every", "1m"),
        ];
        for (k, v) in defaults {
            if !v.is_empty() {
                values.insert((*k).to_owned(), (*v).to_owned());
            }
        }
        let mut form = Self {
            kind: kind.to_owned(),
            values,
            ..Self::default()
        };
        if kind == "http" {
            form.rows.push(Row {
                kind: "status_code".into(),
                value: "200-399".into(),
                severity: "fail".into(),
                ..Row::default()
            });
        }
        form.pad_rows();
        form
    }

    /// The form of a saved monitor.
    pub(crate) fn from_view(view: &MonitorView, channel_ids: Vec<i64>) -> Self {
        let mut values = BTreeMap::new();
        values.insert("name".to_owned(), view.name.clone());
        values.insert("key".to_owned(), view.key.clone().unwrap_or_default());
        if view.paused {
            values.insert("paused".to_owned(), "true".to_owned());
        }
        if let Some(p) = view.parent_id {
            values.insert("parent_id".to_owned(), p.to_string());
        }
        values.insert("locations".to_owned(), view.locations.join(", "));
        let mut rows = Vec::new();
        flatten("spec", &view.spec, &mut values, &mut rows);
        if let Some(s) = &view.schedule {
            flatten("schedule", s, &mut values, &mut rows);
        }
        flatten("thresholds", &view.thresholds, &mut values, &mut rows);
        if let Some(share) = view.quorum.get("share").and_then(|s| s.get("percent")) {
            values.insert("quorum.share.percent".to_owned(), share.to_string());
        }
        if let Some(Value::String(s)) = view.quorum.get("stale_after") {
            values.insert("quorum.stale_after".to_owned(), s.clone());
        }
        let mut form = Self {
            kind: view.kind.clone(),
            values,
            rows,
            channel_ids,
            problems: Vec::new(),
        };
        form.pad_rows();
        form
    }

    fn pad_rows(&mut self) {
        let used = self.rows.iter().filter(|r| !r.kind.is_empty()).count();
        self.rows.retain(|r| !r.kind.is_empty());
        self.rows.extend(std::iter::repeat_n(
            Row::default(),
            BLANK_ROWS.min(MAX_ROWS - used.min(MAX_ROWS)),
        ));
    }

    /// Reads a sent form (its pairs, `csrf` already removed) for a monitor of `kind` (a
    /// new monitor's kind comes from the form's own `spec.type`).
    pub(crate) fn from_pairs(pairs: &[(String, String)], kind: Option<&str>) -> Self {
        let mut form = Self::default();
        let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
        for (k, v) in pairs {
            if let Some(rest) = k.strip_prefix("assertions[") {
                let Some((i, part)) = rest.split_once("].") else {
                    form.problems
                        .push((k.clone(), "is not a field of this form".to_owned()));
                    continue;
                };
                let Ok(i) = i.parse::<usize>() else {
                    form.problems
                        .push((k.clone(), "is not a field of this form".to_owned()));
                    continue;
                };
                if i >= MAX_ROWS {
                    form.problems.push((
                        "assertions".to_owned(),
                        format!("at most {MAX_ROWS} assertions"),
                    ));
                    continue;
                }
                let row = rows.entry(i).or_default();
                match part {
                    "type" => row.kind = v.trim().to_owned(),
                    "target" => row.target = v.clone(),
                    "op" => row.op = v.clone(),
                    "value" => row.value = v.clone(),
                    "severity" => row.severity = v.clone(),
                    _ => form
                        .problems
                        .push((k.clone(), "is not a field of this form".to_owned())),
                }
            } else if k == "channel_ids" {
                match v.trim().parse::<i64>() {
                    Ok(id) if id > 0 => {
                        if !form.channel_ids.contains(&id) {
                            form.channel_ids.push(id);
                        }
                    }
                    _ => form
                        .problems
                        .push(("channel_ids".to_owned(), "not a channel id".to_owned())),
                }
            } else {
                // The last value of a repeated field wins (a checkbox sends one).
                form.values.insert(k.clone(), v.clone());
            }
        }
        form.kind = kind
            .map(str::to_owned)
            .or_else(|| form.values.get("spec.type").cloned())
            .unwrap_or_default();
        form.rows = rows.into_values().collect();
        form.pad_rows();
        // Durations inside the spec likewise (the API reads the spec as one tagged value
        // and could only name `spec`).
        for name in SPEC_DURATIONS {
            let raw = form.value(name).trim();
            let applies = FIELDS
                .iter()
                .any(|f| f.name == *name && f.applies(&form.kind));
            if applies && !raw.is_empty() && humantime::parse_duration(raw).is_err() {
                form.problems.push((
                    (*name).to_owned(),
                    "must be a duration such as 30s, 5m or 1h".to_owned(),
                ));
            }
        }
        // Numbers are read here, so a word in a number field is named by its field (the
        // API would only see a spec it cannot read).
        for field in FIELDS
            .iter()
            .filter(|f| f.is_number() && f.applies(&form.kind))
        {
            let raw = form.value(field.name).trim();
            if raw.is_empty() {
                if REQUIRED.contains(&field.name) {
                    form.problems
                        .push((field.name.to_owned(), "is required".to_owned()));
                }
            } else if raw.parse::<i64>().is_err() {
                form.problems
                    .push((field.name.to_owned(), "must be a whole number".to_owned()));
            }
        }
        form
    }

    /// A field's text.
    pub(crate) fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Whether a checkbox is ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        matches!(self.value(name), "true" | "on" | "1")
    }

    /// Whether channel `id` is linked.
    pub(crate) fn has_channel(&self, id: &i64) -> bool {
        self.channel_ids.contains(id)
    }

    /// The monitor input the form describes, and for each assertion it holds the form row
    /// it came from (to put the API's messages on the right row).
    pub(crate) fn to_input(&self) -> (MonitorInput, Vec<usize>) {
        let kind = self.kind.as_str();
        let mut root = Map::new();
        for field in FIELDS.iter().filter(|f| f.applies(kind)) {
            if let Some((other, want)) = field.when
                && self.value(other) != want
            {
                continue;
            }
            let raw = self.value(field.name);
            let value = match field.input {
                Check => Some(Value::Bool(self.checked(field.name))),
                // A required field left empty goes as "", for the API to name it.
                _ if raw.trim().is_empty()
                    && REQUIRED.contains(&field.name)
                    && !field.is_number() =>
                {
                    Some(Value::String(String::new()))
                }
                _ if raw.trim().is_empty() => None,
                Text | Select(_) => Some(Value::String(raw.trim().to_owned())),
                Area => Some(Value::String(raw.replace("\r\n", "\n"))),
                // A number that does not read is the form's problem (see `from_pairs`).
                Number => raw.trim().parse::<i64>().ok().map(Value::from),
                Headers => Some(Value::Array(
                    raw.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| {
                            let (n, v) = l.split_once(':').unwrap_or((l, ""));
                            Value::Array(vec![
                                Value::String(n.trim().to_owned()),
                                Value::String(v.trim().to_owned()),
                            ])
                        })
                        .collect(),
                )),
            };
            if let Some(v) = value {
                insert_path(&mut root, field.name, v);
            }
        }
        // Quorum: a share in percent (else a majority) and how old a location's view may be.
        for name in ["quorum.share.percent", "quorum.stale_after"] {
            let raw = self.value(name).trim();
            if !raw.is_empty() {
                let v = raw
                    .parse::<i64>()
                    .map_or_else(|_| Value::String(raw.to_owned()), Value::from);
                insert_path(&mut root, name, v);
            }
        }
        let mut spec = match root.remove("spec") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        spec.insert("type".into(), Value::String(kind.to_owned()));
        let mut origin = Vec::new();
        if kind != "heartbeat" {
            let list: Vec<Value> = self
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.kind.is_empty())
                .map(|(i, r)| {
                    origin.push(i);
                    r.to_json()
                })
                .collect();
            spec.insert("assertions".into(), Value::Array(list));
        }
        let text = |k: &str| Some(self.value(k).trim().to_owned()).filter(|s| !s.is_empty());
        let input = MonitorInput {
            key: text("key"),
            name: self.value("name").to_owned(),
            spec: Value::Object(spec),
            schedule: root.remove("schedule"),
            thresholds: root.remove("thresholds"),
            parent_id: text("parent_id").map(|p| p.parse::<i64>().unwrap_or(-1)),
            paused: Some(self.checked("paused")),
            locations: text("locations").map(|l| {
                l.split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            quorum: root.remove("quorum"),
        };
        (input, origin)
    }
}

/// Sets `path` (dot-separated) in a JSON object, creating the objects on the way.
fn insert_path(root: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            root.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = root
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(m) = entry {
                insert_path(m, rest, value);
            }
        }
    }
}

/// Writes a saved JSON value into form texts by path (`spec.tls.insecure` = `"true"`);
/// headers become lines, assertions rows.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>, rows: &mut Vec<Row>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let path = format!("{prefix}.{k}");
                match (path.as_str(), v) {
                    ("spec.assertions", Value::Array(list)) => {
                        rows.extend(list.iter().map(Row::from_json));
                    }
                    ("spec.headers", Value::Array(list)) => {
                        let lines: Vec<String> = list
                            .iter()
                            .filter_map(|h| {
                                let pair = h.as_array()?;
                                Some(format!(
                                    "{}: {}",
                                    pair.first()?.as_str()?,
                                    pair.get(1)?.as_str()?
                                ))
                            })
                            .collect();
                        out.insert(path, lines.join("\n"));
                    }
                    _ => flatten(&path, v, out, rows),
                }
            }
        }
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The form field an API error's field belongs to: the field itself when the form has it,
/// an assertion's row (`assertions[<row>]`) for `spec.assertions[<i>]...`, else the nearest
/// enclosing field the form has (`spec.headers[2]` → `spec.headers`), else as given.
pub(crate) fn form_field(api_field: &str, kind: &str, origin: &[usize]) -> String {
    if let Some(rest) = api_field.strip_prefix("spec.assertions[")
        && let Some((i, _)) = rest.split_once(']')
        && let Ok(i) = i.parse::<usize>()
    {
        let row = origin.get(i).copied().unwrap_or(i);
        return format!("assertions[{row}]");
    }
    let known = |name: &str| {
        FIELDS.iter().any(|f| f.name == name && f.applies(kind))
            || matches!(
                name,
                "name" | "key" | "parent_id" | "locations" | "quorum.share.percent"
            )
            || name == "quorum.stale_after"
    };
    let mut candidate = api_field;
    loop {
        if known(candidate) {
            return candidate.to_owned();
        }
        if candidate.starts_with("locations[") {
            return "locations".to_owned();
        }
        if candidate.starts_with("quorum.share") {
            return "quorum.share.percent".to_owned();
        }
        match candidate.rfind(['.', '[']) {
            Some(i) => candidate = &candidate[..i],
            None => return api_field.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::monitors::validate_monitor_fields;
    use crate::config::Config;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_http_form_becomes_the_api_input() {
        let form = MonitorForm::from_pairs(
            &pairs(&[
                ("spec.type", "http"),
                ("name", "API"),
                ("key", ""),
                ("spec.url", "https://example.com/health"),
                ("spec.method", "POST"),
                (
                    "spec.headers",
                    "Accept: application/json\r\nX-Token: a:b\r\n\r\n",
                ),
                ("spec.timeout", "5s"),
                ("spec.redirects.max", "3"),
                ("spec.resolver.kind", "system"),
                ("spec.resolver.addr", "1.1.1.1:53"),
                ("schedule.type", "cron"),
                ("schedule.every", "30s"),
                ("schedule.expr", "*/5 * * * *"),
                ("schedule.tz", ""),
                ("thresholds.window", "4"),
                ("thresholds.down_after", "3"),
                ("assertions[0].type", "status_code"),
                ("assertions[0].value", "200-299"),
                ("assertions[0].severity", "fail"),
                ("assertions[1].type", ""),
                ("assertions[2].type", "json"),
                ("assertions[2].target", "$.ok"),
                ("assertions[2].op", "eq"),
                ("assertions[2].value", "true"),
                ("channel_ids", "4"),
                ("channel_ids", "4"),
                ("channel_ids", "7"),
                ("locations", "local, eu-west"),
            ]),
            None,
        );
        assert!(form.problems.is_empty(), "{:?}", form.problems);
        assert_eq!(form.channel_ids, [4, 7]);
        let (input, origin) = form.to_input();
        // The unused row is dropped: the rows are re-numbered as shown again.
        assert_eq!(origin, [0, 1]);
        assert_eq!(
            input.spec,
            serde_json::json!({
                "type": "http",
                "url": "https://example.com/health",
                "method": "POST",
                "headers": [["Accept", "application/json"], ["X-Token", "a:b"]],
                "timeout": "5s",
                // Unticked checkboxes are false.
                "redirects": {"follow": false, "max": 3},
                "tls": {"insecure": false},
                // The server address is left out for the system resolver.
                "resolver": {"kind": "system"},
                "assertions": [
                    {"type": "status_code", "expect": "200-299", "severity": "fail"},
                    {"type": "json", "path": "$.ok", "op": "eq", "value": true},
                ],
            })
        );
        // Only the chosen schedule's fields go.
        assert_eq!(
            input.schedule,
            Some(serde_json::json!({"type": "cron", "expr": "*/5 * * * *"}))
        );
        assert_eq!(
            input.thresholds,
            Some(serde_json::json!({"window": 4, "down_after": 3}))
        );
        assert_eq!(
            input.locations,
            Some(vec!["local".to_owned(), "eu-west".to_owned()])
        );
        let new = validate_monitor_fields(&input, &Config::default()).unwrap();
        assert_eq!(new.name, "API");
    }

    #[test]
    fn a_saved_monitor_reads_back_into_the_same_input() {
        let pairs = pairs(&[
            ("spec.type", "tcp"),
            ("name", "SMTP"),
            ("spec.host", "mail.example.com"),
            ("spec.port", "25"),
            ("spec.read_banner", "true"),
            ("spec.timeout", "10s"),
            ("spec.ip", "v4"),
            ("spec.resolver.kind", "server"),
            ("spec.resolver.addr", "9.9.9.9:53"),
            ("spec.resolver.transport", "tcp"),
            ("schedule.type", "interval"),
            ("schedule.every", "2m"),
            ("assertions[0].type", "banner_contains"),
            ("assertions[0].value", "220"),
            ("assertions[0].severity", "degrade"),
        ]);
        let (input, _) = MonitorForm::from_pairs(&pairs, None).to_input();
        let new = validate_monitor_fields(&input, &Config::default()).unwrap();
        // As the API would show it, then back into a form and an input again.
        let m = bitwobbly_store::model::Monitor {
            id: MonitorId(1),
            workspace_id: WorkspaceId(1),
            key: None,
            name: new.name.clone(),
            spec: new.spec.clone(),
            schedule: new.schedule.clone(),
            thresholds: new.thresholds,
            parent_id: None,
            paused: false,
            locations: vec![],
            quorum: new.quorum,
            ping_token: None,
            created_at: Timestamp::EPOCH,
            updated_at: Timestamp::EPOCH,
        };
        let view = crate::api::monitors::monitor_view(&Config::default(), m, None);
        let form = MonitorForm::from_view(&view, vec![3]);
        assert_eq!(form.value("spec.resolver.addr"), "9.9.9.9:53");
        assert_eq!(form.rows[0].value, "220");
        assert_eq!(form.rows.len(), 1 + BLANK_ROWS);
        let (again, _) = form.to_input();
        let new2 = validate_monitor_fields(&again, &Config::default()).unwrap();
        assert_eq!(new2.spec, new.spec);
        assert_eq!(new2.schedule, new.schedule);
        assert_eq!(new2.thresholds, new.thresholds);
    }

    #[test]
    fn api_errors_land_on_the_form_field() {
        let form = MonitorForm::from_pairs(
            &pairs(&[
                ("spec.type", "http"),
                ("name", " "),
                ("spec.url", "ftp://x"),
                ("spec.redirects.max", "lots"),
                ("schedule.type", "interval"),
                ("schedule.every", "1s"),
                ("thresholds.window", "0"),
                ("assertions[0].type", ""),
                ("assertions[1].type", "body_matches"),
                ("assertions[1].value", "(unclosed"),
            ]),
            None,
        );
        let (input, origin) = form.to_input();
        let errors = validate_monitor_fields(&input, &Config::default()).unwrap_err();
        let fields: Vec<String> = errors
            .iter()
            .filter_map(|e| e.field.as_deref())
            .map(|f| form_field(f, "http", &origin))
            .collect();
        assert!(fields.contains(&"name".to_owned()), "{fields:?}");
        assert!(fields.contains(&"spec.url".to_owned()), "{fields:?}");
        assert_eq!(
            form.problems,
            [(
                "spec.redirects.max".to_owned(),
                "must be a whole number".to_owned()
            )]
        );
        assert!(fields.contains(&"schedule.every".to_owned()), "{fields:?}");
        assert!(
            fields.contains(&"thresholds.window".to_owned()),
            "{fields:?}"
        );
        assert_eq!(form.rows[0].kind, "body_matches");
        assert_eq!(
            form_field("spec.assertions[0].pattern", "http", &origin),
            "assertions[0]"
        );
        assert_eq!(form_field("spec.headers[3]", "http", &[]), "spec.headers");
        assert_eq!(form_field("locations[2]", "http", &[]), "locations");
        assert_eq!(form_field("spec.port", "tcp", &[]), "spec.port");
        assert_eq!(form_field("spec.mystery", "tcp", &[]), "spec.mystery");
    }

    #[test]
    fn hostile_forms_are_refused_field_by_field() {
        let form = MonitorForm::from_pairs(
            &pairs(&[
                ("assertions[99999999999999999999].type", "x"),
                ("assertions[60].type", "status_code"),
                ("assertions[0]", "x"),
                ("assertions[0].bogus", "x"),
                ("channel_ids", "-3"),
                ("channel_ids", "abc"),
                ("spec.type", "gopher"),
                ("name", "<script>alert(1)</script>"),
            ]),
            None,
        );
        assert_eq!(form.problems.len(), 6, "{:?}", form.problems);
        let (input, _) = form.to_input();
        let errors = validate_monitor_fields(&input, &Config::default()).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.field.as_deref() == Some("spec.type"))
        );
        // The heartbeat kind never sends assertions or a schedule.
        let (input, _) = MonitorForm::new("heartbeat").to_input();
        assert!(input.spec.get("assertions").is_none());
        assert!(input.schedule.is_none());
    }

    #[test]
    fn every_kind_s_defaults_are_valid_but_for_the_target() {
        for (kind, _) in KINDS {
            let mut form = MonitorForm::new(kind);
            form.values.insert("name".into(), "x".into());
            let (input, _) = form.to_input();
            let errors = validate_monitor_fields(&input, &Config::default())
                .err()
                .unwrap_or_default();
            let mut fields: Vec<_> = errors.iter().filter_map(|e| e.field.clone()).collect();
            if kind == "tcp" {
                // An empty port is the form's to refuse (the API cannot read the spec).
                assert_eq!(form.problems, []);
                let form = MonitorForm::from_pairs(
                    &pairs(&[("spec.type", "tcp"), ("spec.port", "")]),
                    None,
                );
                assert_eq!(form.problems[0].0, "spec.port");
                fields.retain(|f| f != "spec");
                fields.push("spec.port".into());
            }
            match kind {
                "heartbeat" => assert!(fields.is_empty(), "{kind}: {fields:?}"),
                _ => assert!(
                    fields.len() == 1 && fields[0].starts_with("spec."),
                    "{kind}: {fields:?}"
                ),
            }
        }
    }

    use bitwobbly_store::types::{MonitorId, Timestamp, WorkspaceId};
}
