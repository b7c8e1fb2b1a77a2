//! AWS KMS keys named as cosign names them: `awskms://[ENDPOINT]/KEY`, where KEY is a key
//! id, `alias/NAME`, or a key or alias ARN. ECC_NIST_P256 keys sign with ECDSA_SHA_256 and
//! ECC_NIST_P384 keys with ECDSA_SHA_384; Kiln hashes on the host and sends only the digest
//! (`MessageType=DIGEST`), as cosign does. Every signature KMS returns is checked against
//! the key's public key before it is handed out, so a KMS that signs something else is an
//! error, not a bad signature found later.
//!
//! Credentials and region come from the AWS SDK's usual chain (`AWS_*` variables, profiles);
//! an ARN supplies its own region. An ENDPOINT in the URI is reached over HTTPS; without one
//! the SDK's endpoint (or `AWS_ENDPOINT_URL`) is used.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use sha2::Digest as _;

use crate::SignError;
use crate::notation::cert::verify_prehash_der;
use crate::signer::{SignatureAlgorithm, Signer};

/// The URI scheme of AWS KMS keys.
pub const SCHEME: &str = "awskms://";

/// A parsed `awskms://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsRef {
    /// `host[:port]` to reach over HTTPS, when the URI names one.
    pub endpoint: Option<String>,
    /// The key id, `alias/NAME`, or ARN, as KMS takes it.
    pub key_id: String,
    /// The region of an ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
    pub region: Option<String>,
}

impl KmsRef {
    /// Parses `awskms://[ENDPOINT]/KEY`.
    pub fn parse(uri: &str) -> Result<KmsRef, SignError> {
        let bad = |reason: &str| SignError::Key {
            key: uri.to_string(),
            reason: format!("{reason} (expected awskms://[ENDPOINT]/KEY_ID|alias/NAME|ARN)"),
        };
        let rest = uri
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("not an awskms:// reference"))?;
        let (endpoint, key) = rest
            .split_once('/')
            .ok_or_else(|| bad("no key after the endpoint"))?;
        if key.is_empty() {
            return Err(bad("empty key id"));
        }
        if endpoint.contains(['@', '?', '#', ' ']) {
            return Err(bad("the endpoint must be HOST[:PORT]"));
        }
        let region = if let Some(arn) = key.strip_prefix("arn:") {
            // arn:PARTITION:kms:REGION:ACCOUNT:key/ID or alias/NAME
            let parts: Vec<&str> = arn.splitn(5, ':').collect();
            if parts.len() != 5 || parts[1] != "kms" || parts[2].is_empty() {
                return Err(bad("malformed KMS ARN"));
            }
            let resource = parts[4];
            if !(resource.starts_with("key/") || resource.starts_with("alias/")) {
                return Err(bad("the ARN names neither a key/ nor an alias/"));
            }
            Some(parts[2].to_string())
        } else if let Some(name) = key.strip_prefix("alias/") {
            if name.is_empty() || name.ends_with('/') {
                return Err(bad("empty alias name"));
            }
            None
        } else {
            if key.contains('/') || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(bad("a key id is letters, digits and dashes"));
            }
            None
        };
        Ok(KmsRef {
            endpoint: (!endpoint.is_empty()).then(|| endpoint.to_string()),
            key_id: key.to_string(),
            region,
        })
    }
}

