//! One X-Ray subsegment per AWS call (DynamoDB, KMS, SES, EventBridge, ...): an SDK
//! interceptor opens a span of the `xray` target when an operation starts, counts its
//! attempts, and closes it with the answer's status when the operation ends. The span opens
//! inside whatever traced span the call runs in (a use case, the mailer's work for an item),
//! so the subsegment nests there. Installed only when tracing is on (`Aws::traced`).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use tracing::field::Empty;

/// Traces every call of one client.
#[derive(Debug, Clone)]
pub struct AwsCallTracing {
    /// The subsegment's name: the service, as X-Ray's own SDKs name it.
    service: &'static str,
    /// What the calls act on: the table, the key, the bus.
    resource: Option<String>,
}

impl AwsCallTracing {
    pub fn new(service: &'static str, resource: Option<String>) -> Self {
        Self { service, resource }
    }
}

/// The span of the call under way, and its attempts so far.
#[derive(Debug)]
struct Call {
    span: tracing::Span,
    attempts: u64,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

impl Intercept for AwsCallTracing {
    fn name(&self) -> &'static str {
        "AwsCallTracing"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let span = tracing::info_span!(
            target: xray::TARGET,
            "aws",
            name = self.service,
            operation = Empty,
            resource = self.resource.as_deref(),
            status = Empty,
            retries = Empty,
            failed = Empty,
        );
        cfg.interceptor_state()
            .store_put(Call { span, attempts: 0 });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The operation's metadata is in the bag once the request is being sent.
        let operation = cfg
            .load::<Metadata>()
            .map(|metadata| metadata.name().to_owned());
        if let Some(call) = cfg.get_mut_from_interceptor_state::<Call>() {
            call.attempts += 1;
            if let Some(operation) = operation {
                call.span.record("operation", operation);
            }
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.get_mut_from_interceptor_state::<Call>() else {
            return Ok(());
        };
        if let Some(response) = context.response() {
            call.span
                .record("status", u64::from(response.status().as_u16()));
        }
        call.span.record("retries", call.attempts.saturating_sub(1));
        let failed = !matches!(context.output_or_error(), Some(Ok(_)));
        call.span.record("failed", failed);
        // The subsegment ends here, not when the operation's state is dropped.
        call.span = tracing::Span::none();
        Ok(())
    }
}
