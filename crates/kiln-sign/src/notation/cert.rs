//! X.509 for Notation: making a CA and a code-signing leaf for any [`Signer`] (what
//! `kiln key cert` does), checking the certificate requirements of the Notary Project
//! signature specification, verifying a chain's signatures, and reading subjects.

use std::time::Duration;

use der::asn1::{BitString, OctetString};
use der::oid::ObjectIdentifier;
use der::oid::db::{rfc5280, rfc5912};
use der::{Decode, Encode};
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::{TbsCertificate, Version};

use super::NotationError;
use crate::signer::{SignatureAlgorithm, Signer};

/// What to put in a generated CA and leaf.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// The CA's subject, RFC 4514 (`CN=Kiln CA,O=Example,ST=WA,C=US`).
    pub ca_subject: String,
    /// The leaf's subject; trust policies name it (`x509.subject: ...`).
    pub leaf_subject: String,
    /// How long both certificates are valid from now.
    pub validity: Duration,
}

impl Default for CertRequest {
    fn default() -> Self {
        CertRequest {
            ca_subject: "CN=Kiln Signing CA,O=Kiln,ST=WA,C=US".into(),
            leaf_subject: "CN=Kiln Signer,O=Kiln,ST=WA,C=US".into(),
            validity: Duration::from_secs(365 * 24 * 3600),
        }
    }
}

/// A CA certificate and a leaf it issued, as DER.
#[derive(Debug, Clone)]
pub struct CertChain {
    /// The leaf (code signing) certificate.
    pub leaf_der: Vec<u8>,
    /// The self-signed CA certificate.
    pub ca_der: Vec<u8>,
}

impl CertChain {
    /// The chain leaf first, as Notation's `x5c` wants it.
    pub fn x5c(&self) -> Vec<Vec<u8>> {
        vec![self.leaf_der.clone(), self.ca_der.clone()]
    }
}

/// PEM-encodes a DER certificate.
pub fn to_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

/// Reads every certificate in a PEM text or a single DER certificate.
pub fn parse_certificates(data: &[u8], what: &str) -> Result<Vec<Vec<u8>>, NotationError> {
    let bad = |r: String| NotationError::Certificate(format!("{what}: {r}"));
    if data.first() == Some(&0x30) {
        Certificate::from_der(data).map_err(|e| bad(format!("not a DER certificate: {e}")))?;
        return Ok(vec![data.to_vec()]);
    }
    // Each PEM block is decoded to DER here and parsed from the slice: x509-cert 0.2.5's
    // `load_pem_chain` underflows on input that is blank once trailing line breaks are
    // trimmed, and its streaming PEM reader never returns on some truncated certificates
    // (both found by fuzzing: fuzz/regressions/notation-certs/).
    let text = std::str::from_utf8(data)
        .map_err(|_| bad("not PEM certificates: the file is not UTF-8 text".into()))?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let block = &rest[begin..];
        let end = block
            .find("-----END ")
            .and_then(|e| block[e + 9..].find("-----").map(|t| e + 9 + t + 5))
            .ok_or_else(|| bad("not PEM certificates: a block has no END line".into()))?;
        let (label, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(bad(format!(
                "a {label} block where a CERTIFICATE was expected"
            )));
        }
        Certificate::from_der(&der).map_err(|e| bad(format!("not a DER certificate: {e}")))?;
        out.push(der);
        rest = &block[end..];
    }
    if out.is_empty() {
        return Err(bad("no CERTIFICATE in the file".into()));
    }
    Ok(out)
}

fn signature_algorithm(alg: SignatureAlgorithm) -> Result<AlgorithmIdentifierOwned, NotationError> {
    let oid = match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => rfc5912::ECDSA_WITH_SHA_256,
        SignatureAlgorithm::EcdsaP384Sha384 => rfc5912::ECDSA_WITH_SHA_384,
        SignatureAlgorithm::EcdsaP521Sha512 => rfc5912::ECDSA_WITH_SHA_512,
        SignatureAlgorithm::RsaPkcs1Sha256 => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
        SignatureAlgorithm::Ed25519 => {
            return Err(NotationError::UnsupportedKey(
                "Ed25519 keys cannot take part in Notation signatures".into(),
            ));
        }
    };
    Ok(AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    })
}

