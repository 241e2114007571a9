//! Table tests mirroring upstream's deployment util, rolling and sync tests (the scenarios and
//! expected numbers are upstream's).

use super::*;
use serde_json::json;

fn int(n: i32) -> IntOrString {
    IntOrString::Int(n)
}

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

/// Upstream's test newDeployment: a rolling update with maxSurge and maxUnavailable 0 unless
/// given.
fn deployment(
    replicas: i32,
    max_surge: Option<IntOrString>,
    max_unavailable: Option<IntOrString>,
) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "foo", "namespace": "default", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"foo": "bar"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": max_surge.unwrap_or(int(0)),
                "maxUnavailable": max_unavailable.unwrap_or(int(0)),
            }},
            "template": {"metadata": {"labels": {"foo": "bar"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }))
    .unwrap()
}

fn recreate(replicas: i32) -> Deployment {
    let mut d = deployment(replicas, None, None);
    d.spec.as_mut().unwrap().strategy =
        Some(serde_json::from_value(json!({"type": "Recreate"})).unwrap());
    d
}

/// Upstream's test rs(): a replica set of `replicas`, created at `minute`.
fn rs(name: &str, replicas: i32, minute: u32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "uid": name, "namespace": "default",
                     "creationTimestamp": format!("2016-05-20T02:{minute:02}:00Z")},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"foo": "bar"}},
                 "template": {"metadata": {"labels": {"foo": "bar"}}}},
    }))
    .unwrap()
}

fn with_available(mut rs: ReplicaSet, available: i32) -> ReplicaSet {
    rs.status = Some(
        serde_json::from_value(
            json!({"replicas": rs_replicas(&rs), "availableReplicas": available}),
        )
        .unwrap(),
    );
    rs
}

fn annotated(mut rs: ReplicaSet, pairs: &[(&str, &str)]) -> ReplicaSet {
    for (k, v) in pairs {
        annotations_mut(&mut rs).insert(k.to_string(), v.to_string());
    }
    rs
}

#[test]
fn resolve_fenceposts_like_upstream() {
    // (maxSurge, maxUnavailable, desired) → (surge, unavailable) or error
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        i32,
        Result<(i32, i32), ()>,
    );
    let cases: &[Case] = &[
        (Some("0%"), Some("0%"), 0, Ok((0, 1))),
        (Some("39%"), Some("39%"), 10, Ok((4, 3))),
        (Some("oops"), Some("39%"), 10, Err(())),
        (Some("55%"), Some("urg"), 10, Err(())),
        (None, Some("39%"), 10, Ok((0, 3))),
        (Some("39%"), None, 10, Ok((4, 0))),
        (None, None, 10, Ok((0, 1))),
    ];
    for (surge, unavailable, desired, want) in cases {
        let surge = surge.map(pct);
        let unavailable = unavailable.map(pct);
        let got =
            resolve_fenceposts(surge.as_ref(), unavailable.as_ref(), *desired).map_err(|_| ());
        assert_eq!(got, *want, "{surge:?} {unavailable:?} {desired}");
    }
}

#[test]
fn percentages_round_surge_up_and_unavailable_down() {
    // The API server's defaults, 25%/25%, on a few sizes.
    for (replicas, surge, unavailable) in [(1, 1, 0), (3, 1, 0), (4, 1, 1), (5, 2, 1), (10, 3, 2)] {
        let d = deployment(replicas, Some(pct("25%")), Some(pct("25%")));
        assert_eq!(
            (max_surge(&d), max_unavailable(&d)),
            (surge, unavailable),
            "{replicas}"
        );
    }
    // 25% of 1 rounds down to 0 unavailable, and surge 1 lets the rollout proceed.
    assert_eq!(scaled_value(Some(&pct("25%")), 1, false), Ok(0));
    assert_eq!(scaled_value(Some(&int(7)), 100, true), Ok(7));
    assert!(scaled_value(Some(&pct("x")), 10, true).is_err());
}

