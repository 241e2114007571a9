//! NodePort allocation decisions, without IO: the bitmap of taken ports that every API server
//! sharing a store keeps in one record (upstream's RangeAllocation at
//! `/registry/ranges/servicenodeports`), which ports a Service write asks for, which free port
//! it gets (KEP-3668's split: dynamic picks prefer the upper band, leaving the lower one to
//! ports users ask for), and what the repair pass changes. `registry/nodeports.rs` reads and
//! writes the record under compare-and-swap.

use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// Passes of the repair that must see a port held by no Service before it is freed: a port is
/// claimed before its Service is stored, so a single sighting may be a write in flight on
/// another API server (upstream's `numRepairsBeforeLeakCleanup`).
pub const SIGHTINGS_BEFORE_FREEING: u32 = 3;

/// Which ports of one range are taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    range: RangeInclusive<u16>,
    /// Bit `i` is port `range.start() + i`.
    bits: Vec<u64>,
}

impl Bitmap {
    pub fn new(range: RangeInclusive<u16>) -> Bitmap {
        let size = range_size(&range);
        Bitmap {
            range,
            bits: vec![0; size.div_ceil(64)],
        }
    }

    fn offset(&self, port: u16) -> Option<usize> {
        self.range
            .contains(&port)
            .then(|| usize::from(port - self.range.start()))
    }

    pub fn has(&self, port: u16) -> bool {
        self.offset(port)
            .is_some_and(|i| self.bits[i / 64] & (1 << (i % 64)) != 0)
    }

    /// Marks `port` taken; false if it is outside the range.
    pub fn set(&mut self, port: u16) -> bool {
        let Some(i) = self.offset(port) else {
            return false;
        };
        self.bits[i / 64] |= 1 << (i % 64);
        true
    }

    pub fn clear(&mut self, port: u16) {
        if let Some(i) = self.offset(port) {
            self.bits[i / 64] &= !(1 << (i % 64));
        }
    }

    /// The taken ports, ascending.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.range.clone().filter(|p| self.has(*p))
    }

    /// The record as stored: a v1 RangeAllocation whose `data` holds the bits as upstream's
    /// bitmap does (a big-endian integer, bit `i` for the range's `i`-th port).
    pub fn to_record(&self) -> Vec<u8> {
        let size = range_size(&self.range);
        let highest = (0..size)
            .rev()
            .find(|i| self.bits[i / 64] & (1 << (i % 64)) != 0);
        let mut data = vec![0u8; highest.map_or(0, |h| h / 8 + 1)];
        let len = data.len();
        for i in (0..size).filter(|i| self.bits[i / 64] & (1 << (i % 64)) != 0) {
            data[len - 1 - i / 8] |= 1 << (i % 8);
        }
        let record = json!({
            "kind": "RangeAllocation", "apiVersion": "v1", "metadata": {},
            "range": format!("{}-{}", self.range.start(), self.range.end()),
            "data": base64::engine::general_purpose::STANDARD.encode(data),
        });
        record.to_string().into_bytes()
    }

    /// The ports a stored record marks, as a bitmap of `range`. A record of another range (the
    /// flag changed) keeps the ports that are in both; the repair sorts out the rest.
    pub fn from_record(range: RangeInclusive<u16>, bytes: &[u8]) -> Result<Bitmap, String> {
        let record: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let (lo, hi) = record["range"]
            .as_str()
            .and_then(|r| r.split_once('-'))
            .and_then(|(lo, hi)| Some((lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("bad range in node port record: {}", record["range"]))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(record["data"].as_str().unwrap_or_default())
            .map_err(|e| format!("bad data in node port record: {e}"))?;
        let mut bitmap = Bitmap::new(range);
        for (from_end, byte) in data.iter().rev().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    let port = usize::from(lo) + from_end * 8 + bit;
                    if let Ok(port) = u16::try_from(port) {
                        if port <= hi {
                            bitmap.set(port);
                        }
                    }
                }
            }
        }
        Ok(bitmap)
    }
}

fn range_size(range: &RangeInclusive<u16>) -> usize {
    (usize::from(*range.end()) + 1).saturating_sub(usize::from(*range.start()))
}

/// What one port entry of a Service write asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The port the stored Service already holds (an update keeping it).
    Keep { index: usize, port: u16 },
    /// A port the user named.
    Exact { index: usize, port: u16 },
    /// Any free port.
    Any { index: usize },
}

/// Why a Service cannot have its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    OutOfRange { index: usize, port: u16 },
    Taken { index: usize, port: u16 },
    Full,
}

