//! What the monitor pages show, built from store records and API views: the list's filter
//! and rows, uptime text, and chart data.

use std::time::Duration;

use bitwobbly_store::prelude::*;

use super::form::{ASSERTIONS, Field, JSON_OPS, MonitorForm, SEVERITIES};
use crate::dashboard::FormErrors;
use crate::dashboard::chart::{self, PhaseBucket, UptimeSlot};

/// Monitors per page of the list.
pub(crate) const PAGE_SIZE: usize = 50;
/// Longest search text.
pub(crate) const MAX_SEARCH: usize = 200;
/// The statuses the list filters on.
pub(crate) const STATUSES: [&str; 6] =
    ["up", "degraded", "down", "paused", "maintenance", "unknown"];
/// The list's uptime windows: name and length.
pub(crate) const LIST_WINDOWS: [(&str, Duration); 3] = [
    ("24 h", Duration::from_secs(86_400)),
    ("7 d", Duration::from_secs(7 * 86_400)),
    ("30 d", Duration::from_secs(30 * 86_400)),
];

/// The list's filter, read from the query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Text looked for in the name, key and target (case-insensitive).
    pub(crate) q: String,
    /// One status, or any.
    pub(crate) status: Option<String>,
    /// One check kind, or any.
    pub(crate) kind: Option<String>,
    /// The page, from 1.
    pub(crate) page: usize,
}

impl Filter {
    /// Reads `?q=&status=&kind=&page=`; a value it does not know is a message on that field
    /// and is left out of the filter.
    pub(crate) fn parse(query: Option<&str>, errors: &mut FormErrors) -> Self {
        let mut f = Self {
            page: 1,
            ..Self::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let v = v.trim();
            match k.as_ref() {
                "q" => {
                    if v.chars().count() > MAX_SEARCH {
                        errors.add("q", format!("at most {MAX_SEARCH} characters"));
                    } else {
                        v.clone_into(&mut f.q);
                    }
                }
                "status" if v.is_empty() => {}
                "status" => {
                    if STATUSES.contains(&v) {
                        f.status = Some(v.to_owned());
                    } else {
                        errors.add("status", format!("unknown status {v:?}"));
                    }
                }
                "kind" if v.is_empty() => {}
                "kind" => {
                    if super::form::KINDS.iter().any(|(k, _)| *k == v) {
                        f.kind = Some(v.to_owned());
                    } else {
                        errors.add("kind", format!("unknown kind {v:?}"));
                    }
                }
                "page" => match v.parse::<usize>() {
                    Ok(n) if (1..=100_000).contains(&n) => f.page = n,
                    _ => errors.add("page", "must be a page number"),
                },
                _ => {}
            }
        }
        f
    }

    /// Whether a monitor with `status` passes.
    pub(crate) fn keeps(&self, m: &MonitorListItem, status: &str) -> bool {
        if self.status.as_deref().is_some_and(|s| s != status) {
            return false;
        }
        if self.kind.as_deref().is_some_and(|k| k != m.kind) {
            return false;
        }
        if self.q.is_empty() {
            return true;
        }
        let q = self.q.to_lowercase();
        m.name.to_lowercase().contains(&q)
            || m.key
                .as_deref()
                .is_some_and(|k| k.to_lowercase().contains(&q))
            || m.target_contains(&q)
    }

    /// The query string of this filter on another page.
    pub(crate) fn query_for_page(&self, page: usize) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            s.append_pair("q", &self.q);
        }
        if let Some(st) = &self.status {
            s.append_pair("status", st);
        }
        if let Some(k) = &self.kind {
            s.append_pair("kind", k);
        }
        s.append_pair("page", &page.to_string());
        s.finish()
    }
}

/// A monitor's status as shown: paused wins over the running state.
pub(crate) fn status_of(m: &MonitorListItem) -> &'static str {
    if m.paused {
        return MonitorStatus::Paused.as_str();
    }
    m.status.unwrap_or(MonitorStatus::Unknown).as_str()
}

