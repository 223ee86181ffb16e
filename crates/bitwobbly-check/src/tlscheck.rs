//! The TLS probe: connect, handshake, report the certificate.

use bitwobbly_core::{CheckError, TlsSpec};

use crate::checker::{Checker, Run};
use crate::{connect, tls};

/// Runs a TLS check: resolves and connects, then performs a handshake without ALPN.
///
/// `run.cert` holds the presented certificate's facts afterwards, also when the
/// certificate was rejected (the error then says why).
pub(crate) async fn run(
    checker: &Checker,
    spec: &TlsSpec,
    run: &mut Run,
) -> Result<(), CheckError> {
    let tcp = connect::open(checker, &spec.host, spec.port, spec.ip, &spec.resolver, run).await?;
    let _stream = tls::handshake(checker, tcp, &spec.host, &spec.tls, &[], run).await?;
    Ok(())
}