/// What each port entry of `svc` (a type with node ports) asks for, given what the stored
/// Service (`old`) holds.
pub fn wants(svc: &Value, old: Option<&Value>) -> Vec<Want> {
    let held = old.map(held_ports).unwrap_or_default();
    let mut out = Vec::new();
    for (index, entry) in svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        match entry["nodePort"].as_u64().filter(|p| *p != 0) {
            Some(port) => {
                let port = u16::try_from(port).unwrap_or(u16::MAX);
                if held.contains(&port) {
                    out.push(Want::Keep { index, port });
                } else {
                    out.push(Want::Exact { index, port });
                }
            }
            None => out.push(Want::Any { index }),
        }
    }
    out
}

/// Decides the ports `wants` get out of `taken`: `(entry index, port)` for every port newly
/// taken (a kept port is not listed), or why not. `seed` chooses among free ports.
pub fn claim(taken: &Bitmap, wants: &[Want], seed: u64) -> Result<Vec<(usize, u16)>, Refusal> {
    let mut next = taken.clone();
    let mut out: Vec<(usize, u16)> = Vec::new();
    // Named ports first, so that a free pick never takes a port named later in the same write.
    for want in wants {
        if let Want::Exact { index, port } = *want {
            if out.iter().any(|(_, p)| *p == port) {
                continue;
            }
            if !next.range.contains(&port) {
                return Err(Refusal::OutOfRange { index, port });
            }
            if next.has(port) {
                return Err(Refusal::Taken { index, port });
            }
            next.set(port);
            out.push((index, port));
        }
    }
    for want in wants {
        if let Want::Any { index } = *want {
            let port = pick(&next, seed.wrapping_add(index as u64)).ok_or(Refusal::Full)?;
            next.set(port);
            out.push((index, port));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What a change of the record gives: `(entry index, port)` for each port newly taken, or why
/// none are.
pub type Decided = Result<Vec<(usize, u16)>, Refusal>;

/// What a write asks of the node port record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortChange {
    /// Take the ports `wants` ask for (see [`claim`]).
    Claim { wants: Vec<Want>, seed: u64 },
    /// Free these ports.
    Release(Vec<u16>),
}

impl PortChange {
    /// Makes the change in `bitmap`: the ports newly taken, or why none are (then `bitmap` is
    /// unchanged).
    pub fn apply(&self, bitmap: &mut Bitmap) -> Decided {
        match self {
            PortChange::Claim { wants, seed } => {
                let taken = claim(bitmap, wants, *seed)?;
                for (_, port) in &taken {
                    bitmap.set(*port);
                }
                Ok(taken)
            }
            PortChange::Release(ports) => {
                for port in ports {
                    bitmap.clear(*port);
                }
                Ok(Vec::new())
            }
        }
    }
}

/// A free port: a random one of the upper (dynamic) band if it has any, else of the lower
/// (static) band, whose size is KEP-3668's: range/32, at least 16, at most 128.
pub fn pick(taken: &Bitmap, seed: u64) -> Option<u16> {
    let size = range_size(&taken.range);
    let static_size = (size / 32).clamp(16, 128).min(size);
    let start = *taken.range.start();
    let bands = [(static_size, size), (0, static_size)];
    bands.into_iter().find_map(|(lo, hi)| {
        let len = hi.checked_sub(lo).filter(|l| *l > 0)?;
        let first = (seed % len as u64) as usize;
        (0..len)
            .map(|i| lo + (first + i) % len)
            .filter_map(|offset| u16::try_from(usize::from(start) + offset).ok())
            .find(|p| !taken.has(*p))
    })
}

/// The node ports a Service holds.
pub fn held_ports(svc: &Value) -> Vec<u16> {
    svc["spec"]["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["nodePort"].as_u64())
                .filter_map(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .collect()
        })
        .unwrap_or_default()
}

/// Something the repair found wrong with a Service's port (upstream's event reasons).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Held by a Service but not marked: marked now.
    PortNotAllocated { service: String, port: u16 },
    /// Held by two Services: the second must be recreated.
    PortAlreadyAllocated { service: String, port: u16 },
    /// Outside the range (the flag changed): the Service must be recreated.
    PortOutOfRange { service: String, port: u16 },
    /// Marked, held by nobody for [`SIGHTINGS_BEFORE_FREEING`] passes: freed.
    Leaked { port: u16 },
}

/// What one repair pass writes and remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    pub bitmap: Bitmap,
    /// Ports marked but held by nobody, with the passes left before they are freed.
    pub suspects: BTreeMap<u16, u32>,
    pub findings: Vec<Finding>,
}

