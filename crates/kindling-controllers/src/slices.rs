//! The EndpointSlice diff shared by the EndpointSlice and mirroring controllers, without IO
//! (upstream's reconciler): desired endpoints, grouped by the ports they serve, against the
//! slices that exist → the slices to create, update and delete.
//!
//! It keeps writes few, like upstream: an endpoint stays in the slice it is in, slices that
//! change anyway are filled first, new slices are made only for what does not fit (at most
//! `max_endpoints` each), a create and a delete become one update, and a Service without
//! endpoints keeps one empty placeholder slice.

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use std::collections::BTreeMap;

pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// What an owner (a Service, or mirrored Endpoints) should have.
#[derive(Clone, Debug)]
pub struct Desired {
    /// What every slice of the owner carries: namespace, generateName, labels, annotations,
    /// owner reference, addressType. Its ports and endpoints are ignored.
    pub template: EndpointSlice,
    /// The endpoints, each with the ports it serves.
    pub groups: Vec<Group>,
    /// At most this many endpoints per slice.
    pub max_endpoints: usize,
}

/// Endpoints that serve the same ports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

/// The writes that bring the existing slices to the desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// New slices (named by generateName).
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new content (their metadata kept: name, uid, resourceVersion).
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// A port set's identity: the same ports in any order are the same set.
fn ports_key(ports: &[EndpointPort]) -> String {
    let mut keys: Vec<String> = ports
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}/{}",
                p.name.as_deref().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.as_deref().unwrap_or("TCP"),
                p.app_protocol.as_deref().unwrap_or_default()
            )
        })
        .collect();
    keys.sort();
    keys.join(",")
}

/// An endpoint's identity within its owner: its addresses.
fn endpoint_key(e: &Endpoint) -> String {
    e.addresses.join(",")
}

fn owner_uid(slice: &EndpointSlice) -> Option<&str> {
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// Whether an existing slice is the template owner's (same owner, same address type): slices
/// of an older owner of the same name are deleted, never reused.
fn owned(slice: &EndpointSlice, template: &EndpointSlice) -> bool {
    slice.address_type == template.address_type && owner_uid(slice) == owner_uid(template)
}

fn annotations_without_trigger(slice: &EndpointSlice) -> BTreeMap<String, String> {
    let mut a = slice.metadata.annotations.clone().unwrap_or_default();
    a.remove(TRIGGER_TIME_ANNOTATION);
    a
}

fn metadata_matches(slice: &EndpointSlice, template: &EndpointSlice) -> bool {
    slice.metadata.labels.clone().unwrap_or_default()
        == template.metadata.labels.clone().unwrap_or_default()
        && annotations_without_trigger(slice) == annotations_without_trigger(template)
}

/// `slice` with the template's labels and annotations (the trigger time kept), ports and the
/// endpoints sorted by address.
fn restyle(
    mut slice: EndpointSlice,
    template: &EndpointSlice,
    ports: &[EndpointPort],
    mut endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    let trigger = slice
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TRIGGER_TIME_ANNOTATION))
        .cloned();
    let mut annotations = annotations_without_trigger(template);
    if let Some(t) = trigger {
        annotations.insert(TRIGGER_TIME_ANNOTATION.into(), t);
    }
    slice.metadata.labels = template.metadata.labels.clone();
    slice.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    slice.metadata.owner_references = template.metadata.owner_references.clone();
    endpoints.sort_by_key(endpoint_key);
    slice.endpoints = endpoints;
    slice.ports = Some(ports.to_vec());
    slice
}

fn new_slice(
    template: &EndpointSlice,
    ports: &[EndpointPort],
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    let mut slice = template.clone();
    slice.metadata.name = None;
    slice.metadata.resource_version = None;
    slice.metadata.uid = None;
    restyle(slice, template, ports, endpoints)
}

fn sorted(endpoints: &[Endpoint]) -> Vec<Endpoint> {
    let mut v = endpoints.to_vec();
    v.sort_by_key(endpoint_key);
    v
}

