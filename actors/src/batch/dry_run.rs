//! A batch's dry run: the real batch's pass (lookups, static rules, references, leases, play in
//! request order) with leases only asked, never taken, and nothing sent to the journal. Each
//! accepted item answers the accounts as they would stand after it and every item before it.

use std::collections::{BTreeSet, HashMap};

use futures_util::future::join_all;

use super::play::{first_refusal, play, Play};
use super::statics::{refuse_blocked, static_check};
use super::Pass;
use crate::config::BATCH_ITEMS_MAX;
use crate::dry_run::{DryRun, Probe};
use crate::engine::Engine;
use crate::model::{AccountId, AccountSnapshot, BatchError, BatchItem, Refusal};
use crate::registry::AccountHandle;

impl Engine {
    /// What `transfer_batch` would answer now, holding and storing nothing: an atomic batch's
    /// first refusal (with its index), or each item's outcome in request order.
    pub async fn dry_run_batch(
        &self,
        items: &[BatchItem],
        atomic: bool,
    ) -> Result<Vec<Result<DryRun, Refusal>>, BatchError> {
        assert!(
            !items.is_empty() && items.len() <= BATCH_ITEMS_MAX,
            "the caller bounds a batch"
        );
        // A dry run moves nothing: its replays are not transfers retried.
        self.play_until_settled(None, || self.dry_run_batch_pass(items, atomic))
            .await
    }

    async fn dry_run_batch_pass(
        &self,
        items: &[BatchItem],
        atomic: bool,
    ) -> Result<Vec<Result<DryRun, Refusal>>, Pass> {
        let handles = self.batch_handles(items).await?;
        let closed = self.closed_payees(items, &handles).await?;
        let mut statics: Vec<Result<(), Refusal>> = items
            .iter()
            .map(|item| static_check(item, &handles, &closed))
            .collect();
        self.refuse_taken_references(items, &mut statics).await?;
        let (leases, blocked) = self.lease(items, &statics, &handles, true).await?;
        refuse_blocked(items, &mut statics, &blocked);
        let play = play(items, &statics, &leases);
        if let (true, Some((index, refusal))) = (atomic, first_refusal(&play.decisions)) {
            return Err(Pass::Failed(BatchError::Refused {
                index,
                refusal,
                replayed: false,
            }));
        }
        let mut accounts = self.snapshots(items, &play, &handles).await?;
        let mut results = Vec::with_capacity(items.len());
        for (item, decision) in items.iter().zip(&play.decisions) {
            let result = decision.map(|()| {
                let [from, to] =
                    [item.request.from, item.request.to].map(|id| accounts[&id].clone());
                let pending = item.pending_timeout.is_some();
                let dry_run = DryRun::applied(item.request.clone(), pending, from, to);
                for account in [&dry_run.from_account, &dry_run.to_account] {
                    accounts.insert(account.id, account.clone());
                }
                dry_run
            });
            results.push(result);
        }
        Ok(results)
    }

    /// Both accounts of every accepted item, as their actors hold them now.
    async fn snapshots(
        &self,
        items: &[BatchItem],
        play: &Play,
        handles: &HashMap<AccountId, AccountHandle>,
    ) -> Result<HashMap<AccountId, AccountSnapshot>, Pass> {
        let touched: BTreeSet<AccountId> = items
            .iter()
            .zip(&play.decisions)
            .filter(|(_, decision)| decision.is_ok())
            .flat_map(|(item, _)| [item.request.from, item.request.to])
            .collect();
        let asks = touched.iter().map(|id| self.snapshot_of(&handles[id]));
        let mut accounts = HashMap::with_capacity(touched.len());
        for answer in join_all(asks).await {
            match answer {
                Ok(account) => {
                    accounts.insert(account.id, account);
                }
                Err(Probe::Retired) => return Err(Pass::Again),
                Err(Probe::Failed(error)) => return Err(Pass::Failed(error.into())),
            }
        }
        Ok(accounts)
    }
}