/// Rebuilds the record from what the Services hold (`(namespace/name, ports)`): every held port
/// marked, a port held by nobody freed once seen so often (`suspects`, from the last pass).
pub fn repair(
    stored: &Bitmap,
    services: &[(String, Vec<u16>)],
    suspects: &BTreeMap<u16, u32>,
) -> Repair {
    let mut bitmap = Bitmap::new(stored.range.clone());
    let mut findings = Vec::new();
    for (service, ports) in services {
        let mut own: Vec<u16> = Vec::new();
        for port in ports.iter().copied() {
            if own.contains(&port) {
                continue;
            }
            own.push(port);
            let service = service.clone();
            if !bitmap.range.contains(&port) {
                findings.push(Finding::PortOutOfRange { service, port });
            } else if bitmap.has(port) {
                findings.push(Finding::PortAlreadyAllocated { service, port });
            } else {
                if !stored.has(port) {
                    findings.push(Finding::PortNotAllocated { service, port });
                }
                bitmap.set(port);
            }
        }
    }
    let mut left = BTreeMap::new();
    for port in stored.ports() {
        if bitmap.has(port) {
            continue;
        }
        let passes = suspects
            .get(&port)
            .copied()
            .unwrap_or(SIGHTINGS_BEFORE_FREEING);
        if passes <= 1 {
            findings.push(Finding::Leaked { port });
        } else {
            left.insert(port, passes - 1);
            bitmap.set(port);
        }
    }
    Repair {
        bitmap,
        suspects: left,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(ports: &[u16]) -> Bitmap {
        let mut b = Bitmap::new(30000..=32767);
        for p in ports {
            b.set(*p);
        }
        b
    }

    #[test]
    fn the_record_round_trips_in_upstreams_bit_order() {
        let b = map(&[30000, 30009, 32767]);
        let record: Value = serde_json::from_slice(&b.to_record()).unwrap();
        assert_eq!(record["range"], "30000-32767");
        let data = base64::engine::general_purpose::STANDARD
            .decode(record["data"].as_str().unwrap())
            .unwrap();
        // Offset 2767 is the highest bit: 346 bytes, its byte first; offsets 0 and 9 last.
        assert_eq!(data.len(), 346);
        assert_eq!(data[0], 1 << (2767 % 8));
        assert_eq!(data[345], 1);
        assert_eq!(data[344], 1 << 1);
        assert_eq!(
            Bitmap::from_record(30000..=32767, &b.to_record()).unwrap(),
            b
        );
        let empty = Bitmap::new(30000..=32767);
        assert_eq!(
            Bitmap::from_record(30000..=32767, &empty.to_record()).unwrap(),
            empty
        );
    }

    #[test]
    fn a_record_of_another_range_keeps_the_ports_in_both() {
        let mut old = Bitmap::new(30000..=30100);
        old.set(30000);
        old.set(30100);
        let now = Bitmap::from_record(30050..=30200, &old.to_record()).unwrap();
        assert_eq!(now.ports().collect::<Vec<_>>(), vec![30100]);
    }

    #[test]
    fn wants_tell_kept_named_and_free_ports_apart() {
        let old = json!({"spec":{"ports":[{"nodePort":30080}]}});
        let svc = json!({"spec":{"ports":[{"nodePort":30080},{"nodePort":30090},{"port":1},{"nodePort":0}]}});
        assert_eq!(
            wants(&svc, Some(&old)),
            vec![
                Want::Keep {
                    index: 0,
                    port: 30080
                },
                Want::Exact {
                    index: 1,
                    port: 30090
                },
                Want::Any { index: 2 },
                Want::Any { index: 3 },
            ]
        );
    }

    #[test]
    fn claims() {
        struct Case {
            name: &'static str,
            taken: &'static [u16],
            wants: Vec<Want>,
            expect: Result<Vec<(usize, u16)>, Refusal>,
        }
        let cases = [
            Case {
                name: "a named free port",
                taken: &[30001],
                wants: vec![Want::Exact {
                    index: 0,
                    port: 30080,
                }],
                expect: Ok(vec![(0, 30080)]),
            },
            Case {
                name: "a named taken port",
                taken: &[30080],
                wants: vec![Want::Exact {
                    index: 1,
                    port: 30080,
                }],
                expect: Err(Refusal::Taken {
                    index: 1,
                    port: 30080,
                }),
            },
            Case {
                name: "out of range comes before taken",
                taken: &[],
                wants: vec![Want::Exact {
                    index: 0,
                    port: 8080,
                }],
                expect: Err(Refusal::OutOfRange {
                    index: 0,
                    port: 8080,
                }),
            },
            Case {
                name: "a kept port is no new claim",
                taken: &[30080],
                wants: vec![Want::Keep {
                    index: 0,
                    port: 30080,
                }],
                expect: Ok(vec![]),
            },
            Case {
                name: "one port named twice (TCP and UDP) is one claim",
                taken: &[],
                wants: vec![
                    Want::Exact {
                        index: 0,
                        port: 30053,
                    },
                    Want::Exact {
                        index: 1,
                        port: 30053,
                    },
                ],
                expect: Ok(vec![(0, 30053)]),
            },
        ];
        for case in cases {
            assert_eq!(
                claim(&map(case.taken), &case.wants, 7),
                case.expect,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn free_picks_avoid_named_ports_and_each_other() {
        let taken = Bitmap::new(30000..=30001);
        let wants = [
            Want::Any { index: 0 },
            Want::Exact {
                index: 1,
                port: 30000,
            },
        ];
        assert_eq!(claim(&taken, &wants, 0), Ok(vec![(0, 30001), (1, 30000)]));
        let wants = [
            Want::Any { index: 0 },
            Want::Any { index: 1 },
            Want::Any { index: 2 },
        ];
        assert_eq!(claim(&taken, &wants, 0), Err(Refusal::Full));
    }

    #[test]
    fn changes_in_one_batch_see_each_other() {
        let mut bitmap = map(&[30080]);
        let first = PortChange::Claim {
            wants: vec![Want::Exact {
                index: 0,
                port: 30090,
            }],
            seed: 1,
        };
        assert_eq!(first.apply(&mut bitmap), Ok(vec![(0, 30090)]));
        assert_eq!(
            first.apply(&mut bitmap),
            Err(Refusal::Taken {
                index: 0,
                port: 30090
            })
        );
        PortChange::Release(vec![30080, 30090])
            .apply(&mut bitmap)
            .unwrap();
        assert_eq!(bitmap, map(&[]));
    }

    #[test]
    fn picks_prefer_the_dynamic_band() {
        // 2768 ports: the static band is the first 86.
        let mut taken = map(&[]);
        for seed in 0..200 {
            let p = pick(&taken, seed * 7919).unwrap();
            assert!(p >= 30086, "{p}");
        }
        for p in 30086..=32767 {
            taken.set(p);
        }
        let p = pick(&taken, 3).unwrap();
        assert!((30000..30086).contains(&p), "{p}");
        for p in 30000..30086 {
            taken.set(p);
        }
        assert_eq!(pick(&taken, 3), None);
        // A small range: the static band is 16 ports (or the whole range).
        let small = Bitmap::new(30000..=30009);
        assert!(pick(&small, 5).is_some());
    }

    #[test]
    fn repairs() {
        let svc = |name: &str, ports: &[u16]| (name.to_string(), ports.to_vec());
        // Held but unmarked → marked; marked and held by nobody → kept until the third pass.
        let stored = map(&[30001, 30002]);
        let services = [
            svc("default/a", &[30001, 30003]),
            svc("default/b", &[30003, 99]),
        ];
        let first = repair(&stored, &services, &BTreeMap::new());
        assert_eq!(
            first.bitmap.ports().collect::<Vec<_>>(),
            vec![30001, 30002, 30003]
        );
        assert_eq!(
            first.findings,
            vec![
                Finding::PortNotAllocated {
                    service: "default/a".into(),
                    port: 30003
                },
                Finding::PortAlreadyAllocated {
                    service: "default/b".into(),
                    port: 30003
                },
                Finding::PortOutOfRange {
                    service: "default/b".into(),
                    port: 99
                },
            ]
        );
        assert_eq!(first.suspects, BTreeMap::from([(30002, 2)]));
        let second = repair(&first.bitmap, &services, &first.suspects);
        assert!(second.bitmap.has(30002));
        assert_eq!(second.suspects, BTreeMap::from([(30002, 1)]));
        let third = repair(&second.bitmap, &services, &second.suspects);
        assert!(!third.bitmap.has(30002));
        assert!(third.suspects.is_empty());
        assert!(third.findings.contains(&Finding::Leaked { port: 30002 }));
        // A suspect that a Service holds again is no longer one.
        let back = repair(
            &second.bitmap,
            &[svc("default/c", &[30002])],
            &second.suspects,
        );
        assert!(back.bitmap.has(30002) && !back.suspects.contains_key(&30002));
    }
}
