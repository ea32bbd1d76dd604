//! Office sites (office networks, formerly "workspaces"; ids like `cn-hangzhou+dir-0123456789`):
//! their id format, the rules for names and CIDR blocks of `CreateSimpleOfficeSite`, and the
//! values of their enumerated fields, as the ecd 2020-09-30 API documents them.

use std::fmt;
use std::net::Ipv4Addr;

use rand::Rng;

/// An office site id: the region, `+dir-` and ten digits (the first not 0).
pub fn office_site_id(region_id: &str, rng: &mut impl Rng) -> String {
    let first = rng.gen_range(1..=9u8);
    let rest: String = (0..9)
        .map(|_| char::from(b'0' + rng.gen_range(0..=9u8)))
        .collect();
    format!("{region_id}+dir-{first}{rest}")
}

/// A VPC id in the cloud's shape (`vpc-` and 17 lower-case alphanumerics).
pub fn vpc_id(rng: &mut impl Rng) -> String {
    crate::ids::resource_id("vpc", rng)
}

/// Why a field of an office site was refused; the caller names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfficeSiteFieldError {
    #[error(
        "must be 2 to 255 characters: letters, digits, colons, underscores and hyphens, starting with a letter"
    )]
    Name,
    #[error("must be an IPv4 CIDR block such as 172.16.0.0/12")]
    CidrSyntax,
    #[error("has host bits set; the network address of this block is {0}")]
    CidrHostBits(String),
    #[error(
        "must lie within 10.0.0.0/12 or 172.16.0.0/12 (mask 12 to 24 bits) or 192.168.0.0/16 (mask 16 to 24 bits)"
    )]
    CidrRange,
    #[error("must be between {BANDWIDTH_MIN} and {BANDWIDTH_MAX} Mbit/s")]
    Bandwidth,
}

/// The name of an office site: 2-255 characters, letters (Chinese included), digits, `:`, `_`,
/// `-`, starting with a letter (so never with `http://` or `https://`).
pub fn validate_name(name: &str) -> Result<(), OfficeSiteFieldError> {
    let len = name.chars().count();
    let ok = (2..=255).contains(&len)
        && name.chars().next().is_some_and(char::is_alphabetic)
        && name
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, ':' | '_' | '-'));
    ok.then_some(()).ok_or(OfficeSiteFieldError::Name)
}

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl Cidr {
    /// Parses `a.b.c.d/n` strictly: no leading zeros, no spaces, host bits clear.
    pub fn parse(text: &str) -> Result<Cidr, OfficeSiteFieldError> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or(OfficeSiteFieldError::CidrSyntax)?;
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| OfficeSiteFieldError::CidrSyntax)?;
        if prefix.is_empty()
            || prefix.len() > 2
            || !prefix.bytes().all(|b| b.is_ascii_digit())
            || (prefix.len() > 1 && prefix.starts_with('0'))
        {
            return Err(OfficeSiteFieldError::CidrSyntax);
        }
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| OfficeSiteFieldError::CidrSyntax)?;
        if prefix > 32 {
            return Err(OfficeSiteFieldError::CidrSyntax);
        }
        let bits = u32::from(address);
        let network = Ipv4Addr::from(bits & mask(prefix));
        if network != address {
            return Err(OfficeSiteFieldError::CidrHostBits(
                Cidr { network, prefix }.to_string(),
            ));
        }
        Ok(Cidr { network, prefix })
    }

    fn within(&self, outer: Ipv4Addr, outer_prefix: u8) -> bool {
        self.prefix >= outer_prefix
            && u32::from(self.network) & mask(outer_prefix) == u32::from(outer)
    }
}

/// The blocks an office network's VPC may use, and the longest mask of each.
const PRIVATE_BLOCKS: [(Ipv4Addr, u8, u8); 3] = [
    (Ipv4Addr::new(10, 0, 0, 0), 12, 24),
    (Ipv4Addr::new(172, 16, 0, 0), 12, 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16, 24),
];

/// The block the cloud picks when a basic office network is created without one.
pub const DEFAULT_CIDR_BLOCK: &str = "172.16.0.0/12";

/// A CIDR block an office network may use: one of [`PRIVATE_BLOCKS`] or a subnet of it with a
/// mask of at most 24 bits. Returns the block in canonical form.
pub fn validate_cidr_block(text: &str) -> Result<Cidr, OfficeSiteFieldError> {
    let cidr = Cidr::parse(text)?;
    PRIVATE_BLOCKS
        .iter()
        .any(|(outer, outer_prefix, longest)| {
            cidr.within(*outer, *outer_prefix) && cidr.prefix <= *longest
        })
        .then_some(cidr)
        .ok_or(OfficeSiteFieldError::CidrRange)
}

pub const BANDWIDTH_MIN: i64 = 10;
pub const BANDWIDTH_MAX: i64 = 200;
/// Bandwidth of an office network created with Internet access but no `Bandwidth`.
pub const DEFAULT_BANDWIDTH: i64 = 10;

pub fn validate_bandwidth(bandwidth: i64) -> Result<i64, OfficeSiteFieldError> {
    (BANDWIDTH_MIN..=BANDWIDTH_MAX)
        .contains(&bandwidth)
        .then_some(bandwidth)
        .ok_or(OfficeSiteFieldError::Bandwidth)
}

/// Finds `value` among `allowed` ignoring ASCII case, answering the canonical spelling.
fn canonical(allowed: &'static [&'static str], value: &str) -> Option<&'static str> {
    allowed
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(value))
}