/// The writes that turn `existing` (the owner's slices, as listed by the managed-by and
/// service-name labels) into `desired`. Created and updated slices get `trigger_time` as their
/// last-change-trigger-time (none: the annotation is removed).
pub fn plan(desired: &Desired, existing: &[EndpointSlice], trigger_time: Option<&str>) -> Plan {
    let template = &desired.template;
    let max = desired.max_endpoints.max(1);
    let mut plan = Plan::default();

    // Existing slices by port set; those of another owner or address type go.
    let mut by_ports: BTreeMap<String, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned(slice, template) {
            let key = ports_key(slice.ports.as_deref().unwrap_or_default());
            by_ports.entry(key).or_default().push(slice);
        } else {
            plan.delete.push(slice.clone());
        }
    }

    // Desired endpoints by port set (groups with the same ports merge), each set by address.
    let mut wanted: BTreeMap<String, (Vec<EndpointPort>, BTreeMap<String, Endpoint>)> =
        BTreeMap::new();
    for group in &desired.groups {
        let entry = wanted
            .entry(ports_key(&group.ports))
            .or_insert_with(|| (group.ports.clone(), BTreeMap::new()));
        for e in &group.endpoints {
            entry.1.entry(endpoint_key(e)).or_insert_with(|| e.clone());
        }
    }
    let total: usize = wanted.values().map(|(_, eps)| eps.len()).sum();

    for (key, (ports, mut endpoints)) in wanted {
        let mut slices = by_ports.remove(&key).unwrap_or_default();
        slices.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        // 1. Each existing slice keeps the endpoints it has that are still wanted.
        let mut kept: Vec<(EndpointSlice, bool)> = Vec::new();
        for slice in slices {
            let still: Vec<Endpoint> = slice
                .endpoints
                .iter()
                .filter_map(|e| endpoints.remove(&endpoint_key(e)))
                .collect();
            if still.is_empty() {
                plan.delete.push(slice.clone());
                continue;
            }
            let next = restyle(slice.clone(), template, &ports, still);
            let changed = sorted(&slice.endpoints) != next.endpoints
                || !metadata_matches(slice, template)
                || slice.ports.as_deref() != Some(ports.as_slice());
            kept.push((next, changed));
        }
        // 2. The rest fill slices that change anyway, then unchanged ones, then new slices.
        let mut rest: Vec<Endpoint> = endpoints.into_values().collect();
        for changing in [true, false] {
            for (slice, changed) in kept.iter_mut().filter(|(_, c)| *c == changing) {
                let room = max.saturating_sub(slice.endpoints.len());
                if room == 0 || rest.is_empty() {
                    continue;
                }
                let take: Vec<Endpoint> = rest.drain(..room.min(rest.len())).collect();
                let mut all = std::mem::take(&mut slice.endpoints);
                all.extend(take);
                all.sort_by_key(endpoint_key);
                slice.endpoints = all;
                *changed = true;
            }
        }
        for chunk in rest.chunks(max) {
            plan.create
                .push(new_slice(template, &ports, chunk.to_vec()));
        }
        plan.update
            .extend(kept.into_iter().filter(|(_, c)| *c).map(|(s, _)| s));
    }
    // Port sets nobody serves any more.
    for slices in by_ports.into_values() {
        plan.delete.extend(slices.into_iter().cloned());
    }

    // An owner without endpoints keeps one empty slice (no ports), as upstream's placeholder.
    if total == 0 {
        let placeholder = new_slice(template, &[], Vec::new());
        let is_placeholder = |s: &EndpointSlice| {
            owned(s, template)
                && s.endpoints.is_empty()
                && s.ports.as_deref().unwrap_or_default().is_empty()
                && metadata_matches(s, template)
        };
        if let Some(i) = plan.delete.iter().position(is_placeholder) {
            plan.delete.remove(i);
        } else {
            plan.create.push(placeholder);
        }
    }

    // A slice to create and one of ours to delete: update the latter instead.
    let mut i = 0;
    while i < plan.delete.len() && !plan.create.is_empty() {
        if owned(&plan.delete[i], template) {
            let old = plan.delete.remove(i);
            let new = plan.create.pop().expect("checked non-empty");
            let ports = new.ports.clone().unwrap_or_default();
            plan.update
                .push(restyle(old, template, &ports, new.endpoints));
        } else {
            i += 1;
        }
    }

    for slice in plan.create.iter_mut().chain(plan.update.iter_mut()) {
        let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match trigger_time {
            Some(t) => {
                annotations.insert(TRIGGER_TIME_ANNOTATION.into(), t.into());
            }
            None => {
                annotations.remove(TRIGGER_TIME_ANNOTATION);
            }
        }
        if annotations.is_empty() {
            slice.metadata.annotations = None;
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"generateName": "web-", "namespace": "default",
                         "labels": {LABEL_SERVICE_NAME: "web", LABEL_MANAGED_BY: "endpointslice-controller.k8s.io"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                              "uid": "svc-uid", "controller": true, "blockOwnerDeletion": true}]},
            "addressType": "IPv4", "endpoints": [],
        }))
        .unwrap()
    }

    fn http() -> Vec<EndpointPort> {
        vec![
            serde_json::from_value(json!({"name": "http", "port": 8080, "protocol": "TCP"}))
                .unwrap(),
        ]
    }

    fn ep(ip: &str, ready: bool) -> Endpoint {
        serde_json::from_value(json!({"addresses": [ip],
            "conditions": {"ready": ready, "serving": ready, "terminating": false}}))
        .unwrap()
    }

    fn desired(groups: Vec<Group>, max: usize) -> Desired {
        Desired {
            template: template(),
            groups,
            max_endpoints: max,
        }
    }

    fn existing(name: &str, ports: Vec<EndpointPort>, eps: Vec<Endpoint>) -> EndpointSlice {
        let mut s = new_slice(&template(), &ports, eps);
        s.metadata.name = Some(name.into());
        s.metadata.resource_version = Some("7".into());
        s
    }

    fn ips(s: &EndpointSlice) -> Vec<&str> {
        s.endpoints
            .iter()
            .map(|e| e.addresses[0].as_str())
            .collect()
    }

    #[test]
    fn a_new_service_gets_slices_of_at_most_max_endpoints() {
        let eps: Vec<Endpoint> = (1..=5)
            .map(|i| ep(&format!("10.244.1.{i}"), true))
            .collect();
        let p = plan(
            &desired(
                vec![Group {
                    ports: http(),
                    endpoints: eps,
                }],
                2,
            ),
            &[],
            Some("2026-01-01T00:00:00Z"),
        );
        assert_eq!(p.create.len(), 3);
        assert!(p.update.is_empty() && p.delete.is_empty());
        assert_eq!(ips(&p.create[0]), ["10.244.1.1", "10.244.1.2"]);
        assert_eq!(ips(&p.create[2]), ["10.244.1.5"]);
        let s = &p.create[0];
        assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(s.metadata.name, None);
        assert_eq!(s.ports, Some(http()));
        assert_eq!(
            s.metadata.annotations.as_ref().unwrap()[TRIGGER_TIME_ANNOTATION],
            "2026-01-01T00:00:00Z"
        );
    }

    #[test]
    fn nothing_changes_nothing_is_written() {
        let slice = existing(
            "web-abc",
            http(),
            vec![ep("10.244.1.1", true), ep("10.244.2.1", true)],
        );
        // Order of desired endpoints and of ports does not matter.
        let p = plan(
            &desired(
                vec![Group {
                    ports: http(),
                    endpoints: vec![ep("10.244.2.1", true), ep("10.244.1.1", true)],
                }],
                100,
            ),
            &[slice],
            Some("t"),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn a_removed_or_changed_endpoint_updates_its_slice_in_place() {
        let slice = existing(
            "web-abc",
            http(),
            vec![ep("10.244.1.1", true), ep("10.244.2.1", true)],
        );
        let p = plan(
            &desired(
                vec![Group {
                    ports: http(),
                    endpoints: vec![ep("10.244.2.1", false)],
                }],
                100,
            ),
            &[slice],
            None,
        );
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.update.len(), 1);
        let u = &p.update[0];
        assert_eq!(u.metadata.name.as_deref(), Some("web-abc"));
        assert_eq!(u.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(ips(u), ["10.244.2.1"]);
        assert_eq!(
            u.endpoints[0].conditions.as_ref().unwrap().ready,
            Some(false)
        );
    }

    #[test]
    fn new_endpoints_fill_slices_that_change_anyway_before_others() {
        let full = existing("web-a", http(), vec![ep("10.0.0.1", true)]);
        let changing = existing(
            "web-b",
            http(),
            vec![ep("10.0.0.2", true), ep("10.0.0.3", true)],
        );
        let p = plan(
            &desired(
                vec![Group {
                    ports: http(),
                    endpoints: vec![
                        ep("10.0.0.1", true),
                        ep("10.0.0.2", true),
                        ep("10.0.0.4", true),
                    ],
                }],
                2,
            ),
            &[full, changing],
            None,
        );
        // 10.0.0.3 left web-b, so web-b takes 10.0.0.4; web-a is not touched.
        assert_eq!(p.update.len(), 1, "{p:?}");
        assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-b"));
        assert_eq!(ips(&p.update[0]), ["10.0.0.2", "10.0.0.4"]);
        assert!(p.create.is_empty() && p.delete.is_empty());
    }

    #[test]
    fn endpoints_with_other_ports_get_slices_of_their_own() {
        let other: Vec<EndpointPort> =
            vec![
                serde_json::from_value(json!({"name": "http", "port": 9090, "protocol": "TCP"}))
                    .unwrap(),
            ];
        let p = plan(
            &desired(
                vec![
                    Group {
                        ports: http(),
                        endpoints: vec![ep("10.0.0.1", true)],
                    },
                    Group {
                        ports: other.clone(),
                        endpoints: vec![ep("10.0.0.2", true)],
                    },
                ],
                100,
            ),
            &[],
            None,
        );
        assert_eq!(p.create.len(), 2);
        let mut ports: Vec<i32> = p
            .create
            .iter()
            .map(|s| s.ports.as_ref().unwrap()[0].port.unwrap())
            .collect();
        ports.sort_unstable();
        assert_eq!(ports, [8080, 9090]);
    }

    #[test]
    fn no_endpoints_leaves_one_placeholder() {
        // From nothing: a placeholder is created.
        let p = plan(&desired(vec![], 100), &[], None);
        assert_eq!(p.create.len(), 1);
        assert!(p.create[0].endpoints.is_empty());
        assert_eq!(p.create[0].ports, Some(vec![]));
        // The last endpoint goes: its slice becomes the placeholder (one update, no churn).
        let slice = existing("web-abc", http(), vec![ep("10.244.1.1", true)]);
        let p = plan(&desired(vec![], 100), &[slice], None);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(p.update.len(), 1);
        assert!(p.update[0].endpoints.is_empty());
        assert_eq!(p.update[0].ports, Some(vec![]));
        // And an existing placeholder stays as it is.
        let placeholder = existing("web-abc", vec![], vec![]);
        assert!(plan(&desired(vec![], 100), &[placeholder], None).is_empty());
    }

    #[test]
    fn slices_of_an_older_owner_are_deleted_not_reused() {
        let mut old = existing("web-old", http(), vec![ep("10.0.0.1", true)]);
        old.metadata.owner_references.as_mut().unwrap()[0].uid = "previous-svc".into();
        let p = plan(
            &desired(
                vec![Group {
                    ports: http(),
                    endpoints: vec![ep("10.0.0.1", true)],
                }],
                100,
            ),
            &[old],
            None,
        );
        assert_eq!(p.create.len(), 1);
        assert_eq!(p.delete.len(), 1);
        assert_eq!(p.delete[0].metadata.name.as_deref(), Some("web-old"));
        assert!(p.update.is_empty());
    }

    #[test]
    fn changed_service_labels_update_every_slice() {
        let slice = existing("web-abc", http(), vec![ep("10.0.0.1", true)]);
        let mut d = desired(
            vec![Group {
                ports: http(),
                endpoints: vec![ep("10.0.0.1", true)],
            }],
            100,
        );
        d.template
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("tier".into(), "front".into());
        let p = plan(&d, &[slice], None);
        assert_eq!(p.update.len(), 1);
        assert_eq!(
            p.update[0].metadata.labels.as_ref().unwrap()["tier"],
            "front"
        );
    }
}
