use serde_json::json;

use super::*;
use crate::model::TransferError;

/// A transfer's outcome as migration V4 rewrote the rows stored before it (V3's shape plus the
/// fields V4 added; no `replayed`, no `version`).
fn v3_row_after_v4() -> serde_json::Value {
    json!({
        "transfer": {
            "id": 7, "from_account_id": 1, "to_account_id": 2, "amount": 250,
            "currency": "USD", "created_at": "2025-03-01T10:00:00Z",
            "status": "posted", "posted_at": "2025-03-01T10:00:00Z", "expires_at": null
        },
        "from_entry": {
            "id": 14, "account_id": 1, "transfer_id": 7, "amount": -250,
            "created_at": "2025-03-01T10:00:00Z", "balance_after": 750
        },
        "to_entry": {
            "id": 15, "account_id": 2, "transfer_id": 7, "amount": 250,
            "created_at": "2025-03-01T10:00:00Z", "balance_after": 250
        },
        "from_account": {
            "id": 1, "owner": "alice", "balance": 750, "currency": "USD", "kind": "customer",
            "created_at": "2025-01-01T00:00:00Z", "held": 0
        },
        "to_account": {
            "id": 2, "owner": "bob", "balance": 250, "currency": "USD", "kind": "customer",
            "created_at": "2025-01-01T00:00:00Z", "held": 0
        }
    })
}

/// A transfer's outcome as the engine wrote it after V4, before versioning: the public model
/// serialised, `replayed: false` included.
fn unversioned_hold() -> serde_json::Value {
    json!({
        "transfer": {
            "id": 9, "from_account_id": 3, "to_account_id": 4, "amount": 40,
            "currency": "EUR", "status": "pending", "created_at": "2026-02-03T04:05:06.123456Z",
            "posted_at": null, "expires_at": "2026-02-03T05:05:06.123456Z"
        },
        "from_entry": null,
        "to_entry": null,
        "from_account": {
            "id": 3, "owner": "carol", "balance": 100, "held": 40, "currency": "EUR",
            "kind": "customer", "created_at": "2026-01-01T00:00:00Z"
        },
        "to_account": {
            "id": 4, "owner": null, "balance": -100, "held": 0, "currency": "EUR",
            "kind": "reserve", "created_at": "2026-01-01T00:00:00Z"
        },
        "replayed": false
    })
}

/// A batch's outcome as the engine wrote it before versioning.
fn unversioned_batch() -> serde_json::Value {
    json!({
        "results": [
            {"committed": v3_row_after_v4()},
            {"refused": "insufficient_funds"},
            {"committed": unversioned_hold()}
        ],
        "replayed": false
    })
}

#[test]
fn a_v3_row_as_v4_rewrote_it_decodes() {
    let transferred = StoredTransfer::decode(v3_row_after_v4()).expect("it decodes");
    assert_eq!(transferred.transfer.id, TransferId::new(7));
    assert_eq!(transferred.transfer.amount.get(), 250);
    assert_eq!(transferred.transfer.status, TransferStatus::Posted);
    let debit = transferred.from_entry.expect("a debit");
    assert_eq!((debit.id, debit.balance_after), (14, 750));
    assert_eq!(transferred.to_account.owner.as_deref(), Some("bob"));
    assert!(transferred.replayed, "a decoded outcome is a replay");
}

#[test]
fn an_account_stored_before_holds_decodes_with_nothing_held() {
    let mut row = v3_row_after_v4();
    row["from_account"]
        .as_object_mut()
        .expect("an object")
        .remove("held");
    let transferred = StoredTransfer::decode(row).expect("it decodes");
    assert_eq!(transferred.from_account.held, 0);
}