#[test]
fn max_unavailable_like_upstream() {
    let cases = [
        (
            "less than replicas",
            deployment(10, Some(int(1)), Some(int(5))),
            5,
        ),
        (
            "equal replicas",
            deployment(10, Some(int(1)), Some(int(10))),
            10,
        ),
        (
            "greater than replicas",
            deployment(5, Some(int(1)), Some(int(10))),
            5,
        ),
        (
            "replicas is 0",
            deployment(0, Some(int(1)), Some(int(10))),
            0,
        ),
        ("recreate", recreate(10), 0),
        (
            "less than replicas with percents",
            deployment(10, Some(int(1)), Some(pct("50%"))),
            5,
        ),
        (
            "equal replicas with percents",
            deployment(10, Some(int(1)), Some(pct("100%"))),
            10,
        ),
        (
            "greater than replicas with percents",
            deployment(5, Some(int(1)), Some(pct("100%"))),
            5,
        ),
    ];
    for (name, d, want) in cases {
        assert_eq!(max_unavailable(&d), want, "{name}");
    }
}

#[test]
fn min_available_like_upstream() {
    let cases = [
        (deployment(10, Some(int(1)), Some(int(5))), 5),
        (deployment(10, Some(int(1)), Some(int(10))), 0),
        (deployment(5, Some(int(1)), Some(int(10))), 0),
        (deployment(0, Some(int(1)), Some(int(10))), 0),
        (recreate(10), 10),
        (deployment(10, Some(int(1)), Some(pct("60%"))), 4),
        (deployment(10, Some(int(1)), Some(pct("100%"))), 0),
        (deployment(5, Some(int(1)), Some(pct("100%"))), 0),
    ];
    for (i, (d, want)) in cases.into_iter().enumerate() {
        // Upstream's MinAvailable is 0 for Recreate; here Recreate never scales down by
        // availability, so replicas - 0 is what it means.
        assert_eq!(min_available(&d), want, "case {i}");
    }
}

#[test]
fn new_rs_new_replicas_like_upstream() {
    // (name, rolling?, deployment replicas, new RS replicas, maxSurge) → expected; the only
    // other replica set has 5 replicas.
    let cases = [
        ("can not scale up - to newRSReplicas", true, 1, 5, 1, 5),
        ("scale up - to depReplicas", true, 6, 2, 10, 6),
        ("recreate - to depReplicas", false, 3, 1, 1, 3),
    ];
    for (name, rolling, replicas, new_replicas, surge, want) in cases {
        let d = if rolling {
            deployment(replicas, Some(int(surge)), Some(int(1)))
        } else {
            recreate(replicas)
        };
        let rs5 = rs("rs5", 5, 0);
        let new = rs("new", new_replicas, 1);
        assert_eq!(new_rs_new_replicas(&d, &[&rs5], &new), want, "{name}");
    }
}

#[test]
fn reconcile_new_replica_set_like_upstream() {
    // (deployment replicas, maxSurge, old replicas, new replicas) → new size, if it changes.
    let cases = [
        (10, 0, 10, 0, None),
        (10, 2, 10, 0, Some(2)),
        (10, 2, 5, 0, Some(7)),
        (10, 2, 10, 2, None),
        (10, 2, 2, 11, Some(10)),
    ];
    for (i, (replicas, surge, old, new, want)) in cases.into_iter().enumerate() {
        let d = deployment(replicas, Some(int(surge)), Some(int(0)));
        let (old, new) = (rs("foo-old", old, 0), rs("foo-new", new, 1));
        assert_eq!(
            reconcile_new_rs(&d, &[&new, &old], &new),
            want,
            "scenario {i}"
        );
    }
}

#[test]
fn reconcile_old_replica_sets_like_upstream() {
    // (replicas, maxUnavailable, old replicas, new replicas, old available, new available)
    //   → old replica set's new size, if it shrinks.
    let cases = [
        (10, 0, 10, 0, 10, 0, Some(9)),
        (10, 2, 10, 0, 10, 0, Some(8)),
        // Unhealthy old replicas go first.
        (10, 2, 10, 0, 8, 0, Some(8)),
        // One unhealthy replica cleaned up, one available scaled down.
        (10, 2, 10, 0, 9, 0, Some(8)),
        // The new replica set's unavailable pods block a further scale-down.
        (10, 2, 8, 2, 8, 0, None),
    ];
    for (i, (replicas, unavailable, old, new, old_avail, new_avail, want)) in
        cases.into_iter().enumerate()
    {
        let d = deployment(replicas, Some(int(0)), Some(int(unavailable)));
        let old = with_available(rs("foo-old", old, 0), old_avail);
        let new = with_available(rs("foo-new", new, 1), new_avail);
        let got = reconcile_old_rss(&d, &[&old], &new);
        assert_eq!(got.first().map(|s| s.to), want, "scenario {i}: {got:?}");
    }
}

