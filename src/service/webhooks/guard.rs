//! The SSRF guard: which URLs an endpoint may have and which addresses a delivery may
//! connect to.
//!
//! Refused, unless `ROSTER_WEBHOOK_ALLOW_PRIVATE=true`: loopback, private (RFC 1918, IPv6
//! unique-local), link-local (which holds the cloud metadata address 169.254.169.254),
//! unspecified, multicast, broadcast, carrier-grade NAT (100.64.0.0/10), the IETF,
//! benchmarking and reserved ranges, and IPv6 forms embedding any of those (IPv4-mapped,
//! IPv4-compatible, NAT64). The check runs when an endpoint is created or changed and again
//! at every connection: the HTTP client resolves names through [`GuardedResolver`], which
//! drops refused addresses, so the address connected to is the address checked (a DNS
//! answer that changes between the check and the send — DNS rebinding — gains nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

use super::super::{Error, Result};

/// Longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// Why an address is refused, or `None` when it is a public unicast address.
pub fn refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local (or cloud metadata) address")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("a carrier-grade NAT address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || o[0] >= 240 {
        Some("a reserved address")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("an IETF protocol address")
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        Some("a benchmarking address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and the NAT64 well-known prefix 64:ff9b::/96
    // reach IPv4 hosts too.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return refused_v4(embedded);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return refused_v4(embedded);
    }
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("a private (unique-local) address")
    } else if (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xffc0) == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// Parses and checks an endpoint URL: `https` (or `http` when private addresses are
/// allowed, for local development and tests), a host, no user name or password (they would
/// be shown in listings), at most 2,048 characters. A host given as an address is checked
/// here; a name is checked by [`check_destination`].
pub fn parse_url(raw: &str, allow_private: bool) -> Result<Url> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(Error::bad_input(
            "url",
            format!("the URL is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    let url = Url::parse(raw)
        .map_err(|e| Error::bad_input("url", format!("`{raw}` is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(Error::bad_input(
                "url",
                "the URL must use https (http is allowed only with ROSTER_WEBHOOK_ALLOW_PRIVATE=true)",
            ));
        }
        other => {
            return Err(Error::bad_input(
                "url",
                format!("the URL must use https, not `{other}`"),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::bad_input(
            "url",
            "the URL must not contain a user name or password",
        ));
    }
    let Some(host) = url.host() else {
        return Err(Error::bad_input("url", "the URL has no host"));
    };
    if !allow_private {
        let reason = match host {
            url::Host::Ipv4(ip) => refused(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => refused(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name == "localhost" || name.ends_with(".localhost")).then_some("a loopback name")
            }
        };
        if let Some(reason) = reason {
            return Err(refused_error(reason));
        }
    }
    Ok(url)
}

fn refused_error(reason: &str) -> Error {
    Error::bad_input(
        "url",
        format!(
            "the URL points to {reason}; webhooks go only to public addresses (ROSTER_WEBHOOK_ALLOW_PRIVATE=true allows others)"
        ),
    )
}

/// Resolves an endpoint's host name and refuses it when any address it has now is refused.
/// A name that does not resolve (yet) is accepted: every send checks again.
pub async fn check_destination(url: &Url, allow_private: bool) -> Result<()> {
    if allow_private {
        return Ok(());
    }
    let Some(url::Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::lookup_host((name.to_owned(), port)),
    )
    .await;
    if let Ok(Ok(addrs)) = lookup {
        for addr in addrs {
            if let Some(reason) = refused(addr.ip()) {
                return Err(refused_error(reason));
            }
        }
    }
    Ok(())
}

/// The reason a URL's literal address is refused at send time (names go through the
/// resolver).
pub fn refused_literal(url: &Url, allow_private: bool) -> Option<&'static str> {
    if allow_private {
        return None;
    }
    match url.host()? {
        url::Host::Ipv4(ip) => refused(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => refused(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// The HTTP client's resolver: the system's answers minus every refused address.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || refused(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let reason = found
                    .first()
                    .and_then(|a| refused(a.ip()))
                    .unwrap_or("no address");
                return Err(format!("refused: {host} resolves to {reason}").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "ff02::1",
        ] {
            let ip: IpAddr = a.parse().expect("address");
            assert!(refused(ip).is_some(), "{a} should be refused");
        }
        for a in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = a.parse().expect("address");
            assert!(refused(ip).is_none(), "{a} should be allowed");
        }
    }

    #[test]
    fn urls_must_be_https_and_public() {
        assert!(parse_url("https://hooks.example.com/x", false).is_ok());
        assert!(parse_url("http://hooks.example.com/x", false).is_err());
        assert!(parse_url("http://hooks.example.com/x", true).is_ok());
        assert!(parse_url("https://127.0.0.1/x", false).is_err());
        assert!(parse_url("https://[::ffff:10.0.0.1]/x", false).is_err());
        assert!(parse_url("https://localhost/x", false).is_err());
        assert!(parse_url("https://user:pw@example.com/x", false).is_err());
        assert!(parse_url("ftp://example.com/x", true).is_err());
        assert!(parse_url("https://127.0.0.1/x", true).is_ok());
    }
}
