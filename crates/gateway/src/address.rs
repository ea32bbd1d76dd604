//! Which upstream addresses the gateway may connect to. Link-local and cloud-metadata addresses
//! are refused by default (a provider's base URL is tenant input: it must not reach the host's
//! metadata service); loopback and private addresses stay allowed, since local models are a main
//! use of a self-hosted gateway. Lists given by the operator come first: a deny entry always
//! refuses, an allow entry admits what the defaults refuse.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Refused unless allowed: link-local (cloud metadata lives there: 169.254.169.254, fd00:ec2::254
/// aside), "this network", multicast and broadcast, and Alibaba Cloud's metadata address.
const DEFAULT_DENY: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "ff00::/8",
    "255.255.255.255/32",
    "::/128",
];

#[derive(Debug, Clone)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    defaults: Vec<IpNet>,
}

impl Default for AddressPolicy {
    fn default() -> Self {
        AddressPolicy::new(Vec::new(), Vec::new())
    }
}

impl AddressPolicy {
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> AddressPolicy {
        AddressPolicy {
            allow,
            deny,
            defaults: DEFAULT_DENY.iter().filter_map(|n| n.parse().ok()).collect(),
        }
    }

    /// Parses a list of CIDR blocks or single addresses, as the command line gives them.
    pub fn parse_list(items: &[String]) -> Result<Vec<IpNet>, String> {
        items
            .iter()
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{item:?} is not an address or CIDR block"))
            })
            .collect()
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            // An IPv4 address in IPv6 clothing is judged as itself.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        !self.defaults.iter().any(|n| n.contains(&ip))
    }
}

/// A resolver that hands the HTTP client only the addresses the policy permits, so that a name
/// resolving to a refused address fails to connect however it is spelt.
pub struct PolicyResolver(pub Arc<AddressPolicy>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(format!("{host} resolves to no address the gateway may reach").into());
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn metadata_is_refused_and_local_models_allowed() {
        let policy = AddressPolicy::default();
        for refused in [
            "169.254.169.254",
            "100.100.100.200",
            "fe80::1",
            "::ffff:169.254.169.254",
            "0.0.0.0",
        ] {
            assert!(!policy.permits(ip(refused)), "{refused}");
        }
        for allowed in ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1", "8.8.8.8"] {
            assert!(policy.permits(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn operator_lists_come_first() {
        let allow = AddressPolicy::parse_list(&["169.254.10.0/24".into()]).unwrap_or_default();
        let deny = AddressPolicy::parse_list(&["10.0.0.0/8".into(), "127.0.0.1".into()])
            .unwrap_or_default();
        let policy = AddressPolicy::new(allow, deny);
        assert!(policy.permits(ip("169.254.10.5")));
        assert!(!policy.permits(ip("169.254.169.254")));
        assert!(!policy.permits(ip("10.9.9.9")));
        assert!(!policy.permits(ip("127.0.0.1")));
        assert!(AddressPolicy::parse_list(&["nonsense".into()]).is_err());
    }
}