#[test]
fn cleanup_of_unhealthy_replicas_is_bounded() {
    // Upstream's cleanupUnhealthyReplicas cases: 10 old replicas, 8 available, a surge and an
    // unavailability of 2 on a Deployment of 10. Scaling down stops at the bound that
    // maxUnavailable and the new replica set leave.
    let d = deployment(10, Some(int(2)), Some(int(2)));
    let old = with_available(rs("foo-old", 10, 0), 8);
    // The new replica set is 2 big and not available: 12 pods, 8 must stay available, 2 are
    // unavailable new ones → at most 2 old ones may go, both unhealthy.
    let new = rs("foo-new", 2, 1);
    assert_eq!(
        reconcile_old_rss(&d, &[&old], &new),
        [Scale {
            name: "foo-old".into(),
            to: 8
        }]
    );
    // Nothing unhealthy: available ones go, down to 8 available.
    let old = with_available(rs("foo-old", 10, 0), 10);
    let new = rs("foo-new", 0, 1);
    assert_eq!(
        reconcile_old_rss(&d, &[&old], &new),
        [Scale {
            name: "foo-old".into(),
            to: 8
        }]
    );
    let old = with_available(rs("foo-old", 10, 0), 1);
    assert_eq!(
        reconcile_old_rss(
            &deployment(10, Some(int(0)), Some(int(2))),
            &[&old],
            &rs("foo-new", 0, 1)
        ),
        [Scale {
            name: "foo-old".into(),
            to: 8
        }],
        "unhealthy replicas are cleaned up even when few are available"
    );
}

#[test]
fn scale_down_old_never_counts_more_available_than_the_size() {
    // The old replica set was scaled 4 → 3 but its status still says 4 available: the next
    // step may take one more, not two (3 + 1 available must stay ≥ 3).
    let d = deployment(4, Some(int(1)), Some(int(1)));
    let old = with_available(rs("old", 3, 0), 4);
    let new = with_available(rs("new", 2, 1), 1);
    assert_eq!(
        reconcile_old_rss(&d, &[&old], &new),
        [Scale {
            name: "old".into(),
            to: 2
        }]
    );
}

#[test]
fn replica_set_fraction_like_upstream() {
    // (deployment replicas, status replicas, maxSurge, rs replicas, max-replicas) → fraction
    type Case<'a> = (&'a str, i32, i32, i32, i32, Option<&'a str>, i32);
    let cases: &[Case] = &[
        (
            "empty deployment always scales to 0",
            0,
            0,
            0,
            10,
            None,
            -10,
        ),
        ("no annotation, unsynced deployment", 10, 0, 0, 5, None, 0),
        (
            "annotation 0, unsynced deployment",
            10,
            0,
            0,
            5,
            Some("0"),
            0,
        ),
        ("no annotation: status replicas", 120, 100, 0, 50, None, 10),
        (
            "annotation 0: status replicas",
            120,
            100,
            0,
            50,
            Some("0"),
            10,
        ),
        ("scale up by 1/5", 120, 0, 0, 50, Some("100"), 10),
        ("scale up with maxSurge", 120, 0, 10, 50, Some("110"), 9),
        ("scale down by 1/6", 10, 0, 0, 6, Some("12"), -1),
        ("scale down with maxSurge", 100, 0, 10, 50, Some("130"), -8),
    ];
    for (name, replicas, status_replicas, surge, rs_size, max, want) in cases {
        let mut d = deployment(*replicas, Some(int(*surge)), Some(int(1)));
        d.status = Some(DeploymentStatus {
            replicas: Some(*status_replicas),
            ..Default::default()
        });
        let mut r = rs("rs", *rs_size, 0);
        if let Some(max) = max {
            r = annotated(r, &[(MAX_REPLICAS, max)]);
        }
        assert_eq!(replica_set_fraction(&r, &d), *want, "{name}");
    }
}

