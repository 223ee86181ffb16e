//! A test certificate authority made at run time, leaf certificates it signs (valid,
//! expired, for the wrong name), and rustls server configurations that present them.
//!
//! Keys are ECDSA P-256, made with the ring provider. Nothing is read from disk.
//!
//! ```
//! use bitwobbly_test_support::pki::TestCa;
//!
//! let ca = TestCa::shared();
//! let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
//! let server = leaf.server_config(); // offer it to a TLS server
//! assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! # drop(server);
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The ALPN protocols test servers offer, most preferred first.
pub const SERVER_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The name the wrong-name leaf is issued for.
pub const WRONG_NAME: &str = "wrong-name.invalid";

/// The common name of the test CA.
pub const CA_NAME: &str = "Bit Wobbly Test CA";

/// Days a valid test leaf stays valid from now.
pub const LEAF_VALID_DAYS: i64 = 90;

/// The ring crypto provider, as test servers use it.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority for tests, made at run time.
pub struct TestCa {
    name: String,
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA named [`CA_NAME`], valid from yesterday for ten years.
    pub fn new() -> Self {
        Self::with_name(CA_NAME)
    }

    /// A new CA with the common name `name`, valid from yesterday for ten years.
    ///
    /// Two CAs with the same name look alike to a verifier (it finds the trusted one
    /// and then fails on its signature); give an untrusted CA another name to test an
    /// unknown issuer.
    ///
    /// # Panics
    ///
    /// If rcgen cannot make a key or certificate (it can only fail on bad parameters).
    pub fn with_name(name: &str) -> Self {
        let key = KeyPair::generate().expect("generate the CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Bit Wobbly tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).expect("self-sign the CA");
        Self {
            name: name.to_owned(),
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// One CA shared by every test in the process (made on first use).
    pub fn shared() -> &'static Self {
        static CA: OnceLock<TestCa> = OnceLock::new();
        CA.get_or_init(Self::new)
    }

    /// The CA's common name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate in PEM, for `TlsOptions.ca_pem`.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate in DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// A leaf for `names` (DNS names or IP addresses), valid from yesterday for
    /// [`LEAF_VALID_DAYS`] days.
    pub fn leaf(&self, names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        self.issue(
            names,
            now - Duration::days(1),
            now + Duration::days(LEAF_VALID_DAYS),
        )
    }

    /// A leaf for `names` that expired yesterday (valid for the 30 days before).
    pub fn expired_leaf(&self, names: &[&str]) -> TestCert {
        let now = OffsetDateTime::now_utc();
        self.issue(names, now - Duration::days(31), now - Duration::days(1))
    }

    /// A valid leaf for [`WRONG_NAME`] only, so it matches no test target.
    pub fn wrong_name_leaf(&self) -> TestCert {
        self.leaf(&[WRONG_NAME])
    }

    /// A leaf for `names` valid between the two instants.
    ///
    /// # Panics
    ///
    /// If a name is neither a DNS name nor an IP address.
    pub fn issue(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> TestCert {
        let key = KeyPair::generate().expect("generate a leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf names");
        params.distinguished_name.remove(DnType::CommonName);
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer).expect("sign the leaf");
        TestCert {
            chain: vec![cert.der().clone(), self.der.clone()],
            chain_pem: format!("{}{}", cert.pem(), self.pem),
            key: key.serialize_der(),
            key_pem: key.serialize_pem(),
            names,
            not_after,
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A leaf certificate, its key and the chain a server presents (leaf, then the CA).
#[derive(Clone)]
pub struct TestCert {
    chain: Vec<CertificateDer<'static>>,
    chain_pem: String,
    key: Vec<u8>,
    key_pem: String,
    names: Vec<String>,
    not_after: OffsetDateTime,
}

impl fmt::Debug for TestCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCert")
            .field("names", &self.names)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl TestCert {
    /// The chain a server sends: the leaf, then the CA certificate.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The chain in PEM (leaf first), for servers configured with files.
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// The leaf's private key in PKCS#8 PEM, for servers configured with files.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The names the leaf was issued for.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The end of the leaf's validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The leaf's private key (PKCS#8).
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }

    /// A server configuration presenting this certificate, offering ALPN `h2` and
    /// `http/1.1` ([`SERVER_ALPN`]).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server_config_with_alpn(&SERVER_ALPN)
    }

    /// A server configuration presenting this certificate and offering `alpn`
    /// (empty: no ALPN).
    ///
    /// # Panics
    ///
    /// If rustls rejects the key or chain (it cannot for certificates made here).
    pub fn server_config_with_alpn(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key())
            .expect("server certificate");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_chain_to_the_ca() {
        let ca = TestCa::new();
        let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
        assert_eq!(leaf.chain().len(), 2);
        assert_eq!(&leaf.chain()[1], ca.der());
        assert_eq!(leaf.chain_pem().matches("BEGIN CERTIFICATE").count(), 2);
        assert!(leaf.chain_pem().ends_with(ca.pem()));
        assert!(leaf.key_pem().contains("BEGIN PRIVATE KEY"));
        assert!(leaf.not_after() > OffsetDateTime::now_utc());
        assert!(ca.expired_leaf(&["localhost"]).not_after() < OffsetDateTime::now_utc());
        assert_eq!(ca.wrong_name_leaf().names(), [WRONG_NAME.to_owned()]);
        let config = leaf.server_config();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
