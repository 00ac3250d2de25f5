//! The notifier: turns identity, low-stock, order, refund, invoice and price-alert events into e-mails sent
//! through SES, once per event: a lease claim per event id (`shared::store::claim`) is taken
//! before the sends and finished after them, so a duplicate delivery (the relay republishing,
//! SQS redelivering) sends nothing, an attempt that failed or died before a send is retried,
//! and one that failed after some of an event's e-mails resends only the rest. Reports partial
//! batch failures so one bad message does not redeliver the batch; a message that keeps
//! failing goes to the DLQ by the queue's redrive.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use shared::catalog::{MemberRecord, MemberRole};
use shared::events::{DomainEvent, OrderStatusChanged};
use shared::identity::UserRecord;
use shared::store::{Claim, Db, QuerySpec, StoreError, keys};

pub const CONSUMER: &str = "notifier";
/// How long a processed event id is remembered (longer than any redelivery window).
const DEDUPE_TTL_SECS: i64 = 7 * 24 * 3600;
/// How long one attempt at one message may take before it is abandoned (and fails).
pub const ATTEMPT_DEADLINE: Duration = Duration::from_secs(20);
/// How long an attempt's claim keeps other attempts off the event. Longer than
/// [`ATTEMPT_DEADLINE`] and than the function's timeout (30 s in template.yaml), so a claim
/// whose lease ran out belongs to an attempt that is over.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// Tries of each claim write. A lost claim or release costs a wait for the lease, a lost
/// finish a repeated e-mail, so they are tried harder than the SDK's own retries do.
const CLAIM_WRITE_TRIES: u32 = 5;

/// An e-mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl Email {
    /// Names this e-mail among its event's e-mails (what a claim records as sent).
    pub fn part(&self) -> String {
        format!("{}|{}", self.to, self.subject)
    }
}

pub use shared::events::BusEvent;

/// A person an e-mail can go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub email: String,
    pub name: String,
}

/// Who an event's e-mails may go to, loaded by the handler before composing.
#[derive(Debug, Default)]
pub struct People {
    /// Members of the event's organisation (shop events).
    pub staff: Vec<MemberRecord>,
    /// The order's buyer (order events).
    pub buyer: Option<Contact>,
}

/// One e-mail to each of the organisation's owners and the managers whose scope covers the
/// shop.
fn to_shop_staff(
    staff: &[MemberRecord],
    shop_id: &str,
    subject: String,
    text: String,
) -> Vec<Email> {
    staff
        .iter()
        .filter(|m| {
            m.role == MemberRole::Owner || (m.role == MemberRole::Manager && m.covers(shop_id))
        })
        .map(|m| Email {
            to: m.email.clone(),
            subject: subject.clone(),
            text: text.clone(),
        })
        .collect()
}

