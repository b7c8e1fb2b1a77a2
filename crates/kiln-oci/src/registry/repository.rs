//! [`RegistryStore`]: the distribution API of one repository.
//!
//! Token requests go through `oci-client` (see [`super::auth`]); the content requests
//! are made here with `reqwest` (the same HTTP stack oci-client uses, with the same
//! `Authorization` header) because Kiln needs what oci-client's calls hide: the status
//! code and `Retry-After` of each answer to decide on a retry, HEAD checks, the
//! `OCI-Subject` header of a manifest PUT, a 404 from the referrers endpoint to fall
//! back to the referrers tag schema, and the exact bytes of each manifest and blob,
//! read with a size limit and checked against the digest before anything is returned.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::auth::{Authenticator, Credentials, Scope};
use super::retry::{Failure, RetryPolicy, parse_retry_after};
use super::{RegistryOptions, is_loopback};
use crate::digest::Digest;
use crate::error::{OciError, Result};
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES, Manifest, ManifestKind};
use crate::media_type;
use crate::store::{self, ImageStore};

/// The manifest media types Kiln asks for.
const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";
/// The largest tag list page read.
const MAX_TAG_LIST_BYTES: usize = 16 * 1024 * 1024;
/// How much of an error body is quoted in an error.
const MAX_ERROR_BODY: usize = 512;
/// The most pages followed through `Link` headers.
const MAX_PAGES: usize = 1000;

/// One repository of a distribution registry.
pub struct RegistryStore {
    registry: String,
    repository: String,
    base: String,
    http: reqwest::Client,
    auth: Authenticator,
    retry: RetryPolicy,
}

impl std::fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryStore")
            .field("base", &self.base)
            .field("repository", &self.repository)
            .finish()
    }
}

fn registry_err(registry: &str, message: impl Into<String>) -> OciError {
    OciError::Registry {
        registry: registry.to_string(),
        message: message.into(),
    }
}

/// A transport error as an attempt failure: transient unless the request itself was bad.
fn transport(e: reqwest::Error, registry: &str, op: &str) -> Failure {
    if e.is_builder() {
        return Failure::Fatal(registry_err(registry, format!("{op}: {e}")));
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    Failure::Transient {
        reason,
        retry_after: None,
    }
}

/// Percent-encodes a query value.
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.replace(' ', "").contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        Some(target.to_string())
    })
}

/// The process-wide HTTP client: built once (loading the TLS trust roots is the costly
/// part), cloned into every store (a cheap handle), so connections to a registry are
/// pooled and kept alive across stores. The admission webhook opens a store per decision;
/// with one client per store each decision paid for a TLS set-up and new connections.
fn shared_client() -> std::result::Result<reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<std::result::Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
}

