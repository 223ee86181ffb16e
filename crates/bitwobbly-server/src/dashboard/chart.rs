//! Charts drawn on the server as SVG: sparklines, line charts, latency stacked by phase,
//! uptime bars and a check's timing waterfall.
//!
//! Every function is pure: data in, an SVG string out. Each chart carries `role="img"`, an
//! `aria-label` and a `<title>` saying what it shows in words, so it reads without the
//! picture. Colours are presentation attributes (no inline `style`, which the dashboard's
//! content security policy refuses); text is escaped; values that are not finite are left
//! out rather than drawn.

use std::fmt::Write as _;

/// The colours of the check phases, in phase order (DNS, connect, TLS, first byte, transfer).
pub const PHASE_COLOURS: [&str; 5] = ["#7c8cf8", "#38bdf8", "#a78bfa", "#f59e0b", "#34d399"];
/// The names of the check phases, in phase order.
pub const PHASE_NAMES: [&str; 5] = ["DNS", "connect", "TLS", "first byte", "transfer"];
/// Colours given to the series of a line chart, in turn.
pub const SERIES_COLOURS: [&str; 6] = [
    "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2",
];

const UP: &str = "#16a34a";
const DEGRADED: &str = "#f59e0b";
const DOWN: &str = "#dc2626";
const EMPTY: &str = "#d4d4d8";
const GRID: &str = "#e4e4e7";
const AXIS_TEXT: &str = "#71717a";

/// Escapes text for SVG character data and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A number with at most one decimal, as SVG coordinates are written.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// A duration in microseconds for people: `850 µs`, `12.3 ms`, `1.25 s`.
pub fn fmt_us(us: f64) -> String {
    if !us.is_finite() {
        return "–".to_owned();
    }
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        let ms = us / 1000.0;
        if ms < 100.0 {
            format!("{ms:.1} ms")
        } else {
            format!("{ms:.0} ms")
        }
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// A value with its unit, for axis labels and text alternatives.
fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "us" | "µs" => fmt_us(v),
        "ms" => fmt_us(v * 1000.0),
        "%" => format!("{v:.2}%"),
        "" => fmt_plain(v),
        u => format!("{} {u}", fmt_plain(v)),
    }
}

fn fmt_plain(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Opens an `<svg>` with its text alternative.
fn open(out: &mut String, class: &str, w: f64, h: f64, label: &str) {
    let label = escape(label);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {class}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{label}" preserveAspectRatio="none"><title>{label}</title>"#,
        n(w),
        n(h),
        n(w),
        n(h),
    );
}

/// A rounded "nice" upper bound for an axis whose largest value is `max`.
fn nice_max(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if max <= step * mag {
            return step * mag;
        }
    }
    10.0 * mag
}

// === sparkline ===

/// A small line of recent values (oldest first), e.g. latency of the last checks.
///
/// `None` values (no data, or a failed check) break the line. With fewer than two values
/// it draws an empty frame. `label` is the text alternative's subject, e.g. "Latency".
pub fn sparkline(values: &[Option<f64>], label: &str, unit: &str) -> String {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    let finite: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let text = if finite.is_empty() {
        format!("{label}: no data")
    } else {
        let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let last = finite[finite.len() - 1];
        format!(
            "{label} over the last {} points: latest {}, lowest {}, highest {}",
            values.len(),
            fmt_value(last, unit),
            fmt_value(min, unit),
            fmt_value(max, unit)
        )
    };
    let mut out = String::with_capacity(64 + values.len() * 12);
    open(&mut out, "sparkline", W, H, &text);
    if values.len() >= 2 && !finite.is_empty() {
        let max = finite
            .iter()
            .copied()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let step = W / (values.len() - 1) as f64;
        let mut run = String::new();
        let flush = |run: &mut String, out: &mut String| {
            if run.contains(' ') {
                let _ = write!(
                    out,
                    r##"<polyline points="{run}" fill="none" stroke="#2563eb" stroke-width="1.5"/>"##
                );
            } else if !run.is_empty() {
                let (x, y) = run.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    out,
                    r##"<circle cx="{x}" cy="{y}" r="1.5" fill="#2563eb"/>"##
                );
            }
            run.clear();
        };
        for (i, v) in values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => {
                    if !run.is_empty() {
                        run.push(' ');
                    }
                    let y = H - 2.0 - (v.max(0.0) / max) * (H - 4.0);
                    let _ = write!(run, "{},{}", n(i as f64 * step), n(y));
                }
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
    }
    out.push_str("</svg>");
    out
}

