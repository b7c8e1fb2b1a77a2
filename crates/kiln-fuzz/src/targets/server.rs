//! Targets for what `kiln server` reads from the network: forge push payloads (GitHub,
//! GitLab, Gitea/Forgejo and the post-receive hook's form).

use kiln_pipeline::server::config::Forge;
use kiln_pipeline::server::forge;

use super::label;

/// A push webhook body: the repository names every forge's form yields, then the push
/// (ref and commit); a parsed push names a full commit id.
pub fn push(data: &[u8]) -> String {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return "json".into();
    };
    for f in Forge::ALL {
        let _ = forge::repository_names(f, &body);
    }
    let r = forge::parse_push(&body);
    if let Ok(p) = &r {
        assert!(
            matches!(p.after.len(), 40 | 64) && p.after.bytes().all(|b| b.is_ascii_hexdigit()),
            "a parsed push names {:?}",
            p.after
        );
    }
    label(&r)
}