/// Upstream's TestScale: the deployment was `from` replicas (its replica sets annotated so),
/// it is now `d`.
fn scale_case(
    d: &Deployment,
    from: &Deployment,
    new: Option<(&str, i32, u32)>,
    old: &[(&str, i32, u32)],
) -> BTreeMap<String, i32> {
    let annotate = |r: ReplicaSet| {
        let desired = replicas(from);
        annotated(
            r,
            &[
                (DESIRED_REPLICAS, &desired.to_string()),
                (MAX_REPLICAS, &(desired + max_surge(from)).to_string()),
            ],
        )
    };
    let new = new.map(|(n, size, minute)| annotate(rs(n, size, minute)));
    let old: Vec<ReplicaSet> = old
        .iter()
        .map(|(n, size, minute)| annotate(rs(n, *size, *minute)))
        .collect();
    let old_refs: Vec<&ReplicaSet> = old.iter().collect();
    let mut sizes: BTreeMap<String, i32> = new
        .iter()
        .chain(old.iter())
        .map(|r| (name(r).to_string(), rs_replicas(r)))
        .collect();
    for s in proportional_scale(d, new.as_ref(), &old_refs) {
        sizes.insert(s.name, s.to);
    }
    sizes
}

fn sizes(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
    pairs.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[test]
fn proportional_scaling_like_upstream() {
    let d = |n| deployment(n, None, None);
    type Rs<'a> = (&'a str, i32, u32);
    type Case<'a> = (
        &'a str,
        Deployment,
        Deployment,
        Option<Rs<'a>>,
        Vec<Rs<'a>>,
        Vec<(&'a str, i32)>,
    );
    let cases: Vec<Case> = vec![
        (
            "normal scaling event: 10 -> 12",
            d(12),
            d(10),
            Some(("foo-v1", 10, 2)),
            vec![],
            vec![("foo-v1", 12)],
        ),
        (
            "normal scaling event: 10 -> 5",
            d(5),
            d(10),
            Some(("foo-v1", 10, 2)),
            vec![],
            vec![("foo-v1", 5)],
        ),
        (
            "proportional scaling: 5 -> 10",
            d(10),
            d(5),
            Some(("foo-v2", 2, 2)),
            vec![("foo-v1", 3, 1)],
            vec![("foo-v2", 4), ("foo-v1", 6)],
        ),
        (
            "proportional scaling: 5 -> 3",
            d(3),
            d(5),
            Some(("foo-v2", 2, 2)),
            vec![("foo-v1", 3, 1)],
            vec![("foo-v2", 1), ("foo-v1", 2)],
        ),
        (
            "proportional scaling: 9 -> 4",
            d(4),
            d(9),
            Some(("foo-v2", 8, 2)),
            vec![("foo-v1", 1, 1)],
            vec![("foo-v2", 4), ("foo-v1", 0)],
        ),
        (
            "proportional scaling: 7 -> 10",
            d(10),
            d(7),
            Some(("foo-v3", 2, 2)),
            vec![("foo-v2", 3, 1), ("foo-v1", 2, 0)],
            vec![("foo-v3", 3), ("foo-v2", 4), ("foo-v1", 3)],
        ),
        (
            "proportional scaling: 13 -> 8",
            d(8),
            d(13),
            Some(("foo-v3", 2, 2)),
            vec![("foo-v2", 8, 1), ("foo-v1", 3, 0)],
            vec![("foo-v3", 1), ("foo-v2", 5), ("foo-v1", 2)],
        ),
        (
            "leftover distribution: 3 -> 4",
            d(4),
            d(3),
            Some(("foo-v3", 1, 2)),
            vec![("foo-v2", 1, 1), ("foo-v1", 1, 0)],
            vec![("foo-v3", 2), ("foo-v2", 1), ("foo-v1", 1)],
        ),
        (
            "leftover distribution: 3 -> 2",
            d(2),
            d(3),
            Some(("foo-v3", 1, 2)),
            vec![("foo-v2", 1, 1), ("foo-v1", 1, 0)],
            vec![("foo-v3", 1), ("foo-v2", 1), ("foo-v1", 0)],
        ),
        (
            "proportional scaling (no new rs): 4 -> 5",
            d(5),
            d(4),
            None,
            vec![("foo-v2", 2, 1), ("foo-v1", 2, 0)],
            vec![("foo-v2", 3), ("foo-v1", 2)],
        ),
        (
            "proportional scaling: 6 -> 0",
            d(0),
            d(6),
            Some(("foo-v3", 3, 2)),
            vec![("foo-v2", 2, 1), ("foo-v1", 1, 0)],
            vec![("foo-v3", 0), ("foo-v2", 0), ("foo-v1", 0)],
        ),
        (
            "proportional scaling: 0 -> 6",
            d(6),
            d(6),
            Some(("foo-v3", 0, 2)),
            vec![("foo-v2", 0, 1), ("foo-v1", 0, 0)],
            vec![("foo-v3", 6), ("foo-v2", 0), ("foo-v1", 0)],
        ),
        (
            "deployment with surge pods",
            deployment(20, Some(int(2)), None),
            deployment(10, Some(int(2)), None),
            Some(("foo-v2", 6, 2)),
            vec![("foo-v1", 6, 1)],
            vec![("foo-v2", 11), ("foo-v1", 11)],
        ),
        (
            "change both surge and size",
            deployment(50, Some(int(6)), None),
            deployment(10, Some(int(3)), None),
            Some(("foo-v2", 5, 2)),
            vec![("foo-v1", 8, 1)],
            vec![("foo-v2", 22), ("foo-v1", 34)],
        ),
    ];
    for (name, now, before, new, old, want) in cases {
        assert_eq!(scale_case(&now, &before, new, &old), sizes(&want), "{name}");
    }
}

