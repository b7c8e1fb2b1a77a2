//! The policy's signers turned into verification material once, when the gate is built:
//! public keys parsed, key and certificate files read, Notation CAs written into a private
//! trust store with a one-identity trust policy. KMS public keys are fetched on first use
//! and kept.

use std::path::Path;

use base64::Engine as _;
use kiln_sign::keys::{KeyOptions, PublicKey};
use kiln_sign::notation::{TrustPolicyDocument, TrustStore};
use tokio::sync::OnceCell;
use x509_cert::der::{Decode as _, Encode as _};

use super::CollectError;
use crate::evidence::SignerIdentity;
use crate::signer::{SignerDef, der_fingerprint, pem_der};

/// How one signer is checked.
pub(crate) enum Material {
    /// A public key known now (PEM, key file, or a certificate's key).
    Key {
        key: PublicKey,
        identity: SignerIdentity,
    },
    /// A KMS (or PKCS#11) key whose public half is fetched once, on first use.
    Kms {
        reference: String,
        key: OnceCell<PublicKey>,
    },
    /// A Notation identity under one CA.
    Notation {
        policy: TrustPolicyDocument,
        store: TrustStore,
        ca_fingerprint: String,
    },
}

/// A named signer ready to verify.
pub(crate) struct Prepared {
    pub name: String,
    pub material: Material,
}

fn err(name: &str, reason: impl std::fmt::Display) -> CollectError {
    CollectError::Signer {
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

fn read(base: &Path, name: &str, file: &str) -> Result<String, CollectError> {
    let p = base.join(file);
    std::fs::read_to_string(&p).map_err(|e| err(name, format!("cannot read {}: {e}", p.display())))
}

fn key_identity(key: &PublicKey) -> SignerIdentity {
    SignerIdentity {
        public_key_spki: Some(base64::engine::general_purpose::STANDARD.encode(key.to_spki_der())),
        ..Default::default()
    }
}

/// Prepares one signer. `trust_dir` is where Notation CAs are written.
pub(crate) fn prepare(
    def: &SignerDef,
    base: &Path,
    trust_dir: &Path,
) -> Result<Prepared, CollectError> {
    let name = def.name.as_str();
    let pem_key = match (&def.public_key, &def.public_key_file) {
        (Some(pem), _) => Some(pem.clone()),
        (None, Some(f)) => Some(read(base, name, f)?),
        _ => None,
    };
    let material = if let Some(pem) = pem_key {
        let key = PublicKey::from_pem(&pem).map_err(|e| err(name, e))?;
        Material::Key {
            identity: key_identity(&key),
            key,
        }
    } else if let Some(pem) = match (&def.certificate, &def.certificate_file) {
        (Some(pem), _) => Some(pem.clone()),
        (None, Some(f)) => Some(read(base, name, f)?),
        _ => None,
    } {
        let der = pem_der(&pem, "CERTIFICATE").map_err(|e| err(name, e))?;
        let cert = x509_cert::Certificate::from_der(&der)
            .map_err(|e| err(name, format!("certificate: {e}")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| err(name, format!("certificate key: {e}")))?;
        let key = PublicKey::from_spki_der(&spki).map_err(|e| err(name, e))?;
        let mut identity = key_identity(&key);
        identity.certificate_fingerprint = Some(der_fingerprint(&der));
        identity.subject = Some(cert.tbs_certificate.subject.to_string());
        Material::Key { key, identity }
    } else if let Some(reference) = &def.kms {
        Material::Kms {
            reference: reference.clone(),
            key: OnceCell::new(),
        }
    } else if let Some(n) = &def.notation {
        let ca_pem = match (&n.ca, &n.ca_file) {
            (Some(pem), _) => pem.clone(),
            (None, Some(f)) => read(base, name, f)?,
            (None, None) => {
                return Err(err(
                    name,
                    "a Notation signer needs notation.ca or notation.caFile to be verified",
                ));
            }
        };
        let der = pem_der(&ca_pem, "CERTIFICATE").map_err(|e| err(name, e))?;
        x509_cert::Certificate::from_der(&der)
            .map_err(|e| err(name, format!("notation CA: {e}")))?;
        // Store names are file names: use an index-free, safe rendering of the signer name.
        let store_name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let store_name = format!(
            "s{}-{store_name}",
            der_fingerprint(name.as_bytes())[7..19].to_owned()
        );
        let dir = trust_dir
            .join(&store_name)
            .join("x509")
            .join("ca")
            .join(&store_name);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("ca.pem"), ca_pem.as_bytes()))
            .map_err(|e| err(name, format!("cannot write the trust store: {e}")))?;
        let identity = if n.identity.trim() == "*" {
            "*".to_string()
        } else if n.identity.trim_start().starts_with("x509.subject:") {
            n.identity.trim().to_string()
        } else {
            format!("x509.subject: {}", n.identity.trim())
        };
        let doc = serde_json::json!({
            "version": "1.0",
            "trustPolicies": [{
                "name": name,
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": [format!("ca:{store_name}")],
                "trustedIdentities": [identity],
            }]
        });
        let policy = TrustPolicyDocument::parse(doc.to_string().as_bytes(), name)
            .map_err(|e| err(name, e))?;
        let store = TrustStore::open(&trust_dir.join(&store_name)).map_err(|e| err(name, e))?;
        Material::Notation {
            policy,
            store,
            ca_fingerprint: der_fingerprint(&der),
        }
    } else {
        return Err(err(
            name,
            "names no key, certificate, KMS key or Notation identity",
        ));
    };
    Ok(Prepared {
        name: def.name.clone(),
        material,
    })
}

impl Prepared {
    /// The public key and the identity it proves, for key-based signers (fetching a KMS
    /// key the first time). `Ok(None)` for Notation signers.
    pub(crate) async fn key(&self) -> Result<Option<(&PublicKey, SignerIdentity)>, String> {
        match &self.material {
            Material::Key { key, identity } => Ok(Some((key, identity.clone()))),
            Material::Kms { reference, key } => {
                // Only a fetched key is kept: a KMS outage is retried by the next request.
                let fetched = key
                    .get_or_try_init(|| async {
                        kiln_sign::keys::open_verifier(reference, &KeyOptions::default())
                            .await
                            .map_err(|e| e.to_string())
                    })
                    .await;
                match fetched {
                    Ok(k) => {
                        let mut id = key_identity(k);
                        id.kms_key = Some(reference.clone());
                        Ok(Some((k, id)))
                    }
                    Err(e) => Err(format!("signer {:?}: key {reference}: {e}", self.name)),
                }
            }
            Material::Notation { .. } => Ok(None),
        }
    }
}
