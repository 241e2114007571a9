//! Service ClusterIP and NodePort allocation: the state a Service create or update needs beyond
//! its own object. Rebuilt from the stored Services at start; one lock makes allocation atomic.

use kindling_api::{ApiError, Cause};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::{Mutex, PoisonError};

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
    ports: BTreeSet<u16>,
}

/// What one allocation changed in the allocator's state.
#[derive(Debug, Default)]
pub struct Reservation {
    ips: Vec<u32>,
    ports: Vec<u16>,
    dropped_ports: Vec<u16>,
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
}

impl ServiceAllocator {
    pub fn new(cidr: Cidr, node_ports: RangeInclusive<u16>) -> ServiceAllocator {
        ServiceAllocator {
            cidr,
            node_ports,
            state: Mutex::new(State {
                ips: BTreeSet::new(),
                ports: BTreeSet::new(),
            }),
        }
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
        st.ports.clear();
        for svc in services {
            for ip in cluster_ips(svc) {
                st.ips.insert(u32::from(ip));
            }
            st.ports.extend(node_ports(svc));
        }
    }

    /// Fills in and reserves the Service's ClusterIP and NodePorts (keeping the old object's).
    /// The returned [`Reservation`] is then either committed, once the object is stored, or
    /// undone (e.g. the write lost a compare-and-swap race and is retried).
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
        // NodePorts.
        let wants_node_ports = matches!(svc_type.as_str(), "NodePort" | "LoadBalancer");
        let old_ports: BTreeSet<u16> = old
            .map(node_ports)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut newly = Vec::new();
        if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
            for (i, port) in ports.iter_mut().enumerate() {
                if !wants_node_ports {
                    if let Some(p) = port.as_object_mut() {
                        p.remove("nodePort");
                    }
                    continue;
                }
                match port["nodePort"].as_u64().filter(|p| *p != 0) {
                    Some(requested) => {
                        let requested = requested as u16;
                        if old_ports.contains(&requested) || newly.contains(&requested) {
                            continue;
                        }
                        if !self.node_ports.contains(&requested) {
                            return Err(invalid(Cause::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                requested,
                                &format!("provided port is not in the valid range. The range of valid ports is {}-{}", self.node_ports.start(), self.node_ports.end()),
                            )));
                        }
                        if st.ports.contains(&requested) {
                            return Err(invalid(Cause::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                requested,
                                "provided port is already allocated",
                            )));
                        }
                        newly.push(requested);
                    }
                    None => {
                        let free = self
                            .node_ports
                            .clone()
                            .find(|p| !st.ports.contains(p) && !newly.contains(p));
                        let p = free.ok_or_else(|| {
                            ApiError::internal("failed to allocate a nodePort: range is full")
                        })?;
                        port["nodePort"] = json!(p);
                        newly.push(p);
                    }
                }
            }
        }
        let mut reservation = Reservation::default();
        if !dry_run {
            st.ips.extend(reserved_ip);
            reservation.ips.extend(reserved_ip);
            st.ports.extend(newly.iter().copied());
            reservation.ports = newly;
            // Ports the update drops are freed only once it is stored (`commit`).
            let kept: BTreeSet<u16> = node_ports(svc).into_iter().collect();
            reservation.dropped_ports = old_ports.difference(&kept).copied().collect();
        }
        Ok(reservation)
    }

    /// The write of an allocated Service landed: what the update dropped is free again.
    pub fn commit(&self, reservation: Reservation) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for p in reservation.dropped_ports {
            st.ports.remove(&p);
        }
    }

    /// The write did not land: what the allocation took is given back.
    pub fn undo(&self, reservation: Reservation) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for ip in reservation.ips {
            st.ips.remove(&ip);
        }
        for p in reservation.ports {
            st.ports.remove(&p);
        }
    }

    /// Frees what a deleted Service (or a failed create) held.
    pub fn release(&self, svc: &Value) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for ip in cluster_ips(svc) {
            st.ips.remove(&u32::from(ip));
        }
        for p in node_ports(svc) {
            st.ports.remove(&p);
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

fn node_ports(svc: &Value) -> Vec<u16> {
    svc["spec"]["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["nodePort"].as_u64())
                .map(|p| p as u16)
                .collect()
        })
        .unwrap_or_default()
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
        let mut s2 = json!({"metadata":{"name":"b"},"spec":{"type":"NodePort","clusterIP": ip.to_string(),"ports":[{"port":80}]}});
        let err = a.allocate(&mut s2, None, false).unwrap_err();
        assert!(
            err.message.contains("provided IP is already allocated"),
            "{}",
            err.message
        );
        let mut s3 = json!({"metadata":{"name":"c"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}});
        assert_eq!(a.allocate(&mut s3, None, false).unwrap_err().code, 422);
        a.release(&s1);
        a.allocate(&mut s3, None, false).unwrap();
    }

    #[test]
    fn an_undone_update_can_be_retried_and_keeps_the_old_ports() {
        let a = allocator();
        let mut old = json!({"metadata":{"name":"a"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}});
        a.allocate(&mut old, None, false).unwrap();
        let update = json!({"metadata":{"name":"a"},"spec":{"type":"NodePort","clusterIP":old["spec"]["clusterIP"],"ports":[{"port":80,"nodePort":30090}]}});
        // First attempt loses the compare-and-swap race: its reservation is given back.
        let r = a.allocate(&mut update.clone(), Some(&old), false).unwrap();
        a.undo(r);
        // 30080 is still the stored Service's: nobody else may take it.
        let mut other = json!({"metadata":{"name":"b"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}});
        assert_eq!(a.allocate(&mut other, None, false).unwrap_err().code, 422);
        // The retry sees 30090 free again.
        a.allocate(&mut update.clone(), Some(&old), false).unwrap();
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
