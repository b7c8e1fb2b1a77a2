//! HTTPS for `kiln server`: a rustls (aws-lc-rs) server configuration from PEM files.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::config::TlsFiles;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("TLS {what} {}: {reason}", path.display())]
pub struct TlsError {
    pub what: &'static str,
    pub path: std::path::PathBuf,
    pub reason: String,
}

fn err(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The rustls configuration serving `files` (HTTP/1.1).
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| err("certificate", &files.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err("certificate", &files.cert, e))?;
    if certs.is_empty() {
        return Err(err(
            "certificate",
            &files.cert,
            "no CERTIFICATE in the file",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| err("key", &files.key, e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("certificate", &files.cert, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err("key", &files.key, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
