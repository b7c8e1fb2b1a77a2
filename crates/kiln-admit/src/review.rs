//! `admission.k8s.io/v1` AdmissionReview: the request the API server sends and the
//! response the webhook returns. Lenient on fields Kiln does not read, strict on the ones it
//! does (`apiVersion`, `kind`, `request.uid`, `request.kind`).

use serde::{Deserialize, Serialize};

/// The only API version served.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The envelope kind.
pub const KIND: &str = "AdmissionReview";

/// Why a body is not an AdmissionReview Kiln can answer.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("the body is not valid AdmissionReview JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("apiVersion is {0:?}, this webhook serves only {API_VERSION:?}")]
    ApiVersion(String),
    #[error("kind is {0:?}, expected {KIND:?}")]
    Kind(String),
    #[error("the AdmissionReview has no request")]
    NoRequest,
    #[error("request.uid is empty")]
    NoUid,
}

/// Group, version and kind of the object under review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
}

/// The part of `request` Kiln reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub uid: String,
    pub kind: GroupVersionKind,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub object: Option<serde_json::Value>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

impl AdmissionRequest {
    /// The namespace: the request's, else the object's `metadata.namespace`.
    pub fn effective_namespace(&self) -> Option<String> {
        self.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| {
                self.object
                    .as_ref()
                    .and_then(|o| o.pointer("/metadata/namespace"))
                    .and_then(|n| n.as_str())
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
            })
    }

    /// Whether the API server asked for a dry run (no side effects).
    pub fn is_dry_run(&self) -> bool {
        self.dry_run.unwrap_or(false)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReview {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    request: Option<AdmissionRequest>,
}

/// Parses and checks an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
    let raw: RawReview = serde_json::from_slice(body)?;
    if raw.api_version != API_VERSION {
        return Err(ReviewError::ApiVersion(raw.api_version));
    }
    if raw.kind != KIND {
        return Err(ReviewError::Kind(raw.kind));
    }
    let request = raw.request.ok_or(ReviewError::NoRequest)?;
    if request.uid.is_empty() {
        return Err(ReviewError::NoUid);
    }
    Ok(request)
}

/// `response.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub code: u16,
    pub message: String,
}

/// `response`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Base64 of a JSONPatch document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AdmissionResponse {
    /// Allowed, nothing else.
    pub fn allow(uid: &str) -> Self {
        AdmissionResponse {
            uid: uid.to_string(),
            allowed: true,
            status: None,
            patch: None,
            patch_type: None,
            warnings: Vec::new(),
        }
    }

    /// Denied with a message (HTTP-like code 403 in `status`).
    pub fn deny(uid: &str, message: String) -> Self {
        AdmissionResponse {
            uid: uid.to_string(),
            allowed: false,
            status: Some(Status { code: 403, message }),
            patch: None,
            patch_type: None,
            warnings: Vec::new(),
        }
    }
}

/// The response envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReviewResponse {
    pub api_version: String,
    pub kind: String,
    pub response: AdmissionResponse,
}

impl From<AdmissionResponse> for AdmissionReviewResponse {
    fn from(response: AdmissionResponse) -> Self {
        AdmissionReviewResponse {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_review() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
            "request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},
            "namespace":"ns","dryRun":true,"object":{"spec":{}},"extra":1}}"#;
        let r = parse_review(body).unwrap();
        assert_eq!(r.uid, "u1");
        assert_eq!(r.kind.kind, "Pod");
        assert_eq!(r.effective_namespace().as_deref(), Some("ns"));
        assert!(r.is_dry_run());
    }

    #[test]
    fn rejects_wrong_envelopes() {
        assert!(matches!(parse_review(b"{"), Err(ReviewError::Json(_))));
        assert!(matches!(
            parse_review(br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#),
            Err(ReviewError::ApiVersion(_))
        ));
        assert!(matches!(
            parse_review(br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod"}"#),
            Err(ReviewError::Kind(_))
        ));
        assert!(matches!(
            parse_review(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#),
            Err(ReviewError::NoRequest)
        ));
        assert!(matches!(
            parse_review(
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"","kind":{"kind":"Pod"}}}"#
            ),
            Err(ReviewError::NoUid)
        ));
        // uid of the wrong type: a JSON error, not a panic.
        assert!(matches!(
            parse_review(
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5,"kind":{"kind":"Pod"}}}"#
            ),
            Err(ReviewError::Json(_))
        ));
    }

    #[test]
    fn response_serialises_like_kubernetes() {
        let mut r = AdmissionResponse::deny("u", "no".into());
        r.warnings.push("w".into());
        let v = serde_json::to_value(AdmissionReviewResponse::from(r)).unwrap();
        assert_eq!(v["apiVersion"], API_VERSION);
        assert_eq!(v["response"]["status"]["code"], 403);
        assert_eq!(v["response"]["warnings"][0], "w");
        assert!(v["response"].get("patchType").is_none());
    }
}
