use super::*;

fn committed(balance: i64, held: i64, status: AccountStatus) -> Committed {
    Committed {
        balance,
        held,
        status,
        limit: Limit::default(),
    }
}

fn amount(minor_units: i64) -> Amount {
    Amount::new(minor_units).expect("a positive amount")
}

fn posted(batch: u64, balance: i64, debits: i64, credits: i64, holds: u32) -> Settlement {
    Settlement {
        debits,
        credits,
        holds,
        outcome: SettlementOutcome::Posted {
            batch,
            committed: committed(balance, 0, AccountStatus::Active),
        },
    }
}

#[test]
fn a_debit_hold_lowers_available_but_not_posted() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(30)).expect("held");
    assert_eq!(state.available(), 70);
    assert_eq!(state.posted(), 100);
    assert!(!state.is_idle());
}

#[test]
fn a_customer_cannot_reserve_more_than_available() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(60)).expect("held");
    assert_eq!(
        state.hold(Side::Debit, amount(41)),
        Err(Refusal::InsufficientFunds)
    );
    state
        .hold(Side::Debit, amount(40))
        .expect("exactly the rest");
    assert_eq!(state.available(), 0);
}

#[test]
fn a_refused_hold_changes_nothing() {
    let mut state = AccountState::new(AccountKind::Customer, 10, 0);
    let before = state.clone();
    assert_eq!(
        state.hold(Side::Debit, amount(11)),
        Err(Refusal::InsufficientFunds)
    );
    assert_eq!(state, before);
}

#[test]
fn the_reserve_may_go_negative() {
    let mut state = AccountState::new(AccountKind::Reserve, 0, 0);
    state
        .hold(Side::Debit, amount(1_000))
        .expect("the reserve funds deposits");
    assert_eq!(state.available(), -1_000);
}

#[test]
fn credits_count_only_once_posted() {
    let mut state = AccountState::new(AccountKind::Customer, 0, 0);
    state.hold(Side::Credit, amount(50)).expect("held");
    assert_eq!(state.available(), 0);
    assert_eq!(
        state.hold(Side::Debit, amount(1)),
        Err(Refusal::InsufficientFunds)
    );
    state.settle(&posted(1, 50, 0, 50, 1));
    assert_eq!(state.available(), 50);
    assert!(state.is_idle());
}

#[test]
fn posting_moves_a_hold_to_posted() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(30)).expect("held");
    state.hold(Side::Debit, amount(20)).expect("held");
    assert!(!state.settle(&posted(1, 50, 50, 0, 2)));
    assert_eq!((state.posted(), state.available()), (50, 50));
    assert!(state.is_idle());
}

#[test]
fn releasing_restores_available() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(30)).expect("held");
    let released = Settlement {
        debits: 30,
        credits: 0,
        holds: 1,
        outcome: SettlementOutcome::Released,
    };
    assert!(!state.settle(&released));
    assert_eq!((state.posted(), state.available()), (100, 100));
    assert!(state.is_idle());
}

#[test]
fn a_suspect_release_asks_for_a_reload() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(30)).expect("held");
    let suspect = Settlement {
        debits: 30,
        credits: 0,
        holds: 1,
        outcome: SettlementOutcome::ReleasedAndReload,
    };
    assert!(state.settle(&suspect));
    state.reload(committed(40, 0, AccountStatus::Active), 0);
    assert_eq!(state.available(), 40);
}

#[test]
fn a_settlement_older_than_a_reload_is_not_adopted() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(10)).expect("held");
    // Reloaded after batch 3 committed: the balance already includes batch 2.
    state.reload(committed(60, 0, AccountStatus::Active), 3);
    state.settle(&posted(2, 90, 10, 0, 1));
    assert_eq!((state.posted(), state.available()), (60, 60));
}

#[test]
fn an_older_batch_never_overwrites_a_newer_balance() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(10)).expect("held");
    state.hold(Side::Debit, amount(20)).expect("held");
    // Batch 2 (the 20) is settled before batch 1 (the 10).
    state.settle(&posted(2, 70, 20, 0, 1));
    state.settle(&posted(1, 90, 10, 0, 1));
    assert_eq!((state.posted(), state.available()), (70, 70));
}