impl RegistryStore {
    /// A client for `registry/repository`. Credentials are `options.credentials`, else
    /// looked up ([`Credentials::lookup`]). Plain HTTP for loopback registries or when
    /// `options.insecure`; `docker.io` is reached at `registry-1.docker.io`.
    pub fn new(registry: &str, repository: &str, options: &RegistryOptions) -> Result<Self> {
        let credentials = match &options.credentials {
            Some(c) => c.clone(),
            None => Credentials::lookup(registry)?,
        };
        let plain_http = options.insecure || is_loopback(registry);
        let host = if registry == crate::reference::DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            registry
        };
        let base = format!("{}://{host}", if plain_http { "http" } else { "https" });
        let http = shared_client()
            .map_err(|e| registry_err(registry, format!("cannot set up HTTP client: {e}")))?;
        Ok(RegistryStore {
            auth: Authenticator::new(host, repository, plain_http, credentials),
            registry: registry.to_string(),
            repository: repository.to_string(),
            base,
            http,
            retry: options.retry.clone(),
        })
    }

    /// The registry (`host[:port]`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository within the registry.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.repository)
    }

    /// An absolute URL for a `Location` or `Link` target, which may be relative.
    fn absolute(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else if target.starts_with('/') {
            format!("{}{target}", self.base)
        } else {
            format!("{}/{target}", self.base)
        }
    }

    fn err(&self, message: impl Into<String>) -> OciError {
        registry_err(&self.registry, message)
    }

    /// Sends one request with the current authorization, answering a 401 challenge
    /// once. 429, 408 and 5xx answers and transport errors are transient failures.
    async fn exec(
        &self,
        scope: Scope,
        op: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> std::result::Result<Response, Failure> {
        let with_auth = |h: Option<reqwest::header::HeaderValue>| match h {
            Some(h) => make().header(header::AUTHORIZATION, h),
            None => make(),
        };
        let mut resp = with_auth(self.auth.cached(scope))
            .send()
            .await
            .map_err(|e| transport(e, &self.registry, op))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let h = self.auth.authenticate(scope, challenge.as_deref()).await?;
            resp = with_auth(Some(h))
                .send()
                .await
                .map_err(|e| transport(e, &self.registry, op))?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                return Err(Failure::Fatal(self.err(format!(
                    "{op}: the credentials were refused (401 after authentication)"
                ))));
            }
        }
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Err(Failure::Transient {
                reason: format!("HTTP {status}"),
                retry_after,
            });
        }
        Ok(resp)
    }

    /// An unexpected answer as a final error quoting the start of the body.
    async fn unexpected(&self, op: &str, resp: Response) -> Failure {
        let status = resp.status();
        let mut body = resp.text().await.unwrap_or_default();
        if body.len() > MAX_ERROR_BODY {
            let mut cut = MAX_ERROR_BODY;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        Failure::Fatal(self.err(format!("{op}: HTTP {status}: {}", body.trim())))
    }

    /// Reads a body of at most `limit` bytes. A dropped connection is transient.
    async fn read_body(
        &self,
        mut resp: Response,
        limit: u64,
        what: &str,
    ) -> std::result::Result<Vec<u8>, Failure> {
        if let Some(len) = resp.content_length()
            && len > limit
        {
            return Err(Failure::Fatal(OciError::TooLarge {
                what: what.to_string(),
                size: len,
                limit,
            }));
        }
        let mut buf = Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit) as usize);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() as u64 + chunk.len() as u64 > limit {
                        return Err(Failure::Fatal(OciError::TooLarge {
                            what: what.to_string(),
                            size: buf.len() as u64 + chunk.len() as u64,
                            limit,
                        }));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(buf),
                Err(e) => {
                    let reason = match transport(e, &self.registry, what) {
                        Failure::Transient { reason, .. } => reason,
                        Failure::Fatal(e) => e.to_string(),
                    };
                    return Err(Failure::Transient {
                        reason: format!(
                            "connection dropped after {} bytes of {what}: {reason}",
                            buf.len()
                        ),
                        retry_after: None,
                    });
                }
            }
        }
    }

    /// The `Docker-Content-Digest` header, if present and valid.
    fn content_digest(&self, headers: &HeaderMap, what: &str) -> Result<Option<Digest>> {
        match headers.get("docker-content-digest") {
            None => Ok(None),
            Some(v) => {
                let s = v.to_str().map_err(|_| {
                    OciError::malformed(what, "Docker-Content-Digest header is not text")
                })?;
                Digest::parse(s).map(Some)
            }
        }
    }

    /// Tries to mount `digest` from `from` (another repository of this registry):
    /// `true` when the registry mounted it, `false` when it did not (the caller then
    /// uploads the blob).
    pub async fn mount(&self, digest: &Digest, from: &str) -> Result<bool> {
        let op = format!("mount blob {digest} from {from} into {}", self.repository);
        let url = format!(
            "{}?mount={}&from={}",
            self.url("blobs/uploads/"),
            query_escape(&digest.to_string()),
            query_escape(from)
        );
        self.retry
            .run(&self.registry, &op, || async {
                let resp = self
                    .exec(Scope::Push, &op, || {
                        self.http.post(&url).header(header::CONTENT_LENGTH, 0)
                    })
                    .await?;
                match resp.status() {
                    StatusCode::CREATED => Ok(true),
                    // The registry opened an upload session instead; it expires unused.
                    StatusCode::ACCEPTED => Ok(false),
                    _ => Err(self.unexpected(&op, resp).await),
                }
            })
            .await
    }

    /// Puts `manifest` under `reference` (its digest or a tag); returns whether the
    /// answer carried `OCI-Subject` (the registry handles referrers itself).
    async fn put_manifest(&self, manifest: &Manifest, reference: &str) -> Result<bool> {
        let op = format!("PUT manifest {}:{reference}", self.repository);
        self.retry
            .run(&self.registry, &op, || async {
                let resp = self
                    .exec(Scope::Push, &op, || {
                        self.http
                            .put(self.url(&format!("manifests/{reference}")))
                            .header(header::CONTENT_TYPE, &manifest.media_type)
                            .body(manifest.bytes.clone())
                    })
                    .await?;
                if resp.status() != StatusCode::CREATED && resp.status() != StatusCode::OK {
                    return Err(self.unexpected(&op, resp).await);
                }
                if let Some(d) = self.content_digest(resp.headers(), &op)?
                    && d.algorithm() == manifest.digest.algorithm()
                    && d != manifest.digest
                {
                    return Err(Failure::Fatal(OciError::DigestMismatch {
                        what: format!("manifest stored by {op}"),
                        expected: manifest.digest.to_string(),
                        actual: d.to_string(),
                    }));
                }
                Ok(resp.headers().contains_key("oci-subject"))
            })
            .await
    }

    /// GETs a JSON document, following `Link` pages; 404 gives `None`.
    async fn get_pages(
        &self,
        op: &str,
        first: String,
        accept: &str,
        limit: usize,
    ) -> Result<Option<Vec<(HeaderMap, Vec<u8>)>>> {
        let mut pages = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if pages.len() >= MAX_PAGES {
                return Err(self.err(format!("{op}: more than {MAX_PAGES} pages")));
            }
            let page = self
                .retry
                .run(&self.registry, op, || async {
                    let resp = self
                        .exec(Scope::Pull, op, || {
                            self.http.get(&url).header(header::ACCEPT, accept)
                        })
                        .await?;
                    match resp.status() {
                        StatusCode::OK => {}
                        StatusCode::NOT_FOUND => return Ok(None),
                        _ => return Err(self.unexpected(op, resp).await),
                    }
                    let headers = resp.headers().clone();
                    let body = self.read_body(resp, limit as u64, op).await?;
                    Ok(Some((headers, body)))
                })
                .await?;
            let Some((headers, body)) = page else {
                if pages.is_empty() {
                    return Ok(None);
                }
                return Err(self.err(format!("{op}: a next page {url} is missing")));
            };
            next = next_link(&headers).map(|t| self.absolute(&t));
            pages.push((headers, body));
        }
        Ok(Some(pages))
    }
}

