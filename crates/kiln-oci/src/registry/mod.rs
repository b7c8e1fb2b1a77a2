//! The distribution-API client: [`RegistryStore`], one repository of a registry seen
//! as an [`ImageStore`](crate::store::ImageStore).
//!
//! - [`auth`] holds credentials (environment, Docker configuration and credential helpers)
//!   and the anonymous / basic / bearer-token dance, the token requests made by
//!   `oci-client`;
//! - [`retry`] backs off with jitter on 429 (with `Retry-After`), 5xx and dropped
//!   connections, bounded in attempts and time;
//! - [`repository`] makes the requests themselves (manifests, blobs, tags, referrers,
//!   cross-repository mounts), every pulled manifest and blob checked against its
//!   digest and size before it is returned.
//!
//! Plain HTTP is used only for loopback registries (`localhost`, 127.0.0.0/8, `::1`) or
//! when [`RegistryOptions::insecure`] asks for it; everything else is HTTPS with rustls.

pub mod auth;
pub mod repository;
pub mod retry;

pub use auth::Credentials;
pub use repository::RegistryStore;
pub use retry::RetryPolicy;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Allow plain HTTP to non-loopback registries (the CLI's `--insecure-registry`).
    pub insecure: bool,
    /// Credentials to use instead of looking them up (environment, Docker config).
    pub credentials: Option<Credentials>,
    /// Retry budget of every request.
    pub retry: RetryPolicy,
}

/// Whether `registry` (`host[:port]`) is on the loopback interface.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match registry.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => registry,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for yes in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "registry.example.com",
            "10.0.0.1:5000",
            "docker.io",
            "[2001:db8::1]:443",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
