//! The notifier: the notification centre's one delivery pipeline. An SQS consumer of domain
//! events, of the digest tick and of its own broadcast pages.
//!
//! | message | what it does |
//! |---|---|
//! | a domain event in the routing table ([`routing`]) | a notification per recipient, on every channel their preferences allow, at the kind's priority |
//! | `BroadcastRequested` | an admin's promotion to a segment, a page of 25 users per message (its own queue, 1 s apart: throttled) |
//! | `Scheduled Event` (every minute) | sends each user's due digest entries as one message per channel ([`Notifier::flush_digests`]) |
//!
//! # Priorities
//! - **critical**: every channel at once, quiet hours or not;
//! - **important**: at once, but SMS and push wait for the end of the user's quiet hours;
//! - **normal**: in-app at once; e-mail, SMS and push wait in the digest buffer until the end
//!   of their clock minute; the minute tick then bundles a user's due entries of a channel
//!   into one message.
//!
//! # Exactly once per (event, recipient, channel)
//! One lease claim per (event, recipient, kind) (`shared::store::claim`), taken before any send. Each
//! outside send records its provider message id in the claim at once (a part), so a retry —
//! after a failure, or after a crash once the lease ran out — never sends that part again and
//! sends the rest. The in-app record, the unread count, the digest entries and the claim's
//! end commit in one transaction. The window left is between a provider accepting a message
//! and its id being recorded (SES and SNS take no idempotency key). A message that keeps
//! failing goes to the DLQ (alarmed in template.yaml).
//!
//! # Cost per event and recipient
//! Reads: one `BatchGetItem` of the recipients' profiles per event, and one `Query` per
//! recipient of everything that reaches them (`NOTIFY#`: preferences, push devices, live
//! connections). Writes: the claim, one per outside message sent at once (its id), and one
//! `TransactWriteItems` for the record.

pub mod channels;
pub mod quiet;
pub mod routing;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::catalog::MemberRecord;
use shared::events::{BroadcastRequested, DomainEvent, Segment};
use shared::identity::{UserRecord, UserStatus};
use shared::notifications::{
    self as n, Channel, DeviceRecord, DigestEntry, Language, LiveFrame, LiveRecord,
    NotificationRecord, PreferencesRecord, Priority, Rendered, Template,
};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{Claim, Db, QuerySpec, StoreError, from_item, keys, s};

use channels::{SendError, Sender};
use routing::Notice;

pub use shared::events::BusEvent;

pub const CONSUMER: &str = "notifier";
/// The claims of digests (one per user, channel and set of entries).
pub const DIGEST_CONSUMER: &str = "notifier-digest";
/// The claims of broadcast pages (each page hands the next one on once).
pub const BROADCAST_CONSUMER: &str = "notifier-broadcast";
/// How long a processed event id is remembered (longer than any redelivery window).
const DEDUPE_TTL_SECS: i64 = 7 * 24 * 3600;
/// How long one attempt at one message may take before it is abandoned (and fails).
pub const ATTEMPT_DEADLINE: Duration = Duration::from_secs(20);
/// How long an attempt's claim keeps other attempts off the event. Longer than
/// [`ATTEMPT_DEADLINE`] and than the function's timeout (30 s in template.yaml), so a claim
/// whose lease ran out belongs to an attempt that is over.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// Tries of each claim write. A lost claim or release costs a wait for the lease, a lost
/// part record a repeated message, so they are tried harder than the SDK's own retries do.
const CLAIM_WRITE_TRIES: u32 = 5;
/// Users per broadcast page (one message each).
pub const BROADCAST_PAGE: usize = 25;
/// How long admin-edited templates are cached.
const TEMPLATE_CACHE: Duration = Duration::from_secs(30);
/// Entries in one digest (one transaction deletes them with the claim's end).
const DIGEST_MAX_ENTRIES: usize = 90;

/// The notifier's own messages (on its queue).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BroadcastPage {
    pub event_id: String,
    pub broadcast: BroadcastRequested,
    /// The users of this page (a `users` segment), or
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    /// where this page starts in the user list (`everyone` / `role`; None: the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
struct Own {
    broadcast_page: BroadcastPage,
}

/// What handling a message did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Ignored,
    /// Recipients notified, and recipients whose notification had been made already.
    Delivered {
        recipients: usize,
        duplicates: usize,
    },
    Flushed {
        digests: usize,
        entries: usize,
        failed: usize,
    },
}

/// What reaches one user: read in one Query of their `NOTIFY#` items.
#[derive(Debug, Default)]
struct Reach {
    prefs: Option<PreferencesRecord>,
    devices: Vec<DeviceRecord>,
    live: Vec<LiveRecord>,
}