#[test]
fn a_saturated_but_broken_new_replica_set_leaves_old_pods_alone() {
    let d = deployment(2, Some(int(1)), Some(int(1)));
    let new = annotated(
        rs("foo-v2", 2, 2),
        &[(DESIRED_REPLICAS, "2"), (MAX_REPLICAS, "3")],
    );
    let old = annotated(
        rs("foo-v1", 1, 1),
        &[(DESIRED_REPLICAS, "2"), (MAX_REPLICAS, "3")],
    );
    assert!(proportional_scale(&d, Some(&new), &[&old]).is_empty());
}

#[test]
fn deployment_complete_like_upstream() {
    let make = |desired, current, updated, available, unavailable, surge| {
        let mut d = deployment(desired, Some(int(surge)), Some(int(unavailable)));
        d.status = Some(DeploymentStatus {
            replicas: Some(current),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            observed_generation: Some(1),
            ..Default::default()
        });
        d
    };
    let cases = [
        (
            "min but not all pods become available",
            make(5, 5, 5, 4, 1, 0),
            false,
        ),
        (
            "min availability is not honored",
            make(5, 5, 5, 3, 1, 0),
            false,
        ),
        ("complete", make(5, 5, 5, 5, 0, 0), true),
        (
            "all pods are available but not updated",
            make(5, 5, 4, 5, 0, 0),
            false,
        ),
        ("still running old pods", make(1, 2, 1, 1, 0, 1), false),
        (
            "one replica deployment never comes up",
            make(1, 1, 1, 0, 1, 1),
            false,
        ),
    ];
    for (name, d, want) in cases {
        assert_eq!(
            deployment_complete(&d, d.status.as_ref().unwrap()),
            want,
            "{name}"
        );
    }
}

#[test]
fn deployment_progressing_like_upstream() {
    let status = |current, updated, ready, available| DeploymentStatus {
        replicas: Some(current),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        ..Default::default()
    };
    let cases = [
        (
            "updated pods",
            status(10, 4, 4, 4),
            status(10, 6, 4, 4),
            true,
        ),
        (
            "not progressing",
            status(10, 4, 4, 4),
            status(10, 4, 4, 4),
            false,
        ),
        (
            "old pods removed",
            status(10, 4, 6, 6),
            status(8, 4, 6, 6),
            true,
        ),
        (
            "less new pods",
            status(10, 7, 3, 3),
            status(10, 6, 3, 3),
            false,
        ),
        (
            "less overall but more new pods",
            status(10, 4, 7, 7),
            status(8, 8, 5, 5),
            true,
        ),
        (
            "more ready pods",
            status(10, 10, 9, 8),
            status(10, 10, 10, 8),
            true,
        ),
        (
            "more available pods",
            status(10, 10, 10, 9),
            status(10, 10, 10, 10),
            true,
        ),
    ];
    for (name, before, after, want) in cases {
        let mut d = deployment(10, None, None);
        d.status = Some(before);
        assert_eq!(deployment_progressing(&d, &after), want, "{name}");
    }
}

