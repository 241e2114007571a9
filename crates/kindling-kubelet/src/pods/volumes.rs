//! Pod volumes on the node, under `/var/lib/kindling/pods/<uid>/volumes/<plugin>/<name>` as
//! the kubelet lays them out: emptyDir (a tmpfs for `medium: Memory`), hostPath (with its
//! type checks), configMap, secret, downwardAPI and projected volumes (service account tokens
//! included) written as files (items, modes; rewritten when the source changes),
//! persistentVolumeClaims (and generic ephemeral volumes' claims) bound to hostPath or local
//! volumes. Plus the kubelet-managed `/etc/hosts` of each pod.

use super::env::{self, Data, Downward, Sources};
use super::spec::{self, expand};
use super::tokens::TokenSource;
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, KeyToPath, Pod, ServiceAccountTokenProjection,
};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const PODS_DIR: &str = "/var/lib/kindling/pods";

/// Where a volume lives on the node.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    pub host_path: PathBuf,
    /// configMap, secret, downwardAPI and projected volumes are mounted read-only.
    pub read_only: bool,
}

pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join(uid)
}

/// Files a volume holds: relative path → (content, mode).
type Files = BTreeMap<String, (Vec<u8>, u32)>;

fn key_files(
    data: &Data,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    what: &str,
) -> Result<Files, String> {
    let mut files = Files::new();
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                let Some(content) = data.get(&item.key) else {
                    return Err(format!(
                        "configured to use key {} which does not exist in {what}",
                        item.key
                    ));
                };
                let mode = item.mode.map_or(default_mode, |m| m as u32);
                files.insert(item.path.clone(), (content.clone(), mode));
            }
        }
        _ => {
            for (k, v) in data {
                files.insert(k.clone(), (v.clone(), default_mode));
            }
        }
    }
    Ok(files)
}

fn downward_files(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: u32,
    downward: &Downward,
) -> Result<Files, String> {
    let mut files = Files::new();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            env::field_value(pod, &f.field_path, downward)?
        } else if let Some(r) = &item.resource_field_ref {
            let name = r.container_name.clone().unwrap_or_default();
            let c = spec::spec(pod)
                .containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name} not found"))?;
            env::resource_value(
                c,
                &r.resource,
                r.divisor.as_ref().map(|q| q.0.as_str()),
                downward,
            )?
        } else {
            String::new()
        };
        let mode = item.mode.map_or(default_mode, |m| m as u32);
        files.insert(item.path.clone(), (value.into_bytes(), mode));
    }
    Ok(files)
}

fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !Path::new(path)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// Makes `dir` hold exactly `files`: changed files are replaced atomically (write + rename),
/// stale ones removed.
pub fn sync_files(dir: &Path, files: &Files) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (rel, (content, mode)) in files {
        if !safe_relative(rel) {
            return Err(format!("invalid path {rel:?}"));
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let same = std::fs::read(&path).is_ok_and(|old| old == *content)
            && std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o7777 == *mode);
        if same {
            continue;
        }
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        std::fs::write(&tmp, content).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(*mode))
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // Remove what is no longer wanted.
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if !files.keys().any(|k| k.starts_with(&format!("{rel}/"))) {
                    let _ = std::fs::remove_dir_all(&p);
                } else {
                    stack.push(p);
                }
            } else if !files.contains_key(&rel) {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    Ok(())
}

fn is_mount_point(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let target = path.to_string_lossy();
    info.lines()
        .any(|l| l.split_whitespace().nth(4) == Some(target.as_ref()))
}

fn mount_tmpfs(path: &Path, size: Option<u64>) -> Result<(), String> {
    if is_mount_point(path) {
        return Ok(());
    }
    let target =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let data = size.map(|s| format!("size={s}")).unwrap_or_default();
    let data = std::ffi::CString::new(data).map_err(|e| e.to_string())?;
    let fstype = c"tmpfs";
    // SAFETY: valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "mounting tmpfs at {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn host_path_volume(path: &str, type_: &str) -> Result<(), String> {
    let p = Path::new(path);
    let meta = std::fs::metadata(p);
    let fail = |what: &str| Err(format!("hostPath type check failed: {path} is not {what}"));
    match type_ {
        "" => Ok(()),
        "DirectoryOrCreate" => {
            if meta.is_err() {
                std::fs::create_dir_all(p).map_err(|e| format!("{path}: {e}"))?;
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
            }
            Ok(())
        }
        "FileOrCreate" => {
            if meta.is_err() {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
                }
                std::fs::write(p, b"").map_err(|e| format!("{path}: {e}"))?;
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644));
            }
            Ok(())
        }
        "Directory" => match meta {
            Ok(m) if m.is_dir() => Ok(()),
            _ => fail("a directory"),
        },
        "File" => match meta {
            Ok(m) if m.is_file() => Ok(()),
            _ => fail("a file"),
        },
        "Socket" | "CharDevice" | "BlockDevice" => {
            use std::os::unix::fs::FileTypeExt;
            let ok = meta.is_ok_and(|m| {
                let t = m.file_type();
                match type_ {
                    "Socket" => t.is_socket(),
                    "CharDevice" => t.is_char_device(),
                    _ => t.is_block_device(),
                }
            });
            if ok {
                Ok(())
            } else {
                fail(&format!("a {type_}"))
            }
        }
        other => Err(format!("unknown hostPath type {other}")),
    }
}

