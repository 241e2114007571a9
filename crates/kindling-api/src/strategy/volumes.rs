//! Validation of pod volumes: names, exactly one source, and the common sources' fields.

use super::util::{arr_of, str_of};
use crate::meta::{
    dns1123_subdomain_errors, duplicate_str, invalid_str, not_supported_str, required,
    validate_dns1123_label,
};
use crate::status::Cause;
use serde_json::Value;

/// Volume source fields, in the order upstream checks them, with the field name upstream uses in
/// its "may not specify more than 1 volume type" error (two of them differ from the JSON name).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

const FILE_MODE_ERROR_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn validate_file_mode(v: Option<&Value>, field: &str) -> Vec<Cause> {
    match v.and_then(Value::as_i64) {
        Some(m) if !(0..=0o777).contains(&m) => vec![Cause::invalid(field, m, FILE_MODE_ERROR_MSG)],
        _ => Vec::new(),
    }
}

fn validate_key_to_paths(src: &Value, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (i, item) in arr_of(src, "items").iter().enumerate() {
        let p = format!("{field}.items[{i}]");
        if str_of(item, "key").is_empty() {
            errs.push(required(format!("{p}.key"), ""));
        }
        let path = str_of(item, "path");
        if path.is_empty() {
            errs.push(required(format!("{p}.path"), ""));
        }
        errs.extend(validate_local_non_reserved_path(path, &format!("{p}.path")));
        errs.extend(validate_file_mode(item.get("mode"), &format!("{p}.mode")));
    }
    errs
}

pub(super) fn validate_local_descending_path(path: &str, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if path.starts_with('/') {
        errs.push(invalid_str(field, path, "must be a relative path"));
    }
    if path.replace('\\', "/").split('/').any(|p| p == "..") {
        errs.push(invalid_str(field, path, "must not contain '..'"));
    }
    errs
}

fn validate_local_non_reserved_path(path: &str, field: &str) -> Vec<Cause> {
    let mut errs = validate_local_descending_path(path, field);
    if path.starts_with("..") && !path.starts_with("../") {
        errs.push(invalid_str(field, path, "must not start with '..'"));
    }
    errs
}

fn validate_volume_source(src: &Value, key: &str, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let need = |errs: &mut Vec<Cause>, k: &str| {
        if str_of(src, k).is_empty() {
            errs.push(required(format!("{field}.{k}"), ""));
        }
    };
    match key {
        "hostPath" => {
            let path = str_of(src, "path");
            if path.is_empty() {
                errs.push(required(format!("{field}.path"), ""));
            } else {
                if path.replace('\\', "/").split('/').any(|p| p == "..") {
                    errs.push(invalid_str(
                        format!("{field}.path"),
                        path,
                        "must not contain '..'",
                    ));
                }
                let t = str_of(src, "type");
                const TYPES: &[&str] = &[
                    "",
                    "BlockDevice",
                    "CharDevice",
                    "Directory",
                    "DirectoryOrCreate",
                    "File",
                    "FileOrCreate",
                    "Socket",
                ];
                if !TYPES.contains(&t) {
                    errs.push(not_supported_str(format!("{field}.type"), t, TYPES));
                }
            }
        }
        "secret" => {
            need(&mut errs, "secretName");
            errs.extend(validate_file_mode(
                src.get("defaultMode"),
                &format!("{field}.defaultMode"),
            ));
            errs.extend(validate_key_to_paths(src, field));
        }
        "configMap" => {
            need(&mut errs, "name");
            errs.extend(validate_file_mode(
                src.get("defaultMode"),
                &format!("{field}.defaultMode"),
            ));
            errs.extend(validate_key_to_paths(src, field));
        }
        "persistentVolumeClaim" => need(&mut errs, "claimName"),
        "nfs" => {
            need(&mut errs, "server");
            need(&mut errs, "path");
            let path = str_of(src, "path");
            if !path.starts_with('/') {
                errs.push(invalid_str(
                    format!("{field}.path"),
                    path,
                    "must be an absolute path",
                ));
            }
        }
        "gitRepo" => {
            need(&mut errs, "repository");
            errs.extend(validate_local_descending_path(
                str_of(src, "directory"),
                &format!("{field}.directory"),
            ));
        }
        "downwardAPI" | "projected" => {
            errs.extend(validate_file_mode(
                src.get("defaultMode"),
                &format!("{field}.defaultMode"),
            ));
        }
        "csi" => {
            let driver = str_of(src, "driver");
            if driver.is_empty() {
                errs.push(required(format!("{field}.driver"), ""));
            }
            if driver.len() > 63 {
                errs.push(crate::meta::too_long(format!("{field}.driver"), 63));
            }
            for m in dns1123_subdomain_errors(&driver.to_lowercase()) {
                errs.push(invalid_str(format!("{field}.driver"), driver, &m));
            }
        }
        "ephemeral" if src.get("volumeClaimTemplate").is_none_or(Value::is_null) => {
            errs.push(required(format!("{field}.volumeClaimTemplate"), ""));
        }
        _ => {}
    }
    errs
}

/// Validates `volumes`; returns the errors and the valid volumes as (name, source field).
pub fn validate_volumes(
    volumes: &[Value],
    field: &str,
) -> (Vec<Cause>, Vec<(String, &'static str)>) {
    let mut errs = Vec::new();
    let mut valid: Vec<(String, &'static str)> = Vec::new();
    for (i, vol) in volumes.iter().enumerate() {
        let idx = format!("{field}[{i}]");
        let name = str_of(vol, "name");
        let mut el = Vec::new();
        let mut source: Option<&'static str> = None;
        for (key, forbidden_name) in VOLUME_SOURCES {
            let Some(src) = vol.get(*key).filter(|v| !v.is_null()) else {
                continue;
            };
            if source.is_some() {
                el.push(Cause::forbidden(
                    format!("{idx}.{forbidden_name}"),
                    "may not specify more than 1 volume type",
                ));
            } else {
                source = Some(key);
                el.extend(validate_volume_source(src, key, &format!("{idx}.{key}")));
            }
        }
        if source.is_none() {
            el.push(required(idx.clone(), "must specify a volume type"));
        }
        if name.is_empty() {
            el.push(required(format!("{idx}.name"), ""));
        } else {
            el.extend(validate_dns1123_label(name, &format!("{idx}.name")));
        }
        if valid.iter().any(|(n, _)| n == name) {
            el.push(duplicate_str(format!("{idx}.name"), name));
        }
        if el.is_empty() {
            valid.push((name.to_string(), source.unwrap_or("")));
        } else {
            errs.extend(el);
        }
    }
    (errs, valid)
}
