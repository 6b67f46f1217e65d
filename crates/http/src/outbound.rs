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
    /// IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, and the deprecated IPv4-compatible `::/96`.
    Ipv4Mapped,
    /// Cloud instance metadata endpoints: `169.254.169.254`, `169.254.170.2`, `100.100.100.200`, `fd00:ec2::254`.
    Metadata,
    /// Other special-purpose ranges: `192.0.0.0/24`, benchmarking `198.18.0.0/15`, documentation, `240.0.0.0/4`;
    /// IPv6 discard-only `100::/64`, local-use NAT64 `64:ff9b:1::/48`, Teredo `2001::/32` and the other IETF
    /// protocol assignments, documentation, SRv6 `5f00::/16`; and NAT64 `64:ff9b::/96` and 6to4 `2002::/16` addresses
    /// whose embedded IPv4 address is itself refused.
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
        let bits = u32::from(address);
        V4_RANGES.iter().find(|range| bits & mask32(range.prefix_len) == range.network).map(|range| range.class)
    }

    fn of_v6(address: Ipv6Addr) -> Option<Self> {
        let bits = u128::from(address);
        let range = V6_RANGES.iter().find(|range| bits & mask128(range.prefix_len) == range.network)?;
        match range.embedded {
            Embedded::No => Some(range.class),
            // A gateway would forward to the IPv4 address the IPv6 address carries: refused when that address is.
            Embedded::Forwarded(extract) => Self::of_v4(extract(address)).map(|_| range.class),
        }
    }
}

/// A range of IPv4 addresses and the class that refuses it.
struct V4Range {
    network: u32,
    prefix_len: u8,
    class: AddressClass,
}

/// A range of IPv6 addresses, the class that refuses it, and whether it carries an IPv4 address that decides.
struct V6Range {
    network: u128,
    prefix_len: u8,
    class: AddressClass,
    embedded: Embedded,
}

/// Whether the addresses of an IPv6 range are refused outright or by the IPv4 address they carry.
#[derive(Clone, Copy)]
enum Embedded {
    /// Every address of the range is refused.
    No,
    /// An address is refused when the IPv4 address it carries (read by the function) is refused.
    Forwarded(fn(Ipv6Addr) -> Ipv4Addr),
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix_len: u8, class: AddressClass) -> V4Range {
    V4Range { network: u32::from_be_bytes([a, b, c, d]), prefix_len, class }
}

const fn v6(segments: [u16; 8], prefix_len: u8, class: AddressClass, embedded: Embedded) -> V6Range {
    let mut network = 0u128;
    let mut index = 0;
    while index < 8 {
        network = (network << 16) | segments[index] as u128;
        index += 1;
    }
    V6Range { network, prefix_len, class, embedded }
}

const fn mask32(prefix_len: u8) -> u32 {
    if prefix_len == 0 { 0 } else { u32::MAX << (32 - prefix_len as u32) }
}

const fn mask128(prefix_len: u8) -> u128 {
    if prefix_len == 0 { 0 } else { u128::MAX << (128 - prefix_len as u32) }
}

/// The IPv4 address in the last 32 bits (NAT64, IPv4-translated).
fn low_32(address: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from(u128::from(address) as u32)
}

/// The IPv4 address after the 16-bit `2002` prefix of a 6to4 address.
fn six_to_four(address: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(address) >> 80) as u32)
}

/// The refused IPv4 ranges (the IANA special-purpose registry, plus cloud metadata endpoints); the first match wins,
/// so the single metadata addresses come before the link-local range that holds one of them.
const V4_RANGES: &[V4Range] = {
    use AddressClass::*;
    &[
        v4(169, 254, 169, 254, 32, Metadata),
        v4(169, 254, 170, 2, 32, Metadata),
        v4(100, 100, 100, 200, 32, Metadata),
        v4(0, 0, 0, 0, 8, Unspecified),
        v4(127, 0, 0, 0, 8, Loopback),
        v4(10, 0, 0, 0, 8, Private),
        v4(172, 16, 0, 0, 12, Private),
        v4(192, 168, 0, 0, 16, Private),
        v4(169, 254, 0, 0, 16, LinkLocal),
        v4(100, 64, 0, 0, 10, Cgnat),
        v4(224, 0, 0, 0, 4, Multicast),
        v4(255, 255, 255, 255, 32, Multicast),
        v4(192, 0, 0, 0, 24, Reserved),
        v4(192, 0, 2, 0, 24, Reserved),
        v4(192, 88, 99, 0, 24, Reserved),
        v4(198, 18, 0, 0, 15, Reserved),
        v4(198, 51, 100, 0, 24, Reserved),
        v4(203, 0, 113, 0, 24, Reserved),
        v4(240, 0, 0, 0, 4, Reserved),
    ]
};

