//! Asking the node's resolver (Docker's embedded DNS in a kindling node): the client's query
//! bytes go upstream as they are (same ID, same EDNS), over the transport the client used, and
//! the answer comes back as it is. Negative answers are kept briefly ([`NegativeCache`]).

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one upstream gets before the next is asked.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a negative answer is kept (kubeadm's Corefile: `cache 30`).
pub const MAX_NEGATIVE_TTL: u32 = 30;
const CACHE_ENTRIES: usize = 10_000;

/// The nameservers of a resolv.conf, on port 53.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Which socket the client used: answers over UDP are held to the client's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Sends `query` to the upstreams in order until one answers with the same ID.
pub async fn forward(
    upstreams: &[SocketAddr],
    query: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let attempt = match transport {
            Transport::Udp => udp(*upstream, query).await,
            Transport::Tcp => tcp(*upstream, query).await,
        };
        match attempt {
            Ok(answer) if answer.len() >= 12 && answer[..2] == query[..2] => return Some(answer),
            Ok(_) => tracing::debug!("dns: {upstream} answered another query"),
            Err(e) => tracing::debug!("dns: forwarding to {upstream}: {e}"),
        }
    }
    None
}

fn unspecified(upstream: SocketAddr) -> SocketAddr {
    let ip = match upstream {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

async fn udp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let socket = UdpSocket::bind(unspecified(upstream)).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65_535];
    let n = tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv(&mut buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(upstream).await?;
        let len = u16::try_from(query.len())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "query too long"))?;
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(query);
        stream.write_all(&framed).await?;
        let len = stream.read_u16().await?;
        let mut buf = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))?
}

/// Resolves `name` upstream (an ExternalName's target): the answer records, following a
/// truncated UDP answer with TCP.
pub async fn lookup(
    upstreams: &[SocketAddr],
    name: &Name,
    qtype: RecordType,
) -> Vec<hickory_proto::rr::Record> {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(hickory_proto::op::Query::query(name.clone(), qtype));
    let Ok(bytes) = query.to_vec() else {
        return Vec::new();
    };
    let mut answer = forward(upstreams, &bytes, Transport::Udp).await;
    if answer.as_ref().is_some_and(|a| a[2] & 0x02 != 0) {
        answer = forward(upstreams, &bytes, Transport::Tcp).await;
    }
    answer
        .and_then(|a| Message::from_vec(&a).ok())
        .map(|m| m.answers)
        .unwrap_or_default()
}

type Key = (Name, RecordType, DNSClass);

/// Negative answers from upstream (NXDOMAIN, and NODATA that carries an SOA), kept for the
/// SOA's negative TTL, at most [`MAX_NEGATIVE_TTL`] seconds: a pod's search list makes every
/// outside name try `<name>.<ns>.svc.<zone>`, … and the host's search domains first.
#[derive(Default)]
pub struct NegativeCache {
    entries: Mutex<HashMap<Key, (Instant, Message)>>,
}

impl NegativeCache {
    fn key(name: &Name, qtype: RecordType, class: DNSClass) -> Key {
        (name.to_lowercase(), qtype, class)
    }

    /// A kept answer for the question, if not expired.
    pub fn get(
        &self,
        name: &Name,
        qtype: RecordType,
        class: DNSClass,
        now: Instant,
    ) -> Option<Message> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (expires, message) = entries.get(&Self::key(name, qtype, class))?;
        (now < *expires).then(|| message.clone())
    }

    /// Keeps `answer` if it is negative; returns whether it did.
    pub fn offer(&self, answer: &[u8], now: Instant) -> bool {
        // RCODE is the low nibble of byte 3: only NXDOMAIN (3) and NOERROR (0) can be negative.
        if answer.len() < 12 || !matches!(answer[3] & 0x0f, 0 | 3) {
            return false;
        }
        let Ok(message) = Message::from_vec(answer) else {
            return false;
        };
        let Some(ttl) = negative_ttl(&message) else {
            return false;
        };
        let Some(q) = message.queries.first() else {
            return false;
        };
        let key = Self::key(q.name(), q.query_type(), q.query_class());
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHE_ENTRIES {
            entries.retain(|_, (expires, _)| now < *expires);
            if entries.len() >= CACHE_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (now + Duration::from_secs(u64::from(ttl)), message));
        true
    }
}