#[test]
fn deployment_timed_out_like_upstream() {
    let at =
        |m: u32, s: u32| -> Timestamp { format!("2016-01-01T00:{m:02}:{s:02}Z").parse().unwrap() };
    let case = |reason: &str, deadline: Option<i32>, from: Timestamp| {
        let mut d = deployment(1, None, None);
        d.spec.as_mut().unwrap().progress_deadline_seconds = deadline;
        let mut c = new_condition(PROGRESSING, "True", reason, String::new(), from);
        c.reason = Some(reason.into());
        d.status = Some(DeploymentStatus {
            conditions: Some(vec![c]),
            ..Default::default()
        });
        d
    };
    let now = at(1, 20);
    let cases = [
        ("no deadline", case("", None, at(1, 9)), false),
        (
            "infinite deadline",
            case("", Some(i32::MAX), at(1, 9)),
            false,
        ),
        ("10s, 11s passed", case("", Some(10), at(1, 9)), true),
        ("10s, 9s passed", case("", Some(10), at(1, 11)), false),
        (
            "previous status was a complete deployment",
            case(NEW_RS_AVAILABLE, Some(10), at(0, 0)),
            false,
        ),
    ];
    for (name, d, want) in cases {
        assert_eq!(
            deployment_timed_out(&d, d.status.as_ref().unwrap(), now),
            want,
            "{name}"
        );
    }
}

#[test]
fn conditions_set_and_remove_like_upstream() {
    let now = now_seconds();
    let progressing = new_condition(PROGRESSING, "False", "ForSomeReason", String::new(), now);
    let progressing2 = new_condition(PROGRESSING, "True", "BecauseItIs", String::new(), now);
    let available = new_condition(AVAILABLE, "True", "AwesomeController", String::new(), now);
    let mut s = DeploymentStatus::default();
    set_condition(&mut s, available.clone());
    assert_eq!(s.conditions.as_deref(), Some(&[available.clone()][..]));
    let mut s = DeploymentStatus {
        conditions: Some(vec![progressing.clone()]),
        ..Default::default()
    };
    set_condition(&mut s, available.clone());
    assert_eq!(
        s.conditions.as_deref(),
        Some(&[progressing.clone(), available.clone()][..])
    );
    let mut s = DeploymentStatus {
        conditions: Some(vec![progressing.clone()]),
        ..Default::default()
    };
    set_condition(&mut s, progressing2.clone());
    assert_eq!(s.conditions.as_deref(), Some(&[progressing2][..]));
    remove_condition(&mut s, PROGRESSING);
    assert_eq!(s.conditions, None);
    // Same status, another reason: the transition time stays.
    let later = now + SignedDuration::from_secs(60);
    let mut s = DeploymentStatus {
        conditions: Some(vec![progressing.clone()]),
        ..Default::default()
    };
    set_condition(
        &mut s,
        new_condition(PROGRESSING, "False", "Other", String::new(), later),
    );
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(c.last_transition_time, Some(Time(now)));
    assert_eq!(c.last_update_time, Some(Time(later)));
}

fn template_with(
    labels: serde_json::Value,
    annotations: serde_json::Value,
    node: &str,
) -> PodTemplateSpec {
    serde_json::from_value(
        json!({"metadata": {"name": "foo", "labels": labels, "annotations": annotations},
                                  "spec": {"nodeName": node, "containers": []}}),
    )
    .unwrap()
}

#[test]
fn equal_ignore_hash_like_upstream() {
    let h = POD_TEMPLATE_HASH;
    let cases = [
        (
            "same spec, same labels",
            template_with(json!({h: "value-1", "something": "else"}), json!({}), "n"),
            template_with(json!({h: "value-1", "something": "else"}), json!({}), "n"),
            true,
        ),
        (
            "only the hash differs",
            template_with(json!({h: "value-1", "something": "else"}), json!({}), "n"),
            template_with(json!({h: "value-2", "something": "else"}), json!({}), "n"),
            true,
        ),
        (
            "one has no hash",
            template_with(json!({"something": "else"}), json!({}), "n"),
            template_with(json!({h: "value-2", "something": "else"}), json!({}), "n"),
            true,
        ),
        (
            "different labels, same count",
            template_with(json!({"something": "else"}), json!({}), "n"),
            template_with(json!({h: "value-2"}), json!({}), "n"),
            false,
        ),
        (
            "same hash, other labels",
            template_with(json!({h: "value-1"}), json!({}), "n"),
            template_with(json!({h: "value-1", "something": "else"}), json!({}), "n"),
            false,
        ),
        (
            "different spec",
            template_with(json!({h: "value-1"}), json!({"former": "value"}), "n"),
            template_with(json!({h: "value-1"}), json!({"latter": "value"}), "n"),
            false,
        ),
        (
            "different node",
            template_with(json!({"something": "else"}), json!({}), "n1"),
            template_with(json!({h: "value-2", "something": "else"}), json!({}), "n2"),
            false,
        ),
    ];
    for (name, a, b, want) in cases {
        assert_eq!(equal_ignore_hash(&a, &b), want, "{name}");
        assert_eq!(equal_ignore_hash(&b, &a), want, "{name} (reversed)");
    }
}

