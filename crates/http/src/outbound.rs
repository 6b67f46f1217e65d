//! The SSRF guard: which addresses outbound requests may reach, and the DNS resolver that enforces it on connect.
//!
//! Every address a request could connect to passes through [`OutboundPolicy::check`]: literal IP hosts before the
//! request is sent and at every redirect hop, resolved names inside [`GuardedResolver`], which hands reqwest only the
//! addresses that passed. reqwest then connects to exactly those addresses, so a name cannot resolve to a public
//! address at check time and to a private one at connect time (DNS rebinding).

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Which private or special addresses outbound requests may reach.
///
/// By default every refused class is refused; CIDRs in the allow list admit addresses they contain (the server's
/// `CUTOVER_OUTBOUND_ALLOW`, the CLI's `--allow-network`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundPolicy {
    /// Networks that may be reached although their addresses belong to a refused class.
    pub allow: Vec<IpNet>,
}

impl OutboundPolicy {
    /// A policy that refuses every special address and admits those in `allow`.
    pub fn allowing(allow: impl IntoIterator<Item = IpNet>) -> Self {
        Self { allow: allow.into_iter().collect() }
    }

    /// Decides whether `address` may be reached: `Err` names the class that refused it.
    pub fn check(&self, address: IpAddr) -> Result<(), OutboundRefusal> {
        let Some(class) = AddressClass::of(address) else {
            return Ok(());
        };
        if self.admits(address) {
            return Ok(());
        }
        Err(OutboundRefusal { address, class })
    }

    /// Checks the host of `url` when it is a literal address. Names pass: they are checked when they are resolved, by
    /// the resolver of [`OutboundPolicy::guarded_client_builder`] (and of the executor).
    pub fn check_url(&self, url: &url::Url) -> Result<(), OutboundRefusal> {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) | None => Ok(()),
        }
    }

    /// A reqwest client builder that obeys this policy, for requests made outside the executor (the auth crate's
    /// token requests): names resolve only to admitted addresses, redirects to refused literal addresses fail, at most
    /// five redirects are followed, and no proxy is used.
    ///
    /// reqwest does not show a connector the address it connects to, so the literal host of the first request is not
    /// checked here: callers check it with [`OutboundPolicy::check_url`] before sending.
    pub fn guarded_client_builder(&self) -> reqwest::ClientBuilder {
        let policy = Arc::new(self.clone());
        let redirects = Arc::clone(&policy);
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > 5 {
                    return attempt.error("too many redirects: more than 5");
                }
                match redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => attempt.error(refusal),
                }
            }))
            .no_proxy()
    }

    /// Whether the allow list contains `address`, or the IPv4 address an IPv4-mapped IPv6 address carries.
    fn admits(&self, address: IpAddr) -> bool {
        let canonical = address.to_canonical();
        self.allow.iter().any(|net| net.contains(&address) || net.contains(&canonical))
    }
}

/// The classes of addresses the guard refuses unless allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `fc00::/7`, `fec0::/10`.
    Private,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    Cgnat,
    /// `224.0.0.0/4`, `ff00::/8`, and the broadcast address.
    Multicast,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `::ffff:0:0/96`, and the deprecated IPv4-compatible `::/96`.
    Ipv4Mapped,
    /// Cloud instance metadata endpoints: `169.254.169.254`, `169.254.170.2`, `100.100.100.200`, `fd00:ec2::254`.
    Metadata,
    /// Other reserved ranges: `192.0.0.0/24`, benchmarking `198.18.0.0/15`, documentation, `240.0.0.0/4`, and IPv6
    /// translation prefixes whose embedded IPv4 address is itself refused.
    Reserved,
}

impl AddressClass {
    /// The class that refuses `address`, or `None` for an ordinary public address.
    pub fn of(address: IpAddr) -> Option<Self> {
        match address {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    /// Lower-case words for messages, such as "link-local".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Cgnat => "carrier-grade NAT",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Ipv4Mapped => "IPv4-mapped IPv6",
            Self::Metadata => "cloud metadata",
            Self::Reserved => "reserved",
        }
    }

