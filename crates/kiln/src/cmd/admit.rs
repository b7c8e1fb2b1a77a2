//! `kiln admit`: the Kubernetes admission webhook, and `kiln admit gen-certs`.
//!
//! Stable interface (the deployment files rely on it):
//!
//! ```text
//! kiln admit [serve] --policy FILE --tls-cert FILE --tls-key FILE [--listen ADDR]
//!     [--metrics-listen ADDR] [--budget 8s] [--exclude-namespace NS]...
//!     [--registry-credentials CONFIG.JSON] [--insecure-registry]
//!     [--kube-api URL|in-cluster] [--kube-token-file FILE] [--kube-ca-file FILE]
//!     [--cache-size N] [--cache-ttl 300s] [--tag-ttl 30s] [--registry-cache-bytes N]
//!     [--report-admitted URL] [--report-token-file FILE]
//!     [--reload-interval 5s]
//!     [--max-body-bytes 3145728] [--max-connections 1024] [--max-in-flight 128]
//!     [--max-buffered-bytes 8388608] [--queue-wait 1s] [--header-timeout 10s]
//!     [--body-timeout 5s] [--max-images 64]
//! kiln admit gen-certs --out DIR --host NAME [--host NAME]...
//! ```
//!
//! - `--listen` defaults to `0.0.0.0:8443` (HTTPS). Paths on it: `POST /validate`,
//!   `POST /mutate` (AdmissionReview `admission.k8s.io/v1`), `GET /healthz`, `GET /readyz`,
//!   `GET /metrics` (Prometheus text).
//! - `--metrics-listen ADDR` additionally serves `/healthz`, `/readyz`, `/metrics` over
//!   plain HTTP (for scrapers and probes that do not speak TLS).
//! - `--tls-cert`/`--tls-key` are PEM files, re-read every `--reload-interval` and swapped
//!   in when they change (a bad new pair is logged and the previous one kept). The policy
//!   file is watched the same way; a policy with errors is refused at start with its line
//!   number, and a reload with errors keeps the previous policy (shown on `/readyz`).
//! - `--budget` bounds each AdmissionReview (default 8 s, under Kubernetes' default webhook
//!   timeout of 10 s); a registry that does not answer in time gives a decision that
//!   follows the policy's mode (enforce: deny with a `timeout` reason).
//! - Limits under load: `--max-connections` (one more is closed at once), `--max-in-flight`
//!   AdmissionReviews decided at once with `--max-buffered-bytes` of bodies (a request that
//!   gets no slot within `--queue-wait` is answered 503 with Retry-After, which the API
//!   server treats per the webhook's `failurePolicy`), `--header-timeout` for the TLS
//!   handshake, request head and idle connections, `--body-timeout` (408), `--max-images`
//!   distinct images per object (more: denied).
//! - Caches: decisions by digest and policy version (`--cache-size` entries,
//!   `--cache-ttl`); tag → digest resolutions (`--tag-ttl`). Behind them, registry reads
//!   shared by all decisions: manifests and small blobs by digest (immutable; at most
//!   `--registry-cache-bytes`, 0 keeps none) and the `.sig`/`.att` tags and referrers
//!   lists for `--tag-ttl` (0 keeps none, so every decision reads them afresh).
//! - `--report-admitted URL` posts the images admitted (not dry runs) to a `kiln server`
//!   (`/api/v1/admitted`, bearer token from `--report-token-file`), in batches, off the
//!   request path; a server that is down costs nothing but a warning.
//! - `--exclude-namespace` (repeatable, default `kube-system`): objects there are admitted
//!   unchecked.
//! - `--kube-api` enables reading the pod's `imagePullSecrets` (`in-cluster` uses
//!   `KUBERNETES_SERVICE_HOST` and the service-account token and CA).
//! - `gen-certs` writes `ca.crt`, `ca.key`, `tls.crt`, `tls.key` and `ca-bundle.b64` (the
//!   `caBundle` of the webhook configurations, also printed on stdout). A host written
//!   `NAME.NAMESPACE` also gets `NAME.NAMESPACE.svc` and `NAME.NAMESPACE.svc.cluster.local`.
//!
//! Settings may also come from `KILN_ADMIT_*` environment variables (see `--help`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kiln_admit::cache::CacheOptions;
use kiln_admit::creds::{DockerConfig, KubeClient, KubeOptions, SERVICE_ACCOUNT_DIR};
use kiln_admit::tls::CertFiles;
use kiln_admit::{ServerConfig, WebhookOptions};
use kiln_oci::registry::RegistryOptions;
use kiln_policy::collect::{GateOptions, RegistryCacheOptions};

use crate::output::Global;

/// Arguments of `kiln admit`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
// Parsed once at start-up: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Serve the webhook (the same as `kiln admit` with these flags).
    Serve(ServeArgs),
    /// Generate a CA and a server certificate for a self-signed setup.
    GenCerts(GenCertsArgs),
}