pub struct Notifier {
    pub ses: aws_sdk_sesv2::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The WebSocket API's management client (None: no live feed configured).
    pub ws: Option<aws_sdk_apigatewaymanagement::Client>,
    pub db: Db,
    pub from: String,
    pub web_app_url: String,
    /// Its own queue (broadcast pages).
    pub queue_url: Option<String>,
    /// How long a claim keeps other attempts off (tests shorten it).
    pub lease: Duration,
    /// The longest retry backoff (`NOTIFIER_RETRY_MAX_SECONDS`, default 300; the fault test
    /// cuts it to its queue's 3 s visibility).
    pub retry_max: Duration,
    templates: Mutex<Option<(Instant, HashMap<String, Template>)>>,
}

impl Notifier {
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        let ws = ws_push::endpoint_from_env()
            .ok()
            .map(|endpoint| ws_push::management_client(&sdk, &endpoint));
        Ok(Self {
            ses: aws_sdk_sesv2::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            ws,
            db: Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            from: config.mail_from,
            web_app_url: config.web_app_url,
            queue_url: std::env::var("NOTIFIER_QUEUE_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            lease: CLAIM_LEASE,
            retry_max: std::env::var("NOTIFIER_RETRY_MAX_SECONDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(RETRY_MAX, Duration::from_secs),
            templates: Mutex::new(None),
        })
    }

    /// Handles the batch's messages concurrently and reports the failed ones; each failed one
    /// comes back after an exponential backoff ([`retry_after`]) rather than the queue's
    /// visibility timeout, and goes to the DLQ after the redrive policy's five receives.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let response = shared::consumer::each_message(&event, |m| async move {
            tokio::time::timeout(ATTEMPT_DEADLINE, self.process(m))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("abandoned after {ATTEMPT_DEADLINE:?}")))
        })
        .await;
        if let Some(queue) = &self.queue_url {
            for failure in &response.batch_item_failures {
                let Some(message) = event
                    .records
                    .iter()
                    .find(|m| m.message_id.as_deref() == Some(failure.item_identifier.as_str()))
                else {
                    continue;
                };
                let (Some(receipt), receives) = (
                    message.receipt_handle.as_deref(),
                    message
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|c| c.parse::<u32>().ok())
                        .unwrap_or(1),
                ) else {
                    continue;
                };
                if let Err(e) = self
                    .sqs
                    .change_message_visibility()
                    .queue_url(queue)
                    .receipt_handle(receipt)
                    .visibility_timeout(retry_after(receives).min(self.retry_max).as_secs() as i32)
                    .send()
                    .await
                {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "setting the retry backoff failed; the visibility timeout applies");
                }
            }
        }
        response
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Outcome> {
        let body = message.body.as_deref().unwrap_or_default();
        if let Ok(own) = serde_json::from_str::<Own>(body) {
            return self.broadcast_page(own.broadcast_page).await;
        }
        if is_tick(body) {
            return self.flush_digests().await;
        }
        let bus_event: BusEvent = serde_json::from_str(body)?;
        let event_id = bus_event.detail.id.clone();
        let event = match DomainEvent::from_parts(&bus_event.detail_type, bus_event.detail.data) {
            Ok(event) => event,
            Err(_) => {
                tracing::info!(detail_type = %bus_event.detail_type, source = %bus_event.source, "event type not handled here");
                return Ok(Outcome::Ignored);
            }
        };
        if let DomainEvent::BroadcastRequested(b) = event {
            return self.broadcast_start(event_id, b).await;
        }
        let staff = match routing::needs(&event).staff_of {
            Some(org) => self.staff(&org).await?,
            None => Vec::new(),
        };
        let notices = routing::route(&event, &self.web_app_url, &staff);
        if notices.is_empty() {
            return Ok(Outcome::Ignored);
        }
        let profiles = self
            .profiles(notices.iter().map(|n| n.user_id.as_str()))
            .await?;
        self.deliver_all(&event_id, notices, &profiles).await
    }

    /// Delivers every notice of an event at once; fails (for a retry of the rest) if any did.
    async fn deliver_all(
        &self,
        event_id: &str,
        notices: Vec<Notice>,
        profiles: &HashMap<String, UserRecord>,
    ) -> anyhow::Result<Outcome> {
        let outcomes = futures::future::join_all(
            notices
                .iter()
                .map(|notice| self.deliver(event_id, notice, profiles.get(&notice.user_id))),
        )
        .await;
        let (mut recipients, mut duplicates, mut failure) = (0, 0, None);
        for outcome in outcomes {
            match outcome {
                Ok(true) => recipients += 1,
                Ok(false) => duplicates += 1,
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(Outcome::Delivered {
            recipients,
            duplicates,
        })
    }

    /// One notice to its recipient. `Ok(false)`: it had been delivered before.
    async fn deliver(
        &self,
        event_id: &str,
        notice: &Notice,
        profile: Option<&UserRecord>,
    ) -> anyhow::Result<bool> {
        let kind = notice.kind;
        let user = notice.user_id.as_str();
        let reach = self.reach(user).await?;
        let prefs = reach
            .prefs
            .clone()
            .unwrap_or_else(|| PreferencesRecord::defaults(user));
        let language = prefs.language.unwrap_or(Language::En);
        let mut vars = notice.vars_in(language);
        vars.entry("name".into())
            .or_insert_with(|| profile.map(|p| p.name.clone()).unwrap_or_default());
        // where each channel goes, if it may
        let email = notice
            .email
            .clone()
            .or_else(|| profile.map(|p| p.email.clone()));
        let phone = notice
            .phone
            .clone()
            .or_else(|| prefs.verified_phone().map(str::to_owned));
        let mut plan: Vec<(Channel, Vec<String>, Rendered)> = Vec::new();
        for channel in notice.channels() {
            let to: Vec<String> = match channel {
                Channel::InApp if profile.is_some() => vec![user.to_owned()],
                Channel::Email => email.iter().cloned().collect(),
                Channel::Sms => phone.iter().cloned().collect(),
                Channel::Push => reach
                    .devices
                    .iter()
                    .map(|d| format!("{}={}", d.device_id, d.endpoint_arn))
                    .collect(),
                _ => Vec::new(),
            };
            // the number being verified is texted whatever the switches say
            let allowed =
                prefs.allows(kind, channel) || (channel == Channel::Sms && notice.phone.is_some());
            if to.is_empty() || !allowed {
                continue;
            }
            let template = self.template(kind.name, channel, language).await?;
            let rendered = notification_templates::render(channel, language, &template, &vars)
                .map_err(|e| anyhow::anyhow!("{} on {}: {e}", kind.name, channel.as_str()))?;
            plan.push((channel, to, rendered));
        }
        if plan.is_empty() {
            tracing::info!(
                event_id,
                user_id = user,
                kind = kind.name,
                "no channel reaches this recipient"
            );
            return Ok(true);
        }

        let claim = claim_key(event_id, user, kind.name);
        let owner = ulid::Ulid::new().to_string();
        let expires_at = shared::now_epoch() + DEDUPE_TTL_SECS;
        let mut done =
            match tried(|| self.db.claim(claim.clone(), &owner, self.lease, expires_at)).await? {
                Claim::Finished => {
                    tracing::info!(
                        event_id,
                        user_id = user,
                        kind = kind.name,
                        "already notified; duplicate delivery absorbed"
                    );
                    return Ok(false);
                }
                Claim::Held => anyhow::bail!(
                    "another attempt holds the claim of event {event_id} for {user}; retrying later"
                ),
                Claim::Acquired { done_parts } => done_parts,
            };

        let now = shared::now_epoch();
        let quiet_until = prefs
            .quiet_hours
            .as_ref()
            .and_then(|q| quiet::quiet_until(q, jiff::Timestamp::now()));
        let id = n::notification_id(event_id, kind.name);
        let mut actions: Vec<TransactWriteItem> = Vec::new();
        let mut record = None;
        let (mut sent, mut deferred) = (Vec::new(), Vec::new());
        for (channel, to, rendered) in &plan {
            if *channel == Channel::InApp {
                let r = self.record(user, &id, notice, rendered, now);
                actions.push(tx::put_new(&self.db.table, &r)?);
                actions.push(tx::update(
                    &self.db.table,
                    UpdateSpec {
                        key: keys::inbox(user),
                        update: "SET entity_type = :inbox ADD unread :one",
                        condition: None,
                        names: &[],
                        values: vec![
                            (":inbox", s(n::INBOX_ENTITY)),
                            (":one", shared::store::n(1)),
                        ],
                    },
                )?);
                record = Some(r);
                continue;
            }
            let due = match kind.priority {
                Priority::Normal => Some(digest_due(now)),
                priority if quiet::holds(priority, *channel) => quiet_until,
                _ => None,
            };
            if let Some(due_at) = due {
                let entry = digest_entry(user, *channel, language, &id, to, rendered, due_at);
                actions.push(tx::put(&self.db.table, &entry, None)?);
                deferred.push(channel.as_str());
                continue;
            }
            self.send_each(
                &claim,
                &owner,
                &mut done,
                *channel,
                to,
                rendered,
                kind.priority,
                user,
            )
            .await?;
            sent.push(channel.as_str());
        }
        actions.push(shared::store::claim::finish_claim_action(
            &self.db.table,
            claim.clone(),
            expires_at,
        )?);
        match self.db.transact(actions).await {
            Ok(()) => {}
            // the notification exists: an attempt that lost its lease committed it meanwhile
            Err(e) if record.is_some() && e.failed_condition_index() == Some(0) => {
                tracing::info!(
                    event_id,
                    user_id = user,
                    "the notification was recorded by another attempt"
                );
                tried(|| self.db.finish_claim(claim.clone(), expires_at)).await?;
                return Ok(false);
            }
            Err(e) => {
                self.give_back(&claim, &owner, &done, expires_at).await;
                return Err(e.into());
            }
        }
        if let Some(record) = &record {
            self.live(user, &reach.live, record).await;
        }
        if sent.contains(&"email") {
            // the fault test counts these per event and recipient
            tracing::info!(event_id, user_id = user, kind = kind.name, "e-mail sent");
        }
        tracing::info!(event_id, user_id = user, kind = kind.name, priority = kind.priority.as_str(), in_app = record.is_some(), sent = ?sent, deferred = ?deferred, "notification delivered");
        Ok(true)
    }

    /// Sends one rendered message to each address of a channel that is not done yet,
    /// recording each provider message id in the claim before the next.
    #[allow(clippy::too_many_arguments)]
    async fn send_each(
        &self,
        claim: &(String, String),
        owner: &str,
        done: &mut Vec<String>,
        channel: Channel,
        to: &[String],
        message: &Rendered,
        priority: Priority,
        user: &str,
    ) -> anyhow::Result<()> {
        for address in to {
            let (part, target) = match channel {
                Channel::Push => {
                    let (device, arn) = address.split_once('=').unwrap_or((address, address));
                    (format!("push:{device}"), arn)
                }
                other => (other.as_str().to_owned(), address.as_str()),
            };
            if done
                .iter()
                .any(|d| d.split_once('=').map_or(d.as_str(), |(p, _)| p) == part)
            {
                continue;
            }
            let outcome = match channel {
                Channel::Email => {
                    channels::Email {
                        ses: &self.ses,
                        from: &self.from,
                    }
                    .send(target, message, priority)
                    .await
                }
                Channel::Sms => {
                    channels::Sms { sns: &self.sns }
                        .send(target, message, priority)
                        .await
                }
                Channel::Push => {
                    channels::Push { sns: &self.sns }
                        .send(target, message, priority)
                        .await
                }
                Channel::InApp => continue,
            };
            let id = match outcome {
                Ok(id) => {
                    shared::metrics::notification_sent(channel.as_str());
                    id
                }
                Err(SendError::Gone) => {
                    self.prune_device(user, part.trim_start_matches("push:"), target)
                        .await?;
                    "gone".to_owned()
                }
                Err(SendError::Failed(e)) => {
                    self.give_back(claim, owner, done, shared::now_epoch() + DEDUPE_TTL_SECS)
                        .await;
                    return Err(e);
                }
            };
            done.push(format!("{part}={id}"));
            tried(|| self.db.record_claim_parts(claim.clone(), owner, done)).await?;
        }
        Ok(())
    }

    /// Gives a failed attempt's claim back with what it did, so a retry does only the rest.
    async fn give_back(
        &self,
        claim: &(String, String),
        owner: &str,
        done: &[String],
        expires_at: i64,
    ) {
        if let Err(e) = tried(|| {
            self.db
                .release_claim(claim.clone(), owner, done, expires_at)
        })
        .await
        {
            tracing::warn!(error = %e, "releasing the claim failed; the retry waits for its lease");
        }
    }

    fn record(
        &self,
        user: &str,
        id: &str,
        notice: &Notice,
        rendered: &Rendered,
        now: i64,
    ) -> NotificationRecord {
        let (pk, sk) = keys::notification(user, id);
        NotificationRecord {
            pk,
            sk,
            entity_type: n::NOTIFICATION_ENTITY.into(),
            id: id.to_owned(),
            user_id: user.to_owned(),
            kind: notice.kind.name.to_owned(),
            category: notice.kind.category,
            priority: notice.kind.priority,
            title: rendered.title.clone(),
            text: rendered.text.clone(),
            link: notice.link.clone(),
            read: false,
            read_at: None,
            created_at: shared::now_rfc3339(),
            expires_at: now + n::NOTIFICATION_TTL_SECS,
        }
    }

    /// Posts the new notification to the user's live connections; a gone one is forgotten.
    /// Best effort: the notification is in the inbox whatever happens here.
    async fn live(&self, user: &str, live: &[LiveRecord], record: &NotificationRecord) {
        let Some(ws) = &self.ws else { return };
        let now = shared::now_epoch();
        let data = serde_json::to_vec(&LiveFrame::of(record)).expect("frames serialise");
        let posts = live.iter().filter(|c| c.expires_at > now).map(|c| {
            let data = data.clone();
            async move { (c, ws_push::post(ws, &c.connection_id, data).await) }
        });
        for (connection, outcome) in futures::future::join_all(posts).await {
            match outcome {
                Ok(()) => {}
                Err(ws_push::PostError::Gone) => {
                    if let Err(e) = self
                        .db
                        .delete(keys::ws_live(user, &connection.connection_id))
                        .await
                    {
                        tracing::warn!(error = %e, "forgetting a gone live connection failed");
                    }
                }
                Err(ws_push::PostError::Failed(e)) => {
                    tracing::warn!(connection_id = %connection.connection_id, error = format!("{e:#}"), "posting a live notification failed");
                }
            }
        }
    }

    /// A device whose endpoint is disabled or gone: its record, the count, the endpoint.
    async fn prune_device(&self, user: &str, device_id: &str, arn: &str) -> anyhow::Result<()> {
        let table = &self.db.table;
        let outcome = self
            .db
            .transact(vec![
                tx::delete(
                    table,
                    keys::device(user, device_id),
                    Some("attribute_exists(PK)"),
                    Vec::new(),
                )?,
                tx::update(
                    table,
                    UpdateSpec {
                        key: keys::inbox(user),
                        update: "ADD devices :minus",
                        condition: Some("devices > :zero"),
                        names: &[],
                        values: vec![
                            (":minus", shared::store::n(-1)),
                            (":zero", shared::store::n(0)),
                        ],
                    },
                )?,
            ])
            .await;
        match outcome.as_ref().map_err(StoreError::failed_condition_index) {
            // done, or the device was gone already
            Ok(()) | Err(Some(0)) => {}
            // a count that was wrong already: the device goes, the count stays at 0
            Err(Some(_)) => self.db.delete(keys::device(user, device_id)).await?,
            Err(None) => return Err(outcome.unwrap_err().into()),
        }
        if let Err(e) = self.sns.delete_endpoint().endpoint_arn(arn).send().await {
            tracing::warn!(error = %aws_sdk_sns::error::DisplayErrorContext(&e), "deleting a stale push endpoint failed");
        }
        tracing::info!(user_id = user, device_id, "stale push device pruned");
        Ok(())
    }

    /// The template in use: the admin's edited one (cached for [`TEMPLATE_CACHE`]) or the
    /// built-in one.
    async fn template(
        &self,
        kind: &str,
        channel: Channel,
        language: Language,
    ) -> anyhow::Result<Template> {
        let (_, sk) = keys::notification_template(kind, channel.as_str(), language.as_str());
        let cached = {
            let cache = self.templates.lock().expect("template cache lock");
            cache
                .as_ref()
                .filter(|(at, _)| at.elapsed() < TEMPLATE_CACHE)
                .map(|(_, map)| map.get(&sk).cloned())
        };
        let edited = match cached {
            Some(found) => found,
            None => {
                let records = n::edited_templates(&self.db).await?;
                let map: HashMap<String, Template> =
                    records.into_iter().map(|r| (r.sk, r.template)).collect();
                let found = map.get(&sk).cloned();
                *self.templates.lock().expect("template cache lock") = Some((Instant::now(), map));
                found
            }
        };
        edited
            .or_else(|| notification_templates::builtin(kind, channel, language))
            .ok_or_else(|| anyhow::anyhow!("no template for {kind} on {}", channel.as_str()))
    }

    /// Everything under the user's `NOTIFY#` prefix, in one Query.
    async fn reach(&self, user: &str) -> anyhow::Result<Reach> {
        let items: Vec<serde_json::Value> = self
            .db
            .query_all(
                None,
                "PK = :pk AND begins_with(SK, :prefix)",
                &[
                    (":pk", s(keys::user_pk(user))),
                    (":prefix", s(keys::NOTIFY_PREFIX)),
                ],
            )
            .await?;
        let mut reach = Reach::default();
        for item in items {
            match item["entity_type"].as_str().unwrap_or_default() {
                n::PREFERENCES_ENTITY => reach.prefs = Some(serde_json::from_value(item)?),
                n::DEVICE_ENTITY => reach.devices.push(serde_json::from_value(item)?),
                n::LIVE_ENTITY => reach.live.push(serde_json::from_value(item)?),
                _ => {}
            }
        }
        Ok(reach)
    }

    /// The profiles of these users, in one BatchGetItem (a gone account is absent).
    async fn profiles<'a>(
        &self,
        users: impl Iterator<Item = &'a str>,
    ) -> anyhow::Result<HashMap<String, UserRecord>> {
        let keys: Vec<_> = users.map(keys::user_profile).collect();
        let mut found = HashMap::new();
        for item in self.db.batch_get(&keys).await? {
            let user: UserRecord = from_item(item)?;
            found.insert(user.id.clone(), user);
        }
        Ok(found)
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

    // ------------------------------------------------------------------ broadcasts

    /// A broadcast's first step: a small list of users at once, anything else page by page.
    async fn broadcast_start(
        &self,
        event_id: String,
        broadcast: BroadcastRequested,
    ) -> anyhow::Result<Outcome> {
        match &broadcast.segment {
            Segment::Users(ids) if ids.len() > BROADCAST_PAGE => {
                let pages: Vec<BroadcastPage> = ids
                    .chunks(BROADCAST_PAGE)
                    .map(|chunk| BroadcastPage {
                        event_id: event_id.clone(),
                        broadcast: broadcast.clone(),
                        users: Some(chunk.to_vec()),
                        cursor: None,
                    })
                    .collect();
                for (i, page) in pages.iter().enumerate() {
                    self.enqueue(page, i as i32).await?;
                }
                Ok(Outcome::Delivered {
                    recipients: 0,
                    duplicates: 0,
                })
            }
            Segment::Users(ids) => {
                let page = BroadcastPage {
                    event_id,
                    users: Some(ids.clone()),
                    broadcast,
                    cursor: None,
                };
                self.broadcast_page(page).await
            }
            Segment::Everyone | Segment::Role(_) => {
                self.broadcast_page(BroadcastPage {
                    event_id,
                    broadcast,
                    users: None,
                    cursor: None,
                })
                .await
            }
        }
    }

    /// One page of a broadcast. A page of the user list first hands the next page on (once:
    /// a claim per page), then notifies its own users.
    async fn broadcast_page(&self, page: BroadcastPage) -> anyhow::Result<Outcome> {
        let users: Vec<UserRecord> = match &page.users {
            Some(ids) => self
                .profiles(ids.iter().map(String::as_str))
                .await?
                .into_values()
                .collect(),
            None => {
                let start = match &page.cursor {
                    Some(c) => Some(
                        shared::store::decode_cursor(c)
                            .ok_or_else(|| anyhow::anyhow!("a broadcast page with a bad cursor"))?,
                    ),
                    None => None,
                };
                let found = self
                    .db
                    .query_page::<UserRecord>(QuerySpec {
                        index: Some("GSI1"),
                        pk: keys::GSI1_ALL_USERS.into(),
                        sk_prefix: None,
                        ascending: false,
                        limit: BROADCAST_PAGE as u32,
                        start,
                    })
                    .await?;
                if let Some(next) = found.next_cursor {
                    self.hand_on(&page, next).await?;
                }
                found.items
            }
        };
        let b = &page.broadcast;
        let notices: Vec<Notice> = users
            .iter()
            .filter(|u| u.status == UserStatus::Active)
            .filter(|u| match &b.segment {
                Segment::Role(role) => u.roles.contains(role),
                _ => true,
            })
            .map(|u| routing::promotion(&u.id, b))
            .collect();
        let profiles: HashMap<String, UserRecord> =
            users.into_iter().map(|u| (u.id.clone(), u)).collect();
        self.deliver_all(&page.event_id, notices, &profiles).await
    }

    /// Queues the page after `page` once, whatever redeliveries of `page` happen.
    async fn hand_on(&self, page: &BroadcastPage, next: String) -> anyhow::Result<()> {
        let step = Sha256::digest(next.as_bytes());
        let claim = keys::processed_event(
            BROADCAST_CONSUMER,
            &format!("{}/{}", page.event_id, hex(&step[..12])),
        );
        let owner = ulid::Ulid::new().to_string();
        let expires_at = shared::now_epoch() + DEDUPE_TTL_SECS;
        match tried(|| self.db.claim(claim.clone(), &owner, self.lease, expires_at)).await? {
            Claim::Finished => return Ok(()),
            Claim::Held => anyhow::bail!("another attempt is handing the broadcast page on"),
            Claim::Acquired { .. } => {}
        }
        let following = BroadcastPage {
            cursor: Some(next),
            ..page.clone()
        };
        if let Err(e) = self.enqueue(&following, 1).await {
            self.give_back(&claim, &owner, &[], expires_at).await;
            return Err(e);
        }
        tried(|| self.db.finish_claim(claim.clone(), expires_at)).await?;
        Ok(())
    }

    async fn enqueue(&self, page: &BroadcastPage, delay_seconds: i32) -> anyhow::Result<()> {
        let Some(queue) = &self.queue_url else {
            anyhow::bail!(
                "NOTIFIER_QUEUE_URL is not set: a broadcast of many users cannot be paged"
            );
        };
        let body = serde_json::json!({ "broadcast_page": page }).to_string();
        self.sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .delay_seconds(delay_seconds.min(900))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "queueing a broadcast page: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }

    // ------------------------------------------------------------------ digests

    /// Sends every due digest entry: per user and channel, one message bundling them (a
    /// digest of one is the message as it is). A failed digest stays for the next tick.
    pub async fn flush_digests(&self) -> anyhow::Result<Outcome> {
        let bound = keys::notification_digest_due(shared::now_epoch());
        let shards = futures::future::join_all((0..n::DIGEST_SHARDS).map(|shard| {
            let bound = bound.clone();
            async move {
                self.db
                    .query_all::<DigestEntry>(
                        None,
                        "PK = :pk AND SK < :due",
                        &[
                            (":pk", s(keys::notification_digest_pk(shard))),
                            (":due", s(bound)),
                        ],
                    )
                    .await
            }
        }))
        .await;
        let mut groups: BTreeMap<(String, Channel), Vec<DigestEntry>> = BTreeMap::new();
        for shard in shards {
            for entry in shard? {
                groups
                    .entry((entry.user_id.clone(), entry.channel))
                    .or_default()
                    .push(entry);
            }
        }
        let (mut digests, mut entries, mut failed) = (0, 0, 0);
        for (_, group) in groups {
            for chunk in group.chunks(DIGEST_MAX_ENTRIES) {
                match self.flush_group(chunk).await {
                    Ok(true) => {
                        digests += 1;
                        entries += chunk.len();
                    }
                    Ok(false) => {}
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(user_id = %chunk[0].user_id, channel = chunk[0].channel.as_str(), error = format!("{e:#}"), "a digest failed; the next tick tries again");
                    }
                }
            }
        }
        Ok(Outcome::Flushed {
            digests,
            entries,
            failed,
        })
    }

    /// One user's due entries of one channel as one message. `Ok(false)`: held by another
    /// attempt, or sent before (then only cleaned up).
    async fn flush_group(&self, group: &[DigestEntry]) -> anyhow::Result<bool> {
        let first = &group[0];
        let mut ids: Vec<&str> = group.iter().map(|e| e.notification_id.as_str()).collect();
        ids.sort_unstable();
        let set = Sha256::digest(ids.join("\n").as_bytes());
        let claim = keys::processed_event(
            DIGEST_CONSUMER,
            &format!(
                "{}/{}/{}",
                first.user_id,
                first.channel.as_str(),
                hex(&set[..12])
            ),
        );
        let owner = ulid::Ulid::new().to_string();
        let expires_at = shared::now_epoch() + DEDUPE_TTL_SECS;
        let deletes = |actions: &mut Vec<TransactWriteItem>| -> Result<(), StoreError> {
            for e in group {
                actions.push(tx::delete(
                    &self.db.table,
                    (e.pk.clone(), e.sk.clone()),
                    None,
                    Vec::new(),
                )?);
            }
            Ok(())
        };
        let mut done =
            match tried(|| self.db.claim(claim.clone(), &owner, self.lease, expires_at)).await? {
                Claim::Held => return Ok(false),
                Claim::Finished => {
                    let mut actions = Vec::new();
                    deletes(&mut actions)?;
                    self.db.transact(actions).await?;
                    return Ok(false);
                }
                Claim::Acquired { done_parts } => done_parts,
            };
        let message = if group.len() == 1 {
            Rendered {
                title: first.title.clone(),
                text: first.text.clone(),
                html: first.html.clone(),
            }
        } else {
            let items: Vec<(String, String)> = group
                .iter()
                .map(|e| (e.title.clone(), e.text.clone()))
                .collect();
            notification_templates::digest(first.channel, first.language, &items)
        };
        let newest = &group[group.len() - 1];
        self.send_each(
            &claim,
            &owner,
            &mut done,
            first.channel,
            &newest.to,
            &message,
            Priority::Normal,
            &first.user_id,
        )
        .await?;
        let mut actions = vec![shared::store::claim::finish_claim_action(
            &self.db.table,
            claim.clone(),
            expires_at,
        )?];
        deletes(&mut actions)?;
        if let Err(e) = self.db.transact(actions).await {
            self.give_back(&claim, &owner, &done, expires_at).await;
            return Err(e.into());
        }
        tracing::info!(user_id = %first.user_id, channel = first.channel.as_str(), entries = group.len(), "digest sent");
        Ok(true)
    }
}

fn digest_entry(
    user: &str,
    channel: Channel,
    language: Language,
    id: &str,
    to: &[String],
    rendered: &Rendered,
    due_at: i64,
) -> DigestEntry {
    let (pk, sk) =
        keys::notification_digest(n::digest_shard(user), due_at, user, channel.as_str(), id);
    DigestEntry {
        pk,
        sk,
        entity_type: n::DIGEST_ENTITY.into(),
        user_id: user.to_owned(),
        channel,
        language,
        notification_id: id.to_owned(),
        to: to.to_vec(),
        title: rendered.title.clone(),
        text: rendered.text.clone(),
        html: rendered.html.clone(),
        due_at,
        expires_at: due_at + n::DIGEST_TTL_SECS,
    }
}

/// The claim of one notification: an event may notify one user of two kinds (a shop owner
/// buying from their own shop hears as buyer and as seller), each once.
pub fn claim_key(event_id: &str, user_id: &str, kind: &str) -> (String, String) {
    keys::processed_event(CONSUMER, &format!("{event_id}/{user_id}/{kind}"))
}

/// Whether a message is the minute tick (an EventBridge `Scheduled Event`, whose `detail` is
/// `{}`, not one of our envelopes).
pub fn is_tick(body: &str) -> bool {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "detail-type")]
        detail_type: String,
        source: String,
    }
    serde_json::from_str::<Head>(body)
        .is_ok_and(|h| h.detail_type == "Scheduled Event" && h.source == "aws.events")
}

