//! The evidence store: SBOMs, scan reports and provenance of each run, in a local
//! directory or S3 (through `object_store`), envelope-encrypted at rest.
//!
//! # Layout
//! Under the store's root (a directory, or `s3://BUCKET/PREFIX`), object NAME of run RUN
//! is two objects:
//! - `RUN/NAME.enc`: AES-256-GCM ciphertext of the plaintext, tag appended (16 bytes);
//! - `RUN/NAME.json`: its header, written after the ciphertext (so a listed object is
//!   complete):
//!
//! ```json
//! { "version": 1, "alg": "AES-256-GCM",
//!   "wrapping": "local-aes256gcm" | "aws-kms",
//!   "key_id": "local:<16 hex of SHA-256(key)>" | "<KMS key ARN>",
//!   "wrapped_key": "<base64>", "wrap_nonce": "<base64, local only>",
//!   "nonce": "<base64, 12 bytes>",
//!   "run_id": "RUN", "name": "NAME", "media_type": "…",
//!   "size": 1234, "sha256": "<hex of the plaintext>" }
//! ```
//!
//! # Encryption
//! Every object gets a fresh random 32-byte data key and 12-byte nonce. The content's
//! associated data is `"kiln-evidence/v1\n" RUN "\n" NAME "\n" MEDIA_TYPE "\n" SHA256`, so
//! a ciphertext moved to another run or name, or a relabelled header, does not decrypt.
//! The data key is wrapped by:
//! - `local-aes256gcm`: AES-256-GCM under a local 32-byte key file, its own nonce
//!   (`wrap_nonce`), associated data `"kiln-evidence-key/v1\n" RUN "\n" NAME`;
//! - `aws-kms`: KMS GenerateDataKey (AES_256) and Decrypt, with encryption context
//!   `{"kiln:run": RUN, "kiln:name": NAME}`.
//!
//! After decryption the plaintext's length and SHA-256 are checked against the header.
//! Any failure is an error and no plaintext is returned.

mod envelope;
mod error;
mod keys;

use std::path::PathBuf;
use std::sync::Arc;

use futures::TryStreamExt as _;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use serde::{Deserialize, Serialize};

pub use envelope::{ALG, Header, VERSION, WRAP_KMS, WRAP_LOCAL};
pub use error::EvidenceError;
pub use keys::WrapKey;
pub use kiln_sign::keys::kms::KmsOptions;

use keys::Wrapper;

/// An object in the evidence store, as `put` and `list` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// The run it belongs to.
    pub run_id: String,
    /// Its name within the run (`sbom.spdx.json`, `scan.json`, `provenance.json`, …).
    pub name: String,
    /// The plaintext's media type.
    pub media_type: String,
    /// The plaintext's length in bytes.
    pub size: u64,
    /// The plaintext's SHA-256, lower-case hex.
    pub sha256: String,
    /// `local-aes256gcm` or `aws-kms`.
    pub wrapping: String,
    /// The wrapping key's id (see [`Header::key_id`]).
    pub key_id: String,
    /// Where the ciphertext is: `file:///DIR/RUN/NAME.enc` or `s3://BUCKET/PREFIX/RUN/NAME.enc`.
    pub location: String,
}

/// AWS settings beyond the environment (a local stand-in's endpoint, a region,
/// static credentials), applied to both S3 and KMS.
#[derive(Clone, Default)]
pub struct StoreOptions {
    /// A full endpoint URL, such as `http://127.0.0.1:PORT`; plain HTTP is allowed when
    /// it starts with `http://`.
    pub endpoint_url: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Access key id and secret.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An open evidence store.
pub struct EvidenceStore {
    store: Arc<dyn ObjectStore>,
    /// Object-path prefix inside the store (S3 prefix; empty for a directory).
    prefix: Vec<String>,
    /// `file:///DIR` or `s3://BUCKET[/PREFIX]`, for locations and messages.
    base: String,
    wrapper: Option<Wrapper>,
}

impl std::fmt::Debug for EvidenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceStore")
            .field("base", &self.base)
            .field("key", &self.wrapper.as_ref().map(Wrapper::describe))
            .finish()
    }
}

impl EvidenceStore {
    /// Opens the store at `url` (a directory path or `file://DIR`, created when absent; or
    /// `s3://BUCKET[/PREFIX]`, configured from the `AWS_*` environment as
    /// `AmazonS3Builder::from_env` reads it) with wrapping key `key` (a local key file is
    /// created when absent).
    pub async fn open(url: &str, key: WrapKey) -> Result<EvidenceStore, EvidenceError> {
        Self::open_with(url, Some(key), &StoreOptions::default()).await
    }

    /// [`EvidenceStore::open`] without a key: [`list`](Self::list), [`header`](Self::header)
    /// and [`get_raw`](Self::get_raw) work; `put` and `get` do not.
    pub async fn open_unkeyed(url: &str) -> Result<EvidenceStore, EvidenceError> {
        Self::open_with(url, None, &StoreOptions::default()).await
    }