/// `VpcType`: `standard` (advanced office network; needs a CIDR block), `basic`, `cloudbox`
/// (needs a vSwitch).
pub const VPC_TYPES: &[&str] = &["standard", "basic", "cloudbox"];
pub fn vpc_type(value: &str) -> Option<&'static str> {
    canonical(VPC_TYPES, value)
}

/// `DesktopAccessType`; `Internet` unless given.
pub const DESKTOP_ACCESS_TYPES: &[&str] = &["Internet", "VPC", "Any"];
pub fn desktop_access_type(value: &str) -> Option<&'static str> {
    canonical(DESKTOP_ACCESS_TYPES, value)
}

/// `OfficeSiteType`: the account system. `CreateSimpleOfficeSite` makes `SIMPLE` (convenience
/// account) sites only.
pub const OFFICE_SITE_TYPES: &[&str] = &["SIMPLE", "AD_CONNECTOR"];
pub const SIMPLE: &str = "SIMPLE";
pub fn office_site_type(value: &str) -> Option<&'static str> {
    canonical(OFFICE_SITE_TYPES, value)
}

/// Statuses of an office site, as `DescribeOfficeSites` filters and reports them.
pub const STATUSES: &[&str] = &[
    "REGISTERING",
    "REGISTERED",
    "DEREGISTERING",
    "DEREGISTERED",
    "NEEDCONFIGTRUST",
    "CONFIGTRUSTING",
    "CONFIGTRUSTFAILED",
    "NEEDCONFIGUSER",
    "ERROR",
];
/// A convenience-account site needs no directory trust to be configured: it is registered as
/// soon as it exists.
pub const REGISTERED: &str = "REGISTERED";
pub fn status(value: &str) -> Option<&'static str> {
    canonical(STATUSES, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn ids_have_the_cloud_shape() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let id = office_site_id("cn-hangzhou", &mut rng);
        let digits = id.strip_prefix("cn-hangzhou+dir-").unwrap_or_default();
        assert_eq!(digits.len(), 10, "{id}");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'));
        assert!(vpc_id(&mut rng).starts_with("vpc-"));
    }

    #[test]
    fn names() {
        for ok in ["ab", "Office-1", "办公网络", "a:b_c-9", &"x".repeat(255)] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1abc",
            "-ab",
            "_ab",
            "a b",
            "http://x",
            "https://x",
            "a/b",
            &"x".repeat(256),
        ] {
            assert_eq!(validate_name(bad), Err(OfficeSiteFieldError::Name), "{bad}");
        }
    }

    #[test]
    fn cidr_blocks() {
        for ok in [
            "172.16.0.0/12",
            "10.0.0.0/12",
            "10.8.0.0/16",
            "192.168.0.0/16",
            "192.168.10.0/24",
            "172.31.255.0/24",
        ] {
            assert_eq!(
                validate_cidr_block(ok).map(|c| c.to_string()),
                Ok(ok.to_string()),
                "{ok}"
            );
        }
        for syntax in [
            "",
            "172.16.0.0",
            "172.16.0.0/",
            "172.16.0/12",
            "172.16.0.0/33",
            "172.16.0.0/012",
            "172.016.0.0/12",
            " 172.16.0.0/12",
            "172.16.0.0/+1",
            "a.b.c.d/12",
        ] {
            assert_eq!(
                validate_cidr_block(syntax),
                Err(OfficeSiteFieldError::CidrSyntax),
                "{syntax}"
            );
        }
        assert_eq!(
            validate_cidr_block("172.16.0.1/12"),
            Err(OfficeSiteFieldError::CidrHostBits("172.16.0.0/12".into()))
        );
        for range in [
            "10.0.0.0/8",
            "10.16.0.0/16",
            "172.16.0.0/25",
            "192.160.0.0/12",
            "8.8.8.0/24",
            "0.0.0.0/0",
        ] {
            assert_eq!(
                validate_cidr_block(range),
                Err(OfficeSiteFieldError::CidrRange),
                "{range}"
            );
        }
    }

    #[test]
    fn enumerations_are_case_insensitive_and_canonical() {
        assert_eq!(vpc_type("Standard"), Some("standard"));
        assert_eq!(vpc_type("vpc"), None);
        assert_eq!(desktop_access_type("internet"), Some("Internet"));
        assert_eq!(desktop_access_type("vpc"), Some("VPC"));
        assert_eq!(office_site_type("simple"), Some(SIMPLE));
        assert_eq!(status("registered"), Some(REGISTERED));
        assert_eq!(status("gone"), None);
        assert_eq!(validate_bandwidth(9), Err(OfficeSiteFieldError::Bandwidth));
        assert_eq!(validate_bandwidth(200), Ok(200));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_blocks_round_trip(text in ".{0,24}") {
            if let Ok(cidr) = validate_cidr_block(&text) {
                prop_assert_eq!(cidr.to_string(), text);
            }
        }

        #[test]
        fn every_accepted_block_is_private(a in any::<u32>(), prefix in 0u8..=32) {
            let text = format!("{}/{prefix}", Ipv4Addr::from(a & mask(prefix)));
            if let Ok(cidr) = validate_cidr_block(&text) {
                let first = cidr.network.octets()[0];
                prop_assert!(first == 10 || first == 172 || first == 192);
                prop_assert!((12..=24).contains(&cidr.prefix));
            }
        }
    }
}
