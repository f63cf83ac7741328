//! The coordinator's holds: a transfer's two in one message, in ascending account-id order
//! (see `account::hold`), and a dry run's lone probe.

use actix::dev::SendError;

use super::Attempt;
use crate::account::{Hold, HoldAnswer, HoldReply, HoldReplyTo, SettlementOutcome, Side, Then};
use crate::engine::Engine;
use crate::journal::{release, JournalItem};
use crate::metrics::Queue;
use crate::model::{Amount, Outage, Refusal, Saturation, TransferError};
use crate::registry::AccountHandle;

/// Why a hold was not taken.
pub(crate) enum HoldFailure {
    Refused(Refusal),
    Retired,
    Failed(TransferError),
}

impl Engine {
    /// Holds on the lower account id first, so two opposite transfers always meet their
    /// accounts in the same order; the first account's actor passes the second hold on (one
    /// hand-off from here for both, see `account::hold`). A refusal on the second releases the
    /// first. Only a debit can be refused, so a refusal never depends on the recipient's state
    /// (privacy_of_state).
    pub(super) async fn hold_in_order(&self, item: &JournalItem) -> Result<(), Attempt> {
        let (payer_side, payee_side) = item.holds();
        let payer = (&item.from, payer_side);
        let Some(payee_side) = payee_side else {
            return self.hold(payer, None, item.amount).await;
        };
        let payee = (&item.to, payee_side);
        let (first, second) = if item.from.info.id < item.to.info.id {
            (payer, payee)
        } else {
            (payee, payer)
        };
        self.hold(first, Some(second), item.amount).await
    }

    /// A hold on `first` and, passed on by its actor once held, on `second`; a failure evicts
    /// a retired actor's account.
    async fn hold(
        &self,
        first: (&AccountHandle, Side),
        second: Option<(&AccountHandle, Side)>,
        amount: Amount,
    ) -> Result<(), Attempt> {
        let Err((handle, failure)) = self.ask_holds(first, second, amount, false).await else {
            return Ok(());
        };
        Err(match failure {
            HoldFailure::Refused(refusal) => Attempt::Failed(refusal.into()),
            HoldFailure::Retired => {
                self.inner.registry.evict(handle);
                Attempt::Retired
            }
            HoldFailure::Failed(error) => Attempt::Failed(error),
        })
    }

    /// Asks `handle`'s actor for a lone hold (`probe`: only whether it would be granted).
    pub(crate) async fn ask_hold(
        &self,
        handle: &AccountHandle,
        side: Side,
        amount: Amount,
        probe: bool,
    ) -> Result<(), HoldFailure> {
        self.ask_holds((handle, side), None, amount, probe)
            .await
            .map_err(|(_, failure)| failure)
    }

    /// Sends the hold on `first` with `second` attached (see `account::hold`) and reads which
    /// answered. When the second failed, the first (held) is released here, so a failure holds
    /// nothing; it names the account it met.
    async fn ask_holds<'a>(
        &self,
        first: (&'a AccountHandle, Side),
        second: Option<(&'a AccountHandle, Side)>,
        amount: Amount,
        probe: bool,
    ) -> Result<(), (&'a AccountHandle, HoldFailure)> {
        let (reply, answer) = HoldReplyTo::first();
        let then = second.map(|(handle, side)| Then {
            addr: handle.addr.clone(),
            side,
        });
        let message = Hold {
            side: first.1,
            amount,
            probe,
            then,
            reply,
        };
        if let Err(error) = first.0.addr.try_send(message) {
            let failure = match error {
                SendError::Full(_) => self.mailbox_full(),
                SendError::Closed(_) => HoldFailure::Retired,
            };
            return Err((first.0, failure));
        }
        // The reply channel answers even when dropped (`HoldReplyTo`); a lost one is a retired
        // first actor, which held nothing.
        let answer = answer.await.unwrap_or(HoldAnswer {
            second: false,
            reply: HoldReply::Retired,
        });
        let failure = match answer.reply {
            HoldReply::Held => {
                assert_eq!(answer.second, second.is_some(), "a pair is held whole");
                return Ok(());
            }
            HoldReply::Refused(refusal) => HoldFailure::Refused(refusal),
            HoldReply::Retired => HoldFailure::Retired,
            HoldReply::Unavailable => HoldFailure::Failed(Outage::AccountNotLoaded.into()),
            HoldReply::MailboxFull => self.mailbox_full(),
        };
        match answer.second.then_some(second).flatten() {
            None => Err((first.0, failure)),
            Some((handle, _)) => {
                if !probe {
                    release(first.0, first.1, amount, SettlementOutcome::Released);
                }
                Err((handle, failure))
            }
        }
    }

    fn mailbox_full(&self) -> HoldFailure {
        self.inner.metrics.rejected(Queue::AccountMailbox);
        HoldFailure::Failed(Saturation::AccountMailbox.into())
    }
}
