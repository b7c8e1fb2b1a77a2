//! Import of Kyverno `verifyImages` rules (ClusterPolicy or Policy) into a Kiln policy,
//! with a list of every part that could not be expressed.
//!
//! Mapping: `imageReferences` → `images` (a trailing `:*`/`@*` dropped), `skipImageReferences`
//! → `exclude`, `match…resources.namespaces` → `namespaces`, attestor sets → `signatures`
//! (one Kiln rule per extra set, since matching rules all apply), `keys.publicKeys`/`kms`,
//! `certificates.cert` (Notary: a Notation CA) → `spec.signers`, `attestations` →
//! `attestations` with `conditions` (`all`/`any` of key/operator/value) rewritten to Rego on
//! `input.predicate`, `validationFailureAction`/`failureAction` → `mode`, `required: false`
//! → audit. Kyverno lets unmatched images through, so `defaultAction` is `allow`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::document::Policy;

/// Why a Kyverno document could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum KyvernoError {
    #[error("{0}: not YAML: {1}")]
    Yaml(String, String),
    #[error("{0}: {1}")]
    Unsupported(String, String),
    #[error("{0}: the converted policy is invalid (a bug in the import): {1}")]
    Invalid(String, String),
}

/// The converted policy and what was left out.
#[derive(Debug)]
pub struct Import {
    pub policy: Policy,
    pub yaml: String,
    /// Every part not expressed, each naming where it was.
    pub unsupported: Vec<String>,
}

#[derive(Default)]
struct Ctx {
    signers: Vec<Value>,
    by_material: BTreeMap<String, String>,
    unsupported: Vec<String>,
}

impl Ctx {
    fn skip(&mut self, at: &str, what: impl std::fmt::Display) {
        self.unsupported.push(format!("{at}: {what}"));
    }

    fn signer(&mut self, base: &str, kind: &str, body: Value) -> String {
        let key = format!("{kind}:{body}");
        if let Some(n) = self.by_material.get(&key) {
            return n.clone();
        }
        let name = format!("{base}-{}", self.signers.len() + 1);
        let mut obj = serde_json::Map::new();
        obj.insert("name".into(), json!(name));
        obj.insert(kind.into(), body);
        self.signers.push(Value::Object(obj));
        self.by_material.insert(key, name.clone());
        name
    }

    /// Converts one attestor entry into a signer name, or records why not.
    fn entry(&mut self, at: &str, e: &Value, notary: bool) -> Option<String> {
        let Some(obj) = e.as_object() else {
            self.skip(at, "attestor entry is not a mapping");
            return None;
        };
        for k in obj.keys() {
            if !matches!(k.as_str(), "keys" | "certificates" | "annotations") {
                self.skip(
                    at,
                    format!(
                        "attestor entry kind {k:?} (only keys and certificates are expressible)"
                    ),
                );
            }
        }
        if obj.contains_key("annotations") {
            self.skip(at, "signature annotations are not checked");
        }
        if let Some(keys) = obj.get("keys") {
            for tl in ["rekor", "ctlog", "secret", "signatureAlgorithm"] {
                if keys.get(tl).is_some() {
                    self.skip(at, format!("keys.{tl} is not expressible"));
                }
            }
            if let Some(pem) = keys.get("publicKeys").and_then(Value::as_str) {
                let pem = pem.trim();
                if pem.starts_with("-----BEGIN") {
                    if pem.matches("-----BEGIN").count() > 1 {
                        self.skip(at, "several keys in one publicKeys: only the first is used");
                    }
                    return Some(self.signer("key", "publicKey", json!(format!("{pem}\n"))));
                }
                self.skip(
                    at,
                    format!("publicKeys {pem:?} (only inline PEM is expressible)"),
                );
                return None;
            }
            if let Some(kms) = keys.get("kms").and_then(Value::as_str) {
                return Some(self.signer("kms", "kms", json!(kms)));
            }
            self.skip(at, "keys without publicKeys or kms");
            return None;
        }
        if let Some(c) = obj.get("certificates") {
            for tl in ["rekor", "ctlog"] {
                if c.get(tl).is_some() {
                    self.skip(at, format!("certificates.{tl} is not expressible"));
                }
            }
            let cert = c.get("cert").and_then(Value::as_str).map(str::trim);
            if notary {
                let Some(ca) = cert.or_else(|| c.get("certChain").and_then(Value::as_str)) else {
                    self.skip(at, "Notary certificates without cert or certChain");
                    return None;
                };
                return Some(self.signer(
                    "notation",
                    "notation",
                    json!({"identity": "*", "ca": format!("{}\n", ca.trim())}),
                ));
            }
            if c.get("certChain").is_some() {
                self.skip(
                    at,
                    "certificates.certChain (the signer's certificate is matched, not its chain)",
                );
            }
            if let Some(cert) = cert.filter(|c| c.starts_with("-----BEGIN")) {
                return Some(self.signer("cert", "certificate", json!(format!("{cert}\n"))));
            }
            self.skip(at, "certificates without an inline PEM cert");
        }
        None
    }

