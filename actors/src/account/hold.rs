//! In-flight holds, a transfer's two in one hand-off: the caller sends the hold on the lower
//! account id to its actor with the other hold attached (`then`); that actor, once its own hold
//! is taken, passes the second on to the other account's actor, whose answer goes straight back
//! to the caller. A refused first hold answers at once and the second is never asked. Two
//! accounts on one arbiter so cost the caller's thread one hand-off out and one back, instead of
//! two of each (the order of the holds is the same: the lower id first).

use std::time::Instant;

use actix::dev::SendError;
use actix::{ActorContext, Addr, Context, Handler, Message};
use tokio::sync::oneshot;

use super::{AccountActor, Side};
use crate::model::{Amount, Refusal};

/// Put a hold of `amount` on one side, then, once held, pass `then` on. Answered through
/// `reply` so the sender can use `try_send` and turn a full mailbox into `Unavailable` instead
/// of waiting.
pub struct Hold {
    pub side: Side,
    pub amount: Amount,
    /// A dry run: answer whether the hold would be granted, on a copy of the state, and hold
    /// nothing. The same checks (and re-check against PostgreSQL) as a real hold; a second hold
    /// passed on is a probe too.
    pub probe: bool,
    pub then: Option<Then>,
    pub reply: HoldReplyTo,
}

impl Message for Hold {
    type Result = ();
}

/// The second hold of a pair, on another account, of the same amount.
pub struct Then {
    pub addr: Addr<AccountActor>,
    pub side: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReply {
    Held,
    Refused(Refusal),
    /// This actor was passivated: look the account up again.
    Retired,
    /// The state could not be loaded from PostgreSQL.
    Unavailable,
    /// The second account's mailbox was full when the first's actor passed the hold on.
    MailboxFull,
}

/// Which hold answered: the first (so nothing is held, or the lone hold is), or the second (so
/// the first is held, and the caller releases it unless the second is held too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldAnswer {
    pub second: bool,
    pub reply: HoldReply,
}

/// Where a hold's answer goes. Dropped unanswered (its actor stopped with the message still
/// queued), it answers `Retired` itself, marked first or second, so the caller always knows
/// whether the first hold of a pair is taken and must be released.
pub struct HoldReplyTo {
    second: bool,
    sender: Option<oneshot::Sender<HoldAnswer>>,
}

impl HoldReplyTo {
    /// A first (or lone) hold's answer channel.
    pub fn first() -> (HoldReplyTo, oneshot::Receiver<HoldAnswer>) {
        let (sender, receiver) = oneshot::channel();
        let reply_to = HoldReplyTo {
            second: false,
            sender: Some(sender),
        };
        (reply_to, receiver)
    }

    fn send(mut self, reply: HoldReply) {
        let sender = self.sender.take().expect("a hold is answered once");
        let _ = sender.send(HoldAnswer {
            second: self.second,
            reply,
        });
    }
}

impl Drop for HoldReplyTo {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(HoldAnswer {
                second: self.second,
                reply: HoldReply::Retired,
            });
        }
    }
}

impl Hold {
    /// Answers the caller; held with a second hold to take, passes that on instead.
    fn answer(self, reply: HoldReply) {
        let Hold {
            amount,
            probe,
            then,
            reply: mut reply_to,
            ..
        } = self;
        let Some(then) = then.filter(|_| reply == HoldReply::Held) else {
            reply_to.send(reply);
            return;
        };
        reply_to.second = true;
        let next = Hold {
            side: then.side,
            amount,
            probe,
            then: None,
            reply: reply_to,
        };
        match then.addr.try_send(next) {
            Ok(()) => {}
            Err(SendError::Full(next)) => next.reply.send(HoldReply::MailboxFull),
            Err(SendError::Closed(next)) => next.reply.send(HoldReply::Retired),
        }
    }
}

impl Handler<Hold> for AccountActor {
    type Result = ();

    fn handle(&mut self, message: Hold, ctx: &mut Context<Self>) {
        self.last_active = Instant::now();
        let reply = match (self.retired, self.loaded) {
            (true, _) => HoldReply::Retired,
            (false, false) => {
                ctx.stop();
                HoldReply::Unavailable
            }
            (false, true) => self.hold_reply(message.side, message.amount, message.probe),
        };
        let recheck = matches!(
            reply,
            HoldReply::Refused(Refusal::InsufficientFunds | Refusal::AccountFrozen)
        );
        if !recheck {
            message.answer(reply);
            return;
        }
        // Another replica may have credited (or unfrozen) the account since it was cached:
        // refuse only after checking PostgreSQL. The mailbox waits meanwhile, so nothing
        // interleaves.
        self.shared.metrics.funds_rechecks.inc();
        self.reload_then(ctx, move |actor| {
            let answer = match actor.loaded {
                true => actor.hold_reply(message.side, message.amount, message.probe),
                false => HoldReply::Unavailable,
            };
            message.answer(answer);
        });
    }
}
