//! The compiled client of `make bench-search`: replays the queries `bench_search.py` made
//! (one JSON object per line: `method`, `path`, `body`) through the API over one keep-alive
//! connection, and writes per query the client-side time (request sent → whole body read) and
//! the route's own `Server-Timing` (`engine`: its wait on the search engine; `app`: the whole
//! route). A compiled client keeps the client's own parsing out of the API's overhead, which the
//! Python client could not.
//!
//! usage: bench-search-replay --base-url http://127.0.0.1:3000 --queries q.jsonl --out t.json [--warmup 20]

use std::time::Instant;

use serde_json::{Value, json};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `name;dur=1.23` in a `Server-Timing` header, in ms.
fn timing(header: &str, name: &str) -> Option<f64> {
    header.split(',').find_map(|part| {
        let mut fields = part.trim().split(';');
        (fields.next()? == name).then_some(())?;
        fields.find_map(|f| f.trim().strip_prefix("dur=")?.parse().ok())
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = arg(&args, "--base-url").expect("--base-url");
    let path = arg(&args, "--queries").expect("--queries");
    let out = arg(&args, "--out").expect("--out");
    let warmup: usize = arg(&args, "--warmup")
        .map(|w| w.parse().expect("--warmup is a number"))
        .unwrap_or(20);
    let queries: Vec<Value> = std::fs::read_to_string(&path)
        .expect("reading the queries")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a query is a JSON object"))
        .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("an HTTP client");
    let send = |q: &Value| {
        let url = format!("{base}{}", q["path"].as_str().expect("path"));
        match q["method"].as_str() {
            Some("POST") => client.post(url).json(&q["body"]),
            _ => client.get(url),
        }
    };
    for q in queries.iter().cycle().take(warmup.min(queries.len() * 4)) {
        let r = send(q).send().await.expect("warm-up call");
        let _ = r.bytes().await;
    }
    let mut samples = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        let request = send(q);
        let started = Instant::now();
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.expect("the body");
        let client_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(
            status,
            200,
            "{} {} answered {status}: {}",
            q["method"],
            q["path"],
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        samples.push(json!({
            "kind": q["kind"],
            "client_ms": client_ms,
            "engine_ms": timing(&header, "engine"),
            "app_ms": timing(&header, "app"),
            "bytes": body.len(),
        }));
        if (i + 1) % 50 == 0 {
            eprintln!("  compiled client: {}/{}", i + 1, queries.len());
        }
    }
    std::fs::write(&out, serde_json::to_vec(&samples).expect("JSON")).expect("writing --out");
}

#[cfg(test)]
mod tests {
    use super::timing;

    #[test]
    fn server_timing_entries_are_read_by_name() {
        let h = "engine;dur=12.5, app;dur=13.1;desc=\"route\"";
        assert_eq!(timing(h, "engine"), Some(12.5));
        assert_eq!(timing(h, "app"), Some(13.1));
        assert_eq!(timing(h, "db"), None);
        assert_eq!(timing("", "engine"), None);
    }
}
