//! Errors for invalid check specifications.

/// A check specification that cannot be run, naming the field at fault.
///
/// `field` is a dotted path into the spec as a user wrote it, for example `url`,
/// `assertions[2].pattern` or `timeout`, so that a CLI or API can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {problem}")]
#[non_exhaustive]
pub struct SpecError {
    /// Dotted path of the offending field.
    pub field: String,
    /// What is wrong with it, as a lowercase fragment.
    pub problem: String,
}

impl SpecError {
    /// Builds an error for `field` with a description of the `problem`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Prefixes the field path, used when a nested part is validated on its own.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}
