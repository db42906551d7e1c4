//! Prometheus metrics in the text exposition format, kept as atomics so the
//! hot path costs a few relaxed increments.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
];

/// API metrics.
#[derive(Default)]
pub struct ApiMetrics {
    requests: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_micros: AtomicU64,
}

impl ApiMetrics {
    /// Records one GraphQL request; `had_errors` when the response carried errors.
    pub fn observe(&self, latency: Duration, had_errors: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if had_errors {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_micros
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Records a request refused before execution (too large, too many batched queries).
    pub fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let requests = self.requests.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP zkreplay_graphql_requests_total GraphQL requests executed."
        );
        let _ = writeln!(out, "# TYPE zkreplay_graphql_requests_total counter");
        let _ = writeln!(out, "zkreplay_graphql_requests_total {requests}");
        let _ = writeln!(
            out,
            "# HELP zkreplay_graphql_errors_total GraphQL responses that carried errors."
        );
        let _ = writeln!(out, "# TYPE zkreplay_graphql_errors_total counter");
        let _ = writeln!(
            out,
            "zkreplay_graphql_errors_total {}",
            self.errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP zkreplay_graphql_rejected_total Requests refused by the limits."
        );
        let _ = writeln!(out, "# TYPE zkreplay_graphql_rejected_total counter");
        let _ = writeln!(
            out,
            "zkreplay_graphql_rejected_total {}",
            self.rejected.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP zkreplay_graphql_latency_seconds GraphQL request latency."
        );
        let _ = writeln!(out, "# TYPE zkreplay_graphql_latency_seconds histogram");
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "zkreplay_graphql_latency_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "zkreplay_graphql_latency_seconds_bucket{{le=\"+Inf\"}} {requests}"
        );
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "zkreplay_graphql_latency_seconds_sum {sum}");
        let _ = writeln!(out, "zkreplay_graphql_latency_seconds_count {requests}");
        out
    }
}
