//! Grouping: a stable fingerprint hash for an event.
//!
//! See the crate documentation for the algorithm.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::extract::{EventInfo, Frame};

/// Version of the algorithm; stored next to every hash. Changing the algorithm means a new
/// version, never a silent change.
pub const GROUPING_VERSION: &str = "bitwobbly-1";

/// The result of grouping one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// Lowercase hex SHA-256 over the length-prefixed components.
    pub hash: String,
    /// Which rule produced the components.
    pub basis: GroupingBasis,
    /// The components, readable, for debugging ("why are these two grouped?").
    pub components: Vec<String>,
}

/// Which rule grouped an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupingBasis {
    /// An explicit `fingerprint` from the client.
    Fingerprint,
    /// Exception types plus in-app frames.
    Stacktrace,
    /// Exception type plus normalised value.
    Exception,
    /// Normalised message.
    Message,
    /// Nothing usable: every such event shares one group.
    Fallback,
}

static DEFAULT_VAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\{\{\s*(\S+?)\s*\}\}$").expect("valid regex"));

/// Computes the grouping of an event.
pub fn group(event: &EventInfo<'_>) -> Grouping {
    let (basis, default) = default_components(event);
    let Some(fingerprint) = event.fingerprint.as_ref().filter(|f| !f.is_empty()) else {
        return finish(basis, default);
    };
    let mut components = Vec::new();
    for part in fingerprint {
        match DEFAULT_VAR
            .captures(part)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str())
        {
            Some("default") => components.extend(default.iter().cloned()),
            Some(var) => components.push(resolve_variable(event, var)),
            None => components.push(part.to_string()),
        }
    }
    let only_default = fingerprint.len() == 1
        && DEFAULT_VAR
            .captures(&fingerprint[0])
            .is_some_and(|c| &c[1] == "default");
    if only_default {
        return finish(basis, default);
    }
    finish(GroupingBasis::Fingerprint, components)
}

fn finish(basis: GroupingBasis, components: Vec<String>) -> Grouping {
    let mut hasher = Sha256::new();
    hasher.update(GROUPING_VERSION.as_bytes());
    for c in &components {
        hasher.update((c.len() as u64).to_le_bytes());
        hasher.update(c.as_bytes());
    }
    let digest = hasher.finalize();
    let hash = digest.iter().map(|b| format!("{b:02x}")).collect();
    Grouping {
        hash,
        basis,
        components,
    }
}

fn resolve_variable(event: &EventInfo<'_>, var: &str) -> String {
    let crash_frame = || {
        event.primary_exception().and_then(|e| {
            e.frames
                .iter()
                .rev()
                .find(|f| f.in_app == Some(true))
                .or(e.frames.last())
        })
    };
    let value = match var {
        "transaction" => event.transaction.as_deref().map(str::to_owned),
        "type" | "error.type" => event
            .primary_exception()
            .and_then(|e| e.ty.as_deref())
            .map(str::to_owned),
        "level" => event.level.as_deref().map(str::to_owned),
        "logger" => event.logger.as_deref().map(str::to_owned),
        "function" | "stack.function" => crash_frame()
            .and_then(|f| f.function.as_deref())
            .map(normalize_function),
        "module" | "stack.module" => crash_frame()
            .and_then(|f| f.module.as_deref())
            .map(str::to_owned),
        "message" => event.message.as_deref().map(normalize_message),
        _ => None,
    };
    value.unwrap_or_else(|| format!("<no-{var}>"))
}

fn default_components(event: &EventInfo<'_>) -> (GroupingBasis, Vec<String>) {
    if !event.exceptions.is_empty() {
        let mut with_frames = Vec::new();
        for exc in &event.exceptions {
            let frames = grouping_frames(&exc.frames);
            if frames.is_empty() {
                continue;
            }
            if !exc.synthetic
                && let Some(ty) = &exc.ty
            {
                with_frames.push(format!("type:{ty}"));
            }
            with_frames.extend(frames.into_iter().map(|f| format!("frame:{f}")));
        }
        if !with_frames.is_empty() {
            return (GroupingBasis::Stacktrace, with_frames);
        }
        let mut parts = Vec::new();
        for exc in &event.exceptions {
            if let Some(ty) = exc.ty.as_deref().filter(|_| !exc.synthetic) {
                parts.push(format!("type:{ty}"));
            }
            if let Some(value) = &exc.value {
                parts.push(format!("value:{}", normalize_message(value)));
            }
        }
        if !parts.is_empty() {
            return (GroupingBasis::Exception, parts);
        }
    }
    if let Some(message) = event.message.as_deref().filter(|m| !m.trim().is_empty()) {
        return (
            GroupingBasis::Message,
            vec![format!("message:{}", normalize_message(message))],
        );
    }
    (GroupingBasis::Fallback, vec!["fallback".to_owned()])
}

