//! The Notation JWS envelope (JSON serialization, flattened): a protected header with
//! `alg`, `cty` (the Notary payload type), `crit`, `io.cncf.notary.signingScheme`
//! (`notary.x509`) and `io.cncf.notary.signingTime`; the payload
//! `{"targetArtifact": DESCRIPTOR}`; the unprotected header's `x5c` chain (leaf first,
//! standard base64 DER) and signing agent; an ES256/ES384 signature (raw r||s) over
//! `BASE64URL(protected) "." BASE64URL(payload)`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kiln_oci::manifest::Descriptor;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::cert::{Cert, key_algorithm, verify_der};
use super::{NotationError, PAYLOAD_CONTENT_TYPE, SIGNING_SCHEME_X509};
use crate::signer::{SignatureAlgorithm, Signer};

const H_SCHEME: &str = "io.cncf.notary.signingScheme";
const H_TIME: &str = "io.cncf.notary.signingTime";
const H_EXPIRY: &str = "io.cncf.notary.expiry";
/// The signing agent Kiln records in the unprotected header.
pub const SIGNING_AGENT: &str = concat!("kiln/", env!("CARGO_PKG_VERSION"));

/// The JWS envelope as it is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedEnvelope {
    pub payload: String,
    pub protected: String,
    pub header: UnprotectedHeader,
    pub signature: String,
}

/// The unprotected header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnprotectedHeader {
    pub x5c: Vec<String>,
    #[serde(
        rename = "io.cncf.notary.signingAgent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub signing_agent: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Payload {
    target_artifact: Descriptor,
}

/// An envelope whose signature verified with its leaf certificate's key. The chain is not
/// yet trusted: that is the trust policy's job.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope {
    /// The artifact the signature is for.
    pub target: Descriptor,
    /// `io.cncf.notary.signingTime`.
    pub signing_time: OffsetDateTime,
    /// `io.cncf.notary.expiry`, if set.
    pub expiry: Option<OffsetDateTime>,
    /// The `x5c` chain as DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The signing agent, if recorded.
    pub signing_agent: Option<String>,
}

fn jws_alg(alg: SignatureAlgorithm) -> Result<&'static str, NotationError> {
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => Ok("ES256"),
        SignatureAlgorithm::EcdsaP384Sha384 => Ok("ES384"),
        SignatureAlgorithm::EcdsaP521Sha512 => Ok("ES512"),
        other => Err(NotationError::UnsupportedKey(format!(
            "{other:?} keys cannot sign Notation signatures here (ECDSA P-256/P-384/P-521)"
        ))),
    }
}

/// Signs `target` with `signer`, whose certificate is `chain[0]`; returns the envelope's
/// JSON bytes.
pub async fn sign(
    target: &Descriptor,
    signer: &dyn Signer,
    chain: &[Vec<u8>],
    signing_time: OffsetDateTime,
    expiry: Option<OffsetDateTime>,
) -> Result<Vec<u8>, NotationError> {
    let alg = jws_alg(signer.algorithm())?;
    let leaf_der = chain
        .first()
        .ok_or_else(|| NotationError::Certificate("the certificate chain is empty".into()))?;
    let leaf = Cert::parse(leaf_der, "signing certificate")?;
    if leaf.spki_der()? != signer.public_key_spki_der() {
        return Err(NotationError::Certificate(format!(
            "the signing certificate ({}) is not for the key {}",
            leaf.subject(),
            signer.key_ref()
        )));
    }
    leaf.check_leaf()?;
    let fmt = |t: OffsetDateTime| {
        t.replace_nanosecond(0)
            .unwrap_or(t)
            .format(&Rfc3339)
            .map_err(|e| NotationError::Envelope(format!("formatting a time: {e}")))
    };
    let mut crit = vec![Value::from(H_SCHEME)];
    let mut protected = Map::new();
    protected.insert("alg".into(), alg.into());
    protected.insert("cty".into(), PAYLOAD_CONTENT_TYPE.into());
    protected.insert(H_SCHEME.into(), SIGNING_SCHEME_X509.into());
    protected.insert(H_TIME.into(), fmt(signing_time)?.into());
    if let Some(e) = expiry {
        protected.insert(H_EXPIRY.into(), fmt(e)?.into());
        crit.push(H_EXPIRY.into());
    }
    protected.insert("crit".into(), Value::Array(crit));
    let target = Descriptor::new(&target.media_type, target.digest.clone(), target.size);
    let payload = serde_json::to_vec(&Payload {
        target_artifact: target,
    })
    .map_err(|e| NotationError::Envelope(e.to_string()))?;
    let protected_b64 = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&Value::Object(protected))
            .map_err(|e| NotationError::Envelope(e.to_string()))?,
    );
    let payload_b64 = URL_SAFE_NO_PAD.encode(&payload);
    let signing_input = format!("{protected_b64}.{payload_b64}");
    let der = signer.sign(signing_input.as_bytes()).await?;
    let raw = der_to_raw(signer.algorithm(), &der)?;
    let envelope = SignedEnvelope {
        payload: payload_b64,
        protected: protected_b64,
        header: UnprotectedHeader {
            x5c: chain.iter().map(|c| STANDARD.encode(c)).collect(),
            signing_agent: Some(SIGNING_AGENT.into()),
        },
        signature: URL_SAFE_NO_PAD.encode(raw),
    };
    serde_json::to_vec(&envelope).map_err(|e| NotationError::Envelope(e.to_string()))
}

