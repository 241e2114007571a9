//! upstream's IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/{ip,cidr}.go): `ip`,
//! `isIP`, `ip.isCanonical`, `cidr`, `isCIDR`, the address tests of an IP, and a CIDR's
//! `containsIP`, `containsCIDR`, `ip`, `masked`, `prefixLength`. As upstream's (Go netip)
//! parsing: no zones, no IPv4-mapped IPv6 addresses.

use super::{error, no_overload, opaque_arg, ret, string_arg, values};
use ::cel::common::types::{Type, STRING_TYPE};
use ::cel::common::value::CowVal;
use ::cel::objects::Opaque;
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use std::net::IpAddr;
use std::sync::Arc;

type Result<'b, 'v> = std::result::Result<CowVal<'b, 'v>, ExecutionError>;

const IP_TYPE: &str = "net.IP";
const CIDR_TYPE: &str = "net.CIDR";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub bits: u8,
}

impl Opaque for Ip {
    fn runtime_type_name(&self) -> &str {
        IP_TYPE
    }
}

impl Opaque for Cidr {
    fn runtime_type_name(&self) -> &str {
        CIDR_TYPE
    }
}

pub fn extension(env: &mut Env) -> std::result::Result<(), DeclarationError> {
    let ip = || Type::new_opaque_type(IP_TYPE);
    let cidr = || Type::new_opaque_type(CIDR_TYPE);
    env.add_overload("ip", "string_to_ip", vec![STRING_TYPE], to_ip)?;
    env.add_overload("isIP", "is_ip", vec![STRING_TYPE], is_ip)?;
    env.add_overload(
        "ip.isCanonical",
        "ip_is_canonical",
        vec![STRING_TYPE],
        is_canonical,
    )?;
    env.add_overload("string", "ip_to_string", vec![ip()], |a| {
        with_ip(a, "string", |ip| Value::String(Arc::new(ip.to_string())))
    })?;
    env.add_member_overload("family", "ip_family", ip(), vec![], |a| {
        with_ip(a, "family", |ip| {
            Value::Int(if ip.is_ipv4() { 4 } else { 6 })
        })
    })?;
    env.add_member_overload("isUnspecified", "ip_is_unspecified", ip(), vec![], |a| {
        with_ip(a, "isUnspecified", |ip| Value::Bool(ip.is_unspecified()))
    })?;
    env.add_member_overload("isLoopback", "ip_is_loopback", ip(), vec![], |a| {
        with_ip(a, "isLoopback", |ip| Value::Bool(ip.is_loopback()))
    })?;
    env.add_member_overload(
        "isLinkLocalMulticast",
        "ip_is_link_local_multicast",
        ip(),
        vec![],
        |a| {
            with_ip(a, "isLinkLocalMulticast", |ip| {
                Value::Bool(link_local_multicast(ip))
            })
        },
    )?;
    env.add_member_overload(
        "isLinkLocalUnicast",
        "ip_is_link_local_unicast",
        ip(),
        vec![],
        |a| {
            with_ip(a, "isLinkLocalUnicast", |ip| {
                Value::Bool(link_local_unicast(ip))
            })
        },
    )?;
    env.add_member_overload(
        "isGlobalUnicast",
        "ip_is_global_unicast",
        ip(),
        vec![],
        |a| with_ip(a, "isGlobalUnicast", |ip| Value::Bool(global_unicast(ip))),
    )?;
    env.add_overload("cidr", "string_to_cidr", vec![STRING_TYPE], to_cidr)?;
    env.add_overload("isCIDR", "is_cidr", vec![STRING_TYPE], is_cidr)?;
    env.add_overload("string", "cidr_to_string", vec![cidr()], |a| {
        with_cidr(a, "string", |c| {
            Value::String(Arc::new(format!("{}/{}", c.addr, c.bits)))
        })
    })?;
    env.add_member_overload("ip", "cidr_ip", cidr(), vec![], |a| {
        with_cidr(a, "ip", |c| Value::Opaque(Arc::new(Ip(c.addr))))
    })?;
    env.add_member_overload("masked", "cidr_masked", cidr(), vec![], |a| {
        with_cidr(a, "masked", |c| Value::Opaque(Arc::new(masked(c))))
    })?;
    env.add_member_overload("prefixLength", "cidr_prefix_length", cidr(), vec![], |a| {
        with_cidr(a, "prefixLength", |c| Value::Int(i64::from(c.bits)))
    })?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_ip",
        cidr(),
        vec![ip()],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_string",
        cidr(),
        vec![STRING_TYPE],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr",
        cidr(),
        vec![cidr()],
        contains_cidr,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr_string",
        cidr(),
        vec![STRING_TYPE],
        contains_cidr,
    )?;
    Ok(())
}

