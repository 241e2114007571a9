//! The DNS server: UDP and TCP listeners, one [`Handler`] that answers from the current
//! [`Zone`] or forwards, and the size rules of each transport (512 bytes over UDP without EDNS,
//! the client's EDNS size up to [`MAX_UDP_PAYLOAD`] with it; longer answers are cut to whole
//! records that fit, TC set, and the client asks again over TCP).

use crate::forward::{self, NegativeCache, Transport};
use crate::zone::{Outcome, Reply, Zone};
use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;

/// The most we answer over UDP to an EDNS client (the DNS flag day's 1232 is what we
/// advertise; a client asking for more gets up to this).
pub const MAX_UDP_PAYLOAD: u16 = 4096;
/// What our OPT record advertises.
const ADVERTISED_PAYLOAD: u16 = 1232;
/// A TCP connection with no query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Counters, shown on the metrics endpoint.
#[derive(Default, Debug)]
pub struct Stats {
    pub udp: AtomicU64,
    pub tcp: AtomicU64,
    pub forwarded: AtomicU64,
    pub cache_hits: AtomicU64,
    pub nxdomain: AtomicU64,
    pub servfail: AtomicU64,
    pub truncated: AtomicU64,
}

impl Stats {
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP kindling_dns_requests_total DNS requests by transport.\n\
             # TYPE kindling_dns_requests_total counter\n\
             kindling_dns_requests_total{{proto=\"udp\"}} {}\n\
             kindling_dns_requests_total{{proto=\"tcp\"}} {}\n\
             # HELP kindling_dns_forward_requests_total Requests sent to the node's resolver.\n\
             # TYPE kindling_dns_forward_requests_total counter\n\
             kindling_dns_forward_requests_total {}\n\
             # HELP kindling_dns_cache_hits_total Negative answers served from the cache.\n\
             # TYPE kindling_dns_cache_hits_total counter\n\
             kindling_dns_cache_hits_total {}\n\
             # HELP kindling_dns_responses_total Responses by rcode (of the cluster zone).\n\
             # TYPE kindling_dns_responses_total counter\n\
             kindling_dns_responses_total{{rcode=\"NXDOMAIN\"}} {}\n\
             kindling_dns_responses_total{{rcode=\"SERVFAIL\"}} {}\n\
             # HELP kindling_dns_truncated_total UDP responses cut to fit, TC set.\n\
             # TYPE kindling_dns_truncated_total counter\n\
             kindling_dns_truncated_total {}\n",
            get(&self.udp),
            get(&self.tcp),
            get(&self.forwarded),
            get(&self.cache_hits),
            get(&self.nxdomain),
            get(&self.servfail),
            get(&self.truncated),
        )
    }
}

/// Answers queries: the zone's, or the upstreams'.
pub struct Handler {
    zone: watch::Receiver<Arc<Zone>>,
    upstreams: Vec<SocketAddr>,
    cache: NegativeCache,
    pub stats: Stats,
}

/// What a query needs once decided without IO.
enum Step {
    Done(Option<Vec<u8>>),
    Forward,
    Chase(Box<(Message, Reply)>),
}

impl Handler {
    pub fn new(zone: watch::Receiver<Arc<Zone>>, upstreams: Vec<SocketAddr>) -> Handler {
        Handler {
            zone,
            upstreams,
            cache: NegativeCache::default(),
            stats: Stats::default(),
        }
    }

    /// The answer to `query` (None: nothing to send back).
    pub async fn handle(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let step = self.decide(query, transport);
        self.finish(step, query, transport).await
    }

    /// Carries out what [`Handler::decide`] left to do.
    async fn finish(&self, step: Step, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        match step {
            Step::Done(answer) => answer,
            Step::Forward => self.forward(query, transport).await,
            Step::Chase(parts) => {
                let (request, mut reply) = *parts;
                if let Some(target) = reply.chase.take() {
                    let qtype = request.queries[0].query_type();
                    reply
                        .answers
                        .extend(forward::lookup(&self.upstreams, &target, qtype).await);
                }
                Some(self.respond(&request, reply, transport))
            }
        }
    }