#[test]
fn an_unversioned_hold_decodes() {
    let transferred = StoredTransfer::decode(unversioned_hold()).expect("it decodes");
    assert_eq!(transferred.transfer.status, TransferStatus::Pending);
    assert_eq!(transferred.transfer.currency, Currency::EUR);
    assert!(transferred.transfer.expires_at.is_some());
    assert!(transferred.from_entry.is_none());
    assert_eq!(transferred.from_account.held, 40);
    assert_eq!(transferred.to_account.kind, AccountKind::Reserve);
    assert_eq!(transferred.to_account.owner, None);
}

#[test]
fn an_unversioned_batch_decodes() {
    let outcome = StoredBatch::decode(unversioned_batch())
        .expect("it decodes")
        .expect("an outcome");
    assert!(outcome.replayed);
    assert_eq!(outcome.results.len(), 3);
    assert_eq!(
        outcome.results[1],
        BatchItemOutcome::Refused(Refusal::InsufficientFunds)
    );
    match &outcome.results[2] {
        BatchItemOutcome::Committed(transferred) => {
            assert_eq!(transferred.transfer.id, TransferId::new(9))
        }
        other => panic!("a committed item, not {other:?}"),
    }
}

#[test]
fn a_transfer_round_trips_at_the_current_version() {
    let original = StoredTransfer::decode(unversioned_hold()).expect("it decodes");
    let stored = StoredTransfer::encode(&original);
    assert_eq!(stored["version"], json!(STORED_VERSION));
    let again = StoredTransfer::decode(stored).expect("it decodes");
    assert_eq!(again, original);
}

#[test]
fn a_batch_round_trips_at_the_current_version() {
    let original = StoredBatch::decode(unversioned_batch())
        .expect("it decodes")
        .expect("an outcome");
    let stored = StoredBatch::encode(&original);
    assert_eq!(stored["version"], json!(STORED_VERSION));
    assert!(stored.get("replayed").is_none(), "replayed is not stored");
    assert_eq!(
        StoredBatch::decode(stored).expect("it decodes"),
        Ok(original)
    );
}

#[test]
fn the_stored_names_are_the_ones_rows_already_hold() {
    // These names are in tables: renaming a public field must not change them.
    let original = StoredTransfer::decode(v3_row_after_v4()).expect("it decodes");
    let stored = StoredTransfer::encode(&original);
    let mut keys: Vec<&str> = stored
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "from_account",
            "from_entry",
            "to_account",
            "to_entry",
            "transfer",
            "version"
        ]
    );
    let mut row = v3_row_after_v4();
    row["version"] = json!(STORED_VERSION);
    assert_eq!(
        stored, row,
        "the same JSON as the old rows, plus the version"
    );
}

#[test]
fn a_newer_version_is_refused_not_misread() {
    let mut row = v3_row_after_v4();
    row["version"] = json!(VERSION_READ_MAX + 1);
    assert!(matches!(
        StoredTransfer::decode(row),
        Err(StoredError::Newer(version)) if version == VERSION_READ_MAX + 1
    ));
    let mut batch = unversioned_batch();
    batch["version"] = json!(VERSION_READ_MAX + 1);
    assert!(matches!(
        StoredBatch::decode(batch),
        Err(StoredError::Newer(_))
    ));
}

#[test]
fn a_malformed_row_is_an_error() {
    assert!(matches!(
        StoredTransfer::decode(json!({"transfer": 7})),
        Err(StoredError::Malformed(_))
    ));
    assert!(matches!(
        StoredBatch::decode(json!({"results": [{"lost": 1}]})),
        Err(StoredError::Malformed(_))
    ));
}

#[test]
fn a_nested_newer_transfer_fails_its_batch() {
    let mut row = v3_row_after_v4();
    row["version"] = json!(VERSION_READ_MAX + 1);
    let batch = json!({"results": [{"committed": row}]});
    assert!(StoredBatch::decode(batch).is_err());
}

/// An atomic batch refused whole, as version 2 stores it (the form's first version).
fn v2_refused_batch() -> serde_json::Value {
    json!({"version": 2, "refused": {"index": 1, "refusal": "insufficient_funds"}})
}

