//! CIDRs as Go's `net.ParseCIDR` reads them (which is what kind, kubeadm and kube-apiserver use):
//! an address with host bits set is accepted and stands for its network, so `10.96.0.1/12` is
//! the network `10.96.0.0/12`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A network: the address with its host bits cleared, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Go's message: `invalid CIDR address: <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR address: {}", self.0)
    }
}

impl std::error::Error for CidrError {}

fn mask_v4(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let bits = u32::from(a);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(a: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let bits = u128::from(a);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    Ipv6Addr::from(bits & mask)
}

impl Cidr {
    /// Parses `addr/prefix`; `had_host_bits` tells whether the address was not the network's.
    pub fn parse_with_host_bits(s: &str) -> Result<(Cidr, bool), CidrError> {
        let err = || CidrError(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
            return Err(err());
        }
        let prefix: u8 = prefix.parse().map_err(|_| err())?;
        let addr = IpAddr::from_str(addr).map_err(|_| err())?;
        let (network, max) = match addr {
            IpAddr::V4(a) => (IpAddr::V4(mask_v4(a, prefix.min(32))), 32),
            IpAddr::V6(a) => (IpAddr::V6(mask_v6(a, prefix.min(128))), 128),
        };
        if prefix > max {
            return Err(err());
        }
        Ok((Cidr { network, prefix }, network != addr))
    }

    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        Self::parse_with_host_bits(s).map(|(c, _)| c)
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask_v4(a, self.prefix) == n,
            (IpAddr::V6(n), IpAddr::V6(a)) => mask_v6(a, self.prefix) == n,
            _ => false,
        }
    }

    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The `n`th address of the network (kubeadm: the API server's Service IP is the 1st, the
    /// cluster DNS the 10th); `None` past its end.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        match self.network {
            IpAddr::V4(a) => {
                let size: u128 = 1u128 << (32 - u32::from(self.prefix));
                (n < size).then(|| IpAddr::V4(Ipv4Addr::from(u32::from(a) + n as u32)))
            }
            IpAddr::V6(a) => {
                let host_bits = 128 - u32::from(self.prefix);
                let fits = host_bits >= 128 || n < (1u128 << host_bits);
                fits.then(|| IpAddr::V6(Ipv6Addr::from(u128::from(a) + n)))
            }
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cidr::parse(s)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bits_are_the_network_like_go() {
        let (c, host_bits) = Cidr::parse_with_host_bits("10.96.0.1/12").unwrap();
        assert!(host_bits);
        assert_eq!(c.to_string(), "10.96.0.0/12");
        assert_eq!(c.nth(1).unwrap().to_string(), "10.96.0.1");
        assert_eq!(c.nth(10).unwrap().to_string(), "10.96.0.10");
        let (c, host_bits) = Cidr::parse_with_host_bits("fd00:10:96::/112").unwrap();
        assert!(!host_bits);
        assert!(!c.is_ipv4());
        assert_eq!(c.nth(10).unwrap().to_string(), "fd00:10:96::a");
        assert_eq!(Cidr::parse("10.0.0.0/30").unwrap().nth(4), None);
        assert_eq!(
            Cidr::parse("::/0").unwrap().nth(1).unwrap().to_string(),
            "::1"
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "fd00::/129",
            "10.0.0.0/-1",
            "x/8",
            "",
        ] {
            assert_eq!(
                Cidr::parse(bad).unwrap_err().to_string(),
                format!("invalid CIDR address: {bad}")
            );
        }
    }

    #[test]
    fn overlaps() {
        let a = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(a.overlaps(&Cidr::parse("10.96.0.0/16").unwrap()));
        assert!(Cidr::parse("10.96.0.0/16").unwrap().overlaps(&a));
        assert!(!a.overlaps(&Cidr::parse("192.168.0.0/16").unwrap()));
        assert!(!a.overlaps(&Cidr::parse("fd00::/8").unwrap()));
    }
}
