//! The tcp probe.

use bitwobbly_core::{CheckError, TcpSpec};

use crate::checker::{Checker, Run};

/// Runs a tcp check, recording what it learns in `run`.
pub(crate) async fn run(_checker: &Checker, spec: &TcpSpec, _read_banner: bool, _run: &mut Run) -> Result<(), CheckError> {
    todo!("{spec:?}")
}
