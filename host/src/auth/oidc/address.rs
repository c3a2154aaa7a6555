//! Which addresses a JWKS URL may point at. A provider's configuration comes
//! from a tenant, and fetching its `jwks_url` is a request the server makes:
//! unless the operator allows it, it must not reach the server's own
//! machine or network (loopback, private, link-local and other non-public
//! addresses). The rule is checked twice: on the URL when the provider is
//! configured (IP literals and `localhost`), and on every address a name
//! resolves to when the fetcher connects (which also defeats DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which addresses JWKS URLs may point at, and the fetcher connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwksAddresses {
    /// Public addresses only (the default).
    Public,
    /// Public and loopback addresses (given with `allow_http_loopback`).
    PublicAndLoopback,
    /// Any address (given with `allow_private_jwks_urls`).
    Any,
}

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonPublic {
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
    /// Multicast, broadcast, shared (carrier-grade NAT), reserved, …
    Special,
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::Unspecified => "an unspecified address",
            Self::Special => "a non-public address",
        })
    }
}

impl JwksAddresses {
    /// True when the fetcher may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        matches!(
            (self, classify(ip)),
            (_, None) | (Self::Any, _) | (Self::PublicAndLoopback, Some(NonPublic::Loopback))
        )
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub(crate) fn classify(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        Some(NonPublic::Unspecified)
    } else if a == 127 {
        Some(NonPublic::Loopback)
    } else if a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168) {
        Some(NonPublic::Private)
    } else if a == 169 && b == 254 {
        Some(NonPublic::LinkLocal)
    } else if special_v4(a, b, c) {
        Some(NonPublic::Special)
    } else {
        None
    }
}

/// "This network" (0/8), shared carrier-grade NAT (100.64/10), IETF protocol
/// assignments (192.0.0/24), benchmarking (198.18/15), and multicast,
/// reserved and broadcast (224/3).
fn special_v4(a: u8, b: u8, c: u8) -> bool {
    a == 0
        || (a == 100 && (64..=127).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..=19).contains(&b))
        || a >= 224
}

fn classify_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(NonPublic::Unspecified);
    }
    if ip.is_loopback() {
        return Some(NonPublic::Loopback);
    }
    // An IPv4 address inside an IPv6 one reaches that IPv4 address:
    // IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:ab:cd::).
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return classify_v4(embedded(s[1], s[2]));
    }
    match s[0] {
        x if x & 0xfe00 == 0xfc00 => Some(NonPublic::Private), // unique local, fc00::/7
        x if x & 0xffc0 == 0xfec0 => Some(NonPublic::Private), // site-local (deprecated), fec0::/10
        x if x & 0xffc0 == 0xfe80 => Some(NonPublic::LinkLocal), // fe80::/10
        x if x & 0xff00 == 0xff00 => Some(NonPublic::Special), // multicast
        // The rest of ::/8: IPv4-compatible and other reserved forms.
        x if x & 0xff00 == 0 => Some(NonPublic::Special),
        _ => None,
    }
}

/// True for `localhost` and names under it (RFC 6761), whatever the case and
/// a trailing dot.
pub(crate) fn is_localhost(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// True for a host that is no DNS name but would still resolve to an
/// address: its last label is a number (`2130706433`, `127.1`, `0x7f.1`), an
/// IPv4 address in a notation `getaddrinfo` accepts.
pub(crate) fn is_numeric_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or(host).to_ascii_lowercase();
    let hex = last.strip_prefix("0x").is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    !last.is_empty() && (hex || last.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<NonPublic> {
        ip.parse().ok().and_then(classify)
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for (ip, expected) in [
            ("127.0.0.1", Some(NonPublic::Loopback)),
            ("127.9.9.9", Some(NonPublic::Loopback)),
            ("::1", Some(NonPublic::Loopback)),
            ("::ffff:127.0.0.1", Some(NonPublic::Loopback)),
            ("10.1.2.3", Some(NonPublic::Private)),
            ("172.16.0.1", Some(NonPublic::Private)),
            ("172.31.255.255", Some(NonPublic::Private)),
            ("192.168.1.1", Some(NonPublic::Private)),
            ("fd00::1", Some(NonPublic::Private)),
            ("fc00::1", Some(NonPublic::Private)),
            ("64:ff9b::10.0.0.1", Some(NonPublic::Private)),
            ("2002:c0a8:0101::1", Some(NonPublic::Private)),
            ("169.254.169.254", Some(NonPublic::LinkLocal)),
            ("fe80::1", Some(NonPublic::LinkLocal)),
            ("0.0.0.0", Some(NonPublic::Unspecified)),
            ("::", Some(NonPublic::Unspecified)),
            ("100.64.0.1", Some(NonPublic::Special)),
            ("255.255.255.255", Some(NonPublic::Special)),
            ("ff02::1", Some(NonPublic::Special)),
            ("172.32.0.1", None),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
            ("64:ff9b::8.8.8.8", None),
        ] {
            assert_eq!(kind(ip), expected, "{ip}");
        }
        assert!(JwksAddresses::PublicAndLoopback.allows(IpAddr::from([127, 0, 0, 1])));
        assert!(!JwksAddresses::PublicAndLoopback.allows(IpAddr::from([10, 0, 0, 1])));
        assert!(!JwksAddresses::Public.allows(IpAddr::from([127, 0, 0, 1])));
        assert!(JwksAddresses::Any.allows(IpAddr::from([10, 0, 0, 1])));
    }

    #[test]
    fn localhost_and_numeric_hosts() {
        assert!(is_localhost("LocalHost.") && is_localhost("a.localhost") && !is_localhost("localhost.example"));
        for numeric in ["2130706433", "127.1", "0x7f.1", "10.0.0.1"] {
            assert!(is_numeric_host(numeric), "{numeric}");
        }
        for name in ["idp.example.com", "1password.com", "x.0xbeef.dev"] {
            assert!(!is_numeric_host(name), "{name}");
        }
    }
}
