//! Trusted signers named by a policy (public key, KMS key, certificate, Notation identity
//! and CA) and how one is recognised in verified evidence.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::evidence::SignerIdentity;

/// A Notation trusted identity and, optionally, the CA its chain must contain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationSigner {
    /// `x509.subject: ...` as in a Notation trust policy, a bare subject, or `*`.
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

/// Which storage formats of a key signer's signatures and attestations count: a policy
/// that asks for Sigstore bundles is not satisfied by the older cosign tag scheme (no
/// downgrade), and the other way round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFormat {
    /// Any format (the default).
    #[default]
    Any,
    /// Only Sigstore bundle v0.3 referrers.
    Bundle,
    /// Only cosign's tag scheme (`sha256-<hex>.sig` / `.att`).
    Legacy,
}

impl SignatureFormat {
    fn is_any(&self) -> bool {
        *self == SignatureFormat::Any
    }

    /// Whether evidence stored in `format` (`cosign`, `bundle`, `notation`; `None` when
    /// unknown) counts. Unknown formats count only under `any`.
    pub fn accepts(self, format: Option<&str>) -> bool {
        match self {
            SignatureFormat::Any => true,
            SignatureFormat::Bundle => format == Some("bundle"),
            SignatureFormat::Legacy => format == Some("cosign"),
        }
    }
}

/// One trusted signer; exactly one kind is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawSigner")]
pub struct SignerDef {
    pub name: String,
    /// Which storage formats count (key signers only).
    #[serde(default, skip_serializing_if = "SignatureFormat::is_any")]
    pub format: SignatureFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notation: Option<NotationSigner>,
    /// `sha256:HEX` of the DER SPKI (public key) or DER certificate, once known.
    #[serde(skip)]
    fingerprint: Option<String>,
    /// `sha256:HEX` of the Notation CA certificate, once known.
    #[serde(skip)]
    ca_fingerprint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSigner {
    name: String,
    #[serde(default)]
    format: SignatureFormat,
    #[serde(default)]
    public_key: Option<String>,
    #[serde(default)]
    public_key_file: Option<String>,
    #[serde(default)]
    kms: Option<String>,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    certificate_file: Option<String>,
    #[serde(default)]
    notation: Option<NotationSigner>,
}

impl TryFrom<RawSigner> for SignerDef {
    type Error = String;
    fn try_from(r: RawSigner) -> Result<Self, String> {
        let kinds = [
            r.public_key.is_some(),
            r.public_key_file.is_some(),
            r.kms.is_some(),
            r.certificate.is_some(),
            r.certificate_file.is_some(),
            r.notation.is_some(),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if kinds != 1 {
            return Err(format!(
                "signer {:?} must set exactly one of publicKey, publicKeyFile, kms, certificate, \
                 certificateFile, notation (found {kinds})",
                r.name
            ));
        }
        if r.format != SignatureFormat::Any && r.notation.is_some() {
            return Err(format!(
                "signer {:?}: format applies to key signers, not to Notation identities",
                r.name
            ));
        }
        let mut s = SignerDef {
            name: r.name,
            format: r.format,
            public_key: r.public_key,
            public_key_file: r.public_key_file,
            kms: r.kms,
            certificate: r.certificate,
            certificate_file: r.certificate_file,
            notation: r.notation,
            fingerprint: None,
            ca_fingerprint: None,
        };
        if let Some(pem) = &s.public_key {
            s.fingerprint = Some(
                pem_fingerprint(pem, "PUBLIC KEY")
                    .map_err(|e| format!("signer {:?}: publicKey: {e}", s.name))?,
            );
        }
        if let Some(pem) = &s.certificate {
            s.fingerprint = Some(
                pem_fingerprint(pem, "CERTIFICATE")
                    .map_err(|e| format!("signer {:?}: certificate: {e}", s.name))?,
            );
        }
        if let Some(n) = &s.notation {
            if n.ca.is_some() && n.ca_file.is_some() {
                return Err(format!(
                    "signer {:?}: set notation.ca or notation.caFile, not both",
                    s.name
                ));
            }
            if let Some(pem) = &n.ca {
                s.ca_fingerprint = Some(
                    pem_fingerprint(pem, "CERTIFICATE")
                        .map_err(|e| format!("signer {:?}: notation.ca: {e}", s.name))?,
                );
            }
        }
        Ok(s)
    }
}

impl SignerDef {
    /// A public-key signer (used by the Kyverno import).
    pub fn public_key(name: &str, pem: &str) -> Result<SignerDef, String> {
        SignerDef::try_from(RawSigner {
            name: name.into(),
            format: SignatureFormat::Any,
            public_key: Some(pem.into()),
            public_key_file: None,
            kms: None,
            certificate: None,
            certificate_file: None,
            notation: None,
        })
    }