/// Uptime as text: `99.95%`, or `–` without results.
pub(crate) fn uptime_text(w: &WindowCounts) -> String {
    let total = w.total();
    if total == 0 {
        return "–".to_owned();
    }
    let pct = (w.up + w.degraded) as f64 * 100.0 / total as f64;
    if pct >= 99.995 && w.down > 0 {
        // Never round a failure away.
        return "99.99%".to_owned();
    }
    format!("{pct:.2}%")
}

/// The sparkline of a summary's hours.
pub(crate) fn sparkline(s: &MonitorSummary) -> String {
    let values: Vec<Option<f64>> = s.hours.iter().map(WindowCounts::mean_us).collect();
    chart::sparkline(&values, "Mean latency by hour", "us")
}

/// Days of an uptime bar from `from` (a midnight) for `days` days, from the daily counts.
pub(crate) fn uptime_slots(days: &[DayUptime], from: Timestamp, n: usize) -> Vec<UptimeSlot> {
    (0..n)
        .map(|i| {
            let day = from.plus(Duration::from_secs(86_400 * i as u64));
            let d = days.iter().find(|d| d.day == day);
            let count = |v: Option<i64>| u64::try_from(v.unwrap_or(0)).unwrap_or(0);
            UptimeSlot {
                label: day.to_datetime().date().to_string(),
                up: count(d.map(|d| d.up)),
                degraded: count(d.map(|d| d.degraded)),
                down: count(d.map(|d| d.down)),
            }
        })
        .collect()
}

/// Phase buckets from `from` every `bucket` up to `to`, the empty ones included.
pub(crate) fn phase_buckets(
    rows: &[PhaseRow],
    from: Timestamp,
    to: Timestamp,
    bucket: Duration,
) -> Vec<PhaseBucket> {
    let step = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1);
    let start = from.as_millis() - from.as_millis().rem_euclid(step);
    let mut out = Vec::new();
    let mut t = start;
    while t < to.as_millis() && out.len() < 10_000 {
        let row = rows.iter().find(|r| r.bucket_start.as_millis() == t);
        out.push(PhaseBucket {
            start_ms: t,
            phases_us: row
                .filter(|r| r.count > 0)
                .map(|r| r.sums_us.map(|s| s as f64 / r.count as f64)),
        });
        t += step;
    }
    out
}

/// A field of the monitor form as the template shows it.
#[derive(Debug, Clone)]
pub(crate) struct FieldView {
    /// Input name and id.
    pub(crate) name: &'static str,
    /// Label.
    pub(crate) label: &'static str,
    /// Hint.
    pub(crate) hint: String,
    /// `text`, `number`, `check`, `select` or `area`.
    pub(crate) control: &'static str,
    /// Current text.
    pub(crate) value: String,
    /// For a checkbox.
    pub(crate) checked: bool,
    /// For a select: value, label, selected.
    pub(crate) options: Vec<(&'static str, &'static str, bool)>,
    /// The message on it.
    pub(crate) error: Option<String>,
}

impl FieldView {
    /// The view of `field` with the form's values and errors.
    pub(crate) fn new(field: &Field, form: &MonitorForm, errors: &FormErrors) -> Self {
        let value = form.value(field.name).to_owned();
        let control = if field.is_check() {
            "check"
        } else if !field.options().is_empty() {
            "select"
        } else if field.is_area() {
            "area"
        } else if field.is_number() {
            "number"
        } else {
            "text"
        };
        let mut hint = field.hint.to_owned();
        if let Some((other, want)) = field.when {
            if !hint.is_empty() {
                hint.push(' ');
            }
            hint.push_str(&format!("Used when {other} is {want}."));
        }
        Self {
            name: field.name,
            label: field.label,
            hint,
            control,
            checked: form.checked(field.name),
            options: field
                .options()
                .iter()
                .map(|(v, l)| (*v, *l, *v == value))
                .collect(),
            value,
            error: errors.get(field.name).map(str::to_owned),
        }
    }
}