fn extension<T: AsExtension>(value: &T, subject: &Name) -> Result<Extension, NotationError> {
    value
        .to_extension(subject, &[])
        .map_err(|e| NotationError::Certificate(format!("encoding an extension: {e}")))
}

fn key_id(spki_der: &[u8]) -> Result<OctetString, NotationError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|e| NotationError::Certificate(format!("public key: {e}")))?;
    let hash = sha2::Sha256::digest(spki.subject_public_key.raw_bytes());
    OctetString::new(&hash[..20]).map_err(|e| NotationError::Certificate(e.to_string()))
}

fn serial() -> Result<SerialNumber, NotationError> {
    use rand_core::RngCore;
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte
    SerialNumber::new(&bytes).map_err(|e| NotationError::Certificate(e.to_string()))
}

fn parse_name(s: &str, what: &str) -> Result<Name, NotationError> {
    s.parse::<Name>().map_err(|e| {
        NotationError::Certificate(format!("{what} {s:?} is not an RFC 4514 name: {e}"))
    })
}

/// Builds and signs one certificate.
async fn issue(
    subject: &Name,
    subject_spki: &[u8],
    issuer: &Name,
    issuer_signer: &dyn Signer,
    validity: Duration,
    ca: bool,
) -> Result<Vec<u8>, NotationError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(subject_spki)
        .map_err(|e| NotationError::Certificate(format!("public key: {e}")))?;
    let mut extensions = vec![
        extension(
            &BasicConstraints {
                ca,
                path_len_constraint: ca.then_some(0),
            },
            subject,
        )?,
        extension(
            &KeyUsage(if ca {
                KeyUsages::KeyCertSign | KeyUsages::CRLSign
            } else {
                KeyUsages::DigitalSignature.into()
            }),
            subject,
        )?,
        extension(&SubjectKeyIdentifier(key_id(subject_spki)?), subject)?,
        extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_id(&issuer_signer.public_key_spki_der())?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            subject,
        )?,
    ];
    if !ca {
        extensions.push(extension(
            &ExtendedKeyUsage(vec![rfc5280::ID_KP_CODE_SIGNING]),
            subject,
        )?);
    }
    // Notation requires keyUsage and basicConstraints to be critical.
    for e in &mut extensions {
        if e.extn_id == rfc5280::ID_CE_KEY_USAGE || e.extn_id == rfc5280::ID_CE_BASIC_CONSTRAINTS {
            e.critical = true;
        }
    }
    let signature = signature_algorithm(issuer_signer.algorithm())?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial()?,
        signature: signature.clone(),
        issuer: issuer.clone(),
        validity: Validity::from_now(validity)
            .map_err(|e| NotationError::Certificate(format!("validity: {e}")))?,
        subject: subject.clone(),
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let tbs_der = tbs
        .to_der()
        .map_err(|e| NotationError::Certificate(format!("encoding: {e}")))?;
    let sig = issuer_signer.sign(&tbs_der).await?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: signature,
        signature: BitString::from_bytes(&sig)
            .map_err(|e| NotationError::Certificate(e.to_string()))?,
    };
    cert.to_der()
        .map_err(|e| NotationError::Certificate(format!("encoding: {e}")))
}

/// Makes a self-signed CA (key `ca`) and a code-signing leaf for `leaf` issued by it:
/// basicConstraints and keyUsage critical, leaf EKU codeSigning and keyUsage
/// digitalSignature, CA keyUsage keyCertSign, as the Notary Project requires.
pub async fn make_chain(
    leaf: &dyn Signer,
    ca: &dyn Signer,
    request: &CertRequest,
) -> Result<CertChain, NotationError> {
    let ca_name = parse_name(&request.ca_subject, "CA subject")?;
    let leaf_name = parse_name(&request.leaf_subject, "leaf subject")?;
    signature_algorithm(leaf.algorithm())?;
    let ca_der = issue(
        &ca_name,
        &ca.public_key_spki_der(),
        &ca_name,
        ca,
        request.validity,
        true,
    )
    .await?;
    let leaf_der = issue(
        &leaf_name,
        &leaf.public_key_spki_der(),
        &ca_name,
        ca,
        request.validity,
        false,
    )
    .await?;
    Ok(CertChain { leaf_der, ca_der })
}

