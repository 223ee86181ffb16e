//! The dns probe.

use bitwobbly_core::{CheckError, DnsSpec};

use crate::checker::{Checker, Run};

/// Runs a dns check, recording what it learns in `run`.
pub(crate) async fn run(_checker: &Checker, spec: &DnsSpec, _run: &mut Run) -> Result<(), CheckError> {
    todo!("{spec:?}")
}
