//! Latency summaries of the benchmark clients: percentiles of millisecond samples.

use serde_json::{Value, json};

/// The `p`-th percentile (nearest rank) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

/// Count, p50 / p90 / p99 and max of millisecond samples, to 0.01 ms.
pub fn summary(mut samples: Vec<f64>) -> Value {
    samples.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "count": samples.len(),
        "p50_ms": round(percentile(&samples, 50.0)),
        "p90_ms": round(percentile(&samples, 90.0)),
        "p99_ms": round(percentile(&samples, 99.0)),
        "max_ms": round(samples.last().copied().unwrap_or(f64::NAN)),
    })
}