    /// Everything that needs no IO: parse, answer from the zone, or a cached negative answer.
    fn decide(&self, query: &[u8], transport: Transport) -> Step {
        let count = match transport {
            Transport::Udp => &self.stats.udp,
            Transport::Tcp => &self.stats.tcp,
        };
        count.fetch_add(1, Ordering::Relaxed);
        let request = match Message::from_vec(query) {
            Ok(m) => m,
            Err(_) if query.len() >= 12 => {
                let id = u16::from_be_bytes([query[0], query[1]]);
                let error = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
                return Step::Done(error.to_vec().ok());
            }
            Err(_) => return Step::Done(None),
        };
        if request.metadata.message_type != MessageType::Query {
            return Step::Done(None);
        }
        if request.metadata.op_code != OpCode::Query {
            return Step::Done(self.error(&request, ResponseCode::NotImp));
        }
        if request.queries.len() != 1 {
            return Step::Done(self.error(&request, ResponseCode::FormErr));
        }
        let q = &request.queries[0];
        if q.query_class() != DNSClass::IN {
            return Step::Forward;
        }
        let zone = self.zone.borrow().clone();
        match zone.answer(q.name(), q.query_type()) {
            Outcome::Forward => {
                if let Some(mut cached) =
                    self.cache
                        .get(q.name(), q.query_type(), q.query_class(), Instant::now())
                {
                    self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    cached.metadata.id = request.metadata.id;
                    cached.metadata.recursion_desired = request.metadata.recursion_desired;
                    cached.queries.clone_from(&request.queries);
                    cached.edns = request.edns.as_ref().map(|_| our_edns());
                    return Step::Done(fit(&cached, &request, transport, &self.stats));
                }
                Step::Forward
            }
            Outcome::Answer(reply) => {
                match reply.rcode {
                    ResponseCode::NXDomain => self.stats.nxdomain.fetch_add(1, Ordering::Relaxed),
                    ResponseCode::ServFail => self.stats.servfail.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                if reply.chase.as_ref().is_some_and(|t| !is_in(&zone, t)) {
                    return Step::Chase(Box::new((request, reply)));
                }
                let reply = self.chase_in_zone(&zone, reply, q.query_type());
                Step::Done(Some(self.respond(&request, reply, transport)))
            }
        }
    }

    /// An ExternalName pointing into the cluster zone is followed there.
    fn chase_in_zone(&self, zone: &Zone, mut reply: Reply, qtype: RecordType) -> Reply {
        if let Some(target) = reply.chase.take() {
            if let Outcome::Answer(more) = zone.answer(&target, qtype) {
                reply.answers.extend(more.answers);
            }
        }
        reply
    }

    fn error(&self, request: &Message, rcode: ResponseCode) -> Option<Vec<u8>> {
        let mut m = Message::error_msg(request.metadata.id, request.metadata.op_code, rcode);
        m.queries.clone_from(&request.queries);
        m.to_vec().ok()
    }

    fn respond(&self, request: &Message, reply: Reply, transport: Transport) -> Vec<u8> {
        let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
        m.metadata = Metadata::response_from_request(&request.metadata);
        m.metadata.authoritative = reply.rcode != ResponseCode::ServFail;
        m.metadata.recursion_available = true;
        m.metadata.response_code = reply.rcode;
        m.queries.clone_from(&request.queries);
        m.answers = reply.answers;
        m.authorities = reply.authorities;
        m.additionals = reply.additionals;
        if request.edns.is_some() {
            m.edns = Some(our_edns());
        }
        fit(&m, request, transport, &self.stats).unwrap_or_default()
    }

    async fn forward(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        match forward::forward(&self.upstreams, query, transport).await {
            Some(answer) => {
                self.cache.offer(&answer, Instant::now());
                Some(answer)
            }
            None => {
                let request = Message::from_vec(query).ok()?;
                self.error(&request, ResponseCode::ServFail)
            }
        }
    }
}

fn is_in(zone: &Zone, name: &hickory_proto::rr::Name) -> bool {
    hickory_proto::rr::Name::from_ascii(format!("{}.", zone.domain()))
        .is_ok_and(|apex| apex.zone_of(name))
}

fn our_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(ADVERTISED_PAYLOAD);
    edns
}

/// The largest answer the client takes over this transport.
pub fn udp_limit(request: &Message) -> usize {
    match &request.edns {
        Some(edns) => usize::from(edns.max_payload().clamp(512, MAX_UDP_PAYLOAD)),
        None => 512,
    }
}

/// `m` serialized, cut to the client's UDP limit if needed: as many whole answer records as
/// fit (the authority and additional sections go first), TC set.
fn fit(m: &Message, request: &Message, transport: Transport, stats: &Stats) -> Option<Vec<u8>> {
    let bytes = m.to_vec().ok()?;
    let limit = udp_limit(request);
    if transport == Transport::Tcp || bytes.len() <= limit {
        return Some(bytes);
    }
    stats.truncated.fetch_add(1, Ordering::Relaxed);
    let mut cut = m.clone();
    cut.metadata.truncation = true;
    cut.authorities.clear();
    cut.additionals.clear();
    // Binary search for the most answers that fit.
    let (mut lo, mut hi) = (0, m.answers.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        cut.answers = m.answers[..mid].to_vec();
        if cut.to_vec().is_ok_and(|b| b.len() <= limit) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    cut.answers = m.answers[..lo].to_vec();
    cut.to_vec().ok()
}

/// Serves UDP on `socket` with `workers` receive loops sharing it.
pub fn serve_udp(socket: UdpSocket, handler: Arc<Handler>, workers: usize) {
    let socket = Arc::new(socket);
    for _ in 0..workers.max(1) {
        let (socket, handler) = (socket.clone(), handler.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; usize::from(MAX_UDP_PAYLOAD)];
            loop {
                let (n, peer) = match socket.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!("dns: udp receive: {e}");
                        continue;
                    }
                };
                let query = &buf[..n];
                match handler.decide(query, Transport::Udp) {
                    Step::Done(Some(answer)) => {
                        let _ = socket.send_to(&answer, peer).await;
                    }
                    Step::Done(None) => {}
                    // Anything that waits on the network runs beside the loop.
                    step => {
                        let (socket, handler, query) =
                            (socket.clone(), handler.clone(), query.to_vec());
                        tokio::spawn(async move {
                            if let Some(answer) = handler.finish(step, &query, Transport::Udp).await
                            {
                                let _ = socket.send_to(&answer, peer).await;
                            }
                        });
                    }
                }
            }
        });
    }
}

/// Serves DNS over TCP (length-prefixed messages, several per connection).
pub fn serve_tcp(listener: TcpListener, handler: Arc<Handler>) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(tcp_connection(stream, handler.clone()));
                }
                Err(e) => {
                    tracing::debug!("dns: tcp accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
}

async fn tcp_connection(mut stream: TcpStream, handler: Arc<Handler>) {
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE, stream.read_u16()).await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(answer) = handler.handle(&query, Transport::Tcp).await else {
            continue;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(answer.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&answer);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// `GET /metrics` (anything else too) → the counters, Prometheus text.
pub fn serve_metrics(listener: TcpListener, handler: Arc<Handler>) {
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
                let body = handler.stats.render();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
}

#[cfg(test)]
mod tests;
