//! rustls client configurations, shared by all checks, and certificate facts.
//!
//! Configurations are built once per distinct set of TLS options and cached in
//! [`TlsConfigs`]. Every handshake wraps the certificate verifier in a
//! [`CapturingVerifier`] that records the facts of the presented leaf before it is
//! judged, so that a check reports the certificate of a server it rejects (expired,
//! unknown issuer, wrong name) as well as of one it accepts.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bitwobbly_core::{CertFacts, CheckError, ErrorKind, Phase, TlsOptions};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion,
    RootCertStore, SignatureScheme,
};
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::checker::{Checker, Run};
use crate::resolve::parse_ip_literal;

/// Past this many distinct configurations the cache starts over, so that a stream of
/// one-off CA bundles cannot grow it without bound.
const MAX_CACHED_CONFIGS: usize = 512;

/// Client configurations keyed by the TLS options that shape them.
///
/// Lookups take a read lock and clone an `Arc`; a configuration is built once (under
/// the write lock) the first time a set of options is seen.
#[derive(Debug)]
pub(crate) struct TlsConfigs {
    provider: Arc<CryptoProvider>,
    cache: RwLock<HashMap<u64, Vec<Arc<CachedConfig>>>>,
}

/// One cached configuration and the options it was built for.
#[derive(Debug)]
struct CachedConfig {
    insecure: bool,
    ca_pem: Option<String>,
    alpn: Vec<Vec<u8>>,
    config: Arc<ClientConfig>,
    /// The verifier the configuration delegates to; `None` when insecure.
    webpki: Option<Arc<WebPkiServerVerifier>>,
}

impl CachedConfig {
    fn matches(&self, opts: &TlsOptions, alpn: &[&[u8]]) -> bool {
        self.insecure == opts.insecure
            && self.ca_pem == opts.ca_pem
            && self.alpn.len() == alpn.len()
            && self.alpn.iter().zip(alpn).all(|(a, b)| a == b)
    }
}

impl Default for TlsConfigs {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConfigs {
    pub(crate) fn new() -> Self {
        Self {
            provider: Arc::new(provider()),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The cached configuration for these options, built on first use.
    fn get(&self, opts: &TlsOptions, alpn: &[&[u8]]) -> Result<Arc<CachedConfig>, CheckError> {
        let key = cache_key(opts, alpn);
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = cache
                .get(&key)
                .and_then(|bucket| bucket.iter().find(|c| c.matches(opts, alpn)))
            {
                return Ok(Arc::clone(found));
            }
        }
        let built = Arc::new(self.build(opts, alpn)?);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_CONFIGS {
            cache.clear();
        }
        let bucket = cache.entry(key).or_default();
        // Another check may have built the same configuration meanwhile; keep the first.
        if let Some(found) = bucket.iter().find(|c| c.matches(opts, alpn)) {
            return Ok(Arc::clone(found));
        }
        bucket.push(Arc::clone(&built));
        Ok(built)
    }

    fn build(&self, opts: &TlsOptions, alpn: &[&[u8]]) -> Result<CachedConfig, CheckError> {
        let webpki = if opts.insecure {
            None
        } else {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            if let Some(pem) = &opts.ca_pem {
                add_pem_roots(&mut roots, pem)?;
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .map_err(|e| tls_error(ErrorKind::TlsHandshakeFailure, e))?;
            Some(verifier)
        };
        // The verifier set here is replaced per connection (see `handshake`); this one
        // only lets the builder finish and documents the policy.
        let placeholder: Arc<dyn ServerCertVerifier> = Arc::new(CapturingVerifier::new(
            webpki.clone(),
            self.provider.signature_verification_algorithms,
        ));
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(ErrorKind::TlsHandshakeFailure, e))?
            .dangerous()
            .with_custom_certificate_verifier(placeholder)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // Every check must see the certificate: a resumed session would skip it.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(CachedConfig {
            insecure: opts.insecure,
            ca_pem: opts.ca_pem.clone(),
            alpn: config.alpn_protocols.clone(),
            config: Arc::new(config),
            webpki,
        })
    }

    /// A configuration for one connection whose verifier records what it sees.
    fn for_connection(
        &self,
        opts: &TlsOptions,
        alpn: &[&[u8]],
    ) -> Result<(Arc<ClientConfig>, Arc<CapturingVerifier>), CheckError> {
        let cached = self.get(opts, alpn)?;
        let verifier = Arc::new(CapturingVerifier::new(
            cached.webpki.clone(),
            self.provider.signature_verification_algorithms,
        ));
        let mut config = ClientConfig::clone(&cached.config);
        config
            .dangerous()
            .set_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>);
        Ok((Arc::new(config), verifier))
    }
}

