//! DSNs and every place a client key can come from.
//!
//! All functions take plain strings (header values, query strings), never HTTP types, so they
//! work with any server framework.

use std::fmt;
use std::str::FromStr;

use crate::EnvelopeError;

/// The newest protocol version this crate understands (`sentry_version`).
pub const PROTOCOL_VERSION: u32 = 7;

/// A project's public client key (the user part of a DSN).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(String);

impl PublicKey {
    /// Checks and wraps a key: 1 to 64 characters from `[A-Za-z0-9._-]`.
    ///
    /// Sentry and Relay issue 32 hex digits; shorter keys are allowed for self-made DSNs.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidDsn`] for an empty, too long or oddly spelt key.
    pub fn parse(key: &str) -> Result<Self, EnvelopeError> {
        if key.is_empty() || key.len() > 64 {
            return Err(EnvelopeError::InvalidDsn {
                problem: "public key must be 1 to 64 characters",
            });
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(EnvelopeError::InvalidDsn {
                problem: "public key has characters other than letters, digits, '.', '_', '-'",
            });
        }
        Ok(Self(key.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PublicKey {
    type Err = EnvelopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A parsed DSN: `{scheme}://{public}[:{secret}]@{host}[:{port}]{path}/{project_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    scheme: String,
    public_key: PublicKey,
    secret_key: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
    project_id: u64,
}

impl Dsn {
    /// The scheme, `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The deprecated secret key, if the DSN has one.
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }

    /// The host (IPv6 addresses keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path prefix before the project id: empty, or starting with `/` without a trailing
    /// slash (`/sentry` for `https://k@host/sentry/42`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The numeric project id.
    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    /// Where SDKs post envelopes: `{scheme}://{host}[:{port}]{path}/api/{project_id}/envelope/`.
    pub fn envelope_url(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{port}{}/api/{}/envelope/",
            self.scheme, self.host, self.path, self.project_id
        )
    }
}

impl FromStr for Dsn {
    type Err = EnvelopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem| EnvelopeError::InvalidDsn { problem };
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").ok_or(bad("missing scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("scheme must be http or https"));
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(pos) => rest.split_at(pos),
            None => (rest, ""),
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or(bad("missing public key"))?;
        let (public, secret) = match userinfo.split_once(':') {
            Some((p, s)) => (p, (!s.is_empty()).then(|| s.to_owned())),
            None => (userinfo, None),
        };
        let public_key = PublicKey::parse(public)?;
        let (host, port) = split_host_port(hostport).ok_or(bad("invalid host or port"))?;
        let trimmed = path.trim_end_matches('/');
        let (prefix, project) = trimmed.rsplit_once('/').ok_or(bad("missing project id"))?;
        if project.is_empty() || !project.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("project id must be a number"));
        }
        let project_id = project.parse().map_err(|_| bad("project id too large"))?;
        Ok(Self {
            scheme,
            public_key,
            secret_key: secret,
            host: host.to_owned(),
            port,
            path: prefix.to_owned(),
            project_id,
        })
    }
}

fn split_host_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        let (host, rest) = hostport.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(['@', ' ', '/']) {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((host, port))
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.public_key)?;
        if let Some(secret) = &self.secret_key {
            write!(f, ":{secret}")?;
        }
        write!(f, "@{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}/{}", self.path, self.project_id)
    }
}

/// Where a key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySource {
    /// The `X-Sentry-Auth` header.
    XSentryAuth,
    /// `Authorization: Sentry ...`.
    AuthorizationSentry,
    /// `Authorization: DSN <dsn>`.
    AuthorizationDsn,
    /// `Authorization: Basic base64(<key>:<anything>)`.
    AuthorizationBasic,
    /// The `sentry_key` query parameter.
    Query,
    /// The `dsn` key of the envelope header (browser SDK tunnels).
    EnvelopeDsn,
}

impl KeySource {
    /// A short lowercase name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XSentryAuth => "x-sentry-auth",
            Self::AuthorizationSentry | Self::AuthorizationDsn | Self::AuthorizationBasic => {
                "authorization"
            }
            Self::Query => "query",
            Self::EnvelopeDsn => "envelope dsn",
        }
    }
}