/// Connection settings beyond the URI; the defaults use the AWS SDK's chain.
#[derive(Clone, Default)]
pub struct KmsOptions {
    /// A full endpoint URL (`http://127.0.0.1:PORT` for a local stand-in); overrides the
    /// URI's endpoint.
    pub endpoint_url: Option<String>,
    /// The region, when neither the ARN nor the environment gives one.
    pub region: Option<String>,
    /// Static credentials (access key id, secret), instead of the SDK's chain.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for KmsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsOptions")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An asymmetric AWS KMS key that signs.
pub struct KmsSigner {
    uri: String,
    key: KmsRef,
    client: aws_sdk_kms::Client,
    algorithm: SignatureAlgorithm,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSigner")
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl KmsSigner {
    /// Connects to KMS and reads the key's public key and type (GetPublicKey).
    pub async fn open(uri: &str) -> Result<KmsSigner, SignError> {
        Self::open_with(uri, &KmsOptions::default()).await
    }

    /// [`KmsSigner::open`] with explicit connection settings.
    pub async fn open_with(uri: &str, options: &KmsOptions) -> Result<KmsSigner, SignError> {
        let key = KmsRef::parse(uri)?;
        let client = client(&key, options).await;
        let fail = |reason: String| SignError::Key {
            key: uri.to_string(),
            reason,
        };
        let out = client
            .get_public_key()
            .key_id(&key.key_id)
            .send()
            .await
            .map_err(|e| fail(format!("KMS GetPublicKey failed: {}", sdk_error_text(&e))))?;
        // KeySpec, or the older CustomerMasterKeySpec with the same names.
        let spec = out.key_spec().map(|s| s.as_str().to_string()).or_else(|| {
            #[allow(deprecated)]
            out.customer_master_key_spec()
                .map(|s| s.as_str().to_string())
        });
        let algorithm = match spec.as_deref() {
            Some("ECC_NIST_P256") => SignatureAlgorithm::EcdsaP256Sha256,
            Some("ECC_NIST_P384") => SignatureAlgorithm::EcdsaP384Sha384,
            Some(other) => {
                return Err(fail(format!(
                    "unsupported KMS key spec {other} (Kiln signs with ECC_NIST_P256 or ECC_NIST_P384)"
                )));
            }
            None => return Err(fail("KMS did not report the key spec".into())),
        };
        if let Some(usage) = out.key_usage()
            && usage.as_str() != "SIGN_VERIFY"
        {
            return Err(fail(format!(
                "the key's usage is {}, not SIGN_VERIFY",
                usage.as_str()
            )));
        }
        let spki_der = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| fail("KMS returned no public key".into()))?;
        check_spki(algorithm, &spki_der).map_err(|r| fail(format!("KMS public key: {r}")))?;
        Ok(KmsSigner {
            uri: uri.to_string(),
            key,
            client,
            algorithm,
            spki_der,
        })
    }

    /// The parsed reference.
    pub fn reference(&self) -> &KmsRef {
        &self.key
    }
}

/// A KMS client for `key` with `options`.
pub async fn client(key: &KmsRef, options: &KmsOptions) -> aws_sdk_kms::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = key.region.as_ref().or(options.region.as_ref()) {
        loader = loader.region(aws_sdk_kms::config::Region::new(region.clone()));
    }
    if let Some((id, secret)) = &options.credentials {
        loader = loader.credentials_provider(aws_sdk_kms::config::Credentials::new(
            id.clone(),
            secret.clone(),
            None,
            None,
            "kiln",
        ));
    }
    let shared = loader.load().await;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(60))
        .build();
    let mut conf = aws_sdk_kms::config::Builder::from(&shared).timeout_config(timeouts);
    if let Some(url) = &options.endpoint_url {
        conf = conf.endpoint_url(url.clone());
    } else if let Some(endpoint) = &key.endpoint {
        conf = conf.endpoint_url(format!("https://{endpoint}"));
    }
    aws_sdk_kms::Client::from_conf(conf.build())
}