    /// An attestor set → (signer names, count).
    fn set(&mut self, at: &str, set: &Value, notary: bool) -> (Vec<String>, usize) {
        let entries = set
            .get("entries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = entries.len();
        let mut names = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(n) = self.entry(&format!("{at}.entries[{i}]"), e, notary)
                && !names.contains(&n)
            {
                names.push(n);
            }
        }
        let mut count = set
            .get("count")
            .and_then(Value::as_u64)
            .map(|c| c as usize)
            .unwrap_or(total);
        if count > names.len() {
            if !names.is_empty() || total > 0 {
                self.skip(at, format!(
                    "count {count} of {total} entries, only {} expressible: requiring all of those",
                    names.len()
                ));
            }
            count = names.len();
        }
        (names, count)
    }
}

/// Converts every Kyverno policy in `text` (YAML, one or more documents).
pub fn import(text: &str, source_name: &str) -> Result<Import, KyvernoError> {
    let mut ctx = Ctx::default();
    let mut rules = Vec::new();
    let mut mode = "enforce";
    let mut names = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc)
            .map_err(|e| KyvernoError::Yaml(source_name.into(), e.to_string()))?;
        if v.is_null() {
            continue;
        }
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "ClusterPolicy" | "Policy")
            || !v
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("kyverno.io/"))
        {
            return Err(KyvernoError::Unsupported(
                source_name.into(),
                format!("expected a kyverno.io ClusterPolicy or Policy, found kind {kind:?}"),
            ));
        }
        let pname = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("policy");
        names.push(pname.to_string());
        let policy_ns = (kind == "Policy").then(|| {
            v.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        });
        let spec = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(a) = spec.get("validationFailureAction").and_then(Value::as_str)
            && a.eq_ignore_ascii_case("audit")
        {
            mode = "audit";
        }
        for k in [
            "failurePolicy",
            "webhookTimeoutSeconds",
            "validationFailureActionOverrides",
        ] {
            if spec.get(k).is_some() {
                ctx.skip(
                    &format!("{pname}.spec.{k}"),
                    "not expressible (the webhook configuration decides)",
                );
            }
        }
        let krules = spec
            .get("rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (ri, rule) in krules.iter().enumerate() {
            let rname = rule
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("rule")
                .to_string();
            let at = format!("{pname}.rules[{ri}] ({rname})");
            for k in ["validate", "mutate", "generate", "context", "preconditions"] {
                if rule.get(k).is_some() {
                    ctx.skip(&at, format!("{k} is not expressible"));
                }
            }
            let mut namespaces: Vec<String> = policy_ns.iter().cloned().collect();
            for block in ["any", "all"] {
                for m in rule
                    .pointer(&format!("/match/{block}"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for n in m
                        .pointer("/resources/namespaces")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(n) = n.as_str() {
                            namespaces.push(n.to_string());
                        }
                    }
                    if m.pointer("/resources/selector").is_some()
                        || m.pointer("/resources/namespaceSelector").is_some()
                        || m.get("subjects").is_some()
                    {
                        ctx.skip(&at, "match selectors/subjects are not expressible");
                    }
                }
            }
            if rule.pointer("/match/resources/namespaces").is_some() {
                for n in rule
                    .pointer("/match/resources/namespaces")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = n.as_str() {
                        namespaces.push(n.to_string());
                    }
                }
            }
            if rule.get("exclude").is_some() {
                ctx.skip(&at, "exclude (by resource or namespace) is not expressible; only image exclusions are");
            }
            let vis = rule
                .get("verifyImages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (vi, verify) in vis.iter().enumerate() {
                let at = format!("{at}.verifyImages[{vi}]");
                let name = if vis.len() > 1 {
                    format!("{rname}-{}", vi + 1)
                } else {
                    rname.clone()
                };
                rules.extend(convert_verify(&mut ctx, &at, &name, verify, &namespaces));
            }
        }
    }
    if rules.is_empty() {
        return Err(KyvernoError::Unsupported(
            source_name.into(),
            "no verifyImages rule to convert".into(),
        ));
    }
    let doc = json!({
        "apiVersion": crate::document::API_VERSION,
        "kind": crate::document::KIND,
        "metadata": {"name": names.join("+"), "annotations": {"kiln.dev/imported-from": "kyverno"}},
        "spec": {
            "mode": mode,
            "defaultAction": "allow",
            "signers": ctx.signers,
            "rules": rules,
        }
    });
    let yaml = serde_norway::to_string(&doc)
        .map_err(|e| KyvernoError::Invalid(source_name.into(), e.to_string()))?;
    let policy = Policy::parse(&yaml, source_name, std::path::Path::new("."))
        .map_err(|e| KyvernoError::Invalid(source_name.into(), e.to_string()))?;
    // Re-serialised from the typed document, so fields come in the documented order.
    let yaml = policy
        .to_yaml()
        .map_err(|e| KyvernoError::Invalid(source_name.into(), e.to_string()))?;
    Ok(Import {
        policy,
        yaml,
        unsupported: ctx.unsupported,
    })
}

