//! The SSRF guard: webhook deliveries never reach loopback, private, link-local, metadata or
//! other internal addresses unless `[webhooks] allow_private_networks` is set (spec
//! `webhooks.md` §2.8, Svix's list).
//!
//! Two checks, because IP-literal URLs never reach a resolver: [`check_url`] refuses blocked
//! literal hosts before any connection, and [`GuardedResolver`] (the delivery client's DNS
//! resolver) drops blocked addresses from every name it resolves, so the address checked is the
//! address connected to (no DNS-rebinding window). Redirects are never followed (see
//! `client.rs`), so a public endpoint cannot bounce a delivery inward either.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The error type of name resolution, as reqwest's resolvers use it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
use url::{Host, Url};

/// How to lift the guard, appended to every refusal.
const ALLOW_PRIVATE_HINT: &str =
    "allow with [webhooks] allow_private_networks (env RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true)";

/// Why a webhook URL is refused. Every message says how to allow what it refuses, if it can be.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL.
    #[error("invalid URL: {0}")]
    Invalid(String),
    /// `http://` while only HTTPS is allowed.
    #[error(
        "the URL must use https; allow plain http with [webhooks] allow_http \
         (env RELAY_WEBHOOKS_ALLOW_HTTP=true)"
    )]
    HttpsRequired,
    /// A scheme other than `http` and `https`.
    #[error("unsupported URL scheme {0:?}: use https")]
    Scheme(String),
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The host is an IP literal in a blocked range.
    #[error(
        "blocked by the SSRF guard: {0} is a private or reserved address; {ALLOW_PRIVATE_HINT}"
    )]
    BlockedAddress(IpAddr),
    /// Every address the host resolves to is in a blocked range.
    #[error(
        "blocked by the SSRF guard: {0} resolves only to private addresses; {ALLOW_PRIVATE_HINT}"
    )]
    BlockedName(String),
}

/// Whether deliveries to this address are refused by default: loopback, private, link-local
/// (including the 169.254.169.254 metadata service), broadcast, multicast, documentation,
/// benchmarking, shared (CGNAT) and reserved IPv4 ranges; the IPv6 equivalents (loopback,
/// unspecified, IPv4-compatible, link-local, site-local, unique-local, multicast,
/// documentation, discard, Teredo, benchmarking, SRv6, and anything outside global unicast
/// 2000::/3); IPv4-mapped addresses, 6to4 and NAT64 are judged by the IPv4 address they carry.
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", incl. 0.0.0.0
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local, incl. 169.254.169.254 (cloud metadata)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation TEST-NET-1
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation TEST-NET-2
        ([203, 0, 113, 0], 24),  // documentation TEST-NET-3
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, incl. 255.255.255.255 broadcast
    ];
    BLOCKED.iter().any(|&(net, prefix)| in_v4(ip, net, prefix))
}

fn in_v6(ip: Ipv6Addr, net: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == net & mask
}

fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    // IPv4-mapped (::ffff:a.b.c.d): the kernel connects to the IPv4 address itself.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_blocked_v4(v4);
    }
    let bits = u128::from(ip);
    // 6to4 (2002:AABB:CCDD::/48) and NAT64 (64:ff9b::a.b.c.d): judged by the IPv4 they reach.
    if in_v6(ip, 0x2002 << 112, 16) {
        return is_blocked_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        return is_blocked_v4(Ipv4Addr::from(bits as u32));
    }
    const BLOCKED: &[(u128, u32)] = &[
        (0, 96),                      // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        (0x0064_ff9b_0001 << 80, 48), // local-use NAT64 (RFC 8215)
        (0x0100 << 112, 64),          // discard-only
        (0x2001 << 112, 32),          // Teredo (tunnels to arbitrary IPv4)
        (0x2001_0002 << 96, 48),      // benchmarking
        (0x2001_0db8 << 96, 32),      // documentation
        (0x3fff << 112, 20),          // documentation (RFC 9637)
        (0x5f00 << 112, 16),          // SRv6 SIDs
        (0xfc00 << 112, 7),           // unique local
        (0xfe80 << 112, 10),          // link-local
        (0xfec0 << 112, 10),          // site-local (deprecated)
        (0xff00 << 112, 8),           // multicast
    ];
    // Everything outside global unicast 2000::/3 is reserved, local or special anyway.
    !in_v6(ip, 0x2000 << 112, 3) || BLOCKED.iter().any(|&(net, prefix)| in_v6(ip, net, prefix))
}