/// A parsed certificate with its DER.
pub(crate) struct Cert {
    pub der: Vec<u8>,
    pub cert: Certificate,
}

impl Cert {
    pub fn parse(der: &[u8], what: &str) -> Result<Cert, NotationError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| NotationError::Certificate(format!("{what}: not a certificate: {e}")))?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
        })
    }

    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    pub fn spki_der(&self) -> Result<Vec<u8>, NotationError> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| NotationError::Certificate(e.to_string()))
    }

    /// The signature algorithm this certificate's key signs with.
    pub fn key_algorithm(&self) -> Result<SignatureAlgorithm, NotationError> {
        key_algorithm(&self.spki_der()?)
    }

    fn ext<'a, T: Decode<'a> + der::oid::AssociatedOid>(
        &'a self,
    ) -> Result<Option<(bool, T)>, NotationError> {
        self.cert.tbs_certificate.get::<T>().map_err(|e| {
            NotationError::Certificate(format!("{}: bad extension: {e}", self.subject()))
        })
    }

    /// Whether `now` is within notBefore..notAfter.
    pub fn valid_at(&self, now: std::time::SystemTime) -> bool {
        let v = &self.cert.tbs_certificate.validity;
        v.not_before.to_system_time() <= now && now <= v.not_after.to_system_time()
    }

    /// Whether the certificate names a CRL or OCSP location (revocation Kiln cannot check
    /// offline).
    pub fn has_revocation_info(&self) -> bool {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .any(|e| {
                e.extn_id == rfc5280::ID_CE_CRL_DISTRIBUTION_POINTS
                    || e.extn_id == rfc5280::ID_PE_AUTHORITY_INFO_ACCESS
            })
    }

    /// Checks the leaf (code signing) certificate requirements.
    pub fn check_leaf(&self) -> Result<(), NotationError> {
        let who = self.subject();
        let bad = |r: &str| NotationError::Certificate(format!("signing certificate {who}: {r}"));
        if let Some((_, bc)) = self.ext::<BasicConstraints>()?
            && bc.ca
        {
            return Err(bad("is a CA certificate"));
        }
        match self.ext::<KeyUsage>()? {
            Some((true, ku)) if ku.digital_signature() && !ku.key_cert_sign() => {}
            Some((false, _)) => return Err(bad("keyUsage is not critical")),
            Some(_) => return Err(bad("keyUsage lacks digitalSignature (or has keyCertSign)")),
            None => return Err(bad("has no keyUsage")),
        }
        if let Some((_, eku)) = self.ext::<ExtendedKeyUsage>()?
            && !eku.0.contains(&rfc5280::ID_KP_CODE_SIGNING)
        {
            return Err(bad("extendedKeyUsage lacks codeSigning"));
        }
        self.key_algorithm().map(|_| ())
    }

    /// Checks a CA certificate in the chain.
    pub fn check_ca(&self) -> Result<(), NotationError> {
        let who = self.subject();
        let bad = |r: &str| NotationError::Certificate(format!("CA certificate {who}: {r}"));
        match self.ext::<BasicConstraints>()? {
            Some((true, bc)) if bc.ca => {}
            Some((false, _)) => return Err(bad("basicConstraints is not critical")),
            _ => return Err(bad("is not a CA (basicConstraints)")),
        }
        match self.ext::<KeyUsage>()? {
            Some((true, ku)) if ku.key_cert_sign() => Ok(()),
            Some((false, _)) => Err(bad("keyUsage is not critical")),
            _ => Err(bad("keyUsage lacks keyCertSign")),
        }
    }

    /// Whether `issuer` issued this certificate (names match and its signature verifies).
    pub fn issued_by(&self, issuer: &Cert) -> Result<(), NotationError> {
        let who = self.subject();
        if self.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
            return Err(NotationError::Certificate(format!(
                "{who} was issued by {}, not by {}",
                self.cert.tbs_certificate.issuer,
                issuer.subject()
            )));
        }
        let tbs = self
            .cert
            .tbs_certificate
            .to_der()
            .map_err(|e| NotationError::Certificate(e.to_string()))?;
        let oid = self.cert.signature_algorithm.oid;
        let alg = issuer.key_algorithm()?;
        let expected = signature_algorithm(alg)?.oid;
        if oid != expected {
            return Err(NotationError::Certificate(format!(
                "{who}: signature algorithm {oid} does not match the issuer's key"
            )));
        }
        let sig = self.cert.signature.as_bytes().ok_or_else(|| {
            NotationError::Certificate(format!("{who}: signature has unused bits"))
        })?;
        verify_der(alg, &issuer.spki_der()?, &tbs, sig).map_err(|r| {
            NotationError::Certificate(format!(
                "{who}: signature by {} does not verify ({r})",
                issuer.subject()
            ))
        })
    }

    /// The subject's attributes as (short name, value) pairs.
    pub fn subject_attributes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for rdn in self.cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                let name = short_name(&atv.oid);
                let value = atv_value(&atv.value);
                out.push((name, value));
            }
        }
        out
    }
}