fn der_to_raw(alg: SignatureAlgorithm, der: &[u8]) -> Result<Vec<u8>, NotationError> {
    let bad = |e: String| NotationError::Envelope(format!("signer returned a bad signature: {e}"));
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => p256::ecdsa::Signature::from_der(der)
            .map(|s| s.to_bytes().to_vec())
            .map_err(|e| bad(e.to_string())),
        SignatureAlgorithm::EcdsaP384Sha384 => p384::ecdsa::Signature::from_der(der)
            .map(|s| s.to_bytes().to_vec())
            .map_err(|e| bad(e.to_string())),
        SignatureAlgorithm::EcdsaP521Sha512 => ecdsa::Signature::<p521::NistP521>::from_der(der)
            .map(|s| s.to_bytes().to_vec())
            .map_err(|e| bad(e.to_string())),
        other => Err(bad(format!("{other:?}"))),
    }
}

fn raw_to_der(alg: SignatureAlgorithm, raw: &[u8]) -> Result<Vec<u8>, NotationError> {
    let bad = |e: String| NotationError::Envelope(format!("signature: {e}"));
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => p256::ecdsa::Signature::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|e| bad(e.to_string())),
        SignatureAlgorithm::EcdsaP384Sha384 => p384::ecdsa::Signature::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|e| bad(e.to_string())),
        SignatureAlgorithm::EcdsaP521Sha512 => ecdsa::Signature::<p521::NistP521>::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|e| bad(e.to_string())),
        other => Err(bad(format!("{other:?}"))),
    }
}

fn b64url(field: &str, s: &str) -> Result<Vec<u8>, NotationError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| NotationError::Envelope(format!("{field} is not base64url: {e}")))
}

fn time_field(
    header: &Map<String, Value>,
    name: &str,
) -> Result<Option<OffsetDateTime>, NotationError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|e| NotationError::Envelope(format!("{name} {s:?} is not RFC 3339: {e}"))),
        Some(_) => Err(NotationError::Envelope(format!("{name} is not a string"))),
    }
}

