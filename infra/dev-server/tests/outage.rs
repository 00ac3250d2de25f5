//! The emulator dies while the dev server runs and comes back on the same port: meanwhile
//! requests get a 503 problem JSON with `Retry-After` within the SDK's timeouts (not a 500,
//! not a hang), and afterwards — the emulator keeps nothing across a restart, so the stack is
//! provisioned again — the same dev server process answers again, and its event pump (which
//! kept retrying) follows the new table's stream: a registration's verification e-mail
//! arrives. Runs on its own emulator and dev server ([`support::LocalStack`]).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::LocalStack;

/// A request during the outage must be answered within this.
const ANSWERED_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn requests_during_an_emulator_outage_get_a_quick_503_and_the_same_server_recovers() {
    let mut stack = LocalStack::provisioned("outage");
    // SAFETY: no other thread runs yet; the runtime is built below.
    unsafe { stack.export_env() };
    stack.start_server(&[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = stack.ctx();
    let (_, token, _) = runtime.block_on(ctx.user("outage"));

    stack.stop_emulator();
    let mut latencies = Vec::new();
    for (what, path, body, token) in [
        (
            "register",
            "/api/v1/auth/register",
            Some(
                json!({"email": e2e::unique_email("outage"), "password": e2e::PASSWORD, "name": "O"}),
            ),
            None,
        ),
        (
            "login",
            "/api/v1/auth/login",
            Some(json!({"email": "nobody@example.com", "password": e2e::PASSWORD})),
            None,
        ),
        ("profile", "/api/v1/users/me", None, Some(token.as_str())),
    ] {
        let started = Instant::now();
        let reply = runtime.block_on(async {
            match body {
                Some(body) => ctx.post(path, token, body).await,
                None => ctx.get(path, token).await,
            }
        });
        let took = started.elapsed();
        reply.problem(503);
        assert!(
            reply.headers.contains_key("retry-after"),
            "{what}: no Retry-After"
        );
        assert!(took < ANSWERED_WITHIN, "{what} took {took:?}");
        latencies.push(format!("{what} {} ms", took.as_millis()));
    }
    println!("outage: 503 problem+json in {}", latencies.join(", "));

    let outage_over = Instant::now();
    stack.start_emulator();
    stack.provision();
    let email = e2e::unique_email("after-outage");
    runtime.block_on(async {
        // the same process answers again (once provisioning made the table again)
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = ctx.register(&email, e2e::PASSWORD).await;
            if r.status == 201 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no 201 within 30 s of the emulator's return: {} {}",
                r.status,
                r.text
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let login = ctx.login(&email, e2e::PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        let me = ctx
            .get("/api/v1/users/me", login.body["access_token"].as_str())
            .await;
        assert_eq!(me.status, 200, "{}", me.text);
        let api_back = outage_over.elapsed();
        // the pump came back too: stream → relay → bus → queue → notifier → SES
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stack
            .mails()
            .await
            .iter()
            .any(|(to, subject, _)| to == &email && subject.contains("Confirm your e-mail"))
        {
            assert!(
                Instant::now() < deadline,
                "no verification e-mail within 60 s: the event pump did not recover"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "outage: API answering {:.1} s after the emulator restart began (start + provisioning), e-mail after {:.1} s",
            api_back.as_secs_f64(),
            outage_over.elapsed().as_secs_f64()
        );
    });
    assert!(
        stack.server_running(),
        "the dev server was restarted or died"
    );
}
