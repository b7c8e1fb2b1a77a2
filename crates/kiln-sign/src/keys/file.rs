//! Key files: cosign's encrypted private key format (PEM `ENCRYPTED SIGSTORE PRIVATE KEY`,
//! legacy `ENCRYPTED COSIGN PRIVATE KEY`: JSON with scrypt and nacl/secretbox over PKCS#8
//! DER), plain PKCS#8, SEC1 and PKCS#1 PEM (or PKCS#8/SEC1 DER), and the [`FileSigner`].

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::material::{KeyError, PrivateKey};
use crate::signer::{SignatureAlgorithm, Signer};

/// The PEM label cosign writes today.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label older cosign releases wrote.
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// scrypt cost Kiln writes (cosign's).
pub const SCRYPT_N: u64 = 32768;
/// The largest scrypt N Kiln accepts when reading (bounds memory: 128·r·N bytes).
pub const MAX_SCRYPT_N: u64 = 1 << 20;
/// The largest key file Kiln reads.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// The JSON document inside an encrypted cosign key (go-securesystemslib `encrypted`).
#[derive(Serialize, Deserialize)]
struct Encrypted {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    if !n.is_power_of_two() || !(2..=MAX_SCRYPT_N).contains(&n) {
        return Err(KeyError::Unsupported(format!(
            "scrypt N={n} (a power of two up to {MAX_SCRYPT_N} expected)"
        )));
    }
    if r == 0 || p == 0 || r > 32 || p > 16 {
        return Err(KeyError::Unsupported(format!(
            "scrypt r={r} p={p} out of range"
        )));
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32)
        .map_err(|e| KeyError::Unsupported(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut())
        .map_err(|e| KeyError::Malformed(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Encrypts PKCS#8 DER into cosign's JSON document (new random salt and nonce).
fn encrypt_document(plaintext: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    use rand_core::RngCore;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut salt);
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = derive_key(password, &salt, SCRYPT_N, 8, 1)?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let ciphertext = cipher
        .encrypt(&nonce.into(), plaintext)
        .map_err(|_| KeyError::Malformed("secretbox encryption failed".into()))?;
    let doc = Encrypted {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: SCRYPT_N,
                r: 8,
                p: 1,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ciphertext),
    };
    serde_json::to_vec(&doc).map_err(|e| KeyError::Malformed(e.to_string()))
}

/// Decrypts cosign's JSON document to the plaintext (PKCS#8 DER for cosign keys).
fn decrypt_document(json: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let doc: Encrypted = serde_json::from_slice(json)
        .map_err(|e| KeyError::Malformed(format!("encrypted key JSON: {e}")))?;
    if doc.kdf.name != "scrypt" {
        return Err(KeyError::Unsupported(format!(
            "key derivation {:?} (scrypt expected)",
            doc.kdf.name
        )));
    }
    if doc.cipher.name != "nacl/secretbox" {
        return Err(KeyError::Unsupported(format!(
            "cipher {:?} (nacl/secretbox expected)",
            doc.cipher.name
        )));
    }
    let b64 = |what: &str, s: &str| {
        STANDARD
            .decode(s)
            .map_err(|e| KeyError::Malformed(format!("{what} is not base64: {e}")))
    };
    let salt = b64("salt", &doc.kdf.salt)?;
    let nonce = b64("nonce", &doc.cipher.nonce)?;
    let ciphertext = b64("ciphertext", &doc.ciphertext)?;
    if nonce.len() != 24 {
        return Err(KeyError::Malformed(format!(
            "nonce is {} bytes (24 expected)",
            nonce.len()
        )));
    }
    if ciphertext.len() < 16 {
        return Err(KeyError::Malformed("ciphertext is truncated".into()));
    }
    let key = derive_key(
        password,
        &salt,
        doc.kdf.params.n,
        doc.kdf.params.r,
        doc.kdf.params.p,
    )?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let nonce: [u8; 24] = nonce
        .try_into()
        .map_err(|_| KeyError::Malformed("nonce".into()))?;
    cipher
        .decrypt(&nonce.into(), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::WrongPassword)
}

/// Writes `key` as a cosign encrypted private key PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`).
pub fn encrypt_private_key(
    key: &PrivateKey,
    password: &[u8],
) -> Result<Zeroizing<String>, KeyError> {
    let der = key.to_pkcs8_der()?;
    let doc = encrypt_document(&der, password)?;
    pem_rfc7468::encode_string(SIGSTORE_LABEL, pem_rfc7468::LineEnding::LF, &doc)
        .map(Zeroizing::new)
        .map_err(|e| KeyError::Malformed(e.to_string()))
}

/// Whether key file bytes are a cosign encrypted key (and so need a password).
pub fn is_encrypted(data: &[u8]) -> bool {
    matches!(pem_rfc7468::decode_label(trim_ascii(data)), Ok(l) if l == SIGSTORE_LABEL || l == COSIGN_LABEL)
}

fn trim_ascii(data: &[u8]) -> &[u8] {
    data.trim_ascii()
}

/// Reads a private key file's bytes: cosign encrypted PEM (password required), PKCS#8
/// `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, or PKCS#8/SEC1 DER.
pub fn parse_private_key(data: &[u8], password: Option<&[u8]>) -> Result<PrivateKey, KeyError> {
    let data = trim_ascii(data);
    if !data.starts_with(b"-----") {
        if data.first() == Some(&0x30) {
            return PrivateKey::from_pkcs8_der(data)
                .or_else(|e| PrivateKey::from_sec1_der(data).map_err(|_| e));
        }
        return Err(KeyError::Malformed(
            "invalid pem block: not PEM and not DER".into(),
        ));
    }
    let (label, der) = pem_rfc7468::decode_vec(data)
        .map_err(|e| KeyError::Malformed(format!("invalid pem block: {e}")))?;
    let der = Zeroizing::new(der);
    match label {
        SIGSTORE_LABEL | COSIGN_LABEL => {
            let password = password.ok_or(KeyError::PasswordRequired)?;
            let plain = decrypt_document(&der, password)?;
            // cosign accepts only PKCS#8 inside its encrypted envelope.
            PrivateKey::from_pkcs8_der(&plain).map_err(|e| match e {
                KeyError::Malformed(m) => KeyError::Malformed(format!(
                    "parsing private key: the decrypted key is not PKCS#8 ({m})"
                )),
                other => other,
            })
        }
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der),
        "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&der),
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&der),
        "PUBLIC KEY" => Err(KeyError::Unsupported(
            "unsupported private key: the file holds a PUBLIC KEY".into(),
        )),
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::Unsupported(
            "PKCS#8 encrypted keys are not supported; decrypt it or import it with `kiln key import`".into(),
        )),
        other => Err(KeyError::Unsupported(format!("unsupported private key PEM type {other:?}"))),
    }
}

