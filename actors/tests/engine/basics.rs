use tally_actors::{
    AccountId, AccountKind, Authority, Currency, OpenAccountError, Refusal, TransferError,
    TransferRequest,
};

use crate::helpers::{amount, fixture};

#[actix_rt::test]
async fn a_transfer_moves_money_and_writes_both_entries() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 1_000).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;

    let transferred = fixture.transfer(alice, bob, 250).await.expect("committed");

    assert_eq!(transferred.transfer.amount.get(), 250);
    assert_eq!(
        (
            transferred.transfer.from_account_id,
            transferred.transfer.to_account_id
        ),
        (alice, bob)
    );
    assert_eq!(
        (
            transferred.from_entry.as_ref().expect("a leg").account_id,
            transferred.from_entry.as_ref().expect("a leg").amount
        ),
        (alice, -250)
    );
    assert_eq!(
        (
            transferred.to_entry.as_ref().expect("a leg").account_id,
            transferred.to_entry.as_ref().expect("a leg").amount
        ),
        (bob, 250)
    );
    assert_eq!(transferred.from_account.balance, 750);
    assert_eq!(transferred.to_account.balance, 250);
    assert!(!transferred.replayed);
    assert_eq!(fixture.balance(alice).await, 750);
    assert_eq!(fixture.balance(bob).await, 250);
    let entries = fixture
        .client
        .query(
            "SELECT id, account_id, amount FROM entries WHERE transfer_id = $1 ORDER BY amount",
            &[&transferred.transfer.id],
        )
        .await
        .expect("the entries");
    let entries: Vec<(i64, AccountId, i64)> = entries
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        entries,
        [
            (
                transferred.from_entry.as_ref().expect("a leg").id,
                alice,
                -250
            ),
            (transferred.to_entry.as_ref().expect("a leg").id, bob, 250)
        ]
    );
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn the_engine_answers_the_committed_balance_right_after_a_transfer() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    fixture.transfer(alice, bob, 40).await.expect("committed");
    // Read-your-writes: the actor was settled before the transfer was answered.
    assert_eq!(fixture.engine.account(bob).await.expect("bob").balance, 40);
    assert_eq!(
        fixture.engine.account(alice).await.expect("alice").balance,
        60
    );
    // And money just received can be spent at once.
    fixture
        .transfer(bob, alice, 40)
        .await
        .expect("spending what just arrived");
}

#[actix_rt::test]
async fn refusals_move_no_money() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    let euro = fixture.account("carol", Currency::EUR, 100).await;
    let before = fixture.balances().await;

    let refused = |result: Result<_, TransferError>| match result {
        Err(TransferError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(fixture.transfer(alice, alice, 10).await),
        Refusal::SameAccount
    );
    assert_eq!(
        refused(fixture.transfer(alice, AccountId::new(999_999), 10).await),
        Refusal::NotFound
    );
    assert_eq!(
        refused(fixture.transfer(alice, bob, 101).await),
        Refusal::InsufficientFunds
    );
    assert_eq!(
        refused(fixture.transfer(alice, euro, 10).await),
        Refusal::CurrencyMismatch
    );
    let mut not_owner = fixture.request(alice, bob, 10).await;
    not_owner.authority = Authority::Owner("bob".to_owned());
    assert_eq!(
        refused(fixture.engine.transfer(not_owner).await),
        Refusal::Forbidden
    );
    let mut wrong_currency = fixture.request(alice, bob, 10).await;
    wrong_currency.currency = Currency::EUR;
    assert_eq!(
        refused(fixture.engine.transfer(wrong_currency).await),
        Refusal::CurrencyMismatch
    );
    let reserve: i64 = fixture
        .client
        .query_one(
            "SELECT id FROM accounts WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("the reserve")
        .get(0);
    let from_reserve = TransferRequest {
        from: AccountId::new(reserve),
        to: bob,
        amount: amount(10),
        currency: Currency::USD,
        authority: Authority::Privileged,
        idempotency: None,
        details: Default::default(),
    };
    assert_eq!(
        refused(fixture.engine.transfer(from_reserve).await),
        Refusal::NotFound
    );
    assert_eq!(tally_actors::Amount::new(0), Err(Refusal::InvalidAmount));
    assert_eq!(tally_actors::Amount::new(-5), Err(Refusal::InvalidAmount));

    assert_eq!(fixture.balances().await, before);
    assert_eq!(
        fixture.transfer_count().await,
        2,
        "only the two funding deposits"
    );
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn deposits_and_withdrawals_go_through_the_currency_reserve() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::KRW, 0).await;
    let deposit = fixture
        .engine
        .deposit(alice, amount(5_000), None)
        .await
        .expect("a deposit");
    assert_eq!(deposit.from_account.kind, AccountKind::Reserve);
    assert_eq!(deposit.from_account.currency, Currency::KRW);
    assert_eq!(deposit.from_account.balance, -5_000);
    assert_eq!(deposit.to_account.balance, 5_000);

    let withdrawal = fixture
        .engine
        .withdraw(
            alice,
            amount(1_500),
            Authority::Owner("alice".to_owned()),
            None,
        )
        .await
        .expect("a withdrawal");
    assert_eq!(withdrawal.to_account.kind, AccountKind::Reserve);
    assert_eq!(withdrawal.from_account.balance, 3_500);

    let too_much = fixture
        .engine
        .withdraw(alice, amount(3_501), Authority::Privileged, None)
        .await;
    assert_eq!(
        too_much.unwrap_err(),
        TransferError::Refused(Refusal::InsufficientFunds)
    );
    let stranger = fixture
        .engine
        .withdraw(
            alice,
            amount(1),
            Authority::Owner("mallory".to_owned()),
            None,
        )
        .await;
    assert_eq!(
        stranger.unwrap_err(),
        TransferError::Refused(Refusal::Forbidden)
    );
    assert_eq!(fixture.balance(alice).await, 3_500);
    fixture.assert_consistent().await;
}

#[actix_rt::test]
async fn opening_a_second_account_in_one_currency_is_refused() {
    let fixture = fixture().await;
    fixture.account("alice", Currency::GBP, 0).await;
    assert_eq!(
        fixture
            .engine
            .open_account("alice", Currency::GBP)
            .await
            .unwrap_err(),
        OpenAccountError::Duplicate
    );
    assert_eq!(
        fixture
            .engine
            .open_account("nobody", Currency::GBP)
            .await
            .unwrap_err(),
        OpenAccountError::OwnerNotFound
    );
    let euro = fixture
        .engine
        .open_account("alice", Currency::EUR)
        .await
        .expect("another currency");
    assert_eq!((euro.balance, euro.currency), (0, Currency::EUR));
}

#[actix_rt::test]
async fn a_lone_transfer_is_written_at_once_in_a_batch_of_one() {
    let fixture = fixture().await;
    let alice = fixture.account("alice", Currency::USD, 100).await;
    let bob = fixture.account("bob", Currency::USD, 0).await;
    for _ in 0..5 {
        fixture.transfer(alice, bob, 1).await.expect("committed");
    }
    let metrics = fixture.engine.metrics_registry().gather();
    let batch_sizes = metrics
        .iter()
        .find(|family| family.get_name() == "tally_journal_batch_size")
        .expect("the batch size histogram");
    let histogram = batch_sizes.get_metric()[0].get_histogram();
    // One deposit and five transfers, each alone in its batch.
    assert_eq!(histogram.get_sample_count(), 6);
    assert_eq!(histogram.get_sample_sum(), 6.0);
}
