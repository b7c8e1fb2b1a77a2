//! Wrapping keys of the evidence store: a local 32-byte key file (created with mode 0600
//! when absent; data keys wrapped with AES-256-GCM under it) or an AWS KMS symmetric key
//! (data keys from GenerateDataKey, unwrapped with Decrypt, with the run id and object
//! name as the KMS encryption context).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use kiln_sign::keys::kms::{KmsOptions, KmsRef, sdk_error_text};
use zeroize::Zeroizing;

use super::EvidenceError;
use super::envelope::{self, WRAP_KMS, WRAP_LOCAL};

/// The key that wraps each object's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrapKey {
    /// A file of 32 random bytes, created (mode 0600, parents too) when absent.
    LocalFile(PathBuf),
    /// An AWS KMS symmetric key, `awskms://[ENDPOINT]/KEY_ID|alias/NAME|ARN`.
    AwsKms {
        /// The `awskms://` URI.
        key_id: String,
    },
}

impl WrapKey {
    /// `awskms://…` → [`WrapKey::AwsKms`]; anything else is a local key file path.
    pub fn parse(spec: &str) -> WrapKey {
        if spec.starts_with(kiln_sign::keys::kms::SCHEME) {
            WrapKey::AwsKms {
                key_id: spec.to_string(),
            }
        } else {
            WrapKey::LocalFile(PathBuf::from(spec))
        }
    }
}

/// A data key and its wrapped form.
pub(crate) struct DataKey {
    pub plain: Zeroizing<[u8; 32]>,
    pub wrapped: Vec<u8>,
    pub wrap_nonce: Option<Vec<u8>>,
    pub key_id: String,
    pub wrapping: &'static str,
}

/// A loaded wrapping key.
pub(crate) enum Wrapper {
    Local {
        key: Zeroizing<[u8; 32]>,
        key_id: String,
    },
    Kms {
        uri: String,
        key_id: String,
        client: aws_sdk_kms::Client,
    },
}

impl Wrapper {
    /// Loads (or creates) the key.
    pub async fn load(key: &WrapKey, options: &KmsOptions) -> Result<Wrapper, EvidenceError> {
        match key {
            WrapKey::LocalFile(path) => {
                let key = load_or_create(path)?;
                let key_id = local_key_id(&key);
                Ok(Wrapper::Local { key, key_id })
            }
            WrapKey::AwsKms { key_id: uri } => {
                let parsed = KmsRef::parse(uri).map_err(|e| EvidenceError::Key {
                    key: uri.clone(),
                    reason: e.to_string(),
                })?;
                let client = kiln_sign::keys::kms::client(&parsed, options).await;
                Ok(Wrapper::Kms {
                    uri: uri.clone(),
                    key_id: parsed.key_id,
                    client,
                })
            }
        }
    }

