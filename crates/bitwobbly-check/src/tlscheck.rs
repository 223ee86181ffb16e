//! The tlscheck probe.

use bitwobbly_core::{CheckError, TlsSpec};

use crate::checker::{Checker, Run};

/// Runs a tlscheck check, recording what it learns in `run`.
pub(crate) async fn run(_checker: &Checker, spec: &TlsSpec, _run: &mut Run) -> Result<(), CheckError> {
    todo!("{spec:?}")
}