fn rs_with_template(name: &str, image: &str, minute: u32) -> ReplicaSet {
    let mut r = rs(name, 1, minute);
    let mut t = template(&deployment(1, None, None));
    t.spec.as_mut().unwrap().containers[0].image = Some(image.into());
    t.metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(POD_TEMPLATE_HASH.into(), name.into());
    r.spec.as_mut().unwrap().template = Some(t);
    r
}

#[test]
fn find_new_and_old_like_upstream() {
    let d = deployment(1, None, None);
    let new = rs_with_template("new", "nginx", 2);
    let new_dup = rs_with_template("new-dup", "nginx", 1);
    let old = rs_with_template("old", "nginx-old", 0);
    assert_eq!(find_new(&d, &[&new, &old]).map(name), Some("new"));
    // The oldest of the matching ones.
    assert_eq!(
        find_new(&d, &[&new, &old, &new_dup]).map(name),
        Some("new-dup")
    );
    assert_eq!(find_new(&d, &[&old]).map(name), None);
    let (required, all) = find_old(&d, &[&old, &new, &new_dup]);
    fn names(v: Vec<&ReplicaSet>) -> Vec<String> {
        v.into_iter().map(|r| name(r).to_string()).collect()
    }
    assert_eq!(names(all), ["old", "new"]);
    assert_eq!(names(required), ["old", "new"]);
    let (_, all) = find_old(&d, &[&new]);
    assert!(all.is_empty());
}

#[test]
fn revision_annotations_like_upstream() {
    let mut d = deployment(1, None, None);
    d.metadata.annotations = Some(
        [
            (REVISION.to_string(), "1".to_string()),
            ("note".to_string(), "x".to_string()),
        ]
        .into(),
    );
    let mut r = rs("rs", 1, 0);
    // Revisions 11 to 20 with a 5-character history limit: the history keeps the last two.
    for i in 10..20 {
        let next = (i + 1).to_string();
        set_new_rs_annotations(&d, &mut r, &next, true, 5);
        if i >= 12 {
            assert_eq!(
                annotation(&r.metadata, REVISION_HISTORY),
                Some(format!("{},{}", i - 1, i).as_str()),
                "{i}"
            );
        }
        assert_eq!(annotation(&r.metadata, REVISION), Some(next.as_str()));
    }
    // The Deployment's own annotations are copied, its revision is not.
    assert_eq!(annotation(&r.metadata, "note"), Some("x"));
    assert!(set_replicas_annotations(&mut r, 10, 11));
    assert!(!set_replicas_annotations(&mut r, 10, 11));
    assert_eq!(desired_replicas_annotation(&r), Some(10));
    assert_eq!(max_replicas_annotation(&r), Some(11));
    // IsSaturated
    let d1 = deployment(1, None, None);
    let sat = with_available(annotated(rs("s", 1, 0), &[(DESIRED_REPLICAS, "1")]), 1);
    assert!(is_saturated(&d1, Some(&sat)));
    assert!(!is_saturated(&d1, None));
}

#[test]
fn replicas_annotations_need_update_like_upstream() {
    let cases = [
        ("annotations nil", rs("hello", 1, 0), true),
        (
            "desired update",
            annotated(
                rs("hello", 1, 0),
                &[(DESIRED_REPLICAS, "8"), (MAX_REPLICAS, "20")],
            ),
            true,
        ),
        (
            "max update",
            annotated(
                rs("hello", 1, 0),
                &[(DESIRED_REPLICAS, "10"), (MAX_REPLICAS, "16")],
            ),
            true,
        ),
        (
            "needn't update",
            annotated(
                rs("hello", 1, 0),
                &[(DESIRED_REPLICAS, "10"), (MAX_REPLICAS, "20")],
            ),
            false,
        ),
    ];
    for (name, r, want) in cases {
        assert_eq!(replicas_annotations_need_update(&r, 10, 20), want, "{name}");
    }
    // Out of range or negative values are no annotation at all.
    assert_eq!(
        desired_replicas_annotation(&annotated(rs("x", 1, 0), &[(DESIRED_REPLICAS, "-1")])),
        None
    );
    assert_eq!(
        desired_replicas_annotation(&annotated(
            rs("x", 1, 0),
            &[(DESIRED_REPLICAS, "2147483648")]
        )),
        None
    );
    assert_eq!(
        desired_replicas_annotation(&annotated(
            rs("x", 1, 0),
            &[(DESIRED_REPLICAS, "2147483647")]
        )),
        Some(i32::MAX)
    );
}

