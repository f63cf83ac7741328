//! Funding the seeded accounts: money enters only through the engine, one deposit per account
//! from the currency's reserve, many in flight at once (so they share journal batches), each
//! with an idempotency key so a retried deposit can never be paid twice.

use std::time::Duration;

use anyhow::bail;
use futures_util::stream::{self, StreamExt};
use tally_actors::{AccountId, Amount, Engine, IdempotencyKey, TransferError};

/// Attempts per deposit when the engine answers `Unavailable` (saturated, or the database
/// blinked); the idempotency key makes a retry safe.
const DEPOSIT_ATTEMPTS: u32 = 5;
/// The idempotency key of each account's funding deposit (scoped to its owner).
const FUNDING_KEY: &str = "tally-seed-funding";

/// Deposits in flight at once: half an account mailbox (they all pass through the reserve
/// account's actor, whose mailbox is bounded), between 1 and 128.
pub fn concurrency(mailbox_capacity: usize) -> usize {
    (mailbox_capacity / 2).clamp(1, 128)
}

/// One deposit of `balance` per account from the reserve, `concurrency` in flight.
pub async fn fund(
    engine: &Engine,
    accounts: &[(i64, String)],
    balance: i64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let amount = Amount::new(balance).map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
    let mut deposits = stream::iter(accounts)
        .map(|(account_id, owner)| deposit(engine, *account_id, owner, amount))
        .buffer_unordered(concurrency);
    while let Some(outcome) = deposits.next().await {
        outcome?;
    }
    Ok(())
}

async fn deposit(
    engine: &Engine,
    account_id: i64,
    owner: &str,
    amount: Amount,
) -> anyhow::Result<()> {
    let key = IdempotencyKey {
        username: owner.to_owned(),
        key: FUNDING_KEY.to_owned(),
        request_hash: format!("{account_id}:{}", amount.get()).into_bytes(),
        operation: "deposit".to_owned(),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match engine
            .deposit(AccountId::new(account_id), amount, Some(key.clone()))
            .await
        {
            Ok(_) => return Ok(()),
            Err(reason @ (TransferError::Saturated(_) | TransferError::Unavailable(_)))
                if attempt < DEPOSIT_ATTEMPTS =>
            {
                tracing::debug!(account_id, %reason, attempt, "seed deposit retried");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            Err(error) => bail!("depositing into account {account_id}: {error}"),
        }
    }
}