    /// [`EvidenceStore::open`] with explicit AWS settings.
    pub async fn open_with(
        url: &str,
        key: Option<WrapKey>,
        options: &StoreOptions,
    ) -> Result<EvidenceStore, EvidenceError> {
        let bad = |reason: String| EvidenceError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let (store, prefix, base): (Arc<dyn ObjectStore>, Vec<String>, String) =
            if let Some(rest) = url.strip_prefix("s3://") {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("no bucket (expected s3://BUCKET[/PREFIX])".into()));
                }
                let prefix: Vec<String> = prefix
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for seg in &prefix {
                    check_segment("store prefix segment", seg)?;
                }
                let mut builder =
                    object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = &options.endpoint_url {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(region) = &options.region {
                    builder = builder.with_region(region);
                }
                if let Some((id, secret)) = &options.credentials {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret);
                }
                let s3 = builder.build().map_err(|e| bad(e.to_string()))?;
                let base = if prefix.is_empty() {
                    format!("s3://{bucket}")
                } else {
                    format!("s3://{bucket}/{}", prefix.join("/"))
                };
                (Arc::new(s3), prefix, base)
            } else {
                let dir = match url.strip_prefix("file://") {
                    Some(p) => PathBuf::from(p),
                    None if url.contains("://") => {
                        return Err(bad(
                            "expected a directory, file://DIR or s3://BUCKET[/PREFIX]".into(),
                        ));
                    }
                    None => PathBuf::from(url),
                };
                if dir.as_os_str().is_empty() {
                    return Err(bad("empty directory path".into()));
                }
                std::fs::create_dir_all(&dir)
                    .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
                let dir = std::fs::canonicalize(&dir)
                    .map_err(|e| bad(format!("cannot resolve {}: {e}", dir.display())))?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| bad(e.to_string()))?;
                (
                    Arc::new(fs),
                    Vec::new(),
                    format!("file://{}", dir.display()),
                )
            };
        let kms_options = KmsOptions {
            endpoint_url: options.endpoint_url.clone(),
            region: options.region.clone(),
            credentials: options.credentials.clone(),
        };
        let wrapper = match &key {
            Some(key) => Some(Wrapper::load(key, &kms_options).await?),
            None => None,
        };
        Ok(EvidenceStore {
            store,
            prefix,
            base,
            wrapper,
        })
    }

    /// `file:///DIR` or `s3://BUCKET[/PREFIX]`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Encrypts `data` and stores it as object `name` of run `run_id`. An object that
    /// exists already is an error.
    pub async fn put(
        &self,
        run_id: &str,
        name: &str,
        media_type: &str,
        data: &[u8],
    ) -> Result<EvidenceRef, EvidenceError> {
        check_segment("run id", run_id)?;
        check_name(name)?;
        if media_type.is_empty() || media_type.chars().any(|c| c.is_control()) {
            return Err(EvidenceError::BadName {
                what: "media type",
                value: media_type.to_string(),
                reason: "empty or with control characters".into(),
            });
        }
        let wrapper = self
            .wrapper
            .as_ref()
            .ok_or(EvidenceError::NoKey("store evidence"))?;
        let header_path = self.path(run_id, name, "json");
        match self.store.head(&header_path).await {
            Ok(_) => {
                return Err(EvidenceError::Exists {
                    run_id: run_id.to_string(),
                    name: name.to_string(),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.store_error(&header_path, e)),
        }
        let data_key = wrapper.new_data_key(run_id, name).await?;
        let mut header = Header {
            version: VERSION,
            alg: ALG.to_string(),
            wrapping: data_key.wrapping.to_string(),
            key_id: data_key.key_id.clone(),
            wrapped_key: envelope::b64(&data_key.wrapped),
            wrap_nonce: data_key.wrap_nonce.as_deref().map(envelope::b64),
            nonce: String::new(),
            run_id: run_id.to_string(),
            name: name.to_string(),
            media_type: media_type.to_string(),
            size: data.len() as u64,
            sha256: envelope::sha256_hex(data),
        };
        let (nonce, ciphertext) =
            envelope::seal(&data_key.plain, &envelope::content_aad(&header), data).map_err(
                |reason| EvidenceError::Decrypt {
                    run_id: run_id.to_string(),
                    name: name.to_string(),
                    reason,
                },
            )?;
        header.nonce = envelope::b64(&nonce);
        let header_json =
            serde_json::to_vec_pretty(&header).map_err(|e| EvidenceError::BadHeader {
                run_id: run_id.to_string(),
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        let enc_path = self.path(run_id, name, "enc");
        self.store
            .put(&enc_path, PutPayload::from(ciphertext))
            .await
            .map_err(|e| self.store_error(&enc_path, e))?;
        self.store
            .put(&header_path, PutPayload::from(header_json))
            .await
            .map_err(|e| self.store_error(&header_path, e))?;
        Ok(self.reference(&header))
    }

    /// The decrypted, verified plaintext of object `name` of run `run_id`.
    pub async fn get(&self, run_id: &str, name: &str) -> Result<Vec<u8>, EvidenceError> {
        let wrapper = self
            .wrapper
            .as_ref()
            .ok_or(EvidenceError::NoKey("decrypt evidence"))?;
        let header = self.header(run_id, name).await?;
        let ciphertext = self.get_raw(run_id, name).await?;
        let decrypt = |reason: String| EvidenceError::Decrypt {
            run_id: run_id.to_string(),
            name: name.to_string(),
            reason,
        };
        if header.version != VERSION || header.alg != ALG {
            return Err(decrypt(format!(
                "unsupported version {} / algorithm {:?}",
                header.version, header.alg
            )));
        }
        let data_key = wrapper.unwrap(&header).await?;
        let nonce = envelope::unb64("nonce", &header.nonce).map_err(decrypt)?;
        let plain = envelope::open(
            &data_key,
            &nonce,
            &envelope::content_aad(&header),
            &ciphertext,
        )
        .map_err(decrypt)?;
        if plain.len() as u64 != header.size || envelope::sha256_hex(&plain) != header.sha256 {
            return Err(decrypt(
                "the plaintext does not match the header's size and SHA-256".into(),
            ));
        }
        Ok(plain)
    }

    /// The stored ciphertext of object `name` of run `run_id`, as it is at rest.
    pub async fn get_raw(&self, run_id: &str, name: &str) -> Result<Vec<u8>, EvidenceError> {
        check_segment("run id", run_id)?;
        check_name(name)?;
        self.fetch(run_id, name, "enc").await
    }

    /// The header of object `name` of run `run_id`, checked to describe that object.
    pub async fn header(&self, run_id: &str, name: &str) -> Result<Header, EvidenceError> {
        check_segment("run id", run_id)?;
        check_name(name)?;
        let bytes = self.fetch(run_id, name, "json").await?;
        let bad = |reason: String| EvidenceError::BadHeader {
            run_id: run_id.to_string(),
            name: name.to_string(),
            reason,
        };
        let header: Header = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if header.run_id != run_id || header.name != name {
            return Err(bad(format!(
                "it describes {:?} of run {}: the object was moved",
                header.name, header.run_id
            )));
        }
        Ok(header)
    }

    /// The objects of run `run_id`, by name.
    pub async fn list(&self, run_id: &str) -> Result<Vec<EvidenceRef>, EvidenceError> {
        check_segment("run id", run_id)?;
        let dir = self.dir(run_id);
        let metas: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| self.store_error(&dir, e))?;
        let mut names: Vec<String> = metas
            .iter()
            .filter_map(|m| m.location.filename())
            .filter_map(|f| f.strip_suffix(".json"))
            .filter(|n| check_name(n).is_ok())
            .map(str::to_string)
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.reference(&self.header(run_id, &name).await?));
        }
        Ok(out)
    }

    fn reference(&self, header: &Header) -> EvidenceRef {
        EvidenceRef {
            run_id: header.run_id.clone(),
            name: header.name.clone(),
            media_type: header.media_type.clone(),
            size: header.size,
            sha256: header.sha256.clone(),
            wrapping: header.wrapping.clone(),
            key_id: header.key_id.clone(),
            location: format!("{}/{}/{}.enc", self.base, header.run_id, header.name),
        }
    }

    async fn fetch(&self, run_id: &str, name: &str, ext: &str) -> Result<Vec<u8>, EvidenceError> {
        let path = self.path(run_id, name, ext);
        let got = match self.store.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(EvidenceError::NotFound {
                    run_id: run_id.to_string(),
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(self.store_error(&path, e)),
        };
        let bytes = got.bytes().await.map_err(|e| self.store_error(&path, e))?;
        Ok(bytes.to_vec())
    }

    fn dir(&self, run_id: &str) -> ObjPath {
        let mut parts: Vec<&str> = self.prefix.iter().map(String::as_str).collect();
        parts.push(run_id);
        ObjPath::from_iter(parts)
    }

    fn path(&self, run_id: &str, name: &str, ext: &str) -> ObjPath {
        self.dir(run_id).join(format!("{name}.{ext}"))
    }

    fn store_error(&self, path: &ObjPath, e: object_store::Error) -> EvidenceError {
        EvidenceError::Store {
            location: format!("{}/{}", self.base, strip_prefix(path, &self.prefix)),
            reason: e.to_string(),
        }
    }
}

/// `path` without the store prefix, for messages.
fn strip_prefix(path: &ObjPath, prefix: &[String]) -> String {
    let parts: Vec<_> = path.parts().map(|p| p.as_ref().to_string()).collect();
    parts[prefix.len().min(parts.len())..].join("/")
}

/// A run id or prefix segment: 1-128 of `[A-Za-z0-9._-]`, not starting with a dot.
fn check_segment(what: &'static str, value: &str) -> Result<(), EvidenceError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(EvidenceError::BadName {
            what,
            value: value.to_string(),
            reason: "use 1-128 letters, digits, '.', '_' or '-', not starting with '.'".into(),
        })
    }
}

/// An object name: a segment (see [`check_segment`]).
fn check_name(name: &str) -> Result<(), EvidenceError> {
    check_segment("object name", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_safe_segments() {
        for ok in ["sbom.spdx.json", "scan-report_1", "a"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "../x", "a/b", "a\nb", "é", &"x".repeat(129)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
