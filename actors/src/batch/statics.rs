//! The batch's per-item rules that need no balance: the accounts' static facts, a closed payee,
//! and a payer that may not pay at all. Shared by the real batch and its dry run.

use std::collections::{HashMap, HashSet};

use crate::coordinator::check;
use crate::model::{AccountId, BatchItem, Movement, Refusal};
use crate::registry::AccountHandle;

/// The rules that need no balance, on the accounts' static facts, and a closed payee.
pub(super) fn static_check(
    item: &BatchItem,
    handles: &HashMap<AccountId, AccountHandle>,
    closed: &HashSet<AccountId>,
) -> Result<(), Refusal> {
    let request = &item.request;
    if request.from == request.to {
        return Err(Refusal::SameAccount);
    }
    let from = handles.get(&request.from).ok_or(Refusal::NotFound)?;
    let to = handles.get(&request.to).ok_or(Refusal::NotFound)?;
    check(request, Movement::Transfer, &from.info, &to.info)?;
    match closed.contains(&request.to) {
        true => Err(Refusal::AccountClosed),
        false => Ok(()),
    }
}

/// Items paying from an account that may not pay are refused for its status (it leased
/// nothing, so play would otherwise call them short of funds).
pub(super) fn refuse_blocked(
    items: &[BatchItem],
    statics: &mut [Result<(), Refusal>],
    blocked: &HashMap<AccountId, Refusal>,
) {
    for (item, fits) in items.iter().zip(statics.iter_mut()) {
        if let (Ok(()), Some(refusal)) = (&fits, blocked.get(&item.request.from)) {
            *fits = Err(*refusal);
        }
    }
}
