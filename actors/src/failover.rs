//! Follows which PostgreSQL server the pool reaches. Behind a failover-aware proxy (HAProxy on
//! Patroni's `/primary`, CloudNativePG's `-rw` service) the server changes under the same URL;
//! when it does, every account actor reloads from the new primary, so no balance cached from the
//! old one survives (synchronous replication keeps every acknowledged commit, but a batch whose
//! COMMIT was in flight may or may not be there).

use std::time::Duration;

use crate::db::query_opt;
use crate::engine::Engine;

/// The server's address, port and start time: a failover or a restart changes it.
const SERVER_IDENTITY: &str = "
    SELECT COALESCE(host(inet_server_addr()), 'socket') || ':' || COALESCE(inet_server_port(), 0)
           || '@' || pg_postmaster_start_time()::text";

/// The last server seen; tells a change of server from the first sighting.
#[derive(Debug, Default)]
pub struct ServerWatch {
    last: Option<String>,
}

impl ServerWatch {
    /// Records `identity`; true when it differs from a server seen before.
    pub fn changed(&mut self, identity: String) -> bool {
        let changed = self.last.as_ref().is_some_and(|last| *last != identity);
        self.last = Some(identity);
        changed
    }
}

/// Checks the server every `interval` for as long as the engine lives; on a change, restarts
/// every account actor (each reloads its state before it handles the next message).
pub fn watch(engine: &Engine, interval: Duration) {
    assert!(
        !interval.is_zero(),
        "the server check interval is above zero"
    );
    let weak = std::sync::Arc::downgrade(&engine.inner);
    tokio::spawn(async move {
        let mut watch = ServerWatch::default();
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let engine = Engine { inner };
            let identity = match query_opt(&engine.inner.pool, SERVER_IDENTITY, &[]).await {
                Ok(Some(row)) => row.get::<_, String>(0),
                // Unreachable: the journal answers 503 meanwhile; check again next time.
                Ok(None) | Err(_) => continue,
            };
            if watch.changed(identity.clone()) {
                let reloaded = engine.reload_all_accounts().await;
                tracing::warn!(%identity, reloaded, "PostgreSQL server changed (failover or restart); account actors reloaded");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::ServerWatch;

    #[test]
    fn the_first_server_is_no_change_and_another_one_is() {
        let mut watch = ServerWatch::default();
        assert!(!watch.changed("10.0.0.1:5432@t1".to_owned()));
        assert!(!watch.changed("10.0.0.1:5432@t1".to_owned()));
        assert!(watch.changed("10.0.0.2:5432@t2".to_owned()));
        assert!(!watch.changed("10.0.0.2:5432@t2".to_owned()));
        // The same address restarted is a change too: its state may be older than ours.
        assert!(watch.changed("10.0.0.2:5432@t3".to_owned()));
    }
}
