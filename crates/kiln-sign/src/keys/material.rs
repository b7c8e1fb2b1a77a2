//! Key material held in memory: [`PrivateKey`] and [`PublicKey`] for the algorithms cosign
//! accepts (ECDSA P-256/P-384/P-521, Ed25519, RSA 2048/3072/4096 with PKCS#1 v1.5), their
//! DER/PEM encodings, signing and verification.

use pkcs8::{DecodePrivateKey, EncodePrivateKey, ObjectIdentifier};
use signature::{Signer as _, Verifier as _};
use spki::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::signer::SignatureAlgorithm;

/// What is wrong with key material (the caller adds which key it was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("wrong password, or the encrypted key was changed (decryption failed)")]
    WrongPassword,
    #[error(
        "the key is encrypted and no password was given (set KILN_PASSWORD or COSIGN_PASSWORD)"
    )]
    PasswordRequired,
    #[error("unsupported key: {0}")]
    Unsupported(String),
    #[error("malformed key: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(String),
}

/// OIDs of the key algorithms and curves Kiln knows.
pub(crate) mod oid {
    use pkcs8::ObjectIdentifier;
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    pub const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    pub const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    pub const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    pub const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
    pub const P224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.33");
    pub const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
}

/// RSA modulus sizes cosign allows.
pub const RSA_ALLOWED_BITS: [usize; 3] = [2048, 3072, 4096];

/// Names a curve OID for messages, and says whether cosign allows it.
pub(crate) fn check_curve(curve: ObjectIdentifier) -> Result<(), KeyError> {
    match curve {
        c if c == oid::P256 || c == oid::P384 || c == oid::P521 => Ok(()),
        c if c == oid::P224 => Err(KeyError::Unsupported(
            "ECDSA curve P-224 not allowed".into(),
        )),
        c if c == oid::SECP256K1 => Err(KeyError::Unsupported(
            "ECDSA curve secp256k1 (1.3.132.0.10) not supported".into(),
        )),
        c => Err(KeyError::Unsupported(format!(
            "ECDSA curve {c} not supported"
        ))),
    }
}

/// A private key in memory.
pub enum PrivateKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(ecdsa::SigningKey<p521::NistP521>),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A public key in memory, able to verify signatures.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(ecdsa::VerifyingKey<p521::NistP521>),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?}, <redacted>)", self.algorithm())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?})", self.algorithm())
    }
}

fn malformed(e: impl std::fmt::Display) -> KeyError {
    KeyError::Malformed(e.to_string())
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if RSA_ALLOWED_BITS.contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::Unsupported(format!(
            "RSA key size not supported: {bits} (2048, 3072 or 4096 allowed)"
        )))
    }
}

/// Which key algorithm a PKCS#8 or SPKI AlgorithmIdentifier names, checked against what
/// cosign allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    P256,
    P384,
    P521,
    Ed25519,
    Rsa,
}

fn kind_of(alg: &spki::AlgorithmIdentifierRef<'_>) -> Result<Kind, KeyError> {
    if alg.oid == oid::EC_PUBLIC_KEY {
        let curve = alg
            .parameters_oid()
            .map_err(|_| KeyError::Malformed("EC key without a named curve".into()))?;
        check_curve(curve)?;
        Ok(match curve {
            c if c == oid::P256 => Kind::P256,
            c if c == oid::P384 => Kind::P384,
            _ => Kind::P521,
        })
    } else if alg.oid == oid::ED25519 {
        Ok(Kind::Ed25519)
    } else if alg.oid == oid::RSA {
        Ok(Kind::Rsa)
    } else {
        Err(KeyError::Unsupported(format!(
            "key algorithm {} is not supported",
            alg.oid
        )))
    }
}

