//! Push webhooks as each forge sends them: which event, which delivery, which repository,
//! whether the signature holds, and the push itself.
//!
//! - GitHub: `X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256: sha256=<hex
//!   HMAC-SHA256 of the raw body>`.
//! - GitLab: `X-Gitlab-Event: Push Hook`, `Idempotency-Key` (else `X-Gitlab-Event-UUID`);
//!   `X-Gitlab-Token` (the secret itself, compared in constant time) or, when a signing
//!   token is configured, the Standard Webhooks signature GitLab sends with it:
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`
//!   keyed by the decoded `whsec_<base64>` token, the timestamp within five minutes.
//! - Gitea and Forgejo: `X-Gitea-Event` / `X-Forgejo-Event`, `X-Gitea-Delivery` /
//!   `X-Forgejo-Delivery`, `X-Gitea-Signature` / `X-Forgejo-Signature: <hex HMAC-SHA256>`.
//! - `kiln hook notify` (`/hooks/git`): `X-Kiln-Signature-256: sha256=<hex>` over a JSON
//!   body [`GitHookBody`] that carries its own delivery id, so the id is signed too.
//!
//! Every comparison of a secret or MAC is constant-time.

use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use super::config::{Forge, Repository};

type HmacSha256 = Hmac<Sha256>;

/// The header `kiln hook notify` signs with.
pub const KILN_SIGNATURE_HEADER: &str = "x-kiln-signature-256";
/// How far GitLab's `webhook-timestamp` may be from now.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// What kind of event a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Ping,
    Push,
    /// Anything else (named): answered 200 and ignored.
    Other(String),
}

/// Why a signature was refused (said in the 401 and the log; never holds the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no {0} header")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the {0} does not match")]
    Mismatch(&'static str),
    #[error("webhook-timestamp is more than {TIMESTAMP_TOLERANCE_SECS} s from now")]
    Stale,
}

/// A push, as far as the server cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// `refs/heads/…`.
    pub git_ref: String,
    /// The commit pushed (lower-case hex).
    pub after: String,
    /// The branch was deleted.
    pub deleted: bool,
}

/// The body `kiln hook notify` posts to `/hooks/git`, one per updated ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHookBody {
    pub repository: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: String,
    pub after: String,
    /// A fresh id per notification.
    pub delivery: String,
    /// Unix seconds when it was sent.
    pub timestamp: i64,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The event a request carries (`/hooks/git` always carries pushes).
pub fn event_kind(forge: Forge, headers: &HeaderMap) -> EventKind {
    let (value, push, ping) = match forge {
        Forge::Github => (header(headers, "x-github-event"), "push", Some("ping")),
        Forge::Gitlab => (header(headers, "x-gitlab-event"), "Push Hook", None),
        Forge::Gitea => (
            header(headers, "x-forgejo-event").or_else(|| header(headers, "x-gitea-event")),
            "push",
            Some("ping"),
        ),
        Forge::Git => return EventKind::Push,
    };
    match value {
        Some(v) if v == push => EventKind::Push,
        Some(v) if Some(v) == ping => EventKind::Ping,
        Some(v) => EventKind::Other(v.to_string()),
        None => EventKind::Other("(no event header)".into()),
    }
}

/// The delivery id of a request, when the forge sends one.
pub fn delivery_id(forge: Forge, headers: &HeaderMap, body: &Value) -> Option<String> {
    let id =
        match forge {
            Forge::Github => header(headers, "x-github-delivery"),
            Forge::Gitlab => header(headers, "idempotency-key")
                .or_else(|| header(headers, "x-gitlab-event-uuid")),
            Forge::Gitea => header(headers, "x-forgejo-delivery")
                .or_else(|| header(headers, "x-gitea-delivery")),
            Forge::Git => body.get("delivery").and_then(Value::as_str),
        }?;
    (id.len() <= 200 && !id.is_empty()).then(|| id.to_string())
}

/// The names a payload gives its repository (full name first).
pub fn repository_names(forge: Forge, body: &Value) -> Vec<String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    match forge {
        Forge::Github | Forge::Gitea => {
            let r = body.get("repository");
            out.extend(s(r.and_then(|r| r.get("full_name"))));
            out.extend(s(r.and_then(|r| r.get("name"))));
        }
        Forge::Gitlab => {
            let p = body.get("project");
            out.extend(s(p.and_then(|p| p.get("path_with_namespace"))));
            out.extend(s(p.and_then(|p| p.get("name"))));
            out.extend(s(body.get("repository").and_then(|r| r.get("name"))));
        }
        Forge::Git => out.extend(s(body.get("repository"))),
    }
    out
}

/// The hex HMAC-SHA256 of `body` under `key` (what senders put in their headers).
pub fn sign_hex(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hex_sig` is the HMAC-SHA256 of `body` under `key`, compared in constant time.
pub fn verify_hex(key: &[u8], body: &[u8], hex_sig: &str) -> bool {
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The key of a GitLab signing token `whsec_<base64>`.
pub fn decode_whsec(token: &[u8]) -> Result<Vec<u8>, String> {
    let t = std::str::from_utf8(token).map_err(|_| "not text".to_string())?;
    let b64 = t.strip_prefix("whsec_").unwrap_or(t);
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "expected whsec_ followed by base64".to_string())?;
    if key.is_empty() {
        return Err("the signing key is empty".into());
    }
    Ok(key)
}

