//! Open connections per client address (`http.connections_per_address_max`): slow or idle
//! clients from one address cannot take every file descriptor. Each TCP connection takes a slot
//! when accepted and gives it back when it closes; a connection past the limit gets 429
//! `rate_limited` to its first request and is closed. Trusted proxies are exempt: the front
//! door (nginx's `limit_conn`) counts its own clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::auth::limiter::host_part;
use crate::error::ApiError;
use crate::net::IpNetwork;

pub struct ConnectionLimiter {
    per_address_max: usize,
    exempt: Vec<IpNetwork>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place in its address's count, kept in the connection's data.
pub struct ConnectionSlot {
    limiter: Arc<ConnectionLimiter>,
    address: IpAddr,
    over_limit: bool,
}

impl ConnectionLimiter {
    pub fn new(per_address_max: usize, exempt: Vec<IpNetwork>) -> Arc<ConnectionLimiter> {
        assert!(per_address_max > 0, "a connection per address at least");
        Arc::new(ConnectionLimiter {
            per_address_max,
            exempt,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// For `HttpServer::on_connect`: counts the new connection against its peer's address.
    pub fn on_connect(self: &Arc<Self>, connection: &dyn std::any::Any, data: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        if self
            .exempt
            .iter()
            .any(|network| network.contains(peer.ip()))
        {
            return;
        }
        let address = host_part(peer.ip());
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let count = open.entry(address).or_insert(0);
        *count += 1;
        data.insert(ConnectionSlot {
            limiter: self.clone(),
            address,
            over_limit: *count > self.per_address_max,
        });
    }

    /// Open connections from `address` (tests).
    pub fn open_from(&self, address: IpAddr) -> usize {
        let open = self
            .open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        open.get(&host_part(address)).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Middleware: a request on a connection past its address's limit is answered 429 and its
/// connection closed.
pub async fn refuse_over_limit(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let over_limit = request
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.over_limit);
    if !over_limit {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let error = ApiError::RateLimited {
        reason: "too many open connections from this address",
        retry_after_seconds: 1,
    };
    let mut response = error.error_response();
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(request.into_response(response))
}
