//! Retries for registry requests: exponential backoff with jitter on transient failures
//! (429, 5xx, dropped connections and bodies), `Retry-After` honoured, bounded both in
//! attempts and in total time, and a final error that names what was being done.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{OciError, Result};

/// How often and how long a registry operation is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The delay after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// The longest backoff delay (a `Retry-After` may ask for more, within `max_total`).
    pub max_delay: Duration,
    /// The longest time an operation may take, waits included.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(120),
        }
    }
}

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another attempt: the registry was busy or broken, or the connection dropped.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Final: another attempt would fail the same way.
    Fatal(OciError),
}

impl From<OciError> for Failure {
    fn from(e: OciError) -> Self {
        Failure::Fatal(e)
    }
}

impl RetryPolicy {
    /// The delay before attempt `failures + 1`: `base * 2^(failures-1)`, capped at
    /// `max_delay`, with jitter taking it down to as little as half.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter = fastrand::u64(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the budget is spent.
    /// `registry` and `operation` name the work in the final error.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        registry: &str,
        operation: &str,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        let start = Instant::now();
        let mut failures = 0u32;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient {
                    reason,
                    retry_after,
                }) => {
                    failures += 1;
                    let delay = retry_after.unwrap_or_else(|| self.backoff(failures));
                    let out_of_time = start.elapsed() + delay > self.max_total;
                    if failures >= self.max_attempts.max(1) || out_of_time {
                        let why = if out_of_time {
                            format!(
                                "the next attempt would pass the {}s time limit",
                                self.max_total.as_secs()
                            )
                        } else {
                            format!("{failures} attempts")
                        };
                        return Err(OciError::Registry {
                            registry: registry.to_string(),
                            message: format!(
                                "{operation} failed after {why}; last error: {reason}"
                            ),
                        });
                    }
                    tracing::debug!(
                        registry,
                        operation,
                        %reason,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// Parses a `Retry-After` value given in seconds. (The HTTP-date form is not read;
/// the backoff applies then.)
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_total: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for failures in 1..30 {
            let d = p.backoff(failures);
            assert!(d <= p.max_delay, "{d:?}");
        }
        let first = p.backoff(1);
        assert!(
            first >= p.base_delay / 2 && first <= p.base_delay,
            "{first:?}"
        );
        let fourth = p.backoff(4);
        assert!(fourth >= p.base_delay * 4, "{fourth:?}");
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[tokio::test]
    async fn transient_then_success_and_bounded_failure() {
        let n = AtomicU32::new(0);
        let v = fast()
            .run("reg", "GET x", || async {
                if n.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(Failure::Transient {
                        reason: "HTTP 500".into(),
                        retry_after: None,
                    })
                } else {
                    Ok(7)
                }
            })
            .await
            .unwrap();
        assert_eq!(v, 7);
        let n = AtomicU32::new(0);
        let err = fast()
            .run("reg:1", "GET manifest app:v1", || async {
                n.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Failure::Transient {
                    reason: "HTTP 503".into(),
                    retry_after: None,
                })
            })
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert!(
            err.contains("reg:1") && err.contains("GET manifest app:v1"),
            "{err}"
        );
        assert!(
            err.contains("3 attempts") && err.contains("HTTP 503"),
            "{err}"
        );
        let err = fast()
            .run("reg", "op", || async {
                Err::<(), _>(Failure::Transient {
                    reason: "HTTP 429".into(),
                    retry_after: Some(Duration::from_secs(3600)),
                })
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("time limit"), "{err}");
    }
}
