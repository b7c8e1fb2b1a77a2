//! `kiln admit gen-certs`: a self-signed setup for the webhook. A CA (ECDSA P-256), a server
//! certificate signed by it with the given hosts as SANs (plus `NAME.NAMESPACE.svc` and
//! `NAME.NAMESPACE.svc.cluster.local` for every `NAME.NAMESPACE` host), and the CA in base64
//! for the webhook configurations' `caBundle`.
//!
//! Files: `ca.crt`, `ca.key`, `tls.crt`, `tls.key`, `ca-bundle.b64`; keys are written with
//! mode 0600, every file to a temporary name then renamed.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};

/// Why certificates could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum CertGenError {
    #[error("no --host given")]
    NoHost,
    #[error("host {host:?}: {message}")]
    Host { host: String, message: String },
    #[error("generating certificates: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// What was written.
#[derive(Debug, Clone)]
pub struct GeneratedCerts {
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_bundle: PathBuf,
    /// Every DNS name / IP in the server certificate.
    pub sans: Vec<String>,
    /// The base64 caBundle itself.
    pub ca_bundle_b64: String,
}

/// The SANs for the given hosts: each host, and for a `NAME.NAMESPACE` host also
/// `NAME.NAMESPACE.svc` and `NAME.NAMESPACE.svc.cluster.local`.
pub fn sans_for(hosts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for h in hosts {
        push(h.clone());
        if h.parse::<std::net::IpAddr>().is_err() && h.split('.').count() == 2 {
            push(format!("{h}.svc"));
            push(format!("{h}.svc.cluster.local"));
        }
    }
    out
}

fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), CertGenError> {
    let err = |error| CertGenError::Write {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if secret { 0o600 } else { 0o644 };
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    std::io::Write::write_all(&mut tmp, bytes).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Generates and writes the files under `out` (created if missing). The server certificate
/// is valid for one year, the CA for ten.
pub fn generate(out: &Path, hosts: &[String]) -> Result<GeneratedCerts, CertGenError> {
    if hosts.is_empty() {
        return Err(CertGenError::NoHost);
    }
    let sans = sans_for(hosts);
    let now = std::time::SystemTime::now();
    let now_dt = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::Duration::from_secs(
            now.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
    let day = std::time::Duration::from_secs(86_400);

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Kiln admission webhook CA");
    dn.push(DnType::OrganizationName, "Kiln");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now_dt - day;
    ca_params.not_after = now_dt + day * 3650;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, hosts[0].as_str());
    params.distinguished_name = dn;
    params.subject_alt_names = sans
        .iter()
        .map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => h
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|e: rcgen::Error| CertGenError::Host {
                    host: h.clone(),
                    message: e.to_string(),
                }),
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now_dt - day;
    params.not_after = now_dt + day * 365;
    let cert = params.signed_by(&key, &issuer)?;

    std::fs::create_dir_all(out).map_err(|error| CertGenError::Write {
        path: out.to_path_buf(),
        error,
    })?;
    let ca_pem = ca_cert.pem();
    let ca_bundle_b64 = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let files = GeneratedCerts {
        ca_cert: out.join("ca.crt"),
        cert: out.join("tls.crt"),
        key: out.join("tls.key"),
        ca_bundle: out.join("ca-bundle.b64"),
        sans,
        ca_bundle_b64: ca_bundle_b64.clone(),
    };
    write(&out.join("ca.key"), ca_key.serialize_pem().as_bytes(), true)?;
    write(&files.ca_cert, ca_pem.as_bytes(), false)?;
    write(&files.key, key.serialize_pem().as_bytes(), true)?;
    write(&files.cert, cert.pem().as_bytes(), false)?;
    write(
        &files.ca_bundle,
        format!("{ca_bundle_b64}\n").as_bytes(),
        false,
    )?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        assert_eq!(
            sans_for(&[
                "kiln-admit.kiln".into(),
                "127.0.0.1".into(),
                "localhost".into()
            ]),
            [
                "kiln-admit.kiln",
                "kiln-admit.kiln.svc",
                "kiln-admit.kiln.svc.cluster.local",
                "127.0.0.1",
                "localhost"
            ]
        );
    }

    #[test]
    fn generates_a_loadable_pair() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), &["localhost".into(), "127.0.0.1".into()]).unwrap();
        let files = crate::tls::CertFiles {
            cert: g.cert.clone(),
            key: g.key.clone(),
        };
        let (c, k) = files.snapshot().unwrap();
        files.certified_key(&c, &k).unwrap();
        let b64 = std::fs::read_to_string(&g.ca_bundle).unwrap();
        let pem = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        assert!(
            String::from_utf8(pem)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(matches!(
            generate(dir.path(), &[]),
            Err(CertGenError::NoHost)
        ));
    }
}