/// What to send for an event (possibly nothing). Pure: no I/O.
pub fn compose(event: &DomainEvent, web_app_url: &str, people: &People) -> Vec<Email> {
    let url = web_app_url.trim_end_matches('/');
    match event {
        DomainEvent::StockLow(e) => to_shop_staff(
            &people.staff,
            &e.shop_id,
            format!("Low stock: {}", e.sku),
            format!(
                "Stock of {sku} (product {product}) is down to {available}, at or below its threshold of {threshold}.\nRestock it in the seller centre: {url}/seller/products/{product}\n",
                sku = e.sku,
                product = e.product_id,
                available = e.available,
                threshold = e.threshold,
            ),
        ),
        DomainEvent::OrderPlaced(e) => {
            let mut mails: Vec<Email> = people
                .buyer
                .iter()
                .map(|b| Email {
                    to: b.email.clone(),
                    subject: format!("Order {} placed at {}", e.order_id, e.shop_name),
                    text: format!(
                        "Hello {name},\n\nThank you for your order {id} at {shop}: {total}, {method}.\n{next}\nFollow it at {url}/orders/{id}\n",
                        name = b.name,
                        id = e.order_id,
                        shop = e.shop_name,
                        total = e.total,
                        method = if e.payment_method == "cod" { "cash on delivery" } else { "paid online" },
                        next = match &e.payment_due_at {
                            Some(due) => format!("Please pay by {due} (UTC); an unpaid order is cancelled then."),
                            None => "The shop is preparing it.".into(),
                        },
                    ),
                })
                .collect();
            mails.extend(to_shop_staff(
                &people.staff,
                &e.shop_id,
                format!("New order {} for {}", e.order_id, e.shop_name),
                format!(
                    "A new order {id} ({total}, {status}) is waiting in the seller centre: {url}/seller/orders/{id}\n",
                    id = e.order_id,
                    total = e.total,
                    status = e.status,
                ),
            ));
            mails
        }
        DomainEvent::InvoiceIssued(e) => people
            .buyer
            .iter()
            .map(|b| Email {
                to: b.email.clone(),
                subject: format!("Invoice {} for order {}", e.number, e.order_id),
                text: format!(
                    "Hello {name},\n\nThe invoice {number} of your order {id} ({total}) is ready: {url}/orders/{id}/invoice\n",
                    name = b.name,
                    number = e.number,
                    id = e.order_id,
                    total = e.total,
                ),
            })
            .collect(),
        DomainEvent::PriceAlertTriggered(e) => people
            .buyer
            .iter()
            .map(|b| Email {
                to: b.email.clone(),
                subject: format!("Price drop: {}", e.product_name),
                text: format!(
                    "Hello {name},\n\n{product} is now {price}, at or below the {target} you asked to hear about.\nSee it at {url}/products/{id}\n",
                    name = b.name,
                    product = e.product_name,
                    price = e.price,
                    target = e.target_price,
                    id = e.product_id,
                ),
            })
            .collect(),
        DomainEvent::RefundIssued(e) => people
            .buyer
            .iter()
            .map(|b| Email {
                to: b.email.clone(),
                subject: format!("Refund of {}", e.amount),
                text: format!(
                    "Hello {name},\n\n{amount} is on its way back to you through {provider}{order}.\n",
                    name = b.name,
                    amount = e.amount,
                    provider = e.provider,
                    order = e
                        .order_id
                        .as_deref()
                        .map(|o| format!(" for order {o}"))
                        .unwrap_or_default(),
                ),
            })
            .collect(),
        other => match other.status_change() {
            Some(change) => compose_order_move(other.detail_type(), change, url, people),
            None => compose_identity(other, url).into_iter().collect(),
        },
    }
}

fn reason_of(e: &OrderStatusChanged) -> String {
    e.reason
        .as_deref()
        .map(|r| format!(" Reason: {r}."))
        .unwrap_or_default()
}

/// What the buyer is told of an order's move, if anything (the end of the sentence
/// "Your order … ").
pub fn buyer_news(detail_type: &str, e: &OrderStatusChanged) -> Option<String> {
    let reason = reason_of(e);
    Some(match detail_type {
        "OrderConfirmed" => "is confirmed; the shop is preparing it.".to_owned(),
        "OrderShipped" => format!(
            "has shipped.{}",
            e.reason
                .as_deref()
                .map(|r| format!(" Carrier and tracking: {r}."))
                .unwrap_or_default()
        ),
        "OrderDelivered" => {
            "was delivered. Something wrong? You can ask for a return within 7 days.".to_owned()
        }
        "OrderCancelled" => format!("was cancelled.{reason}"),
        "OrderPaymentFailed" => "could not be paid and was cancelled.".to_owned(),
        "OrderReturned" => {
            "is returned: the shop accepted the return; the refund follows.".to_owned()
        }
        "OrderReturnRejected" => {
            format!("stays delivered: the shop did not accept the return.{reason}")
        }
        "OrderRefunded" => format!("was refunded: {}.", e.total),
        _ => return None,
    })
}

/// What the shop's owners and managers are told of an order's move, if anything: what the
/// buyer or the payment deadline did (the shop knows what it did itself).
pub fn shop_news(detail_type: &str, e: &OrderStatusChanged) -> Option<String> {
    let reason = reason_of(e);
    match detail_type {
        "OrderCancelled" if e.actor != "seller" => Some(format!(
            "was cancelled by the {}.{reason} Its stock is available again.",
            if e.actor == "system" {
                "payment deadline"
            } else {
                "buyer"
            }
        )),
        "OrderReturnRequested" => Some(format!(
            "has a return request.{reason} Accept or reject it in the seller centre."
        )),
        _ => None,
    }
}

