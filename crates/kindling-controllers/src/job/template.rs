//! The pods a Job creates (upstream's manageJob and indexed_job_utils): its template with the
//! tracking finalizer, owned by the Job, named `<job>-<random>`; for an Indexed Job, the
//! completion index as annotation and label, `JOB_COMPLETION_INDEX` taken from that label by
//! every (init) container, hostname `<job>-<index>`, and with backoffLimitPerIndex the
//! failure counts the index carries. No IO.

use super::indexes;
use super::plan::TRACKING_FINALIZER;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The variable an Indexed Job's containers get their index in.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

fn add_index_env(container: &mut Container) {
    let env = container.env.get_or_insert_with(Vec::new);
    if env.iter().any(|e| e.name == INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: INDEX_ENV.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.labels['{}']", indexes::COMPLETION_INDEX),
            }),
            ..Default::default()
        }),
    });
}

/// The pod for `index` (`None` for a NonIndexed Job); `failure_counts` are the index's
/// (failures, ignored failures) when the Job has backoffLimitPerIndex.
pub fn pod(
    job: &Job,
    owner: OwnerReference,
    index: Option<i32>,
    failure_counts: Option<(i32, i32)>,
) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.into());
    }
    let mut generate_name = format!("{name}-");
    if let Some(ix) = index {
        spec.init_containers
            .iter_mut()
            .flatten()
            .for_each(add_index_env);
        spec.containers.iter_mut().for_each(add_index_env);
        annotations.insert(indexes::COMPLETION_INDEX.into(), ix.to_string());
        labels.insert(indexes::COMPLETION_INDEX.into(), ix.to_string());
        spec.hostname = Some(format!("{name}-{ix}"));
        generate_name = indexes::generate_name(&name, ix);
        if let Some((failures, ignored)) = failure_counts {
            annotations.insert(indexes::INDEX_FAILURE_COUNT.into(), failures.to_string());
            if ignored > 0 {
                annotations.insert(
                    indexes::INDEX_IGNORED_FAILURE_COUNT.into(),
                    ignored.to_string(),
                );
            }
        }
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            labels: Some(labels).filter(|l| !l.is_empty()),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            finalizers: Some(finalizers),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(mode: &str) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"completionMode": mode, "completions": 3, "template": {
                "metadata": {"labels": {"batch.kubernetes.io/job-name": "pi"}},
                "spec": {"restartPolicy": "Never",
                         "initContainers": [{"name": "init", "image": "busybox"}],
                         "containers": [{"name": "c", "image": "busybox",
                                         "env": [{"name": "A", "value": "1"}]}]}}}
        }))
        .unwrap()
    }

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: "pi".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    #[test]
    fn non_indexed_pods_carry_the_finalizer_and_owner() {
        let p = pod(&job("NonIndexed"), owner(), None, None);
        assert_eq!(p.metadata.generate_name.as_deref(), Some("pi-"));
        assert_eq!(
            p.metadata.finalizers,
            Some(vec![TRACKING_FINALIZER.to_string()])
        );
        assert_eq!(p.metadata.owner_references, Some(vec![owner()]));
        let spec = p.spec.unwrap();
        assert_eq!(spec.hostname, None);
        assert_eq!(spec.containers[0].env.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn indexed_pods_know_their_index() {
        let p = pod(&job("Indexed"), owner(), Some(2), Some((1, 0)));
        assert_eq!(p.metadata.generate_name.as_deref(), Some("pi-2-"));
        let annotations = p.metadata.annotations.unwrap();
        assert_eq!(annotations[indexes::COMPLETION_INDEX], "2");
        assert_eq!(annotations[indexes::INDEX_FAILURE_COUNT], "1");
        assert!(!annotations.contains_key(indexes::INDEX_IGNORED_FAILURE_COUNT));
        assert_eq!(p.metadata.labels.unwrap()[indexes::COMPLETION_INDEX], "2");
        let spec = p.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
        for c in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            let env = c
                .env
                .as_ref()
                .unwrap()
                .iter()
                .find(|e| e.name == INDEX_ENV)
                .unwrap();
            assert_eq!(
                env.value_from
                    .as_ref()
                    .unwrap()
                    .field_ref
                    .as_ref()
                    .unwrap()
                    .field_path,
                "metadata.labels['batch.kubernetes.io/job-completion-index']"
            );
        }
    }
}