/// A duration where `0` (or `0s`) means "never reuse".
fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim().trim_end_matches(['s', 'm']).trim_end_matches('m') == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 8s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("{s:?} must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The Kiln policy (kind: ImagePolicy).
    #[arg(long, value_name = "FILE", env = "KILN_ADMIT_POLICY")]
    policy: Option<PathBuf>,
    /// Server certificate chain (PEM).
    #[arg(long, value_name = "FILE", env = "KILN_ADMIT_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, value_name = "FILE", env = "KILN_ADMIT_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// HTTPS address.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:8443",
        env = "KILN_ADMIT_LISTEN"
    )]
    listen: SocketAddr,
    /// Also serve /healthz, /readyz and /metrics over plain HTTP here.
    #[arg(long, value_name = "ADDR", env = "KILN_ADMIT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Time budget of one AdmissionReview (keep it under the webhook's timeoutSeconds).
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_duration, env = "KILN_ADMIT_BUDGET")]
    budget: Duration,
    /// Namespace whose objects are admitted unchecked (repeatable).
    #[arg(long = "exclude-namespace", value_name = "NS", default_values_t = ["kube-system".to_string()])]
    exclude_namespaces: Vec<String>,
    /// Registry credentials in Docker config.json format (else the usual lookup:
    /// KILN_REGISTRY_USERNAME/PASSWORD, ~/.docker/config.json).
    #[arg(long, value_name = "FILE", env = "KILN_ADMIT_REGISTRY_CREDENTIALS")]
    registry_credentials: Option<PathBuf>,
    /// Allow plain HTTP to non-loopback registries.
    #[arg(long)]
    insecure_registry: bool,
    /// Kubernetes API for imagePullSecrets: a URL, or `in-cluster`.
    #[arg(long, value_name = "URL", env = "KILN_ADMIT_KUBE_API")]
    kube_api: Option<String>,
    /// Bearer token file for the Kubernetes API.
    #[arg(long, value_name = "FILE")]
    kube_token_file: Option<PathBuf>,
    /// CA bundle of the Kubernetes API.
    #[arg(long, value_name = "FILE")]
    kube_ca_file: Option<PathBuf>,
    /// Entries per cache (tag and decision caches).
    #[arg(long, default_value_t = 10_000)]
    cache_size: u64,
    /// How long a decision about a digest is reused.
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    cache_ttl: Duration,
    /// How long a tag → digest resolution is reused (also the signature and attestation
    /// tags and referrers lists read from registries; 0: always read afresh).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_or_zero)]
    tag_ttl: Duration,
    /// A Kiln server to report admitted images to (`POST URL/api/v1/admitted`), so its
    /// re-scans can name what runs in the cluster.
    #[arg(long, value_name = "URL", env = "KILN_ADMIT_REPORT_ADMITTED")]
    report_admitted: Option<String>,
    /// File holding the bearer token for `--report-admitted`.
    #[arg(long, value_name = "FILE", env = "KILN_ADMIT_REPORT_TOKEN_FILE")]
    report_token_file: Option<PathBuf>,
    /// Bytes of registry manifests and small blobs kept by digest across decisions
    /// (content-addressed, immutable); 0 keeps none.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    registry_cache_bytes: u64,
    /// How often certificate and policy files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    reload_interval: Duration,
    /// Largest AdmissionReview body accepted (413 above).
    #[arg(long, default_value_t = kiln_admit::server::DEFAULT_BODY_LIMIT)]
    max_body_bytes: usize,
    /// Open connections on the HTTPS port (one more is closed at once).
    #[arg(long, default_value_t = kiln_admit::server::Limits::default().max_connections)]
    max_connections: usize,
    /// AdmissionReviews read and decided at once.
    #[arg(long, default_value_t = kiln_admit::server::Limits::default().max_in_flight)]
    max_in_flight: usize,
    /// Bodies over 64 KiB held in memory at once, in bytes.
    #[arg(long, default_value_t = kiln_admit::server::Limits::default().max_buffered_bytes)]
    max_buffered_bytes: usize,
    /// How long a request waits for a slot before 503 (Retry-After).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    queue_wait: Duration,
    /// Time allowed for the TLS handshake and the request head; idle connections are
    /// closed after it.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Time allowed to receive a request body (408 after it).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// Distinct images in one object (more: denied).
    #[arg(long, default_value_t = kiln_admit::server::Limits::default().max_images)]
    max_images: usize,
}

#[derive(clap::Args)]
struct GenCertsArgs {
    /// Directory to write ca.crt, ca.key, tls.crt, tls.key and ca-bundle.b64 into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// DNS name or IP of the webhook service (repeatable); `NAME.NAMESPACE` also gets
    /// `.svc` and `.svc.cluster.local` names.
    #[arg(long = "host", value_name = "NAME", required = true)]
    hosts: Vec<String>,
}