#[test]
fn a_refused_atomic_batch_decodes_as_its_refusal_replayed() {
    let answer = StoredBatch::decode(v2_refused_batch()).expect("it decodes");
    assert_eq!(
        answer,
        Err(BatchError::Refused {
            index: 1,
            refusal: Refusal::InsufficientFunds,
            replayed: true,
        })
    );
}

#[test]
fn a_refused_atomic_batch_is_stored_in_the_version_2_form() {
    let refused = Err(BatchError::Refused {
        index: 1,
        refusal: Refusal::InsufficientFunds,
        replayed: false,
    });
    let stored = StoredBatch::encode_answer(&refused).expect("a refusal is stored");
    assert_eq!(stored, v2_refused_batch(), "the form rows hold");
    assert_eq!(stored["version"], json!(REFUSED_VERSION));
}

#[test]
fn every_refusal_round_trips_with_its_index() {
    let refusals = [
        Refusal::NotFound,
        Refusal::Forbidden,
        Refusal::CurrencyMismatch,
        Refusal::InsufficientFunds,
        Refusal::SameAccount,
    ];
    for (index, refusal) in refusals.into_iter().enumerate() {
        let answer = Err(BatchError::Refused {
            index,
            refusal,
            replayed: false,
        });
        let stored = StoredBatch::encode_answer(&answer).expect("a refusal is stored");
        let replayed = Err(BatchError::Refused {
            index,
            refusal,
            replayed: true,
        });
        assert_eq!(StoredBatch::decode(stored).expect("it decodes"), replayed);
    }
}

#[test]
fn an_unavailable_batch_is_not_stored() {
    let failures = [
        TransferError::Saturated(crate::model::Saturation::InFlight),
        TransferError::Unavailable(crate::model::Outage::Database("gone".to_owned())),
        TransferError::Corrupt { what: "amount" },
    ];
    for failure in failures {
        let answer = Err(BatchError::Failed(failure));
        assert_eq!(StoredBatch::encode_answer(&answer), None);
    }
}

#[test]
fn a_committed_batch_is_still_stored_at_version_1() {
    // The previous binary reads it during a rolling upgrade: its form did not change.
    let outcome = StoredBatch::decode(unversioned_batch())
        .expect("it decodes")
        .expect("an outcome");
    let stored = StoredBatch::encode_answer(&Ok(outcome)).expect("an outcome is stored");
    assert_eq!(stored["version"], json!(1));
    assert!(stored.get("refused").is_none());
}

#[test]
fn a_newer_or_malformed_refused_batch_is_an_error() {
    let mut newer = v2_refused_batch();
    newer["version"] = json!(VERSION_READ_MAX + 1);
    assert!(matches!(
        StoredBatch::decode(newer),
        Err(StoredError::Newer(_))
    ));
    let lost = json!({"version": 2, "refused": {"index": 1, "refusal": "lost"}});
    assert!(matches!(
        StoredBatch::decode(lost),
        Err(StoredError::Malformed(_))
    ));
    let no_index = json!({"version": 2, "refused": {"refusal": "not_found"}});
    assert!(matches!(
        StoredBatch::decode(no_index),
        Err(StoredError::Malformed(_))
    ));
}

#[test]
fn a_batch_past_the_holds_cap_round_trips_in_the_version_2_form() {
    let refused = Err(BatchError::TooManyHolds {
        index: 3,
        replayed: false,
    });
    let stored = StoredBatch::encode_answer(&refused).expect("a refusal is stored");
    assert_eq!(
        stored,
        json!({"version": 2, "refused": {"index": 3, "refusal": "too_many_holds"}})
    );
    assert_eq!(
        StoredBatch::decode(stored).expect("it decodes"),
        Err(BatchError::TooManyHolds {
            index: 3,
            replayed: true,
        })
    );
}
