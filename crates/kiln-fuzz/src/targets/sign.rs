//! Targets for kiln-sign: key files, cosign bundles and simple-signing payloads, DSSE
//! envelopes, in-toto statements, Notation JWS envelopes, certificates and trust policies.

use kiln_oci::Digest;
use kiln_sign::cosign::{Bundle, SimpleSigning};
use kiln_sign::dsse::Envelope;
use kiln_sign::intoto::Statement;
use kiln_sign::keys::{PublicKey, file::parse_private_key};
use kiln_sign::notation::TrustPolicyDocument;

use super::label;

/// A private key file, as `kiln sign --key FILE` reads it (with a password, so encrypted
/// cosign keys run through scrypt and secretbox too).
pub fn private_key(data: &[u8]) -> String {
    label(&parse_private_key(data, Some(b"fuzz-password")))
}

/// A public key file (PEM, else DER SubjectPublicKeyInfo).
pub fn public_key(data: &[u8]) -> String {
    match super::text(data) {
        Some(t) if t.trim_start().starts_with("-----") => label(&PublicKey::from_pem(t)),
        _ => label(&PublicKey::from_spki_der(data)),
    }
}

/// A Sigstore bundle; a parsed bundle re-serialises to one that parses the same.
pub fn bundle(data: &[u8]) -> String {
    let r = Bundle::parse(data);
    if let Ok(b) = &r {
        let again = b.to_json();
        let b2 = Bundle::parse(&again).expect("a re-serialised bundle parses");
        assert_eq!(again, b2.to_json(), "bundle serialisation is not stable");
    }
    label(&r)
}

/// A cosign simple-signing payload: when it names a valid digest, `parse_for` that digest
/// accepts it, and its own serialisation too.
pub fn payload(data: &[u8]) -> String {
    let Ok(p) = serde_json::from_slice::<SimpleSigning>(data) else {
        return "not-json".into();
    };
    let Ok(d) = Digest::parse(&p.critical.image.docker_manifest_digest) else {
        return "bad-digest".into();
    };
    let r = SimpleSigning::parse_for(data, &d);
    if r.is_ok() {
        SimpleSigning::parse_for(&p.to_bytes(), &d).expect("a re-serialised payload parses");
    }
    label(&r)
}

/// A DSSE envelope; round trip through `to_json`.
pub fn dsse(data: &[u8]) -> String {
    let r = Envelope::parse(data);
    if let Ok(e) = &r {
        let again = e.to_json();
        let e2 = Envelope::parse(&again).expect("a re-serialised envelope parses");
        assert_eq!(again, e2.to_json(), "envelope serialisation is not stable");
    }
    label(&r)
}

/// An in-toto statement; round trip through `to_json`.
pub fn statement(data: &[u8]) -> String {
    let r = Statement::parse(data);
    if let Ok(s) = &r {
        let again = s.to_json();
        let s2 = Statement::parse(&again).expect("a re-serialised statement parses");
        assert_eq!(again, s2.to_json(), "statement serialisation is not stable");
    }
    label(&r)
}

/// A Notation JWS envelope, parsed and checked against its own certificate chain.
pub fn notation_jws(data: &[u8]) -> String {
    label(&kiln_sign::notation::envelope::verify(data))
}

/// A certificate file (PEM or DER) as a Notation trust store holds.
pub fn notation_certs(data: &[u8]) -> String {
    label(&kiln_sign::notation::cert::parse_certificates(
        data,
        "fuzz input",
    ))
}

/// A Notation trust policy document.
pub fn trust_policy(data: &[u8]) -> String {
    label(&TrustPolicyDocument::parse(data, "fuzz input"))
}