/// The refused IPv6 ranges (the IANA special-purpose registry, plus cloud metadata endpoints); the first match wins.
///
/// Ranges that carry an IPv4 address a gateway forwards to (NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are refused when
/// that address is. Teredo (`2001::/32`) is refused outright: a relay opens the tunnel towards the (obfuscated) client
/// address it carries, which can be any IPv4 address, 127.0.0.1 included. IPv4-mapped, IPv4-translated and
/// IPv4-compatible addresses are refused outright (an allow list entry admits the mapped form of the IPv4 addresses
/// it contains).
const V6_RANGES: &[V6Range] = {
    use AddressClass::*;
    use Embedded::{Forwarded, No};
    &[
        v6([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254], 128, Metadata, No),
        v6([0; 8], 128, Unspecified, No),
        v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback, No),
        // IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, IPv4-compatible `::/96`.
        v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, Ipv4Mapped, No),
        v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, Ipv4Mapped, No),
        v6([0; 8], 96, Ipv4Mapped, No),
        // NAT64: the well-known prefix forwards to the address it carries; the local-use prefix is not global.
        v6([0x0064, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Reserved, Forwarded(low_32)),
        v6([0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0], 48, Reserved, No),
        // Discard-only.
        v6([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved, No),
        // Teredo, benchmarking, ORCHID and ORCHIDv2 (IETF protocol assignments), documentation.
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Reserved, No),
        v6([0x2001, 0x0002, 0, 0, 0, 0, 0, 0], 48, Reserved, No),
        v6([0x2001, 0x0010, 0, 0, 0, 0, 0, 0], 28, Reserved, No),
        v6([0x2001, 0x0020, 0, 0, 0, 0, 0, 0], 28, Reserved, No),
        v6([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, Reserved, No),
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Reserved, No),
        // 6to4 forwards to the address it carries.
        v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Reserved, Forwarded(six_to_four)),
        // Segment routing SIDs.
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Reserved, No),
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private, No),
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private, No),
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal, No),
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast, No),
    ]
};

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
            // IPv4-translated (SIIT) addresses, whatever they carry.
            ("::ffff:0:127.0.0.1", Some(Ipv4Mapped)),
            ("::ffff:0:8.8.8.8", Some(Ipv4Mapped)),
            // Local-use NAT64, whatever it carries.
            ("64:ff9b:1::7f00:1", Some(Reserved)),
            ("64:ff9b:1:ffff::808:808", Some(Reserved)),
            // Teredo, here with client 127.0.0.1 (obfuscated as 80ff:fffe) behind a public server.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some(Reserved)),
            ("2001::1", Some(Reserved)),
            ("2001:2::1", Some(Reserved)),
            ("2001:10::1", Some(Reserved)),
            ("2001:2f::1", Some(Reserved)),
            ("3fff:fff::1", Some(Reserved)),
            ("5f00::1", Some(Reserved)),
            // Discard-only.
            ("100::1", Some(Reserved)),
            ("100::ffff:ffff:ffff:ffff", Some(Reserved)),
            ("64:ff9b::a9fe:a9fe", Some(Reserved)),
            ("2002:a9fe:a9fe::1", Some(Reserved)),
            ("2001:4860:4860::8888", None),
            ("2001:200::1", None),
            ("100:0:0:1::", None),
            ("64:ff9b:2::1", None),
            ("4000::1", None),
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

    /// Every refused IPv6 range, with an address drawn from inside it: `(network, prefix length)`.
    const REFUSED_V6: [(&str, u8); 18] = [
        ("::", 96),
        ("::ffff:0:0", 96),
        ("::ffff:0:0:0", 96),
        ("64:ff9b:1::", 48),
        ("100::", 64),
        ("2001::", 32),
        ("2001:2::", 48),
        ("2001:10::", 28),
        ("2001:20::", 28),
        ("2001:db8::", 32),
        ("3fff::", 20),
        ("5f00::", 16),
        ("fc00::", 7),
        ("fec0::", 10),
        ("fe80::", 10),
        ("ff00::", 8),
        ("fd00:ec2::254", 128),
        ("::1", 128),
    ];

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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Every address of every refused IPv6 range is refused by default, whatever its host bits.
        #[test]
        fn refused_v6_ranges_are_refused_throughout(host in proptest::prelude::any::<u128>(), range in 0usize..18) {
            let (network, prefix_len) = REFUSED_V6[range];
            let network = u128::from(network.parse::<Ipv6Addr>().unwrap());
            let address = Ipv6Addr::from(network | (host & !mask128(prefix_len)));
            proptest::prop_assert!(OutboundPolicy::default().check(IpAddr::V6(address)).is_err(), "{}", address);
        }

        /// A NAT64 or 6to4 address is refused exactly when the IPv4 address it carries is.
        #[test]
        fn forwarding_prefixes_follow_their_embedded_address(octets in proptest::prelude::any::<[u8; 4]>()) {
            let embedded = Ipv4Addr::from(octets);
            let refused = AddressClass::of(IpAddr::V4(embedded)).is_some();
            let bits = u128::from(u32::from(embedded));
            let nat64 = Ipv6Addr::from((0x0064_ff9b_u128 << 96) | bits);
            let six_to_four = Ipv6Addr::from((0x2002_u128 << 112) | (bits << 80) | 1);
            for address in [nat64, six_to_four] {
                proptest::prop_assert_eq!(AddressClass::of(IpAddr::V6(address)).is_some(), refused, "{}", address);
            }
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