// === line chart ===

/// One named series of a line chart: `(time in ms since the Unix epoch, value)` points,
/// in time order. Non-finite values break the line.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Name, shown in the legend and the text alternative.
    pub label: &'a str,
    /// The points.
    pub points: &'a [(i64, f64)],
}

/// A line chart of one or more series over time, with a y axis from 0 and a legend.
///
/// `title` names the chart (its text alternative starts with it); `unit` is the values'
/// unit: `ms`, `us` (both shown as durations), `%`, `""` or any word (appended). Series get
/// [`SERIES_COLOURS`] in turn. With no finite point at all it draws an empty frame that
/// says "no data".
pub fn line_chart(title: &str, unit: &str, series: &[Series<'_>]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 56.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 22.0;
    let finite = |s: &Series<'_>| -> Vec<(i64, f64)> {
        s.points
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .collect()
    };
    let all: Vec<(i64, f64)> = series.iter().flat_map(finite).collect();
    let mut text = String::from(title);
    if all.is_empty() {
        text.push_str(": no data");
    } else {
        for s in series {
            let pts = finite(s);
            if let Some(last) = pts.last() {
                let max = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
                let _ = write!(
                    text,
                    "; {}: latest {}, highest {}",
                    s.label,
                    fmt_value(last.1, unit),
                    fmt_value(max, unit)
                );
            }
        }
    }
    let mut out = String::with_capacity(512 + all.len() * 14);
    open(&mut out, "line-chart", W, H + 18.0, &text);
    let plot_w = W - LEFT - 4.0;
    let plot_h = H - TOP - BOTTOM;
    let y_max = nice_max(all.iter().map(|p| p.1).fold(0.0, f64::max));
    // Grid and y labels.
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{GRID}" stroke-width="1"/><text x="{}" y="{}" font-size="10" text-anchor="end" fill="{AXIS_TEXT}">{}</text>"#,
            n(LEFT),
            n(W - 4.0),
            n(LEFT - 4.0),
            n(y + 3.0),
            escape(&fmt_value(v, unit)),
            y = n(y),
        );
    }
    if !all.is_empty() {
        let t0 = all.iter().map(|p| p.0).min().unwrap_or(0);
        let t1 = all.iter().map(|p| p.0).max().unwrap_or(0);
        let span = (t1 - t0).max(1) as f64;
        let x = |t: i64| LEFT + plot_w * ((t - t0) as f64 / span);
        let y = |v: f64| TOP + plot_h - plot_h * (v.max(0.0) / y_max).min(1.0);
        for (k, s) in series.iter().enumerate() {
            let colour = SERIES_COLOURS[k % SERIES_COLOURS.len()];
            let mut run = String::new();
            let mut runs = Vec::new();
            for &(t, v) in s.points {
                if v.is_finite() {
                    if !run.is_empty() {
                        run.push(' ');
                    }
                    let _ = write!(run, "{},{}", n(x(t)), n(y(v)));
                } else if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for r in runs {
                if r.contains(' ') {
                    let _ = write!(
                        out,
                        r#"<polyline points="{r}" fill="none" stroke="{colour}" stroke-width="1.5"/>"#
                    );
                } else {
                    let (cx, cy) = r.split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(
                        out,
                        r#"<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>"#
                    );
                }
            }
        }
        // Time labels at both ends.
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="10" fill="{AXIS_TEXT}">{}</text><text x="{}" y="{}" font-size="10" text-anchor="end" fill="{AXIS_TEXT}">{}</text>"#,
            n(LEFT),
            n(H - 6.0),
            escape(&fmt_time(t0)),
            n(W - 4.0),
            n(H - 6.0),
            escape(&fmt_time(t1)),
        );
    } else {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="{AXIS_TEXT}">no data</text>"#,
            n(LEFT + plot_w / 2.0),
            n(TOP + plot_h / 2.0),
        );
    }
    legend(
        &mut out,
        H + 4.0,
        LEFT,
        series
            .iter()
            .enumerate()
            .map(|(k, s)| (s.label, SERIES_COLOURS[k % SERIES_COLOURS.len()])),
    );
    out.push_str("</svg>");
    out
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ms since the epoch.
fn fmt_time(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => String::new(),
    }
}