/// Reads a key file from disk (bounded in size).
pub fn read_key_file(path: &std::path::Path) -> Result<Vec<u8>, KeyError> {
    let meta =
        std::fs::metadata(path).map_err(|e| KeyError::Io(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyError::Malformed(format!(
            "{} is {} bytes, too large for a key file",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| KeyError::Io(format!("{}: {e}", path.display())))
}

/// Writes `PREFIX.key` (cosign encrypted, mode 0600) and `PREFIX.pub` (PEM SPKI), each
/// to a temporary name then renamed. Existing files are kept unless `overwrite`; on any
/// error neither file is left half-written.
pub fn save_key_pair(
    prefix: &std::path::Path,
    key: &PrivateKey,
    password: &[u8],
    overwrite: bool,
) -> Result<(std::path::PathBuf, std::path::PathBuf), KeyError> {
    let with_ext = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        std::path::PathBuf::from(s)
    };
    let (key_path, pub_path) = (with_ext(".key"), with_ext(".pub"));
    if !overwrite {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                return Err(KeyError::Io(format!(
                    "{} exists (use --force to overwrite)",
                    p.display()
                )));
            }
        }
    }
    let private_pem = encrypt_private_key(key, password)?;
    let public_pem = key.public_key().to_pem();
    let dir = match key_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let io = |p: &std::path::Path, e: std::io::Error| KeyError::Io(format!("{}: {e}", p.display()));
    let write_temp = |data: &[u8], private: bool| -> Result<tempfile::NamedTempFile, KeyError> {
        use std::io::Write as _;
        let mut t = tempfile::Builder::new()
            .prefix(".kiln-key")
            .tempfile_in(&dir)
            .map_err(|e| io(&dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = if private { 0o600 } else { 0o644 };
            t.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| io(t.path(), e))?;
        }
        #[cfg(not(unix))]
        let _ = private;
        t.write_all(data).map_err(|e| io(t.path(), e))?;
        t.as_file().sync_all().map_err(|e| io(t.path(), e))?;
        Ok(t)
    };
    let key_tmp = write_temp(private_pem.as_bytes(), true)?;
    let pub_tmp = write_temp(public_pem.as_bytes(), false)?;
    key_tmp
        .persist(&key_path)
        .map_err(|e| io(&key_path, e.error))?;
    if let Err(e) = pub_tmp.persist(&pub_path) {
        let _ = std::fs::remove_file(&key_path);
        return Err(io(&pub_path, e.error));
    }
    Ok((key_path, pub_path))
}

