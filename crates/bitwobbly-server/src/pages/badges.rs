//! Status, uptime and response-time badges of a page and of its components, as SVG and as the
//! shields.io endpoint JSON, rendered from the page's [`Snapshot`].
//!
//! Paths (under `/s/{slug}`, or at the root of a custom domain):
//!
//! | path | shows |
//! | --- | --- |
//! | `badge/status.svg` | the page's overall status |
//! | `badge/uptime-24h.svg`, `uptime-7d.svg`, `uptime-30d.svg` | mean uptime of the components whose uptime is shown |
//! | `badge/response-time.svg` | mean response time (24 h) of the components whose response times are shown |
//! | `components/{id}/badge/...` | the same for one component |
//!
//! Each also answers as `.json` in the [shields.io endpoint] shape
//! (`{"schemaVersion":1,"label":...,"message":...,"color":...}`). A component that hides its
//! uptime bar or its response times has no such badge (404); without data the message is
//! `no data`.
//!
//! The SVG is the "flat" badge: its width is computed from the text (Verdana 11 px advance
//! widths), it carries `role="img"`, an `aria-label` and a `<title>`, and its colours keep white
//! text readable (contrast at least 4.5:1).
//!
//! [shields.io endpoint]: https://shields.io/badges/endpoint-badge

use std::fmt::Write as _;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use bitwobbly_store::types::{ComponentId, ComponentStatus};
use serde::{Deserialize, Serialize};

use super::PublicPage;
use super::snapshot::{ComponentView, Indicator, Snapshot};
use crate::error::ApiError;
use crate::state::AppState;

/// The badge routes, relative to a page.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/badge/{name}", get(page_badge))
        .route("/components/{id}/badge/{name}", get(component_badge))
}

/// The path parameters of a badge (the page's `slug`, when there is one, is ignored here).
#[derive(Debug, Deserialize)]
struct BadgePath {
    name: String,
    id: Option<String>,
}

async fn page_badge(page: PublicPage, Path(p): Path<BadgePath>, req: HeaderMap) -> Response {
    let Some((kind, format)) = parse_name(&p.name) else {
        return ApiError::not_found("badge").into_response();
    };
    if Badge::for_page(&page.snapshot, kind).is_none() {
        return ApiError::not_found("badge").into_response();
    }
    let key = format!("badge/{}", p.name);
    page.respond(&req, &key, format.content_type(), |s| {
        Badge::for_page(s, kind).map_or_else(Vec::new, |b| b.render(format))
    })
}

async fn component_badge(page: PublicPage, Path(p): Path<BadgePath>, req: HeaderMap) -> Response {
    let Some((kind, format)) = parse_name(&p.name) else {
        return ApiError::not_found("badge").into_response();
    };
    let Some(id) = p.id.as_deref().and_then(|id| id.parse::<i64>().ok()) else {
        return ApiError::not_found("component").into_response();
    };
    let id = ComponentId(id);
    let Some(component) = page.snapshot.component(id) else {
        return ApiError::not_found("component").into_response();
    };
    if Badge::for_component(component, kind).is_none() {
        return ApiError::not_found("badge").into_response();
    }
    let key = format!("components/{}/badge/{}", id.0, p.name);
    page.respond(&req, &key, format.content_type(), |s| {
        s.component(id)
            .and_then(|c| Badge::for_component(c, kind))
            .map_or_else(Vec::new, |b| b.render(format))
    })
}

/// Which badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadgeKind {
    /// Current status.
    Status,
    /// Uptime over the last 24 hours.
    Uptime24h,
    /// Uptime over the last 7 days.
    Uptime7d,
    /// Uptime over the last 30 days.
    Uptime30d,
    /// Mean response time over the last 24 hours.
    ResponseTime,
}

/// The two encodings of a badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadgeFormat {
    /// `image/svg+xml`.
    Svg,
    /// The shields.io endpoint JSON.
    Shields,
}

impl BadgeFormat {
    /// The `Content-Type` of this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Svg => "image/svg+xml; charset=utf-8",
            Self::Shields => "application/json",
        }
    }
}

/// Parses a badge file name: `status.svg`, `uptime-24h.json`, ... `None` for anything else.
pub fn parse_name(name: &str) -> Option<(BadgeKind, BadgeFormat)> {
    let (stem, format) = if let Some(stem) = name.strip_suffix(".svg") {
        (stem, BadgeFormat::Svg)
    } else if let Some(stem) = name.strip_suffix(".json") {
        (stem, BadgeFormat::Shields)
    } else {
        return None;
    };
    let kind = match stem {
        "status" => BadgeKind::Status,
        "uptime-24h" => BadgeKind::Uptime24h,
        "uptime-7d" => BadgeKind::Uptime7d,
        "uptime-30d" => BadgeKind::Uptime30d,
        "response-time" => BadgeKind::ResponseTime,
        _ => return None,
    };
    Some((kind, format))
}