/// Sets up every volume of `pod` under `root` and returns where each one is. Content volumes
/// (configMap, secret, downwardAPI, projected) are rewritten from their sources each call.
pub async fn prepare(
    sources: &impl Sources,
    pod: &Pod,
    downward: &Downward,
    root: &Path,
) -> Result<HashMap<String, Volume>, String> {
    let ns = spec::namespace(pod);
    let base = pod_dir(root, spec::uid(pod)).join("volumes");
    let mut out = HashMap::new();
    for v in spec::spec(pod).volumes.iter().flatten() {
        let fail = |e: String| format!("MountVolume.SetUp failed for volume \"{}\" : {e}", v.name);
        let dir = |plugin: &str| base.join(format!("kubernetes.io~{plugin}")).join(&v.name);
        let volume = if let Some(e) = &v.empty_dir {
            let d = dir("empty-dir");
            std::fs::create_dir_all(&d).map_err(|e| fail(e.to_string()))?;
            if e.medium.as_deref() == Some("Memory") {
                let size = e
                    .size_limit
                    .as_ref()
                    .and_then(|q| kindling_api::Quantity::try_from(q).ok())
                    .map(|b| b.value().max(0) as u64);
                mount_tmpfs(&d, size).map_err(fail)?;
            }
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777));
            Volume {
                host_path: d,
                read_only: false,
            }
        } else if let Some(h) = &v.host_path {
            host_path_volume(&h.path, h.type_.as_deref().unwrap_or("")).map_err(fail)?;
            Volume {
                host_path: PathBuf::from(&h.path),
                read_only: false,
            }
        } else if let Some(c) = &v.config_map {
            let d = dir("configmap");
            let mode = c.default_mode.unwrap_or(0o644) as u32;
            let files = match sources.config_map(ns, &c.name).await.map_err(fail)? {
                Some(data) => key_files(
                    &data,
                    c.items.as_ref(),
                    mode,
                    &format!("ConfigMap {ns}/{}", c.name),
                )
                .map_err(fail)?,
                None if c.optional.unwrap_or(false) => Files::new(),
                None => return Err(fail(format!("configmap \"{}\" not found", c.name))),
            };
            sync_files(&d, &files).map_err(fail)?;
            Volume {
                host_path: d,
                read_only: true,
            }
        } else if let Some(s) = &v.secret {
            let d = dir("secret");
            let name = s.secret_name.clone().unwrap_or_default();
            let mode = s.default_mode.unwrap_or(0o644) as u32;
            let files = match sources.secret(ns, &name).await.map_err(fail)? {
                Some(data) => key_files(
                    &data,
                    s.items.as_ref(),
                    mode,
                    &format!("Secret {ns}/{name}"),
                )
                .map_err(fail)?,
                None if s.optional.unwrap_or(false) => Files::new(),
                None => return Err(fail(format!("secret \"{name}\" not found"))),
            };
            sync_files(&d, &files).map_err(fail)?;
            Volume {
                host_path: d,
                read_only: true,
            }
        } else if let Some(dw) = &v.downward_api {
            let d = dir("downward-api");
            let mode = dw.default_mode.unwrap_or(0o644) as u32;
            let files =
                downward_files(pod, dw.items.as_deref().unwrap_or_default(), mode, downward)
                    .map_err(fail)?;
            sync_files(&d, &files).map_err(fail)?;
            Volume {
                host_path: d,
                read_only: true,
            }
        } else if let Some(p) = &v.projected {
            let d = dir("projected");
            let mode = p.default_mode.unwrap_or(0o644) as u32;
            let mut files = Files::new();
            for source in p.sources.iter().flatten() {
                if let Some(c) = &source.config_map {
                    match sources.config_map(ns, &c.name).await.map_err(fail)? {
                        Some(data) => files.extend(
                            key_files(
                                &data,
                                c.items.as_ref(),
                                mode,
                                &format!("ConfigMap {ns}/{}", c.name),
                            )
                            .map_err(fail)?,
                        ),
                        None if c.optional.unwrap_or(false) => {}
                        None => return Err(fail(format!("configmap \"{}\" not found", c.name))),
                    }
                }
                if let Some(s) = &source.secret {
                    match sources.secret(ns, &s.name).await.map_err(fail)? {
                        Some(data) => files.extend(
                            key_files(
                                &data,
                                s.items.as_ref(),
                                mode,
                                &format!("Secret {ns}/{}", s.name),
                            )
                            .map_err(fail)?,
                        ),
                        None if s.optional.unwrap_or(false) => {}
                        None => return Err(fail(format!("secret \"{}\" not found", s.name))),
                    }
                }
                if let Some(dw) = &source.downward_api {
                    files.extend(
                        downward_files(
                            pod,
                            dw.items.as_deref().unwrap_or_default(),
                            mode,
                            downward,
                        )
                        .map_err(fail)?,
                    );
                }
                if let Some(t) = &source.service_account_token {
                    if !safe_relative(&t.path) {
                        return Err(fail(format!("invalid token path {:?}", t.path)));
                    }
                    let token = sources
                        .service_account_token(&token_source(pod, t))
                        .await
                        .map_err(fail)?;
                    files.insert(t.path.clone(), (token.into_bytes(), mode));
                }
            }
            sync_files(&d, &files).map_err(fail)?;
            Volume {
                host_path: d,
                read_only: true,
            }
        } else if let Some((claim, _)) = kindling_api::volumes::pod_volume_claim(pod, v) {
            // A claim named by the volume, or the `<pod>-<volume>` claim of an ephemeral one.
            let read_only = v
                .persistent_volume_claim
                .as_ref()
                .and_then(|c| c.read_only)
                .unwrap_or(false);
            match sources.claim_path(ns, &claim).await.map_err(fail)? {
                Some(path) => {
                    std::fs::create_dir_all(&path).map_err(|e| fail(format!("{path}: {e}")))?;
                    Volume {
                        host_path: PathBuf::from(path),
                        read_only,
                    }
                }
                None => {
                    return Err(fail(format!(
                        "persistentvolumeclaim \"{claim}\" is not bound"
                    )))
                }
            }
        } else {
            return Err(fail("volume type not supported by kindling".into()));
        };
        out.insert(v.name.clone(), volume);
    }
    Ok(out)
}