/// How long a negative answer may be kept: NXDOMAIN, or NOERROR without answers but with an
/// SOA; the SOA's TTL and minimum bound it (RFC 2308), and so does [`MAX_NEGATIVE_TTL`].
pub fn negative_ttl(message: &Message) -> Option<u32> {
    let soa_ttl = message.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    });
    let rcode = message.metadata.response_code;
    let ttl = if rcode == ResponseCode::NXDomain {
        soa_ttl.unwrap_or(MAX_NEGATIVE_TTL)
    } else if rcode == ResponseCode::NoError && message.answers.is_empty() {
        soa_ttl?
    } else {
        return None;
    };
    (ttl > 0).then_some(ttl.min(MAX_NEGATIVE_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::Record;

    fn negative(rcode: ResponseCode, soa: Option<(u32, u32)>) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.add_query(Query::query(
            Name::from_ascii("Nope.Example.").unwrap(),
            RecordType::A,
        ));
        if let Some((ttl, minimum)) = soa {
            let soa = SOA::new(Name::root(), Name::root(), 1, 1, 1, 1, minimum);
            m.add_authority(Record::from_rdata(Name::root(), ttl, RData::SOA(soa)));
        }
        m
    }

    #[test]
    fn resolv_conf_nameservers() {
        let conf = "search example.com\nnameserver 127.0.0.11\nnameserver ::1\nnameserver bad\noptions ndots:0\n";
        assert_eq!(
            upstreams_from_resolv_conf(conf),
            [
                "127.0.0.11:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn negative_ttls_are_bounded_by_soa_and_thirty_seconds() {
        assert_eq!(
            negative_ttl(&negative(ResponseCode::NXDomain, Some((3600, 900)))),
            Some(30)
        );
        assert_eq!(
            negative_ttl(&negative(ResponseCode::NXDomain, Some((10, 900)))),
            Some(10)
        );
        assert_eq!(
            negative_ttl(&negative(ResponseCode::NXDomain, Some((900, 5)))),
            Some(5)
        );
        assert_eq!(
            negative_ttl(&negative(ResponseCode::NXDomain, None)),
            Some(30)
        );
        assert_eq!(
            negative_ttl(&negative(ResponseCode::NoError, Some((60, 60)))),
            Some(30)
        );
        assert_eq!(negative_ttl(&negative(ResponseCode::NoError, None)), None);
        assert_eq!(negative_ttl(&negative(ResponseCode::ServFail, None)), None);
    }

    #[test]
    fn cache_keeps_negative_answers_until_they_expire_case_insensitively() {
        let cache = NegativeCache::default();
        let now = Instant::now();
        let bytes = negative(ResponseCode::NXDomain, Some((10, 10)))
            .to_vec()
            .unwrap();
        assert!(cache.offer(&bytes, now));
        let name = Name::from_ascii("nope.example.").unwrap();
        let hit = cache.get(
            &name,
            RecordType::A,
            DNSClass::IN,
            now + Duration::from_secs(9),
        );
        assert_eq!(
            hit.map(|m| m.metadata.response_code),
            Some(ResponseCode::NXDomain)
        );
        assert!(cache
            .get(&name, RecordType::AAAA, DNSClass::IN, now)
            .is_none());
        assert!(cache
            .get(
                &name,
                RecordType::A,
                DNSClass::IN,
                now + Duration::from_secs(10)
            )
            .is_none());
        let positive = negative(ResponseCode::ServFail, None).to_vec().unwrap();
        assert!(!cache.offer(&positive, now));
    }
}
