//! The user's kubeconfig: our `kind-<cluster>` cluster, user and context merged in (and made
//! current) on create, removed on delete; every other entry is left as it was. Writers take
//! `<file>.lock` like client-go and kind, so concurrent creates don't lose each other's entries.

use anyhow::{Context, Result};
use serde_norway::{Mapping, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which file to write: `--kubeconfig`, else the first file of `$KUBECONFIG`, else
/// `~/.kube/config`.
pub fn target_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(list) = std::env::var_os("KUBECONFIG") {
        if let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty()) {
            return first;
        }
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".kube").join("config")
}

/// The name of a cluster's entries: `kind-<cluster>`.
pub fn context_name(cluster: &str) -> String {
    format!("kind-{cluster}")
}

/// Our entries for one cluster.
pub struct Entry {
    pub name: String,
    pub server: String,
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// Merges `entry` into the file and makes it the current context.
pub fn merge(path: &Path, entry: &Entry) -> Result<()> {
    with_lock(path, || {
        let mut doc = read(path)?;
        let b64 = |s: &str| {
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s.as_bytes())
        };
        let cluster = yaml(&format!(
            "name: {n}\ncluster:\n  server: {s}\n  certificate-authority-data: {ca}\n",
            n = entry.name,
            s = entry.server,
            ca = b64(&entry.ca_pem)
        ));
        let user = yaml(&format!(
            "name: {n}\nuser:\n  client-certificate-data: {c}\n  client-key-data: {k}\n",
            n = entry.name,
            c = b64(&entry.client_cert_pem),
            k = b64(&entry.client_key_pem)
        ));
        let context = yaml(&format!(
            "name: {n}\ncontext:\n  cluster: {n}\n  user: {n}\n",
            n = entry.name
        ));
        upsert(&mut doc, "clusters", cluster, &entry.name);
        upsert(&mut doc, "users", user, &entry.name);
        upsert(&mut doc, "contexts", context, &entry.name);
        doc.insert("current-context".into(), Value::String(entry.name.clone()));
        write(path, &doc)
    })
}

/// Removes the entries named `name`; unsets current-context if it was ours. A missing file is
/// not an error.
pub fn remove(path: &Path, name: &str) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    with_lock(path, || {
        let mut doc = read(path)?;
        for list in ["clusters", "users", "contexts"] {
            if let Some(Value::Sequence(items)) = doc.get_mut(list) {
                items.retain(|i| i.get("name").and_then(Value::as_str) != Some(name));
            }
        }
        if doc.get("current-context").and_then(Value::as_str) == Some(name) {
            doc.insert("current-context".into(), Value::String(String::new()));
        }
        write(path, &doc)
    })
}

/// Whether the file has a context named `name`.
pub fn has_context(path: &Path, name: &str) -> bool {
    read(path)
        .ok()
        .and_then(|d| d.get("contexts").cloned())
        .and_then(|c| c.as_sequence().cloned())
        .is_some_and(|items| {
            items
                .iter()
                .any(|i| i.get("name").and_then(Value::as_str) == Some(name))
        })
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("kubeconfig entry templates are valid YAML")
}

fn upsert(doc: &mut Mapping, list: &str, item: Value, name: &str) {
    let entry = doc
        .entry(list.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if !entry.is_sequence() {
        *entry = Value::Sequence(Vec::new());
    }
    let Value::Sequence(items) = entry else {
        unreachable!("made a sequence above")
    };
    match items
        .iter_mut()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(existing) => *existing = item,
        None => items.push(item),
    }
}

fn read(path: &Path) -> Result<Mapping> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if text.trim().is_empty() {
        let mut m = Mapping::new();
        m.insert("apiVersion".into(), "v1".into());
        m.insert("kind".into(), "Config".into());
        m.insert("preferences".into(), Value::Mapping(Mapping::new()));
        return Ok(m);
    }
    serde_norway::from_str(&text)
        .with_context(|| format!("{} is not a valid kubeconfig", path.display()))
}

fn write(path: &Path, doc: &Mapping) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_norway::to_string(doc)?;
    let tmp = path.with_extension("kindling-tmp");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Runs `f` holding `<path>.lock` (created exclusively, removed after).
fn with_lock<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let lock = PathBuf::from(format!("{}.lock", path.display()));
    if let Some(dir) = lock.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "locking {} (remove it if no kindling or kind is running)",
                        lock.display()
                    )
                })
            }
        }
    }
    let result = f();
    let _ = std::fs::remove_file(&lock);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            name: name.into(),
            server: "https://127.0.0.1:6443".into(),
            ca_pem: "CA".into(),
            client_cert_pem: "CERT".into(),
            client_key_pem: "KEY".into(),
        }
    }

    #[test]
    fn merge_keeps_others_and_remove_takes_only_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: https://prod}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\nusers:\n- name: prod\n  user: {token: t}\ncurrent-context: prod\n").unwrap();
        merge(&path, &entry("kind-a")).unwrap();
        merge(&path, &entry("kind-b")).unwrap();
        let doc = read(&path).unwrap();
        assert_eq!(doc["current-context"], Value::from("kind-b"));
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 3);
        assert!(has_context(&path, "kind-a"));
        remove(&path, "kind-b").unwrap();
        let doc = read(&path).unwrap();
        assert_eq!(doc["current-context"], Value::from(""));
        assert_eq!(doc["contexts"].as_sequence().unwrap().len(), 2);
        assert!(
            has_context(&path, "prod")
                && has_context(&path, "kind-a")
                && !has_context(&path, "kind-b")
        );
        assert_eq!(doc["users"][0]["user"]["token"], Value::from("t"));
        // Merging the same cluster twice replaces, not duplicates.
        merge(&path, &entry("kind-a")).unwrap();
        assert_eq!(
            read(&path).unwrap()["clusters"]
                .as_sequence()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn kubeconfig_env_first_file_wins() {
        assert_eq!(target_path(Some(Path::new("/x/y"))), PathBuf::from("/x/y"));
    }
}