/// Checks a Standard Webhooks signature (GitLab's signing token): any `v1,<base64>` in
/// `webhook-signature` over `{id}.{timestamp}.{body}`, the timestamp within tolerance of
/// `now` (Unix seconds).
pub fn verify_standard_webhook(
    key: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let id = header(headers, "webhook-id").ok_or(SignatureError::Missing("webhook-id"))?;
    let ts_text =
        header(headers, "webhook-timestamp").ok_or(SignatureError::Missing("webhook-timestamp"))?;
    let sigs =
        header(headers, "webhook-signature").ok_or(SignatureError::Missing("webhook-signature"))?;
    let ts: i64 = ts_text
        .parse()
        .map_err(|_| SignatureError::Malformed("webhook-timestamp"))?;
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| SignatureError::Mismatch("key"))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let mut any = false;
    for part in sigs.split(' ').filter(|p| !p.is_empty()) {
        let Some(b64) = part.strip_prefix("v1,") else {
            continue;
        };
        any = true;
        if let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(b64)
            && bool::from(sig.as_slice().ct_eq(expected.as_slice()))
        {
            return Ok(());
        }
    }
    if any {
        Err(SignatureError::Mismatch("webhook-signature"))
    } else {
        Err(SignatureError::Malformed("webhook-signature"))
    }
}

/// Checks that a request was signed with the repository's secret, the forge's way.
pub fn verify(
    forge: Forge,
    repo: &Repository,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let secret = repo.secret.expose();
    let prefixed = |name: &'static str| -> Result<(), SignatureError> {
        let v = header(headers, name).ok_or(SignatureError::Missing(name))?;
        let hex_sig = v
            .strip_prefix("sha256=")
            .ok_or(SignatureError::Malformed(name))?;
        if verify_hex(secret, body, hex_sig) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch(name))
        }
    };
    match forge {
        Forge::Github => prefixed("x-hub-signature-256"),
        Forge::Git => prefixed(KILN_SIGNATURE_HEADER),
        Forge::Gitea => {
            let (name, v) = match header(headers, "x-forgejo-signature") {
                Some(v) => ("x-forgejo-signature", v),
                None => (
                    "x-gitea-signature",
                    header(headers, "x-gitea-signature")
                        .ok_or(SignatureError::Missing("x-gitea-signature"))?,
                ),
            };
            if verify_hex(secret, body, v) {
                Ok(())
            } else {
                Err(SignatureError::Mismatch(name))
            }
        }
        Forge::Gitlab => match &repo.gitlab_signing_key {
            Some(key) => verify_standard_webhook(key.expose(), headers, body, now),
            None => {
                let token = header(headers, "x-gitlab-token")
                    .ok_or(SignatureError::Missing("x-gitlab-token"))?;
                if bool::from(token.as_bytes().ct_eq(secret)) {
                    Ok(())
                } else {
                    Err(SignatureError::Mismatch("x-gitlab-token"))
                }
            }
        },
    }
}

