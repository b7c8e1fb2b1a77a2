//! Envelope encryption of one evidence object: the header stored beside the ciphertext
//! ([`Header`]), the associated data that binds an object to its run and name, and
//! sealing/opening with a data key. Key wrapping is in [`super::keys`].

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The only header version.
pub const VERSION: u32 = 1;
/// The content cipher.
pub const ALG: &str = "AES-256-GCM";
/// Data keys wrapped by a local 32-byte key with AES-256-GCM.
pub const WRAP_LOCAL: &str = "local-aes256gcm";
/// Data keys from AWS KMS GenerateDataKey, unwrapped by KMS Decrypt.
pub const WRAP_KMS: &str = "aws-kms";

/// The JSON header stored beside each ciphertext (`NAME.json` beside `NAME.enc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`VERSION`].
    pub version: u32,
    /// [`ALG`].
    pub alg: String,
    /// [`WRAP_LOCAL`] or [`WRAP_KMS`].
    pub wrapping: String,
    /// The wrapping key: `local:` + the first 16 hex digits of the SHA-256 of a local
    /// key, or the KMS key ARN.
    pub key_id: String,
    /// The wrapped data key, base64.
    pub wrapped_key: String,
    /// The nonce of a local wrap, base64 (absent for KMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_nonce: Option<String>,
    /// The content nonce, base64 (12 bytes).
    pub nonce: String,
    /// The run the object belongs to.
    pub run_id: String,
    /// The object's name within the run.
    pub name: String,
    /// The plaintext's media type.
    pub media_type: String,
    /// The plaintext's length in bytes.
    pub size: u64,
    /// The plaintext's SHA-256, lower-case hex.
    pub sha256: String,
}

/// The associated data of the content: binds the ciphertext to its run, name, media type
/// and plaintext digest, so an object moved or relabelled does not decrypt.
pub fn content_aad(header: &Header) -> Vec<u8> {
    format!(
        "kiln-evidence/v1\n{}\n{}\n{}\n{}",
        header.run_id, header.name, header.media_type, header.sha256
    )
    .into_bytes()
}

/// The associated data of a local key wrap: binds the wrapped key to its object.
pub fn wrap_aad(run_id: &str, name: &str) -> Vec<u8> {
    format!("kiln-evidence-key/v1\n{run_id}\n{name}").into_bytes()
}

/// SHA-256 of `data`, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Encrypts `plaintext` with `data_key` and a fresh nonce; returns (nonce, ciphertext+tag).
pub fn seal(
    data_key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(data_key));
    let nonce = random_nonce();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| "AES-256-GCM encryption failed".to_string())?;
    Ok((nonce.to_vec(), ct))
}

/// Decrypts and authenticates; any alteration is an error, with no output.
pub fn open(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, String> {
    if nonce.len() != 12 {
        return Err(format!("the nonce is {} bytes, not 12", nonce.len()));
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| "authentication failed (altered, moved or wrong key)".to_string())
}

/// 12 random bytes.
fn random_nonce() -> [u8; 12] {
    let mut n = [0u8; 12];
    fill_random(&mut n);
    n
}

/// Fills `buf` from the operating system's generator.
pub fn fill_random(buf: &mut [u8]) {
    use aes_gcm::aead::rand_core::RngCore as _;
    aes_gcm::aead::OsRng.fill_bytes(buf);
}

/// Base64 (standard, padded).
pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

/// Decodes a base64 header field.
pub fn unb64(field: &str, value: &str) -> Result<Vec<u8>, String> {
    B64.decode(value)
        .map_err(|e| format!("{field} is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = [7u8; 32];
        let (nonce, ct) = seal(&key, b"aad", b"hello evidence").unwrap();
        assert_eq!(open(&key, &nonce, b"aad", &ct).unwrap(), b"hello evidence");
        assert!(open(&key, &nonce, b"aae", &ct).is_err());
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(open(&key, &nonce, b"aad", &bad).is_err());
        assert!(open(&[8u8; 32], &nonce, b"aad", &ct).is_err());
        assert!(open(&key, &nonce[..8], b"aad", &ct).is_err());
    }

    #[test]
    fn nonces_differ() {
        let key = [1u8; 32];
        let (a, ca) = seal(&key, b"", b"x").unwrap();
        let (b, cb) = seal(&key, b"", b"x").unwrap();
        assert_ne!(a, b);
        assert_ne!(ca, cb);
    }
}
