//! Plain items for the journal's unit tests: the facts of a journal item, without actors.

use time::macros::datetime;
use time::OffsetDateTime;

use super::plan::Planned;
use super::{GroupKey, Operation};
use crate::model::{
    AccountId, AccountInfo, AccountKind, Amount, Currency, IdempotencyKey, TransferDetails,
    TransferId,
};

pub(crate) const CREATED: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub operation: Operation,
    pub from: AccountInfo,
    pub to: AccountInfo,
    pub amount: Amount,
    pub details: TransferDetails,
    pub idempotency: Option<IdempotencyKey>,
    pub group: Option<u64>,
    pub group_key: Option<GroupKey>,
}

pub(crate) fn account(id: i64) -> AccountInfo {
    AccountInfo {
        id: AccountId::new(id),
        owner: Some(format!("owner{id}")),
        currency: Currency::USD,
        kind: AccountKind::Customer,
        created_at: CREATED,
    }
}

pub(crate) fn transfer(from: i64, to: i64, amount: i64) -> Item {
    Item {
        operation: Operation::Transfer,
        from: account(from),
        to: account(to),
        amount: Amount::new(amount).expect("a positive amount"),
        details: TransferDetails::default(),
        idempotency: None,
        group: None,
        group_key: None,
    }
}

pub(crate) fn hold(from: i64, to: i64, amount: i64) -> Item {
    Item {
        operation: Operation::CreatePending {
            expires_at: CREATED + time::Duration::hours(1),
        },
        ..transfer(from, to, amount)
    }
}

pub(crate) fn post(from: i64, to: i64, pending_id: i64, amount: i64, held: i64) -> Item {
    Item {
        operation: Operation::Post {
            pending_id: TransferId::new(pending_id),
            held,
        },
        ..transfer(from, to, amount)
    }
}

pub(crate) fn release(from: i64, to: i64, pending_id: i64, held: i64) -> Item {
    Item {
        operation: Operation::Release {
            pending_id: TransferId::new(pending_id),
            held,
            expired: false,
        },
        ..transfer(from, to, held)
    }
}

pub(crate) fn key(username: &str, key: &str) -> IdempotencyKey {
    IdempotencyKey {
        username: username.to_owned(),
        key: key.to_owned(),
        request_hash: vec![1, 2, 3],
        operation: "transfer".to_owned(),
    }
}

pub(crate) fn grouped(mut item: Item, group: u64) -> Item {
    item.group = Some(group);
    item
}

impl Planned for Item {
    fn operation(&self) -> Operation {
        self.operation
    }
    fn payer(&self) -> &AccountInfo {
        &self.from
    }
    fn payee(&self) -> &AccountInfo {
        &self.to
    }
    fn amount(&self) -> Amount {
        self.amount
    }
    fn currency(&self) -> Currency {
        Currency::USD
    }
    fn details(&self) -> &TransferDetails {
        &self.details
    }
    fn idempotency(&self) -> Option<&IdempotencyKey> {
        self.idempotency.as_ref()
    }
    fn group(&self) -> Option<u64> {
        self.group
    }
    fn group_key(&self) -> Option<&GroupKey> {
        self.group_key.as_ref()
    }
}