    /// Builds any signer from its parts (used by the Kyverno import).
    pub fn other(
        name: &str,
        kms: Option<String>,
        certificate: Option<String>,
        notation: Option<NotationSigner>,
    ) -> Result<SignerDef, String> {
        SignerDef::try_from(RawSigner {
            name: name.into(),
            format: SignatureFormat::Any,
            public_key: None,
            public_key_file: None,
            kms,
            certificate,
            certificate_file: None,
            notation,
        })
    }

    /// Reads key and certificate files, relative to `base`.
    pub(crate) fn resolve_files(&mut self, base: &Path) -> Result<(), String> {
        let read = |f: &str| {
            let p = base.join(f);
            std::fs::read_to_string(&p)
                .map_err(|e| format!("signer {:?}: cannot read {}: {e}", self.name, p.display()))
                .map(|t| (p, t))
        };
        if let Some(f) = &self.public_key_file {
            let (p, text) = read(f)?;
            self.fingerprint = Some(
                pem_fingerprint(&text, "PUBLIC KEY")
                    .map_err(|e| format!("signer {:?}: {}: {e}", self.name, p.display()))?,
            );
        }
        if let Some(f) = &self.certificate_file {
            let (p, text) = read(f)?;
            self.fingerprint = Some(
                pem_fingerprint(&text, "CERTIFICATE")
                    .map_err(|e| format!("signer {:?}: {}: {e}", self.name, p.display()))?,
            );
        }
        if let Some(f) = self.notation.as_ref().and_then(|n| n.ca_file.clone()) {
            let (p, text) = read(&f)?;
            self.ca_fingerprint = Some(
                pem_fingerprint(&text, "CERTIFICATE")
                    .map_err(|e| format!("signer {:?}: {}: {e}", self.name, p.display()))?,
            );
        }
        Ok(())
    }

    /// True when a verified signer identity is this signer and the evidence is stored in
    /// a format the signer's `format` accepts.
    pub fn matches_in(&self, id: &SignerIdentity, format: Option<&str>) -> bool {
        self.format.accepts(format) && self.matches(id)
    }