fn short_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "EMAILADDRESS",
        other => return other.to_string(),
    }
    .to_string()
}

fn atv_value(any: &der::Any) -> String {
    use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
    if let Ok(s) = Utf8StringRef::try_from(any) {
        return s.as_str().to_string();
    }
    if let Ok(s) = PrintableStringRef::try_from(any) {
        return s.as_str().to_string();
    }
    if let Ok(s) = Ia5StringRef::try_from(any) {
        return s.as_str().to_string();
    }
    if let Ok(s) = TeletexStringRef::try_from(any) {
        return s.as_str().to_string();
    }
    format!("#{}", hex::encode(any.value()))
}

/// The signature algorithm of a certificate's public key (ECDSA P-256/P-384/P-521, or
/// RSA PKCS#1 v1.5 with SHA-256 for CA certificates).
pub(crate) fn key_algorithm(spki_der: &[u8]) -> Result<SignatureAlgorithm, NotationError> {
    let key = crate::keys::PublicKey::from_spki_der(spki_der)
        .map_err(|e| NotationError::UnsupportedKey(format!("certificate key: {e}")))?;
    match key.algorithm() {
        SignatureAlgorithm::Ed25519 => Err(NotationError::UnsupportedKey(
            "Ed25519 certificate keys are not allowed by the Notary Project".into(),
        )),
        alg => Ok(alg),
    }
}

/// Verifies a signature (DER for ECDSA) over `message` with the DER SPKI `spki`.
pub(crate) fn verify_der(
    _alg: SignatureAlgorithm,
    spki: &[u8],
    message: &[u8],
    der_sig: &[u8],
) -> Result<(), String> {
    let key = crate::keys::PublicKey::from_spki_der(spki).map_err(|e| e.to_string())?;
    key.verify(message, der_sig).map_err(|e| e.to_string())
}

/// Verifies a DER ECDSA signature over the prehashed `digest` with `spki`.
pub fn verify_prehash_der(
    algorithm: SignatureAlgorithm,
    spki: &[u8],
    digest: &[u8],
    der_sig: &[u8],
) -> Result<(), String> {
    use p256::pkcs8::DecodePublicKey;
    use signature::hazmat::PrehashVerifier;
    match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256 => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki)
                .map_err(|e| format!("public key: {e}"))?;
            let sig = p256::ecdsa::Signature::from_der(der_sig)
                .map_err(|e| format!("signature is not DER ECDSA: {e}"))?;
            key.verify_prehash(digest, &sig)
                .map_err(|_| "signature does not verify over the digest".to_string())
        }
        SignatureAlgorithm::EcdsaP384Sha384 => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki)
                .map_err(|e| format!("public key: {e}"))?;
            let sig = p384::ecdsa::Signature::from_der(der_sig)
                .map_err(|e| format!("signature is not DER ECDSA: {e}"))?;
            key.verify_prehash(digest, &sig)
                .map_err(|_| "signature does not verify over the digest".to_string())
        }
        other => Err(format!("{other:?} is not a prehash ECDSA algorithm here")),
    }
}