fn image_globs(ctx: &mut Ctx, at: &str, list: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    for p in list.and_then(Value::as_array).into_iter().flatten() {
        let Some(p) = p.as_str() else { continue };
        let stripped = p
            .strip_suffix("@*")
            .or_else(|| p.strip_suffix(":*"))
            .unwrap_or(p);
        // A tag or digest pinned in the pattern: Kiln matches registry/repository only.
        let last = stripped.rsplit('/').next().unwrap_or("");
        let base = if let Some((repo, _)) = stripped.split_once('@') {
            ctx.skip(
                at,
                format!("image pattern {p:?}: the digest part is not expressible"),
            );
            repo
        } else if let Some(i) = last.rfind(':') {
            ctx.skip(
                at,
                format!("image pattern {p:?}: the tag part is not expressible"),
            );
            &stripped[..stripped.len() - last.len() + i]
        } else {
            stripped
        };
        out.push(normalize_image_glob(base));
    }
    out
}

/// `nginx` → `docker.io/library/nginx`, `org/app*` → `docker.io/org/app*`, as Kyverno
/// normalises references before matching.
fn normalize_image_glob(p: &str) -> String {
    let first = p.split('/').next().unwrap_or("");
    let has_registry = p.contains('/')
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.contains('*'));
    if has_registry {
        p.to_string()
    } else if p.contains('/') {
        format!("docker.io/{p}")
    } else {
        format!("docker.io/library/{p}")
    }
}

