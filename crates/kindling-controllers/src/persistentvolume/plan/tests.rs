use super::*;
use serde_json::{json, Value};

fn merged(mut base: Value, extra: Value) -> Value {
    if let Value::Object(m) = extra {
        kindling_api::patch::merge::merge_object(&mut base, m);
    }
    base
}

fn pvc(extra: Value) -> PersistentVolumeClaim {
    serde_json::from_value(merged(
        json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}}),
        extra,
    ))
    .unwrap()
}

fn pv(name: &str, extra: Value) -> PersistentVolume {
    serde_json::from_value(merged(
        json!({"metadata": {"name": name},
            "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": "/x"}, "volumeMode": "Filesystem",
                     "persistentVolumeReclaimPolicy": "Retain"},
            "status": {"phase": "Available"}}),
        extra,
    ))
    .unwrap()
}

fn sc(name: &str, mode: &str, extra: Value) -> StorageClass {
    serde_json::from_value(merged(
        json!({"metadata": {"name": name}, "provisioner": "rancher.io/local-path",
               "volumeBindingMode": mode, "reclaimPolicy": "Delete"}),
        extra,
    ))
    .unwrap()
}

fn reasons(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .map(|a| match a {
            Action::Event { reason, .. } => *reason,
            Action::BindVolume { .. } => "bind-volume",
            Action::VolumePhase { phase, .. } => phase,
            Action::BindClaim { .. } => "bind-claim",
            Action::ClaimPhase { phase, .. } => phase,
            Action::AnnotateProvisioner { .. } => "annotate",
            Action::Expand { .. } => "expand",
        })
        .collect()
}

fn message(actions: &[Action]) -> String {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Event { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn unbound_claims_bind_wait_or_ask_a_provisioner() {
    let standard = sc("standard", "WaitForFirstConsumer", json!({}));
    let immediate = sc("fast", "Immediate", json!({}));
    let classes = [standard, immediate];
    let manual = pv("manual-pv", json!({"spec": {"storageClassName": "manual"}}));
    let cases: Vec<(&str, PersistentVolumeClaim, Vec<&str>)> = vec![
        (
            "static match binds volume, its phase, the claim, the claim's phase",
            pvc(json!({"spec": {"storageClassName": "manual"}})),
            vec!["bind-volume", "Bound", "bind-claim", "Bound"],
        ),
        (
            "WaitForFirstConsumer without a node waits",
            pvc(json!({"spec": {"storageClassName": "standard"}})),
            vec!["WaitForFirstConsumer"],
        ),
        (
            "a selected node asks the provisioner",
            pvc(
                json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n1"}},
                       "spec": {"storageClassName": "standard"}}),
            ),
            vec!["annotate", "ExternalProvisioning"],
        ),
        (
            "an Immediate class asks at once",
            pvc(json!({"spec": {"storageClassName": "fast"}})),
            vec!["annotate", "ExternalProvisioning"],
        ),
        (
            "already asked: nothing new",
            pvc(
                json!({"metadata": {"annotations": {"volume.kubernetes.io/storage-provisioner": "rancher.io/local-path"}},
                       "spec": {"storageClassName": "fast"}}),
            ),
            vec![],
        ),
        (
            "a missing class is upstream's ProvisioningFailed",
            pvc(json!({"spec": {"storageClassName": "nope"}})),
            vec!["ProvisioningFailed"],
        ),
        (
            "no class, no volume",
            pvc(json!({"spec": {"storageClassName": ""}})),
            vec!["FailedBinding"],
        ),
    ];
    for (what, claim, want) in cases {
        let got = sync_claim(&claim, std::slice::from_ref(&manual), &classes, &[]);
        assert_eq!(reasons(&got), want, "{what}");
    }
    let missing = sync_claim(
        &pvc(json!({"spec": {"storageClassName": "nope"}})),
        &[],
        &classes,
        &[],
    );
    assert_eq!(
        message(&missing),
        "storageclass.storage.k8s.io \"nope\" not found"
    );
    let waiting = sync_claim(
        &pvc(json!({"spec": {"storageClassName": "standard"}})),
        &[],
        &classes,
        &["web-0".to_string()],
    );
    assert_eq!(reasons(&waiting), vec!["WaitForPodScheduled"]);
    assert_eq!(message(&waiting), "waiting for pod web-0 to be scheduled");
    let asked = sync_claim(
        &pvc(json!({"spec": {"storageClassName": "fast"}})),
        &[],
        &classes,
        &[],
    );
    assert_eq!(message(&asked), "Waiting for a volume to be created either by the external provisioner 'rancher.io/local-path' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.");
}

