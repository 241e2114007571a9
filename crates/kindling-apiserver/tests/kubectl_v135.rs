//! Kubernetes v1.35 with the real kubectl (1.35 when tools/bin has it): the server's version,
//! upstream's default resources in `kubectl api-resources`, one object of each resource v1.35
//! added to the default set read back with upstream's columns, the versions that share one
//! storage (autoscaling/v1 and v2, core and events.k8s.io Events), the Service allocator's
//! IPAddresses, and the pods/resize subresource.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{rows, text, TestServer};

/// `kubectl api-resources` of a v1.35 kube-apiserver with its default configuration (GA groups
/// only; no beta API is on by default): (NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND).
const UPSTREAM_DEFAULT: &[(&str, &str, &str, bool, &str)] = &[
    ("bindings", "", "v1", true, "Binding"),
    ("componentstatuses", "cs", "v1", false, "ComponentStatus"),
    ("configmaps", "cm", "v1", true, "ConfigMap"),
    ("endpoints", "ep", "v1", true, "Endpoints"),
    ("events", "ev", "v1", true, "Event"),
    ("limitranges", "limits", "v1", true, "LimitRange"),
    ("namespaces", "ns", "v1", false, "Namespace"),
    ("nodes", "no", "v1", false, "Node"),
    (
        "persistentvolumeclaims",
        "pvc",
        "v1",
        true,
        "PersistentVolumeClaim",
    ),
    ("persistentvolumes", "pv", "v1", false, "PersistentVolume"),
    ("pods", "po", "v1", true, "Pod"),
    ("podtemplates", "", "v1", true, "PodTemplate"),
    (
        "replicationcontrollers",
        "rc",
        "v1",
        true,
        "ReplicationController",
    ),
    ("resourcequotas", "quota", "v1", true, "ResourceQuota"),
    ("secrets", "", "v1", true, "Secret"),
    ("serviceaccounts", "sa", "v1", true, "ServiceAccount"),
    ("services", "svc", "v1", true, "Service"),
    (
        "mutatingwebhookconfigurations",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "MutatingWebhookConfiguration",
    ),
    (
        "validatingadmissionpolicies",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "ValidatingAdmissionPolicy",
    ),
    (
        "validatingadmissionpolicybindings",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "ValidatingAdmissionPolicyBinding",
    ),
    (
        "validatingwebhookconfigurations",
        "",
        "admissionregistration.k8s.io/v1",
        false,
        "ValidatingWebhookConfiguration",
    ),
    (
        "customresourcedefinitions",
        "crd,crds",
        "apiextensions.k8s.io/v1",
        false,
        "CustomResourceDefinition",
    ),
    (
        "apiservices",
        "",
        "apiregistration.k8s.io/v1",
        false,
        "APIService",
    ),
    (
        "controllerrevisions",
        "",
        "apps/v1",
        true,
        "ControllerRevision",
    ),
    ("daemonsets", "ds", "apps/v1", true, "DaemonSet"),
    ("deployments", "deploy", "apps/v1", true, "Deployment"),
    ("replicasets", "rs", "apps/v1", true, "ReplicaSet"),
    ("statefulsets", "sts", "apps/v1", true, "StatefulSet"),
    (
        "selfsubjectreviews",
        "",
        "authentication.k8s.io/v1",
        false,
        "SelfSubjectReview",
    ),
    (
        "tokenreviews",
        "",
        "authentication.k8s.io/v1",
        false,
        "TokenReview",
    ),
    (
        "localsubjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        true,
        "LocalSubjectAccessReview",
    ),
    (
        "selfsubjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        false,
        "SelfSubjectAccessReview",
    ),
    (
        "selfsubjectrulesreviews",
        "",
        "authorization.k8s.io/v1",
        false,
        "SelfSubjectRulesReview",
    ),
    (
        "subjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        false,
        "SubjectAccessReview",
    ),
    (
        "horizontalpodautoscalers",
        "hpa",
        "autoscaling/v2",
        true,
        "HorizontalPodAutoscaler",
    ),
    ("cronjobs", "cj", "batch/v1", true, "CronJob"),
    ("jobs", "", "batch/v1", true, "Job"),
    (
        "certificatesigningrequests",
        "csr",
        "certificates.k8s.io/v1",
        false,
        "CertificateSigningRequest",
    ),
    ("leases", "", "coordination.k8s.io/v1", true, "Lease"),
    (
        "endpointslices",
        "",
        "discovery.k8s.io/v1",
        true,
        "EndpointSlice",
    ),
    ("events", "ev", "events.k8s.io/v1", true, "Event"),
    (
        "flowschemas",
        "",
        "flowcontrol.apiserver.k8s.io/v1",
        false,
        "FlowSchema",
    ),
    (
        "prioritylevelconfigurations",
        "",
        "flowcontrol.apiserver.k8s.io/v1",
        false,
        "PriorityLevelConfiguration",
    ),
    (
        "ingressclasses",
        "",
        "networking.k8s.io/v1",
        false,
        "IngressClass",
    ),
    ("ingresses", "ing", "networking.k8s.io/v1", true, "Ingress"),
    (
        "ipaddresses",
        "ip",
        "networking.k8s.io/v1",
        false,
        "IPAddress",
    ),
    (
        "networkpolicies",
        "netpol",
        "networking.k8s.io/v1",
        true,
        "NetworkPolicy",
    ),
    (
        "servicecidrs",
        "",
        "networking.k8s.io/v1",
        false,
        "ServiceCIDR",
    ),
    (
        "runtimeclasses",
        "",
        "node.k8s.io/v1",
        false,
        "RuntimeClass",
    ),
    (
        "poddisruptionbudgets",
        "pdb",
        "policy/v1",
        true,
        "PodDisruptionBudget",
    ),
    (
        "clusterrolebindings",
        "",
        "rbac.authorization.k8s.io/v1",
        false,
        "ClusterRoleBinding",
    ),
    (
        "clusterroles",
        "",
        "rbac.authorization.k8s.io/v1",
        false,
        "ClusterRole",
    ),
    (
        "rolebindings",
        "",
        "rbac.authorization.k8s.io/v1",
        true,
        "RoleBinding",
    ),
    ("roles", "", "rbac.authorization.k8s.io/v1", true, "Role"),
    (
        "deviceclasses",
        "",
        "resource.k8s.io/v1",
        false,
        "DeviceClass",
    ),
    (
        "resourceclaims",
        "",
        "resource.k8s.io/v1",
        true,
        "ResourceClaim",
    ),
    (
        "resourceclaimtemplates",
        "",
        "resource.k8s.io/v1",
        true,
        "ResourceClaimTemplate",
    ),
    (
        "resourceslices",
        "",
        "resource.k8s.io/v1",
        false,
        "ResourceSlice",
    ),
    (
        "priorityclasses",
        "pc",
        "scheduling.k8s.io/v1",
        false,
        "PriorityClass",
    ),
    ("csidrivers", "", "storage.k8s.io/v1", false, "CSIDriver"),
    ("csinodes", "", "storage.k8s.io/v1", false, "CSINode"),
    (
        "csistoragecapacities",
        "",
        "storage.k8s.io/v1",
        true,
        "CSIStorageCapacity",
    ),
    (
        "storageclasses",
        "sc",
        "storage.k8s.io/v1",
        false,
        "StorageClass",
    ),
    (
        "volumeattachments",
        "",
        "storage.k8s.io/v1",
        false,
        "VolumeAttachment",
    ),
    (
        "volumeattributesclasses",
        "vac",
        "storage.k8s.io/v1",
        false,
        "VolumeAttributesClass",
    ),
];

