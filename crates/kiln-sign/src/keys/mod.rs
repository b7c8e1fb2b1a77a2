//! Key providers named by reference as cosign names them: a file path (cosign encrypted
//! key, PKCS#8, SEC1, PKCS#1, or a PEM public key for verifying), `awskms://…` and
//! `pkcs11:…`. [`open_signer`] and [`open_verifier`] pick the backend from the reference.

pub mod file;
#[cfg(feature = "aws-kms")]
pub mod kms;
pub mod material;
pub mod pkcs11;

use std::path::Path;

pub use zeroize::Zeroizing;

pub use material::{KeyError, PrivateKey, PublicKey, SignatureMismatch};

use crate::error::SignError;
use crate::signer::Signer;

/// Options for opening a key.
#[derive(Default, Clone)]
pub struct KeyOptions {
    /// The password of an encrypted key file.
    pub password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for KeyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOptions")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl KeyOptions {
    /// The password from `KILN_PASSWORD`, else `COSIGN_PASSWORD`, if set.
    pub fn password_from_env() -> Option<Zeroizing<String>> {
        ["KILN_PASSWORD", "COSIGN_PASSWORD"]
            .iter()
            .find_map(|v| std::env::var(v).ok())
            .map(Zeroizing::new)
    }
}

/// Which backend a key reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScheme<'a> {
    /// A key file on disk.
    File(&'a Path),
    /// `awskms://[ENDPOINT/]KEY_ID|alias/NAME|ARN`.
    AwsKms(&'a str),
    /// An RFC 7512 `pkcs11:` URI.
    Pkcs11(&'a str),
    /// A scheme cosign knows that Kiln does not offer.
    Unsupported(&'static str),
}

/// URI schemes cosign accepts that name a remote key, with the backend's name.
const REMOTE_SCHEMES: &[(&str, &str)] = &[
    ("gcpkms://", "Google Cloud KMS"),
    ("azurekms://", "Azure Key Vault"),
    ("hashivault://", "HashiCorp Vault"),
    ("k8s://", "Kubernetes secrets"),
    ("gitlab://", "GitLab variables"),
];

/// Classifies a key reference.
pub fn scheme(reference: &str) -> KeyScheme<'_> {
    if reference.starts_with("awskms://") {
        return KeyScheme::AwsKms(reference);
    }
    if reference.starts_with("pkcs11:") {
        return KeyScheme::Pkcs11(reference);
    }
    for (prefix, name) in REMOTE_SCHEMES {
        if reference.starts_with(prefix) {
            return KeyScheme::Unsupported(name);
        }
    }
    KeyScheme::File(Path::new(reference))
}

fn key_err(reference: &str, e: impl std::fmt::Display) -> SignError {
    SignError::Key {
        key: reference.to_string(),
        reason: e.to_string(),
    }
}

fn not_in_build(reference: &str, what: &str) -> SignError {
    key_err(
        reference,
        format!("{what} keys are not supported in this build"),
    )
}

/// Loads a private key file with the password in `options` (when it is encrypted).
pub fn load_private_key_file(path: &Path, options: &KeyOptions) -> Result<PrivateKey, SignError> {
    let name = path.display().to_string();
    let data = Zeroizing::new(file::read_key_file(path).map_err(|e| key_err(&name, e))?);
    let password = options.password.as_ref().map(|p| p.as_bytes());
    file::parse_private_key(&data, password).map_err(|e| key_err(&name, e))
}

/// Opens the signing key `reference` names.
pub async fn open_signer(
    reference: &str,
    options: &KeyOptions,
) -> Result<Box<dyn Signer>, SignError> {
    match scheme(reference) {
        KeyScheme::File(path) => {
            let key = load_private_key_file(path, options)?;
            Ok(Box::new(file::FileSigner::new(key, reference)))
        }
        #[cfg(feature = "aws-kms")]
        KeyScheme::AwsKms(uri) => Ok(Box::new(kms::KmsSigner::open(uri).await?)),
        #[cfg(not(feature = "aws-kms"))]
        KeyScheme::AwsKms(_) => Err(not_in_build(reference, "AWS KMS")),
        KeyScheme::Pkcs11(uri) => Ok(Box::new(pkcs11::Pkcs11Signer::open_async(uri).await?)),
        KeyScheme::Unsupported(what) => Err(not_in_build(reference, what)),
    }
}

/// Opens the key that verifies signatures: a PEM public key file, or a private key file
/// (whose public half is used; an encrypted one needs the password).
pub async fn open_verifier(reference: &str, options: &KeyOptions) -> Result<PublicKey, SignError> {
    match scheme(reference) {
        KeyScheme::File(path) => {
            let data = file::read_key_file(path).map_err(|e| key_err(reference, e))?;
            let text = std::str::from_utf8(&data).ok();
            let is_public = text
                .and_then(|t| pem_rfc7468::decode_label(t.trim().as_bytes()).ok())
                .is_some_and(|l| l == "PUBLIC KEY");
            if is_public {
                return PublicKey::from_pem(text.unwrap_or_default())
                    .map_err(|e| key_err(reference, e));
            }
            if data.first() == Some(&0x30)
                && let Ok(k) = PublicKey::from_spki_der(&data)
            {
                return Ok(k);
            }
            Ok(load_private_key_file(path, options)?.public_key())
        }
        #[cfg(feature = "aws-kms")]
        KeyScheme::AwsKms(uri) => signer_public_key(&kms::KmsSigner::open(uri).await?),
        #[cfg(not(feature = "aws-kms"))]
        KeyScheme::AwsKms(_) => Err(not_in_build(reference, "AWS KMS")),
        KeyScheme::Pkcs11(uri) => signer_public_key(&pkcs11::Pkcs11Signer::open_async(uri).await?),
        KeyScheme::Unsupported(what) => Err(not_in_build(reference, what)),
    }
}

/// The public key of a signer, parsed.
pub fn signer_public_key(signer: &dyn Signer) -> Result<PublicKey, SignError> {
    PublicKey::from_spki_der(&signer.public_key_spki_der())
        .map_err(|e| key_err(&signer.key_ref(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_classified() {
        assert_eq!(
            scheme("awskms:///alias/x"),
            KeyScheme::AwsKms("awskms:///alias/x")
        );
        assert_eq!(
            scheme("pkcs11:token=a;object=b"),
            KeyScheme::Pkcs11("pkcs11:token=a;object=b")
        );
        assert_eq!(
            scheme("gcpkms://x"),
            KeyScheme::Unsupported("Google Cloud KMS")
        );
        assert_eq!(
            scheme("cosign.key"),
            KeyScheme::File(Path::new("cosign.key"))
        );
    }

    #[tokio::test]
    async fn unsupported_backends_say_so() {
        let err = open_signer("gcpkms://k/x", &KeyOptions::default())
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("not supported in this build"),
            "{err}"
        );
        let err = open_verifier("hashivault://k", &KeyOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("HashiCorp Vault"), "{err}");
    }
}
