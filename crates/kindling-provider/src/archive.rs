//! The tar uploaded by `copy_files`. Pure: no IO but writing to memory.

use std::collections::BTreeSet;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::types::FileToCopy;

/// Splits an absolute directory path into its components (`/etc/kubernetes/pki` → `[etc,
/// kubernetes, pki]`), refusing `..` and relative paths.
pub(crate) fn dir_components(dir: &str) -> Result<Vec<String>, String> {
    if !dir.starts_with('/') {
        return Err(format!("directory {dir:?} is not absolute"));
    }
    let mut out = Vec::new();
    for part in dir.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("directory {dir:?} contains \"..\"")),
            p => out.push(p.to_string()),
        }
    }
    Ok(out)
}

/// Checks a file's path relative to the target directory and returns its components.
fn file_components(path: &str) -> Result<Vec<&str>, String> {
    if path.starts_with('/') {
        return Err(format!(
            "file path {path:?} must be relative to the target directory"
        ));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        return Err(format!("file path {path:?} is empty"));
    }
    if parts.contains(&"..") {
        return Err(format!("file path {path:?} contains \"..\""));
    }
    Ok(parts)
}

/// Builds the tar to extract at an existing directory: first `missing_dirs` (the components still
/// to create below it, in order), then every file below them, with the sub-directories the files
/// need. Directories are 0755, everything is owned by root.
pub(crate) fn build_tar(missing_dirs: &[String], files: &[FileToCopy]) -> Result<Vec<u8>, String> {
    let mtime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut builder = tar::Builder::new(Vec::new());
    let io_err = |e: io::Error| e.to_string();

    let base = missing_dirs.join("/");
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut prefix = String::new();
    let mut ordered_dirs = Vec::new();
    for d in missing_dirs {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(d);
        if dirs.insert(prefix.clone()) {
            ordered_dirs.push(prefix.clone());
        }
    }
    let mut entries = Vec::new();
    for f in files {
        let parts = file_components(&f.path)?;
        let mut sub = base.clone();
        for dir in &parts[..parts.len() - 1] {
            if !sub.is_empty() {
                sub.push('/');
            }
            sub.push_str(dir);
            if dirs.insert(sub.clone()) {
                ordered_dirs.push(sub.clone());
            }
        }
        let full = if base.is_empty() {
            parts.join("/")
        } else {
            format!("{base}/{}", parts.join("/"))
        };
        entries.push((full, f));
    }

    for d in ordered_dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(0);
        builder
            .append_data(&mut h, format!("{d}/"), io::empty())
            .map_err(io_err)?;
    }
    for (path, f) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(f.mode & 0o7777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(f.contents.len() as u64);
        builder
            .append_data(&mut h, path, f.contents.as_ref())
            .map_err(io_err)?;
    }
    builder.into_inner().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar_bytes: &[u8]) -> Vec<(String, u32)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn components() {
        assert_eq!(
            dir_components("/etc/kubernetes//pki/").unwrap(),
            vec!["etc", "kubernetes", "pki"]
        );
        assert!(dir_components("etc").is_err());
        assert!(dir_components("/etc/../x").is_err());
        assert!(dir_components("/").unwrap().is_empty());
    }

    #[test]
    fn tar_has_missing_dirs_then_files_with_modes() {
        let files = vec![
            FileToCopy::new("ca.crt", &b"cert"[..], 0o644),
            FileToCopy::new("etcd/ca.key", &b"key"[..], 0o600),
        ];
        let t = build_tar(&["kubernetes".into(), "pki".into()], &files).unwrap();
        assert_eq!(
            names(&t),
            vec![
                ("kubernetes/".to_string(), 0o755),
                ("kubernetes/pki/".to_string(), 0o755),
                ("kubernetes/pki/etcd/".to_string(), 0o755),
                ("kubernetes/pki/ca.crt".to_string(), 0o644),
                ("kubernetes/pki/etcd/ca.key".to_string(), 0o600),
            ]
        );
    }

    #[test]
    fn tar_without_missing_dirs_and_bad_paths() {
        let t = build_tar(&[], &[FileToCopy::new("a", &b"x"[..], 0o644)]).unwrap();
        assert_eq!(names(&t), vec![("a".to_string(), 0o644)]);
        assert!(build_tar(&[], &[FileToCopy::new("/abs", &b""[..], 0o644)]).is_err());
        assert!(build_tar(&[], &[FileToCopy::new("../x", &b""[..], 0o644)]).is_err());
        assert!(build_tar(&[], &[FileToCopy::new("", &b""[..], 0o644)]).is_err());
    }
}
