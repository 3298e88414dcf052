//! Which certificate authorities the AWS clients trust.
//!
//! By default only the roots that AWS service endpoints chain to, compiled into the binary:
//! the four Amazon Trust Services roots, and Starfield Services Root G2, which cross-signs
//! them for clients that know only the older root. Parsing five certificates at start-up
//! replaces reading and parsing a system bundle of about 150.
//!
//! `SSL_CERT_FILE` switches to a store of the operator's choice, for endpoints with other
//! certificates (a TLS-inspecting proxy, a VPC endpoint or a local service with its own CA):
//! when it is set, the client trusts the roots in that file and no compiled-in root, as
//! other TLS clients on Linux do with that variable. On Lambda's Amazon Linux 2023 the whole
//! system store is `SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt`.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, HttpClientError};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use std::env;

/// Names a PEM file of trusted roots that replaces the compiled-in ones.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// Amazon Root CA 1 to 4 and Starfield Services Root Certificate Authority - G2, as published
/// by Amazon Trust Services (https://www.amazontrust.com/repository/); their SHA-256
/// fingerprints are checked by this module's tests.
const AWS_ROOTS: [&str; 5] = [
    include_str!("../roots/amazon-root-ca-1.pem"),
    include_str!("../roots/amazon-root-ca-2.pem"),
    include_str!("../roots/amazon-root-ca-3.pem"),
    include_str!("../roots/amazon-root-ca-4.pem"),
    include_str!("../roots/starfield-services-root-ca-g2.pem"),
];

/// Where the trusted roots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The roots AWS endpoints chain to, compiled in.
    AwsRoots,
    /// The file `SSL_CERT_FILE` names (read by `rustls-native-certs` when the SDK builds its
    /// connector, in init).
    CertFile,
}

impl Trust {
    pub fn from_env() -> Self {
        match env::var_os(SSL_CERT_FILE) {
            Some(file) if !file.is_empty() => Self::CertFile,
            _ => Self::AwsRoots,
        }
    }

    fn store(self) -> TrustStore {
        match self {
            Self::AwsRoots => AWS_ROOTS.iter().fold(TrustStore::empty(), |store, root| {
                store.with_pem_certificate(root.as_bytes())
            }),
            Self::CertFile => TrustStore::default(),
        }
    }
}

/// The SDK's own HTTPS client (hyper, rustls with aws-lc), trusting what `trust` says.
pub fn https_client(trust: Trust) -> Result<SharedHttpClient, HttpClientError> {
    let context = TlsContext::builder()
        .with_trust_store(trust.store())
        .build()?;
    Ok(Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// From https://www.amazontrust.com/repository/.
    const FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
    ];

    #[test]
    fn the_compiled_in_roots_are_amazons_and_starfields_by_fingerprint() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        for (pem, expected) in AWS_ROOTS.iter().zip(FINGERPRINTS) {
            let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            let fingerprint: String = Sha256::digest(der.as_ref())
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            assert_eq!(fingerprint, expected);
        }
    }
}
