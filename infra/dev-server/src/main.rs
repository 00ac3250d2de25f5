//! `dev-server --stack .local/stack.json --port 3000`: serves the API locally against the
//! emulator described by the stack file, and pumps its events (stream, queues, and the
//! template's `rate(...)` schedules, which the emulator never fires). See `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use dev_server::stack::Stack;

struct Args {
    stack: PathBuf,
    port: u16,
    pump: bool,
    seed: bool,
    reindex: bool,
    reindex_only: bool,
    migrate_only: bool,
    /// `--migrate-only` against the table named by `TABLE_NAME` in the environment's AWS
    /// account (credentials, region and `AWS_ENDPOINT_URL` as the SDK finds them), no stack file.
    env_only: bool,
}

const USAGE: &str = "usage: dev-server [--stack FILE] [--port N] [--no-pump] [--seed] [--reindex | --reindex-only] [--migrate-only [--env]]";

const HELP: &str = "\
Serves every API route of template.yaml on one port against the emulator described by the
stack file (written by infra/local/provision.py), and pumps its events to the consumers as
Lambda would: the table stream, the SQS queues, and the scheduled rules (EventBridge
rate(...) schedules with queue targets), which the emulator creates but never fires.

options:
  --stack FILE   stack file (default .local/stack.json)
  --port N       port on 127.0.0.1 (default 3000)
  --no-pump      serve the API only: no stream, queue or schedule pumping
  --seed         create the demo accounts first
  --reindex      rebuild the search index from the table before serving (the local search
                 server keeps nothing between runs)
  --reindex-only rebuild the search index, print the report and exit (`make reindex`)
  --migrate-only bring data written before this release to its shape (warehouses, stock
                 rows, sharded listings; see shared::migrate), print the report and exit
                 (`make migrate`); idempotent
  --env          with --migrate-only: no stack file; the table is TABLE_NAME in the AWS
                 account and region of the environment (how to migrate a deployed stack)

environment:
  LOCAL_SCHEDULE_SECONDS=N   fire every schedule every N seconds instead of its rate(...)
                             (e.g. 5, to watch the order-expiry sweeper locally)
  LOCAL_PUMP_SKIP=A,B        do not pump these functions' event sources (logical ids of
                             template.yaml, e.g. DispatcherFunction)
  RUST_LOG                   log filter (default from the stack file's environment)";

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        stack: ".local/stack.json".into(),
        port: 3000,
        pump: true,
        seed: false,
        reindex: false,
        reindex_only: false,
        migrate_only: false,
        env_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stack" => args.stack = it.next().context("--stack needs a path")?.into(),
            "--port" => {
                args.port = it
                    .next()
                    .context("--port needs a number")?
                    .parse()
                    .context("--port must be a number")?
            }
            "--no-pump" => args.pump = false,
            "--seed" => args.seed = true,
            "--reindex" => args.reindex = true,
            "--reindex-only" => args.reindex_only = true,
            "--migrate-only" => args.migrate_only = true,
            "--env" => args.env_only = true,
            "-h" | "--help" => {
                println!("{USAGE}\n\n{HELP}");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}; {USAGE}"),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    if args.env_only {
        anyhow::ensure!(args.migrate_only, "--env goes with --migrate-only");
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(migrate_env());
    }
    let stack = Stack::load(&args.stack)?;
    // The functions read their configuration from the environment, as on Lambda: give them
    // the resolved template environment before any thread starts.
    // SAFETY: single-threaded here; the runtime is built afterwards.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &stack.endpoint);
        std::env::set_var("AWS_REGION", &stack.region);
        for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            if std::env::var_os(key).is_none() {
                std::env::set_var(key, "test");
            }
        }
        for (k, v) in &stack.env {
            if k != "RUST_LOG" || std::env::var_os("RUST_LOG").is_none() {
                std::env::set_var(k, v);
            }
        }
        // The WebSocket management API (PostToConnection) is this server's (see
        // dev_server::websocket), unless pointed elsewhere.
        if std::env::var_os(dev_server::websocket::MANAGEMENT_ENDPOINT_ENV).is_none() {
            std::env::set_var(
                dev_server::websocket::MANAGEMENT_ENDPOINT_ENV,
                format!("http://127.0.0.1:{}", args.port),
            );
        }
        // Function-level variables (the payment functions' provider secrets and URLs): one
        // process runs every function, and the template gives each name one value.
        for function in stack.functions.values() {
            for (k, v) in &function.env {
                if !stack.env.contains_key(k) {
                    std::env::set_var(k, v);
                }
            }
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args, stack))
}

/// `--migrate-only --env`: the deployed stack's table (`TABLE_NAME`), with the environment's
/// AWS credentials.
async fn migrate_env() -> anyhow::Result<()> {
    shared::telemetry::init_with_time();
    let table =
        std::env::var("TABLE_NAME").context("--env needs TABLE_NAME (the stack's table)")?;
    let sdk = shared::state::aws_config().await;
    let db = shared::store::Db::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let report = shared::migrate::run(&db).await.context("migrating")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn run(args: Args, stack: Stack) -> anyhow::Result<()> {
    shared::telemetry::init_with_time();
    let state = shared::AppState::from_env().await?;
    let sdk = shared::state::aws_config().await;
    if args.seed {
        let created = dev_server::seed::seed(&state).await?;
        tracing::info!(created, "demo accounts ready");
    }
    if args.migrate_only {
        let report = shared::migrate::run(&state.db).await.context("migrating")?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if args.reindex || args.reindex_only {
        let indexer = consumer_search_indexer::Indexer::from_env().await?;
        let report = indexer.reindex().await.context("reindexing search")?;
        if args.reindex_only {
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(());
        }
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pumps = if args.pump {
        dev_server::pump::start(&stack, &sdk, stopped).await?
    } else {
        Vec::new()
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let url = format!("http://localhost:{}", args.port);
    tracing::info!(url = %url, docs = %format!("{url}/docs"), openapi = %format!("{url}/openapi.json"), pumps = pumps.len(), "dev server listening");
    let services = dev_server::Services::from_env(&sdk).await?;
    // The WebSocket APIs (ws://…/ws) and their management API (/@connections/{id}).
    let websocket =
        dev_server::websocket::router(&args.stack, &stack.region, &stack.account_id, args.port)
            .await?;
    // With the peer address, as API Gateway gives `sourceIp` (the per-address write limit).
    let app = dev_server::app(state, Some(&url), services)
        .merge(websocket)
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    for p in pumps {
        let _ = p.await;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM (what `make dev`'s cleanup sends).
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
