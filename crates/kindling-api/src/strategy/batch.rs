//! batch/v1: Jobs (defaults, generated selector and pod labels, validation, what an update may
//! change) and CronJobs (defaults, schedule syntax as robfig/cron's standard parser reads it).

use super::cron::parse_cron_schedule;
use super::podspec::default_pod_template;
use super::podvalidation::validate_pod_template;
use super::util::{set_default, set_default_str, sort_keys, spec_of, str_of};
use super::Strategy;
use crate::json_path::{copy_key, object_mut};
use crate::meta::{
    go_label_selector, go_string_map, invalid_raw, invalid_str, max_len_error, not_supported_str,
    required, validate_immutable, validate_label_selector, validate_nonnegative,
};
use crate::selector::selector_matches;
use crate::status::Cause;
use serde_json::{json, Value};

pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// `SetDefaults_Job` on a job spec (not on the job templates of cron jobs, as upstream).
fn default_job_spec(spec: &mut Value) {
    let unset = |s: &Value, k: &str| s.get(k).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i64::from(i32::MAX)
    };
    set_default(spec, "backoffLimit", json!(backoff));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    if let Some(rules) = spec
        .pointer_mut("/podFailurePolicy/rules")
        .and_then(Value::as_array_mut)
    {
        for rule in rules {
            if let Some(patterns) = rule
                .get_mut("onPodConditions")
                .and_then(Value::as_array_mut)
            {
                patterns
                    .iter_mut()
                    .for_each(|p| set_default_str(p, "status", "True"));
            }
        }
    }
    let replacement = if unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    set_default(spec, "manualSelector", json!(false));
}

pub struct JobStrategy;
impl Strategy for JobStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        default_job_spec(spec);
        default_pod_template(object_mut(spec, &["template"]));
        copy_template_labels(obj);
    }

    /// Generates the selector and the pod labels from the job's uid and name (the server sets
    /// `metadata.uid` before this runs), unless `manualSelector` is set.
    fn prepare_for_create(&self, obj: &mut Value) {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let spec = object_mut(obj, &["spec"]);
        if spec.get("manualSelector").and_then(Value::as_bool) != Some(true) {
            let labels = object_mut(spec, &["template", "metadata", "labels"]);
            for (key, value) in [
                (LEGACY_JOB_NAME_LABEL, &name),
                (JOB_NAME_LABEL, &name),
                (LEGACY_CONTROLLER_UID_LABEL, &uid),
                (CONTROLLER_UID_LABEL, &uid),
            ] {
                set_default(labels, key, json!(value));
            }
            sort_keys(labels);
            let match_labels = object_mut(spec, &["selector", "matchLabels"]);
            set_default(match_labels, CONTROLLER_UID_LABEL, json!(uid));
        }
        copy_template_labels(obj);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = validate_generated_selector(obj);
        errs.extend(validate_job_spec(spec_of(obj), "spec", true));
        let spec = spec_of(obj);
        if str_of(spec, "completionMode") == "Indexed" {
            if let Some(c) = spec
                .get("completions")
                .and_then(Value::as_i64)
                .filter(|c| *c > 0)
            {
                let name = obj
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let host = format!("{name}-{}", c - 1);
                if !crate::meta::is_dns1123_label(&host) {
                    errs.push(invalid_str(
                        "metadata.name",
                        name,
                        &format!("will not able to create pod with invalid DNS label: {host}"),
                    ));
                }
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (spec_of(new), spec_of(old));
        let mut errs = Vec::new();
        let indexed = str_of(n, "completionMode") == "Indexed";
        if !indexed {
            errs.extend(validate_immutable(
                n.get("completions"),
                o.get("completions"),
                "spec.completions",
                || crate::meta::go_value(n.get("completions")),
            ));
        } else if n.get("completions") != o.get("completions") {
            if let Some(c) = n.get("completions").filter(|c| !c.is_null()) {
                if Some(c) != n.get("parallelism") {
                    errs.push(invalid_raw(
                        "spec.completions",
                        &c.to_string(),
                        "can only be modified in tandem with spec.parallelism",
                    ));
                }
            }
        }
        errs.extend(validate_immutable(
            n.get("selector"),
            o.get("selector"),
            "spec.selector",
            || {
                n.get("selector")
                    .filter(|s| s.is_object())
                    .map_or("null".to_string(), go_label_selector)
            },
        ));
        // The pod template may change only while the job is suspended, and then only in its
        // scheduling directives.
        let mut old_t = o.get("template").cloned().unwrap_or(json!({}));
        let new_t = n.get("template").cloned().unwrap_or(json!({}));
        if o.get("suspend").and_then(Value::as_bool) == Some(true) {
            for (ptr, key) in [
                ("/spec", "nodeSelector"),
                ("/spec", "tolerations"),
                ("/spec", "schedulingGates"),
                ("/spec", "affinity"),
                ("/metadata", "labels"),
                ("/metadata", "annotations"),
            ] {
                let from = new_t.pointer(ptr).unwrap_or(&Value::Null);
                copy_key(from, object_mut(&mut old_t, &[&ptr[1..]]), key);
            }
        }
        errs.extend(validate_immutable(
            Some(&new_t),
            Some(&old_t),
            "spec.template",
            || format!("core.PodTemplateSpec{new_t}"),
        ));
        for key in [
            "completionMode",
            "podFailurePolicy",
            "backoffLimitPerIndex",
            "managedBy",
            "successPolicy",
        ] {
            let field = format!("spec.{key}");
            errs.extend(validate_immutable(n.get(key), o.get(key), &field, || {
                crate::meta::go_value(n.get(key))
            }));
        }
        errs
    }
}

/// Job labels default to the template's labels when the job has none (upstream does this when
/// it decodes the job, so a created job shows its generated pod labels).
fn copy_template_labels(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(labels) = labels {
        let meta = object_mut(obj, &["metadata"]);
        if meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(serde_json::Map::is_empty)
        {
            meta["labels"] = labels;
        }
    }
}

/// `ValidateHasLabel`: the template carries `key=expected`.
fn validate_has_label(obj: &Value, key: &str, expected: &str) -> Vec<Cause> {
    let labels = obj.pointer("/spec/template/metadata/labels");
    match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
        None => vec![required(
            format!("spec.template.metadata.labels[{key}]"),
            &format!("must be '{expected}'"),
        )],
        Some(v) if v != expected => vec![invalid_raw(
            format!("spec.template.metadata.labels[{key}]"),
            &go_string_map(labels),
            &format!("must be '{expected}'"),
        )],
        _ => Vec::new(),
    }
}