/// The TokenRequest a projected `serviceAccountToken` source stands for: the pod's service
/// account, bound to the pod.
fn token_source(pod: &Pod, t: &ServiceAccountTokenProjection) -> TokenSource {
    TokenSource {
        namespace: spec::namespace(pod).to_string(),
        service_account: spec::spec(pod)
            .service_account_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into()),
        pod_name: spec::name(pod).to_string(),
        pod_uid: spec::uid(pod).to_string(),
        audience: t.audience.clone().filter(|a| !a.is_empty()),
        expiration_seconds: t.expiration_seconds.unwrap_or(3600),
    }
}

/// The kubelet-managed `/etc/hosts` of a pod: localhost entries, the pod's own IP and
/// hostname, then `hostAliases`.
pub fn etc_hosts(pod: &Pod, ips: &[String], hostname: &str) -> String {
    let mut s = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let spec = spec::spec(pod);
    for ip in ips {
        match spec.subdomain.as_deref().filter(|d| !d.is_empty()) {
            Some(sub) => s.push_str(&format!(
                "{ip}\t{hostname}.{sub}.{}.svc.cluster.local\t{hostname}\n",
                spec::namespace(pod)
            )),
            None => s.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    let aliases = spec.host_aliases.iter().flatten().collect::<Vec<_>>();
    if !aliases.is_empty() {
        s.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            let names = a.hostnames.clone().unwrap_or_default().join("\t");
            s.push_str(&format!("{}\t{names}\n", a.ip));
        }
    }
    s
}

/// Writes the pod's hosts file and returns its path.
pub fn write_etc_hosts(
    root: &Path,
    pod: &Pod,
    ips: &[String],
    hostname: &str,
) -> Result<PathBuf, String> {
    let dir = pod_dir(root, spec::uid(pod));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("etc-hosts");
    let content = etc_hosts(pod, ips, hostname);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
        std::fs::write(&path, content).map_err(|e| e.to_string())?;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
    }
    Ok(path)
}