/// Resources of the default set kindling does not serve yet (see docs/STATUS.md): APIServices
/// need API aggregation.
const NOT_SERVED: &[&str] = &["apiservices"];

#[test]
fn version_and_api_resources_are_v1_35s() {
    let s = TestServer::start();
    let v: serde_json::Value = serde_json::from_str(&s.ok(&["version", "-o", "json"])).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.35.0");
    assert_eq!(v["serverVersion"]["minor"], "35");
    let out = s.ok(&["api-resources"]);
    assert!(out.lines().next().unwrap().starts_with("NAME "), "{out}");
    let served: Vec<Vec<String>> = rows(&out)[1..]
        .iter()
        .map(|r| {
            // SHORTNAMES may be empty: a row has 4 or 5 words.
            let mut r = r.clone();
            if r.len() == 4 {
                r.insert(1, String::new());
            }
            r
        })
        .collect();
    for (name, short, api_version, namespaced, kind) in UPSTREAM_DEFAULT {
        let want = vec![
            name.to_string(),
            short.to_string(),
            api_version.to_string(),
            namespaced.to_string(),
            kind.to_string(),
        ];
        let present = served.contains(&want);
        if NOT_SERVED.contains(name) {
            assert!(!present, "{name} is served now: drop it from NOT_SERVED");
        } else {
            assert!(
                present,
                "missing from kubectl api-resources: {want:?}\n{out}"
            );
        }
    }
    // And nothing upstream does not list by default.
    assert_eq!(
        served.len(),
        UPSTREAM_DEFAULT.len() - NOT_SERVED.len(),
        "{out}"
    );
    // Several versions where upstream serves several, preferring upstream's.
    let autoscaling = s.ok(&["get", "--raw", "/apis/autoscaling"]);
    let autoscaling: serde_json::Value = serde_json::from_str(&autoscaling).unwrap();
    assert_eq!(autoscaling["preferredVersion"]["version"], "v2");
    assert_eq!(autoscaling["versions"].as_array().unwrap().len(), 2);
}

