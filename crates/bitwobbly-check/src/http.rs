//! The http probe.

use bitwobbly_core::{CheckError, HttpSpec};

use crate::checker::{Checker, Run};

/// Runs a http check, recording what it learns in `run`.
pub(crate) async fn run(_checker: &Checker, spec: &HttpSpec, _run: &mut Run) -> Result<(), CheckError> {
    todo!("{spec:?}")
}
