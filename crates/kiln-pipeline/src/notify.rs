//! Notifications: a POST to the webhook `notifications.webhook` names, for each finished
//! run (`"kind": "kiln.run"`) and for each re-scan that found something new
//! (`"kind": "kiln.rescan"`). The body is Kiln's JSON document (`format: json`, the
//! default; documented in `docs/notifications.md`) or a Slack-compatible message
//! (`format: slack`: `{"text": …, "blocks": […]}` in mrkdwn, for Slack incoming webhooks
//! and the chat tools that accept their form).
//!
//! Delivery: a 10-second timeout per attempt, one retry (after half a second) on a 5xx
//! answer or a connection failure; any other failure is returned for the caller to
//! report, never to stop a run. The webhook URL may carry a token (Slack's do), so
//! messages show only its scheme and host. Documents hold no secrets: digests, image
//! references, package and advisory ids, stage summaries (the secrets stage's are
//! redacted).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::rescan::RescanReport;
use crate::run::{RunReport, StageStatus};

/// The version of the JSON documents.
pub const DOCUMENT_VERSION: u32 = 1;

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The pause before the retry.
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// Slack's limit on a section's text.
const SLACK_SECTION_MAX: usize = 2900;
/// Slack's limit on blocks per message, less the header and context blocks.
const SLACK_MAX_SECTIONS: usize = 45;

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyFormat {
    /// Kiln's JSON document.
    #[default]
    Json,
    /// A Slack-compatible message.
    Slack,
}

impl std::str::FromStr for NotifyFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(NotifyFormat::Json),
            "slack" => Ok(NotifyFormat::Slack),
            _ => Err(format!("unknown notification format {s:?} (json, slack)")),
        }
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook URL is not an http(s) URL.
    #[error("notification webhook {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The receiver could not be reached, or answered with an error.
    #[error("notification to {url} failed: {reason}")]
    Delivery { url: String, reason: String },
}

/// A webhook to notify.
#[derive(Debug, Clone)]
pub struct Notifier {
    url: reqwest::Url,
    format: NotifyFormat,
    client: reqwest::Client,
}

/// `scheme://host[:port]/…` of a URL: what messages may show of it.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}/…", u.scheme()),
            (Some(h), None) => format!("{}://{h}/…", u.scheme()),
            _ => format!("{}:…", u.scheme()),
        },
        Err(_) => "(an unparsable URL)".to_string(),
    }
}

impl Notifier {
    /// A notifier for `url` (http or https) sending `format`.
    pub fn new(url: &str, format: NotifyFormat) -> Result<Notifier, NotifyError> {
        let bad = |reason: &str| NotifyError::BadUrl {
            url: shown_url(url),
            reason: reason.to_string(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad("expected an http:// or https:// URL with a host"));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Notifier {
            url: parsed,
            format,
            client,
        })
    }

    /// The format sent.
    pub fn format(&self) -> NotifyFormat {
        self.format
    }

    /// Sends the re-scan notification when some image has new findings; returns whether
    /// one was sent.
    pub async fn rescan(&self, report: &RescanReport) -> Result<bool, NotifyError> {
        if report.new_findings == 0 {
            return Ok(false);
        }
        let body = match self.format {
            NotifyFormat::Json => rescan_document(report),
            NotifyFormat::Slack => rescan_slack(report),
        };
        self.post(&body).await.map(|()| true)
    }

    /// Sends the notification of a finished run of `repository`.
    pub async fn run(&self, repository: &str, report: &RunReport) -> Result<(), NotifyError> {
        let body = match self.format {
            NotifyFormat::Json => run_document(repository, report),
            NotifyFormat::Slack => run_slack(repository, report),
        };
        self.post(&body).await
    }

    /// POSTs `body`, retrying once on a 5xx answer or a connection failure.
    pub async fn post(&self, body: &Value) -> Result<(), NotifyError> {
        let bytes = serde_json::to_vec(body).map_err(|e| self.failed(e.to_string()))?;
        let mut retried = false;
        loop {
            let sent = self
                .client
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone())
                .send()
                .await;
            let (retry, reason) = match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => (
                    r.status().is_server_error(),
                    format!("the receiver answered {}", r.status()),
                ),
                // Without the URL: reqwest's message names it, token and all.
                Err(e) => (true, describe(&e.without_url())),
            };
            if !retry || retried {
                return Err(self.failed(if retried {
                    format!("{reason} (after one retry)")
                } else {
                    reason
                }));
            }
            retried = true;
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    fn failed(&self, reason: String) -> NotifyError {
        NotifyError::Delivery {
            url: shown_url(self.url.as_str()),
            reason,
        }
    }
}