#[test]
fn a_provisioned_volume_pre_bound_to_the_claim_completes_the_binding() {
    let claim = pvc(
        json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n1"}},
                           "spec": {"storageClassName": "standard"}}),
    );
    let volume = pv(
        "pvc-u1",
        json!({"metadata": {"annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
               "spec": {"storageClassName": "standard", "capacity": {"storage": "1Gi"},
                        "claimRef": {"namespace": "ns", "name": "c", "uid": "u1"}},
               "status": {"phase": "Pending"}}),
    );
    let classes = [sc("standard", "WaitForFirstConsumer", json!({}))];
    let got = sync_claim(&claim, std::slice::from_ref(&volume), &classes, &[]);
    assert_eq!(
        got,
        vec![
            Action::VolumePhase {
                volume: "pvc-u1".into(),
                phase: "Bound",
                message: None
            },
            Action::BindClaim {
                volume: "pvc-u1".into(),
                by_controller: true
            },
            Action::ClaimPhase {
                phase: "Bound",
                capacity: Some("1Gi".into()),
                access_modes: vec!["ReadWriteOnce".into()]
            },
        ]
    );
}

#[test]
fn claims_naming_a_volume() {
    let classes: [StorageClass; 0] = [];
    let named = |extra: Value| pvc(merged(json!({"spec": {"volumeName": "v"}}), extra));
    assert_eq!(
        reasons(&sync_claim(&named(json!({})), &[], &classes, &[])),
        Vec::<&str>::new()
    );
    let free = pv("v", json!({}));
    assert_eq!(
        reasons(&sync_claim(
            &named(json!({})),
            std::slice::from_ref(&free),
            &classes,
            &[]
        )),
        vec!["bind-volume", "Bound", "bind-claim", "Bound"]
    );
    let small = pv("v", json!({"spec": {"capacity": {"storage": "1Mi"}}}));
    let got = sync_claim(
        &named(json!({})),
        std::slice::from_ref(&small),
        &classes,
        &[],
    );
    assert_eq!(reasons(&got), vec!["VolumeMismatch"]);
    assert_eq!(
        message(&got),
        "Cannot bind to requested volume \"v\": requested PV is too small"
    );
    let taken = pv(
        "v",
        json!({"spec": {"claimRef": {"namespace": "ns", "name": "other", "uid": "u9"}}}),
    );
    let got = sync_claim(
        &named(json!({})),
        std::slice::from_ref(&taken),
        &classes,
        &[],
    );
    assert_eq!(
        message(&got),
        "volume \"v\" already bound to a different claim."
    );
}