fn legend<'a>(out: &mut String, y: f64, x0: f64, items: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut x = x0;
    for (label, colour) in items {
        let label = escape(label);
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" font-size="11" fill="{AXIS_TEXT}">{label}</text>"#,
            n(x),
            n(y),
            n(x + 14.0),
            n(y + 9.0),
        );
        x += 24.0 + 6.5 * label.chars().count().min(40) as f64;
    }
}

// === latency stacked by phase ===

/// One time bucket of a latency chart: when it starts and its mean phase durations in
/// microseconds (DNS, connect, TLS, first byte, transfer), or `None` when it has no
/// successful check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseBucket {
    /// Bucket start, ms since the Unix epoch.
    pub start_ms: i64,
    /// Mean of each phase, in phase order.
    pub phases_us: Option<[f64; 5]>,
}

/// Latency over time as columns stacked by phase (DNS, connect, TLS, first byte, transfer),
/// oldest bucket on the left.
pub fn stacked_phases(buckets: &[PhaseBucket]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 56.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 22.0;
    let totals: Vec<Option<f64>> = buckets
        .iter()
        .map(|b| {
            b.phases_us.map(|p| {
                p.iter()
                    .map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 })
                    .sum()
            })
        })
        .collect();
    let known: Vec<f64> = totals.iter().flatten().copied().collect();
    let mut text = String::from("Latency by phase");
    if known.is_empty() {
        text.push_str(": no data");
    } else {
        let mut sums = [0.0; 5];
        let mut count = 0.0;
        for p in buckets.iter().filter_map(|b| b.phases_us) {
            for (s, v) in sums.iter_mut().zip(p) {
                *s += if v.is_finite() { v.max(0.0) } else { 0.0 };
            }
            count += 1.0;
        }
        let _ = write!(text, " over {} buckets; mean", buckets.len());
        for (name, s) in PHASE_NAMES.iter().zip(sums) {
            let _ = write!(text, " {name} {},", fmt_us(s / count));
        }
        let max = known.iter().copied().fold(0.0, f64::max);
        let _ = write!(text, " slowest bucket {}", fmt_us(max));
    }
    let mut out = String::with_capacity(1024 + buckets.len() * 5 * 70);
    open(&mut out, "phase-chart", W, H + 18.0, &text);
    let plot_w = W - LEFT - 4.0;
    let plot_h = H - TOP - BOTTOM;
    let y_max = nice_max(known.iter().copied().fold(0.0, f64::max));
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let y = n(TOP + plot_h - plot_h * f64::from(i) / 4.0);
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{GRID}" stroke-width="1"/><text x="{}" y="{y}" dy="3" font-size="10" text-anchor="end" fill="{AXIS_TEXT}">{}</text>"#,
            n(LEFT),
            n(W - 4.0),
            n(LEFT - 4.0),
            escape(&fmt_us(v)),
        );
    }
    if !buckets.is_empty() {
        let slot = plot_w / buckets.len() as f64;
        let bar = (slot * 0.8).max(0.5);
        for (i, b) in buckets.iter().enumerate() {
            let Some(p) = b.phases_us else { continue };
            let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
            let mut base = TOP + plot_h;
            for (k, v) in p.iter().enumerate() {
                let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
                let h = plot_h * (v / y_max).min(1.0);
                if h < 0.05 {
                    continue;
                }
                base -= h;
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>"#,
                    n(x),
                    n(base),
                    n(bar),
                    n(h),
                    PHASE_COLOURS[k],
                    PHASE_NAMES[k],
                    escape(&fmt_us(v)),
                );
            }
        }
        let first = buckets[0].start_ms;
        let last = buckets[buckets.len() - 1].start_ms;
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="10" fill="{AXIS_TEXT}">{}</text><text x="{}" y="{}" font-size="10" text-anchor="end" fill="{AXIS_TEXT}">{}</text>"#,
            n(LEFT),
            n(H - 6.0),
            escape(&fmt_time(first)),
            n(W - 4.0),
            n(H - 6.0),
            escape(&fmt_time(last)),
        );
    }
    legend(
        &mut out,
        H + 4.0,
        LEFT,
        PHASE_NAMES.iter().copied().zip(PHASE_COLOURS),
    );
    out.push_str("</svg>");
    out
}

// === uptime bar ===