/// A reqwest error with its causes.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        format!("timed out after {}s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn now_rfc3339() -> String {
    kiln_oci::time::rfc3339(crate::ledger::now_ms() / 1000)
}

/// The `kiln.rescan` JSON document: the images with new findings.
pub fn rescan_document(report: &RescanReport) -> Value {
    let images: Vec<Value> = report
        .with_new()
        .map(|i| {
            json!({
                "digest": i.image_digest,
                "references": i.references,
                "admitted": i.admitted.iter().map(|a| json!({
                    "image": a.image,
                    "namespace": a.namespace,
                    "first_admitted": kiln_oci::time::rfc3339(a.first_admitted / 1000),
                    "last_admitted": kiln_oci::time::rfc3339(a.last_admitted / 1000),
                    "admissions": a.admissions,
                })).collect::<Vec<_>>(),
                "run_id": i.run_id,
                "findings": i.findings,
                "new_findings": i.new.iter().map(|f| json!({
                    "id": f.vuln_id,
                    "aliases": f.aliases,
                    "package": f.package,
                    "version": f.version,
                    "purl": f.purl,
                    "severity": f.severity,
                    "fixed_version": f.fixed_version,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "kind": "kiln.rescan",
        "version": DOCUMENT_VERSION,
        "sent_at": now_rfc3339(),
        "database": { "path": report.database, "built": report.db_built },
        "images_scanned": report.images_scanned,
        "new_findings": report.new_findings,
        "images": images,
    })
}

/// The `kiln.run` JSON document.
pub fn run_document(repository: &str, report: &RunReport) -> Value {
    json!({
        "kind": "kiln.run",
        "version": DOCUMENT_VERSION,
        "sent_at": now_rfc3339(),
        "repository": repository,
        "run_id": report.run_id,
        "status": report.status,
        "image": report.image,
        "digest": report.digest,
        "published": report.published,
        "failed_stage": report.failed_stage,
        "reason": report.reason,
        "duration_ms": report.duration_ms,
        "stages": report.stages.iter().map(|s| json!({
            "name": s.name,
            "status": s.status,
            "duration_ms": s.duration_ms,
            "summary": s.summary,
        })).collect::<Vec<_>>(),
    })
}

/// Escapes the three characters Slack's mrkdwn reserves.
pub fn mrkdwn_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(text, SLACK_SECTION_MAX) } })
}

/// The Slack form of a re-scan notification.
pub fn rescan_slack(report: &RescanReport) -> Value {
    let affected = report.with_new().count();
    let text = format!(
        "Kiln re-scan: {} new finding(s) in {affected} image(s)",
        report.new_findings
    );
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": clip(&text, 150) }
    })];
    let images: Vec<_> = report.with_new().collect();
    for (n, i) in images.iter().enumerate() {
        if n == SLACK_MAX_SECTIONS {
            blocks.push(section(&format!(
                "…and {} more image(s); see `kiln rescan --format json`",
                images.len() - n
            )));
            break;
        }
        let mut s = format!("*{}*", mrkdwn_escape(&i.image_digest));
        if !i.references.is_empty() {
            let refs: Vec<String> = i
                .references
                .iter()
                .map(|r| format!("`{}`", mrkdwn_escape(r)))
                .collect();
            s.push_str(&format!("\n{}", refs.join(", ")));
        }
        if !i.admitted.is_empty() {
            let at: Vec<String> = i
                .admitted
                .iter()
                .map(|a| {
                    format!(
                        "`{}` in `{}`",
                        mrkdwn_escape(&a.image),
                        mrkdwn_escape(&a.namespace)
                    )
                })
                .collect();
            s.push_str(&format!("\n:warning: admitted: {}", at.join(", ")));
        }
        for f in &i.new {
            s.push_str(&format!(
                "\n• *{}* {} {} `{}@{}`{}",
                mrkdwn_escape(&f.severity),
                mrkdwn_escape(&f.vuln_id),
                if f.aliases.is_empty() {
                    String::new()
                } else {
                    format!("({})", mrkdwn_escape(&f.aliases.join(", ")))
                },
                mrkdwn_escape(&f.package),
                mrkdwn_escape(&f.version),
                f.fixed_version
                    .as_deref()
                    .map(|v| format!(", fixed in {}", mrkdwn_escape(v)))
                    .unwrap_or_default()
            ));
        }
        blocks.push(section(&s));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": clip(&format!(
            "{} image(s) scanned against {}{}",
            report.images_scanned,
            mrkdwn_escape(&report.database),
            report.db_built.as_deref().map(|b| format!(" (data of {b})")).unwrap_or_default()
        ), SLACK_SECTION_MAX) }]
    }));
    json!({ "text": text, "blocks": blocks })
}