/// A badge's colour: the SVG fill and the shields.io named colour closest to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    /// `#rrggbb`, dark enough for white text.
    pub hex: &'static str,
    /// The shields.io named colour.
    pub named: &'static str,
}

/// Working, or uptime of at least 99.9 %.
pub const GREEN: Color = Color {
    hex: "#1e7b34",
    named: "brightgreen",
};
/// Uptime of at least 99 %.
pub const YELLOW_GREEN: Color = Color {
    hex: "#4d7c0f",
    named: "yellowgreen",
};
/// Degraded, or uptime of at least 95 %.
pub const YELLOW: Color = Color {
    hex: "#8a5a00",
    named: "yellow",
};
/// A partial outage.
pub const ORANGE: Color = Color {
    hex: "#c2410c",
    named: "orange",
};
/// A major outage, or uptime under 95 %.
pub const RED: Color = Color {
    hex: "#b91c1c",
    named: "red",
};
/// Maintenance, and response times.
pub const BLUE: Color = Color {
    hex: "#1d4ed8",
    named: "blue",
};
/// No data.
pub const GREY: Color = Color {
    hex: "#595959",
    named: "lightgrey",
};
/// The label side.
pub const LABEL: &str = "#3d3d3d";

/// A badge's content: what it says and in which colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Left side.
    pub label: String,
    /// Right side.
    pub message: String,
    /// Right side's colour.
    pub color: Color,
}

/// Longest label kept (a long component name is cut with `…`).
const MAX_LABEL_CHARS: usize = 40;

impl Badge {
    fn new(label: &str, message: impl Into<String>, color: Color) -> Self {
        let label = if label.chars().count() > MAX_LABEL_CHARS {
            let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
            cut.push('…');
            cut
        } else {
            label.to_owned()
        };
        Self {
            label,
            message: message.into(),
            color,
        }
    }

    /// The page-wide badge of `kind`; `None` when the page shows nothing of that kind (no
    /// component shows uptime or response times).
    pub fn for_page(snapshot: &Snapshot, kind: BadgeKind) -> Option<Self> {
        match kind {
            BadgeKind::Status => {
                let (message, color) = match snapshot.overall.indicator {
                    Indicator::None => ("operational", GREEN),
                    Indicator::Minor => ("degraded", YELLOW),
                    Indicator::Major => ("partial outage", ORANGE),
                    Indicator::Critical => ("major outage", RED),
                    Indicator::Maintenance => ("maintenance", BLUE),
                };
                Some(Self::new("status", message, color))
            }
            BadgeKind::Uptime24h | BadgeKind::Uptime7d | BadgeKind::Uptime30d => {
                let shown: Vec<&ComponentView> = snapshot
                    .components
                    .iter()
                    .filter(|c| c.show_uptime && c.monitor_id.is_some())
                    .collect();
                if shown.is_empty() {
                    return None;
                }
                let values: Vec<f64> = shown.iter().filter_map(|c| uptime_of(c, kind)).collect();
                Some(uptime_badge(kind, mean(&values)))
            }
            BadgeKind::ResponseTime => {
                let shown: Vec<&ComponentView> = snapshot
                    .components
                    .iter()
                    .filter(|c| c.show_response_times && c.monitor_id.is_some())
                    .collect();
                if shown.is_empty() {
                    return None;
                }
                let values: Vec<f64> = shown
                    .iter()
                    .filter_map(|c| c.response.map(|r| r.mean_ms))
                    .collect();
                Some(response_badge(mean(&values)))
            }
        }
    }

    /// The badge of `kind` for one component; `None` when the component hides that kind
    /// (uptime bar or response times off, or no monitor behind it).
    pub fn for_component(component: &ComponentView, kind: BadgeKind) -> Option<Self> {
        match kind {
            BadgeKind::Status => {
                let (message, color) = status_words(component.status);
                Some(Self::new(&component.name, message, color))
            }
            BadgeKind::Uptime24h | BadgeKind::Uptime7d | BadgeKind::Uptime30d => {
                if !component.show_uptime || component.monitor_id.is_none() {
                    return None;
                }
                Some(uptime_badge(kind, uptime_of(component, kind)))
            }
            BadgeKind::ResponseTime => {
                if !component.show_response_times || component.monitor_id.is_none() {
                    return None;
                }
                Some(response_badge(component.response.map(|r| r.mean_ms)))
            }
        }
    }

    /// The badge in `format`.
    pub fn render(&self, format: BadgeFormat) -> Vec<u8> {
        match format {
            BadgeFormat::Svg => self.svg().into_bytes(),
            BadgeFormat::Shields => self.shields_json(),
        }
    }