#[test]
fn a_committed_balance_from_another_replica_is_adopted() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(10)).expect("held");
    // Another replica spent 50 meanwhile: the database says 40 after our debit.
    state.settle(&posted(1, 40, 10, 0, 1));
    assert_eq!(state.available(), 40);
}

#[test]
fn only_the_reserve_is_bounded_by_the_supply() {
    // Deposits debit the reserve: the supply may not pass i64::MAX.
    let mut reserve = AccountState::new(AccountKind::Reserve, -(SUPPLY_MAX - 5), 0);
    assert_eq!(
        reserve.hold(Side::Debit, amount(6)),
        Err(Refusal::BalanceOverflow)
    );
    reserve
        .hold(Side::Debit, amount(5))
        .expect("up to the supply bound");
    let mut customer = AccountState::new(AccountKind::Customer, 10, 0);
    customer.hold(Side::Debit, amount(10)).expect("held");
    assert_eq!(
        customer.hold(Side::Debit, amount(i64::MAX)),
        Err(Refusal::InsufficientFunds)
    );
}

#[test]
fn a_deposit_past_i64_on_the_reserve_is_an_overflow_not_a_shortage() {
    // The debit's own subtraction leaves i64: still the supply bound that refuses it.
    let mut reserve = AccountState::new(AccountKind::Reserve, -(SUPPLY_MAX - 10), 0);
    assert_eq!(
        reserve.hold(Side::Debit, amount(100)),
        Err(Refusal::BalanceOverflow)
    );
}

#[test]
fn a_credit_is_never_refused_whatever_the_balance() {
    let mut state = AccountState::new(AccountKind::Customer, SUPPLY_MAX - 5, 0);
    state
        .hold(Side::Credit, amount(5))
        .expect("a credit within the supply");
}

#[test]
fn committed_holds_are_not_available() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 60);
    assert_eq!(state.available(), 40);
    assert_eq!(
        state.hold(Side::Debit, amount(41)),
        Err(Refusal::InsufficientFunds)
    );
    state.hold(Side::Debit, amount(40)).expect("the rest");
}

#[test]
fn a_frozen_account_refuses_debits_but_takes_credits_and_finishes_its_holds() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 40);
    state.set_status(AccountStatus::Frozen);
    let before = state.clone();
    assert_eq!(
        state.hold(Side::Debit, amount(1)),
        Err(Refusal::AccountFrozen)
    );
    assert_eq!(state, before);
    state.hold(Side::Credit, amount(5)).expect("a credit");
    state
        .hold(Side::Touch, amount(40))
        .expect("posting its own hold");
    assert_eq!(state.available(), 60);
}

#[test]
fn a_closed_account_refuses_debits_and_credits() {
    let mut state = AccountState::new(AccountKind::Customer, 0, 0);
    assert!(state.is_empty());
    state.set_status(AccountStatus::Closed);
    assert_eq!(
        state.hold(Side::Debit, amount(1)),
        Err(Refusal::AccountClosed)
    );
    assert_eq!(
        state.hold(Side::Credit, amount(1)),
        Err(Refusal::AccountClosed)
    );
    assert!(state.is_idle());
}

#[test]
fn a_settlement_tightens_the_status_but_never_relaxes_it() {
    let settled = |status| Settlement {
        debits: 0,
        credits: 0,
        holds: 0,
        outcome: SettlementOutcome::Posted {
            batch: 9,
            committed: committed(10, 0, status),
        },
    };
    let mut state = AccountState::new(AccountKind::Customer, 10, 0);
    state.set_status(AccountStatus::Frozen);
    state.settle(&settled(AccountStatus::Active));
    assert_eq!(state.status(), AccountStatus::Frozen);
    let mut state = AccountState::new(AccountKind::Customer, 10, 0);
    state.settle(&settled(AccountStatus::Frozen));
    assert_eq!(state.status(), AccountStatus::Frozen);
}

#[test]
fn an_unfrozen_account_pays_again() {
    let mut state = AccountState::new(AccountKind::Customer, 10, 0);
    state.set_status(AccountStatus::Frozen);
    state.reload(committed(10, 0, AccountStatus::Active), 1);
    state.hold(Side::Debit, amount(10)).expect("active again");
}

