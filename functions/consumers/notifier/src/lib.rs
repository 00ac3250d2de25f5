//! The notifier: turns identity events into e-mails sent through SES. Idempotent by event id
//! (a claim record per event), reports partial batch failures so one bad message does not
//! redeliver the batch; a message that keeps failing goes to the DLQ by the queue's redrive.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use serde::{Deserialize, Serialize};
use shared::catalog::{MemberRecord, MemberRole};
use shared::events::{DomainEvent, Envelope};
use shared::store::{Db, QuerySpec, StoreError, keys};

pub const CONSUMER: &str = "notifier";
/// How long a processed event id is remembered (longer than any redelivery window).
const DEDUPE_TTL_SECS: i64 = 7 * 24 * 3600;

/// An e-mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// The EventBridge event as SQS delivers it (the message body).
#[derive(Debug, Deserialize)]
pub struct BusEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub detail: Envelope,
}

/// What to send for an event (possibly nothing). Pure: no I/O. `staff` are the members of the
/// event's organisation (loaded only for shop events).
pub fn compose(event: &DomainEvent, web_app_url: &str, staff: &[MemberRecord]) -> Vec<Email> {
    match event {
        DomainEvent::StockLow(e) => staff
            .iter()
            .filter(|m| m.role == MemberRole::Owner || (m.role == MemberRole::Manager && m.covers(&e.shop_id)))
            .map(|m| Email {
                to: m.email.clone(),
                subject: format!("Low stock: {}", e.sku),
                text: format!(
                    "Stock of {sku} (product {product}) is down to {available}, at or below its threshold of {threshold}.\nRestock it in the seller centre: {url}/seller/products/{product}\n",
                    sku = e.sku,
                    product = e.product_id,
                    available = e.available,
                    threshold = e.threshold,
                    url = web_app_url.trim_end_matches('/'),
                ),
            })
            .collect(),
        other => compose_identity(other, web_app_url).into_iter().collect(),
    }
}

fn compose_identity(event: &DomainEvent, web_app_url: &str) -> Option<Email> {
    match event {
        DomainEvent::UserRegistered(e) => Some(Email {
            to: e.email.clone(),
            subject: "Confirm your e-mail address".into(),
            text: format!(
                "Hello {name},\n\nWelcome! Confirm your address by opening\n{url}/verify-email?token={token}\n\nor by sending this token to POST /api/v1/auth/verify-email:\nVerification token: {token}\n\nThe link is valid for 24 hours.\n",
                name = e.name,
                url = web_app_url.trim_end_matches('/'),
                token = e.verification_token
            ),
        }),
        DomainEvent::PasswordResetRequested(e) => Some(Email {
            to: e.email.clone(),
            subject: "Your password reset code".into(),
            text: format!(
                "Hello {name},\n\nYour password reset code is: {code}\n\nIt expires in {minutes} minutes and works once. If you did not ask for it, ignore this e-mail.\n",
                name = e.name,
                code = e.code,
                minutes = e.expires_in_minutes
            ),
        }),
        // Other catalogue events are for other consumers (search indexing).
        DomainEvent::ProductUpserted(_)
        | DomainEvent::ProductDeleted(_)
        | DomainEvent::StockChanged(_)
        | DomainEvent::StockLow(_) => None,
        // Order events are routed to the notifier by no rule yet (see template.yaml).
        _ => None,
    }
}

#[derive(Serialize)]
struct Claim {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    expires_at: i64,
}

pub struct Notifier {
    pub ses: aws_sdk_sesv2::Client,
    pub db: Db,
    pub from: String,
    pub web_app_url: String,
}

#[derive(Debug)]
enum Outcome {
    Sent,
    Duplicate,
    Ignored,
}