/// One slot of an uptime bar (a day or an hour): its label and its result counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UptimeSlot {
    /// What the slot is, for the tooltip (e.g. `2026-11-24`).
    pub label: String,
    /// Up results.
    pub up: u64,
    /// Degraded results.
    pub degraded: u64,
    /// Down results.
    pub down: u64,
}

/// The colour of a slot: grey with no results, red when any check was down for more than
/// a hundredth of them, amber when any was degraded or down, green otherwise.
fn slot_colour(s: &UptimeSlot) -> &'static str {
    let total = s.up + s.degraded + s.down;
    if total == 0 {
        EMPTY
    } else if s.down * 100 > total {
        DOWN
    } else if s.down > 0 || s.degraded > 0 {
        DEGRADED
    } else {
        UP
    }
}

/// A row of slots coloured by health, oldest on the left, each with a tooltip.
pub fn uptime_bar(slots: &[UptimeSlot]) -> String {
    const H: f64 = 28.0;
    const SLOT: f64 = 6.0;
    const GAP: f64 = 2.0;
    let w = (slots.len() as f64 * (SLOT + GAP) - GAP).max(SLOT);
    let (up, total) = slots.iter().fold((0u64, 0u64), |(u, t), s| {
        (u + s.up + s.degraded, t + s.up + s.degraded + s.down)
    });
    let bad = slots
        .iter()
        .filter(|s| matches!(slot_colour(s), DOWN | DEGRADED))
        .count();
    let text = if total == 0 {
        format!("Uptime over {} slots: no data", slots.len())
    } else {
        format!(
            "Uptime over {} slots: {:.2}% available, {bad} with failures",
            slots.len(),
            up as f64 * 100.0 / total as f64
        )
    };
    let mut out = String::with_capacity(256 + slots.len() * 110);
    open(&mut out, "uptime-bar", w, H, &text);
    for (i, s) in slots.iter().enumerate() {
        let total = s.up + s.degraded + s.down;
        let tip = if total == 0 {
            format!("{}: no data", s.label)
        } else {
            format!(
                "{}: {:.2}% ({} up, {} degraded, {} down)",
                s.label,
                (s.up + s.degraded) as f64 * 100.0 / total as f64,
                s.up,
                s.degraded,
                s.down
            )
        };
        let _ = write!(
            out,
            r#"<rect x="{}" y="0" width="{}" height="{}" rx="1" fill="{}"><title>{}</title></rect>"#,
            n(i as f64 * (SLOT + GAP)),
            n(SLOT),
            n(H),
            slot_colour(s),
            escape(&tip),
        );
    }
    out.push_str("</svg>");
    out
}

// === timing waterfall ===

