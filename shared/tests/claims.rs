//! Lease claims (`shared::store::claim`) against the emulator's table: one attempt at a time,
//! an attempt's own lost write is its own, a dead attempt's claim is taken over after its
//! lease, a released claim carries what was done, a finished one stays finished. Needs
//! `make test`'s environment (TABLE_NAME, AWS_ENDPOINT_URL).

use std::time::Duration;

use shared::store::{Claim, Db, keys};

async fn db() -> Db {
    let table =
        std::env::var("TABLE_NAME").expect("run under `make test` (TABLE_NAME and the emulator)");
    let sdk = shared::state::aws_config().await;
    Db::new(aws_sdk_dynamodb::Client::new(&sdk), table)
}

const LEASE: Duration = Duration::from_secs(30);

fn expires() -> i64 {
    shared::now_epoch() + 3600
}

fn fresh_key() -> (String, String) {
    keys::processed_event("claims-test", &ulid::Ulid::new().to_string())
}

fn acquired(parts: &[&str]) -> Claim {
    Claim::Acquired {
        done_parts: parts.iter().map(|p| p.to_string()).collect(),
    }
}

#[tokio::test]
async fn one_attempt_holds_a_claim_until_it_releases_or_finishes_it() {
    let db = db().await;
    let k = fresh_key();
    assert_eq!(
        db.claim(k.clone(), "a", LEASE, expires()).await.unwrap(),
        acquired(&[])
    );
    // another attempt is kept off while the lease runs
    assert_eq!(
        db.claim(k.clone(), "b", LEASE, expires()).await.unwrap(),
        Claim::Held
    );
    // the holder claiming again (its first write's answer was lost) still holds it
    assert_eq!(
        db.claim(k.clone(), "a", LEASE, expires()).await.unwrap(),
        acquired(&[])
    );
    // released with one part done: the next attempt takes it at once and skips that part
    db.release_claim(k.clone(), "a", &["mail-1".to_owned()], expires())
        .await
        .unwrap();
    assert_eq!(
        db.claim(k.clone(), "b", LEASE, expires()).await.unwrap(),
        acquired(&["mail-1"])
    );
    // …and keeps skipping it when it claims again (that take-over's answer was lost)
    assert_eq!(
        db.claim(k.clone(), "b", LEASE, expires()).await.unwrap(),
        acquired(&["mail-1"])
    );
    // a release by an attempt that no longer holds it changes nothing
    db.release_claim(k.clone(), "a", &[], expires())
        .await
        .unwrap();
    assert_eq!(
        db.claim(k.clone(), "c", LEASE, expires()).await.unwrap(),
        Claim::Held
    );
    db.finish_claim(k.clone(), expires()).await.unwrap();
    for owner in ["a", "b", "d"] {
        assert_eq!(
            db.claim(k.clone(), owner, LEASE, expires()).await.unwrap(),
            Claim::Finished
        );
    }
}

#[tokio::test]
async fn a_dead_attempts_claim_is_taken_over_when_its_lease_runs_out() {
    let db = db().await;
    let k = fresh_key();
    // an attempt that took the claim and died: its lease (1 ms here) has passed
    assert_eq!(
        db.claim(k.clone(), "dead", Duration::from_millis(1), expires())
            .await
            .unwrap(),
        acquired(&[])
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        db.claim(k.clone(), "next", LEASE, expires()).await.unwrap(),
        acquired(&[])
    );
    assert_eq!(
        db.claim(k, "third", LEASE, expires()).await.unwrap(),
        Claim::Held
    );
}

#[tokio::test]
async fn a_claim_written_before_leases_existed_reads_as_finished() {
    #[derive(serde::Serialize)]
    struct Legacy {
        #[serde(rename = "PK")]
        pk: String,
        #[serde(rename = "SK")]
        sk: String,
        entity_type: &'static str,
        expires_at: i64,
    }
    let db = db().await;
    let k = fresh_key();
    db.put_new(&Legacy {
        pk: k.0.clone(),
        sk: k.1.clone(),
        entity_type: "processed_event",
        expires_at: expires(),
    })
    .await
    .unwrap();
    assert_eq!(
        db.claim(k, "a", LEASE, expires()).await.unwrap(),
        Claim::Finished
    );
}