fn is_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The push in a payload (every forge names `ref`, `before` and `after` alike).
pub fn parse_push(body: &Value) -> Result<Push, String> {
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the push has no {name:?}"))
    };
    let git_ref = field("ref")?.to_string();
    let after = field("after")?.to_ascii_lowercase();
    if !is_commit(&after) {
        return Err(format!("\"after\" is not a commit id: {after:?}"));
    }
    let deleted = after.bytes().all(|b| b == b'0')
        || body.get("deleted").and_then(Value::as_bool) == Some(true);
    Ok(Push {
        git_ref,
        after,
        deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Secret;
    use axum::http::HeaderValue;

    fn repo(secret: &str) -> Repository {
        Repository {
            name: "acme/hello".into(),
            source: "/x".into(),
            secret: Secret::new(secret.as_bytes().to_vec()),
            gitlab_signing_key: None,
            forges: Forge::ALL.to_vec(),
            branches: vec![],
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// GitHub's documented test vector ("Validating webhook deliveries").
    #[test]
    fn github_documented_vector() {
        let sig = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            sign_hex(b"It's a Secret to Everybody", b"Hello, World!"),
            sig
        );
        let r = repo("It's a Secret to Everybody");
        let h = headers(&[("x-hub-signature-256", &format!("sha256={sig}"))]);
        assert_eq!(verify(Forge::Github, &r, &h, b"Hello, World!", 0), Ok(()));
        assert_eq!(
            verify(Forge::Github, &r, &h, b"Hello, World?", 0),
            Err(SignatureError::Mismatch("x-hub-signature-256"))
        );
        let h = headers(&[("x-hub-signature-256", sig)]);
        assert_eq!(
            verify(Forge::Github, &r, &h, b"Hello, World!", 0),
            Err(SignatureError::Malformed("x-hub-signature-256"))
        );
        assert_eq!(
            verify(Forge::Github, &r, &HeaderMap::new(), b"Hello, World!", 0),
            Err(SignatureError::Missing("x-hub-signature-256"))
        );
        assert!(!verify_hex(b"k", b"x", "zz"));
    }

    /// RFC 4231 test case 2 (HMAC-SHA256, key "Jefe").
    #[test]
    fn rfc4231_vector() {
        assert_eq!(
            sign_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn gitea_and_forgejo() {
        let r = repo("s");
        let sig = sign_hex(b"s", b"{}");
        for name in ["x-gitea-signature", "x-forgejo-signature"] {
            assert_eq!(
                verify(Forge::Gitea, &r, &headers(&[(name, &sig)]), b"{}", 0),
                Ok(())
            );
        }
        assert!(
            verify(
                Forge::Gitea,
                &r,
                &headers(&[("x-gitea-signature", &sig)]),
                b"{ }",
                0
            )
            .is_err()
        );
        let h = headers(&[("x-forgejo-event", "push"), ("x-forgejo-delivery", "d1")]);
        assert_eq!(event_kind(Forge::Gitea, &h), EventKind::Push);
        assert_eq!(
            delivery_id(Forge::Gitea, &h, &Value::Null).as_deref(),
            Some("d1")
        );
    }

    #[test]
    fn gitlab_token() {
        let r = repo("tok");
        let h = headers(&[("x-gitlab-token", "tok"), ("x-gitlab-event", "Push Hook")]);
        assert_eq!(verify(Forge::Gitlab, &r, &h, b"{}", 0), Ok(()));
        assert_eq!(event_kind(Forge::Gitlab, &h), EventKind::Push);
        let h = headers(&[("x-gitlab-token", "tok2")]);
        assert_eq!(
            verify(Forge::Gitlab, &r, &h, b"{}", 0),
            Err(SignatureError::Mismatch("x-gitlab-token"))
        );
        let h = headers(&[("idempotency-key", "k"), ("x-gitlab-event-uuid", "u")]);
        assert_eq!(
            delivery_id(Forge::Gitlab, &h, &Value::Null).as_deref(),
            Some("k")
        );
    }

    /// The Standard Webhooks specification's own example (secret, id, timestamp, payload
    /// and signature from standard-webhooks/spec, "Verifying webhooks").
    #[test]
    fn gitlab_signing_token_standard_webhooks_vector() {
        let key = decode_whsec(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let h = headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        assert_eq!(verify_standard_webhook(&key, &h, body, 1614265330), Ok(()));
        assert_eq!(
            verify_standard_webhook(&key, &h, body, 1614265330 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_standard_webhook(&key, &h, b"{}", 1614265330),
            Err(SignatureError::Mismatch("webhook-signature"))
        );
        let mut r = repo("tok");
        r.gitlab_signing_key = Some(Secret::new(key));
        // With a signing token, the plain token alone is not enough.
        let h = headers(&[("x-gitlab-token", "tok")]);
        assert_eq!(
            verify(Forge::Gitlab, &r, &h, body, 1614265330),
            Err(SignatureError::Missing("webhook-id"))
        );
    }

    #[test]
    fn pushes() {
        let p = parse_push(&serde_json::json!({
            "ref": "refs/heads/main",
            "before": "0000000000000000000000000000000000000000",
            "after": "C27D339EE6075C1F744C5D4B200F7901AAD2C369",
        }))
        .unwrap();
        assert_eq!(p.after, "c27d339ee6075c1f744c5d4b200f7901aad2c369");
        assert!(!p.deleted);
        let p = parse_push(&serde_json::json!({
            "ref": "refs/heads/main",
            "after": "0000000000000000000000000000000000000000",
        }))
        .unwrap();
        assert!(p.deleted);
        assert!(parse_push(&serde_json::json!({"ref": "refs/heads/x", "after": "abc"})).is_err());
        assert!(parse_push(&serde_json::json!({"after": "abc"})).is_err());
    }

    #[test]
    fn names_and_events() {
        let body = serde_json::json!({"repository": {"full_name": "acme/hello", "name": "hello"}});
        assert_eq!(
            repository_names(Forge::Github, &body),
            ["acme/hello", "hello"]
        );
        let body =
            serde_json::json!({"project": {"path_with_namespace": "g/hello", "name": "hello"}});
        assert_eq!(repository_names(Forge::Gitlab, &body), ["g/hello", "hello"]);
        let h = headers(&[("x-github-event", "ping")]);
        assert_eq!(event_kind(Forge::Github, &h), EventKind::Ping);
        let h = headers(&[("x-github-event", "issues")]);
        assert_eq!(
            event_kind(Forge::Github, &h),
            EventKind::Other("issues".into())
        );
    }
}
