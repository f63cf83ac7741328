//! Reading numbered events back: the kinds, the rows each is read from, and their decoding.

use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::model::{
    AccountId, AccountKind, AccountSnapshot, AccountStatus, Amount, Currency, Transfer,
    TransferDetails, TransferId, TransferStatus,
};

/// The count and the last of the first `$3` positions in `($1, $2]`.
pub(super) const COUNT_POSITIONS: &str = "SELECT count(*), max(position) FROM (
        SELECT position FROM (
            (SELECT id AS position FROM transfers WHERE id > $1 AND id <= $2
             ORDER BY id LIMIT $3)
            UNION ALL
            (SELECT ended_position FROM transfers
             WHERE ended_position > $1 AND ended_position <= $2
             ORDER BY ended_position LIMIT $3)
            UNION ALL
            (SELECT opened_position FROM accounts
             WHERE opened_position > $1 AND opened_position <= $2
             ORDER BY opened_position LIMIT $3)
            UNION ALL
            (SELECT position FROM account_status_changes
             WHERE position > $1 AND position <= $2
             ORDER BY position LIMIT $3)
        ) AS p ORDER BY position LIMIT $3
    ) AS first";

/// The first `$3` events with a position in `($1, $2]`, each as it was at that position: a
/// pending transfer's own row is its `transfer.pending` (with what it held), a posting is the
/// pending transfer's `transfer.posted`, a reversal's row its `transfer.reversed` (in place of
/// `transfer.posted`: every transfer row is one event), an ended hold is its
/// `transfer.voided`/`expired`, a status change (V13) its `account.frozen`/`unfrozen`/`closed`
/// with the account's balance, held and overdraft then. `amount` of an account event is its balance.
pub(super) const EVENTS_BETWEEN: &str = "SELECT e.*, f.owner AS from_owner, d.owner AS to_owner,
        f.kind AS account_kind, f.currency AS account_currency,
        f.created_at AS account_created_at
    FROM (
        (SELECT t.id AS position,
                CASE WHEN t.pending_id IS NULL AND t.expires_at IS NOT NULL THEN 'transfer.pending'
                     WHEN t.reversal_of IS NOT NULL THEN 'transfer.reversed'
                     ELSE 'transfer.posted' END AS kind,
                COALESCE(t.pending_id, t.id) AS subject_id,
                t.from_account_id AS account_id, t.to_account_id,
                CASE WHEN t.pending_id IS NULL AND t.expires_at IS NOT NULL
                     THEN COALESCE(t.pending_amount, t.amount) ELSE t.amount END AS amount,
                NULL::bigint AS held,
                COALESCE(p.created_at, t.created_at) AS created_at,
                CASE WHEN t.pending_id IS NULL AND t.expires_at IS NOT NULL
                     THEN NULL ELSE t.posted_at END AS posted_at,
                COALESCE(p.expires_at, t.expires_at) AS expires_at,
                t.from_balance_after, t.to_balance_after,
                COALESCE(t.posted_at, t.created_at) AS at,
                COALESCE(p.description, t.description) AS description, t.reversal_of,
                NULL::bigint AS overdraft
         FROM transfers t LEFT JOIN transfers p ON p.id = t.pending_id
         WHERE t.id > $1 AND t.id <= $2 ORDER BY t.id LIMIT $3)
        UNION ALL
        (SELECT t.ended_position, 'transfer.' || t.status, t.id, t.from_account_id,
                t.to_account_id, COALESCE(t.pending_amount, t.amount), NULL, t.created_at, NULL,
                t.expires_at, NULL, NULL, t.ended_at, t.description, NULL, NULL
         FROM transfers t
         WHERE t.ended_position > $1 AND t.ended_position <= $2
         ORDER BY t.ended_position LIMIT $3)
        UNION ALL
        (SELECT a.opened_position, 'account.opened', a.id, a.id, NULL, 0, 0, a.created_at,
                NULL, NULL, NULL, NULL, a.created_at, NULL, NULL, 0
         FROM accounts a
         WHERE a.opened_position > $1 AND a.opened_position <= $2
         ORDER BY a.opened_position LIMIT $3)
        UNION ALL
        (SELECT c.position,
                CASE c.status WHEN 'frozen' THEN 'account.frozen'
                              WHEN 'active' THEN 'account.unfrozen'
                              ELSE 'account.closed' END,
                c.account_id, c.account_id, NULL, c.balance, c.held, NULL, NULL, NULL, NULL,
                NULL, c.changed_at, NULL, NULL, c.overdraft
         FROM account_status_changes c
         WHERE c.position > $1 AND c.position <= $2
         ORDER BY c.position LIMIT $3)
    ) AS e
    JOIN accounts f ON f.id = e.account_id
    LEFT JOIN accounts d ON d.id = e.to_account_id
    ORDER BY e.position LIMIT $3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    TransferPosted,
    TransferPending,
    TransferVoided,
    TransferExpired,
    /// A refund: the reversing transfer, posted, naming the original (`reversal_of`).
    TransferReversed,
    AccountOpened,
    AccountFrozen,
    AccountUnfrozen,
    AccountClosed,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::TransferPosted,
        EventKind::TransferPending,
        EventKind::TransferVoided,
        EventKind::TransferExpired,
        EventKind::TransferReversed,
        EventKind::AccountOpened,
        EventKind::AccountFrozen,
        EventKind::AccountUnfrozen,
        EventKind::AccountClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TransferPosted => "transfer.posted",
            EventKind::TransferPending => "transfer.pending",
            EventKind::TransferVoided => "transfer.voided",
            EventKind::TransferExpired => "transfer.expired",
            EventKind::TransferReversed => "transfer.reversed",
            EventKind::AccountOpened => "account.opened",
            EventKind::AccountFrozen => "account.frozen",
            EventKind::AccountUnfrozen => "account.unfrozen",
            EventKind::AccountClosed => "account.closed",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    /// The account's status right after an account event.
    fn account_status(self) -> Option<AccountStatus> {
        match self {
            EventKind::AccountOpened | EventKind::AccountUnfrozen => Some(AccountStatus::Active),
            EventKind::AccountFrozen => Some(AccountStatus::Frozen),
            EventKind::AccountClosed => Some(AccountStatus::Closed),
            _ => None,
        }
    }

    /// The transfer's status right after a transfer event.
    fn transfer_status(self) -> Option<TransferStatus> {
        match self {
            EventKind::TransferPosted | EventKind::TransferReversed => Some(TransferStatus::Posted),
            EventKind::TransferPending => Some(TransferStatus::Pending),
            EventKind::TransferVoided => Some(TransferStatus::Voided),
            EventKind::TransferExpired => Some(TransferStatus::Expired),
            _ => None,
        }
    }
}

