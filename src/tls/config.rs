//! Ready-made rustls configs: a client trusting Mozilla's roots (plus any
//! of your own) and a server from PEM, all on the ring provider.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The crypto provider verdant's configs use: rustls's `ring` provider
/// (see the [module docs](super#crypto-provider-ring) for why ring).
///
/// Use it to build a config of your own with the same cryptography:
///
/// ```
/// use verdant::tls::{self, rustls};
///
/// let mut roots = rustls::RootCertStore::empty();
/// roots.extend(webpki_roots_or_yours());
/// let config = rustls::ClientConfig::builder_with_provider(tls::crypto_provider())
///     .with_safe_default_protocol_versions()
///     .expect("ring supports TLS 1.2 and 1.3")
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// # fn webpki_roots_or_yours() -> Vec<rustls::pki_types::TrustAnchor<'static>> { Vec::new() }
/// # drop(config);
/// ```
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// A client config that trusts Mozilla's root certificates (compiled in;
/// no OS certificate store is read), with TLS 1.2 and 1.3 and no client
/// certificate. Made once per process; each call returns the same `Arc`.
///
/// ```
/// let config = verdant::tls::client_config();
/// assert!(config.alpn_protocols.is_empty());
/// ```
pub fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(client_config_from(mozilla_roots())))
        .clone()
}

/// Like [`client_config`], also trusting every certificate in `roots_pem`
/// (one or more `-----BEGIN CERTIFICATE-----` sections): a private CA, or
/// a self-signed certificate in a test.
///
/// ```
/// // No certificate in it: an error, not a config that trusts nothing new.
/// let err = verdant::tls::client_config_with_roots(b"not PEM").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
///
/// # Errors
///
/// `InvalidInput` if `roots_pem` holds no certificate, holds a malformed
/// section, or a certificate that cannot be a root.
pub fn client_config_with_roots(roots_pem: &[u8]) -> io::Result<Arc<ClientConfig>> {
    let certs = certificates(roots_pem, "root certificates")?;
    let mut roots = mozilla_roots();
    for (n, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| invalid(format!("root certificate #{} cannot be used: {e}", n + 1)))?;
    }
    Ok(Arc::new(client_config_from(roots)))
}

/// A server config presenting `cert_chain_pem` (the server's certificate
/// first, then any intermediates) with the private key in `key_pem`
/// (PKCS #8, PKCS #1 or SEC1 PEM), TLS 1.2 and 1.3, no client
/// certificates asked for.
///
/// Set [`alpn_protocols`](ServerConfig::alpn_protocols) on a clone (or
/// through [`Arc::make_mut`]) to negotiate ALPN.
///
/// ```
/// let err = verdant::tls::server_config(b"", b"").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("certificate"), "{err}");
/// ```
///
/// # Errors
///
/// `InvalidInput` if the PEM holds no certificate or no key, or if the key
/// does not fit the certificate.
pub fn server_config(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<Arc<ServerConfig>> {
    let chain = certificates(cert_chain_pem, "the certificate chain")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid(format!("no private key in the PEM: {e}")))?;
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("the certificate and key cannot be used: {e}")))?;
    Ok(Arc::new(config))
}

fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn client_config_from(roots: RootCertStore) -> ClientConfig {
    ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Every certificate in `pem`; at least one.
fn certificates(pem: &[u8], what: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("cannot read {what} from PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "no certificate (-----BEGIN CERTIFICATE-----) in the PEM for {what}"
        )));
    }
    Ok(certs)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
