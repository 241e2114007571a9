//! Service ClusterIP and NodePort allocation: the state a Service create or update needs beyond
//! its own object. ClusterIPs are chosen here (from the stored Services, rebuilt at start) and
//! claimed as IPAddress objects (`registry/addresses.rs`); node ports live in a record every API
//! server shares (`nodeports.rs` decides, `registry/nodeports.rs` reads and writes it).

use crate::nodeports::{Bitmap, Decided, PortChange};
use kindling_api::{ApiError, Cause};
use kindling_store::Revision;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};

/// An IPv4 CIDR such as 10.96.0.0/12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u8,
}

impl std::fmt::Display for Cidr {
    /// The canonical form, `10.96.0.0/12`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR {s:?}: missing /prefix"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("invalid CIDR {s:?}: bad address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 30)
            .ok_or_else(|| format!("invalid CIDR {s:?}: bad prefix"))?;
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Ok(Cidr {
            base: u32::from(ip) & mask,
            prefix,
        })
    }
    fn size(self) -> u32 {
        1u32 << (32 - u32::from(self.prefix))
    }
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip >= self.base && ip - self.base < self.size()
    }
    /// The n-th address (n = 1 is the first usable one, the `kubernetes` Service's).
    pub fn nth(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base + n)
    }
}

struct State {
    ips: BTreeSet<u32>,
}

/// What one allocation changed in the allocator's state.
#[derive(Debug, Default)]
pub struct Reservation {
    ips: Vec<u32>,
    /// Node ports claimed for the write: given back if it does not land.
    pub(crate) ports: Vec<u16>,
    /// Node ports the stored object held and the write drops: freed once it lands.
    pub(crate) dropped_ports: Vec<u16>,
}

impl Reservation {
    /// The addresses this allocation took.
    pub fn ips(&self) -> Vec<Ipv4Addr> {
        self.ips.iter().map(|ip| Ipv4Addr::from(*ip)).collect()
    }
}

pub struct ServiceAllocator {
    cidr: Cidr,
    node_ports: RangeInclusive<u16>,
    state: Mutex<State>,
    /// This server's side of the shared node port record (`registry/nodeports.rs`).
    pub(crate) node_port_record: Arc<NodePortRecord>,
}

/// The shared node port record as this server last read or wrote it, and the changes waiting
/// to be written to it.
#[derive(Default)]
pub(crate) struct NodePortRecord {
    /// The record and its revision (none: read it first). Held across a write, so this
    /// server's own writes never race each other; a stale copy only costs a failed
    /// compare-and-swap.
    pub copy: Arc<tokio::sync::Mutex<Option<(Bitmap, Revision)>>>,
    /// Changes asked for while a write was under way: the next writer makes them all in one
    /// write (a group commit), so concurrent Service creates do not queue one store write each.
    pub pending: Mutex<Vec<PendingChange>>,
}

/// A change of the node port record and who waits for its outcome.
pub(crate) struct PendingChange {
    pub change: PortChange,
    pub reply: tokio::sync::oneshot::Sender<Result<Decided, ApiError>>,
}

impl ServiceAllocator {
    pub fn new(cidr: Cidr, node_ports: RangeInclusive<u16>) -> ServiceAllocator {
        ServiceAllocator {
            cidr,
            node_ports,
            state: Mutex::new(State {
                ips: BTreeSet::new(),
            }),
            node_port_record: Arc::default(),
        }
    }

    /// The `--service-node-port-range`.
    pub fn node_port_range(&self) -> RangeInclusive<u16> {
        self.node_ports.clone()
    }

    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// Whether `ip` is held by a Service.
    pub fn holds(&self, ip: Ipv4Addr) -> bool {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ips
            .contains(&u32::from(ip))
    }

