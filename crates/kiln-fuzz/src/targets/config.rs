//! Targets for configuration files users or repositories supply: Kiln policy files and
//! their test cases, Kyverno policies, gitleaks rule files, and `kiln.yaml`.

use std::path::Path;

use super::{label, text};

/// A base directory that does not exist, so policies naming side files fail cleanly.
const NOWHERE: &str = "/nonexistent/kiln-fuzz";

/// The example policy's directory, so the example's key files resolve.
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policy");

/// A Kiln policy file (YAML, with embedded Rego); a parsed policy written back as YAML
/// parses again.
pub fn policy(data: &[u8]) -> String {
    let Some(t) = text(data) else {
        return "utf8".into();
    };
    let base = Path::new(EXAMPLES);
    let r = kiln_policy::Policy::parse(t, "fuzz.yaml", base);
    if let Ok(p) = &r
        && let Ok(yaml) = p.to_yaml()
        && let Err(e) = kiln_policy::Policy::parse(&yaml, "re-serialised.yaml", base)
    {
        panic!("a policy written back as YAML does not parse: {e}\n{yaml}");
    }
    label(&r)
}

/// Policy test cases (`kiln policy test`).
pub fn policy_tests(data: &[u8]) -> String {
    let Some(t) = text(data) else {
        return "utf8".into();
    };
    label(&kiln_policy::testcase::parse_cases(t, "fuzz.yaml"))
}

/// A Kyverno policy to import.
pub fn kyverno(data: &[u8]) -> String {
    let Some(t) = text(data) else {
        return "utf8".into();
    };
    label(&kiln_policy::kyverno::import(t, "fuzz.yaml"))
}

/// A gitleaks rule file; a parsed one is compiled into a rule set (hostile regexes).
pub fn gitleaks(data: &[u8]) -> String {
    let Some(t) = text(data) else {
        return "utf8".into();
    };
    let r = kiln_secrets::Config::parse(t, "fuzz.toml");
    if let Ok(cfg) = &r {
        let _ = kiln_secrets::RuleSet::compile(cfg);
    }
    label(&r)
}

/// A `kiln.yaml` pipeline configuration.
pub fn kiln_yaml(data: &[u8]) -> String {
    let Some(t) = text(data) else {
        return "utf8".into();
    };
    label(&kiln_pipeline::KilnConfig::parse(
        t,
        &Path::new(NOWHERE).join("kiln.yaml"),
    ))
}