/// An assertion row as the template shows it.
#[derive(Debug, Clone)]
pub(crate) struct RowView {
    /// Index in the form.
    pub(crate) index: usize,
    /// Type choices (value, label, selected), an empty "none" first.
    pub(crate) kinds: Vec<(&'static str, &'static str, bool)>,
    /// Target text.
    pub(crate) target: String,
    /// JSON comparison choices.
    pub(crate) ops: Vec<(&'static str, &'static str, bool)>,
    /// Value text.
    pub(crate) value: String,
    /// Severity choices.
    pub(crate) severities: Vec<(&'static str, &'static str, bool)>,
    /// The message on this row.
    pub(crate) error: Option<String>,
}

/// The assertion rows of a form.
pub(crate) fn row_views(form: &MonitorForm, errors: &FormErrors) -> Vec<RowView> {
    form.rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let choose = |list: &'static [(&'static str, &'static str)], cur: &str| {
                list.iter()
                    .map(|(v, l)| (*v, *l, *v == cur))
                    .collect::<Vec<_>>()
            };
            let mut kinds = vec![("", "— none —", r.kind.is_empty())];
            kinds.extend(choose(ASSERTIONS, &r.kind));
            RowView {
                index: i,
                kinds,
                target: r.target.clone(),
                ops: choose(JSON_OPS, &r.op),
                value: r.value.clone(),
                severities: choose(SEVERITIES, &r.severity),
                error: errors.get(&format!("assertions[{i}]")).map(str::to_owned),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_known_values_and_name_the_bad_ones() {
        let mut e = FormErrors::new();
        let f = Filter::parse(Some("q=%20api%20&status=down&kind=http&page=3&x=1"), &mut e);
        assert!(e.is_empty());
        assert_eq!(
            f,
            Filter {
                q: "api".into(),
                status: Some("down".into()),
                kind: Some("http".into()),
                page: 3
            }
        );
        assert_eq!(f.query_for_page(4), "q=api&status=down&kind=http&page=4");
        let mut e = FormErrors::new();
        let long = "a".repeat(MAX_SEARCH + 1);
        let f = Filter::parse(
            Some(&format!("q={long}&status=%3Cb%3E&kind=gopher&page=-1")),
            &mut e,
        );
        assert_eq!(
            f,
            Filter {
                page: 1,
                ..Filter::default()
            }
        );
        for field in ["q", "status", "kind", "page"] {
            assert!(e.get(field).is_some(), "{field}");
        }
        // Not even valid percent-encoding: read as text, no panic.
        let f = Filter::parse(Some("q=%ZZ%"), &mut FormErrors::new());
        assert_eq!(f.q, "%ZZ%");
    }

    #[test]
    fn uptime_never_rounds_a_failure_away() {
        let w = |up, down| WindowCounts {
            up,
            down,
            ..WindowCounts::default()
        };
        assert_eq!(uptime_text(&w(0, 0)), "–");
        assert_eq!(uptime_text(&w(100, 0)), "100.00%");
        assert_eq!(uptime_text(&w(99_999, 1)), "99.99%");
        assert_eq!(uptime_text(&w(3, 1)), "75.00%");
    }

    #[test]
    fn phase_buckets_fill_the_gaps() {
        let from = Timestamp::from_millis(3_600_000 * 10 + 5);
        let to = Timestamp::from_millis(3_600_000 * 13);
        let rows = [PhaseRow {
            bucket_start: Timestamp::from_millis(3_600_000 * 11),
            count: 2,
            sums_us: [2, 4, 6, 8, 10],
            total_sum_us: 30,
        }];
        let b = phase_buckets(&rows, from, to, Duration::from_secs(3600));
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].phases_us, None);
        assert_eq!(b[1].phases_us, Some([1.0, 2.0, 3.0, 4.0, 5.0]));
        let days = uptime_slots(&[], Timestamp::from_millis(0), 3);
        assert_eq!(days.len(), 3);
        assert_eq!(days[2].label, "1970-01-03");
    }
}