/// A P-256 key made in memory: the CA key of `kiln key cert` when the user has no CA,
/// saved by the caller (PKCS#8 PEM) or thrown away after issuing the leaf.
pub struct EphemeralKey {
    key: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralKey(P-256)")
    }
}

impl EphemeralKey {
    /// A new random P-256 key.
    pub fn generate() -> EphemeralKey {
        EphemeralKey {
            key: p256::ecdsa::SigningKey::random(&mut rand_core::OsRng),
        }
    }

    /// The private key as unencrypted PKCS#8 PEM (the caller protects the file).
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, NotationError> {
        use p256::pkcs8::EncodePrivateKey;
        self.key
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .map_err(|e| NotationError::Certificate(format!("encoding the key: {e}")))
    }
}

#[async_trait::async_trait]
impl Signer for EphemeralKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey;
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    fn key_ref(&self) -> String {
        "ephemeral P-256 key".into()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, crate::SignError> {
        use signature::Signer as _;
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generated_chain_meets_notation_requirements() {
        let ca = EphemeralKey::generate();
        let leaf = EphemeralKey::generate();
        let chain = make_chain(&leaf, &ca, &CertRequest::default())
            .await
            .unwrap();
        let l = Cert::parse(&chain.leaf_der, "leaf").unwrap();
        let c = Cert::parse(&chain.ca_der, "ca").unwrap();
        l.check_leaf().unwrap();
        c.check_ca().unwrap();
        l.issued_by(&c).unwrap();
        c.issued_by(&c).unwrap();
        assert!(c.check_leaf().is_err());
        assert!(l.check_ca().is_err());
        assert!(c.issued_by(&l).is_err());
        assert!(l.valid_at(std::time::SystemTime::now()));
        assert!(!l.has_revocation_info());
        assert_eq!(l.spki_der().unwrap(), leaf.public_key_spki_der());
        let attrs = l.subject_attributes();
        assert!(attrs.contains(&("CN".into(), "Kiln Signer".into())));
        assert!(attrs.contains(&("ST".into(), "WA".into())));
        let pem = to_pem(&chain.leaf_der) + &to_pem(&chain.ca_der);
        let back = parse_certificates(pem.as_bytes(), "pem").unwrap();
        assert_eq!(back, chain.x5c());
        assert!(parse_certificates(b"garbage", "g").is_err());
        // Text around the blocks (openssl's "Bag Attributes", comments) is ignored.
        let noisy = format!("subject=CN = Kiln Signer\n{pem}\n# end\n");
        assert_eq!(
            parse_certificates(noisy.as_bytes(), "noisy").unwrap(),
            chain.x5c()
        );
        // A key block among the certificates is refused by name.
        let key = leaf.to_pkcs8_pem().unwrap();
        let mixed = format!("{}{}", to_pem(&chain.leaf_der), key.as_str());
        let e = parse_certificates(mixed.as_bytes(), "mixed").unwrap_err();
        assert!(e.to_string().contains("PRIVATE KEY block"), "{e}");
        assert!(!e.to_string().contains("MII"), "{e}");
        // A truncated certificate before a valid one (found by fuzzing: the x509-cert PEM
        // chain reader never returned on it in a release build).
        let truncated = format!(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{}",
            to_pem(&chain.ca_der)
        );
        let e = parse_certificates(truncated.as_bytes(), "truncated").unwrap_err();
        assert!(e.to_string().contains("not a DER certificate"), "{e}");
        let e = parse_certificates(b"-----BEGIN CERTIFICATE-----\nMIIB\n", "cut").unwrap_err();
        assert!(e.to_string().contains("no END line"), "{e}");
    }

    #[test]
    fn bad_subject_is_an_error() {
        let e = parse_name("no equals sign", "leaf subject").unwrap_err();
        assert!(e.to_string().contains("leaf subject"));
    }
}