fn convert_verify(
    ctx: &mut Ctx,
    at: &str,
    name: &str,
    v: &Value,
    namespaces: &[String],
) -> Vec<Value> {
    let known = [
        "imageReferences",
        "skipImageReferences",
        "attestors",
        "attestations",
        "mutateDigest",
        "verifyDigest",
        "required",
        "type",
        "failureAction",
        "useCache",
        "imageRegistryCredentials",
        "repository",
        "image",
        "key",
        "roots",
        "subject",
        "issuer",
        "additionalExtensions",
        "annotations",
    ];
    if let Some(o) = v.as_object() {
        for k in o.keys().filter(|k| !known.contains(&k.as_str())) {
            ctx.skip(at, format!("{k} is not expressible"));
        }
        for k in [
            "imageRegistryCredentials",
            "repository",
            "image",
            "key",
            "roots",
            "subject",
            "issuer",
            "additionalExtensions",
            "annotations",
        ] {
            if o.contains_key(k) {
                ctx.skip(at, format!("{k} is not expressible"));
            }
        }
    }
    let notary = v
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("notary"));
    if v.get("mutateDigest").and_then(Value::as_bool) == Some(false) {
        ctx.skip(
            at,
            "mutateDigest: false (Kiln's webhook always pins the verified digest)",
        );
    }
    let mut mode = v.get("failureAction").and_then(Value::as_str).map(|a| {
        if a.eq_ignore_ascii_case("audit") {
            "audit"
        } else {
            "enforce"
        }
    });
    if v.get("required").and_then(Value::as_bool) == Some(false) {
        ctx.skip(
            at,
            "required: false is converted as mode: audit (failures warn instead of deny)",
        );
        mode = Some("audit");
    }
    let images = image_globs(ctx, at, v.get("imageReferences"));
    let exclude = image_globs(ctx, at, v.get("skipImageReferences"));
    let mut base = serde_json::Map::new();
    base.insert("images".into(), json!(images));
    if !namespaces.is_empty() {
        base.insert("namespaces".into(), json!(namespaces));
    }
    if !exclude.is_empty() {
        base.insert("exclude".into(), json!(exclude));
    }
    if let Some(m) = mode {
        base.insert("mode".into(), json!(m));
    }
    let mut out = Vec::new();
    let sets = v
        .get("attestors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut first_signers = Vec::new();
    for (si, set) in sets.iter().enumerate() {
        let sat = format!("{at}.attestors[{si}]");
        let (names, count) = ctx.set(&sat, set, notary);
        if names.is_empty() {
            ctx.skip(
                &sat,
                "no expressible attestor: this image signature requirement is NOT enforced",
            );
            continue;
        }
        let mut r = base.clone();
        r.insert(
            "name".into(),
            json!(if si == 0 {
                name.to_string()
            } else {
                format!("{name}-attestors-{}", si + 1)
            }),
        );
        if first_signers.is_empty() {
            first_signers = names.clone();
        }
        r.insert(
            "signatures".into(),
            json!({"signers": names, "count": count}),
        );
        out.push(Value::Object(r));
    }
    let mut atts = Vec::new();
    for (ai, a) in v
        .get("attestations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let aat = format!("{at}.attestations[{ai}]");
        let Some(pt) = a
            .get("predicateType")
            .or_else(|| a.get("type"))
            .and_then(Value::as_str)
        else {
            ctx.skip(&aat, "attestation without predicateType");
            continue;
        };
        let mut signers: Vec<String> = Vec::new();
        for (si, set) in a
            .get("attestors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (names, count) = ctx.set(&format!("{aat}.attestors[{si}]"), set, notary);
            if count > 1 {
                ctx.skip(&aat, format!("attestation attestor count {count} (Kiln needs one trusted signer per attestation)"));
            }
            signers.extend(names);
        }
        let mut conditions = Vec::new();
        for (ci, c) in a
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cat = format!("{aat}.conditions[{ci}]");
            match condition_rego(c) {
                Ok(rego) => {
                    conditions.push(json!({"name": format!("kyverno-{}", ci + 1), "rego": rego}))
                }
                Err(e) => ctx.skip(&cat, format!("{e}; this condition is NOT enforced")),
            }
        }
        let mut att = json!({"predicateType": pt});
        if !signers.is_empty() {
            att["signers"] = json!(signers);
        }
        if !conditions.is_empty() {
            att["conditions"] = json!(conditions);
        }
        atts.push(att);
    }
    if !atts.is_empty() {
        if let Some(first) = out.first_mut() {
            first["attestations"] = json!(atts);
        } else {
            let mut r = base.clone();
            r.insert("name".into(), json!(name));
            r.insert("attestations".into(), json!(atts));
            out.push(Value::Object(r));
        }
    }
    if out.is_empty() {
        ctx.skip(
            at,
            "nothing expressible in this verifyImages entry; no rule emitted",
        );
    }
    out
}

