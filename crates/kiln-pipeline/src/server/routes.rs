//! The HTTP routes of `kiln server`:
//!
//! - `POST /hooks/github`, `/hooks/gitlab`, `/hooks/gitea`, `/hooks/git`: push webhooks
//!   ([`super::forge`]). Unknown repository 404, bad or missing signature 401 (logged
//!   without the secret), replayed delivery 409, queue full 503 with `Retry-After`, body
//!   over the limit 413, ping and other events 200, branch deletions and branches not
//!   built 200 with `"queued": false`; an accepted push 202
//!   `{"queued": true, "repository", "commit", "delivery"}`.
//! - `POST /api/v1/admitted` (Bearer token): `{"admitted":[{"image","digest","namespace"}]}`
//!   from the admission webhook, recorded in the ledger.
//! - `GET /healthz` (`{"status":"ok","queue":{…}}`), `GET /api/v1/runs?limit=N`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use super::config::{Forge, ServerConfig};
use super::forge::{self, EventKind};
use super::queue::{Job, Queue};
use crate::ledger::Ledger;

/// What the handlers share.
pub struct AppState {
    pub config: Arc<ServerConfig>,
    pub ledger: Ledger,
    pub queue: Arc<Queue>,
}

type Shared = Arc<AppState>;

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, json!({ "error": message.into() }))
}

fn now_secs() -> i64 {
    crate::ledger::now_ms() / 1000
}

/// The server's own routes (the dashboard is merged in by the caller).
pub fn router(state: Shared) -> Router {
    let limit = state.config.body_limit;
    let hooks = Router::new()
        .route(
            "/hooks/github",
            post(|s, h, b| hook(s, Forge::Github, h, b)),
        )
        .route(
            "/hooks/gitlab",
            post(|s, h, b| hook(s, Forge::Gitlab, h, b)),
        )
        .route("/hooks/gitea", post(|s, h, b| hook(s, Forge::Gitea, h, b)))
        .route("/hooks/git", post(|s, h, b| hook(s, Forge::Git, h, b)))
        .route("/api/v1/admitted", post(admitted))
        .layer(DefaultBodyLimit::max(limit));
    Router::new()
        .merge(hooks)
        .route("/healthz", get(healthz))
        .route("/api/v1/runs", get(runs))
        .with_state(state)
}

async fn hook(State(s): State<Shared>, forge: Forge, headers: HeaderMap, body: Bytes) -> Response {
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let event = forge::event_kind(forge, &headers);
    let names = forge::repository_names(forge, &payload);
    if names.is_empty() && event == EventKind::Ping {
        return reply(StatusCode::OK, json!({ "pong": true }));
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let Some(repo) = s
        .config
        .repository(&name_refs)
        .filter(|r| r.forges.contains(&forge))
    else {
        tracing::warn!(forge = forge.name(), repository = ?names.first(), "webhook for an unknown repository");
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no repository {:?} is configured for {} webhooks",
                names.first().map(String::as_str).unwrap_or(""),
                forge.name()
            ),
        );
    };
    if let Err(e) = forge::verify(forge, repo, &headers, &body, now_secs()) {
        tracing::warn!(
            forge = forge.name(),
            repository = %repo.name,
            delivery = ?forge::delivery_id(forge, &headers, &payload),
            "webhook refused: {e}"
        );
        return error(StatusCode::UNAUTHORIZED, format!("signature refused: {e}"));
    }
    match event {
        EventKind::Ping => return reply(StatusCode::OK, json!({ "pong": true })),
        EventKind::Other(kind) => {
            return reply(
                StatusCode::OK,
                json!({ "queued": false, "reason": format!("event {kind:?} is not a push") }),
            );
        }
        EventKind::Push => {}
    }
    let Some(delivery) = forge::delivery_id(forge, &headers, &payload) else {
        return error(StatusCode::BAD_REQUEST, "the push has no delivery id");
    };
    let push = match forge::parse_push(&payload) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let ignored = |reason: String| {
        reply(
            StatusCode::OK,
            json!({ "queued": false, "repository": repo.name, "reason": reason }),
        )
    };
    if push.deleted {
        return ignored(format!("{} was deleted", push.git_ref));
    }
    if !repo.builds_ref(&push.git_ref) {
        return ignored(format!(
            "{} is not a branch this server builds",
            push.git_ref
        ));
    }
    let id = format!("{}:{delivery}", forge.name());
    match s
        .ledger
        .record_delivery(&id, &repo.name, Some(&push.after))
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(forge = forge.name(), repository = %repo.name, %delivery, "replayed delivery refused");
            return error(
                StatusCode::CONFLICT,
                format!("delivery {delivery} was already received"),
            );
        }
        Err(e) => {
            tracing::error!("recording delivery {id}: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the ledger is unavailable",
            );
        }
    }
    let Some(place) = s.queue.reserve() else {
        // Forget it so the forge's redelivery is accepted later.
        if let Err(e) = s.ledger.forget_delivery(&id).await {
            tracing::error!("forgetting delivery {id}: {e}");
        }
        tracing::warn!(repository = %repo.name, commit = %push.after, "queue full: push refused");
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} runs are already queued", s.config.max_queued),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    };
    s.queue.submit(
        place,
        Job {
            repository: repo.name.clone(),
            commit: push.after.clone(),
            git_ref: push.git_ref.clone(),
            delivery: id,
        },
    );
    tracing::info!(forge = forge.name(), repository = %repo.name, commit = %push.after, %delivery, "push queued");
    reply(
        StatusCode::ACCEPTED,
        json!({
            "queued": true,
            "repository": repo.name,
            "commit": push.after,
            "delivery": delivery,
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Admitted {
    admitted: Vec<AdmittedImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdmittedImage {
    image: String,
    digest: String,
    namespace: String,
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn admitted(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = &s.config.admission_token else {
        return error(
            StatusCode::NOT_FOUND,
            "admission reports are not enabled (no admission_token)",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.expose())) {
        tracing::warn!("admission report refused: bad or missing bearer token");
        return error(StatusCode::UNAUTHORIZED, "bad or missing bearer token");
    }
    let report: Admitted = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("admission report: {e}")),
    };
    if let Some(bad) = report.admitted.iter().find(|a| !is_digest(&a.digest)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{:?} is not a sha256:<64 hex> digest", bad.digest),
        );
    }
    for a in &report.admitted {
        if let Err(e) = s
            .ledger
            .record_admission(&a.image, &a.digest, &a.namespace)
            .await
        {
            tracing::error!("recording admission of {}: {e}", a.digest);
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the ledger is unavailable",
            );
        }
    }
    reply(StatusCode::OK, json!({ "recorded": report.admitted.len() }))
}

async fn healthz(State(s): State<Shared>) -> Response {
    reply(
        StatusCode::OK,
        json!({ "status": "ok", "queue": s.queue.status() }),
    )
}

#[derive(Deserialize)]
struct RunsQuery {
    limit: Option<u32>,
}

async fn runs(State(s): State<Shared>, Query(q): Query<RunsQuery>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    match s.ledger.runs(limit).await {
        Ok(runs) => reply(StatusCode::OK, json!({ "runs": runs })),
        Err(e) => {
            tracing::error!("listing runs: {e}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the ledger is unavailable",
            )
        }
    }
}