#[test]
#[should_panic(expected = "a closed account is never reopened")]
fn reopening_a_closed_account_is_a_broken_invariant() {
    let mut state = AccountState::new(AccountKind::Customer, 0, 0);
    state.set_status(AccountStatus::Closed);
    state.set_status(AccountStatus::Active);
}

#[test]
#[should_panic(expected = "a settlement of more than is held in flight")]
fn settling_more_than_is_held_is_a_broken_invariant() {
    let mut state = AccountState::new(AccountKind::Customer, 100, 0);
    state.hold(Side::Debit, amount(10)).expect("held");
    state.settle(&Settlement {
        debits: 20,
        credits: 0,
        holds: 1,
        outcome: SettlementOutcome::Released,
    });
}

fn limit(overdraft: i64, floor: i64) -> Limit {
    Limit { overdraft, floor }
}

#[test]
fn a_debit_may_go_down_to_the_floor_and_no_further() {
    let mut state = AccountState::new(AccountKind::Customer, 10, 0);
    state.set_limit(limit(50, -50));
    assert_eq!(state.spendable(), 60);
    let before = state.clone();
    assert_eq!(
        state.hold(Side::Debit, amount(61)),
        Err(Refusal::InsufficientFunds)
    );
    assert_eq!(state, before);
    state
        .hold(Side::Debit, amount(60))
        .expect("down to -overdraft");
    assert_eq!((state.available(), state.spendable()), (-50, 0));
    assert_eq!(
        state.hold(Side::Debit, amount(1)),
        Err(Refusal::InsufficientFunds)
    );
    state.settle(&Settlement {
        debits: 60,
        credits: 0,
        holds: 1,
        outcome: SettlementOutcome::Posted {
            batch: 1,
            committed: Committed {
                limit: limit(50, -50),
                ..committed(-50, 0, AccountStatus::Active)
            },
        },
    });
    assert_eq!((state.posted(), state.spendable()), (-50, 0));
}

#[test]
fn holds_count_against_the_overdraft() {
    let mut state = AccountState::new(AccountKind::Customer, 0, 0);
    state.reload(
        Committed {
            limit: limit(100, -100),
            ..committed(0, 30, AccountStatus::Active)
        },
        1,
    );
    assert_eq!((state.available(), state.spendable()), (-30, 70));
    assert_eq!(state.lease(500), 70);
    assert_eq!(state.spendable(), 0);
}

#[test]
fn a_limit_lowered_below_the_debt_blocks_debits_but_not_credits() {
    let mut state = AccountState::new(AccountKind::Customer, 0, 0);
    state.set_limit(limit(100, -100));
    state.reload(
        Committed {
            limit: limit(10, -80),
            ..committed(-80, 0, AccountStatus::Active)
        },
        1,
    );
    assert_eq!((state.available(), state.spendable()), (-80, 0));
    assert_eq!(
        state.hold(Side::Debit, amount(1)),
        Err(Refusal::InsufficientFunds)
    );
    state
        .hold(Side::Credit, amount(75))
        .expect("a credit lands");
    state.settle(&Settlement {
        debits: 0,
        credits: 75,
        holds: 1,
        outcome: SettlementOutcome::Posted {
            batch: 2,
            committed: Committed {
                limit: limit(10, -10),
                ..committed(-5, 0, AccountStatus::Active)
            },
        },
    });
    assert_eq!(state.spendable(), 5);
    state
        .hold(Side::Debit, amount(5))
        .expect("within the limit again");
}

#[test]
#[should_panic(expected = "floor: a customer's posted balance minus its holds below its floor")]
fn a_balance_below_its_floor_is_a_broken_invariant() {
    let mut state = AccountState::new(AccountKind::Customer, 0, 0);
    state.reload(
        Committed {
            limit: limit(10, -10),
            ..committed(-11, 0, AccountStatus::Active)
        },
        1,
    );
}

#[test]
#[should_panic(expected = "floor: a limit out of its bounds")]
fn a_floor_above_the_limit_is_a_broken_invariant() {
    let mut state = AccountState::new(AccountKind::Customer, 10, 0);
    state.set_limit(limit(10, -5));
}
