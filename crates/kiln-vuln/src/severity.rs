//! Severity: CVSS v2, v3.x and v4 vectors parsed and scored with the `cvss` crate, ecosystem
//! severities (`Ubuntu: medium`, GitHub's `database_specific.severity`) kept as given, and
//! one rating per finding for filters and `--fail-on`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A qualitative rating, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Unknown,
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Unknown => "unknown",
            Rating::None => "none",
            Rating::Low => "low",
            Rating::Medium => "medium",
            Rating::High => "high",
            Rating::Critical => "critical",
        }
    }

    /// The CVSS v3/v4 band of a score.
    pub fn from_score(s: f64) -> Rating {
        match s {
            x if x >= 9.0 => Rating::Critical,
            x if x >= 7.0 => Rating::High,
            x if x >= 4.0 => Rating::Medium,
            x if x > 0.0 => Rating::Low,
            _ => Rating::None,
        }
    }

    /// A rating word as ecosystems write it (`moderate` is GitHub's medium, `important` Red Hat's high).
    pub fn from_word(w: &str) -> Option<Rating> {
        Some(match w.trim().to_ascii_lowercase().as_str() {
            "critical" => Rating::Critical,
            "high" | "important" => Rating::High,
            "medium" | "moderate" => Rating::Medium,
            "low" | "negligible" => Rating::Low,
            "none" => Rating::None,
            "unknown" => Rating::Unknown,
            _ => return None,
        })
    }
}

impl FromStr for Rating {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Rating::from_word(s).ok_or_else(|| {
            format!("unknown severity {s:?} (critical, high, medium, low, none, unknown)")
        })
    }
}

/// One scored severity entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, or the ecosystem's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or word as given.
    pub vector: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub rating: Rating,
    /// Why the vector could not be scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Scores one OSV severity entry.
pub fn score(kind: &str, value: &str) -> Scored {
    let vector = value.trim().trim_end_matches('/');
    let result: Result<f64, String> = match kind {
        "CVSS_V2" => cvss::v2::Vector::from_str(vector)
            .map(|v| v.score().value())
            .map_err(|e| e.to_string()),
        "CVSS_V3" => cvss::v3::Vector::from_str(vector)
            .map(|v| v.base_score().value())
            .map_err(|e| e.to_string()),
        "CVSS_V4" => cvss::v4::Vector::from_str(vector)
            .map(|v| v.score().value())
            .map_err(|e| e.to_string()),
        _ => {
            return Scored {
                kind: kind.to_string(),
                vector: value.to_string(),
                score: None,
                rating: Rating::from_word(value).unwrap_or(Rating::Unknown),
                error: None,
            };
        }
    };
    match result {
        Ok(s) => {
            let rating = if kind == "CVSS_V2" {
                // CVSS v2 bands: low < 4.0 <= medium < 7.0 <= high.
                match s {
                    x if x >= 7.0 => Rating::High,
                    x if x >= 4.0 => Rating::Medium,
                    x if x > 0.0 => Rating::Low,
                    _ => Rating::None,
                }
            } else {
                Rating::from_score(s)
            };
            Scored {
                kind: kind.to_string(),
                vector: value.to_string(),
                score: Some(s),
                rating,
                error: None,
            }
        }
        Err(e) => Scored {
            kind: kind.to_string(),
            vector: value.to_string(),
            score: None,
            rating: Rating::Unknown,
            error: Some(format!("{kind} vector {value:?}: {e}")),
        },
    }
}

/// The finding's rating: the newest CVSS version scored, else the highest word given.
pub fn overall(scored: &[Scored]) -> Rating {
    for kind in ["CVSS_V4", "CVSS_V3", "CVSS_V2"] {
        let best = scored
            .iter()
            .filter(|s| s.kind == kind && s.score.is_some())
            .map(|s| s.rating)
            .max();
        if let Some(r) = best {
            return r;
        }
    }
    scored
        .iter()
        .map(|s| s.rating)
        .max()
        .unwrap_or(Rating::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_versions() {
        let s = score("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
        assert_eq!(s.score, Some(9.8));
        assert_eq!(s.rating, Rating::Critical);
        let s = score("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P/A:P");
        assert_eq!(s.score, Some(7.5));
        let s = score(
            "CVSS_V4",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        );
        assert_eq!(s.score, Some(9.3));
        let s = score(
            "CVSS_V3",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/",
        );
        assert!(s.score.is_some(), "{:?}", s.error);
        let s = score("CVSS_V3", "garbage");
        assert!(s.error.is_some());
        assert_eq!(score("Ubuntu", "medium").rating, Rating::Medium);
        assert_eq!(
            overall(&[
                score("Ubuntu", "high"),
                score("CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L")
            ]),
            Rating::Low
        );
    }
}