/// A check's phases as horizontal bars, each starting where the previous one ended (DNS,
/// connect, TLS, first byte, transfer), with the total underneath. Durations in
/// microseconds; a phase that took no time is drawn as a tick.
pub fn waterfall(phases_us: [i64; 5], total_us: i64) -> String {
    const W: f64 = 560.0;
    const ROW: f64 = 22.0;
    const LEFT: f64 = 84.0;
    const RIGHT: f64 = 80.0;
    let phases = phases_us.map(|v| v.max(0) as f64);
    let sum: f64 = phases.iter().sum();
    let total = (total_us.max(0) as f64).max(sum).max(1.0);
    let mut text = String::from("Timing waterfall:");
    for (name, v) in PHASE_NAMES.iter().zip(phases) {
        let _ = write!(text, " {name} {},", fmt_us(v));
    }
    let _ = write!(text, " total {}", fmt_us(total_us.max(0) as f64));
    let h = ROW * 6.0;
    let mut out = String::with_capacity(2048);
    open(&mut out, "waterfall", W, h, &text);
    let plot = W - LEFT - RIGHT;
    let mut start = 0.0;
    for (k, v) in phases.iter().enumerate() {
        let y = ROW * k as f64;
        let x = LEFT + plot * start / total;
        let w = (plot * v / total).max(1.0);
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="{AXIS_TEXT}">{}</text><rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}"><title>{}: {}</title></rect><text x="{}" y="{}" font-size="11" fill="{AXIS_TEXT}">{}</text>"#,
            n(LEFT - 6.0),
            n(y + 15.0),
            PHASE_NAMES[k],
            n(x),
            n(y + 4.0),
            n(w),
            n(ROW - 8.0),
            PHASE_COLOURS[k],
            PHASE_NAMES[k],
            escape(&fmt_us(*v)),
            n(x + w + 4.0),
            n(y + 15.0),
            escape(&fmt_us(*v)),
        );
        start += v;
    }
    let y = ROW * 5.0;
    let _ = write!(
        out,
        r##"<text x="{}" y="{}" font-size="11" font-weight="bold" text-anchor="end" fill="#3f3f46">total</text><rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="#52525b"/><text x="{}" y="{}" font-size="11" font-weight="bold" fill="#3f3f46">{}</text>"##,
        n(LEFT - 6.0),
        n(y + 15.0),
        n(LEFT),
        n(y + 4.0),
        n((plot * (total_us.max(0) as f64 / total)).max(1.0)),
        n(ROW - 8.0),
        n(LEFT + plot * (total_us.max(0) as f64 / total) + 4.0),
        n(y + 15.0),
        escape(&fmt_us(total_us.max(0) as f64)),
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses the SVG as XML (it must be well-formed) and returns the root's aria-label.
    fn label(svg: &str) -> String {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("role"), Some("img"));
        let title = root
            .children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap_or_default()
            .to_owned();
        let aria = root.attribute("aria-label").unwrap_or_default().to_owned();
        assert_eq!(title, aria, "the title and the aria-label say the same");
        aria
    }

    fn count(svg: &str, tag: &str) -> usize {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants().filter(|d| d.has_tag_name(tag)).count()
    }

    #[test]
    fn sparkline_describes_its_values_and_breaks_at_gaps() {
        let svg = sparkline(
            &[Some(1000.0), Some(3000.0), None, Some(2000.0), Some(2500.0)],
            "Latency",
            "us",
        );
        let l = label(&svg);
        assert!(l.contains("latest 2.5 ms"), "{l}");
        assert!(
            l.contains("lowest 1.0 ms") && l.contains("highest 3.0 ms"),
            "{l}"
        );
        assert_eq!(count(&svg, "polyline"), 2, "the gap splits the line: {svg}");
    }

    #[test]
    fn sparkline_without_data_says_so() {
        assert!(label(&sparkline(&[], "Latency", "us")).ends_with("no data"));
        let svg = sparkline(
            &[None, Some(f64::NAN), Some(f64::INFINITY)],
            "Latency",
            "us",
        );
        assert!(label(&svg).ends_with("no data"));
        assert_eq!(count(&svg, "polyline"), 0);
        // One value: a dot, not a line.
        let svg = sparkline(&[Some(5.0), None], "x", "");
        assert_eq!((count(&svg, "polyline"), count(&svg, "circle")), (0, 1));
    }

    #[test]
    fn text_is_escaped() {
        let hostile = r#"</title><script>alert("x")</script>&"#;
        let svg = line_chart(
            hostile,
            "ms",
            &[Series {
                label: hostile,
                points: &[(0, 1.0), (1000, 2.0)],
            }],
        );
        let l = label(&svg);
        assert!(l.starts_with(hostile), "{l}");
        assert!(!svg.contains("<script>"));
        assert_eq!(count(&svg, "script"), 0);
        let slots = [UptimeSlot {
            label: hostile.into(),
            up: 1,
            degraded: 0,
            down: 0,
        }];
        assert!(!uptime_bar(&slots).contains("<script>"));
        label(&uptime_bar(&slots));
        // Control characters are dropped (not allowed in XML).
        label(&sparkline(&[Some(1.0)], "a\u{1}b", ""));
    }

    #[test]
    fn line_chart_draws_each_series_with_a_legend() {
        let a = [
            (1_700_000_000_000, 10.0),
            (1_700_000_060_000, 20.0),
            (1_700_000_120_000, f64::NAN),
            (1_700_000_180_000, 15.0),
        ];
        let b = [(1_700_000_000_000, 50.0), (1_700_000_180_000, 80.0)];
        let svg = line_chart(
            "p95",
            "ms",
            &[
                Series {
                    label: "p50",
                    points: &a,
                },
                Series {
                    label: "p95",
                    points: &b,
                },
            ],
        );
        let l = label(&svg);
        assert!(l.contains("p50: latest 15.0 ms, highest 20.0 ms"), "{l}");
        assert!(l.contains("p95: latest 80.0 ms"), "{l}");
        // a: one line and one lone point after the gap; b: one line.
        assert_eq!(count(&svg, "polyline"), 2);
        assert_eq!(count(&svg, "circle"), 1);
        assert!(svg.contains("2023-11-14 22:13"), "time labels: {svg}");
        // The axis tops out at a round number above the largest value.
        assert!(
            svg.contains(">100.0 ms<") || svg.contains(">100 ms<"),
            "{svg}"
        );
        let empty = line_chart("p95", "ms", &[]);
        assert!(label(&empty).ends_with("no data"));
    }

    #[test]
    fn nice_max_rounds_up() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(-5.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(2400.0), 2500.0);
    }

    #[test]
    fn phases_stack_in_order_and_skip_empty_buckets() {
        let buckets = [
            PhaseBucket {
                start_ms: 0,
                phases_us: Some([1000.0, 2000.0, 3000.0, 4000.0, 0.0]),
            },
            PhaseBucket {
                start_ms: 3_600_000,
                phases_us: None,
            },
            PhaseBucket {
                start_ms: 7_200_000,
                phases_us: Some([500.0, 500.0, 0.0, f64::NAN, 1000.0]),
            },
        ];
        let svg = stacked_phases(&buckets);
        let l = label(&svg);
        assert!(l.contains("over 3 buckets"), "{l}");
        assert!(l.contains("mean DNS 750 µs"), "{l}");
        assert!(l.contains("slowest bucket 10.0 ms"), "{l}");
        // 4 rects in the first bucket, 3 in the last (zero and NaN phases skipped), 5 legend keys.
        assert_eq!(count(&svg, "rect"), 4 + 3 + 5);
        // The first bucket stacks DNS at the bottom: its rect is the lowest.
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let ys: Vec<f64> = doc
            .descendants()
            .filter(|d| d.has_tag_name("rect") && d.children().any(|c| c.has_tag_name("title")))
            .take(4)
            .map(|d| d.attribute("y").unwrap().parse().unwrap())
            .collect();
        assert!(ys.windows(2).all(|w| w[0] > w[1]), "{ys:?}");
        assert!(label(&stacked_phases(&[])).ends_with("no data"));
    }

    #[test]
    fn uptime_bar_colours_slots_by_health() {
        let slot = |up, degraded, down| UptimeSlot {
            label: "d".into(),
            up,
            degraded,
            down,
        };
        assert_eq!(slot_colour(&slot(0, 0, 0)), EMPTY);
        assert_eq!(slot_colour(&slot(100, 0, 0)), UP);
        assert_eq!(slot_colour(&slot(99, 1, 0)), DEGRADED);
        assert_eq!(slot_colour(&slot(199, 0, 1)), DEGRADED);
        assert_eq!(slot_colour(&slot(90, 0, 10)), DOWN);
        let svg = uptime_bar(&[slot(99, 0, 1), slot(0, 0, 0), slot(50, 0, 50)]);
        let l = label(&svg);
        assert!(l.contains("74.50% available, 2 with failures"), "{l}");
        assert_eq!(count(&svg, "rect"), 3);
        assert!(svg.contains("no data"));
        assert!(label(&uptime_bar(&[])).ends_with("no data"));
    }

    #[test]
    fn waterfall_bars_follow_each_other() {
        let svg = waterfall([2000, 3000, 0, 10_000, 5000], 20_000);
        let l = label(&svg);
        assert!(
            l.contains("DNS 2.0 ms") && l.contains("TLS 0 µs") && l.contains("total 20.0 ms"),
            "{l}"
        );
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let bars: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|d| d.has_tag_name("rect"))
            .map(|d| {
                (
                    d.attribute("x").unwrap().parse().unwrap(),
                    d.attribute("width").unwrap().parse().unwrap(),
                )
            })
            .collect();
        assert_eq!(bars.len(), 6);
        for k in 0..4 {
            let end = bars[k].0 + if k == 2 { 0.0 } else { bars[k].1 };
            assert!(
                (bars[k + 1].0 - end).abs() < 0.2,
                "phase {k} then {}: {bars:?}",
                k + 1
            );
        }
        // Hostile numbers: negative and huge values still give a well-formed chart.
        label(&waterfall([-5, i64::MAX / 4, 0, 0, 0], -1));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_us(850.0), "850 µs");
        assert_eq!(fmt_us(12_345.0), "12.3 ms");
        assert_eq!(fmt_us(250_000.0), "250 ms");
        assert_eq!(fmt_us(1_250_000.0), "1.25 s");
        assert_eq!(fmt_us(f64::NAN), "–");
    }
}
