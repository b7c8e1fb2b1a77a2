//! Recorded inputs for `kiln policy test`: evidence with, optionally, the decision expected.
//! A file holds one case or a JSON array of cases; a case is `{name, expect, evidence}` or
//! a bare evidence object.

use serde::{Deserialize, Serialize};

use crate::evidence::Evidence;

/// The expected decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

/// One recorded input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub expect: Option<Expect>,
    pub evidence: Evidence,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneCase {
    Case(TestCase),
    Bare(Evidence),
}

/// Parses a test input file's text; the error names the file.
pub fn parse_cases(text: &str, source_name: &str) -> Result<Vec<TestCase>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{source_name}: not JSON: {e}"))?;
    let items = match value {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            // Decide by shape so the error is the precise one, not serde's untagged message.
            let r = if v.get("evidence").is_some() {
                serde_json::from_value::<TestCase>(v).map(OneCase::Case)
            } else {
                serde_json::from_value::<Evidence>(v).map(OneCase::Bare)
            };
            match r {
                Ok(OneCase::Case(c)) => Ok(c),
                Ok(OneCase::Bare(evidence)) => Ok(TestCase {
                    name: None,
                    expect: None,
                    evidence,
                }),
                Err(e) => Err(format!("{source_name}: case {i}: {e}")),
            }
        })
        .collect()
}
