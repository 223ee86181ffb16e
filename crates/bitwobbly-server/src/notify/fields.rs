//! Reading a channel's JSON settings field by field, with errors that name the field
//! (`config.url`, `config.smtp.port`).

use serde_json::{Map, Value};
use url::Url;

use crate::error::ApiError;

/// One JSON object of settings at `path` (`config`, `config.smtp`).
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// The object at `path`, refusing keys other than `known`.
    pub(crate) fn new(value: &'a Value, path: &str, known: &[&str]) -> Result<Self, ApiError> {
        let Some(obj) = value.as_object() else {
            return Err(ApiError::invalid(path, "must be a JSON object"));
        };
        if let Some(unknown) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::invalid(
                format!("{path}.{unknown}"),
                format!("unknown field; expected one of: {}", known.join(", ")),
            ));
        }
        Ok(Self {
            obj,
            path: path.to_owned(),
        })
    }

    /// The path of `name` inside this object.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// The error for `name`.
    pub(crate) fn invalid(&self, name: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(self.path(name), message)
    }

    /// The raw value of `name`, `None` when absent or `null`.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// A required non-empty string.
    pub(crate) fn string(&self, name: &str) -> Result<&'a str, ApiError> {
        self.opt_string(name)?
            .ok_or_else(|| self.invalid(name, "is required"))
    }

    /// An optional string; present means non-empty.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(self.invalid(name, "must not be empty"))
            }
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(name, "must be a string")),
        }
    }

    /// A required `http` or `https` URL with a host.
    pub(crate) fn http_url(&self, name: &str) -> Result<Url, ApiError> {
        let raw = self.string(name)?;
        parse_http_url(raw).map_err(|m| self.invalid(name, m))
    }

    /// An optional `http`/`https` URL.
    pub(crate) fn opt_http_url(&self, name: &str) -> Result<Option<Url>, ApiError> {
        match self.opt_string(name)? {
            None => Ok(None),
            Some(raw) => parse_http_url(raw)
                .map(Some)
                .map_err(|m| self.invalid(name, m)),
        }
    }

    /// A nested object.
    pub(crate) fn object(&self, name: &str, known: &[&str]) -> Result<Self, ApiError> {
        match self.get(name) {
            None => Err(self.invalid(name, "is required")),
            Some(v) => Self::new(v, &self.path(name), known),
        }
    }
}

/// Parses an `http`/`https` URL with a host and no user information.
fn parse_http_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must be an http or https URL, not {}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user information; use the token settings".to_owned());
    }
    Ok(url)
}
