//! Batch requests: up to `BATCH_ITEMS_MAX` transfers (pending ones too) from one caller, taking
//! effect in request order, written in one journal transaction.
//!
//! One pass, not one round trip per item: each account that pays in the batch is asked once for
//! a lease of what it must pay in total (granted up to its available money, after a check against
//! PostgreSQL when short); the batch is then played in request order against those leases, so
//! item k sees what items before it moved (a credit earlier in the batch funds a later debit);
//! each touched account is told once which holds the accepted items keep; and the accepted items
//! go to the journal as one group, committed together or not at all. Leases hold only what the
//! batch needs, so single transfers on the same accounts keep being served meanwhile.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::join_all;
use prometheus::IntCounter;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::account::{
    Apportion, Apportioned, Lease, LeaseReply, SettlementOutcome, Snapshot, SnapshotReply,
};
use crate::config::BATCH_ITEMS_MAX;
use crate::coordinator::run_detached;
use crate::engine::Engine;
use crate::journal::stored::BatchAnswer;
use crate::journal::{release_item, GroupKey, JournalItem, JournalOutcome, Operation};
use crate::metrics::Queue;
use crate::model::{
    AccountId, AccountStatus, BatchError, BatchItem, BatchItemOutcome, BatchOutcome,
    IdempotencyKey, LookupError, Refusal, TransferError,
};
use crate::model::{Outage, Saturation};
use crate::registry::AccountHandle;

mod dry_run;
mod play;
mod statics;

use play::{first_refusal, play, refused_only, Play};
use statics::{refuse_blocked, static_check};

/// Group numbers, unique within the process (the journal only compares them within a batch).
static GROUPS: AtomicU64 = AtomicU64::new(1);

/// How one pass over the batch ended when it did not commit.
enum Pass {
    /// An account's cache was stale or an actor retired: play the batch again.
    Again,
    Failed(BatchError),
}

impl From<TransferError> for Pass {
    fn from(error: TransferError) -> Pass {
        Pass::Failed(error.into())
    }
}