    fn of_v4(address: Ipv4Addr) -> Option<Self> {
        let octets = address.octets();
        let metadata =
            [Ipv4Addr::new(169, 254, 169, 254), Ipv4Addr::new(169, 254, 170, 2), Ipv4Addr::new(100, 100, 100, 200)];
        if metadata.contains(&address) {
            return Some(Self::Metadata);
        }
        let class = if octets[0] == 0 {
            Self::Unspecified
        } else if address.is_loopback() {
            Self::Loopback
        } else if address.is_private() {
            Self::Private
        } else if address.is_link_local() {
            Self::LinkLocal
        } else if octets[0] == 100 && (octets[1] & 0b1100_0000) == 64 {
            Self::Cgnat
        } else if address.is_multicast() || address.is_broadcast() {
            Self::Multicast
        } else if (octets[0] == 192 && octets[1] == 0 && octets[2] == 0)
            || (octets[0] == 198 && (octets[1] & 0xfe) == 18)
            || address.is_documentation()
            || octets[0] >= 240
        {
            Self::Reserved
        } else {
            return None;
        };
        Some(class)
    }

    fn of_v6(address: Ipv6Addr) -> Option<Self> {
        let segments = address.segments();
        if address == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
            return Some(Self::Metadata);
        }
        let class = if address.is_unspecified() {
            Self::Unspecified
        } else if address.is_loopback() {
            Self::Loopback
        } else if address.to_ipv4_mapped().is_some() || segments[..6] == [0; 6] {
            Self::Ipv4Mapped
        } else if (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfec0 {
            Self::Private
        } else if (segments[0] & 0xffc0) == 0xfe80 {
            Self::LinkLocal
        } else if (segments[0] & 0xff00) == 0xff00 {
            Self::Multicast
        } else if let Some(embedded) = Self::embedded_v4(address) {
            // NAT64 and 6to4 addresses carry an IPv4 address a gateway would forward to.
            Self::of_v4(embedded).map(|_| Self::Reserved)?
        } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
            Self::Reserved
        } else {
            return None;
        };
        Some(class)
    }

    /// The IPv4 address inside a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address.
    fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
        let segments = address.segments();
        let [a, b] = if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
            [segments[6], segments[7]]
        } else if segments[0] == 0x2002 {
            [segments[1], segments[2]]
        } else {
            return None;
        };
        Some(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8))
    }
}

/// Why the guard refused an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundRefusal {
    /// The refused address.
    pub address: IpAddr,
    /// The class it belongs to.
    pub class: AddressClass,
}

impl fmt::Display for OutboundRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is a {} address and is not in the outbound allow list", self.address, self.class.describe())
    }
}

impl std::error::Error for OutboundRefusal {}

/// Every address of a name was refused: the error the resolver hands reqwest, found again when classifying errors.
#[derive(Debug, Clone)]
pub(crate) struct NameRefused {
    pub(crate) host: String,
    pub(crate) refusal: OutboundRefusal,
}

impl fmt::Display for NameRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resolves to {}", self.host, self.refusal)
    }
}

impl std::error::Error for NameRefused {}