/// The Slack form of a run notification.
pub fn run_slack(repository: &str, report: &RunReport) -> Value {
    let outcome = match (report.status, report.failed_stage) {
        (crate::run::RunStatus::Succeeded, _) => "succeeded".to_string(),
        (_, Some(stage)) => format!("stopped at {stage}"),
        (_, None) => "failed".to_string(),
    };
    let text = format!("Kiln run {} {outcome}: {repository}", report.run_id);
    let mut s = String::new();
    if let (Some(image), Some(digest)) = (&report.image, &report.digest) {
        s.push_str(&format!(
            "`{}`\n`{}`\n",
            mrkdwn_escape(image),
            mrkdwn_escape(digest)
        ));
    }
    if let Some(p) = &report.published {
        s.push_str(&format!("pushed to `{}`\n", mrkdwn_escape(p)));
    }
    if let Some(reason) = &report.reason {
        s.push_str(&format!("*reason:* {}\n", mrkdwn_escape(reason)));
    }
    for st in &report.stages {
        let mark = match st.status {
            StageStatus::Passed => ":white_check_mark:",
            StageStatus::Failed | StageStatus::Error => ":x:",
            StageStatus::Skipped | StageStatus::NotRun => ":heavy_minus_sign:",
        };
        s.push_str(&format!(
            "{mark} *{}* {}\n",
            st.name,
            mrkdwn_escape(&st.summary)
        ));
    }
    json!({
        "text": text,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": clip(&text, 150) } },
            section(s.trim_end()),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::FindingRow;
    use crate::rescan::ImageRescan;

    fn report() -> RescanReport {
        let finding = FindingRow {
            image_digest: format!("sha256:{}", "a".repeat(64)),
            vuln_id: "GHSA-35jh-r3h4-6jhm".into(),
            aliases: vec!["CVE-2021-23337".into()],
            purl: "pkg:npm/lodash@4.17.19".into(),
            package: "lodash".into(),
            version: "4.17.19".into(),
            severity: "high".into(),
            fixed_version: Some("4.17.21".into()),
            first_seen: 1,
            last_seen: 1,
            source: "rescan:x".into(),
        };
        let image = |digest: String, new: Vec<FindingRow>| ImageRescan {
            image_digest: digest,
            run_id: "r".into(),
            scan_id: "s".into(),
            references: vec!["oci:/p/<x>:1".into()],
            admitted: Vec::new(),
            packages: 3,
            findings: new.len(),
            new,
        };
        RescanReport {
            database: "/db".into(),
            db_built: None,
            started_at: 0,
            images_scanned: 2,
            new_findings: 1,
            images: vec![
                image(finding.image_digest.clone(), vec![finding]),
                image(format!("sha256:{}", "b".repeat(64)), Vec::new()),
            ],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn rescan_document_names_only_images_with_new_findings() {
        let d = rescan_document(&report());
        assert_eq!(d["kind"], "kiln.rescan");
        assert_eq!(d["images"].as_array().unwrap().len(), 1);
        assert_eq!(d["images"][0]["new_findings"][0]["package"], "lodash");
        assert_eq!(
            d["images"][0]["new_findings"][0]["aliases"][0],
            "CVE-2021-23337"
        );
    }

    #[test]
    fn slack_form_escapes_and_limits() {
        let s = rescan_slack(&report());
        assert!(s["text"].as_str().unwrap().contains("1 new finding"));
        let body = s["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(body.contains("GHSA-35jh-r3h4-6jhm"), "{body}");
        assert!(
            body.contains("&lt;x&gt;") && !body.contains("<x>"),
            "{body}"
        );
        assert_eq!(s["blocks"][1]["text"]["type"], "mrkdwn");
        assert_eq!(clip(&"é".repeat(10), 5), "é…");
    }

    #[test]
    fn urls_are_checked_and_never_shown_whole() {
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        assert_eq!(shown_url(secret), "https://hooks.slack.com/…");
        assert!(Notifier::new("ftp://x/y", NotifyFormat::Json).is_err());
        let err = Notifier::new("not a url", NotifyFormat::Json).unwrap_err();
        assert!(!err.to_string().contains("not a url"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_receiver_is_an_error_naming_only_the_host() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let n = Notifier::new(
            &format!("http://127.0.0.1:{port}/hook/s3cret"),
            NotifyFormat::Json,
        )
        .unwrap();
        let err = n.post(&json!({})).await.unwrap_err().to_string();
        assert!(err.contains("after one retry"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