/// Authentication as read from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The public key.
    pub key: PublicKey,
    /// Where it came from.
    pub source: KeySource,
    /// `sentry_version`, if sent (only the part before a `.`).
    pub version: Option<u32>,
    /// `sentry_client`, if sent (for example `sentry.python/2.0.0`).
    pub client: Option<String>,
    /// The project id, when the source was a whole DSN.
    pub project_id: Option<u64>,
}

impl Auth {
    fn from_key(key: PublicKey, source: KeySource) -> Self {
        Self {
            key,
            source,
            version: None,
            client: None,
            project_id: None,
        }
    }
}

/// Parses an `X-Sentry-Auth` value:
/// `Sentry sentry_key=<key>, sentry_version=7, sentry_client=<sdk>/<ver>[, sentry_secret=...]`.
///
/// The `Sentry ` prefix is optional and matched in any case; unknown pairs are ignored.
///
/// # Errors
///
/// [`EnvelopeError::InvalidAuth`] without a usable `sentry_key`,
/// [`EnvelopeError::UnsupportedVersion`] for `sentry_version` above [`PROTOCOL_VERSION`].
pub fn parse_x_sentry_auth(value: &str) -> Result<Auth, EnvelopeError> {
    parse_sentry_pairs(value, KeySource::XSentryAuth)
}

fn parse_sentry_pairs(value: &str, source: KeySource) -> Result<Auth, EnvelopeError> {
    let value = value.trim();
    let body = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sentry ") => &value[7..],
        _ => value,
    };
    let pairs = body.split(',').filter_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        Some((k.trim().to_owned(), v.trim().to_owned()))
    });
    auth_from_pairs(pairs, source)
}

fn auth_from_pairs(
    pairs: impl Iterator<Item = (String, String)>,
    source: KeySource,
) -> Result<Auth, EnvelopeError> {
    let name = source.as_str();
    let bad = |problem| EnvelopeError::InvalidAuth {
        source_name: name,
        problem,
    };
    let mut key = None;
    let mut version = None;
    let mut client = None;
    for (k, v) in pairs {
        match k.as_str() {
            "sentry_key" => key = Some(v),
            "sentry_version" => {
                let major = v.split('.').next().unwrap_or_default();
                version = Some(
                    major
                        .parse::<u32>()
                        .map_err(|_| bad("sentry_version is not a number"))?,
                );
            }
            "sentry_client" => client = Some(v),
            _ => {}
        }
    }
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or(bad("missing sentry_key"))?;
    let key = PublicKey::parse(&key).map_err(|_| bad("malformed sentry_key"))?;
    if let Some(version) = version
        && version > PROTOCOL_VERSION
    {
        return Err(EnvelopeError::UnsupportedVersion { version });
    }
    Ok(Auth {
        version,
        client,
        ..Auth::from_key(key, source)
    })
}

/// Parses an `Authorization` value: `Sentry <pairs>`, `DSN <dsn>` or
/// `Basic base64(<key>:<anything>)`.
///
/// Returns `Ok(None)` for other schemes (for example a `Bearer` token meant for something
/// else), so the caller can look at other sources.
///
/// # Errors
///
/// [`EnvelopeError::InvalidAuth`] or [`EnvelopeError::InvalidDsn`] when the scheme is one of
/// the three but its value is malformed.
pub fn parse_authorization(value: &str) -> Result<Option<Auth>, EnvelopeError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("sentry") {
        return parse_sentry_pairs(rest, KeySource::AuthorizationSentry).map(Some);
    }
    if scheme.eq_ignore_ascii_case("dsn") {
        let dsn: Dsn = rest.parse()?;
        return Ok(Some(Auth {
            project_id: Some(dsn.project_id),
            ..Auth::from_key(dsn.public_key, KeySource::AuthorizationDsn)
        }));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let bad = |problem| EnvelopeError::InvalidAuth {
            source_name: "authorization",
            problem,
        };
        let decoded = decode_base64(rest).ok_or(bad("basic credentials are not base64"))?;
        let text =
            String::from_utf8(decoded).map_err(|_| bad("basic credentials are not UTF-8"))?;
        let key = text.split(':').next().unwrap_or_default();
        let key = PublicKey::parse(key).map_err(|_| bad("malformed key in basic credentials"))?;
        return Ok(Some(Auth::from_key(key, KeySource::AuthorizationBasic)));
    }
    Ok(None)
}