/// Runs `kiln admit`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Command::GenCerts(a)) => gen_certs(a, global),
        Some(Command::Serve(a)) => serve(a, global).await,
        None => serve(args.serve, global).await,
    }
}

fn gen_certs(a: GenCertsArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let g = kiln_admit::certs::generate(&a.out, &a.hosts)?;
    global.say(format!(
        "Wrote {}, {}, {} and {} (SANs: {})",
        g.ca_cert.display(),
        g.cert.display(),
        g.key.display(),
        g.ca_bundle.display(),
        g.sans.join(", ")
    ));
    println!("{}", g.ca_bundle_b64);
    Ok(ExitCode::SUCCESS)
}

async fn serve(a: ServeArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let missing = |what: &str| anyhow::anyhow!("kiln admit needs {what}");
    let policy = a.policy.ok_or_else(|| missing("--policy FILE"))?;
    let cert = a.tls_cert.ok_or_else(|| missing("--tls-cert FILE"))?;
    let key = a.tls_key.ok_or_else(|| missing("--tls-key FILE"))?;
    let registry_credentials = match &a.registry_credentials {
        Some(p) => DockerConfig::load(p)?,
        None => DockerConfig::default(),
    };
    let kube = match a.kube_api.as_deref() {
        None => None,
        Some("in-cluster") => {
            let mut o = KubeOptions::in_cluster().context(
                "--kube-api in-cluster: KUBERNETES_SERVICE_HOST is not set (not in a pod?)",
            )?;
            if let Some(t) = a.kube_token_file.clone() {
                o.token_file = t;
            }
            if let Some(c) = a.kube_ca_file.clone() {
                o.ca_file = Some(c);
            }
            Some(KubeClient::new(o)?)
        }
        Some(url) => Some(KubeClient::new(KubeOptions {
            api: url.to_string(),
            token_file: a
                .kube_token_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR).join("token")),
            ca_file: a.kube_ca_file.clone(),
        })?),
    };
    let gate = GateOptions {
        registry: RegistryOptions {
            insecure: a.insecure_registry,
            ..RegistryOptions::default()
        },
        // The gate stops a little before the request budget so its own timeout reason
        // (naming what it was doing) is the one reported.
        budget: a.budget.mul_f64(0.9),
    };
    let config = ServerConfig {
        listen: a.listen,
        metrics_listen: a.metrics_listen,
        tls: CertFiles { cert, key },
        policy,
        factory: kiln_admit::gate::gate_factory_cached(
            gate,
            RegistryCacheOptions {
                tag_ttl: a.tag_ttl,
                max_bytes: a.registry_cache_bytes,
            },
        ),
        options: WebhookOptions {
            budget: a.budget,
            excluded_namespaces: a
                .exclude_namespaces
                .into_iter()
                .filter(|n| !n.is_empty())
                .collect(),
            cache: CacheOptions {
                capacity: a.cache_size,
                tag_ttl: a.tag_ttl,
                decision_ttl: a.cache_ttl,
            },
            registry_credentials,
            kube,
            limits: kiln_admit::server::Limits {
                max_connections: a.max_connections,
                max_in_flight: a.max_in_flight,
                max_buffered_bytes: a.max_buffered_bytes,
                queue_wait: a.queue_wait,
                header_timeout: a.header_timeout,
                body_timeout: a.body_timeout,
                max_images: a.max_images,
            },
        },
        reload_interval: a.reload_interval,
        body_limit: a.max_body_bytes,
    };
    let reporter = match &a.report_admitted {
        None => None,
        Some(url) => {
            let token = match &a.report_token_file {
                None => None,
                Some(f) => Some(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("--report-token-file {}", f.display()))?
                        .trim()
                        .to_string(),
                ),
            };
            Some(
                kiln_admit::report::Reporter::start(kiln_admit::report::ReportOptions {
                    server: url.clone(),
                    token,
                    timeout: Duration::from_secs(10),
                })
                .map_err(|e| anyhow::anyhow!("--report-admitted: {e}"))?,
            )
        }
    };
    let server = kiln_admit::start(config).await?;
    if let Some(r) = reporter {
        server.webhook().set_reporter(r);
    }
    let p = server.webhook().policy();
    global.say(format!(
        "kiln admit: serving https://{} (/validate, /mutate, /healthz, /readyz, /metrics){}; policy {} ({})",
        server.addr,
        server
            .metrics_addr
            .map(|m| format!(", plain-HTTP metrics on http://{m}"))
            .unwrap_or_default(),
        p.policy.source,
        p.version
    ));
    server.wait().await;
    Ok(ExitCode::SUCCESS)
}