/// The longest wait before a failed message comes back.
pub const RETRY_MAX: Duration = Duration::from_secs(300);

/// How long a message that failed on its `receives`-th receive waits: 5 s, 10 s, 20 s, …, at
/// most [`RETRY_MAX`].
pub fn retry_after(receives: u32) -> Duration {
    Duration::from_secs(5u64 << receives.saturating_sub(1).min(6)).min(RETRY_MAX)
}

/// When a normal-priority message made at `now` is sent: at the end of its clock minute, so
/// everything a user gets within one minute goes out as one digest (the minute tick sends
/// what is due).
pub fn digest_due(now: i64) -> i64 {
    (now.div_euclid(60) + 1) * 60
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a claim write up to [`CLAIM_WRITE_TRIES`] times (each is safe to repeat: the claim is
/// the attempt's own, the release and part records conditional on it, the finish idempotent).
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
mod tests {
    use super::*;

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
    fn a_broadcast_page_round_trips_as_the_notifiers_own_message() {
        let page = BroadcastPage {
            event_id: "01J".into(),
            broadcast: BroadcastRequested {
                broadcast_id: "B1".into(),
                segment: Segment::Everyone,
                channel: Channel::Email,
                title: "Sale".into(),
                message: "Half price".into(),
                requested_by: "admin".into(),
            },
            users: None,
            cursor: Some("abc".into()),
        };
        let body = serde_json::json!({ "broadcast_page": page }).to_string();
        let own: Own = serde_json::from_str(&body).unwrap();
        assert_eq!(own.broadcast_page, page);
        // a bus event is not one
        assert!(serde_json::from_str::<Own>(r#"{"detail-type":"X"}"#).is_err());
    }

    #[test]
    fn the_minute_tick_is_told_from_domain_events() {
        let tick = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-12-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:1:rule/NotifierDigestScheduleRule"],"detail":{}}"#;
        assert!(is_tick(tick));
        let event = r#"{"version":"0","id":"e1","detail-type":"UserRegistered","source":"commerce.identity","detail":{}}"#;
        assert!(!is_tick(event));
        assert!(!is_tick("not json"));
    }

    #[test]
    fn failed_messages_back_off_exponentially_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=8).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(retry_after(0).as_secs(), 5);
    }

    #[test]
    fn a_minutes_messages_share_one_due_time() {
        assert_eq!(digest_due(120), 180);
        assert_eq!(digest_due(179), 180);
        assert_eq!(digest_due(180), 240);
    }

    #[test]
    fn digest_entries_sort_by_due_time_and_stay_in_the_users_shard() {
        let m = Rendered {
            title: "t".into(),
            text: "x".into(),
            html: None,
        };
        let a = digest_entry(
            "u1",
            Channel::Email,
            Language::En,
            "01A.promotion",
            &["a@x".into()],
            &m,
            100,
        );
        let b = digest_entry(
            "u1",
            Channel::Email,
            Language::En,
            "01B.promotion",
            &["a@x".into()],
            &m,
            99,
        );
        assert_eq!(a.pk, b.pk);
        assert!(b.sk < a.sk);
        assert!(a.sk < keys::notification_digest_due(100));
        assert!(a.sk > keys::notification_digest_due(99));
    }
}
