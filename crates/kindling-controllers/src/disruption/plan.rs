//! What a PodDisruptionBudget's status should be (upstream's disruption controller arithmetic),
//! without IO: the pods it selects and the scale of their controllers (looked up by the caller)
//! in, the status out.

use crate::owners;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kindling_api::disruption::{self, DELETION_TIMEOUT_SECONDS};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The scale of a pod's controller: the workload that decides how many such pods there should
/// be (a ReplicaSet's Deployment, else the controller itself) and its `spec.replicas`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scale {
    pub uid: String,
    pub replicas: i32,
}

/// How many pods the budget expects and needs healthy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub expected: i32,
    pub desired_healthy: i32,
    /// Selected pods without a controller (their budget cannot be a percentage of anything).
    pub unmanaged: Vec<String>,
}

fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

/// Upstream's getExpectedPodCount: an integer minAvailable counts the selected pods; a
/// percentage or maxUnavailable needs the sum of the controllers' scales. `scales` maps a
/// controller reference's uid to what the caller found for it (`None`: nothing).
pub fn counts(
    spec: &PodDisruptionBudgetSpec,
    pods: &[&Pod],
    scales: &BTreeMap<String, Option<Scale>>,
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    if let Some(max) = &spec.max_unavailable {
        counts.expected = expected_scale(pods, scales, &mut counts.unmanaged)?;
        let max = crate::deployment::util::scaled_value(Some(max), counts.expected, true)?;
        counts.desired_healthy = (counts.expected - max).max(0);
    } else if let Some(min) = &spec.min_available {
        match min {
            IntOrString::Int(n) => {
                counts.desired_healthy = *n;
                counts.expected = pods.len() as i32;
            }
            IntOrString::String(_) => {
                counts.expected = expected_scale(pods, scales, &mut counts.unmanaged)?;
                counts.desired_healthy =
                    crate::deployment::util::scaled_value(Some(min), counts.expected, true)?;
            }
        }
    }
    Ok(counts)
}

/// Upstream's getExpectedScale: the sum of the scales of the pods' controllers, each counted
/// once.
fn expected_scale(
    pods: &[&Pod],
    scales: &BTreeMap<String, Option<Scale>>,
    unmanaged: &mut Vec<String>,
) -> Result<i32, String> {
    let mut by_controller: BTreeMap<&str, i32> = BTreeMap::new();
    for pod in pods {
        let Some(r) = owners::controller_of(&pod.metadata) else {
            unmanaged.push(name(pod).to_string());
            continue;
        };
        match scales.get(&r.uid) {
            Some(Some(scale)) => {
                by_controller.insert(&scale.uid, scale.replicas);
            }
            _ => return Err(format!("found no controllers for pod {:?}", name(pod))),
        }
    }
    Ok(by_controller.values().sum())
}

/// `status.disruptedPods` after this sync (upstream's buildDisruptedPodMap): entries of pods
/// still selected, not yet being deleted and within the deletion timeout stay; also when to
/// look again (the earliest timeout) and the pods whose eviction was approved but that were
/// not deleted in time (a `NotDeleted` warning each).
pub struct Disrupted {
    pub pods: BTreeMap<String, String>,
    pub recheck: Option<Timestamp>,
    pub not_deleted: Vec<String>,
}

pub fn disrupted_pods(
    pods: &[&Pod],
    current: &BTreeMap<String, String>,
    now: Timestamp,
) -> Disrupted {
    let mut out = Disrupted {
        pods: BTreeMap::new(),
        recheck: None,
        not_deleted: Vec::new(),
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(since) = current.get(name(pod)) else {
            continue;
        };
        let Ok(at) = since.parse::<Timestamp>() else {
            continue;
        };
        let expected_deletion = at + SignedDuration::from_secs(DELETION_TIMEOUT_SECONDS);
        if expected_deletion < now {
            out.not_deleted.push(name(pod).to_string());
        } else {
            if out.recheck.is_none_or(|r| expected_deletion < r) {
                out.recheck = Some(expected_deletion);
            }
            out.pods.insert(name(pod).to_string(), since.clone());
        }
    }
    out
}

/// Upstream's countHealthyPods: ready pods not being deleted and not about to be (an approved
/// eviction within its timeout).
pub fn current_healthy(pods: &[&Pod], disrupted: &BTreeMap<String, String>, now: Timestamp) -> i32 {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            !disrupted.get(name(p)).is_some_and(|since| {
                since
                    .parse::<Timestamp>()
                    .is_ok_and(|at| at + SignedDuration::from_secs(DELETION_TIMEOUT_SECONDS) > now)
            })
        })
        .filter(|p| crate::pods::is_ready(p))
        .count() as i32
}

