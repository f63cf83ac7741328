//! The engine against a plain sequential model: the same random operations (transfers,
//! deposits, withdrawals, actor failures) must give the same answers and final balances.

use std::collections::HashMap;

use proptest::prelude::*;
use tally_actors::{
    AccountId, Authority, Currency, Engine, Refusal, TransferError, TransferRequest,
};

use crate::helpers::{amount, fixture};

const ACCOUNTS: usize = 4;

#[derive(Debug, Clone)]
enum Operation {
    Transfer {
        from: usize,
        to: usize,
        amount: i64,
    },
    Deposit {
        to: usize,
        amount: i64,
    },
    Withdraw {
        from: usize,
        amount: i64,
    },
    /// An account actor fails and its supervisor restarts it.
    Crash {
        account: usize,
    },
}

fn operation() -> impl Strategy<Value = Operation> {
    let index = 0..ACCOUNTS;
    let money = 1i64..400;
    prop_oneof![
        4 => (index.clone(), index.clone(), money.clone()).prop_map(|(from, to, amount)| Operation::Transfer { from, to, amount }),
        2 => (index.clone(), money.clone()).prop_map(|(to, amount)| Operation::Deposit { to, amount }),
        2 => (index.clone(), money).prop_map(|(from, amount)| Operation::Withdraw { from, amount }),
        1 => index.prop_map(|account| Operation::Crash { account }),
    ]
}

/// The model: balances in a map, the rules in a few lines.
#[derive(Default)]
struct Model {
    balances: [i64; ACCOUNTS],
}

impl Model {
    fn apply(&mut self, operation: &Operation) -> Result<(), Refusal> {
        match *operation {
            Operation::Transfer { from, to, amount } => {
                if from == to {
                    return Err(Refusal::SameAccount);
                }
                self.debit(from, amount)?;
                self.balances[to] += amount;
            }
            Operation::Deposit { to, amount } => self.balances[to] += amount,
            Operation::Withdraw { from, amount } => self.debit(from, amount)?,
            Operation::Crash { .. } => {}
        }
        Ok(())
    }

    fn debit(&mut self, account: usize, amount: i64) -> Result<(), Refusal> {
        if self.balances[account] < amount {
            return Err(Refusal::InsufficientFunds);
        }
        self.balances[account] -= amount;
        Ok(())
    }
}

async fn apply(engine: &Engine, ids: &[AccountId], operation: &Operation) -> Result<(), Refusal> {
    let outcome = match *operation {
        Operation::Transfer {
            from,
            to,
            amount: minor_units,
        } => engine
            .transfer(TransferRequest {
                from: ids[from],
                to: ids[to],
                amount: amount(minor_units),
                currency: Currency::USD,
                authority: Authority::Privileged,
                idempotency: None,
                details: Default::default(),
            })
            .await
            .map(|_| ()),
        Operation::Deposit {
            to,
            amount: minor_units,
        } => engine
            .deposit(ids[to], amount(minor_units), None)
            .await
            .map(|_| ()),
        Operation::Withdraw {
            from,
            amount: minor_units,
        } => engine
            .withdraw(ids[from], amount(minor_units), Authority::Privileged, None)
            .await
            .map(|_| ()),
        Operation::Crash { account } => {
            engine
                .restart_account(ids[account])
                .await
                .expect("restarted");
            Ok(())
        }
    };
    outcome.map_err(|error| match error {
        TransferError::Refused(refusal) => refusal,
        other => panic!("the database is up: no {other:?} expected"),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_agrees_with_a_sequential_model(operations in prop::collection::vec(operation(), 1..40)) {
        actix_rt::System::new().block_on(async move {
            let fixture = fixture().await;
            let ids = fixture.accounts(ACCOUNTS, 0).await;
            let mut model = Model::default();
            for operation in &operations {
                let expected = model.apply(operation);
                let actual = apply(&fixture.engine, &ids, operation).await;
                assert_eq!(actual, expected, "after {operation:?}");
            }
            let database: HashMap<AccountId, i64> = fixture.balances().await;
            for (index, id) in ids.iter().enumerate() {
                assert_eq!(database[id], model.balances[index], "account {index}");
            }
            let mut replay = Model::default();
            let committed = operations
                .iter()
                .filter(|operation| !matches!(operation, Operation::Crash { .. }))
                .filter(|operation| replay.apply(operation).is_ok())
                .count() as i64;
            assert_eq!(fixture.transfer_count().await, committed, "the same set of accepted transfers");
            fixture.assert_consistent().await;
        });
    }
}