#[async_trait]
impl ImageStore for RegistryStore {
    fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    async fn resolve(&self, selector: &str) -> Result<Manifest> {
        let by_digest = if selector.contains(':') {
            Some(Digest::parse(selector)?)
        } else {
            None
        };
        let sep = if by_digest.is_some() { '@' } else { ':' };
        let what = format!(
            "manifest {}/{}{sep}{selector}",
            self.registry, self.repository
        );
        let op = format!("GET {what}");
        let url = self.url(&format!("manifests/{selector}"));
        let fetched = self
            .retry
            .run(&self.registry, &op, || async {
                let resp = self
                    .exec(Scope::Pull, &op, || {
                        self.http.get(&url).header(header::ACCEPT, ACCEPT_MANIFESTS)
                    })
                    .await?;
                match resp.status() {
                    StatusCode::OK => {}
                    StatusCode::NOT_FOUND => {
                        return Err(Failure::Fatal(OciError::NotFound(what.clone())));
                    }
                    _ => return Err(self.unexpected(&op, resp).await),
                }
                let content_type = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let header_digest = self.content_digest(resp.headers(), &what)?;
                let bytes = self
                    .read_body(resp, MAX_MANIFEST_BYTES as u64, &what)
                    .await?;
                Ok((bytes, content_type, header_digest))
            })
            .await?;
        let (bytes, content_type, header_digest) = fetched;
        match (&by_digest, &header_digest) {
            (Some(d), _) => d.verify(&bytes, &what)?,
            (None, Some(d)) => d.verify(&bytes, &what)?,
            (None, None) => {}
        }
        let manifest = Manifest::parse(bytes, content_type.as_deref(), &what)?;
        Ok(manifest)
    }

    async fn fetch_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>> {
        let digest = &descriptor.digest;
        let what = format!("blob {digest} of {}/{}", self.registry, self.repository);
        let op = format!("GET {what}");
        let url = self.url(&format!("blobs/{digest}"));
        let data = self
            .retry
            .run(&self.registry, &op, || async {
                let resp = self.exec(Scope::Pull, &op, || self.http.get(&url)).await?;
                match resp.status() {
                    StatusCode::OK => {}
                    StatusCode::NOT_FOUND => {
                        return Err(Failure::Fatal(OciError::NotFound(what.clone())));
                    }
                    _ => return Err(self.unexpected(&op, resp).await),
                }
                match self.read_body(resp, descriptor.size, &what).await {
                    Err(Failure::Fatal(OciError::TooLarge { size, .. })) => {
                        Err(Failure::Fatal(OciError::SizeMismatch {
                            what: what.clone(),
                            expected: descriptor.size,
                            actual: size,
                        }))
                    }
                    other => other,
                }
            })
            .await?;
        if data.len() as u64 != descriptor.size {
            return Err(OciError::SizeMismatch {
                what,
                expected: descriptor.size,
                actual: data.len() as u64,
            });
        }
        digest.verify(&data, &what)?;
        Ok(data)
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let op = format!("HEAD blob {digest} in {}", self.repository);
        let url = self.url(&format!("blobs/{digest}"));
        self.retry
            .run(&self.registry, &op, || async {
                let resp = self
                    .exec(Scope::Pull, &op, || self.http.request(Method::HEAD, &url))
                    .await?;
                match resp.status() {
                    StatusCode::OK => Ok(true),
                    StatusCode::NOT_FOUND => Ok(false),
                    _ => Err(self.unexpected(&op, resp).await),
                }
            })
            .await
    }