/// The status to write, or `None` when the stored one is already it (upstream's
/// updatePdbStatus). `pdb` is the budget in wire form.
pub fn status(
    pdb: &Value,
    current_healthy: i32,
    counts: &Counts,
    disrupted: &BTreeMap<String, String>,
    now: &str,
) -> Option<Value> {
    // A budget that expects no pod allows nothing: its first pods may appear before the next
    // sync.
    let allowed = if counts.expected <= 0 {
        0
    } else {
        (current_healthy - counts.desired_healthy).max(0)
    };
    let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(0);
    let old = &pdb["status"];
    let int = |k: &str| old[k].as_i64().unwrap_or(0);
    let old_disrupted: BTreeMap<String, String> = old["disruptedPods"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    if int("currentHealthy") == i64::from(current_healthy)
        && int("desiredHealthy") == i64::from(counts.desired_healthy)
        && int("expectedPods") == i64::from(counts.expected)
        && int("disruptionsAllowed") == i64::from(allowed)
        && &old_disrupted == disrupted
        && int("observedGeneration") == generation
        && disruption::conditions_are_up_to_date(pdb)
    {
        return None;
    }
    let mut status = json!({
        "currentHealthy": current_healthy,
        "desiredHealthy": counts.desired_healthy,
        "expectedPods": counts.expected,
        "disruptionsAllowed": allowed,
        "observedGeneration": generation,
        "conditions": old["conditions"].as_array().cloned().unwrap_or_default(),
    });
    if !disrupted.is_empty() {
        status["disruptedPods"] = json!(disrupted);
    }
    disruption::update_disruption_allowed_condition(&mut status, now);
    Some(status)
}

/// Upstream's failSafe: when the status cannot be computed no disruption is allowed, and the
/// condition says why (SyncFailed with the error).
pub fn fail_safe(pdb: &Value, error: &str, now: &str) -> Value {
    let mut status = pdb["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    status["disruptionsAllowed"] = json!(0);
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    disruption::set_condition(
        &mut conditions,
        json!({"type": disruption::DISRUPTION_ALLOWED, "status": "False",
               "reason": disruption::SYNC_FAILED, "message": error,
               "observedGeneration": status["observedGeneration"].as_i64().unwrap_or(0)}),
        now,
    );
    status["conditions"] = Value::Array(conditions);
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, owner: Option<&str>, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default",
                "ownerReferences": owner.map(|uid| vec![json!({"apiVersion": "apps/v1",
                    "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true})])},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        }))
        .unwrap()
    }

    fn spec(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudgetSpec {
        PodDisruptionBudgetSpec {
            min_available: min,
            max_unavailable: max,
            ..Default::default()
        }
    }

    fn scales(entries: &[(&str, &str, i32)]) -> BTreeMap<String, Option<Scale>> {
        entries
            .iter()
            .map(|(r, uid, n)| {
                let scale = Scale {
                    uid: uid.to_string(),
                    replicas: *n,
                };
                (r.to_string(), Some(scale))
            })
            .collect()
    }

    #[test]
    fn expected_and_desired_like_upstream() {
        let (a, b, c) = (
            pod("a", Some("rs1"), true),
            pod("b", Some("rs1"), true),
            pod("c", Some("rs2"), false),
        );
        let pods = [&a, &b, &c];
        // Two replica sets of one Deployment of 4 count once.
        let deploy = scales(&[("rs1", "d", 4), ("rs2", "d", 4)]);
        struct Case {
            min: Option<IntOrString>,
            max: Option<IntOrString>,
            expected: i32,
            desired: i32,
        }
        let cases = [
            // An integer minAvailable counts the selected pods and needs no scale.
            Case {
                min: Some(IntOrString::Int(2)),
                max: None,
                expected: 3,
                desired: 2,
            },
            // Percentages of the controllers' scale, rounded up.
            Case {
                min: Some(IntOrString::String("50%".into())),
                max: None,
                expected: 4,
                desired: 2,
            },
            Case {
                min: Some(IntOrString::String("30%".into())),
                max: None,
                expected: 4,
                desired: 2,
            },
            Case {
                min: None,
                max: Some(IntOrString::Int(1)),
                expected: 4,
                desired: 3,
            },
            Case {
                min: None,
                max: Some(IntOrString::String("30%".into())),
                expected: 4,
                desired: 2,
            },
            Case {
                min: None,
                max: Some(IntOrString::Int(9)),
                expected: 4,
                desired: 0,
            },
            // Neither: nothing expected.
            Case {
                min: None,
                max: None,
                expected: 0,
                desired: 0,
            },
        ];
        for case in cases {
            let got = counts(&spec(case.min.clone(), case.max.clone()), &pods, &deploy).unwrap();
            assert_eq!(
                (got.expected, got.desired_healthy),
                (case.expected, case.desired),
                "min {:?} max {:?}",
                case.min,
                case.max
            );
        }
        // Separate controllers add up.
        let two = scales(&[("rs1", "rs1", 2), ("rs2", "rs2", 3)]);
        let got = counts(&spec(None, Some(IntOrString::Int(1))), &pods, &two).unwrap();
        assert_eq!((got.expected, got.desired_healthy), (5, 4));
    }

    #[test]
    fn pods_without_a_found_controller() {
        let orphan = pod("o", None, true);
        let owned = pod("a", Some("gone"), true);
        let got = counts(
            &spec(None, Some(IntOrString::Int(1))),
            &[&orphan],
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(got.unmanaged, ["o"]);
        assert_eq!(got.expected, 0);
        let err = counts(
            &spec(Some(IntOrString::String("50%".into())), None),
            &[&owned],
            &BTreeMap::from([("gone".to_string(), None)]),
        )
        .unwrap_err();
        assert_eq!(err, "found no controllers for pod \"a\"");
    }

    #[test]
    fn disrupted_pods_expire_and_do_not_count() {
        let now: Timestamp = "2024-01-01T00:10:00Z".parse().unwrap();
        let (a, b, c) = (
            pod("a", None, true),
            pod("b", None, true),
            pod("c", None, true),
        );
        let mut gone = pod("d", None, true);
        gone.metadata.deletion_timestamp = Some(Time(now));
        let current = BTreeMap::from([
            ("a".to_string(), "2024-01-01T00:09:00Z".to_string()),
            ("b".to_string(), "2024-01-01T00:00:00Z".to_string()),
            ("d".to_string(), "2024-01-01T00:09:30Z".to_string()),
            ("zz".to_string(), "2024-01-01T00:09:30Z".to_string()),
        ]);
        let pods = [&a, &b, &c, &gone];
        let d = disrupted_pods(&pods, &current, now);
        assert_eq!(d.pods.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(d.not_deleted, ["b"]);
        assert_eq!(d.recheck, Some("2024-01-01T00:11:00Z".parse().unwrap()));
        // a is about to go, d is going: b and c are healthy.
        assert_eq!(current_healthy(&pods, &d.pods, now), 2);
    }

    #[test]
    fn status_and_its_condition() {
        let pdb = json!({"metadata": {"generation": 2}, "status": {}});
        let counts = Counts {
            expected: 3,
            desired_healthy: 2,
            unmanaged: vec![],
        };
        let s = status(&pdb, 3, &counts, &BTreeMap::new(), "t").unwrap();
        assert_eq!(s["disruptionsAllowed"], 1);
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(s["conditions"][0]["reason"], "SufficientPods");
        // Written once, then nothing to do.
        let written = json!({"metadata": {"generation": 2}, "status": s});
        assert_eq!(status(&written, 3, &counts, &BTreeMap::new(), "t"), None);
        // Fewer healthy than desired: none allowed, never negative.
        let s = status(&written, 1, &counts, &BTreeMap::new(), "t2").unwrap();
        assert_eq!(s["disruptionsAllowed"], 0);
        assert_eq!(s["conditions"][0]["status"], "False");
        assert_eq!(s["conditions"][0]["reason"], "InsufficientPods");
        // Nothing expected: nothing allowed, whatever is healthy.
        let none = Counts {
            expected: 0,
            desired_healthy: 0,
            unmanaged: vec![],
        };
        assert_eq!(
            status(&pdb, 2, &none, &BTreeMap::new(), "t").unwrap()["disruptionsAllowed"],
            0
        );
    }

    #[test]
    fn fail_safe_forbids_disruptions() {
        let pdb = json!({"status": {"disruptionsAllowed": 3, "observedGeneration": 1}});
        let s = fail_safe(&pdb, "found no controllers for pod \"a\"", "t");
        assert_eq!(s["disruptionsAllowed"], 0);
        assert_eq!(s["conditions"][0]["reason"], "SyncFailed");
        assert_eq!(
            s["conditions"][0]["message"],
            "found no controllers for pod \"a\""
        );
    }
}