/// A JMESPath key `{{ a.b."c-d" }}` → a Rego reference on `input.predicate`.
fn key_ref(key: &Value) -> Result<String, String> {
    let Some(s) = key.as_str() else {
        return Err(format!("key {key} is not a string"));
    };
    let inner = s
        .trim()
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .map(str::trim)
        .ok_or_else(|| format!("key {s:?} is not a single {{{{ }}}} expression"))?;
    let mut out = String::from("input.predicate");
    let mut rest = inner;
    while !rest.is_empty() {
        let seg;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r
                .find('"')
                .ok_or_else(|| format!("key {s:?}: unterminated quote"))?;
            seg = &r[..end];
            rest = &r[end + 1..];
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            seg = &rest[..end];
            rest = &rest[end..];
            if seg.is_empty()
                || !seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || seg.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!(
                    "key {s:?}: JMESPath beyond dotted names is not expressible"
                ));
            }
        }
        out.push_str(&format!("[{}]", json!(seg)));
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
            if rest.is_empty() {
                return Err(format!("key {s:?}: trailing dot"));
            }
        } else if !rest.is_empty() {
            return Err(format!(
                "key {s:?}: JMESPath beyond dotted names is not expressible"
            ));
        }
    }
    Ok(out)
}

fn wildcard_regex(p: &str) -> String {
    let mut r = String::from("^");
    for c in p.chars() {
        match c {
            '*' => r.push_str(".*"),
            '?' => r.push('.'),
            c if c.is_ascii_alphanumeric() => r.push(c),
            c => {
                r.push('\\');
                r.push(c);
            }
        }
    }
    r.push('$');
    r
}

/// One Kyverno condition (key/operator/value) → a Rego expression.
fn expr(c: &Value) -> Result<String, String> {
    let k = key_ref(c.get("key").unwrap_or(&Value::Null))?;
    let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
    let v = c.get("value").cloned().unwrap_or(Value::Null);
    if v.as_str().is_some_and(|s| s.contains("{{")) {
        return Err(format!("value {v} uses a variable"));
    }
    let vj = v.to_string();
    let wild = v.as_str().filter(|s| s.contains('*') || s.contains('?'));
    Ok(match op.to_ascii_lowercase().as_str() {
        "equals" | "equal" => match wild {
            Some(p) => format!("regex.match({}, {k})", json!(wildcard_regex(p))),
            None => format!("{k} == {vj}"),
        },
        "notequals" | "notequal" => match wild {
            Some(p) => format!("not regex.match({}, {k})", json!(wildcard_regex(p))),
            None => format!("{k} != {vj}"),
        },
        "anyin" => format!("kiln_any_in({k}, {vj})"),
        "allin" | "in" => format!("kiln_all_in({k}, {vj})"),
        "anynotin" => format!("not kiln_all_in({k}, {vj})"),
        "allnotin" | "notin" => format!("not kiln_any_in({k}, {vj})"),
        "greaterthan" | "greaterthanorequals" | "lessthan" | "lessthanorequals"
            if v.is_number() =>
        {
            let o = match op.to_ascii_lowercase().as_str() {
                "greaterthan" => ">",
                "greaterthanorequals" => ">=",
                "lessthan" => "<",
                _ => "<=",
            };
            format!("{k} {o} {vj}")
        }
        other => {
            return Err(format!(
                "operator {other:?} with value {vj} is not expressible"
            ));
        }
    })
}

