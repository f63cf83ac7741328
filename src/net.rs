//! Client addresses: which peer to believe about `X-Forwarded-For`, and networks (CIDRs) to
//! name the proxies that may set it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer};

/// An IPv4 or IPv6 network, `10.0.0.0/8` or a single address (`192.168.1.7`, a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix_bits: u8,
}

impl IpNetwork {
    pub fn contains(&self, candidate: IpAddr) -> bool {
        match (self.address, canonical(candidate)) {
            (IpAddr::V4(network), IpAddr::V4(candidate)) => {
                prefix_matches(&network.octets(), &candidate.octets(), self.prefix_bits)
            }
            (IpAddr::V6(network), IpAddr::V6(candidate)) => {
                prefix_matches(&network.octets(), &candidate.octets(), self.prefix_bits)
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a dual-stack socket reports) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_matches(network: &[u8], candidate: &[u8], prefix_bits: u8) -> bool {
    let whole_bytes = usize::from(prefix_bits / 8);
    let rest_bits = prefix_bits % 8;
    if network[..whole_bytes] != candidate[..whole_bytes] {
        return false;
    }
    if rest_bits == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest_bits);
    network[whole_bytes] & mask == candidate[whole_bytes] & mask
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<IpNetwork, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or network"))?;
        let address = canonical(address);
        let bits_max = if address.is_ipv4() { 32 } else { 128 };
        let prefix_bits = match prefix {
            None => bits_max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|bits| *bits <= bits_max)
                .ok_or_else(|| format!("`{text}` has a prefix outside 0..={bits_max}"))?,
        };
        Ok(IpNetwork {
            address,
            prefix_bits,
        })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_bits)
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(de::Error::custom)
    }
}

/// Networks from a TOML list or from one comma-separated string (an environment variable).
pub fn deserialize_networks<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<IpNetwork>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Networks {
        List(Vec<String>),
        Text(String),
    }
    let items = match Networks::deserialize(deserializer)? {
        Networks::List(items) => items,
        Networks::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    items
        .iter()
        .filter(|item| !item.trim().is_empty())
        .map(|item| item.parse().map_err(de::Error::custom))
        .collect()
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left
/// were written by the client and prove nothing).
pub fn client_address(
    peer: IpAddr,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpNetwork],
) -> IpAddr {
    let trusted = |address: IpAddr| trusted_proxies.iter().any(|net| net.contains(address));
    let peer = canonical(peer);
    if !trusted(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for entry in header.rsplit(',') {
        let Ok(address) = entry.trim().parse::<IpAddr>() else {
            // Garbage in the chain: believe no further than the last good hop.
            return client;
        };
        client = canonical(address);
        if !trusted(client) {
            return client;
        }
    }
    client
}

/// The client address of `request` (see [`client_address`]); unspecified when the connection
/// has no peer address (a test request).
pub fn client_address_of(
    request: &actix_web::HttpRequest,
    trusted_proxies: &[IpNetwork],
) -> IpAddr {
    let peer = request
        .peer_addr()
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |peer| {
            peer.ip()
        });
    let forwarded_for = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    client_address(peer, forwarded_for, trusted_proxies)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::{client_address, IpNetwork};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn net(text: &str) -> IpNetwork {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("172.16.0.0/12").contains(ip("172.31.255.1")));
        assert!(!net("172.16.0.0/12").contains(ip("172.32.0.1")));
        assert!(net("192.168.1.7").contains(ip("192.168.1.7")));
        assert!(!net("192.168.1.7").contains(ip("192.168.1.8")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(!net("::/0").contains(ip("1.2.3.4")));
        for bad in ["10.0.0.0/33", "::/129", "ten", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_peer() {
        let proxies = [net("10.0.0.0/8")];
        let client = |peer, header| client_address(ip(peer), header, &proxies);
        assert_eq!(client("203.0.113.1", Some("1.1.1.1")), ip("203.0.113.1"));
        assert_eq!(client("10.0.0.2", Some("1.1.1.1")), ip("1.1.1.1"));
        assert_eq!(
            client("10.0.0.2", Some("6.6.6.6, 1.1.1.1, 10.0.0.3")),
            ip("1.1.1.1")
        );
        assert_eq!(client("10.0.0.2", Some("junk, 1.1.1.1")), ip("1.1.1.1"));
        assert_eq!(client("10.0.0.2", Some("1.1.1.1, junk")), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.2", None), ip("10.0.0.2"));
        assert_eq!(
            client_address(ip("10.0.0.2"), Some("1.1.1.1"), &[]),
            ip("10.0.0.2")
        );
    }
}
