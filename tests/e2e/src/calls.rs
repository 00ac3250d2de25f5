//! Counting DynamoDB requests: an SDK interceptor that records the name of every operation a
//! client sends, so tests can hold a handler to its request budget against the real emulator.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Records the name of every DynamoDB operation the client sends.
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count-calls"
    }

    // Once per operation (before serialisation, so retries are not counted twice); the
    // operation's metadata is in the bag from this hook on.
    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push(op);
        Ok(())
    }
}

impl Calls {
    /// Replaces `client` by one that records its calls here.
    pub fn install(client: &mut aws_sdk_dynamodb::Client) -> Self {
        let calls = Self::default();
        let config = client
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build();
        *client = aws_sdk_dynamodb::Client::from_conf(config);
        calls
    }

    /// The operations recorded since the last call, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// Fails the first call of one DynamoDB operation after the service answered it, as a process
/// that dies right after its write would: the write happened, the handler never hears so.
#[derive(Debug, Clone)]
pub struct LoseAnswer {
    operation: &'static str,
    lost: Arc<Mutex<u32>>,
}

impl Intercept for LoseAnswer {
    fn name(&self) -> &'static str {
        "lose-answer"
    }

    fn read_before_deserialization(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name()).unwrap_or_default();
        let mut lost = self.lost.lock().unwrap();
        if op == self.operation && *lost == 0 {
            *lost += 1;
            return Err(format!("the process died after {op} was written").into());
        }
        Ok(())
    }
}

impl LoseAnswer {
    /// Replaces `client` by one that loses the answer of its first `operation`.
    pub fn install(client: &mut aws_sdk_dynamodb::Client, operation: &'static str) -> Self {
        let this = Self {
            operation,
            lost: Arc::default(),
        };
        let config = client
            .config()
            .to_builder()
            .interceptor(this.clone())
            .build();
        *client = aws_sdk_dynamodb::Client::from_conf(config);
        this
    }

    /// How many answers it lost (0 or 1).
    pub fn lost(&self) -> u32 {
        *self.lost.lock().unwrap()
    }
}
