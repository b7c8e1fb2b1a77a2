//! HTML for the dashboard: escaping ([`Esc`]) and URL encoding ([`Url`]) as `Display`
//! wrappers, small formatters (times, durations, digests), the common page layout
//! ([`page`]) and the error type every handler returns ([`PageError`]), which renders as a
//! 400, 404 or 500 page.
//!
//! Every value from the ledger goes through [`Esc`] (text and attribute values) or [`Url`]
//! (path segments and query values) before it reaches the page: the dashboard writes no
//! `<script>` and no event attributes, so an escaped value cannot run.

use std::fmt::{self, Write};

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::ledger::LedgerError;

/// Text escaped for HTML element content and quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Text percent-encoded for a URL path segment or query value (everything but the
/// unreserved characters of RFC 3986 and `:`, which digests keep readable). The result
/// holds no HTML-special character, so it is safe in an attribute as is.
pub struct Url<'a>(pub &'a str);

impl fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix milliseconds.
pub fn time(ms: i64) -> String {
    kiln_oci::time::rfc3339(ms.div_euclid(1000))
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// A duration in milliseconds for people: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration(ms: i64) -> String {
    if ms < 0 {
        return "-".to_string();
    }
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The short form of a digest (`sha256:0123456789ab`), for tables; the full one goes in
/// a `title`.
pub fn short_digest(digest: &str) -> &str {
    match digest.split_once(':') {
        Some((alg, hex)) if hex.len() > 12 => digest.get(..alg.len() + 1 + 12).unwrap_or(digest),
        _ => digest,
    }
}

/// A link to an image page showing the short digest, the full one as its title.
pub fn image_link(digest: &str) -> String {
    format!(
        "<a class=\"mono\" href=\"/images/{}\" title=\"{}\">{}</a>",
        Url(digest),
        Esc(digest),
        Esc(short_digest(digest))
    )
}

/// A link to a run page showing the run's id (in full: ids of runs started in the same
/// minute share their first characters).
pub fn run_link(id: &str) -> String {
    format!(
        "<a class=\"mono\" href=\"/runs/{}\">{}</a>",
        Url(id),
        Esc(id)
    )
}

/// A status word (`succeeded`, `failed`, `passed`, `skipped`, `running`, or a severity)
/// as a coloured badge.
pub fn badge(word: &str) -> String {
    let class = match word {
        "succeeded" | "passed" => "ok",
        "failed" | "critical" | "high" => "bad",
        "medium" => "warn",
        "running" | "low" => "info",
        _ => "muted",
    };
    format!("<span class=\"badge {class}\">{}</span>", Esc(word))
}

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Runs,
    Images,
    Vulnerabilities,
    Search,
    None,
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;color:#1f2937;background:#f9fafb}\
header{background:#111827;color:#f9fafb;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}\
header a{color:#e5e7eb;text-decoration:none}header a.on{color:#fff;font-weight:600;border-bottom:2px solid #f59e0b}\
header .brand{font-weight:700;color:#f59e0b;margin-right:1rem}\
main{padding:1rem 1.2rem;max-width:84rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}\
th,td{border:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f3f4f6}\
td.num,th.num{text-align:right}.mono{font-family:ui-monospace,monospace;font-size:.85rem}\
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-size:.8rem}\
.ok{background:#dcfce7;color:#166534}.bad{background:#fee2e2;color:#991b1b}\
.warn{background:#fef3c7;color:#92400e}.info{background:#dbeafe;color:#1e40af}.muted{background:#f3f4f6;color:#4b5563}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}\
pre{background:#111827;color:#e5e7eb;padding:.6rem;overflow:auto;max-height:30rem;font-size:.8rem}\
form{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end}label{display:flex;flex-direction:column;font-size:.85rem}\
input{padding:.3rem;font-size:.95rem}.empty{color:#6b7280;font-style:italic}\
svg{background:#fff;border:1px solid #e5e7eb;max-width:100%;height:auto}";

/// A whole page: the layout with its navigation around `body` (already HTML).
pub fn page(title: &str, nav: Nav, body: &str) -> String {
    let item = |href: &str, label: &str, this: Nav| {
        format!(
            "<a href=\"{href}\"{}>{label}</a>",
            if nav == this { " class=\"on\"" } else { "" }
        )
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Kiln</title><style>{STYLE}</style></head><body>\
         <header><span class=\"brand\">Kiln</span>{}{}{}{}</header>\
         <main>{body}</main></body></html>\n",
        Esc(title),
        item("/", "Runs", Nav::Runs),
        item("/images", "Images", Nav::Images),
        item("/vulnerabilities", "Vulnerabilities", Nav::Vulnerabilities),
        item("/search", "Search", Nav::Search),
    )
}

/// A 200 page.
pub fn ok(title: &str, nav: Nav, body: &str) -> Response {
    Html(page(title, nav, body)).into_response()
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No such run or image: 404.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (a bad query or path value): 400.
    #[error("{0}")]
    BadRequest(String),
    /// The ledger failed: 500 (the details go to the log, not the page).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.clone()),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m.clone()),
            PageError::Ledger(e) => {
                tracing::error!(error = %e, "dashboard: the ledger could not be read");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Ledger error",
                    "The ledger could not be read; the server log has the details.".to_string(),
                )
            }
        };
        let body = format!(
            "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"/\">Back to the runs</a></p>",
            Esc(title),
            Esc(&message)
        );
        (status, Html(page(title, Nav::None, &body))).into_response()
    }
}

/// What every handler returns.
pub type PageResult = Result<Response, PageError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            Esc("<script>alert('x' & \"y\")</script>").to_string(),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(Esc("plain é text").to_string(), "plain é text");
        assert_eq!(Esc("").to_string(), "");
    }

    #[test]
    fn url_encodes_all_but_unreserved() {
        assert_eq!(Url("sha256:ab-C_.~").to_string(), "sha256:ab-C_.~");
        assert_eq!(
            Url("a b/\"<>&?#é").to_string(),
            "a%20b%2F%22%3C%3E%26%3F%23%C3%A9"
        );
    }

    #[test]
    fn formats_times_and_durations() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_999), "2023-11-14 22:13:20");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_340), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
        assert_eq!(duration(-1), "-");
    }

    #[test]
    fn shortens_digests() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(short_digest(&d), "sha256:abababababab");
        assert_eq!(short_digest("odd"), "odd");
        assert_eq!(short_digest("sha256:é"), "sha256:é");
        let odd = format!("sha256:a{}", "é".repeat(9));
        assert_eq!(short_digest(&odd), odd);
    }

    #[test]
    fn pages_escape_the_title_and_carry_no_script() {
        let p = page("<b>", Nav::Runs, "<p>x</p>");
        assert!(p.contains("<title>&lt;b&gt; · Kiln</title>"));
        assert!(p.contains("<a href=\"/\" class=\"on\">Runs</a>"));
        assert!(!p.to_ascii_lowercase().contains("<script"));
    }
}
