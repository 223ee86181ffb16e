//! The usage error: a flag or argument with a bad value.

/// A command line that cannot run: exit status 2.
///
/// It names the flag (or `<TARGET>`) at fault so the user can find it, and displays as
/// `invalid --timeout "5 parsecs": unknown time unit "parsecs", ...` when there is a
/// value, or as `--send only applies to tcp:// targets` when the flag itself is the
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct UsageError {
    /// The flag as typed, long form (e.g. `--timeout`), or `<TARGET>`.
    pub flag: String,
    /// The value given, when the value is what is wrong.
    pub value: Option<String>,
    /// What is wrong, as a lowercase fragment.
    pub problem: String,
}

impl UsageError {
    /// A bad `value` for `flag`.
    pub fn invalid(
        flag: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            flag: flag.into(),
            value: Some(value.into()),
            problem: problem.into(),
        }
    }

    /// A flag that cannot be used as given (e.g. it does not apply to the target).
    pub fn flag(flag: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            flag: flag.into(),
            value: None,
            problem: problem.into(),
        }
    }

    fn render(&self) -> String {
        match &self.value {
            Some(v) => format!("invalid {} {v:?}: {}", self.flag, self.problem),
            None => format!("{} {}", self.flag, self.problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_flag_value_and_problem() {
        let e = UsageError::invalid("--timeout", "5 parsecs", "unknown unit");
        assert_eq!(
            e.to_string(),
            r#"invalid --timeout "5 parsecs": unknown unit"#
        );
    }

    #[test]
    fn displays_flag_only() {
        let e = UsageError::flag("--send", "only applies to tcp:// targets");
        assert_eq!(e.to_string(), "--send only applies to tcp:// targets");
    }
}