/// In-app frames (all frames if none is in-app) as `location|function`, with consecutive
/// repeats (recursion) collapsed.
fn grouping_frames(frames: &[Frame<'_>]) -> Vec<String> {
    let any_in_app = frames.iter().any(|f| f.in_app == Some(true));
    let mut out: Vec<String> = Vec::new();
    for frame in frames
        .iter()
        .filter(|f| !any_in_app || f.in_app == Some(true))
    {
        let location = frame_location(frame);
        let function = frame
            .function
            .as_deref()
            .map(normalize_function)
            .unwrap_or_default();
        if location.is_empty() && function.is_empty() {
            continue;
        }
        let key = format!("{location}|{function}");
        if out.last() != Some(&key) {
            out.push(key);
        }
    }
    out
}

fn frame_location(frame: &Frame<'_>) -> String {
    if let Some(module) = frame.module.as_deref().filter(|m| !m.is_empty()) {
        return normalize_module(module);
    }
    let Some(filename) = frame.filename.as_deref() else {
        return String::new();
    };
    if filename.contains("://") || filename == "<anonymous>" || filename == "[native code]" {
        return String::new();
    }
    filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(filename)
        .to_lowercase()
}

static MODULE_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9a-f]{8,}|\d+").expect("valid regex"));

fn normalize_module(module: &str) -> String {
    // Bundlers and class generators put hashes and counters into module names.
    MODULE_HASH.replace_all(module, "<n>").into_owned()
}

static FUNCTION_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\$\$Lambda\$\d+/(0x)?[0-9a-f]+|\$\$EnhancerByCGLIB\$\$[0-9a-f]+|\$fn__\d+|__\d{4,}_\d{4,}|\$\d+|\{closure#\d+\}|::h[0-9a-f]{16}$)")
        .expect("valid regex")
});

/// Normalises a function name: strips generated suffixes (lambda ids, closure counters, Rust
/// symbol hashes) and a leading `Object.`.
pub fn normalize_function(function: &str) -> String {
    let f = function.trim();
    if matches!(f, "?" | "<anonymous>" | "<unknown>" | "<redacted>") {
        return String::new();
    }
    let f = f.strip_prefix("Object.").unwrap_or(f);
    FUNCTION_NOISE.replace_all(f, "").into_owned()
}

/// Patterns replaced by placeholders, in order: earlier patterns win.
static PARAMETERS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[\w.+-]+@[\w-]+(\.[\w-]+)+", "<email>"),
        (r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+", "<url>"),
        (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<uuid>"),
        (
            r"\b\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\b",
            "<date>",
        ),
        (r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b", "<time>"),
        (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?\b", "<ip>"),
        (r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}\b|\b(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}\b", "<ip>"),
        (r"\b[0-9a-fA-F]{40}\b", "<sha1>"),
        (r"\b[0-9a-fA-F]{32}\b", "<md5>"),
        (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
        (r"\b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b", "<hex>"),
        (r"\b\d+(\.\d+)?(ms|s|m|h)\b", "<duration>"),
        (r"-?\b\d+\.\d+\b", "<float>"),
        (r"-?\b\d+\b", "<int>"),
    ]
    .into_iter()
    .map(|(re, name)| (Regex::new(re).expect("valid regex"), name))
    .collect()
});

/// Normalises a message for grouping: keeps the first two non-empty lines (adding `...` when
/// more were cut) and replaces emails, URLs, UUIDs, dates and times, IPv4/IPv6 addresses,
/// SHA-1/MD5 digests, hex ids, durations, floats and integers with placeholders such as
/// `<int>`.
pub fn normalize_message(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut text: String = lines.by_ref().take(2).collect::<Vec<_>>().join("\n");
    if lines.next().is_some() {
        text.push_str("...");
    }
    let mut current: Cow<'_, str> = Cow::Owned(text);
    for (re, name) in PARAMETERS.iter() {
        if let Cow::Owned(s) = re.replace_all(&current, *name) {
            current = Cow::Owned(s);
        }
    }
    current.into_owned()
}
