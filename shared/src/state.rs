//! What every API handler receives: configuration, the table handle and the JWT keys,
//! built once per cold start.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::store::Db;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<JwtKeys>,
    /// For presigning media uploads and removing media objects.
    pub s3: aws_sdk_s3::Client,
}

/// Connect timeout of every AWS call: a regional endpoint (or the local emulator) accepts a
/// connection in milliseconds, so a second means it is not there.
pub const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// One attempt of one call: DynamoDB, SQS, SES and EventBridge answer in tens of milliseconds;
/// three seconds is a stuck attempt, which the SDK's retry strategy then retries.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// One call with all its retries. Well inside API Gateway's 29 s and a consumer's 30 s, so a
/// request that cannot reach AWS is answered 503 (`store::StoreError::Unavailable`) instead of
/// hanging until the gateway or Lambda gives up.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// Loads the AWS configuration (honours `AWS_ENDPOINT_URL`, so the same code reaches the local
/// emulator, LocalStack or AWS), with the bounded waits above.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(sdk_timeouts())
        .load()
        .await
}

/// The timeouts of every SDK client, for the endpoint in `AWS_ENDPOINT_URL` (see
/// [`timeouts_for`]).
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    timeouts_for(std::env::var("AWS_ENDPOINT_URL").ok().as_deref())
}

/// One call's whole budget against a loopback emulator. The emulator serves one DynamoDB call
/// at a time, so under test load (200 concurrent checkouts) a call can queue for longer than
/// AWS's 8 s and still succeed; a stopped emulator still fails at once (connection refused).
pub const EMULATOR_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout against a loopback emulator: a busy moto (one Python process) accepts
/// connections late, seconds late under a full test run; a stopped one refuses at once.
pub const EMULATOR_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether an endpoint override is this machine (a local emulator).
pub fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url);
    host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
}

/// Whether `AWS_ENDPOINT_URL` points at a local emulator.
pub fn local_emulator() -> bool {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .as_deref()
        .is_some_and(is_loopback)
}

/// The timeouts for an endpoint override (`None`: AWS). AWS: connect 1 s, attempt 3 s,
/// operation 8 s. A loopback emulator: connect 10 s, and one attempt gets the whole operation
/// budget
/// ([`EMULATOR_OPERATION_TIMEOUT`]): an attempt that queued for seconds and is retried after it
/// succeeded turns the success into a conditional failure (a 409 "already exists" for a
/// registration that worked).
pub fn timeouts_for(endpoint: Option<&str>) -> aws_config::timeout::TimeoutConfig {
    let local = endpoint.is_some_and(is_loopback);
    let (connect, attempt, operation) = if local {
        (
            EMULATOR_CONNECT_TIMEOUT,
            EMULATOR_OPERATION_TIMEOUT,
            EMULATOR_OPERATION_TIMEOUT,
        )
    } else {
        (
            SDK_CONNECT_TIMEOUT,
            SDK_ATTEMPT_TIMEOUT,
            SDK_OPERATION_TIMEOUT,
        )
    };
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Reads the JWT signing secret from Secrets Manager.
pub async fn load_jwt_secret(
    sdk: &aws_config::SdkConfig,
    secret_arn: &str,
) -> anyhow::Result<Vec<u8>> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .with_context(|| format!("reading JWT secret {secret_arn}"))?;
    let secret = out
        .secret_string()
        .context("JWT secret has no string value")?;
    anyhow::ensure!(secret.len() >= 32, "JWT secret must be at least 32 bytes");
    Ok(secret.as_bytes().to_vec())
}

/// The string value of the Secrets Manager secret whose ARN is in the environment variable
/// `var`; `None` when the variable is unset or empty (what it configures is off). Errors name
/// the variable and the ARN, never the value.
pub async fn secret_from_env(
    sdk: &aws_config::SdkConfig,
    var: &str,
) -> anyhow::Result<Option<String>> {
    let Some(arn) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .with_context(|| format!("reading the secret {var}={arn}"))?;
    Ok(Some(
        out.secret_string()
            .with_context(|| format!("{var} has no string value"))?
            .to_owned(),
    ))
}

impl AppState {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig, jwt_secret: &[u8]) -> Self {
        let db = Db::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        );
        Self {
            config: Arc::new(config),
            db,
            keys: Arc::new(JwtKeys::new(jwt_secret)),
            s3: s3_client(sdk),
        }
    }

    /// Everything from the environment: config, AWS clients, the secret.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = aws_config().await;
        let secret = load_jwt_secret(&sdk, &config.jwt_secret_arn).await?;
        Ok(Self::new(config, &sdk, &secret))
    }
}

/// An S3 client that works against AWS and the local emulator (path-style addressing when an
/// endpoint override is set: `<bucket>.127.0.0.1` does not resolve).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Public base URL of the media bucket: the emulator's path-style URL locally, the bucket's
/// regional endpoint on AWS (put a CDN in front by setting `MEDIA_PUBLIC_URL`).
pub fn media_public_base(sdk: &aws_config::SdkConfig, bucket: &str) -> String {
    if let Ok(url) = std::env::var("MEDIA_PUBLIC_URL")
        && !url.trim().is_empty()
    {
        return url.trim_end_matches('/').to_owned();
    }
    match sdk.endpoint_url() {
        Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        None => format!(
            "https://{bucket}.s3.{}.amazonaws.com",
            sdk.region().map(|r| r.as_ref()).unwrap_or("us-east-1")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_emulator_gets_one_long_attempt_per_operation() {
        let budget = |endpoint| {
            let t = timeouts_for(endpoint);
            (t.operation_attempt_timeout(), t.operation_timeout())
        };
        let aws = (Some(SDK_ATTEMPT_TIMEOUT), Some(SDK_OPERATION_TIMEOUT));
        assert_eq!(budget(None), aws);
        assert_eq!(
            budget(Some("https://dynamodb.us-east-1.amazonaws.com")),
            aws
        );
        assert_eq!(budget(Some("http://localstack:4566")), aws);
        for local in [
            "http://127.0.0.1:4566",
            "http://localhost:4566",
            "http://[::1]:4566",
        ] {
            let emulator = Some(EMULATOR_OPERATION_TIMEOUT);
            assert_eq!(budget(Some(local)), (emulator, emulator), "{local}");
        }
        assert_eq!(
            timeouts_for(None).connect_timeout(),
            Some(SDK_CONNECT_TIMEOUT)
        );
        assert_eq!(
            timeouts_for(Some("http://127.0.0.1:4566")).connect_timeout(),
            Some(EMULATOR_CONNECT_TIMEOUT)
        );
    }
}