/// Checks a webhook URL before delivery (and when a webhook is saved): `https` only unless
/// `allow_http`, a host present, and an IP-literal host not blocked unless `allow_private`
/// (literals never reach [`GuardedResolver`]). Hostnames are checked when resolved.
///
/// The `url` crate normalizes IPv4 spellings first, so `http://2130706433/`, `http://0x7f.1/`
/// and `http://0177.0.0.1/` are all `127.0.0.1` here.
pub fn check_url(url: &str, allow_http: bool, allow_private: bool) -> Result<Url, UrlError> {
    let parsed = Url::parse(url.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(UrlError::HttpsRequired),
        other => return Err(UrlError::Scheme(other.to_owned())),
    }
    let ip = match parsed.host() {
        None => return Err(UrlError::NoHost),
        Some(Host::Domain("")) => return Err(UrlError::NoHost),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if let Some(ip) = ip {
        if !allow_private && is_blocked(ip) {
            return Err(UrlError::BlockedAddress(canonical(ip)));
        }
    }
    Ok(parsed)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; any other address unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The delivery client's DNS resolver: the system resolver (`tokio::net::lookup_host`), minus
/// the addresses [`is_blocked`] refuses unless private networks are allowed. A name left with
/// no address fails with [`UrlError::BlockedName`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    /// A resolver that drops blocked addresses unless `allow_private`.
    pub fn new(allow_private: bool) -> GuardedResolver {
        GuardedResolver { allow_private }
    }

    /// Resolves `host` and filters its addresses (port 0: the client fills in the URL's).
    /// A name left without addresses fails with [`UrlError::BlockedName`] (boxed, so the
    /// delivery client finds it in the error chain).
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, BoxError> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        if self.allow_private {
            return Ok(found);
        }
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| !is_blocked(addr.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(Box::new(UrlError::BlockedName(host.to_owned())));
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = *self;
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(ip: &str) -> bool {
        is_blocked(ip.parse().unwrap())
    }

    #[test]
    fn blocked_ipv4() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(blocked(ip), "{ip} must be blocked");
        }
    }

    #[test]
    fn public_ipv4() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.88.98.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            assert!(!blocked(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn blocked_ipv6() {
        for ip in [
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "5f00::1",
            "64:ff9b:1::1",
            "fe00::1",
            "100:0:0:1::1",
            "4000::1",
            "2002:7f00:0001::1",      // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::",       // 6to4 of 169.254.169.254
            "2002:c0a8:0101:ffff::1", // 6to4 of 192.168.1.1
            "64:ff9b::127.0.0.1",     // NAT64 of loopback
            "64:ff9b::a9fe:a9fe",     // NAT64 of the metadata service
            "64:ff9b::10.1.2.3",
        ] {
            assert!(blocked(ip), "{ip} must be blocked");
        }
    }

    #[test]
    fn public_ipv6() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1", // 6to4 of 8.8.8.8
            "64:ff9b::8.8.8.8",  // NAT64 of 8.8.8.8
            "2001:db9::1",
        ] {
            assert!(!blocked(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn scheme_rules() {
        assert!(check_url("https://example.com/hook", false, false).is_ok());
        assert_eq!(
            check_url("http://example.com/hook", false, false),
            Err(UrlError::HttpsRequired)
        );
        assert!(check_url("http://example.com/hook", true, false).is_ok());
        assert!(matches!(
            check_url("ftp://example.com/", true, true),
            Err(UrlError::Scheme(s)) if s == "ftp"
        ));
        assert!(matches!(
            check_url("file:///etc/passwd", true, true),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            check_url("not a url", true, true),
            Err(UrlError::Invalid(_))
        ));
        let err = check_url("http://example.com/", false, false).unwrap_err();
        assert!(err.to_string().contains("allow_http"), "{err}");
    }

    #[test]
    fn literal_hosts_are_checked_in_every_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0xa9fea9fe/",
            "http://[fe80::1]:8080/",
            "http://10.0.0.1:8443/hook",
            "https://192.168.1.1/",
            "http://0/",
        ] {
            let err = check_url(url, true, false).unwrap_err();
            assert!(matches!(err, UrlError::BlockedAddress(_)), "{url}: {err}");
            assert!(
                err.to_string().contains("allow_private_networks"),
                "{url}: {err}"
            );
            assert!(
                check_url(url, true, true).is_ok(),
                "{url} with private allowed"
            );
        }
        // Mapped addresses are reported as the IPv4 address they are.
        assert_eq!(
            check_url("http://[::ffff:127.0.0.1]/", true, false),
            Err(UrlError::BlockedAddress("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            check_url("http://2130706433/", true, false),
            Err(UrlError::BlockedAddress("127.0.0.1".parse().unwrap()))
        );
        // Public literals and names pass (names are checked at resolution).
        assert!(check_url("https://8.8.8.8/", false, false).is_ok());
        assert!(check_url("https://[2606:4700:4700::1111]/", false, false).is_ok());
        assert!(check_url("https://localhost/", false, false).is_ok());
    }

    // The resolver is only ever exercised with names that resolve to loopback: tests must not
    // send traffic anywhere else.
    #[tokio::test]
    async fn resolver_drops_loopback_by_default() {
        let err = GuardedResolver::new(false)
            .lookup("localhost")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("blocked by the SSRF guard: localhost resolves only to private"),
            "{text}"
        );
        assert!(text.contains("allow_private_networks"), "{text}");
    }

    #[tokio::test]
    async fn resolver_keeps_loopback_when_allowed() {
        let addrs = GuardedResolver::new(true)
            .lookup("localhost")
            .await
            .unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    #[tokio::test]
    async fn resolver_via_the_reqwest_trait() {
        let name: Name = "localhost".parse().unwrap();
        let result = Resolve::resolve(&GuardedResolver::new(false), name).await;
        let err = result.err().expect("blocked");
        assert!(err.to_string().contains("SSRF guard"), "{err}");

        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = Resolve::resolve(&GuardedResolver::new(true), name)
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
