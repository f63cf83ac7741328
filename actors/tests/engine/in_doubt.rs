//! A COMMIT sent and not answered (the leader cut the session, the connection broke) leaves its
//! batch in doubt. The journal asks PostgreSQL, on a fresh connection, whether the batch
//! committed: if it did, its callers get what it wrote, once; if not, it is written again. A
//! proxy cuts the writer's connection at its COMMIT, before the server sees it or once the
//! server has committed, for each shape of batch: plain transfers (one round trip, the COMMIT
//! pipelined), keyed transfers (the COMMIT sent on its own) and new holds (two round trips, the
//! COMMIT pipelined with the inserts).

use std::time::Duration;

use tally_actors::{AccountId, Engine, EngineConfig, TransferId, Transferred};
use tally_test_support::{fresh_database, CommitCut, TcpProxy};

use crate::helpers::{key, pool_waiting, Fixture};

#[derive(Debug, Clone, Copy)]
enum Shape {
    Plain,
    Keyed,
    Hold,
}

impl Shape {
    const ALL: [Shape; 3] = [Shape::Plain, Shape::Keyed, Shape::Hold];
}

struct Scene {
    fixture: Fixture,
    proxy: TcpProxy,
    payer: AccountId,
    payee: AccountId,
}

async fn scene() -> Scene {
    let database = fresh_database().await;
    let proxy = TcpProxy::trapping_commits(&database).await;
    let pool = pool_waiting(&database.url_via_port(proxy.port()), Duration::from_secs(5));
    let fixture = Fixture {
        engine: Engine::start(EngineConfig::default(), pool.clone()),
        client: database.connect().await,
        pool,
    };
    let accounts = fixture.accounts(2, 1_000).await;
    Scene {
        fixture,
        proxy,
        payer: accounts[0],
        payee: accounts[1],
    }
}

impl Scene {
    /// 100 from the payer to the payee, shaped so; the caller's answer.
    async fn send(&self, shape: Shape) -> Transferred {
        let fixture = &self.fixture;
        let mut request = fixture.request(self.payer, self.payee, 100).await;
        let answered = match shape {
            Shape::Plain => fixture.engine.transfer(request).await,
            Shape::Keyed => {
                let owner = fixture.owner(self.payer).await;
                request.idempotency = Some(key(&owner, "in-doubt", "payer->payee 100"));
                fixture.engine.transfer(request).await
            }
            Shape::Hold => {
                let hour = Duration::from_secs(3600);
                fixture.engine.transfer_pending(request, hour).await
            }
        };
        answered.unwrap_or_else(|error| panic!("{shape:?}: answered {error:?}"))
    }

    /// Sends `shape` with the next COMMIT cut so: the caller's answer, and the rows before.
    async fn send_cut(&self, shape: Shape, cut: CommitCut) -> (Transferred, i64) {
        let before = self.fixture.transfer_count().await;
        self.proxy.cut_next_commit(cut);
        let answered = self.send(shape).await;
        assert_eq!(self.proxy.commits_cut(), 1, "{shape:?}: the COMMIT was cut");
        (answered, before)
    }

    /// The payer's balance and held amount, and the payee's balance, in PostgreSQL.
    async fn money(&self) -> (i64, i64, i64) {
        let row = self
            .fixture
            .client
            .query_one(
                "SELECT p.balance, p.held, q.balance FROM accounts p, accounts q
                 WHERE p.id = $1 AND q.id = $2",
                &[&self.payer, &self.payee],
            )
            .await
            .expect("the two accounts");
        (row.get(0), row.get(1), row.get(2))
    }

    /// What `journal_in_doubt` recorded: (transfer id, committed).
    async fn resolutions(&self) -> Vec<(TransferId, bool)> {
        self.fixture
            .client
            .query("SELECT transfer_id, committed FROM journal_in_doubt", &[])
            .await
            .expect("the resolutions")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// Rows in `transfers` with this id, amount 100 and the batch's status.
    async fn rows_like(&self, answered: &Transferred) -> i64 {
        self.fixture
            .client
            .query_one(
                "SELECT count(*) FROM transfers
                 WHERE id = $1 AND amount = 100 AND from_account_id = $2 AND to_account_id = $3",
                &[&answered.transfer.id, &self.payer, &self.payee],
            )
            .await
            .expect("a count")
            .get(0)
    }

    async fn keys_stored(&self) -> i64 {
        self.fixture
            .client
            .query_one(
                "SELECT count(*) FROM idempotency_keys WHERE key = 'in-doubt'",
                &[],
            )
            .await
            .expect("a count")
            .get(0)
    }

    /// The money moved once, as `shape` moves it, and the key (if any) is stored once.
    async fn assert_written_once(&self, shape: Shape, answered: &Transferred, before: i64) {
        assert_eq!(
            self.fixture.transfer_count().await,
            before + 1,
            "{shape:?}: one row"
        );
        assert_eq!(
            self.rows_like(answered).await,
            1,
            "{shape:?}: the row answered"
        );
        let expected = match shape {
            Shape::Plain | Shape::Keyed => (900, 0, 1_100),
            Shape::Hold => (1_000, 100, 1_000),
        };
        assert_eq!(self.money().await, expected, "{shape:?}: the money");
        let keys = match shape {
            Shape::Keyed => 1,
            Shape::Plain | Shape::Hold => 0,
        };
        assert_eq!(self.keys_stored().await, keys, "{shape:?}: the keys");
        self.fixture.assert_consistent().await;
    }
}

/// The engine's count of batches in doubt resolved so.
fn resolved(engine: &Engine, resolution: &str) -> f64 {
    engine
        .metrics_registry()
        .gather()
        .iter()
        .find(|family| family.get_name() == "tally_journal_in_doubt_total")
        .expect("the in-doubt counter")
        .get_metric()
        .iter()
        .find(|metric| metric.get_label()[0].get_value() == resolution)
        .expect("the resolution's series")
        .get_counter()
        .get_value()
}

#[actix_rt::test]
async fn a_batch_whose_commit_landed_unanswered_is_found_committed_and_answered_once() {
    for shape in Shape::ALL {
        let scene = scene().await;
        let (answered, before) = scene.send_cut(shape, CommitCut::Unanswered).await;
        assert_eq!(
            scene.resolutions().await,
            vec![(answered.transfer.id, true)],
            "{shape:?}: found committed, the row answered"
        );
        assert_eq!(resolved(&scene.fixture.engine, "committed"), 1.0);
        assert_eq!(resolved(&scene.fixture.engine, "not_committed"), 0.0);
        scene.assert_written_once(shape, &answered, before).await;
    }
}

#[actix_rt::test]
async fn a_batch_whose_commit_never_arrived_is_found_uncommitted_and_written_again_once() {
    for shape in Shape::ALL {
        let scene = scene().await;
        let (answered, before) = scene.send_cut(shape, CommitCut::Unsent).await;
        let resolutions = scene.resolutions().await;
        assert_eq!(resolutions.len(), 1, "{shape:?}: {resolutions:?}");
        let (looked_for, committed) = resolutions[0];
        assert!(!committed, "{shape:?}: found not committed");
        assert_ne!(
            looked_for, answered.transfer.id,
            "{shape:?}: written again, as a row of its own"
        );
        assert_eq!(resolved(&scene.fixture.engine, "not_committed"), 1.0);
        assert_eq!(resolved(&scene.fixture.engine, "committed"), 0.0);
        scene.assert_written_once(shape, &answered, before).await;
    }
}