    /// The shields.io endpoint JSON (`schemaVersion` 1, `label`, `message`, `color`,
    /// `cacheSeconds`), with no other key: shields.io refuses unknown ones.
    pub fn shields_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Endpoint<'a> {
            schema_version: u8,
            label: &'a str,
            message: &'a str,
            color: &'a str,
            cache_seconds: u32,
        }
        serde_json::to_vec(&Endpoint {
            schema_version: 1,
            label: &self.label,
            message: &self.message,
            color: self.color.named,
            cache_seconds: 300,
        })
        .unwrap_or_default()
    }

    /// The flat SVG badge.
    pub fn svg(&self) -> String {
        const PAD: f64 = 5.0;
        let label_w = (text_width(&self.label) + 2.0 * PAD).round();
        let message_w = (text_width(&self.message) + 2.0 * PAD).round();
        let width = label_w + message_w;
        let label = escape(&self.label);
        let message = escape(&self.message);
        let title = format!("{label}: {message}");
        let label_x = label_w / 2.0;
        let message_x = label_w + message_w / 2.0;
        let mut s = String::with_capacity(1024);
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"20\" \
             viewBox=\"0 0 {width} 20\" role=\"img\" aria-label=\"{title}\">\
             <title>{title}</title>\
             <linearGradient id=\"s\" x2=\"0\" y2=\"100%\">\
             <stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/>\
             <stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
             <clipPath id=\"r\"><rect width=\"{width}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>\
             <g clip-path=\"url(#r)\">\
             <rect width=\"{label_w}\" height=\"20\" fill=\"{LABEL}\"/>\
             <rect x=\"{label_w}\" width=\"{message_w}\" height=\"20\" fill=\"{color}\"/>\
             <rect width=\"{width}\" height=\"20\" fill=\"url(#s)\"/></g>\
             <g fill=\"#fff\" text-anchor=\"middle\" \
             font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\" aria-hidden=\"true\">\
             <text x=\"{label_x}\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\">{label}</text>\
             <text x=\"{label_x}\" y=\"14\">{label}</text>\
             <text x=\"{message_x}\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\">{message}</text>\
             <text x=\"{message_x}\" y=\"14\">{message}</text></g></svg>",
            color = self.color.hex,
        );
        s
    }
}

/// What a component status says and its colour.
fn status_words(status: ComponentStatus) -> (&'static str, Color) {
    match status {
        ComponentStatus::Operational => ("operational", GREEN),
        ComponentStatus::DegradedPerformance => ("degraded", YELLOW),
        ComponentStatus::PartialOutage => ("partial outage", ORANGE),
        ComponentStatus::MajorOutage => ("major outage", RED),
        ComponentStatus::UnderMaintenance => ("maintenance", BLUE),
    }
}