const NEW_KINDS: &str = "apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: gpu.example.com}
spec:
  selectors:
  - cel: {expression: 'device.driver == \"gpu.example.com\"'}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: one-gpu}
spec:
  devices:
    requests:
    - name: gpu
      exactly: {deviceClassName: gpu.example.com}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: gpu-template}
spec:
  spec:
    devices:
      requests:
      - name: gpu
        exactly: {deviceClassName: gpu.example.com}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: node-1-gpus}
spec:
  driver: gpu.example.com
  nodeName: node-1
  pool: {name: node-1, resourceSliceCount: 1}
---
apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata: {name: extra}
spec:
  cidrs: [10.200.0.0/24]
---
apiVersion: networking.k8s.io/v1
kind: IPAddress
metadata: {name: 10.200.0.10}
spec:
  parentRef: {group: '', resource: services, namespace: default, name: manual}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttributesClass
metadata: {name: fast}
driverName: csi.example.com
parameters: {iops: '5000'}
---
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: cap-1}
storageClassName: standard
capacity: 10Gi
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: batch-jobs}
spec:
  type: Limited
  limited:
    limitResponse:
      type: Queue
      queuing: {queues: 16, handSize: 4}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: batch-jobs}
spec:
  priorityLevelConfiguration: {name: batch-jobs}
  matchingPrecedence: 5000
  distinguisherMethod: {type: ByNamespace}
  rules:
  - subjects: [{kind: Group, group: {name: batch}}]
    resourceRules: [{verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*']}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: checks}
webhooks:
- name: check.example.com
  sideEffects: None
  admissionReviewVersions: [v1]
  clientConfig: {service: {name: hook, namespace: default}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: mutations}
webhooks:
- name: mutate.example.com
  sideEffects: None
  admissionReviewVersions: [v1]
  clientConfig: {url: 'https://hook.example.com/mutate'}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas-limit}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: object.spec.replicas <= 5
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replicas-limit}
spec:
  policyName: replicas-limit
  validationActions: [Deny]
";

/// The header and the first row (minus its AGE) of `kubectl get <what>`.
fn header_and_row(s: &TestServer, what: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let table = rows(&s.ok(&args));
    (table[0].clone(), table[1].clone())
}