/// The ring provider with AES-128-GCM suites offered first, as browsers order them.
///
/// Servers mostly pick the client's favourite, and the suite's hash runs the whole key
/// schedule of every handshake: SHA-256 (AES-128-GCM) has dedicated instructions on
/// most CPUs where SHA-384 (AES-256-GCM, rustls' default favourite) has none, which
/// made it a tenth of a check's CPU time. Every suite stays on offer.
fn provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|suite| {
        !matches!(
            suite.suite(),
            CipherSuite::TLS13_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    provider
}

fn cache_key(opts: &TlsOptions, alpn: &[&[u8]]) -> u64 {
    let mut h = DefaultHasher::new();
    opts.insecure.hash(&mut h);
    opts.ca_pem.hash(&mut h);
    alpn.hash(&mut h);
    h.finish()
}

/// Adds every certificate of a PEM bundle to `roots`.
fn add_pem_roots(roots: &mut RootCertStore, pem: &str) -> Result<(), CheckError> {
    let mut added = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| {
            CheckError::new(
                ErrorKind::TlsHandshakeFailure,
                Phase::Tls,
                format!("ca_pem: {e}"),
            )
        })?;
        roots.add(cert).map_err(|e| {
            CheckError::new(
                ErrorKind::TlsHandshakeFailure,
                Phase::Tls,
                format!("ca_pem: unusable certificate: {e}"),
            )
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(CheckError::new(
            ErrorKind::TlsHandshakeFailure,
            Phase::Tls,
            "ca_pem: no certificate in the bundle",
        ));
    }
    Ok(())
}

fn tls_error(kind: ErrorKind, e: impl std::fmt::Display) -> CheckError {
    CheckError::new(kind, Phase::Tls, e.to_string())
}

// === impl CapturingVerifier ===

/// The parts of [`CertFacts`] known from the certificate chain alone.
#[derive(Debug, Clone)]
struct LeafFacts {
    subject: String,
    names: Vec<String>,
    issuer: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    chain_len: usize,
}

impl LeafFacts {
    fn parse(end_entity: &CertificateDer<'_>, intermediates: usize) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(end_entity.as_ref()).ok()?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            names.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let validity = cert.validity();
        Some(Self {
            subject: cert.subject().to_string(),
            names,
            issuer: cert.issuer().to_string(),
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            chain_len: 1 + intermediates,
        })
    }

    fn into_facts(self, tls_version: Option<String>, alpn: Option<String>) -> CertFacts {
        CertFacts {
            days_left: CertFacts::days_until_expiry(self.not_after, OffsetDateTime::now_utc()),
            subject: self.subject,
            names: self.names,
            issuer: self.issuer,
            not_before: self.not_before,
            not_after: self.not_after,
            chain_len: self.chain_len,
            tls_version,
            alpn,
        }
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Some(IpAddr::from(v4))
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Some(IpAddr::from(v6))
    } else {
        None
    }
}

/// A verifier for one connection: records the leaf's facts, then delegates to the
/// web PKI verifier (or accepts any certificate when insecure). Handshake signatures
/// are always verified, so an insecure check still proves the server holds the key.
#[derive(Debug)]
struct CapturingVerifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Option<LeafFacts>>,
}

impl CapturingVerifier {
    fn new(
        webpki: Option<Arc<WebPkiServerVerifier>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        Self {
            webpki,
            algorithms,
            seen: Mutex::new(None),
        }
    }

    fn take(&self) -> Option<LeafFacts> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let facts = LeafFacts::parse(end_entity, intermediates.len());
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = facts;
        match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

// === handshake ===

/// The name to verify (and send in SNI): the options' override, else the target host.
/// IP literals become IP server names, for which no SNI is sent.
fn server_name(host: &str, opts: &TlsOptions) -> Result<ServerName<'static>, CheckError> {
    let name = opts.server_name.as_deref().unwrap_or(host);
    if let Some(ip) = parse_ip_literal(name) {
        return Ok(ServerName::from(ip));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    ServerName::try_from(name.to_owned()).map_err(|_| {
        CheckError::new(
            ErrorKind::InvalidTarget,
            Phase::Tls,
            format!("{name:?} is not a valid TLS server name"),
        )
    })
}

/// Performs the TLS handshake on `tcp` in phase `tls`, offering `alpn`.
///
/// `run.cert` is filled with the facts of the presented certificate, on success and
/// also when the certificate is rejected.
///
/// # Errors
///
/// In phase `tls`: `tls_certificate_expired` (expired or not yet valid),
/// `tls_unknown_issuer`, `tls_name_mismatch`, and `tls_handshake_failure` for
/// everything else (including an unusable `ca_pem`); `invalid_target` for a server name
/// that cannot be used.
pub(crate) async fn handshake(
    checker: &Checker,
    tcp: TcpStream,
    host: &str,
    opts: &TlsOptions,
    alpn: &[&[u8]],
    run: &mut Run,
) -> Result<TlsStream<TcpStream>, CheckError> {
    run.clock.enter(Phase::Tls);
    let name = server_name(host, opts)?;
    let (config, verifier) = checker.inner().tls.for_connection(opts, alpn)?;
    let result = TlsConnector::from(config).connect(name, tcp).await;
    let leaf = verifier.take();
    match result {
        Ok(stream) => {
            let conn = stream.get_ref().1;
            let version = conn.protocol_version().map(version_name);
            let alpn = conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            run.cert = leaf.map(|l| l.into_facts(version, alpn));
            Ok(stream)
        }
        Err(e) => {
            run.cert = leaf.map(|l| l.into_facts(None, None));
            Err(classify(&e))
        }
    }
}

fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_1 => "TLSv1.1".to_owned(),
        ProtocolVersion::TLSv1_0 => "TLSv1.0".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Classifies a failed handshake by the rustls error inside the I/O error.
fn classify(e: &io::Error) -> CheckError {
    let kind = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => certificate_error_kind(cert),
        _ => ErrorKind::TlsHandshakeFailure,
    };
    let message = match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the handshake".to_owned()
        }
        _ => e.to_string(),
    };
    CheckError::new(kind, Phase::Tls, message)
}