impl PrivateKey {
    /// Generates a new key of `algorithm` (RSA is not generated).
    pub fn generate(algorithm: SignatureAlgorithm) -> Result<PrivateKey, KeyError> {
        let mut rng = rand_core::OsRng;
        Ok(match algorithm {
            SignatureAlgorithm::EcdsaP256Sha256 => {
                PrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rng))
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                PrivateKey::P384(p384::ecdsa::SigningKey::random(&mut rng))
            }
            SignatureAlgorithm::EcdsaP521Sha512 => {
                PrivateKey::P521(ecdsa::SigningKey::<p521::NistP521>::random(&mut rng))
            }
            SignatureAlgorithm::Ed25519 => {
                PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut rng))
            }
            SignatureAlgorithm::RsaPkcs1Sha256 => {
                return Err(KeyError::Unsupported(
                    "Kiln does not generate RSA keys; use ECDSA P-256 (the default)".into(),
                ));
            }
        })
    }

    /// Reads a PKCS#8 PrivateKeyInfo / OneAsymmetricKey (DER).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let info = pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|e| malformed(format!("not a PKCS#8 private key: {e}")))?;
        let key = match kind_of(&info.algorithm)? {
            Kind::P256 => {
                PrivateKey::P256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(malformed)?)
            }
            Kind::P384 => {
                PrivateKey::P384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(malformed)?)
            }
            Kind::P521 => {
                // PKCS#8 around a SEC1 ECPrivateKey.
                let sec1 = sec1::EcPrivateKey::try_from(info.private_key).map_err(malformed)?;
                PrivateKey::P521(
                    ecdsa::SigningKey::<p521::NistP521>::from_slice(sec1.private_key)
                        .map_err(|_| KeyError::Malformed("invalid P-521 scalar".into()))?,
                )
            }
            Kind::Ed25519 => PrivateKey::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(malformed)?,
            ),
            Kind::Rsa => {
                let k = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(malformed)?;
                Self::rsa(k)?
            }
        };
        Ok(key)
    }

    /// Reads a SEC1 ECPrivateKey (DER), as in PEM `EC PRIVATE KEY`.
    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let key = sec1::EcPrivateKey::try_from(der)
            .map_err(|e| malformed(format!("error parsing ecdsa private key: {e}")))?;
        let curve = key
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or_else(|| KeyError::Malformed("EC private key names no curve".into()))?;
        check_curve(curve)?;
        let bad = |_| KeyError::Malformed("invalid EC private scalar".into());
        Ok(match curve {
            c if c == oid::P256 => {
                PrivateKey::P256(p256::ecdsa::SigningKey::from_slice(key.private_key).map_err(bad)?)
            }
            c if c == oid::P384 => {
                PrivateKey::P384(p384::ecdsa::SigningKey::from_slice(key.private_key).map_err(bad)?)
            }
            _ => PrivateKey::P521(
                ecdsa::SigningKey::<p521::NistP521>::from_slice(key.private_key).map_err(bad)?,
            ),
        })
    }

    /// Reads a PKCS#1 RSAPrivateKey (DER), as in PEM `RSA PRIVATE KEY`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let k = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(malformed)?;
        Self::rsa(k)
    }

    fn rsa(k: rsa::RsaPrivateKey) -> Result<PrivateKey, KeyError> {
        use rsa::traits::PublicKeyParts;
        check_rsa_bits(k.size() * 8)?;
        k.validate().map_err(malformed)?;
        Ok(PrivateKey::Rsa(Box::new(k)))
    }

    /// The key as PKCS#8 DER (zeroized on drop).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = match self {
            PrivateKey::P256(k) => k.to_pkcs8_der(),
            PrivateKey::P384(k) => k.to_pkcs8_der(),
            PrivateKey::P521(k) => {
                // ecdsa's generic PKCS#8 encoder needs the curve's SEC1 encoding.
                let sk = elliptic_curve_secret(k);
                sk.to_pkcs8_der()
            }
            PrivateKey::Ed25519(k) => k.to_pkcs8_der(),
            PrivateKey::Rsa(k) => k.to_pkcs8_der(),
        }
        .map_err(malformed)?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            PrivateKey::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
            PrivateKey::P384(_) => SignatureAlgorithm::EcdsaP384Sha384,
            PrivateKey::P521(_) => SignatureAlgorithm::EcdsaP521Sha512,
            PrivateKey::Ed25519(_) => SignatureAlgorithm::Ed25519,
            PrivateKey::Rsa(_) => SignatureAlgorithm::RsaPkcs1Sha256,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            PrivateKey::P521(k) => PublicKey::P521(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            PrivateKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
        }
    }

    /// Signs `message` (hashed with the algorithm's hash). ECDSA signatures are DER.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(match self {
            PrivateKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.try_sign(message).map_err(malformed)?;
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.try_sign(message).map_err(malformed)?;
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P521(k) => {
                let k = p521::ecdsa::SigningKey::from(k.clone());
                let s: ecdsa::Signature<p521::NistP521> = k.try_sign(message).map_err(malformed)?;
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            PrivateKey::Rsa(k) => {
                let sk = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                let s = sk.try_sign(message).map_err(malformed)?;
                signature::SignatureEncoding::to_vec(&s)
            }
        })
    }
}

