//! The digest-pinning JSONPatch (RFC 6902): each image written with a tag becomes
//! `name@sha256:…` of the digest that was verified, so the cluster runs exactly that.

use base64::Engine as _;
use serde_json::{Value, json};

/// `name[:tag]` without its tag, any digest removed: `reg:5000/app:v1` → `reg:5000/app`.
pub fn strip_tag_and_digest(image: &str) -> &str {
    let name = image.split_once('@').map(|(n, _)| n).unwrap_or(image);
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

/// The image pinned to `digest`, keeping the name as written (`nginx:1` → `nginx@sha256:…`).
/// `None` when the image already names exactly this digest.
pub fn pinned(image: &str, digest: &str) -> Option<String> {
    if let Some((_, d)) = image.split_once('@')
        && d == digest
        && !image[..image.len() - d.len() - 1]
            .rsplit('/')
            .next()
            .unwrap_or("")
            .contains(':')
    {
        return None;
    }
    Some(format!("{}@{digest}", strip_tag_and_digest(image)))
}

/// One `replace` operation per (pointer, new value).
pub fn json_patch(replacements: &[(String, String)]) -> Value {
    Value::Array(
        replacements
            .iter()
            .map(|(path, value)| json!({"op": "replace", "path": path, "value": value}))
            .collect(),
    )
}

/// The patch as `response.patch` carries it: base64 of the JSON text.
pub fn encode(patch: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(patch.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn pins() {
        assert_eq!(pinned("nginx", D).unwrap(), format!("nginx@{D}"));
        assert_eq!(pinned("nginx:1.25", D).unwrap(), format!("nginx@{D}"));
        assert_eq!(
            pinned("127.0.0.1:5000/a/b:v1", D).unwrap(),
            format!("127.0.0.1:5000/a/b@{D}")
        );
        assert_eq!(
            pinned("127.0.0.1:5000/a/b", D).unwrap(),
            format!("127.0.0.1:5000/a/b@{D}")
        );
        assert_eq!(pinned(&format!("r/a@{D}"), D), None);
        // tag and digest: the tag goes.
        assert_eq!(
            pinned(&format!("r/a:v1@{D}"), D).unwrap(),
            format!("r/a@{D}")
        );
    }

    #[test]
    fn patch_document() {
        let p = json_patch(&[("/spec/containers/0/image".into(), "x@sha256:1".into())]);
        let text = base64::engine::general_purpose::STANDARD
            .decode(encode(&p))
            .unwrap();
        let back: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            back,
            json!([{"op":"replace","path":"/spec/containers/0/image","value":"x@sha256:1"}])
        );
    }
}