    /// True when a verified signer identity is this signer.
    pub fn matches(&self, id: &SignerIdentity) -> bool {
        if self.public_key.is_some() || self.public_key_file.is_some() {
            return self.fingerprint.is_some() && self.fingerprint == id.key_fingerprint();
        }
        if self.certificate.is_some() || self.certificate_file.is_some() {
            return self.fingerprint.is_some()
                && self.fingerprint.as_deref() == id.certificate_fingerprint.as_deref();
        }
        if let Some(kms) = &self.kms {
            return id.kms_key.as_deref() == Some(kms.as_str());
        }
        if let Some(n) = &self.notation {
            let want = n
                .identity
                .strip_prefix("x509.subject:")
                .unwrap_or(&n.identity)
                .trim();
            let subject_ok = want == "*"
                || id
                    .subject
                    .as_deref()
                    .is_some_and(|s| normalize_dn(s) == normalize_dn(want));
            let ca_ok = match &self.ca_fingerprint {
                Some(ca) => id.chain_fingerprints.iter().any(|f| f == ca),
                // A Notation signer with a CA file not yet read never matches.
                None => n.ca_file.is_none(),
            };
            return subject_ok && ca_ok;
        }
        false
    }
}

/// `C=US, O=Acme` and `C=US,O=Acme` compare equal.
fn normalize_dn(dn: &str) -> Vec<String> {
    let mut parts: Vec<String> = dn.split(',').map(|p| p.trim().to_string()).collect();
    parts.sort();
    parts
}

/// `sha256:HEX` of a PEM block's DER content.
pub fn pem_fingerprint(pem: &str, label: &str) -> Result<String, String> {
    let der = pem_der(pem, label)?;
    Ok(der_fingerprint(&der))
}

/// `sha256:HEX` of DER bytes.
pub fn der_fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The DER content of the first PEM block labelled `label`.
pub fn pem_der(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| format!("no {begin} block"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or_else(|| format!("no {end} line"))?
        + start;
    let b64: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("bad base64 in PEM block: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

    #[test]
    fn public_key_signer_matches_by_spki_fingerprint() {
        let s = SignerDef::public_key("ci", KEY).unwrap();
        let der = pem_der(KEY, "PUBLIC KEY").unwrap();
        let id = SignerIdentity {
            public_key_spki: Some(base64::engine::general_purpose::STANDARD.encode(&der)),
            ..Default::default()
        };
        assert!(s.matches(&id));
        let other = SignerIdentity {
            key_fingerprint: Some(der_fingerprint(b"other")),
            ..Default::default()
        };
        assert!(!s.matches(&other));
        assert!(!s.matches(&SignerIdentity::default()));
    }

    #[test]
    fn notation_identity_compares_subjects_loosely() {
        let s = SignerDef::other(
            "n",
            None,
            None,
            Some(NotationSigner {
                identity: "x509.subject: C=US, O=Acme, CN=release".into(),
                ca: None,
                ca_file: None,
            }),
        )
        .unwrap();
        let id = SignerIdentity {
            subject: Some("CN=release,C=US,O=Acme".into()),
            ..Default::default()
        };
        assert!(s.matches(&id));
        let wrong = SignerIdentity {
            subject: Some("CN=mallory,C=US,O=Acme".into()),
            ..Default::default()
        };
        assert!(!s.matches(&wrong));
    }

    #[test]
    fn format_keeps_bundle_and_legacy_apart() {
        let yaml = |format: &str| {
            format!(
                "name: ci\npublicKey: |\n  {}\nformat: {format}\n",
                KEY.trim().replace('\n', "\n  ")
            )
        };
        let bundle: SignerDef = serde_norway::from_str(&yaml("bundle")).unwrap();
        let legacy: SignerDef = serde_norway::from_str(&yaml("legacy")).unwrap();
        let any = SignerDef::public_key("ci", KEY).unwrap();
        let der = pem_der(KEY, "PUBLIC KEY").unwrap();
        let id = SignerIdentity {
            public_key_spki: Some(base64::engine::general_purpose::STANDARD.encode(&der)),
            ..Default::default()
        };
        assert!(bundle.matches_in(&id, Some("bundle")));
        assert!(
            !bundle.matches_in(&id, Some("cosign")),
            "downgrade to legacy"
        );
        assert!(!bundle.matches_in(&id, None));
        assert!(legacy.matches_in(&id, Some("cosign")));
        assert!(!legacy.matches_in(&id, Some("bundle")));
        assert!(any.matches_in(&id, Some("cosign")) && any.matches_in(&id, None));
        assert!(serde_norway::from_str::<SignerDef>(&yaml("sometimes")).is_err());
        let notation = "name: n\nformat: bundle\nnotation:\n  identity: \"*\"\n";
        assert!(serde_norway::from_str::<SignerDef>(notation).is_err());
        assert!(!serde_norway::to_string(&any).unwrap().contains("format"));
    }

    #[test]
    fn bad_pem_is_an_error() {
        assert!(SignerDef::public_key("x", "not a key").is_err());
    }
}