/// Parses an envelope and checks its integrity: header fields, the payload, and the
/// signature with the leaf certificate's key.
pub fn verify(bytes: &[u8]) -> Result<VerifiedEnvelope, NotationError> {
    let env: SignedEnvelope = serde_json::from_slice(bytes)
        .map_err(|e| NotationError::Envelope(format!("not a JWS JSON envelope: {e}")))?;
    let header: Map<String, Value> = serde_json::from_slice(&b64url("protected", &env.protected)?)
        .map_err(|e| NotationError::Envelope(format!("protected header: {e}")))?;
    let get = |k: &str| header.get(k).and_then(Value::as_str);
    if get("cty") != Some(PAYLOAD_CONTENT_TYPE) {
        return Err(NotationError::Envelope(format!(
            "content type {:?} is not {PAYLOAD_CONTENT_TYPE}",
            header.get("cty")
        )));
    }
    match get(H_SCHEME) {
        Some(SIGNING_SCHEME_X509) => {}
        other => {
            return Err(NotationError::Envelope(format!(
                "signing scheme {other:?} is not supported (only {SIGNING_SCHEME_X509})"
            )));
        }
    }
    let crit: Vec<&str> = match header.get("crit") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| NotationError::Envelope("crit has a non-string".into()))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(NotationError::Envelope("crit is missing".into())),
    };
    if !crit.contains(&H_SCHEME) {
        return Err(NotationError::Envelope(format!(
            "crit does not list {H_SCHEME}"
        )));
    }
    for c in &crit {
        if ![H_SCHEME, H_EXPIRY].contains(c) {
            return Err(NotationError::Envelope(format!(
                "critical header {c} is not understood"
            )));
        }
        if !header.contains_key(*c) {
            return Err(NotationError::Envelope(format!(
                "critical header {c} is absent"
            )));
        }
    }
    let signing_time = time_field(&header, H_TIME)?
        .ok_or_else(|| NotationError::Envelope(format!("{H_TIME} is missing")))?;
    let expiry = time_field(&header, H_EXPIRY)?;
    // A signature that expires before it was made is malformed, whatever the clock says
    // now (found by the adversarial suite: signingTime 2099, expiry 2098 was accepted).
    if let Some(e) = expiry
        && e <= signing_time
    {
        return Err(NotationError::Envelope(format!(
            "{H_EXPIRY} ({e}) is not after {H_TIME} ({signing_time})"
        )));
    }
    if expiry.is_some() && !crit.contains(&H_EXPIRY) {
        return Err(NotationError::Envelope(format!(
            "{H_EXPIRY} is not marked critical"
        )));
    }
    let chain: Vec<Vec<u8>> = env
        .header
        .x5c
        .iter()
        .map(|c| {
            STANDARD
                .decode(c)
                .map_err(|e| NotationError::Envelope(format!("x5c entry is not base64: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let leaf_der = chain
        .first()
        .ok_or_else(|| NotationError::Envelope("x5c is empty".into()))?;
    let leaf = Cert::parse(leaf_der, "x5c[0]")?;
    let spki = leaf.spki_der()?;
    let alg = key_algorithm(&spki)?;
    let want = jws_alg(alg)?;
    if get("alg") != Some(want) {
        return Err(NotationError::Envelope(format!(
            "alg {:?} does not match the signing certificate's key ({want})",
            header.get("alg")
        )));
    }
    let sig = raw_to_der(alg, &b64url("signature", &env.signature)?)?;
    let signing_input = format!("{}.{}", env.protected, env.payload);
    verify_der(alg, &spki, signing_input.as_bytes(), &sig).map_err(|_| {
        NotationError::Verification(format!(
            "the signature does not verify with the key of {}",
            leaf.subject()
        ))
    })?;
    let payload: Payload = serde_json::from_slice(&b64url("payload", &env.payload)?)
        .map_err(|e| NotationError::Envelope(format!("payload: {e}")))?;
    Ok(VerifiedEnvelope {
        target: payload.target_artifact,
        signing_time,
        expiry,
        chain,
        signing_agent: env.header.signing_agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notation::cert::{CertRequest, EphemeralKey, make_chain};

    #[tokio::test]
    async fn expiry_must_follow_the_signing_time() {
        let (leaf, ca) = (EphemeralKey::generate(), EphemeralKey::generate());
        let chain = make_chain(&leaf, &ca, &CertRequest::default())
            .await
            .unwrap();
        let target = Descriptor::of("application/vnd.oci.image.manifest.v1+json", b"{}");
        let now = OffsetDateTime::now_utc();
        let year = time::Duration::days(365);
        let good = sign(&target, &leaf, &chain.x5c(), now, Some(now + year))
            .await
            .unwrap();
        let v = verify(&good).unwrap();
        assert_eq!(v.target.digest, target.digest);
        // Both in the future, the signature "expiring" a year before it was made.
        let (signed, expires) = (now + year * 70, now + year * 69);
        let bad = sign(&target, &leaf, &chain.x5c(), signed, Some(expires))
            .await
            .unwrap();
        let e = verify(&bad).unwrap_err().to_string();
        assert!(e.contains("is not after"), "{e}");
        let same = sign(&target, &leaf, &chain.x5c(), signed, Some(signed))
            .await
            .unwrap();
        assert!(verify(&same).is_err());
    }
}