fn uptime_of(c: &ComponentView, kind: BadgeKind) -> Option<f64> {
    match kind {
        BadgeKind::Uptime24h => c.uptime_24h,
        BadgeKind::Uptime7d => c.uptime_7d,
        BadgeKind::Uptime30d => c.uptime_30d,
        BadgeKind::Status | BadgeKind::ResponseTime => None,
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

fn uptime_badge(kind: BadgeKind, uptime: Option<f64>) -> Badge {
    let label = match kind {
        BadgeKind::Uptime7d => "uptime 7d",
        BadgeKind::Uptime30d => "uptime 30d",
        _ => "uptime 24h",
    };
    match uptime {
        None => Badge::new(label, "no data", GREY),
        Some(u) => {
            let color = if u >= 99.9 {
                GREEN
            } else if u >= 99.0 {
                YELLOW_GREEN
            } else if u >= 95.0 {
                YELLOW
            } else {
                RED
            };
            Badge::new(label, format_percent(u), color)
        }
    }
}

fn response_badge(ms: Option<f64>) -> Badge {
    match ms {
        None => Badge::new("response time", "no data", GREY),
        Some(ms) => Badge::new("response time", format_ms(ms), BLUE),
    }
}

/// `100%`, `99.95%`, `97.5%`: cut (never rounded up) to two decimals, so 99.999 % is not
/// shown as 100 %.
pub fn format_percent(p: f64) -> String {
    let p = if p.is_finite() {
        p.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let hundredths = (p * 100.0).floor() as u64;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    if frac == 0 {
        format!("{whole}%")
    } else if frac % 10 == 0 {
        format!("{whole}.{}%", frac / 10)
    } else {
        format!("{whole}.{frac:02}%")
    }
}

/// `87 ms`, `1.24 s`.
pub fn format_ms(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 1000.0 {
        format!("{} ms", ms.round() as u64)
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Escapes text for XML content and attribute values, dropping characters XML 1.0 forbids.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Verdana 11 px advance widths of the printable ASCII characters (space to `~`), in units
/// of 1/2048 em.
const VERDANA_UNITS: [u16; 95] = [
    720, 823, 1000, 1716, 1304, 2216, 1493, 556, 909, 909, 1304, 1716, 745, 909, 745,
    909, // sp..'/'
    1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, // 0-9
    909, 909, 1716, 1716, 1716, 1120, 2048, // ':'..'@'
    1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 862, 929, 1412, 1145, 1726, // A-M
    1532, 1612, 1235, 1612, 1423, 1401, 1243, 1503, 1401, 2025, 1403, 1240, 1403, // N-Z
    909, 909, 909, 1716, 1304, 1304, // '['..'`'
    1227, 1276, 1067, 1276, 1219, 721, 1276, 1296, 563, 704, 1196, 563, 1993, // a-m
    1296, 1233, 1276, 1276, 874, 1067, 807, 1296, 1196, 1665, 1196, 1196, 1081, // n-z
    1300, 909, 1300, 1716, // '{'..'~'
];

/// The rendered width of `text` in Verdana 11 px (other characters count as a wide letter).
pub fn text_width(text: &str) -> f64 {
    let units: u32 = text
        .chars()
        .map(|c| {
            let i = (c as u32).wrapping_sub(0x20);
            VERDANA_UNITS
                .get(i as usize)
                .map_or(1612, |u| u32::from(*u))
        })
        .sum();
    f64::from(units) * 11.0 / 2048.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance(hex: &str) -> f64 {
        let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
        let ch = |shift: u32| {
            let c = f64::from((v >> shift) & 0xff) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(16) + 0.7152 * ch(8) + 0.0722 * ch(0)
    }

    #[test]
    fn every_colour_keeps_white_text_readable() {
        for hex in [
            GREEN.hex,
            YELLOW_GREEN.hex,
            YELLOW.hex,
            ORANGE.hex,
            RED.hex,
            BLUE.hex,
            GREY.hex,
            LABEL,
        ] {
            let contrast = 1.05 / (luminance(hex) + 0.05);
            assert!(contrast >= 4.5, "{hex}: {contrast:.2}");
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_name("status.svg"),
            Some((BadgeKind::Status, BadgeFormat::Svg))
        );
        assert_eq!(
            parse_name("uptime-30d.json"),
            Some((BadgeKind::Uptime30d, BadgeFormat::Shields))
        );
        for bad in [
            "",
            "status",
            "status.png",
            "uptime-1y.svg",
            ".svg",
            "status.svg.svg",
            "../status.svg",
            "STATUS.SVG",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn percentages_are_cut_not_rounded_up() {
        assert_eq!(format_percent(100.0), "100%");
        assert_eq!(format_percent(99.999), "99.99%");
        assert_eq!(format_percent(99.5), "99.5%");
        assert_eq!(format_percent(97.05), "97.05%");
        assert_eq!(format_percent(0.0), "0%");
        assert_eq!(format_percent(f64::NAN), "0%");
        assert_eq!(format_percent(250.0), "100%");
        assert_eq!(format_ms(87.4), "87 ms");
        assert_eq!(format_ms(1234.0), "1.23 s");
        assert_eq!(format_ms(f64::INFINITY), "0 ms");
    }

    #[test]
    fn width_grows_with_the_text() {
        let short = Badge::new("status", "up", GREEN).svg();
        let long = Badge::new("status", "major outage", RED).svg();
        let width = |svg: &str| -> f64 {
            let start = svg.find("width=\"").unwrap() + 7;
            svg[start..start + svg[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        assert!(width(&long) > width(&short) + 50.0);
        // Digits are 7 px wide in Verdana 11 px.
        assert!((text_width("0123456789") - 69.9).abs() < 0.2);
        // Anything outside ASCII still takes room.
        assert!(text_width("日本") > 15.0);
    }

    #[test]
    fn hostile_text_is_escaped_and_labels_are_capped() {
        let b = Badge::new(
            &format!("<script>&\"'\u{0}{}", "x".repeat(100)),
            "a</text>",
            RED,
        );
        assert_eq!(b.label.chars().count(), MAX_LABEL_CHARS);
        let svg = b.svg();
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("a</text>"));
        assert!(!svg.contains('\u{0}'));
        assert!(svg.contains("&lt;script&gt;&amp;&quot;&apos;"));
    }

    #[test]
    fn shields_json_has_only_the_allowed_keys() {
        let json: serde_json::Value =
            serde_json::from_slice(&Badge::new("uptime 24h", "99.9%", GREEN).shields_json())
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "schemaVersion": 1,
                "label": "uptime 24h",
                "message": "99.9%",
                "color": "brightgreen",
                "cacheSeconds": 300,
            })
        );
    }
}
