use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP relay to PostgreSQL that a test can cut (every live connection dropped, new ones closed
/// at once) and restore, to play "the database is down" for one app only.
pub struct TcpProxy {
    port: u16,
    open: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
    accept_loop: AbortHandle,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a proxy port");
        let port = listener.local_addr().expect("the proxy address").port();
        let open = Arc::new(AtomicBool::new(true));
        let relays: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept_loop = tokio::spawn(accept(listener, target, open.clone(), relays.clone()));
        TcpProxy {
            port,
            open,
            relays,
            accept_loop: accept_loop.abort_handle(),
        }
    }

    /// The proxy in front of the test server's PostgreSQL.
    pub async fn to_postgres(database: &crate::TestDatabase) -> TcpProxy {
        let host = match database.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = database.config.get_ports().first().copied().unwrap_or(5432);
        let target = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("the database host resolves")
            .next()
            .expect("an address for the database host");
        TcpProxy::start(target).await
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

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    open: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
) {
    while let Ok((inbound, _)) = listener.accept().await {
        if !open.load(Ordering::SeqCst) {
            drop(inbound);
            continue;
        }
        let relay = tokio::spawn(relay(inbound, target));
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