fn validate_generated_selector(obj: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let spec = spec_of(obj);
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return errs;
    }
    let Some(selector) = spec.get("selector").filter(|s| s.is_object()) else {
        return errs;
    };
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if uid.is_empty() {
        errs.push(required("metadata.uid", ""));
    }
    errs.extend(validate_has_label(obj, LEGACY_CONTROLLER_UID_LABEL, uid));
    errs.extend(validate_has_label(obj, LEGACY_JOB_NAME_LABEL, name));
    errs.extend(validate_has_label(obj, CONTROLLER_UID_LABEL, uid));
    errs.extend(validate_has_label(obj, JOB_NAME_LABEL, name));
    let expected = json!({
        CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name,
        LEGACY_CONTROLLER_UID_LABEL: uid, LEGACY_JOB_NAME_LABEL: name,
    });
    if selector_matches(Some(selector), Some(&expected)) == Some(false) {
        errs.push(invalid_raw(
            "spec.selector",
            &go_label_selector(selector),
            "`selector` not auto-generated",
        ));
    }
    errs
}

/// `validateJobSpec` (shared with cron job templates) plus, for jobs, the selector rules of
/// `ValidateJobSpec`.
fn validate_job_spec(spec: &Value, path: &str, with_selector: bool) -> Vec<Cause> {
    let mut errs = Vec::new();
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        errs.extend(validate_nonnegative(
            spec.get(key),
            &format!("{path}.{key}"),
        ));
    }
    if spec.get("maxFailedIndexes").is_some_and(|v| !v.is_null())
        && spec.get("backoffLimitPerIndex").is_none_or(Value::is_null)
    {
        errs.push(required(
            format!("{path}.backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    if let Some(m) = mode {
        if !["NonIndexed", "Indexed"].contains(&m) {
            errs.push(not_supported_str(
                format!("{path}.completionMode"),
                m,
                &["NonIndexed", "Indexed"],
            ));
        }
        if m == "Indexed" && spec.get("completions").is_none_or(Value::is_null) {
            errs.push(required(
                format!("{path}.completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if mode != Some("Indexed") {
        for key in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(v) = spec.get(key).filter(|v| !v.is_null()) {
                errs.push(invalid_raw(
                    format!("{path}.{key}"),
                    &v.to_string(),
                    "requires indexed completion mode",
                ));
            }
        }
    }
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if spec.get("podFailurePolicy").is_some_and(|v| !v.is_null()) {
            if p != "Failed" {
                errs.push(not_supported_str(
                    format!("{path}.podReplacementPolicy"),
                    p,
                    &["Failed"],
                ));
            }
        } else if !["Failed", "TerminatingOrFailed"].contains(&p) {
            errs.push(not_supported_str(
                format!("{path}.podReplacementPolicy"),
                p,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let tpath = format!("{path}.template");
    errs.extend(validate_pod_template(spec.get("template"), &tpath));
    let rp = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    let rp_path = format!("{tpath}.spec.restartPolicy");
    if rp == "Always" || rp.is_empty() {
        errs.push(required(rp_path, "valid values: \"OnFailure\", \"Never\""));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(not_supported_str(rp_path, rp, &["OnFailure", "Never"]));
    } else if spec.get("podFailurePolicy").is_some_and(|v| !v.is_null()) && rp != "Never" {
        errs.push(invalid_str(
            rp_path,
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    if with_selector {
        let selector = spec.get("selector").filter(|s| !s.is_null());
        match selector {
            None => errs.push(required(format!("{path}.selector"), "")),
            Some(s) => errs.extend(validate_label_selector(
                Some(s),
                &format!("{path}.selector"),
            )),
        }
        if selector_matches(selector, spec.pointer("/template/metadata/labels")) == Some(false) {
            errs.push(invalid_raw(
                format!("{tpath}.metadata.labels"),
                &go_string_map(spec.pointer("/template/metadata/labels")),
                "`selector` does not match template `labels`",
            ));
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------

pub struct CronJobStrategy;
impl Strategy for CronJobStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        set_default_str(spec, "concurrencyPolicy", "Allow");
        set_default(spec, "suspend", json!(false));
        set_default(spec, "successfulJobsHistoryLimit", json!(3));
        set_default(spec, "failedJobsHistoryLimit", json!(1));
        let job_spec = object_mut(spec, &["jobTemplate", "spec"]);
        default_pod_template(object_mut(job_spec, &["template"]));
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = validate_cron_job_spec(spec_of(obj), false);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.len() > 52 {
            errs.push(invalid_str("metadata.name", name, &max_len_error(52)));
        }
        errs
    }
}

fn validate_cron_job_spec(spec: &Value, allow_tz: bool) -> Vec<Cause> {
    let mut errs = Vec::new();
    let schedule = str_of(spec, "schedule");
    if schedule.is_empty() {
        errs.push(required("spec.schedule", ""));
    } else {
        if let Err(e) = parse_cron_schedule(schedule) {
            errs.push(invalid_str("spec.schedule", schedule, &e));
        }
        if !allow_tz && schedule.contains("TZ") {
            errs.push(invalid_str(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    errs.extend(validate_nonnegative(
        spec.get("startingDeadlineSeconds"),
        "spec.startingDeadlineSeconds",
    ));
    if let Some(tz) = spec.get("timeZone").and_then(Value::as_str) {
        let shown = crate::meta::go_quote(tz);
        if tz.is_empty() {
            errs.push(invalid_raw(
                "spec.timeZone",
                &shown,
                "timeZone must be nil or non-empty string",
            ));
        } else if tz.split('/').any(|p| {
            p == "."
                || p == ".."
                || p.starts_with('-')
                || p.is_empty()
                || p.len() > 14
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
        }) {
            errs.push(invalid_raw(
                "spec.timeZone",
                &shown,
                &format!("unknown time zone {tz}"),
            ));
        } else if tz.eq_ignore_ascii_case("Local") {
            errs.push(invalid_raw(
                "spec.timeZone",
                &shown,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            ));
        } else if jiff::tz::db().get(tz).is_err() {
            // Go's time.LoadLocation against the IANA database (built into the binary).
            errs.push(invalid_raw(
                "spec.timeZone",
                &shown,
                &format!("unknown time zone {tz}"),
            ));
        }
    }
    match str_of(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(required("spec.concurrencyPolicy", "")),
        other => errs.push(not_supported_str(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let empty = json!({});
    let job_spec = spec.pointer("/jobTemplate/spec").unwrap_or(&empty);
    errs.extend(validate_job_spec(job_spec, "spec.jobTemplate.spec", false));
    if let Some(sel) = job_spec.get("selector").filter(|s| s.is_object()) {
        errs.push(invalid_raw(
            "spec.jobTemplate.spec.selector",
            &go_label_selector(sel),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(Cause::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            "true",
            &["nil", "false"],
        ));
    }
    errs.extend(validate_nonnegative(
        spec.get("successfulJobsHistoryLimit"),
        "spec.successfulJobsHistoryLimit",
    ));
    errs.extend(validate_nonnegative(
        spec.get("failedJobsHistoryLimit"),
        "spec.failedJobsHistoryLimit",
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created_job(job: Value) -> Value {
        let mut job = job;
        JobStrategy.default(&mut job);
        job["metadata"]["uid"] = json!("8c3f1a52-1111-2222-3333-444455556666");
        JobStrategy.prepare_for_create(&mut job);
        job
    }

    #[test]
    fn minimal_job_looks_like_a_real_cluster() {
        let job = created_job(
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34.0"}]}}}}),
        );
        let uid = "8c3f1a52-1111-2222-3333-444455556666";
        let labels = json!({CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: "pi", "controller-uid": uid, "job-name": "pi"});
        assert_eq!(job["metadata"]["labels"], labels);
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["manualSelector"], false);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(
            spec["selector"],
            json!({"matchLabels": {CONTROLLER_UID_LABEL: uid}})
        );
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["template"]["metadata"]["labels"], labels);
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert!(
            JobStrategy.validate(&job).is_empty(),
            "{:?}",
            JobStrategy.validate(&job)
        );
    }

    #[test]
    fn job_restart_policy() {
        let job = created_job(
            json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
        );
        assert_eq!(
            JobStrategy.validate(&job).iter().map(Cause::summary).collect::<Vec<_>>(),
            vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
        );
    }

    #[test]
    fn job_template_is_immutable() {
        let old = created_job(
            json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}}}}),
        );
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
        let errs = JobStrategy.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.template");
        assert!(errs[0].message.ends_with(": field is immutable"));
        let mut new = old.clone();
        new["spec"]["completions"] = json!(3);
        assert_eq!(
            JobStrategy.validate_update(&new, &old)[0].summary(),
            "spec.completions: Invalid value: 3: field is immutable"
        );
        let mut new = old.clone();
        new["spec"]["parallelism"] = json!(3);
        assert!(JobStrategy.validate_update(&new, &old).is_empty());
    }

    #[test]
    fn manual_selector_is_left_alone() {
        let job = created_job(
            json!({"metadata": {"name": "j"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}}}}),
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"],
            json!({"a": "b"})
        );
        assert!(JobStrategy.validate(&job).is_empty());
    }

    #[test]
    fn cron_job_defaults_and_schedule() {
        let mut cj = json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "a", "image": "busybox"}]}}}}}});
        CronJobStrategy.default(&mut cj);
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["suspend"], false);
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        assert!(cj["spec"]["jobTemplate"]["spec"]
            .get("backoffLimit")
            .is_none());
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
        assert!(CronJobStrategy.validate(&cj).is_empty());
        cj["spec"]["timeZone"] = json!("Europe/Paris");
        assert!(CronJobStrategy.validate(&cj).is_empty());
        cj["spec"]["timeZone"] = json!("Mars/Olympus");
        assert_eq!(
            CronJobStrategy.validate(&cj)[0].summary(),
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"
        );
        cj["spec"]["timeZone"] = Value::Null;
        cj["spec"]["schedule"] = json!("* * * *");
        assert_eq!(
            CronJobStrategy.validate(&cj)[0].summary(),
            "spec.schedule: Invalid value: \"* * * *\": expected exactly 5 fields, found 4: [* * * *]"
        );
    }
}