#[test]
fn history_cleanup_like_upstream() {
    let empty = |n: &str, minute, spec, status| {
        let mut r = rs(n, spec, minute);
        r.status = Some(serde_json::from_value(json!({"replicas": status})).unwrap());
        r
    };
    let limit = |n: i32| {
        let mut d = deployment(1, None, None);
        d.spec.as_mut().unwrap().revision_history_limit = Some(n);
        d
    };
    let count = |d: &Deployment, rss: &[ReplicaSet]| {
        history_to_clean(d, &rss.iter().collect::<Vec<_>>()).len()
    };
    assert_eq!(
        count(
            &limit(1),
            &[
                empty("1", 0, 0, 0),
                empty("2", 1, 0, 0),
                empty("3", 2, 0, 0)
            ]
        ),
        2
    );
    assert_eq!(
        count(
            &limit(0),
            &[
                empty("1", 0, 0, 0),
                empty("2", 1, 0, 1),
                empty("3", 2, 1, 0),
                empty("4", 3, 1, 1)
            ]
        ),
        1
    );
    assert_eq!(
        count(&limit(0), &[empty("1", 0, 0, 0), empty("2", 1, 0, 0)]),
        2
    );
    assert_eq!(
        count(&limit(0), &[empty("1", 0, 1, 1), empty("2", 1, 1, 1)]),
        0
    );
    let mut gone = empty("1", 0, 0, 0);
    gone.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    assert_eq!(count(&limit(0), &[gone]), 0);
    assert_eq!(
        count(
            &limit(i32::MAX),
            &[empty("1", 0, 0, 0), empty("2", 1, 0, 0)]
        ),
        0
    );
}

#[test]
fn hashes_look_like_upstreams_and_change_with_collisions() {
    let t = template(&deployment(1, None, None));
    let h = compute_hash(&t, None);
    assert!(!h.is_empty() && h.len() <= 10, "{h}");
    assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{h}");
    assert_eq!(h, compute_hash(&t, None));
    assert_ne!(h, compute_hash(&t, Some(1)));
    assert_ne!(compute_hash(&t, Some(1)), compute_hash(&t, Some(2)));
    // The digits of a 32-bit number, each to a letter or digit of the safe alphabet.
    assert_eq!(safe_encode("0123456789"), "456789bcdf");
}

#[test]
fn rollout_status_reports_progress_then_completion_then_timeout() {
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut d = deployment(3, Some(int(1)), Some(int(0)));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(600);
    let new = with_available(rs("web-abc", 3, 1), 1);
    // Status replicas 3, available 1: progressing.
    let s = rollout_status(&[&new], Some(&new), &d, now);
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(c.reason.as_deref(), Some(RS_UPDATED));
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"web-abc\" is progressing.")
    );
    assert_eq!(
        condition(&s, AVAILABLE).unwrap().reason.as_deref(),
        Some(MINIMUM_REPLICAS_UNAVAILABLE)
    );
    // Recorded; nothing moves for more than the deadline: timed out.
    d.status = Some(s);
    let late = now + SignedDuration::from_secs(601);
    let s = rollout_status(&[&new], Some(&new), &d, late);
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some(TIMED_OUT))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"web-abc\" has timed out progressing.")
    );
    // All available: complete.
    let done = with_available(rs("web-abc", 3, 1), 3);
    let s = rollout_status(&[&done], Some(&done), &d, late);
    let c = condition(&s, PROGRESSING).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("True", Some(NEW_RS_AVAILABLE))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("ReplicaSet \"web-abc\" has successfully progressed.")
    );
    assert_eq!(
        condition(&s, AVAILABLE).unwrap().message.as_deref(),
        Some("Deployment has minimum availability.")
    );
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.available_replicas,
            s.unavailable_replicas
        ),
        (Some(3), Some(3), Some(3), None)
    );
}