/// E-mails for an order's move: the buyer hears of what happens to their order; the shop of
/// what the buyer (or the expiry sweeper) did.
fn compose_order_move(
    detail_type: &str,
    e: &OrderStatusChanged,
    url: &str,
    people: &People,
) -> Vec<Email> {
    let (to_buyer, to_shop) = (buyer_news(detail_type, e), shop_news(detail_type, e));
    let mut mails = Vec::new();
    if let (Some(what), Some(buyer)) = (to_buyer, &people.buyer) {
        mails.push(Email {
            to: buyer.email.clone(),
            subject: format!("Your order {} at {}: {}", e.order_id, e.shop_name, e.to),
            text: format!(
                "Hello {name},\n\nYour order {id} ({total}) {what}\nDetails: {url}/orders/{id}\n",
                name = buyer.name,
                id = e.order_id,
                total = e.total,
            ),
        });
    }
    if let Some(what) = to_shop {
        mails.extend(to_shop_staff(
            &people.staff,
            &e.shop_id,
            format!("Order {} for {}: {}", e.order_id, e.shop_name, e.to),
            format!(
                "Order {id} ({total}) {what}\n{url}/seller/orders/{id}\n",
                id = e.order_id,
                total = e.total,
            ),
        ));
    }
    mails
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
        _ => None,
    }
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
        shared::consumer::each_message(&event, |m| async move {
            tokio::time::timeout(ATTEMPT_DEADLINE, self.process(m))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("abandoned after {ATTEMPT_DEADLINE:?}")))
        })
        .await
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
        let people = match &event {
            DomainEvent::StockLow(e) => People {
                staff: self.staff(&e.org_id).await?,
                buyer: None,
            },
            DomainEvent::OrderPlaced(e) => People {
                staff: self.staff(&e.org_id).await?,
                buyer: self.contact(&e.buyer_id).await?,
            },
            DomainEvent::InvoiceIssued(shared::events::InvoiceIssued { buyer_id, .. })
            | DomainEvent::RefundIssued(shared::events::RefundIssued { buyer_id, .. })
            | DomainEvent::PriceAlertTriggered(shared::events::PriceAlertTriggered {
                user_id: buyer_id,
                ..
            }) => People {
                staff: Vec::new(),
                buyer: self.contact(buyer_id).await?,
            },
            other => match other.status_change() {
                // only the reads the e-mails need
                Some(e) => People {
                    staff: match shop_news(other.detail_type(), e) {
                        Some(_) => self.staff(&e.org_id).await?,
                        None => Vec::new(),
                    },
                    buyer: match buyer_news(other.detail_type(), e) {
                        Some(_) => self.contact(&e.buyer_id).await?,
                        None => None,
                    },
                },
                None => People::default(),
            },
        };
        let emails = compose(&event, &self.web_app_url, &people);
        if emails.is_empty() {
            return Ok(Outcome::Ignored);
        }
        let event_id = bus_event.detail.id;
        let claim = keys::processed_event(CONSUMER, &event_id);
        // One owner per attempt: a second delivery of the event (or this message again while
        // this attempt still runs) finds the claim held, not free.
        let owner = ulid::Ulid::new().to_string();
        let expires_at = shared::now_epoch() + DEDUPE_TTL_SECS;
        let mut done = match tried(|| {
            self.db
                .claim(claim.clone(), &owner, CLAIM_LEASE, expires_at)
        })
        .await?
        {
            Claim::Finished => {
                tracing::info!(event_id = %event_id, detail_type = %bus_event.detail_type, "e-mail already sent; duplicate delivery absorbed");
                return Ok(Outcome::Duplicate);
            }
            Claim::Held => {
                anyhow::bail!("another attempt holds the claim of event {event_id}; retrying later")
            }
            Claim::Acquired { done_parts } => done_parts,
        };
        for email in &emails {
            let part = email.part();
            if done.contains(&part) {
                continue;
            }
            if let Err(e) = self.send(email).await {
                // Give the claim back with what was sent, so the retry sends only the rest.
                if let Err(release) = tried(|| {
                    self.db
                        .release_claim(claim.clone(), &owner, &done, expires_at)
                })
                .await
                {
                    tracing::warn!(event_id = %event_id, error = %release, "releasing the claim failed; the retry waits for its lease");
                }
                return Err(e);
            }
            done.push(part);
        }
        tried(|| self.db.finish_claim(claim.clone(), expires_at)).await?;
        tracing::info!(event_id = %event_id, detail_type = %bus_event.detail_type, emails = emails.len(), "e-mail sent");
        Ok(Outcome::Sent)
    }

    /// A user's e-mail address and name (None if the account is gone).
    async fn contact(&self, user_id: &str) -> anyhow::Result<Option<Contact>> {
        Ok(self
            .db
            .get::<UserRecord>(keys::user_profile(user_id))
            .await?
            .map(|u| Contact {
                email: u.email,
                name: u.name,
            }))
    }

    async fn staff(&self, org_id: &str) -> anyhow::Result<Vec<MemberRecord>> {
        if org_id.is_empty() {
            return Ok(Vec::new());
        }
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

/// Runs a claim write up to [`CLAIM_WRITE_TRIES`] times (each is safe to repeat: the claim is
/// the attempt's own, the release conditional on it, the finish idempotent).
async fn tried<T, F, Fut>(write: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= CLAIM_WRITE_TRIES => return Err(e),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "claim write failed; trying again");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod payment_mail_tests {
    use super::*;

    #[test]
    fn the_buyer_gets_a_link_to_the_invoice_and_word_of_a_refund() {
        let people = People {
            staff: Vec::new(),
            buyer: Some(Contact {
                email: "b@example.com".into(),
                name: "Bao".into(),
            }),
        };
        let money = shared::domain::Money::new(465_000, shared::domain::Currency::VND);
        let invoice = DomainEvent::InvoiceIssued(shared::events::InvoiceIssued {
            order_id: "O1".into(),
            shop_id: "S1".into(),
            buyer_id: "B1".into(),
            number: "2026-000007".into(),
            total: money,
        });
        let mails = compose(&invoice, "https://shop.example/", &people);
        assert_eq!(mails.len(), 1);
        assert!(
            mails[0]
                .text
                .contains("https://shop.example/orders/O1/invoice"),
            "{}",
            mails[0].text
        );
        assert!(mails[0].subject.contains("2026-000007"));
        let refund = DomainEvent::RefundIssued(shared::events::RefundIssued {
            refund_id: "R1".into(),
            payment_id: "P1".into(),
            buyer_id: "B1".into(),
            provider: "stripe".into(),
            order_id: Some("O1".into()),
            amount: money,
            reason: "return accepted".into(),
        });
        let mails = compose(&refund, "https://shop.example", &people);
        assert_eq!(mails[0].to, "b@example.com");
        assert!(
            mails[0].text.contains("465000 VND") && mails[0].text.contains("order O1"),
            "{}",
            mails[0].text
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::order_state::OrderStatus;
    use shared::domain::{Currency, Money};
    use shared::events::{PasswordResetRequested, UserRegistered};

    #[test]
    fn a_registration_mails_the_verification_token_to_the_new_user() {
        let event = DomainEvent::UserRegistered(UserRegistered {
            user_id: "u1".into(),
            email: "ann@example.com".into(),
            name: "Ann".into(),
            verification_token: "tok123".into(),
        });
        let mail = compose(&event, "http://localhost:3000/", &People::default()).remove(0);
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
        let mail = compose(&event, "http://x", &People::default()).remove(0);
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
        let people = People { staff, buyer: None };
        let to: Vec<String> = compose(&event, "http://x", &people)
            .into_iter()
            .map(|m| m.to)
            .collect();
        assert_eq!(to, vec!["owner@x.co", "manager@x.co"]);
    }

    fn order_people() -> People {
        People {
            staff: vec![
                MemberRecord::new("o", "u1", "owner@x.co", MemberRole::Owner, vec![]),
                MemberRecord::new(
                    "o",
                    "u4",
                    "staff@x.co",
                    MemberRole::Staff,
                    vec!["s1".into()],
                ),
            ],
            buyer: Some(Contact {
                email: "bao@example.com".into(),
                name: "Bao".into(),
            }),
        }
    }

    fn change(
        from: OrderStatus,
        to: OrderStatus,
        actor: &str,
        reason: Option<&str>,
    ) -> DomainEvent {
        OrderStatusChanged {
            order_id: "O1".into(),
            buyer_id: "b".into(),
            shop_id: "s1".into(),
            shop_name: "Threads".into(),
            org_id: "o".into(),
            from,
            to,
            total: Money::new(465_000, Currency::VND),
            reason: reason.map(Into::into),
            actor: actor.into(),
        }
        .into_event()
    }

    fn recipients(mails: &[Email]) -> Vec<&str> {
        mails.iter().map(|m| m.to.as_str()).collect()
    }

    #[test]
    fn a_placed_order_mails_the_buyer_and_the_shops_owners() {
        let event = DomainEvent::OrderPlaced(shared::events::OrderPlaced {
            order_id: "O1".into(),
            checkout_id: "C1".into(),
            buyer_id: "b".into(),
            shop_id: "s1".into(),
            shop_name: "Threads".into(),
            org_id: "o".into(),
            status: OrderStatus::PendingPayment,
            payment_method: "online".into(),
            total: Money::new(465_000, Currency::VND),
            payment_due_at: Some("2026-11-26T10:15:00Z".into()),
            items: Vec::new(),
        });
        let mails = compose(&event, "http://x/", &order_people());
        assert_eq!(recipients(&mails), ["bao@example.com", "owner@x.co"]);
        assert_eq!(mails[0].subject, "Order O1 placed at Threads");
        assert!(mails[0].text.contains("465000 VND"), "{}", mails[0].text);
        assert!(mails[0].text.contains("Please pay by 2026-11-26T10:15:00Z"));
        assert!(mails[0].text.contains("http://x/orders/O1"));
        assert!(mails[1].text.contains("http://x/seller/orders/O1"));
    }

    #[test]
    fn each_order_move_mails_whom_it_concerns() {
        use OrderStatus::*;
        let people = order_people();
        let to = |e: DomainEvent| {
            compose(&e, "http://x", &people)
                .into_iter()
                .map(|m| m.to)
                .collect::<Vec<_>>()
        };
        // the shop did it: only the buyer hears
        assert_eq!(
            to(change(Processing, Shipped, "seller", Some("GHN 123"))),
            ["bao@example.com"]
        );
        assert_eq!(
            to(change(Confirmed, Cancelled, "seller", Some("no stock"))),
            ["bao@example.com"]
        );
        // the buyer or the deadline did it: the shop hears too
        assert_eq!(
            to(change(
                PendingPayment,
                Cancelled,
                "system",
                Some("payment window expired")
            )),
            ["bao@example.com", "owner@x.co"]
        );
        assert_eq!(
            to(change(Delivered, ReturnRequested, "buyer", Some("torn"))),
            ["owner@x.co"]
        );
        // internal steps mail nobody
        assert!(to(change(Confirmed, Processing, "seller", None)).is_empty());
        assert!(to(change(Delivered, Completed, "buyer", None)).is_empty());

        let shipped = compose(
            &change(Processing, Shipped, "seller", Some("GHN 123")),
            "http://x",
            &people,
        );
        assert!(
            shipped[0].text.contains("Carrier and tracking: GHN 123"),
            "{}",
            shipped[0].text
        );
        let expired = compose(
            &change(
                PendingPayment,
                Cancelled,
                "system",
                Some("payment window expired"),
            ),
            "http://x",
            &people,
        );
        assert!(
            expired[1]
                .text
                .contains("cancelled by the payment deadline"),
            "{}",
            expired[1].text
        );
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

    #[test]
    fn the_buyer_hears_of_a_price_drop_to_their_target() {
        let people = People {
            staff: Vec::new(),
            buyer: Some(Contact {
                email: "b@example.com".into(),
                name: "Bao".into(),
            }),
        };
        let vnd = |a| shared::domain::Money::new(a, shared::domain::Currency::VND);
        let event = DomainEvent::PriceAlertTriggered(shared::events::PriceAlertTriggered {
            user_id: "B1".into(),
            product_id: "P1".into(),
            product_name: "Silk ao dai".into(),
            target_price: vnd(400_000),
            price: vnd(390_000),
        });
        let mails = compose(&event, "https://shop.example", &people);
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, "b@example.com");
        assert_eq!(mails[0].subject, "Price drop: Silk ao dai");
        assert!(
            mails[0].text.contains("390000 VND")
                && mails[0].text.contains("https://shop.example/products/P1"),
            "{}",
            mails[0].text
        );
    }
}