/// A reqwest DNS resolver that resolves with the system resolver and keeps only the addresses the policy admits.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let admitted: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match policy.check(address.ip()) {
                    Ok(()) => true,
                    Err(refusal) => {
                        first_refusal.get_or_insert(refusal);
                        false
                    }
                })
                .collect();
            match (admitted.is_empty(), first_refusal) {
                (true, Some(refusal)) => Err(Box::new(NameRefused { host, refusal }) as _),
                _ => Ok(Box::new(admitted.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(address: &str, expected: Option<AddressClass>) {
        let address: IpAddr = address.parse().unwrap();
        assert_eq!(AddressClass::of(address), expected, "class of {address}");
        let verdict = OutboundPolicy::default().check(address);
        assert_eq!(verdict.err().map(|refusal| refusal.class), expected, "default policy on {address}");
    }

    #[test]
    fn classifies_every_refused_class_and_admits_public_addresses() {
        use AddressClass::*;
        let cases = [
            ("127.0.0.1", Some(Loopback)),
            ("127.255.0.9", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fec0::1", Some(Private)),
            ("169.254.1.1", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("100.64.0.1", Some(Cgnat)),
            ("100.127.255.254", Some(Cgnat)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("255.255.255.255", Some(Multicast)),
            ("ff02::1", Some(Multicast)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("::ffff:127.0.0.1", Some(Ipv4Mapped)),
            ("::ffff:8.8.8.8", Some(Ipv4Mapped)),
            ("::127.0.0.1", Some(Ipv4Mapped)),
            ("169.254.169.254", Some(Metadata)),
            ("169.254.170.2", Some(Metadata)),
            ("100.100.100.200", Some(Metadata)),
            ("fd00:ec2::254", Some(Metadata)),
            ("192.0.0.8", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("192.0.2.1", Some(Reserved)),
            ("240.0.0.1", Some(Reserved)),
            ("2001:db8::1", Some(Reserved)),
            ("64:ff9b::10.0.0.1", Some(Reserved)),
            ("2002:7f00:1::", Some(Reserved)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.32.0.1", None),
            ("2606:4700:4700::1111", None),
            ("64:ff9b::8.8.8.8", None),
            ("2002:0808:0808::", None),
        ];
        for (address, expected) in cases {
            check(address, expected);
        }
    }

    #[test]
    fn allow_list_admits_contained_addresses_and_their_mapped_forms() {
        let policy = OutboundPolicy::allowing(["127.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        for admitted in ["127.0.0.1", "::ffff:127.0.0.1", "fd00:ec2::254"] {
            assert_eq!(policy.check(admitted.parse().unwrap()), Ok(()), "{admitted}");
        }
        for refused in ["::1", "10.0.0.1", "169.254.169.254"] {
            assert!(policy.check(refused.parse().unwrap()).is_err(), "{refused}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// An IPv4 address and its IPv4-mapped IPv6 form are refused or admitted together by an IPv4 allow list,
        /// and the mapped form of a refused address is never admitted without one.
        #[test]
        fn mapped_addresses_follow_their_ipv4_address(octets in proptest::prelude::any::<[u8; 4]>(), prefix in 8u8..=32) {
            let v4 = Ipv4Addr::from(octets);
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            proptest::prop_assert!(OutboundPolicy::default().check(mapped).is_err());
            let net = ipnet::Ipv4Net::new(v4, prefix).unwrap().trunc();
            let policy = OutboundPolicy::allowing([IpNet::V4(net)]);
            proptest::prop_assert_eq!(policy.check(mapped), Ok(()));
            proptest::prop_assert_eq!(policy.check(IpAddr::V4(v4)), Ok(()));
        }

        /// Every address of the private, loopback, link-local and CGNAT ranges is refused by default.
        #[test]
        fn special_ranges_are_refused(host in proptest::prelude::any::<u32>(), range in 0usize..6) {
            let (base, bits): (u32, u32) = [
                (0x0a00_0000, 8), (0xac10_0000, 12), (0xc0a8_0000, 16), (0x7f00_0000, 8), (0xa9fe_0000, 16),
                (0x6440_0000, 10),
            ][range];
            let address = Ipv4Addr::from(base | (host >> bits));
            proptest::prop_assert!(OutboundPolicy::default().check(IpAddr::V4(address)).is_err(), "{}", address);
        }
    }

    #[test]
    fn refusal_explains_itself() {
        let refusal = OutboundPolicy::default().check("169.254.169.254".parse().unwrap()).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "169.254.169.254 is a cloud metadata address and is not in the outbound allow list"
        );
    }
}