/// A [`Signer`] over a private key read from a file.
pub struct FileSigner {
    key: PrivateKey,
    reference: String,
}

impl FileSigner {
    /// Wraps a loaded key; `reference` names it in messages.
    pub fn new(key: PrivateKey, reference: impl Into<String>) -> FileSigner {
        FileSigner {
            key,
            reference: reference.into(),
        }
    }

    /// The key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
}

#[async_trait]
impl Signer for FileSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.key.public_key().to_spki_der()
    }

    fn key_ref(&self) -> String {
        self.reference.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, crate::SignError> {
        self.key
            .sign(message)
            .map_err(|e| crate::SignError::Signing {
                key: self.reference.clone(),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_encrypted_key() {
        let key = PrivateKey::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let pem = encrypt_private_key(&key, b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(is_encrypted(pem.as_bytes()));
        let back = parse_private_key(pem.as_bytes(), Some(b"pw")).unwrap();
        assert!(back.public_key() == key.public_key());
        assert_eq!(
            parse_private_key(pem.as_bytes(), Some(b"nope")).unwrap_err(),
            KeyError::WrongPassword
        );
        assert_eq!(
            parse_private_key(pem.as_bytes(), None).unwrap_err(),
            KeyError::PasswordRequired
        );
        // The JSON inside has cosign's field names and parameters.
        let (_, json) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["kdf"]["name"], "scrypt");
        assert_eq!(
            v["kdf"]["params"],
            serde_json::json!({"N": 32768, "r": 8, "p": 1})
        );
        assert_eq!(
            STANDARD
                .decode(v["kdf"]["salt"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(v["cipher"]["name"], "nacl/secretbox");
        assert_eq!(
            STANDARD
                .decode(v["cipher"]["nonce"].as_str().unwrap())
                .unwrap()
                .len(),
            24
        );
    }

    #[test]
    fn corrupted_and_truncated_files_are_rejected() {
        let key = PrivateKey::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let pem = encrypt_private_key(&key, b"pw").unwrap();
        let truncated = &pem.as_bytes()[..pem.len() / 2];
        assert!(matches!(
            parse_private_key(truncated, Some(b"pw")),
            Err(KeyError::Malformed(_))
        ));
        // Flip one ciphertext byte inside the JSON: authentication fails.
        let (_, json) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let mut ct = STANDARD.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        ct[5] ^= 1;
        v["ciphertext"] = STANDARD.encode(ct).into();
        let bad = pem_rfc7468::encode_string(
            SIGSTORE_LABEL,
            pem_rfc7468::LineEnding::LF,
            &serde_json::to_vec(&v).unwrap(),
        )
        .unwrap();
        assert_eq!(
            parse_private_key(bad.as_bytes(), Some(b"pw")).unwrap_err(),
            KeyError::WrongPassword
        );
        assert!(parse_private_key(b"garbage", None).is_err());
        assert!(parse_private_key(b"", None).is_err());
    }

    #[test]
    fn absurd_scrypt_cost_is_refused() {
        let doc = br#"{"kdf":{"name":"scrypt","params":{"N":4294967296,"r":8,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
        assert!(matches!(
            decrypt_document(doc, b"x"),
            Err(KeyError::Unsupported(_))
        ));
    }
}