/// The CRI mounts of container `c`: its volumeMounts (with subPath/subPathExpr, read-only,
/// propagation) and the pod's hosts file unless the container mounts its own.
pub fn mounts(
    c: &Container,
    volumes: &HashMap<String, Volume>,
    env: &[(String, String)],
    etc_hosts: Option<&Path>,
) -> Result<Vec<cri::Mount>, String> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(v) = volumes.get(&m.name) else {
            return Err(format!(
                "unable to find volume {:?} for container {:?}",
                m.name, c.name
            ));
        };
        let mut host = v.host_path.clone();
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => Some(s.clone()),
            (_, Some(e)) if !e.is_empty() => {
                let lookup = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                Some(expand(e, &lookup))
            }
            _ => None,
        };
        if let Some(sub) = sub {
            if !safe_relative(&sub) {
                return Err(format!("invalid subPath {sub:?}"));
            }
            host = host.join(&sub);
            if !host.exists() {
                std::fs::create_dir_all(&host).map_err(|e| format!("{}: {e}", host.display()))?;
                let _ = std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o777));
            }
        }
        let propagation = match m.mount_propagation.as_deref() {
            Some("HostToContainer") => cri::MountPropagation::PropagationHostToContainer,
            Some("Bidirectional") => cri::MountPropagation::PropagationBidirectional,
            _ => cri::MountPropagation::PropagationPrivate,
        };
        out.push(cri::Mount {
            container_path: m.mount_path.clone(),
            host_path: host.to_string_lossy().into_owned(),
            readonly: m.read_only.unwrap_or(false) || v.read_only,
            propagation: propagation as i32,
            ..Default::default()
        });
    }
    if let Some(hosts) = etc_hosts {
        if !out.iter().any(|m| m.container_path == "/etc/hosts") {
            out.push(cri::Mount {
                container_path: "/etc/hosts".into(),
                host_path: hosts.to_string_lossy().into_owned(),
                readonly: false,
                ..Default::default()
            });
        }
    }
    Ok(out)
}

/// Removes the pod's directory, unmounting what the agent mounted in it first.
pub fn cleanup(root: &Path, uid: &str) {
    let dir = pod_dir(root, uid);
    if !dir.exists() {
        return;
    }
    let prefix = format!("{}/", dir.display());
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut points: Vec<String> = info
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|p| p.starts_with(&prefix))
            .map(str::to_string)
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            if let Ok(c) = std::ffi::CString::new(p.clone()) {
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!("removing {}: {e}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_are_synced_and_stale_ones_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Files::new();
        files.insert("a".into(), (b"1".to_vec(), 0o644));
        files.insert("sub/b".into(), (b"2".to_vec(), 0o600));
        sync_files(dir.path(), &files).unwrap();
        assert_eq!(std::fs::read(dir.path().join("sub/b")).unwrap(), b"2");
        let mode = std::fs::metadata(dir.path().join("sub/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        files.remove("sub/b");
        files.insert("a".into(), (b"changed".to_vec(), 0o644));
        sync_files(dir.path(), &files).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"changed");
        assert!(!dir.path().join("sub").exists());
        files.insert("../escape".into(), (vec![], 0o644));
        assert!(sync_files(dir.path(), &files).is_err());
    }

    #[test]
    fn items_select_keys_and_modes() {
        let data: Data = [
            ("k1".to_string(), b"v1".to_vec()),
            ("k2".into(), b"v2".to_vec()),
        ]
        .into();
        let items: Vec<KeyToPath> =
            serde_json::from_value(json!([{"key": "k2", "path": "dir/two", "mode": 0o400}]))
                .unwrap();
        let files = key_files(&data, Some(&items), 0o644, "ConfigMap ns/x").unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files["dir/two"], (b"v2".to_vec(), 0o400));
        let all = key_files(&data, None, 0o644, "ConfigMap ns/x").unwrap();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn hosts_file_has_pod_entry_and_aliases() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [], "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["foo", "bar"]}]}})).unwrap();
        let h = etc_hosts(&pod, &["10.244.1.2".into()], "p");
        assert!(h.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.244.1.2\tp\n"));
        assert!(h.contains("1.2.3.4\tfoo\tbar\n"));
    }

    #[test]
    fn mounts_join_subpaths_and_add_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let c: Container = serde_json::from_value(json!({"name": "c", "volumeMounts": [
            {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD)"},
            {"name": "cfg", "mountPath": "/etc/cfg"}]}))
        .unwrap();
        let volumes: HashMap<String, Volume> = [
            (
                "data".to_string(),
                Volume {
                    host_path: dir.path().join("data"),
                    read_only: false,
                },
            ),
            (
                "cfg".to_string(),
                Volume {
                    host_path: dir.path().join("cfg"),
                    read_only: true,
                },
            ),
        ]
        .into();
        let hosts = dir.path().join("etc-hosts");
        let m = mounts(&c, &volumes, &[("POD".into(), "p1".into())], Some(&hosts)).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].host_path, dir.path().join("data/p1").to_string_lossy());
        assert!(dir.path().join("data/p1").is_dir());
        assert!(m[1].readonly);
        assert_eq!(m[2].container_path, "/etc/hosts");
    }
}
