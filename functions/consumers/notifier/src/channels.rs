//! The outside channels behind one trait: e-mail (SES v2, HTML and text bodies rendered from
//! our templates), SMS (SNS `Publish` to a phone number) and push (SNS `Publish` to a device's
//! platform endpoint). In-app is not sent anywhere: it is the inbox record the notifier writes,
//! and the live WebSocket frame after it.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;
use shared::notifications::{Priority, Rendered};

/// Why a send did not happen.
#[derive(Debug)]
pub enum SendError {
    /// The address is dead for good (a disabled or deleted push endpoint): forget it.
    Gone,
    /// Anything else: the message fails and is retried.
    Failed(anyhow::Error),
}

/// One outside channel. `send` returns the provider's message id.
#[allow(async_fn_in_trait)] // used with concrete types only
pub trait Sender: Send + Sync {
    async fn send(
        &self,
        to: &str,
        message: &Rendered,
        priority: Priority,
    ) -> Result<String, SendError>;
}

/// E-mail through SES v2 (`SendEmail` with a simple message: subject, text and HTML).
pub struct Email<'a> {
    pub ses: &'a aws_sdk_sesv2::Client,
    pub from: &'a str,
}

impl Sender for Email<'_> {
    async fn send(&self, to: &str, m: &Rendered, _: Priority) -> Result<String, SendError> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Failed(e.into()))
        };
        let mut body = Body::builder().text(content(&m.text)?);
        if let Some(html) = &m.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(&m.title)?)
            .body(body.build())
            .build();
        let out = self
            .ses
            .send_email()
            .from_email_address(self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                SendError::Failed(anyhow::anyhow!(
                    "SES send failed: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// SMS through SNS: transactional for critical and important messages, promotional for the
/// normal ones (carriers and SNS treat them differently).
pub struct Sms<'a> {
    pub sns: &'a aws_sdk_sns::Client,
}

impl Sender for Sms<'_> {
    async fn send(&self, to: &str, m: &Rendered, priority: Priority) -> Result<String, SendError> {
        let kind = if priority == Priority::Normal {
            "Promotional"
        } else {
            "Transactional"
        };
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(kind)
            .build()
            .map_err(|e| SendError::Failed(e.into()))?;
        let out = self
            .sns
            .publish()
            .phone_number(to)
            .message(&m.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute)
            .send()
            .await
            .map_err(|e| {
                SendError::Failed(anyhow::anyhow!(
                    "SNS SMS failed: {}",
                    aws_sdk_sns::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// Push through SNS platform endpoints: one message per device, in each platform's own JSON
/// (`MessageStructure=json`).
pub struct Push<'a> {
    pub sns: &'a aws_sdk_sns::Client,
}

/// The SNS message of a push: APNs and FCM payloads, and a default.
pub fn push_payload(m: &Rendered) -> String {
    let apns = serde_json::json!({"aps": {"alert": {"title": m.title, "body": m.text}, "sound": "default"}});
    let fcm = serde_json::json!({"notification": {"title": m.title, "body": m.text}});
    serde_json::json!({
        "default": format!("{}: {}", m.title, m.text),
        "APNS": apns.to_string(),
        "APNS_SANDBOX": apns.to_string(),
        "GCM": fcm.to_string(),
    })
    .to_string()
}

impl Sender for Push<'_> {
    async fn send(
        &self,
        endpoint_arn: &str,
        m: &Rendered,
        _: Priority,
    ) -> Result<String, SendError> {
        match self
            .sns
            .publish()
            .target_arn(endpoint_arn)
            .message_structure("json")
            .message(push_payload(m))
            .send()
            .await
        {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e)
                if e.as_service_error().is_some_and(|e| {
                    e.is_endpoint_disabled_exception() || e.is_not_found_exception()
                }) =>
            {
                Err(SendError::Gone)
            }
            Err(e) => Err(SendError::Failed(anyhow::anyhow!(
                "SNS push failed: {}",
                aws_sdk_sns::error::DisplayErrorContext(&e)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_carries_apns_and_fcm_payloads() {
        let m = Rendered {
            title: "Đơn hàng".into(),
            text: "đã xác nhận \"ok\"".into(),
            html: None,
        };
        let payload: serde_json::Value = serde_json::from_str(&push_payload(&m)).unwrap();
        let apns: serde_json::Value =
            serde_json::from_str(payload["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["aps"]["alert"]["title"], "Đơn hàng");
        let fcm: serde_json::Value =
            serde_json::from_str(payload["GCM"].as_str().unwrap()).unwrap();
        assert_eq!(fcm["notification"]["body"], "đã xác nhận \"ok\"");
        assert!(
            payload["default"]
                .as_str()
                .unwrap()
                .starts_with("Đơn hàng: ")
        );
    }
}