fn elliptic_curve_secret(k: &ecdsa::SigningKey<p521::NistP521>) -> p521::SecretKey {
    p521::SecretKey::from(k.as_nonzero_scalar())
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| malformed(format!("not a SubjectPublicKeyInfo: {e}")))?;
        Ok(match kind_of(&info.algorithm)? {
            Kind::P256 => PublicKey::P256(
                p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(malformed)?,
            ),
            Kind::P384 => PublicKey::P384(
                p384::ecdsa::VerifyingKey::from_public_key_der(der).map_err(malformed)?,
            ),
            Kind::P521 => PublicKey::P521(
                ecdsa::VerifyingKey::<p521::NistP521>::from_sec1_bytes(
                    info.subject_public_key.raw_bytes(),
                )
                .map_err(|_| KeyError::Malformed("invalid P-521 point".into()))?,
            ),
            Kind::Ed25519 => PublicKey::Ed25519(
                ed25519_dalek::VerifyingKey::from_public_key_der(der).map_err(malformed)?,
            ),
            Kind::Rsa => {
                use rsa::traits::PublicKeyParts;
                let k = rsa::RsaPublicKey::from_public_key_der(der).map_err(malformed)?;
                check_rsa_bits(k.size() * 8)?;
                PublicKey::Rsa(k)
            }
        })
    }

    /// Reads a PEM `PUBLIC KEY`.
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
            .map_err(|e| KeyError::Malformed(format!("invalid pem block: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::Unsupported(format!(
                "PEM label {label:?} is not a public key (PUBLIC KEY expected)"
            )));
        }
        Self::from_spki_der(&der)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::P521(k) => p521::PublicKey::from_affine(*k.as_affine())
                .map_err(|_| spki::Error::KeyMalformed)
                .and_then(|p| p.to_public_key_der()),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::Rsa(k) => k.to_public_key_der(),
        };
        // Encoding a valid in-memory key cannot fail.
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The PEM `PUBLIC KEY` text, as cosign writes it.
    pub fn to_pem(&self) -> String {
        pem_rfc7468::encode_string(
            "PUBLIC KEY",
            pem_rfc7468::LineEnding::LF,
            &self.to_spki_der(),
        )
        .unwrap_or_default()
    }

    /// The algorithm signatures under this key use.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            PublicKey::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
            PublicKey::P384(_) => SignatureAlgorithm::EcdsaP384Sha384,
            PublicKey::P521(_) => SignatureAlgorithm::EcdsaP521Sha512,
            PublicKey::Ed25519(_) => SignatureAlgorithm::Ed25519,
            PublicKey::Rsa(_) => SignatureAlgorithm::RsaPkcs1Sha256,
        }
    }

    /// A short fingerprint: lowercase hex SHA-256 of the SPKI DER.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.to_spki_der()))
    }

    /// Verifies `signature` over `message`. ECDSA signatures may be DER (as cosign writes
    /// them) or fixed-size r||s (as the DSSE test vector has them).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureMismatch> {
        let ok = match self {
            // Decoded (strict DER, or r||s) by the RustCrypto types, verified by aws-lc
            // (the same result, several times faster: the admission webhook verifies on
            // every decision).
            PublicKey::P256(k) => p256::ecdsa::Signature::from_der(signature)
                .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                .map_err(|_| SignatureMismatch::Undecodable)?
                .pipe(|s| {
                    ecdsa_verify(
                        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                        k.to_encoded_point(false).as_bytes(),
                        message,
                        s.to_der().as_bytes(),
                    )
                }),
            PublicKey::P384(k) => p384::ecdsa::Signature::from_der(signature)
                .or_else(|_| p384::ecdsa::Signature::from_slice(signature))
                .map_err(|_| SignatureMismatch::Undecodable)?
                .pipe(|s| {
                    ecdsa_verify(
                        &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
                        k.to_encoded_point(false).as_bytes(),
                        message,
                        s.to_der().as_bytes(),
                    )
                }),
            PublicKey::P521(k) => ecdsa::Signature::<p521::NistP521>::from_der(signature)
                .or_else(|_| ecdsa::Signature::<p521::NistP521>::from_slice(signature))
                .map_err(|_| SignatureMismatch::Undecodable)?
                .pipe(|s| {
                    p521::ecdsa::VerifyingKey::from(*k)
                        .verify(message, &s)
                        .is_ok()
                }),
            PublicKey::Ed25519(k) => {
                let s = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| SignatureMismatch::Undecodable)?;
                k.verify_strict(message, &s).is_ok()
            }
            PublicKey::Rsa(k) => {
                let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(k.clone());
                let s = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| SignatureMismatch::Undecodable)?;
                vk.verify(message, &s).is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureMismatch::Invalid)
        }
    }
}

/// ECDSA verification by aws-lc of a DER signature with an uncompressed SEC1 public point.
fn ecdsa_verify(
    algorithm: &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm,
    point: &[u8],
    message: &[u8],
    der: &[u8],
) -> bool {
    aws_lc_rs::signature::UnparsedPublicKey::new(algorithm, point)
        .verify(message, der)
        .is_ok()
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureMismatch {
    #[error("the signature is not a valid encoding for this key type")]
    Undecodable,
    #[error("the signature does not match the key and the signed content")]
    Invalid,
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}