    /// How the configured key is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Wrapper::Local { key_id, .. } => key_id.clone(),
            Wrapper::Kms { uri, .. } => uri.clone(),
        }
    }

    /// A fresh data key for object (`run_id`, `name`), wrapped.
    pub async fn new_data_key(&self, run_id: &str, name: &str) -> Result<DataKey, EvidenceError> {
        match self {
            Wrapper::Local { key, key_id } => {
                let mut plain = Zeroizing::new([0u8; 32]);
                envelope::fill_random(plain.as_mut_slice());
                let (nonce, wrapped) =
                    envelope::seal(key, &envelope::wrap_aad(run_id, name), plain.as_slice())
                        .map_err(|reason| EvidenceError::Key {
                            key: key_id.clone(),
                            reason,
                        })?;
                Ok(DataKey {
                    plain,
                    wrapped,
                    wrap_nonce: Some(nonce),
                    key_id: key_id.clone(),
                    wrapping: WRAP_LOCAL,
                })
            }
            Wrapper::Kms {
                uri,
                key_id,
                client,
            } => {
                let fail = |reason: String| EvidenceError::Key {
                    key: uri.clone(),
                    reason,
                };
                let out = client
                    .generate_data_key()
                    .key_id(key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .set_encryption_context(Some(context(run_id, name)))
                    .send()
                    .await
                    .map_err(|e| {
                        fail(format!(
                            "KMS GenerateDataKey failed: {}",
                            sdk_error_text(&e)
                        ))
                    })?;
                let plain = out
                    .plaintext()
                    .ok_or_else(|| fail("KMS returned no plaintext data key".into()))?;
                let plain = to_key(plain.as_ref())
                    .ok_or_else(|| fail("KMS returned a data key that is not 32 bytes".into()))?;
                let wrapped = out
                    .ciphertext_blob()
                    .map(|b| b.as_ref().to_vec())
                    .ok_or_else(|| fail("KMS returned no wrapped data key".into()))?;
                Ok(DataKey {
                    plain,
                    wrapped,
                    wrap_nonce: None,
                    key_id: out.key_id().unwrap_or(key_id).to_string(),
                    wrapping: WRAP_KMS,
                })
            }
        }
    }

    /// Unwraps the data key of object (`run_id`, `name`) described by its header fields.
    /// Errors are [`EvidenceError::WrongKey`], [`EvidenceError::Decrypt`] or
    /// [`EvidenceError::Key`] (KMS unreachable).
    pub async fn unwrap(
        &self,
        header: &envelope::Header,
    ) -> Result<Zeroizing<[u8; 32]>, EvidenceError> {
        let (run_id, name) = (&header.run_id, &header.name);
        let wrong_key = || EvidenceError::WrongKey {
            run_id: run_id.clone(),
            name: name.clone(),
            wrapping: header.wrapping.clone(),
            stored: header.key_id.clone(),
            configured: self.describe(),
        };
        let decrypt = |reason: String| EvidenceError::Decrypt {
            run_id: run_id.clone(),
            name: name.clone(),
            reason,
        };
        let wrapped = envelope::unb64("wrapped_key", &header.wrapped_key).map_err(decrypt)?;
        match self {
            Wrapper::Local { key, key_id } => {
                if header.wrapping != WRAP_LOCAL || &header.key_id != key_id {
                    return Err(wrong_key());
                }
                let nonce = header
                    .wrap_nonce
                    .as_deref()
                    .ok_or_else(|| decrypt("the header has no wrap_nonce".into()))?;
                let nonce = envelope::unb64("wrap_nonce", nonce).map_err(decrypt)?;
                let plain = Zeroizing::new(
                    envelope::open(key, &nonce, &envelope::wrap_aad(run_id, name), &wrapped)
                        .map_err(|r| decrypt(format!("data key: {r}")))?,
                );
                to_key(&plain).ok_or_else(|| decrypt("the data key is not 32 bytes".into()))
            }
            Wrapper::Kms {
                uri,
                key_id,
                client,
            } => {
                if header.wrapping != WRAP_KMS {
                    return Err(wrong_key());
                }
                let out = client
                    .decrypt()
                    .key_id(key_id)
                    .ciphertext_blob(Blob::new(wrapped))
                    .set_encryption_context(Some(context(run_id, name)))
                    .send()
                    .await
                    .map_err(|e| {
                        let detail = sdk_error_text(&e);
                        if e.as_service_error().is_some_and(|s| {
                            s.is_invalid_ciphertext_exception() || s.is_incorrect_key_exception()
                        }) {
                            decrypt(format!("KMS refused the data key: {detail}"))
                        } else {
                            EvidenceError::Key {
                                key: uri.clone(),
                                reason: format!("KMS Decrypt failed: {detail}"),
                            }
                        }
                    })?;
                let plain = out
                    .plaintext()
                    .ok_or_else(|| decrypt("KMS returned no plaintext".into()))?;
                to_key(plain.as_ref()).ok_or_else(|| decrypt("the data key is not 32 bytes".into()))
            }
        }
    }
}

/// The KMS encryption context binding a data key to its object.
fn context(run_id: &str, name: &str) -> HashMap<String, String> {
    HashMap::from([
        ("kiln:run".to_string(), run_id.to_string()),
        ("kiln:name".to_string(), name.to_string()),
    ])
}

fn to_key(bytes: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let arr: [u8; 32] = bytes.try_into().ok()?;
    Some(Zeroizing::new(arr))
}

/// `local:` + the first 16 hex digits of the key's SHA-256.
pub(crate) fn local_key_id(key: &[u8; 32]) -> String {
    format!("local:{}", &envelope::sha256_hex(key)[..16])
}

/// Reads the 32-byte key at `path`, creating it (0600, parents 0700) when absent. Creation
/// is atomic: a temporary file linked into place, so two processes agree on one key.
pub(crate) fn load_or_create(path: &Path) -> Result<Zeroizing<[u8; 32]>, EvidenceError> {
    let fail = |reason: String| EvidenceError::Key {
        key: path.display().to_string(),
        reason,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            return to_key(&bytes).ok_or_else(|| {
                fail(format!(
                    "a key file holds 32 raw bytes; this one holds {}",
                    bytes.len()
                ))
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(format!("cannot read: {e}"))),
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&parent)
        .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
    let mut key = Zeroizing::new([0u8; 32]);
    envelope::fill_random(key.as_mut_slice());
    // NamedTempFile is created with mode 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(&parent)
        .map_err(|e| fail(format!("cannot create a file in {}: {e}", parent.display())))?;
    tmp.write_all(key.as_slice())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail(format!("cannot write: {e}")))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(key),
        // Another process created it first: use theirs.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(fail(format!("cannot create: {}", e.error))),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/evidence.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.as_slice(), b.as_slice());
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn refuses_a_key_of_the_wrong_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.key");
        std::fs::write(&path, b"too short").unwrap();
        let err = load_or_create(&path).err().unwrap().to_string();
        assert!(err.contains("32 raw bytes") && err.contains("9"), "{err}");
    }

    #[test]
    fn parses_key_specs() {
        assert_eq!(
            WrapKey::parse("awskms:///alias/evidence"),
            WrapKey::AwsKms {
                key_id: "awskms:///alias/evidence".into()
            }
        );
        assert_eq!(
            WrapKey::parse(".kiln/keys/evidence.key"),
            WrapKey::LocalFile(".kiln/keys/evidence.key".into())
        );
    }
}