#[test]
fn bound_claims_stay_bound_lose_their_volume_or_expand() {
    let bound = |extra: Value| {
        pvc(merged(
            json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                   "spec": {"volumeName": "v", "storageClassName": "standard"},
                   "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"]}}),
            extra,
        ))
    };
    let volume = pv(
        "v",
        json!({"spec": {"storageClassName": "standard", "claimRef": {"namespace": "ns", "name": "c", "uid": "u1"}},
               "status": {"phase": "Bound"}}),
    );
    let fixed = [sc("standard", "WaitForFirstConsumer", json!({}))];
    let growing = [sc(
        "standard",
        "WaitForFirstConsumer",
        json!({"allowVolumeExpansion": true}),
    )];
    assert!(sync_claim(
        &bound(json!({})),
        std::slice::from_ref(&volume),
        &fixed,
        &[]
    )
    .is_empty());
    let lost = sync_claim(&bound(json!({})), &[], &fixed, &[]);
    assert_eq!(reasons(&lost), vec!["Lost", "ClaimLost"]);
    assert_eq!(
        message(&lost),
        "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
    );
    let bigger = bound(json!({"spec": {"resources": {"requests": {"storage": "5Gi"}}}}));
    assert!(sync_claim(&bigger, std::slice::from_ref(&volume), &fixed, &[]).is_empty());
    let got = sync_claim(&bigger, std::slice::from_ref(&volume), &growing, &[]);
    assert_eq!(
        reasons(&got),
        vec!["Resizing", "expand", "VolumeResizeSuccessful"]
    );
    assert!(got.contains(&Action::Expand {
        volume: "v".into(),
        size: "5Gi".into()
    }));
    let misbound = pv(
        "v",
        json!({"spec": {"claimRef": {"namespace": "ns", "name": "other", "uid": "u2"}}}),
    );
    assert_eq!(
        reasons(&sync_claim(&bound(json!({})), &[misbound], &fixed, &[])),
        vec!["Lost", "ClaimMisbound"]
    );
}

#[test]
fn volumes_follow_their_claims_and_reclaim_policy() {
    let claim = pvc(json!({"spec": {"volumeName": "v"}}));
    let with_ref = |extra: Value| {
        pv(
            "v",
            merged(
                json!({"spec": {"claimRef": {"namespace": "ns", "name": "c", "uid": "u1"}}, "status": {"phase": "Bound"}}),
                extra,
            ),
        )
    };
    let cases: Vec<(
        &str,
        PersistentVolume,
        Option<&PersistentVolumeClaim>,
        Vec<&str>,
    )> = vec![
        (
            "no claimRef: Available",
            pv("v", json!({"status": {"phase": "Pending"}})),
            None,
            vec!["Available"],
        ),
        (
            "bound claim: Bound",
            with_ref(json!({})),
            Some(&claim),
            vec![],
        ),
        (
            "claim gone, Retain: Released",
            with_ref(json!({})),
            None,
            vec!["Released"],
        ),
        (
            "claim gone, Delete of a provisioned volume: left to the provisioner",
            with_ref(
                json!({"metadata": {"annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
                            "spec": {"persistentVolumeReclaimPolicy": "Delete"}}),
            ),
            None,
            vec!["Released"],
        ),
        (
            "claim gone, Delete of a hand-made volume: Failed",
            with_ref(
                json!({"spec": {"persistentVolumeReclaimPolicy": "Delete"}, "status": {"phase": "Released"}}),
            ),
            None,
            vec!["Failed", "VolumeFailedDelete"],
        ),
        (
            "already Released: nothing",
            with_ref(json!({"status": {"phase": "Released"}})),
            None,
            vec![],
        ),
    ];
    for (what, volume, claim, want) in cases {
        assert_eq!(reasons(&sync_volume(&volume, claim)), want, "{what}");
    }
    // A claim of the same name but another uid is a new claim: the old one is gone.
    let recreated = pvc(json!({"metadata": {"uid": "u2"}}));
    assert_eq!(
        reasons(&sync_volume(&with_ref(json!({})), Some(&recreated))),
        vec!["Released"]
    );
}

#[test]
fn protection_follows_scheduled_unfinished_pods() {
    let claim = pvc(json!({}));
    let pod = |node: Option<&str>, phase: &str| -> k8s_openapi::api::core::v1::Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": node, "containers": [],
                     "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]},
            "status": {"phase": phase}}))
        .unwrap()
    };
    assert!(claim_in_use(&claim, &[pod(Some("n1"), "Running")]));
    assert!(!claim_in_use(&claim, &[pod(Some("n1"), "Succeeded")]));
    assert!(!claim_in_use(&claim, &[pod(None, "Pending")]));
    assert!(volume_in_use(&pv(
        "v",
        json!({"status": {"phase": "Bound"}})
    )));
    assert!(!volume_in_use(&pv(
        "v",
        json!({"status": {"phase": "Released"}})
    )));
}
