//! Rego conditions on an attestation's in-toto statement, compiled with regorus while the
//! policy is parsed and evaluated with the statement as `input`.
//!
//! A condition's `rego` is a Rego v1 module body (a `package` line is optional; without one
//! it becomes `package kiln.condition`). It defines `allow` (must be true) and/or `deny` (a
//! set of messages that must be empty). Both defined: both must hold.

use serde::{Deserialize, Serialize};

/// A compiled condition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawCondition")]
pub struct Condition {
    pub name: String,
    pub rego: String,
    #[serde(skip)]
    compiled: Option<Compiled>,
}

#[derive(Debug, Clone)]
struct Compiled {
    engine: regorus::Engine,
    package: String,
    has_allow: bool,
    has_deny: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    name: String,
    rego: String,
}

impl TryFrom<RawCondition> for Condition {
    type Error = String;
    fn try_from(raw: RawCondition) -> Result<Self, String> {
        Condition::new(&raw.name, &raw.rego)
    }
}

/// What a condition said about one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Failed, with the `deny` messages (or a generic one when `allow` was not true).
    Fail(Vec<String>),
    /// The evaluation itself failed (treated as a failure: fail closed).
    Error(String),
}

fn defines(text: &str, rule: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        let l = l.strip_prefix("default ").map(str::trim_start).unwrap_or(l);
        l.strip_prefix(rule)
            .is_some_and(|rest| rest.starts_with(|c: char| !(c.is_alphanumeric() || c == '_')))
    })
}

impl Condition {
    /// Compiles a condition; the error names it and carries regorus' message.
    pub fn new(name: &str, rego: &str) -> Result<Condition, String> {
        let has_allow = defines(rego, "allow");
        let has_deny = defines(rego, "deny");
        if !has_allow && !has_deny {
            return Err(format!(
                "condition {name:?}: the Rego must define `allow` or `deny`"
            ));
        }
        let source = if rego.trim_start().starts_with("package ") {
            rego.to_string()
        } else {
            // regorus' line numbers are then one past the condition's own lines.
            format!("package kiln.condition\n{rego}")
        };
        let mut engine = regorus::Engine::new();
        let package = engine
            .add_policy(format!("condition {name}"), source)
            .map_err(|e| format!("condition {name:?}: invalid Rego: {e}"))?;
        Ok(Condition {
            name: name.to_string(),
            rego: rego.to_string(),
            compiled: Some(Compiled {
                engine,
                package,
                has_allow,
                has_deny,
            }),
        })
    }

    /// Evaluates the condition with `statement` as `input`.
    pub fn evaluate(&self, statement: &serde_json::Value) -> Outcome {
        let Some(c) = &self.compiled else {
            return Outcome::Error(format!("condition {:?} was not compiled", self.name));
        };
        let mut engine = c.engine.clone();
        let input = match serde_json::to_string(statement)
            .map_err(|e| e.to_string())
            .and_then(|s| regorus::Value::from_json_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => return Outcome::Error(format!("statement is not usable as input: {e}")),
        };
        engine.set_input(input);
        let result = match engine.eval_query(c.package.clone(), false) {
            Ok(r) => r,
            Err(e) => return Outcome::Error(format!("Rego evaluation failed: {e}")),
        };
        let value = result
            .result
            .first()
            .and_then(|r| r.expressions.first())
            .map(|e| e.value.clone())
            .unwrap_or(regorus::Value::Undefined);
        let mut failures = Vec::new();
        if c.has_deny {
            match &value["deny"] {
                regorus::Value::Set(s) => failures.extend(s.iter().map(|m| match m {
                    regorus::Value::String(s) => s.to_string(),
                    other => other.to_string(),
                })),
                regorus::Value::Undefined => {}
                other => {
                    return Outcome::Error(format!(
                        "`deny` must be a set of messages, got {other}"
                    ));
                }
            }
        }
        if c.has_allow && value["allow"] != regorus::Value::Bool(true) {
            failures.push("allow is not true".to_string());
        }
        if failures.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(failures)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provenance_builder_id() {
        let c = Condition::new(
            "builder",
            "allow if input.predicate.runDetails.builder.id == \"https://kiln.dev/builder@v1\"\n",
        )
        .unwrap();
        let good = json!({"predicate": {"runDetails": {"builder": {"id": "https://kiln.dev/builder@v1"}}}});
        let bad = json!({"predicate": {"runDetails": {"builder": {"id": "https://evil"}}}});
        assert_eq!(c.evaluate(&good), Outcome::Pass);
        assert!(matches!(c.evaluate(&bad), Outcome::Fail(_)));
        assert!(matches!(c.evaluate(&json!({})), Outcome::Fail(_)));
    }

    #[test]
    fn deny_messages_are_reported() {
        let c = Condition::new(
            "no-critical",
            r#"
deny contains msg if {
    some v in input.predicate.vulnerabilities
    v.severity in {"CRITICAL", "HIGH"}
    msg := sprintf("%s is %s", [v.id, v.severity])
}
"#,
        )
        .unwrap();
        let st = json!({"predicate": {"vulnerabilities": [
            {"id": "CVE-1", "severity": "LOW"}, {"id": "CVE-2", "severity": "CRITICAL"}]}});
        assert_eq!(
            c.evaluate(&st),
            Outcome::Fail(vec!["CVE-2 is CRITICAL".to_string()])
        );
        assert_eq!(
            c.evaluate(&json!({"predicate": {"vulnerabilities": []}})),
            Outcome::Pass
        );
    }

    #[test]
    fn syntax_error_is_refused_and_named() {
        let e = Condition::new("broken", "allow if {").unwrap_err();
        assert!(e.contains("broken"), "{e}");
        let e = Condition::new("empty", "x := 1").unwrap_err();
        assert!(e.contains("allow"), "{e}");
    }

    #[test]
    fn runtime_error_is_an_error_outcome() {
        // Dividing by zero is an error under strict builtin errors; a type error in a
        // function call also surfaces. Either way the outcome must not be Pass.
        let c = Condition::new("boom", "allow if { x := input.n / 0; x > 1 }").unwrap();
        assert_ne!(c.evaluate(&json!({"n": 1})), Outcome::Pass);
    }
}
