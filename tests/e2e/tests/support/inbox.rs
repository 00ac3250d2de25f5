//! Inbox state only the notifier makes, arranged straight in the table: a notification and, in
//! the same transaction, its count on the inbox (as the notifier keeps them).

use shared::notifications::{
    Category, NOTIFICATION_ENTITY, NOTIFICATION_TTL_SECS, NotificationRecord, Priority,
    notification_id,
};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{Db, keys, n};

async fn db() -> Db {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME is set by make test");
    Db::new(aws_sdk_dynamodb::Client::new(&sdk), table)
}

/// An unread `order_update` notification of `user_id`; returns its id.
pub async fn seed_notification(user_id: &str) -> String {
    let db = db().await;
    let id = notification_id(&ulid::Ulid::new().to_string(), "order_update");
    let (pk, sk) = keys::notification(user_id, &id);
    let record = NotificationRecord {
        pk,
        sk,
        entity_type: NOTIFICATION_ENTITY.into(),
        id: id.clone(),
        user_id: user_id.to_owned(),
        kind: "order_update".into(),
        category: Category::Orders,
        priority: Priority::Important,
        title: "Your order has shipped".into(),
        text: "Your order 01JB7Q2M8X4K9ZP3T6W5R1N0VC has shipped.".into(),
        link: Some("/orders/01JB7Q2M8X4K9ZP3T6W5R1N0VC".into()),
        read: false,
        read_at: None,
        created_at: shared::now_rfc3339(),
        expires_at: shared::now_epoch() + NOTIFICATION_TTL_SECS,
    };
    let count = tx::update(
        &db.table,
        UpdateSpec {
            key: keys::inbox(user_id),
            update: "ADD unread :one",
            condition: None,
            names: &[],
            values: vec![(":one", n(1))],
        },
    )
    .unwrap();
    db.transact(vec![tx::put_new(&db.table, &record).unwrap(), count])
        .await
        .expect("seeding a notification");
    id
}