fn certificate_error_kind(e: &CertificateError) -> ErrorKind {
    match e {
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => ErrorKind::TlsCertificateExpired,
        CertificateError::UnknownIssuer => ErrorKind::TlsUnknownIssuer,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            ErrorKind::TlsNameMismatch
        }
        _ => ErrorKind::TlsHandshakeFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_cached_per_option_set() {
        let configs = TlsConfigs::new();
        let opts = TlsOptions::default();
        let a = configs.get(&opts, &[b"h2", b"http/1.1"]).unwrap();
        let b = configs.get(&opts, &[b"h2", b"http/1.1"]).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = configs.get(&opts, &[b"http/1.1"]).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        let mut insecure = TlsOptions::default();
        insecure.insecure = true;
        let d = configs.get(&insecure, &[b"h2", b"http/1.1"]).unwrap();
        assert!(!Arc::ptr_eq(&a, &d));
        assert!(d.webpki.is_none());
        assert_eq!(c.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn aes_128_gcm_is_offered_first_and_every_suite_still_is() {
        let ours = provider().cipher_suites;
        let all = rustls::crypto::ring::default_provider().cipher_suites;
        assert_eq!(ours.len(), all.len());
        assert!(
            all.iter()
                .all(|s| ours.iter().any(|o| o.suite() == s.suite()))
        );
        let names: Vec<_> = ours.iter().map(|s| s.suite()).collect();
        let first_tls13 = names.iter().find(|s| format!("{s:?}").starts_with("TLS13"));
        assert_eq!(first_tls13, Some(&CipherSuite::TLS13_AES_128_GCM_SHA256));
        let first_tls12 = names
            .iter()
            .find(|s| format!("{s:?}").starts_with("TLS_ECDHE"));
        assert_eq!(
            first_tls12,
            Some(&CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        );
    }

    #[test]
    fn a_bad_ca_bundle_is_a_tls_error() {
        let configs = TlsConfigs::new();
        let mut opts = TlsOptions::default();
        opts.ca_pem = Some("not a certificate".to_owned());
        let err = configs.get(&opts, &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TlsHandshakeFailure);
        assert_eq!(err.phase, Phase::Tls);
    }

    #[test]
    fn certificate_errors_are_classified_by_variant() {
        assert_eq!(
            certificate_error_kind(&CertificateError::Expired),
            ErrorKind::TlsCertificateExpired
        );
        assert_eq!(
            certificate_error_kind(&CertificateError::NotValidYet),
            ErrorKind::TlsCertificateExpired
        );
        assert_eq!(
            certificate_error_kind(&CertificateError::UnknownIssuer),
            ErrorKind::TlsUnknownIssuer
        );
        assert_eq!(
            certificate_error_kind(&CertificateError::NotValidForName),
            ErrorKind::TlsNameMismatch
        );
        assert_eq!(
            certificate_error_kind(&CertificateError::BadSignature),
            ErrorKind::TlsHandshakeFailure
        );
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&wrapped).kind, ErrorKind::TlsUnknownIssuer);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&reset).kind, ErrorKind::TlsHandshakeFailure);
    }

    #[test]
    fn server_names_follow_the_override_and_ip_literals() {
        let opts = TlsOptions::default();
        assert!(matches!(
            server_name("127.0.0.1", &opts).unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]", &opts).unwrap(),
            ServerName::IpAddress(_)
        ));
        let mut named = TlsOptions::default();
        named.server_name = Some("example.com".to_owned());
        assert_eq!(
            server_name("127.0.0.1", &named).unwrap(),
            ServerName::try_from("example.com").unwrap()
        );
        assert_eq!(
            server_name("bad name!", &opts).unwrap_err().kind,
            ErrorKind::InvalidTarget
        );
    }
}