/// Reads `sentry_key` (with `sentry_version` and `sentry_client`) from a URL query string
/// (without the leading `?`), as every JavaScript SDK sends it.
///
/// Returns `Ok(None)` when the query has no `sentry_key`.
///
/// # Errors
///
/// [`EnvelopeError::InvalidAuth`] for a malformed key or version,
/// [`EnvelopeError::UnsupportedVersion`] for a version above [`PROTOCOL_VERSION`].
pub fn parse_query(query: &str) -> Result<Option<Auth>, EnvelopeError> {
    let pairs: Vec<(String, String)> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| p.starts_with("sentry_"))
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect();
    if !pairs.iter().any(|(k, _)| k == "sentry_key") {
        return Ok(None);
    }
    auth_from_pairs(pairs.into_iter(), KeySource::Query).map(Some)
}

/// Reads the key from the `dsn` of an envelope header (see
/// [`EnvelopeHeaders::dsn`](crate::EnvelopeHeaders::dsn)).
///
/// # Errors
///
/// [`EnvelopeError::InvalidDsn`] when the DSN does not parse.
pub fn parse_envelope_dsn(dsn: &str) -> Result<Auth, EnvelopeError> {
    let dsn: Dsn = dsn.parse()?;
    Ok(Auth {
        project_id: Some(dsn.project_id),
        ..Auth::from_key(dsn.public_key, KeySource::EnvelopeDsn)
    })
}

/// The raw places a request may carry a key; fill in what the request has.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthSources<'a> {
    /// Value of the `X-Sentry-Auth` header.
    pub x_sentry_auth: Option<&'a str>,
    /// Value of the `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The URL query string.
    pub query: Option<&'a str>,
    /// The `dsn` key of the envelope header.
    pub envelope_dsn: Option<&'a str>,
}

impl AuthSources<'_> {
    /// Finds the key.
    ///
    /// Header and query sources win over the envelope `dsn`, which is used only when none of
    /// them carries a key (as Relay does). Several sources are accepted when they name the
    /// same key; if the envelope `dsn` is present too, its key must match.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::MissingKey`] when no source has a key,
    /// [`EnvelopeError::ConflictingKeys`] when two disagree, or the parse error of a
    /// malformed source.
    pub fn resolve(&self) -> Result<Auth, EnvelopeError> {
        let mut found: Option<Auth> = None;
        let mut candidates = Vec::with_capacity(3);
        if let Some(v) = self.x_sentry_auth {
            candidates.push(parse_x_sentry_auth(v)?);
        }
        if let Some(v) = self.authorization
            && let Some(auth) = parse_authorization(v)?
        {
            candidates.push(auth);
        }
        if let Some(q) = self.query
            && let Some(auth) = parse_query(q)?
        {
            candidates.push(auth);
        }
        for auth in candidates {
            match &found {
                Some(first) if first.key != auth.key => {
                    return Err(EnvelopeError::ConflictingKeys {
                        first: first.source.as_str(),
                        second: auth.source.as_str(),
                    });
                }
                Some(_) => {}
                None => found = Some(auth),
            }
        }
        let from_dsn = self.envelope_dsn.map(parse_envelope_dsn).transpose()?;
        match (found, from_dsn) {
            (Some(first), Some(dsn)) if first.key != dsn.key => {
                Err(EnvelopeError::ConflictingKeys {
                    first: first.source.as_str(),
                    second: dsn.source.as_str(),
                })
            }
            (Some(first), Some(dsn)) => Ok(Auth {
                project_id: first.project_id.or(dsn.project_id),
                ..first
            }),
            (Some(first), None) => Ok(first),
            (None, Some(dsn)) => Ok(dsn),
            (None, None) => Err(EnvelopeError::MissingKey),
        }
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in text.trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