/// An AWS SDK error in one line, for messages: what failed (`service error`, `dispatch
/// failure`, …), the HTTP status and the service's error code and message when KMS
/// answered, and the chain of causes — never the raw response. (The SDK's
/// `DisplayErrorContext` appends the error's debug form, raw response body included: for
/// a GenerateDataKey or Decrypt answer that fails to parse, that body holds the plaintext
/// data key, which must not reach an error message, a log or the ledger.)
pub fn sdk_error_text<E>(e: &aws_sdk_kms::error::SdkError<E>) -> String
where
    E: std::error::Error + aws_sdk_kms::error::ProvideErrorMetadata + 'static,
{
    use aws_sdk_kms::error::SdkError;
    let mut out = e.to_string();
    let status = match e {
        SdkError::ServiceError(se) => Some(se.raw().status().as_u16()),
        SdkError::ResponseError(re) => Some(re.raw().status().as_u16()),
        _ => None,
    };
    if let Some(status) = status {
        out.push_str(&format!(" (HTTP {status})"));
    }
    if let Some(se) = e.as_service_error() {
        match (se.code(), se.message()) {
            (Some(code), Some(message)) => out.push_str(&format!(": {code}: {message}")),
            (Some(code), None) => out.push_str(&format!(": {code}")),
            _ => {}
        }
    }
    let mut source = std::error::Error::source(e);
    let mut seen = 0;
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        seen += 1;
        if seen > 8 {
            break;
        }
        source = s.source();
    }
    out
}

/// Checks that `spki` is a public key of the curve `algorithm` uses.
fn check_spki(algorithm: SignatureAlgorithm, spki: &[u8]) -> Result<(), String> {
    use p256::pkcs8::DecodePublicKey;
    match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256 => p256::PublicKey::from_public_key_der(spki)
            .map(|_| ())
            .map_err(|e| format!("not a P-256 public key: {e}")),
        SignatureAlgorithm::EcdsaP384Sha384 => p384::PublicKey::from_public_key_der(spki)
            .map(|_| ())
            .map_err(|e| format!("not a P-384 public key: {e}")),
        other => Err(format!("{other:?} is not offered through KMS here")),
    }
}

#[async_trait]
impl Signer for KmsSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    fn key_ref(&self) -> String {
        self.uri.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let (digest, spec) = match self.algorithm {
            SignatureAlgorithm::EcdsaP384Sha384 => (
                sha2::Sha384::digest(message).to_vec(),
                SigningAlgorithmSpec::EcdsaSha384,
            ),
            _ => (
                sha2::Sha256::digest(message).to_vec(),
                SigningAlgorithmSpec::EcdsaSha256,
            ),
        };
        let fail = |reason: String| SignError::Signing {
            key: self.uri.clone(),
            reason,
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key.key_id)
            .message(Blob::new(digest.clone()))
            .message_type(MessageType::Digest)
            .signing_algorithm(spec)
            .send()
            .await
            .map_err(|e| fail(format!("KMS Sign failed: {}", sdk_error_text(&e))))?;
        let sig = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| fail("KMS returned no signature".into()))?;
        verify_prehash_der(self.algorithm, &self.spki_der, &digest, &sig).map_err(|r| {
            fail(format!(
                "KMS returned a signature that is not over the digest sent ({r})"
            ))
        })?;
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cosign_forms() {
        let k = KmsRef::parse("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(k.endpoint, None);
        assert_eq!(k.key_id, "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(k.region, None);

        let k = KmsRef::parse("awskms://localhost:4566/alias/release").unwrap();
        assert_eq!(k.endpoint.as_deref(), Some("localhost:4566"));
        assert_eq!(k.key_id, "alias/release");

        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let k = KmsRef::parse(&format!("awskms:///{arn}")).unwrap();
        assert_eq!(k.key_id, arn);
        assert_eq!(k.region.as_deref(), Some("eu-west-1"));

        let k = KmsRef::parse("awskms:///arn:aws:kms:us-east-2:1:alias/x").unwrap();
        assert_eq!(k.region.as_deref(), Some("us-east-2"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "awskms://",
            "awskms:///",
            "awskms://host",
            "gcpkms://x/y",
            "awskms:///arn:aws:s3:us-east-1:1:bucket/x",
            "awskms:///arn:aws:kms:us-east-1:1:thing/x",
            "awskms:///key/with/slash",
            "awskms:///alias/",
            "awskms://user@host/key",
        ] {
            let e = KmsRef::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }
}