const HELPERS: &str = r#"
kiln_list(x) := x if is_array(x)
kiln_list(x) := [x] if not is_array(x)
kiln_any_in(k, v) if {
    some e in kiln_list(k)
    e in kiln_list(v)
}
kiln_all_in(k, v) if {
    every e in kiln_list(k) { e in kiln_list(v) }
}
"#;

/// A Kyverno condition block `{all: [...], any: [...]}` → a Rego module body.
fn condition_rego(block: &Value) -> Result<String, String> {
    if let Some(o) = block.as_object()
        && let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "all" | "any"))
    {
        return Err(format!("condition block field {k:?}"));
    }
    let all: Vec<String> = block
        .get("all")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(expr)
        .collect::<Result<_, _>>()?;
    let any: Vec<String> = block
        .get("any")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(expr)
        .collect::<Result<_, _>>()?;
    if all.is_empty() && any.is_empty() {
        return Err("empty condition block".into());
    }
    let mut rego = String::from("allow if {\n");
    for e in &all {
        rego.push_str(&format!("    {e}\n"));
    }
    if !any.is_empty() {
        rego.push_str("    kiln_any_ok\n");
    }
    rego.push_str("}\n");
    for e in &any {
        rego.push_str(&format!("kiln_any_ok if {{\n    {e}\n}}\n"));
    }
    if rego.contains("kiln_any_in(") || rego.contains("kiln_all_in(") {
        rego.push_str(HELPERS);
    }
    Ok(rego)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_predicate_references() {
        assert_eq!(
            key_ref(&json!("{{ builder.id }}")).unwrap(),
            r#"input.predicate["builder"]["id"]"#
        );
        assert_eq!(
            key_ref(&json!("{{a.\"b-c\"}}")).unwrap(),
            r#"input.predicate["a"]["b-c"]"#
        );
        assert!(key_ref(&json!("{{ a[0].b }}")).is_err());
        assert!(key_ref(&json!("{{ a | length(@) }}")).is_err());
        assert!(key_ref(&json!("builder.id")).is_err());
    }

    #[test]
    fn image_patterns_are_normalised() {
        let mut ctx = Ctx::default();
        let g = image_globs(
            &mut ctx,
            "x",
            Some(&json!([
                "ghcr.io/acme/*",
                "nginx:*",
                "ghcr.io/a/b:1.0",
                "org/app*"
            ])),
        );
        assert_eq!(
            g,
            [
                "ghcr.io/acme/*",
                "docker.io/library/nginx",
                "ghcr.io/a/b",
                "docker.io/org/app*"
            ]
        );
        assert_eq!(ctx.unsupported.len(), 1, "{:?}", ctx.unsupported);
    }

    #[test]
    fn conditions_compile_and_hold() {
        let rego = condition_rego(&json!({"all": [
            {"key": "{{ builder.id }}", "operator": "Equals", "value": "https://kiln.dev/*"},
            {"key": "{{ materials.count }}", "operator": "GreaterThan", "value": 0},
            {"key": "{{ tags }}", "operator": "AnyIn", "value": ["prod", "stage"]}
        ], "any": [
            {"key": "{{ level }}", "operator": "In", "value": ["L3", "L4"]}
        ]}))
        .unwrap();
        let c = crate::rego::Condition::new("k", &rego).unwrap();
        let good = json!({"predicate": {"builder": {"id": "https://kiln.dev/b"}, "materials": {"count": 2}, "tags": ["x", "prod"], "level": "L3"}});
        assert_eq!(c.evaluate(&good), crate::rego::Outcome::Pass);
        let mut bad = good.clone();
        bad["predicate"]["level"] = json!("L1");
        assert_ne!(c.evaluate(&bad), crate::rego::Outcome::Pass);
        let mut bad = good.clone();
        bad["predicate"]["builder"]["id"] = json!("https://evil/kiln.dev/");
        assert_ne!(c.evaluate(&bad), crate::rego::Outcome::Pass);
    }
}