    /// Marks what stored Services hold (at start).
    pub fn rebuild(&self, services: &[Value]) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.ips.clear();
        for svc in services {
            for ip in cluster_ips(svc) {
                st.ips.insert(u32::from(ip));
            }
        }
    }

    /// Fills in and reserves the Service's ClusterIP (keeping the old object's), and drops the
    /// node ports of a type that has none; the node ports of the others are claimed in the
    /// shared record next (`Registry::allocate_service`). The returned [`Reservation`] is then
    /// either committed, once the object is stored, or undone (e.g. the write lost a
    /// compare-and-swap race and is retried).
    pub fn allocate(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<Reservation, ApiError> {
        let name = svc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let invalid = |c: Cause| ApiError::invalid("", "Service", &name, vec![c]);
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let svc_type = svc["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        // ClusterIP.
        let old_ips: Vec<Ipv4Addr> = old.map(cluster_ips).unwrap_or_default();
        // Reserved only once everything succeeded, so a failed allocation holds nothing.
        let mut reserved_ip = None;
        if svc_type == "ExternalName" {
            if let Some(spec) = svc["spec"].as_object_mut() {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        } else if svc["spec"]["clusterIP"] == "None" {
            svc["spec"]["clusterIPs"] = json!(["None"]);
        } else if !old_ips.is_empty() && svc["spec"]["clusterIP"].as_str().is_none_or(str::is_empty)
        {
            svc["spec"]["clusterIP"] = json!(old_ips[0].to_string());
            svc["spec"]["clusterIPs"] = json!([old_ips[0].to_string()]);
        } else if old_ips.is_empty() {
            let ip = match svc["spec"]["clusterIP"].as_str().filter(|s| !s.is_empty()) {
                Some(requested) => {
                    let ip: Ipv4Addr = requested.parse().map_err(|_| {
                        invalid(Cause::invalid(
                            "spec.clusterIPs",
                            format!("[]string{{\"{requested}\"}}"),
                            "must be a valid IP address",
                        ))
                    })?;
                    if !self.cidr.contains(ip) {
                        return Err(invalid(Cause::invalid(
                            "spec.clusterIPs",
                            format!("[]string{{\"{requested}\"}}"),
                            &format!("failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}/{}", self.cidr.nth(0), self.cidr.prefix),
                        )));
                    }
                    if st.ips.contains(&u32::from(ip)) {
                        return Err(invalid(Cause::invalid(
                            "spec.clusterIPs",
                            format!("[]string{{\"{requested}\"}}"),
                            &format!("failed to allocate IP {requested}: provided IP is already allocated"),
                        )));
                    }
                    ip
                }
                None => self.next_ip(&st).ok_or_else(|| {
                    ApiError::internal("failed to allocate a serviceIP: range is full")
                })?,
            };
            reserved_ip = Some(u32::from(ip));
            svc["spec"]["clusterIP"] = json!(ip.to_string());
            svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
        }
        // Node ports: only NodePort and LoadBalancer Services have them.
        if !matches!(svc_type.as_str(), "NodePort" | "LoadBalancer") {
            for port in svc["spec"]["ports"].as_array_mut().into_iter().flatten() {
                if let Some(p) = port.as_object_mut() {
                    p.remove("nodePort");
                }
            }
        }
        let mut reservation = Reservation::default();
        if !dry_run {
            st.ips.extend(reserved_ip);
            reservation.ips.extend(reserved_ip);
        }
        Ok(reservation)
    }

    /// The write did not land: the addresses the allocation took are given back (its node
    /// ports are the shared record's: `Registry::settle`).
    pub fn undo(&self, reservation: &Reservation) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for ip in &reservation.ips {
            st.ips.remove(ip);
        }
    }

    /// Frees the addresses a deleted Service (or a failed create) held.
    pub fn release(&self, svc: &Value) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for ip in cluster_ips(svc) {
            st.ips.remove(&u32::from(ip));
        }
    }

    /// A free address, starting after the first (reserved for the `kubernetes` Service) at a
    /// pseudo-random offset so that addresses of deleted Services are not reused at once.
    fn next_ip(&self, st: &State) -> Option<Ipv4Addr> {
        let usable = self.cidr.size().saturating_sub(2);
        if usable == 0 {
            return None;
        }
        let start = (uuid::Uuid::new_v4().as_u128() % u128::from(usable)) as u32;
        (0..usable)
            .map(|i| self.cidr.base + 2 + (start + i) % usable)
            .find(|ip| !st.ips.contains(ip))
            .map(Ipv4Addr::from)
    }

    /// Reserves a specific address (the `kubernetes` Service's at start).
    pub fn reserve_ip(&self, ip: Ipv4Addr) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ips
            .insert(u32::from(ip));
    }
}

/// The ClusterIPs a Service holds.
pub fn cluster_ips(svc: &Value) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = svc["spec"]["clusterIPs"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    if let Some(ip) = svc["spec"]["clusterIP"]
        .as_str()
        .and_then(|s| s.parse().ok())
    {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocator() -> ServiceAllocator {
        ServiceAllocator::new(Cidr::parse("10.96.0.0/12").unwrap(), 30000..=32767)
    }

    #[test]
    fn allocates_and_rejects_taken() {
        let a = allocator();
        let mut s1 = json!({"metadata":{"name":"a"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}});
        a.allocate(&mut s1, None, false).unwrap();
        let ip: Ipv4Addr = s1["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(a.cidr().contains(ip));
        // Node ports are claimed in the shared record, not here: the named one stays as asked.
        assert_eq!(s1["spec"]["ports"][0]["nodePort"], 30080);
        let mut s2 = json!({"metadata":{"name":"b"},"spec":{"type":"NodePort","clusterIP": ip.to_string(),"ports":[{"port":80}]}});
        let err = a.allocate(&mut s2, None, false).unwrap_err();
        assert!(
            err.message.contains("provided IP is already allocated"),
            "{}",
            err.message
        );
        a.release(&s1);
        a.allocate(&mut s2, None, false).unwrap();
    }

    #[test]
    fn an_undone_allocation_frees_its_address() {
        let a = allocator();
        let mut s = json!({"metadata":{"name":"a"},"spec":{"clusterIP":"10.96.0.10","ports":[{"port":80}]}});
        let r = a.allocate(&mut s.clone(), None, false).unwrap();
        assert!(a.holds(Ipv4Addr::new(10, 96, 0, 10)));
        a.undo(&r);
        assert!(!a.holds(Ipv4Addr::new(10, 96, 0, 10)));
        a.allocate(&mut s, None, false).unwrap();
    }

    #[test]
    fn a_type_without_node_ports_drops_them() {
        let a = allocator();
        let mut s = json!({"metadata":{"name":"a"},"spec":{"type":"ClusterIP","ports":[{"port":80,"nodePort":30080}]}});
        a.allocate(&mut s, None, false).unwrap();
        assert!(s["spec"]["ports"][0].get("nodePort").is_none());
    }

    #[test]
    fn cidr_parses() {
        let c = Cidr::parse("10.96.0.1/12").unwrap();
        assert_eq!(c.nth(1), Ipv4Addr::new(10, 96, 0, 1));
        assert!(c.contains(Ipv4Addr::new(10, 111, 255, 255)));
        assert!(!c.contains(Ipv4Addr::new(10, 112, 0, 0)));
        assert!(Cidr::parse("nope").is_err());
    }
}
