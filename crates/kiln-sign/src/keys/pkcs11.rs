//! PKCS#11 keys (HSMs, SoftHSM2) named by RFC 7512 URIs:
//! `pkcs11:token=LABEL;object=LABEL[;id=%01]?pin-value=PIN&module-path=/path/lib.so`.
//!
//! The token is selected by label (slot ids are not stable), the private key by label
//! and/or id; the public key comes from the public-key object of the same label/id.
//! Signing hashes on the host and asks the token for raw `CKM_ECDSA` over the digest; the
//! token's r||s is DER-encoded as cosign stores it. The PIN comes from `pin-value`, or
//! from `KILN_PKCS11_PIN`. The module defaults to SoftHSM2's library.
//!
//! C_Initialize may be called once per process, so every module is loaded and initialised
//! once and shared by all signers of the process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use sha2::Digest as _;

use crate::SignError;
use crate::notation::cert::verify_prehash_der;
use crate::signer::{SignatureAlgorithm, Signer};

/// The URI scheme of PKCS#11 keys.
pub const SCHEME: &str = "pkcs11:";
/// The module used when the URI names none.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The environment variable read for the PIN when the URI has no `pin-value`.
pub const PIN_ENV: &str = "KILN_PKCS11_PIN";

/// A parsed `pkcs11:` URI (the attributes Kiln uses).
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token=`: the token label.
    pub token: String,
    /// `object=`: the key label.
    pub object: Option<String>,
    /// `id=`: the key id (CKA_ID), percent-decoded bytes.
    pub id: Option<Vec<u8>>,
    /// `pin-value=`.
    pub pin: Option<String>,
    /// `module-path=`, or the default module.
    pub module_path: PathBuf,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Uri")
            .field("token", &self.token)
            .field("object", &self.object)
            .field("id", &self.id)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("module_path", &self.module_path)
            .finish()
    }
}

impl Pkcs11Uri {
    /// Parses an RFC 7512 URI. Unknown path attributes (`manufacturer`, `serial`, `type`,
    /// ...) are accepted and ignored except `type`, which must be `private` if given.
    pub fn parse(uri: &str) -> Result<Pkcs11Uri, SignError> {
        let shown = redact_uri(uri);
        let bad = |reason: String| SignError::Key {
            key: shown.clone(),
            reason,
        };
        let rest = uri
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("not a pkcs11: URI".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut token = None;
        let mut object = None;
        let mut id = None;
        let mut pin = None;
        let mut module_path = None;
        for (part, sep) in [(path, ';'), (query, '&')] {
            for attr in part.split(sep).filter(|a| !a.is_empty()) {
                let (name, value) = attr
                    .split_once('=')
                    .ok_or_else(|| bad(format!("attribute {attr:?} has no '='")))?;
                let raw =
                    percent_decode(value).map_err(|r| bad(format!("attribute {name}: {r}")))?;
                let text = || {
                    String::from_utf8(raw.clone())
                        .map_err(|_| bad(format!("attribute {name} is not UTF-8")))
                };
                match (sep, name) {
                    (';', "token") => token = Some(text()?),
                    (';', "object") => object = Some(text()?),
                    (';', "id") => id = Some(raw.clone()),
                    (';', "type") => {
                        let t = text()?;
                        if t != "private" {
                            return Err(bad(format!("type={t}: Kiln signs with a private key")));
                        }
                    }
                    ('&', "pin-value") => pin = Some(text()?),
                    ('&', "module-path") => module_path = Some(PathBuf::from(text()?)),
                    ('&', "pin-source") => {
                        return Err(bad(
                            "pin-source is not supported; use pin-value or KILN_PKCS11_PIN".into(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        let token = token
            .ok_or_else(|| bad("no token= attribute (Kiln selects tokens by label)".into()))?;
        if object.is_none() && id.is_none() {
            return Err(bad("no object= or id= attribute naming the key".into()));
        }
        Ok(Pkcs11Uri {
            token,
            object,
            id,
            pin,
            module_path: module_path.unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE)),
        })
    }
}

/// The URI with any `pin-value` replaced, for messages.
pub fn redact_uri(uri: &str) -> String {
    match uri.split_once('?') {
        None => uri.to_string(),
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|a| {
                    if a.starts_with("pin-value=") {
                        "pin-value=REDACTED".to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The process-wide, initialised modules.
fn module(path: &Path) -> Result<Pkcs11, String> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = MODULES
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| "PKCS#11 module table poisoned".to_string())?;
    if let Some(m) = map.get(path) {
        return Ok(m.clone());
    }
    if !path.is_file() {
        return Err(format!("PKCS#11 module {} does not exist", path.display()));
    }
    let ctx = Pkcs11::new(path).map_err(|e| format!("loading {}: {e}", path.display()))?;
    match ctx.initialize(CInitializeArgs::OsThreads) {
        Ok(())
        | Err(P11Error::AlreadyInitialized)
        | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(format!("C_Initialize of {}: {e}", path.display())),
    }
    map.insert(path.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// An EC private key in a PKCS#11 token.
pub struct Pkcs11Signer {
    shown: String,
    session: Arc<Mutex<Session>>,
    key: ObjectHandle,
    algorithm: SignatureAlgorithm,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("uri", &self.shown)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

impl Pkcs11Signer {
    /// Opens the token, logs in and finds the key pair. Blocking (PKCS#11 is synchronous).
    pub fn open(uri: &str) -> Result<Pkcs11Signer, SignError> {
        let parsed = Pkcs11Uri::parse(uri)?;
        let shown = redact_uri(uri);
        let fail = |reason: String| SignError::Key {
            key: shown.clone(),
            reason,
        };
        let ctx = module(&parsed.module_path).map_err(&fail)?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| fail(format!("listing slots: {e}")))?;
        let mut slot = None;
        let mut labels = Vec::new();
        for s in slots {
            let info = ctx
                .get_token_info(s)
                .map_err(|e| fail(format!("reading token info: {e}")))?;
            let label = info.label().trim_end().to_string();
            if label == parsed.token {
                slot = Some(s);
                break;
            }
            labels.push(label);
        }
        let slot = slot.ok_or_else(|| {
            fail(format!(
                "no token labelled {:?} (tokens present: {})",
                parsed.token,
                if labels.is_empty() {
                    "none".to_string()
                } else {
                    labels.join(", ")
                }
            ))
        })?;
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| fail(format!("opening a session: {e}")))?;
        let pin = parsed
            .pin
            .clone()
            .or_else(|| std::env::var(PIN_ENV).ok())
            .ok_or_else(|| {
                fail(format!(
                    "no PIN: give pin-value= in the URI or set {PIN_ENV}"
                ))
            })?;
        match session.login(UserType::User, Some(&AuthPin::from(pin))) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(P11Error::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(fail("the PIN is incorrect".into()));
            }
            Err(e) => return Err(fail(format!("login: {e}"))),
        }
        let find = |class: ObjectClass| -> Result<Vec<ObjectHandle>, SignError> {
            let mut template = vec![Attribute::Class(class)];
            if let Some(l) = &parsed.object {
                template.push(Attribute::Label(l.as_bytes().to_vec()));
            }
            if let Some(id) = &parsed.id {
                template.push(Attribute::Id(id.clone()));
            }
            session
                .find_objects(&template)
                .map_err(|e| fail(format!("searching the token: {e}")))
        };
        let what = describe(&parsed);
        let private = find(ObjectClass::PRIVATE_KEY)?;
        let key = match private.as_slice() {
            [k] => *k,
            [] => {
                return Err(fail(format!(
                    "token {:?} has no private key {what}",
                    parsed.token
                )));
            }
            _ => {
                return Err(fail(format!(
                    "token {:?} has {} private keys {what}; add id= to choose",
                    parsed.token,
                    private.len()
                )));
            }
        };
        let public = find(ObjectClass::PUBLIC_KEY)?;
        let pubkey = match public.as_slice() {
            [k] => *k,
            [] => {
                return Err(fail(format!(
                    "token {:?} has no public key {what} beside the private key",
                    parsed.token
                )));
            }
            _ => {
                return Err(fail(format!(
                    "several public keys {what}; add id= to choose"
                )));
            }
        };
        let attrs = session
            .get_attributes(pubkey, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(|e| fail(format!("reading the public key: {e}")))?;
        let mut params = None;
        let mut point = None;
        for a in attrs {
            match a {
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                _ => {}
            }
        }
        let (params, point) = match (params, point) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(fail(format!("the key {what} is not an EC key"))),
        };
        let point = unwrap_octet_string(&point)
            .ok_or_else(|| fail("CKA_EC_POINT is not a DER OCTET STRING".into()))?;
        let (algorithm, spki_der) = spki_from_point(&params, point).map_err(&fail)?;
        Ok(Pkcs11Signer {
            shown,
            session: Arc::new(Mutex::new(session)),
            key,
            algorithm,
            spki_der,
        })
    }
}

impl Pkcs11Signer {
    /// [`Pkcs11Signer::open`] on a blocking thread.
    pub async fn open_async(uri: &str) -> Result<Pkcs11Signer, SignError> {
        let owned = uri.to_string();
        tokio::task::spawn_blocking(move || Pkcs11Signer::open(&owned))
            .await
            .map_err(|e| SignError::Key {
                key: redact_uri(uri),
                reason: format!("opening task: {e}"),
            })?
    }
}

fn describe(u: &Pkcs11Uri) -> String {
    match (&u.object, &u.id) {
        (Some(l), Some(id)) => format!("labelled {l:?} with id {}", hex::encode(id)),
        (Some(l), None) => format!("labelled {l:?}"),
        (None, Some(id)) => format!("with id {}", hex::encode(id)),
        (None, None) => String::new(),
    }
}

/// The content of a short or long-form DER OCTET STRING.
fn unwrap_octet_string(der: &[u8]) -> Option<&[u8]> {
    if der.first() != Some(&0x04) {
        return None;
    }
    let (len, start) = match *der.get(1)? {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (*der.get(2)? as usize, 3),
        0x82 => (((*der.get(2)? as usize) << 8) | *der.get(3)? as usize, 4),
        _ => return None,
    };
    let body = der.get(start..)?;
    (body.len() == len).then_some(body)
}

fn spki_from_point(params: &[u8], point: &[u8]) -> Result<(SignatureAlgorithm, Vec<u8>), String> {
    use p256::pkcs8::EncodePublicKey;
    if params == OID_P256 {
        let k =
            p256::PublicKey::from_sec1_bytes(point).map_err(|e| format!("bad P-256 point: {e}"))?;
        let der = k.to_public_key_der().map_err(|e| e.to_string())?;
        Ok((SignatureAlgorithm::EcdsaP256Sha256, der.as_bytes().to_vec()))
    } else if params == OID_P384 {
        let k =
            p384::PublicKey::from_sec1_bytes(point).map_err(|e| format!("bad P-384 point: {e}"))?;
        let der = k.to_public_key_der().map_err(|e| e.to_string())?;
        Ok((SignatureAlgorithm::EcdsaP384Sha384, der.as_bytes().to_vec()))
    } else {
        Err(format!(
            "unsupported curve (CKA_EC_PARAMS {}); Kiln signs with P-256 or P-384",
            hex::encode(params)
        ))
    }
}

/// DER-encodes a raw r||s ECDSA signature.
fn raw_to_der(algorithm: SignatureAlgorithm, raw: &[u8]) -> Result<Vec<u8>, String> {
    match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256 => p256::ecdsa::Signature::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|e| format!("token returned a malformed signature: {e}")),
        SignatureAlgorithm::EcdsaP384Sha384 => p384::ecdsa::Signature::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|e| format!("token returned a malformed signature: {e}")),
        other => Err(format!("{other:?} is not an ECDSA algorithm of this token")),
    }
}

#[async_trait]
impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    fn key_ref(&self) -> String {
        self.shown.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let digest = match self.algorithm {
            SignatureAlgorithm::EcdsaP384Sha384 => sha2::Sha384::digest(message).to_vec(),
            _ => sha2::Sha256::digest(message).to_vec(),
        };
        let session = self.session.clone();
        let key = self.key;
        let d = digest.clone();
        let fail = |reason: String| SignError::Signing {
            key: self.shown.clone(),
            reason,
        };
        let raw = tokio::task::spawn_blocking(move || {
            let s = session
                .lock()
                .map_err(|_| "session lock poisoned".to_string())?;
            s.sign(&Mechanism::Ecdsa, key, &d)
                .map_err(|e| format!("C_Sign: {e}"))
        })
        .await
        .map_err(|e| fail(format!("signing task: {e}")))?
        .map_err(&fail)?;
        let der = raw_to_der(self.algorithm, &raw).map_err(&fail)?;
        verify_prehash_der(self.algorithm, &self.spki_der, &digest, &der)
            .map_err(|r| fail(format!("the token's signature does not verify ({r})")))?;
        Ok(der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc7512() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=My%20Token;object=sign1;id=%01%02?pin-value=1234&module-path=/x/lib.so",
        )
        .unwrap();
        assert_eq!(u.token, "My Token");
        assert_eq!(u.object.as_deref(), Some("sign1"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.pin.as_deref(), Some("1234"));
        assert_eq!(u.module_path, PathBuf::from("/x/lib.so"));
        assert!(!format!("{u:?}").contains("1234"));

        let u = Pkcs11Uri::parse("pkcs11:token=kiln;object=k;type=private").unwrap();
        assert_eq!(u.module_path, PathBuf::from(DEFAULT_MODULE));
        assert_eq!(u.pin, None);
    }

    #[test]
    fn rejects_bad_uris_without_showing_the_pin() {
        for bad in [
            "pkcs11:object=k?pin-value=s3cret",
            "pkcs11:token=t?pin-value=s3cret",
            "pkcs11:token=t;object=%zz?pin-value=s3cret",
            "pkcs11:token=t;object=k;type=public?pin-value=s3cret",
            "pkcs11:token;object=k?pin-value=s3cret",
            "pkcs:token=t;object=k",
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn octet_string_and_der() {
        assert_eq!(unwrap_octet_string(&[4, 2, 9, 9]), Some(&[9u8, 9][..]));
        assert_eq!(unwrap_octet_string(&[4, 3, 9, 9]), None);
        assert_eq!(unwrap_octet_string(&[3, 1, 0]), None);
        assert!(raw_to_der(SignatureAlgorithm::EcdsaP256Sha256, &[0u8; 10]).is_err());
    }
}