impl Notifier {
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        Ok(Self {
            ses: aws_sdk_sesv2::Client::new(&sdk),
            db: Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            from: config.mail_from,
            web_app_url: config.web_app_url,
        })
    }

    /// Handles the batch's messages concurrently (they are independent e-mails) and reports
    /// the failed ones.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes =
            futures::future::join_all(event.records.iter().map(|m| self.process(m))).await;
        let mut response = SqsBatchResponse::default();
        for (message, outcome) in event.records.iter().zip(outcomes) {
            let id = message.message_id.clone().unwrap_or_default();
            match outcome {
                Ok(outcome) => tracing::info!(message_id = %id, ?outcome, "message handled"),
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "message failed; it will be retried");
                    response.add_failure(id);
                }
            }
        }
        response
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Outcome> {
        let body = message.body.as_deref().unwrap_or_default();
        let bus_event: BusEvent = serde_json::from_str(body)?;
        let event = match DomainEvent::from_parts(&bus_event.detail_type, bus_event.detail.data) {
            Ok(event) => event,
            Err(_) => {
                tracing::info!(detail_type = %bus_event.detail_type, source = %bus_event.source, "event type not handled here");
                return Ok(Outcome::Ignored);
            }
        };
        let staff = match &event {
            DomainEvent::StockLow(e) => self.staff(&e.org_id).await?,
            _ => Vec::new(),
        };
        let emails = compose(&event, &self.web_app_url, &staff);
        if emails.is_empty() {
            return Ok(Outcome::Ignored);
        }
        let event_id = bus_event.detail.id;
        if !self.claim(&event_id).await? {
            return Ok(Outcome::Duplicate);
        }
        for email in &emails {
            if let Err(e) = self.send(email).await {
                // Release the claim so the retry can send (earlier recipients may get it twice).
                self.db
                    .delete(keys::processed_event(CONSUMER, &event_id))
                    .await?;
                return Err(e);
            }
        }
        tracing::info!(event_id = %event_id, detail_type = %bus_event.detail_type, "e-mail sent");
        Ok(Outcome::Sent)
    }

    async fn staff(&self, org_id: &str) -> anyhow::Result<Vec<MemberRecord>> {
        let page = self
            .db
            .query_page::<MemberRecord>(QuerySpec {
                index: None,
                pk: keys::org_pk(org_id),
                sk_prefix: Some(keys::MEMBER_PREFIX.into()),
                ascending: true,
                limit: 100,
                start: None,
            })
            .await?;
        Ok(page.items)
    }

    /// Records that this consumer handles the event; false if it already did.
    async fn claim(&self, event_id: &str) -> anyhow::Result<bool> {
        let (pk, sk) = keys::processed_event(CONSUMER, event_id);
        let claim = Claim {
            pk,
            sk,
            entity_type: "processed_event",
            expires_at: shared::now_epoch() + DEDUPE_TTL_SECS,
        };
        match self.db.put_new(&claim).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).build())
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "SES send failed: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::{PasswordResetRequested, UserRegistered};

    #[test]
    fn a_registration_mails_the_verification_token_to_the_new_user() {
        let event = DomainEvent::UserRegistered(UserRegistered {
            user_id: "u1".into(),
            email: "ann@example.com".into(),
            name: "Ann".into(),
            verification_token: "tok123".into(),
        });
        let mail = compose(&event, "http://localhost:3000/", &[]).remove(0);
        assert_eq!(mail.to, "ann@example.com");
        assert!(
            mail.text
                .contains("http://localhost:3000/verify-email?token=tok123")
        );
        assert!(mail.text.contains("Verification token: tok123"));
    }

    #[test]
    fn a_reset_request_mails_the_code() {
        let event = DomainEvent::PasswordResetRequested(PasswordResetRequested {
            user_id: "u1".into(),
            email: "ann@example.com".into(),
            name: "Ann".into(),
            code: "004217".into(),
            expires_in_minutes: 10,
        });
        let mail = compose(&event, "http://x", &[]).remove(0);
        assert!(mail.text.contains("Your password reset code is: 004217"));
        assert!(mail.text.contains("10 minutes"));
    }

    #[test]
    fn low_stock_mails_the_owners_and_the_shops_managers_only() {
        let staff = vec![
            MemberRecord::new("o", "u1", "owner@x.co", MemberRole::Owner, vec![]),
            MemberRecord::new(
                "o",
                "u2",
                "manager@x.co",
                MemberRole::Manager,
                vec!["s1".into()],
            ),
            MemberRecord::new(
                "o",
                "u3",
                "other-manager@x.co",
                MemberRole::Manager,
                vec!["s2".into()],
            ),
            MemberRecord::new(
                "o",
                "u4",
                "staff@x.co",
                MemberRole::Staff,
                vec!["s1".into()],
            ),
        ];
        let event = DomainEvent::StockLow(shared::events::StockLow {
            product_id: "p".into(),
            shop_id: "s1".into(),
            org_id: "o".into(),
            sku: "HAT-M".into(),
            available: 2,
            threshold: 3,
        });
        let to: Vec<String> = compose(&event, "http://x", &staff)
            .into_iter()
            .map(|m| m.to)
            .collect();
        assert_eq!(to, vec!["owner@x.co", "manager@x.co"]);
    }

    #[test]
    fn a_bus_event_body_parses() {
        let body = r#"{"version":"0","id":"e1","detail-type":"UserRegistered","source":"commerce.identity","account":"1","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],
            "detail":{"id":"01J","occurred_at":"2026-01-01T00:00:00Z","version":1,"data":{"user_id":"u","email":"a@b.co","name":"A","verification_token":"t"}}}"#;
        let e: BusEvent = serde_json::from_str(body).unwrap();
        assert_eq!(e.detail.id, "01J");
        assert!(matches!(
            DomainEvent::from_parts(&e.detail_type, e.detail.data).unwrap(),
            DomainEvent::UserRegistered(_)
        ));
    }
}
