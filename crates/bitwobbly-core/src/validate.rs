//! Field-by-field validation of check specs.

use crate::error::SpecError;
use crate::spec::CheckSpec;

/// Checks every field of `spec` except the assertions (see
/// [`crate::assert::CompiledAssertions::compile`]).
pub(crate) fn validate(spec: &CheckSpec) -> Result<(), SpecError> {
    todo!("{spec:?}")
}