impl Engine {
    /// Runs a batch request to its end in a task of its own (a caller that goes away cannot
    /// strand its leases). `atomic`: all items commit, or none and the first refusal is the
    /// answer. Otherwise each item commits or is refused on its own.
    pub async fn transfer_batch(
        &self,
        items: Vec<BatchItem>,
        atomic: bool,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<BatchOutcome, BatchError> {
        assert!(
            !items.is_empty() && items.len() <= BATCH_ITEMS_MAX,
            "the caller bounds a batch"
        );
        let engine = self.clone();
        let run = async move { engine.batch_to_end(items, atomic, idempotency).await };
        run_detached(run).await
    }

    /// A batch refused before it is played (`BatchError::TooManyHolds`): with a key, the key's
    /// stored answer when it has one (a replay is a replay, whatever the holds now), else this
    /// refusal, stored as a played batch's answer is.
    pub async fn refuse_batch(
        &self,
        refused: BatchError,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<BatchOutcome, BatchError> {
        let Some(key) = idempotency else {
            return Err(refused);
        };
        let Ok(_permit) = self.inner.in_flight.try_acquire() else {
            self.inner.metrics.rejected(Queue::InFlight);
            return Err(TransferError::Saturated(Saturation::InFlight).into());
        };
        let _guard = self.inner.idempotency.lock(&key).await;
        if let Some(answer) = self.inner.idempotency.replay_batch(&key).await? {
            self.inner.metrics.idempotent_replays.inc();
            return answer;
        }
        self.inner
            .idempotency
            .store_refused_batch(&key, Err(refused))
            .await?
    }

    async fn batch_to_end(
        &self,
        items: Vec<BatchItem>,
        atomic: bool,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<BatchOutcome, BatchError> {
        let Ok(_permits) = self.inner.in_flight.try_acquire_many(items.len() as u32) else {
            self.inner.metrics.rejected(Queue::InFlight);
            return Err(TransferError::Saturated(Saturation::InFlight).into());
        };
        let _key = match &idempotency {
            None => None,
            Some(key) => {
                let guard = self.inner.idempotency.lock(key).await;
                if let Some(answer) = self.inner.idempotency.replay_batch(key).await? {
                    self.inner.metrics.idempotent_replays.inc();
                    return answer;
                }
                Some(guard)
            }
        };
        let retries = Some(&self.inner.metrics.stale_retries);
        self.play_until_settled(retries, || {
            self.batch_pass(&items, atomic, idempotency.as_ref())
        })
        .await
    }

    /// Runs `pass` again while a stale cache or a retired actor asks for it, at most
    /// `stale_retries_max` times more (each counted in `retries`, when given), then answers
    /// `Contended`.
    async fn play_until_settled<T, Played>(
        &self,
        retries: Option<&IntCounter>,
        mut pass: impl FnMut() -> Played,
    ) -> Result<T, BatchError>
    where
        Played: Future<Output = Result<T, Pass>>,
    {
        let mut passes = 0;
        loop {
            match pass().await {
                Ok(played) => return Ok(played),
                Err(Pass::Again) if passes < self.inner.config.stale_retries_max => {
                    passes += 1;
                    retries.inspect(|counter| counter.inc());
                }
                Err(Pass::Again) => {
                    return Err(TransferError::Saturated(Saturation::Contended).into())
                }
                Err(Pass::Failed(error)) => return Err(error),
            }
        }
    }

    /// One pass: look up, lease, play in order, apportion, journal.
    async fn batch_pass(
        &self,
        items: &[BatchItem],
        atomic: bool,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BatchOutcome, Pass> {
        let handles = self.batch_handles(items).await?;
        let closed = self.closed_payees(items, &handles).await?;
        let mut statics: Vec<Result<(), Refusal>> = items
            .iter()
            .map(|item| static_check(item, &handles, &closed))
            .collect();
        self.refuse_taken_references(items, &mut statics).await?;
        let (leases, blocked) = self.lease(items, &statics, &handles, false).await?;
        refuse_blocked(items, &mut statics, &blocked);
        let play = play(items, &statics, &leases);
        if let (true, Some((index, refusal))) = (atomic, first_refusal(&play.decisions)) {
            self.release_leases(&leases, &handles);
            let refused = BatchError::Refused {
                index,
                refusal,
                replayed: false,
            };
            return self.answer_unwritten(idempotency, Err(refused)).await;
        }
        self.apportion(&play, &leases, &handles).await?;
        let accepted = play.decisions.iter().filter(|d| d.is_ok()).count();
        if accepted == 0 {
            let outcome = refused_only(&play.decisions);
            return self.answer_unwritten(idempotency, Ok(outcome)).await;
        }
        self.commit_group(items, &play, &handles, idempotency).await
    }

    /// Refuses (before any lease) the items whose reference their payer already used: in a
    /// committed transfer, or in an earlier item of this batch. One committed meanwhile fails
    /// the journal's insert instead, and the batch is played again.
    async fn refuse_taken_references(
        &self,
        items: &[BatchItem],
        statics: &mut [Result<(), Refusal>],
    ) -> Result<(), Pass> {
        let asked: Vec<(AccountId, &str)> = items
            .iter()
            .zip(statics.iter())
            .filter(|(_, fits)| fits.is_ok())
            .filter_map(|(item, _)| {
                Some((
                    item.request.from,
                    item.request.details.reference.as_deref()?,
                ))
            })
            .collect();
        if asked.is_empty() {
            return Ok(());
        }
        let taken = self
            .inner
            .reads
            .taken_references(&asked)
            .await
            .map_err(TransferError::from)?;
        let mut seen: HashSet<(AccountId, &str)> = HashSet::with_capacity(asked.len());
        for (item, fits) in items.iter().zip(statics.iter_mut()) {
            let Some(reference) = item.request.details.reference.as_deref() else {
                continue;
            };
            if fits.is_err() {
                continue;
            }
            let pair = (item.request.from, reference);
            let committed = taken.contains(&(pair.0, reference.to_owned()));
            if committed || !seen.insert(pair) {
                *fits = Err(Refusal::DuplicateReference);
            }
        }
        Ok(())
    }

    /// The answer of a batch that writes nothing, stored with its key (if any) as a committed
    /// batch's is: the same key then answers the same, whatever the accounts became since.
    async fn answer_unwritten(
        &self,
        idempotency: Option<&IdempotencyKey>,
        answer: BatchAnswer,
    ) -> Result<BatchOutcome, Pass> {
        let answer = match idempotency {
            None => answer,
            Some(key) => {
                self.inner
                    .idempotency
                    .store_refused_batch(key, answer)
                    .await?
            }
        };
        answer.map_err(Pass::Failed)
    }

    /// Every account the batch names, activated; a missing one is refused per item later.
    async fn batch_handles(
        &self,
        items: &[BatchItem],
    ) -> Result<HashMap<AccountId, AccountHandle>, Pass> {
        let mut ids: Vec<AccountId> = items
            .iter()
            .flat_map(|item| [item.request.from, item.request.to])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // One query for every account not active yet, however many the batch names.
        let found = self
            .inner
            .registry
            .get_many(&ids)
            .await
            .map_err(TransferError::from)?;
        let mut handles = HashMap::with_capacity(ids.len());
        for (id, found) in ids.into_iter().zip(found) {
            match found {
                Ok(handle) => {
                    handles.insert(id, handle);
                }
                Err(LookupError::NotFound) => {}
                Err(error) => return Err(TransferError::from(error).into()),
            }
        }
        Ok(handles)
    }

    /// The closed accounts among those the batch pays into (a closed account takes no credit).
    /// Closed is final, so an actor's word for it needs no check against PostgreSQL; an
    /// account closed on another replica meanwhile is refused by the journal, reloads, and is
    /// seen closed on the next pass.
    async fn closed_payees(
        &self,
        items: &[BatchItem],
        handles: &HashMap<AccountId, AccountHandle>,
    ) -> Result<HashSet<AccountId>, Pass> {
        let payees: BTreeSet<AccountId> = items
            .iter()
            .map(|item| item.request.to)
            .filter(|id| handles.contains_key(id))
            .collect();
        let asks = payees.into_iter().map(|id| {
            let handle = handles[&id].clone();
            async move {
                let (reply, answer) = oneshot::channel();
                let sent = handle
                    .addr
                    .send(Snapshot {
                        reply,
                        counts_as_use: true,
                    })
                    .await;
                let status = match (sent, answer.await) {
                    (Ok(()), Ok(SnapshotReply::Account(account))) => Some(account.status),
                    _ => None,
                };
                (handle, status)
            }
        });
        let mut closed = HashSet::new();
        for (handle, status) in join_all(asks).await {
            match status {
                Some(AccountStatus::Closed) => {
                    closed.insert(handle.info.id);
                }
                Some(_) => {}
                None => {
                    self.inner.registry.evict(&handle);
                    return Err(Pass::Again);
                }
            }
        }
        Ok(closed)
    }

    /// Leases from each paying account (ascending id) what the batch would take from it (a
    /// `probe` only asks what would be granted); also answers the paying accounts that may not
    /// pay at all (frozen or closed).
    async fn lease(
        &self,
        items: &[BatchItem],
        statics: &[Result<(), Refusal>],
        handles: &HashMap<AccountId, AccountHandle>,
        probe: bool,
    ) -> Result<(BTreeMap<AccountId, i64>, HashMap<AccountId, Refusal>), Pass> {
        let mut wanted: BTreeMap<AccountId, i64> = BTreeMap::new();
        for (item, fits) in items.iter().zip(statics) {
            if fits.is_ok() {
                let total = wanted.entry(item.request.from).or_insert(0);
                *total = total.saturating_add(item.request.amount.get());
            }
        }
        let asks = wanted.iter().map(|(id, debit_max)| {
            let handle = handles[id].clone();
            let debit_max = *debit_max;
            async move {
                let (reply, answer) = oneshot::channel();
                let message = Lease {
                    debit_max,
                    probe,
                    reply,
                };
                let sent = handle.addr.send(message).await;
                match (sent, answer.await) {
                    (Ok(()), Ok(reply)) => (handle, reply),
                    _ => (handle, LeaseReply::Retired),
                }
            }
        });
        let answers = join_all(asks).await;
        let mut leases = BTreeMap::new();
        let mut blocked = HashMap::new();
        let mut failure = None;
        for (handle, reply) in &answers {
            match reply {
                LeaseReply::Granted(granted) => {
                    leases.insert(handle.info.id, *granted);
                }
                LeaseReply::Refused(refusal) => {
                    blocked.insert(handle.info.id, *refusal);
                }
                LeaseReply::Retired => {
                    self.inner.registry.evict(handle);
                    failure.get_or_insert(Pass::Again);
                }
                LeaseReply::Unavailable => {
                    failure = Some(Pass::Failed(
                        TransferError::Unavailable(Outage::AccountNotLoaded).into(),
                    ));
                }
            }
        }
        match failure {
            None => Ok((leases, blocked)),
            Some(failure) => {
                // A probe leased nothing: nothing to give back.
                if !probe {
                    self.release_leases(&leases, handles);
                }
                Err(failure)
            }
        }
    }

    fn release_leases(
        &self,
        leases: &BTreeMap<AccountId, i64>,
        handles: &HashMap<AccountId, AccountHandle>,
    ) {
        for (id, leased) in leases {
            let apportion = Apportion::lease_only(*leased);
            let (reply, _) = oneshot::channel();
            let addr = handles[id].addr.clone();
            tokio::spawn(async move {
                let _ = addr.send(Apportioned(apportion, reply)).await;
            });
        }
    }

    /// Tells each touched account which holds the accepted items keep (its lease becomes
    /// them). Awaited before the journal is asked, so these come before any settlement.
    async fn apportion(
        &self,
        play: &Play,
        leases: &BTreeMap<AccountId, i64>,
        handles: &HashMap<AccountId, AccountHandle>,
    ) -> Result<(), Pass> {
        let mut touched: BTreeMap<AccountId, Apportion> = BTreeMap::new();
        for (id, leased) in leases {
            touched.insert(*id, Apportion::lease_only(*leased));
        }
        for (id, (debits, debit_holds, credits, credit_holds)) in &play.holds {
            let apportion = touched.entry(*id).or_insert(Apportion::lease_only(0));
            apportion.lease_holds = u32::from(leases.contains_key(id));
            apportion.debits = *debits;
            apportion.debit_holds = *debit_holds;
            apportion.credits = *credits;
            apportion.credit_holds = *credit_holds;
        }
        let sends = touched.into_iter().map(|(id, apportion)| {
            let addr = handles[&id].addr.clone();
            async move {
                let (reply, answer) = oneshot::channel();
                let sent = addr.send(Apportioned(apportion.clone(), reply)).await;
                let applied = sent.is_ok() && answer.await.unwrap_or(false);
                (id, apportion, applied)
            }
        });
        let outcomes = join_all(sends).await;
        if outcomes.iter().all(|(_, _, applied)| *applied) {
            return Ok(());
        }
        // An account that only receives retired meanwhile: undo what was applied, play again.
        for (id, apportion, applied) in outcomes {
            if applied {
                self.undo_apportion(&handles[&id], &apportion);
            } else {
                self.inner.registry.evict(&handles[&id]);
            }
        }
        Err(Pass::Again)
    }

    /// Releases the holds an apportion put on an account.
    fn undo_apportion(&self, handle: &AccountHandle, apportion: &Apportion) {
        let settlement = crate::account::Settlement {
            debits: apportion.debits,
            credits: apportion.credits,
            holds: apportion.debit_holds + apportion.credit_holds,
            outcome: SettlementOutcome::Released,
        };
        let addr = handle.addr.clone();
        tokio::spawn(async move {
            let _ = addr.send(crate::account::Settle(settlement)).await;
        });
    }

    /// Hands the accepted items to the journal as one group and waits for its answer.
    async fn commit_group(
        &self,
        items: &[BatchItem],
        play: &Play,
        handles: &HashMap<AccountId, AccountHandle>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BatchOutcome, Pass> {
        let group = GROUPS.fetch_add(1, Ordering::Relaxed);
        let now = OffsetDateTime::now_utc();
        let mut group_key = idempotency.map(|key| {
            Box::new(GroupKey {
                key: key.clone(),
                outcome: play
                    .decisions
                    .iter()
                    .map(|decision| decision.err().map(BatchItemOutcome::Refused))
                    .collect(),
            })
        });
        let mut answers = Vec::new();
        let mut journal_items = Vec::new();
        for (item, decision) in items.iter().zip(&play.decisions) {
            if decision.is_err() {
                continue;
            }
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            journal_items.push(JournalItem {
                operation: operation(item, now),
                from: handles[&item.request.from].clone(),
                to: handles[&item.request.to].clone(),
                amount: item.request.amount,
                currency: item.request.currency,
                details: item.request.details.clone(),
                idempotency: None,
                group: Some(group),
                group_key: group_key.take(),
                reply,
                span: tracing::Span::current(),
            });
        }
        if let Err(items) = self.inner.journal.submit_group(journal_items) {
            self.inner.metrics.rejected(Queue::Journal);
            for item in &items {
                release_item(item, SettlementOutcome::Released);
            }
            return Err(TransferError::Saturated(Saturation::JournalQueue).into());
        }
        let outcomes = join_all(answers).await;
        let mut committed = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            match outcome {
                Ok(JournalOutcome::Committed(transferred)) => committed.push(transferred),
                // A reference committed by another request since this pass checked: the next
                // pass finds it taken and refuses that item alone.
                Ok(
                    JournalOutcome::Stale
                    | JournalOutcome::GroupAborted
                    | JournalOutcome::DuplicateReference,
                ) => return Err(Pass::Again),
                Ok(JournalOutcome::DuplicateKey) => {
                    let key = idempotency.expect("only a keyed batch collides on a key");
                    return match self.inner.idempotency.replay_batch(key).await? {
                        Some(answer) => answer.map_err(Pass::Failed),
                        None => Err(TransferError::Saturated(Saturation::KeyInUse).into()),
                    };
                }
                // A batch item is never a reversal: only the route of one refund makes those.
                Ok(JournalOutcome::NotPending)
                | Ok(JournalOutcome::ReversalExceeded)
                | Ok(JournalOutcome::Failed(_))
                | Err(_) => {
                    let outage = match outcome {
                        Ok(JournalOutcome::Failed(reason)) => Outage::Database(reason),
                        _ => Outage::Stopped,
                    };
                    return Err(TransferError::Unavailable(outage).into());
                }
            }
        }
        let mut committed = committed.into_iter();
        let results = play
            .decisions
            .iter()
            .map(|decision| match decision {
                Ok(()) => BatchItemOutcome::Committed(committed.next().expect("an answer")),
                Err(refusal) => BatchItemOutcome::Refused(*refusal),
            })
            .collect();
        Ok(BatchOutcome {
            results,
            replayed: false,
        })
    }
}

fn operation(item: &BatchItem, now: OffsetDateTime) -> Operation {
    match item.pending_timeout {
        None => Operation::Transfer,
        Some(timeout) => {
            let expires_at = now + timeout;
            Operation::CreatePending {
                // PostgreSQL keeps microseconds: answer with the instant it stores.
                expires_at: expires_at
                    .replace_nanosecond(expires_at.nanosecond() / 1_000 * 1_000)
                    .expect("a truncated nanosecond is valid"),
            }
        }
    }
}