    async fn push_blob(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        digest.verify(data, &format!("blob {digest} to push"))?;
        if self.has_blob(digest).await? {
            return Ok(());
        }
        let op = format!("upload blob {digest} to {}", self.repository);
        let body = bytes::Bytes::copy_from_slice(data);
        self.retry
            .run(&self.registry, &op, || async {
                let resp = self
                    .exec(Scope::Push, &op, || {
                        self.http
                            .post(self.url("blobs/uploads/"))
                            .header(header::CONTENT_LENGTH, 0)
                    })
                    .await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(self.unexpected(&op, resp).await);
                }
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| self.err(format!("{op}: the upload answer has no Location")))?;
                let location = self.absolute(location);
                let sep = if location.contains('?') { '&' } else { '?' };
                let put_url = format!(
                    "{location}{sep}digest={}",
                    query_escape(&digest.to_string())
                );
                let resp = self
                    .exec(Scope::Push, &op, || {
                        self.http
                            .put(&put_url)
                            .header(header::CONTENT_TYPE, "application/octet-stream")
                            .body(body.clone())
                    })
                    .await?;
                if resp.status() != StatusCode::CREATED {
                    return Err(self.unexpected(&op, resp).await);
                }
                Ok(())
            })
            .await
    }

    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<()> {
        manifest.digest.verify(
            &manifest.bytes,
            &format!("manifest {} to push", manifest.digest),
        )?;
        let mut handled = self
            .put_manifest(manifest, &manifest.digest.to_string())
            .await?;
        if let Some(tag) = tag {
            handled |= self.put_manifest(manifest, tag).await?;
        }
        if let Some(subject) = manifest.subject()
            && !handled
        {
            store::add_to_referrers_tag(self, &subject.digest, manifest.descriptor()).await?;
        }
        Ok(())
    }

    async fn tags(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let op = format!("GET tags of {}/{}", self.registry, self.repository);
        let pages = self
            .get_pages(
                &op,
                self.url("tags/list?n=1000"),
                "application/json",
                MAX_TAG_LIST_BYTES,
            )
            .await?
            .ok_or_else(|| {
                OciError::NotFound(format!("repository {}/{}", self.registry, self.repository))
            })?;
        let mut tags = Vec::new();
        for (_, body) in pages {
            let list: TagList =
                serde_json::from_slice(&body).map_err(|e| OciError::malformed(&op, e))?;
            tags.extend(list.tags.unwrap_or_default());
        }
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let op = format!(
            "GET referrers of {subject} in {}/{}",
            self.registry, self.repository
        );
        let mut url = self.url(&format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            url.push_str(&format!("?artifactType={}", query_escape(t)));
        }
        let Some(pages) = self
            .get_pages(&op, url, media_type::OCI_INDEX, MAX_MANIFEST_BYTES)
            .await?
        else {
            // No referrers API (distribution 2.8 and others): the referrers tag schema.
            let index = store::read_referrers_tag(self, subject).await?;
            return Ok(store::filter_referrers(index.manifests, artifact_type));
        };
        let mut out = Vec::new();
        for (headers, body) in pages {
            let filtered = headers
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let page = Manifest::parse(body, ct, &op)?;
            let ManifestKind::Index(index) = page.kind else {
                return Err(OciError::malformed(&op, "the answer is not an image index"));
            };
            out.extend(if filtered {
                index.manifests
            } else {
                store::filter_referrers(index.manifests, artifact_type)
            });
        }
        Ok(out)
    }

    fn registry_location(&self) -> Option<(String, String)> {
        Some((self.registry.clone(), self.repository.clone()))
    }

    async fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool> {
        self.mount(digest, from).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_and_query_helpers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LINK,
            "</v2/app/tags/list?n=2&last=b>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/v2/app/tags/list?n=2&last=b")
        );
        assert_eq!(
            query_escape("application/vnd.example+json"),
            "application%2Fvnd.example%2Bjson"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_or_when_asked() {
        let opts = RegistryOptions {
            credentials: Some(Credentials::Anonymous),
            ..Default::default()
        };
        let s = RegistryStore::new("127.0.0.1:5000", "app", &opts).unwrap();
        assert!(s.base.starts_with("http://"));
        let s = RegistryStore::new("registry.example.com", "app", &opts).unwrap();
        assert!(s.base.starts_with("https://"));
        let insecure = RegistryOptions {
            insecure: true,
            ..opts
        };
        let s = RegistryStore::new("registry.example.com", "app", &insecure).unwrap();
        assert!(s.base.starts_with("http://"));
    }
}