/// One change, as it was when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub kind: EventKind,
    pub created_at: OffsetDateTime,
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    /// The transfer with its accounts' owners (who may see it) and, when it moved money, each
    /// account's balance right after it.
    Transfer {
        transfer: Transfer,
        from_owner: Option<String>,
        to_owner: Option<String>,
        from_balance_after: Option<i64>,
        to_balance_after: Option<i64>,
    },
    /// The account as it stood right after the change (opened: no money yet).
    Account(AccountSnapshot),
}

impl Event {
    /// Whether `username` owns an account this event touches.
    pub fn touches_owner(&self, username: &str) -> bool {
        let owner = Some(username);
        match &self.body {
            EventBody::Transfer {
                from_owner,
                to_owner,
                ..
            } => from_owner.as_deref() == owner || to_owner.as_deref() == owner,
            EventBody::Account(account) => account.owner.as_deref() == owner,
        }
    }
}

/// The event numbered `id` from its row of EVENTS_BETWEEN.
pub(super) fn event(id: i64, row: &Row) -> Result<Event, String> {
    let corrupt = |what: &str| format!("event {id}: unreadable {what}");
    let kind: String = row.get("kind");
    let kind = EventKind::parse(&kind).ok_or_else(|| corrupt("kind"))?;
    let at: OffsetDateTime = row.get("at");
    let body = match (kind.account_status(), kind.transfer_status()) {
        (Some(status), _) => account_body(row, status).ok_or_else(|| corrupt("account"))?,
        (None, Some(status)) => transfer_body(row, status).ok_or_else(|| corrupt("transfer"))?,
        (None, None) => unreachable!("every kind is an account's or a transfer's"),
    };
    Ok(Event {
        id,
        kind,
        created_at: at,
        body,
    })
}

fn account_body(row: &Row, status: AccountStatus) -> Option<EventBody> {
    let kind: String = row.get("account_kind");
    let currency: String = row.get("account_currency");
    let account = AccountSnapshot {
        id: row.get::<_, AccountId>("account_id"),
        owner: row.get("from_owner"),
        balance: row.get::<_, Option<i64>>("amount")?,
        held: row.get::<_, Option<i64>>("held")?,
        currency: Currency::parse(&currency)?,
        kind: AccountKind::parse(&kind)?,
        created_at: row.get("account_created_at"),
        status,
        overdraft: row.get::<_, Option<i64>>("overdraft")?,
    };
    Some(EventBody::Account(account))
}

fn transfer_body(row: &Row, status: TransferStatus) -> Option<EventBody> {
    let currency: String = row.get("account_currency");
    let transfer = Transfer {
        id: row.get::<_, TransferId>("subject_id"),
        from_account_id: row.get("account_id"),
        to_account_id: row.get("to_account_id"),
        amount: Amount::new(row.get::<_, Option<i64>>("amount")?).ok()?,
        currency: Currency::parse(&currency)?,
        status,
        created_at: row.get("created_at"),
        posted_at: row.get("posted_at"),
        expires_at: row.get("expires_at"),
        // Events reach both parties: only what both may read (the payer's reference and
        // metadata stay out).
        details: TransferDetails {
            description: row.get("description"),
            reversal_of: row.get("reversal_of"),
            ..TransferDetails::default()
        },
        reversed_amount: 0,
    };
    Some(EventBody::Transfer {
        transfer,
        from_owner: row.get("from_owner"),
        to_owner: row.get("to_owner"),
        from_balance_after: row.get("from_balance_after"),
        to_balance_after: row.get("to_balance_after"),
    })
}
