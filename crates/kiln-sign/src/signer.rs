//! The [`Signer`] trait every key backend implements (key file, AWS KMS, PKCS#11), so
//! cosign, DSSE and Notation signing work with any of them.

use async_trait::async_trait;

/// A signature algorithm a key backend offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ECDSA over P-256 with SHA-256 (cosign's default).
    EcdsaP256Sha256,
    /// ECDSA over P-384 with SHA-384.
    EcdsaP384Sha384,
    /// ECDSA over P-521 with SHA-512 (imported keys only).
    EcdsaP521Sha512,
    /// Ed25519 (pure).
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256 (imported keys only; cosign's RSA scheme).
    RsaPkcs1Sha256,
}

/// A private key that can sign, wherever it is held.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The algorithm this key signs with.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// The public key as DER SubjectPublicKeyInfo.
    fn public_key_spki_der(&self) -> Vec<u8>;

    /// A name for the key in messages and results (the key reference, never a secret).
    fn key_ref(&self) -> String;

    /// Signs `message`: the backend hashes it with the algorithm's hash (or sends the
    /// digest to a KMS or HSM). ECDSA signatures are returned DER-encoded, as cosign
    /// stores them; Ed25519 signatures are the raw 64 bytes.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, crate::SignError>;
}
