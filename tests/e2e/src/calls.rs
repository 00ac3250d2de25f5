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
