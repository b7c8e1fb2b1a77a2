//! The dashboard served by `kiln server`: server-rendered HTML over the evidence ledger,
//! without any JavaScript. [`router`] gives the pages:
//!
//! - `/`: runs, newest first; `/runs/{id}`: one run's stages, gate results and evidence
//!   (`runs`);
//! - `/images`: images with their signatures, attestations, SBOM and findings;
//!   `/images/{digest}`: one image's packages, findings by severity and admissions
//!   (`images`);
//! - `/vulnerabilities`: open findings by severity over time as an inline SVG chart
//!   (`chart`), findings per image, latest scans (`vulns`);
//! - `/search?package=NAME`, `/search?cve=ID`: which images contain a package, which are
//!   affected by a vulnerability (`search`).
//!
//! Every response carries a strict Content-Security-Policy (no scripts, inline styles and
//! `data:` images only) and `X-Content-Type-Options: nosniff`; an unknown page is a 404
//! page, a bad query a 400 page, a ledger failure a 500 page.

mod chart;
mod html;
mod images;
mod queries;
mod runs;
mod search;
mod vulns;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::ledger::Ledger;

/// The Content-Security-Policy of every dashboard response.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";

/// The dashboard's routes over `ledger`, with a 404 page for every other path. Mount it
/// at `/` (merge it into a router that has no fallback of its own).
pub fn router(ledger: Ledger) -> Router {
    Router::new()
        .route("/", get(runs::list))
        .route("/runs/{id}", get(runs::show))
        .route("/images", get(images::list))
        .route("/images/{digest}", get(images::show))
        .route("/vulnerabilities", get(vulns::page))
        .route("/search", get(search::page))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(ledger)
}

/// The page for a path the dashboard does not have.
async fn not_found() -> html::PageError {
    html::PageError::NotFound("There is no such page.".to_string())
}

/// Adds the security headers to a response.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}
