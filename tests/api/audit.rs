//! The auditor in the service: a balance corrupted by hand shows in `/metrics` within one audit
//! interval.

use std::time::{Duration, Instant};

use crate::helpers::spawn_app_with;

const AUDIT_INTERVAL: Duration = Duration::from_secs(1);

#[actix_web::test]
async fn a_corrupted_balance_raises_the_violation_metric_within_one_audit_interval() {
    let app = spawn_app_with(|settings| settings.engine.audit_interval = AUDIT_INTERVAL).await;
    let conservation = r#"tally_audit_violations{invariant="conservation"}"#;
    assert_eq!(app.metric(conservation).await, Some(0.0));
    // Let one audit pass on the healthy ledger, so the next one is the one that must see it.
    let started = Instant::now();
    while app
        .metric("tally_audit_last_success_timestamp_seconds")
        .await
        == Some(0.0)
    {
        assert!(started.elapsed() < AUDIT_INTERVAL * 5, "no audit ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.metric(conservation).await, Some(0.0));

    let changed = app
        .db()
        .await
        .execute(
            "UPDATE accounts SET balance = balance - 1 WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("a balance corrupted by hand");
    assert_eq!(changed, 1);
    let corrupted_at = Instant::now();
    // One interval, and generous slack for this shared machine.
    while app.metric(conservation).await != Some(1.0) {
        assert!(
            corrupted_at.elapsed() < AUDIT_INTERVAL * 5,
            "the violation is not reported"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last_success = app
        .metric("tally_audit_last_success_timestamp_seconds")
        .await
        .expect("the last success");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!((now - last_success).abs() < 10.0, "{now} vs {last_success}");
}
