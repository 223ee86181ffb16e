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
    ///
    /// `[2].pattern` within `assertions` becomes `assertions[2].pattern`, `url` within
    /// `http` becomes `http.url`, and an empty field (the part itself) becomes `parent`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_joins_named_fields_with_a_dot() {
        assert_eq!(
            SpecError::new("max", "x").within("redirects").field,
            "redirects.max"
        );
    }

    #[test]
    fn within_joins_indexes_directly() {
        let e = SpecError::new("[2].pattern", "x").within("assertions");
        assert_eq!(e.field, "assertions[2].pattern");
    }

    #[test]
    fn within_an_empty_field_is_the_parent() {
        assert_eq!(SpecError::new("", "x").within("[4]").field, "[4]");
    }

    #[test]
    fn display_names_field_and_problem() {
        assert_eq!(
            SpecError::new("url", "has no host").to_string(),
            "invalid `url`: has no host"
        );
    }
}