#[test]
fn each_new_kind_is_created_and_printed_with_upstreams_columns() {
    let s = TestServer::start();
    let out = s.apply(NEW_KINDS);
    assert_eq!(out.lines().count(), 15, "{out}");
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (&["deviceclasses"], &["NAME", "AGE"], &["gpu.example.com"]),
        (
            &["resourceclaims"],
            &["NAME", "STATE", "AGE"],
            &["one-gpu", "pending"],
        ),
        (
            &["resourceclaimtemplates"],
            &["NAME", "AGE"],
            &["gpu-template"],
        ),
        (
            &["resourceslices"],
            &["NAME", "NODE", "DRIVER", "POOL", "AGE"],
            &["node-1-gpus", "node-1", "gpu.example.com", "node-1"],
        ),
        (
            &["servicecidrs", "extra"],
            &["NAME", "CIDRS", "AGE"],
            &["extra", "10.200.0.0/24"],
        ),
        (
            &["ipaddresses", "10.200.0.10"],
            &["NAME", "PARENTREF"],
            &["10.200.0.10", "services/default/manual"],
        ),
        (
            &["vac"],
            &["NAME", "DRIVERNAME", "AGE"],
            &["fast", "csi.example.com"],
        ),
        (
            &["csistoragecapacities"],
            &["NAME", "STORAGECLASSNAME", "CAPACITY"],
            &["cap-1", "standard", "10Gi"],
        ),
        (
            &["runtimeclasses"],
            &["NAME", "HANDLER", "AGE"],
            &["gvisor", "runsc"],
        ),
        (
            &["prioritylevelconfigurations", "batch-jobs"],
            &[
                "NAME",
                "TYPE",
                "NOMINALCONCURRENCYSHARES",
                "QUEUES",
                "HANDSIZE",
                "QUEUELENGTHLIMIT",
                "AGE",
            ],
            &["batch-jobs", "Limited", "30", "16", "4", "50"],
        ),
        (
            &["flowschemas", "batch-jobs"],
            &[
                "NAME",
                "PRIORITYLEVEL",
                "MATCHINGPRECEDENCE",
                "DISTINGUISHERMETHOD",
                "AGE",
                "MISSINGPL",
            ],
            &["batch-jobs", "batch-jobs", "5000", "ByNamespace"],
        ),
        (
            &["validatingwebhookconfigurations"],
            &["NAME", "WEBHOOKS", "AGE"],
            &["checks", "1"],
        ),
        (
            &["mutatingwebhookconfigurations"],
            &["NAME", "WEBHOOKS", "AGE"],
            &["mutations", "1"],
        ),
        (
            &["validatingadmissionpolicies"],
            &["NAME", "VALIDATIONS", "PARAMKIND", "AGE"],
            &["replicas-limit", "1", "<unset>"],
        ),
        (
            &["validatingadmissionpolicybindings"],
            &["NAME", "POLICYNAME", "PARAMREF", "AGE"],
            &["replicas-limit", "replicas-limit", "<unset>"],
        ),
    ];
    for (what, header, cells) in cases {
        let (h, r) = header_and_row(&s, what);
        assert_eq!(h, *header, "{what:?}");
        assert_eq!(&r[..cells.len()], *cells, "{what:?}");
    }
    // Upstream's defaults were applied and validation speaks upstream's words.
    let count = s.ok(&[
        "get",
        "resourceclaim",
        "one-gpu",
        "-o",
        "jsonpath={.spec.devices.requests[0].exactly.allocationMode}/{.spec.devices.requests[0].exactly.count}",
    ]);
    assert_eq!(count, "ExactCount/1");
    let err = s.fails(&[
        "patch",
        "runtimeclass",
        "gvisor",
        "-p",
        r#"{"handler":"runc"}"#,
    ]);
    assert!(
        err.contains("handler: Invalid value: \"runc\": field is immutable"),
        "{err}"
    );
    let bad = "apiVersion: resource.k8s.io/v1\nkind: ResourceSlice\nmetadata: {name: bad}\nspec: {driver: gpu.example.com, pool: {name: p, resourceSliceCount: 1}}\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], bad);
    assert!(
        text(&out.stderr).contains("spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"),
        "{}",
        text(&out.stderr)
    );
    // The component statuses are computed, with upstream's deprecation warning.
    let (h, r) = header_and_row(&s, &["componentstatuses", "scheduler"]);
    assert_eq!(h, ["NAME", "STATUS", "MESSAGE", "ERROR"]);
    assert_eq!(r, ["scheduler", "Healthy", "ok"]);
    let out = s.kubectl(&["get", "cs"]);
    assert!(
        text(&out.stderr).contains("Warning: v1 ComponentStatus is deprecated in v1.19+"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_bootstrap_flow_control_and_service_cidr_are_there() {
    let s = TestServer::start();
    let schemas = rows(&s.ok(&["get", "flowschemas"]));
    let names: Vec<&str> = schemas[1..].iter().map(|r| r[0].as_str()).collect();
    // Upstream's list printer orders them by matching precedence.
    assert_eq!(
        names,
        [
            "exempt",
            "probes",
            "system-leader-election",
            "system-node-high",
            "system-nodes",
            "kube-controller-manager",
            "kube-scheduler",
            "kube-system-service-accounts",
            "service-accounts",
            "global-default",
            "catch-all",
        ]
    );
    assert!(schemas[1..].iter().all(|r| r[5] == "False"), "{schemas:?}");
    let levels = s.ok(&["get", "prioritylevelconfigurations", "-o", "name"]);
    for pl in [
        "catch-all",
        "exempt",
        "global-default",
        "leader-election",
        "node-high",
        "system",
        "workload-high",
        "workload-low",
    ] {
        assert!(
            levels.contains(&format!(
                "prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/{pl}"
            )),
            "{levels}"
        );
    }
    let (_, cidr) = header_and_row(&s, &["servicecidrs", "kubernetes"]);
    assert_eq!(cidr[..2], ["kubernetes", "10.96.0.0/12"]);
    let ready = s.ok(&[
        "get",
        "servicecidr",
        "kubernetes",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_eq!(ready, "True");
    let err = s.fails(&[
        "patch",
        "prioritylevelconfiguration",
        "exempt",
        "--type=merge",
        "-p",
        r#"{"spec":{"exempt":{"lendablePercent":10}}}"#,
    ]);
    assert!(
        err.contains("spec of 'exempt' must equal the fixed value"),
        "{err}"
    );
    // The configuration controller: a deleted mandatory object comes back, and a FlowSchema
    // learns whether its priority level exists.
    s.ok(&["delete", "flowschema", "catch-all"]);
    s.apply("apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: orphan}\nspec:\n  priorityLevelConfiguration: {name: nowhere}\n  rules:\n  - subjects: [{kind: User, user: {name: alice}}]\n    nonResourceRules: [{verbs: ['*'], nonResourceURLs: ['*']}]\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let back = s
            .kubectl(&["get", "flowschema", "catch-all"])
            .status
            .success();
        let dangling = s.ok(&[
            "get",
            "flowschema",
            "orphan",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Dangling\")].status}",
        ]);
        if back && dangling == "True" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "catch-all back: {back}, orphan dangling: {dangling:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_service_gets_an_ip_address_object() {
    let s = TestServer::start();
    s.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    let ip = s.ok(&["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    let (h, r) = header_and_row(&s, &["ipaddress", &ip]);
    assert_eq!(h, ["NAME", "PARENTREF"]);
    assert_eq!(r, [ip.clone(), "services/default/web".to_string()]);
    let labels = s.ok(&["get", "ipaddress", &ip, "-o", "jsonpath={.metadata.labels}"]);
    assert!(labels.contains("ipallocator.k8s.io"), "{labels}");
    // The kubernetes Service's address is recorded too.
    s.ok(&["get", "ipaddress", "10.96.0.1"]);
    // An address someone else holds cannot be a Service's.
    s.apply("apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata: {name: 10.96.100.100}\nspec:\n  parentRef: {group: '', resource: services, namespace: default, name: other}\n");
    let err = s.fails(&[
        "create",
        "service",
        "clusterip",
        "taken",
        "--tcp=80:80",
        "--clusterip=10.96.100.100",
    ]);
    assert!(
        err.contains("failed to allocate IP 10.96.100.100: provided IP is already allocated"),
        "{err}"
    );
    s.ok(&["delete", "service", "web"]);
    let gone = s.kubectl(&["get", "ipaddress", &ip]);
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains(&format!("ipaddresses.networking.k8s.io \"{ip}\" not found")),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn autoscaling_v1_and_v2_are_one_object() {
    let s = TestServer::start();
    s.apply(
        "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
",
    );
    let v1: serde_json::Value = serde_json::from_str(&s.ok(&[
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
    assert_eq!(v1["spec"]["minReplicas"], 1);
    let other = v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(other).unwrap(),
        serde_json::json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
    );
    s.apply(
        "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: old}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
  targetCPUUtilizationPercentage: 40
",
    );
    let v2 = s.ok(&[
        "get",
        "horizontalpodautoscalers.v2.autoscaling",
        "old",
        "-o",
        "jsonpath={.apiVersion} {.spec.metrics[0].resource.name} {.spec.metrics[0].resource.target.averageUtilization}",
    ]);
    assert_eq!(v2, "autoscaling/v2 cpu 40");
    let table = rows(&s.ok(&["get", "hpa"]));
    assert_eq!(
        table[0],
        [
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE"
        ]
    );
    assert_eq!(table[1][..3], ["old", "Deployment/web", "cpu:"]);
    // Writing through v1 keeps what only v2 can say (the memory metric).
    s.ok(&[
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"maxReplicas":7}}"#,
    ]);
    let metrics = s.ok(&[
        "get",
        "hpa",
        "web",
        "-o",
        "jsonpath={.spec.maxReplicas} {.spec.metrics[*].resource.name}",
    ]);
    assert_eq!(metrics, "7 memory cpu");
}

#[test]
fn events_k8s_io_events_are_core_events() {
    let s = TestServer::start();
    s.ok(&["run", "web", "--image=busybox", "--restart=Never"]);
    let uid = s.ok(&["get", "pod", "web", "-o", "jsonpath={.metadata.uid}"]);
    let event = format!(
        "apiVersion: events.k8s.io/v1
kind: Event
metadata: {{name: web.tested, namespace: default}}
eventTime: \"2026-01-01T00:00:00.000000Z\"
reportingController: kindling.io/test
reportingInstance: test-1
action: Testing
reason: Tested
type: Normal
note: seen through events.k8s.io
regarding: {{apiVersion: v1, kind: Pod, name: web, namespace: default, uid: {uid}}}
"
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], &event);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = rows(&s.ok(&["get", "events"]));
    assert_eq!(
        events[0],
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    let row = events
        .iter()
        .find(|r| r.contains(&"Tested".to_string()))
        .unwrap();
    assert_eq!(
        row[row.len() - 5..],
        ["Tested", "pod/web", "seen", "through", "events.k8s.io"]
    );
    let core = s.ok(&[
        "get",
        "events",
        "web.tested",
        "-o",
        "jsonpath={.involvedObject.name}|{.message}|{.reportingComponent}|{.source}",
    ]);
    assert_eq!(core, "web|seen through events.k8s.io|kindling.io/test|{}");
    let describe = s.ok(&["describe", "pod", "web"]);
    let tail: Vec<&str> = describe.lines().rev().take(3).collect();
    assert!(
        tail[0].contains("Tested")
            && tail[0].contains("kindling.io/test")
            && tail[0].contains("seen through events.k8s.io"),
        "{describe}"
    );
    // And a core event shows in events.k8s.io with the deprecated fields.
    s.apply(
        "apiVersion: v1
kind: Event
metadata: {name: web.pulled, namespace: default}
involvedObject: {kind: Pod, name: web, namespace: default}
reason: Pulled
message: pulled the image
type: Normal
source: {component: kubelet, host: node-1}
count: 2
firstTimestamp: \"2026-01-01T00:00:00Z\"
lastTimestamp: \"2026-01-01T00:01:00Z\"
",
    );
    let v1 = s.ok(&[
        "get",
        "events.v1.events.k8s.io",
        "web.pulled",
        "-o",
        "jsonpath={.regarding.name}|{.note}|{.deprecatedSource.component}|{.deprecatedCount}",
    ]);
    assert_eq!(v1, "web|pulled the image|kubelet|2");
    // events.k8s.io/v1 validates its own rules.
    let bad = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: bad, namespace: default}\nreason: R\ntype: Normal\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], bad);
    assert!(
        text(&out.stderr).contains("eventTime: Required value"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn resize_changes_resources_and_plain_patches_may_not() {
    let s = TestServer::start();
    s.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: sized}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, '1000']
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: 200m, memory: 128Mi}
",
    );
    let out = s.ok(&[
        "patch",
        "pod",
        "sized",
        "--subresource",
        "resize",
        "-p",
        r#"{"spec":{"containers":[{"name":"app","image":"nginx","resources":{"requests":{"cpu":"150m"},"limits":{"cpu":"300m"}}}]}}"#,
    ]);
    assert_eq!(out.trim(), "pod/sized patched");
    let spec = s.ok(&[
        "get",
        "pod",
        "sized",
        "-o",
        "jsonpath={.spec.containers[0].image} {.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.cpu}",
    ]);
    // Only resources change through resize; the image stays.
    assert_eq!(spec, "busybox 150m 300m");
    let err = s.fails(&[
        "patch",
        "pod",
        "sized",
        "-p",
        r#"{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"180m"}}}]}}"#,
    ]);
    assert!(
        err.contains("The Pod \"sized\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"),
        "{err}"
    );
    let err = s.fails(&[
        "patch",
        "pod",
        "sized",
        "--subresource",
        "resize",
        "-p",
        r#"{"spec":{"containers":[{"name":"app","resources":{"requests":{"ephemeral-storage":"1Gi"}}}]}}"#,
    ]);
    assert!(
        err.contains("spec: Forbidden: only cpu and memory resources are mutable"),
        "{err}"
    );
    let err = s.fails(&[
        "patch",
        "pod",
        "sized",
        "--subresource",
        "resize",
        "-p",
        r#"{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"300m","memory":"128Mi"}}}]}}"#,
    ]);
    assert!(
        err.contains("spec: Invalid value: \"Burstable\": Pod QOS Class may not change as a result of resizing"),
        "{err}"
    );
    let sub = s.ok(&[
        "get",
        "pod",
        "sized",
        "--subresource",
        "resize",
        "-o",
        "name",
    ]);
    assert_eq!(sub.trim(), "pod/sized");
}