/// Go's `netip.ParseAddr` as upstream's `parseIPAddr` restricts it.
pub fn parse_ip(raw: &str) -> std::result::Result<IpAddr, String> {
    let quoted = crate::meta::go_quote(raw);
    if raw.contains('%') {
        return Err(format!(
            "IP address {quoted} with zone value is not allowed"
        ));
    }
    let addr: IpAddr = raw.parse().map_err(|_| {
        format!("IP Address {quoted} parse error during conversion from string: ParseAddr({quoted}): unable to parse IP")
    })?;
    if let IpAddr::V6(v6) = addr {
        if v6.to_ipv4_mapped().is_some() {
            return Err(format!("IPv4-mapped IPv6 address {quoted} is not allowed"));
        }
    }
    Ok(addr)
}

/// Go's `netip.ParsePrefix` as upstream's `parseCIDR` restricts it.
pub fn parse_cidr(raw: &str) -> std::result::Result<Cidr, String> {
    let quoted = crate::meta::go_quote(raw);
    let fail = |why: &str| {
        format!("network address parse error during conversion from string: netip.ParsePrefix({quoted}): {why}")
    };
    let (addr, bits) = raw.split_once('/').ok_or_else(|| fail("no '/'"))?;
    if addr.contains('%') {
        return Err(fail("IPv6 zones cannot be present in a prefix"));
    }
    let addr: IpAddr = addr.parse().map_err(|_| {
        fail(&format!(
            "ParseAddr({}): unable to parse IP",
            crate::meta::go_quote(addr)
        ))
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits: u8 = bits
        .parse()
        .ok()
        .filter(|b| *b <= max && !bits.starts_with('+') && (bits == "0" || !bits.starts_with('0')))
        .ok_or_else(|| {
            fail(&format!(
                "bad bits after slash: {}",
                crate::meta::go_quote(bits)
            ))
        })?;
    if let IpAddr::V6(v6) = addr {
        if v6.to_ipv4_mapped().is_some() {
            return Err(format!("IPv4-mapped IPv6 address {quoted} is not allowed"));
        }
    }
    Ok(Cidr { addr, bits })
}

fn as_u128(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn masked(c: &Cidr) -> Cidr {
    let (n, width) = as_u128(c.addr);
    let host_bits = u32::from(width - c.bits);
    let kept = if host_bits >= 128 {
        0
    } else {
        (n >> host_bits) << host_bits
    };
    let addr = match c.addr {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(
            u32::try_from(kept).unwrap_or_default(),
        )),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(kept)),
    };
    Cidr { addr, bits: c.bits }
}

fn contains(c: &Cidr, ip: IpAddr) -> bool {
    if c.addr.is_ipv4() != ip.is_ipv4() {
        return false;
    }
    masked(&Cidr {
        addr: ip,
        bits: c.bits,
    })
    .addr
        == masked(c).addr
}

fn link_local_multicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }
}

fn link_local_unicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Go's `IsGlobalUnicast`: any unicast address but the unspecified, loopback, link-local and
/// (IPv4) broadcast ones; private addresses included.
fn global_unicast(ip: &IpAddr) -> bool {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || link_local_unicast(ip)
        || broadcast)
}

fn to_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "ip")?;
    ret(Value::Opaque(Arc::new(Ip(parse_ip(&s).map_err(error)?))))
}

fn is_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    ret(Value::Bool(
        parse_ip(&string_arg(&args, 0, "isIP")?).is_ok(),
    ))
}

fn is_canonical<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "ip.isCanonical")?;
    let ip = parse_ip(&s).map_err(error)?;
    ret(Value::Bool(ip.to_string() == *s))
}

fn with_ip<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    name: &str,
    f: fn(&IpAddr) -> Value,
) -> Result<'b, 'v> {
    let args = values(&args)?;
    ret(f(&opaque_arg::<Ip>(&args, 0, name)?.0))
}

fn to_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "cidr")?;
    ret(Value::Opaque(Arc::new(parse_cidr(&s).map_err(error)?)))
}

fn is_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    ret(Value::Bool(
        parse_cidr(&string_arg(&args, 0, "isCIDR")?).is_ok(),
    ))
}

fn with_cidr<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    name: &str,
    f: fn(&Cidr) -> Value,
) -> Result<'b, 'v> {
    let args = values(&args)?;
    ret(f(opaque_arg::<Cidr>(&args, 0, name)?))
}

fn contains_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let c = opaque_arg::<Cidr>(&args, 0, "containsIP")?;
    let ip = match &args[1] {
        Value::String(s) => parse_ip(s).map_err(error)?,
        _ => opaque_arg::<Ip>(&args, 1, "containsIP")?.0,
    };
    ret(Value::Bool(contains(c, ip)))
}

fn contains_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let c = opaque_arg::<Cidr>(&args, 0, "containsCIDR")?;
    let other = match &args[1] {
        Value::String(s) => parse_cidr(s).map_err(error)?,
        Value::Opaque(_) => *opaque_arg::<Cidr>(&args, 1, "containsCIDR")?,
        _ => return Err(no_overload("containsCIDR", &args)),
    };
    ret(Value::Bool(other.bits >= c.bits && contains(c, other.addr)))
}
