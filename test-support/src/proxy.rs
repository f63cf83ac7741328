use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::commit_trap::{self, CommitCut, CommitTrap};

/// A TCP relay to PostgreSQL that a test can cut (every live connection dropped, new ones closed
/// at once) and restore, to play "the database is down" for one app only; or, built with
/// [`TcpProxy::trapping_commits`], cut one connection at its COMMIT.
pub struct TcpProxy {
    port: u16,
    open: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
    accept_loop: AbortHandle,
    trap: Option<Arc<CommitTrap>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        TcpProxy::start_with(target, None).await
    }

    async fn start_with(target: SocketAddr, trap: Option<Arc<CommitTrap>>) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a proxy port");
        let port = listener.local_addr().expect("the proxy address").port();
        let open = Arc::new(AtomicBool::new(true));
        let relays: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept_loop = tokio::spawn(accept(
            listener,
            target,
            open.clone(),
            relays.clone(),
            trap.clone(),
        ));
        TcpProxy {
            port,
            open,
            relays,
            accept_loop: accept_loop.abort_handle(),
            trap,
        }
    }

    /// The proxy in front of the test server's PostgreSQL.
    pub async fn to_postgres(database: &crate::TestDatabase) -> TcpProxy {
        TcpProxy::start(postgres_address(database).await).await
    }

    /// The proxy in front of the test server's PostgreSQL, reading the protocol's frames so that
    /// [`TcpProxy::cut_next_commit`] can cut a connection at its COMMIT.
    pub async fn trapping_commits(database: &crate::TestDatabase) -> TcpProxy {
        let trap = Some(Arc::default());
        TcpProxy::start_with(postgres_address(database).await, trap).await
    }

    /// The next COMMIT any connection sends is cut so (a proxy built with
    /// [`TcpProxy::trapping_commits`]).
    pub fn cut_next_commit(&self, cut: CommitCut) {
        self.trap
            .as_ref()
            .expect("a proxy trapping commits")
            .arm(cut);
    }

    /// How many connections were cut at their COMMIT.
    pub fn commits_cut(&self) -> usize {
        self.trap.as_ref().map_or(0, |trap| trap.sprung())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every live connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for relay in self.relays.lock().expect("relays").drain(..) {
            relay.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept_loop.abort();
    }
}

async fn postgres_address(database: &crate::TestDatabase) -> SocketAddr {
    let host = match database.config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = database.config.get_ports().first().copied().unwrap_or(5432);
    let mut addresses = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("the database host resolves");
    addresses.next().expect("an address for the database host")
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    open: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
    trap: Option<Arc<CommitTrap>>,
) {
    while let Ok((inbound, _)) = listener.accept().await {
        if !open.load(Ordering::SeqCst) {
            drop(inbound);
            continue;
        }
        let relay = match &trap {
            Some(trap) => tokio::spawn(commit_trap::relay(inbound, target, trap.clone())),
            None => tokio::spawn(relay(inbound, target)),
        };
        let mut relays = relays.lock().expect("relays");
        relays.retain(|handle| !handle.is_finished());
        relays.push(relay.abort_handle());
    }
}

async fn relay(mut inbound: TcpStream, target: SocketAddr) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}
