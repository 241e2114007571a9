//! Pure translations between the store's terms and etcd's: revisions, key ranges, key-values and
//! errors. No IO here.

use crate::{KeyValue, Revision, StoreError};

/// etcd's first revision is its empty key space (revision 1); ours is 0. Store revision `r` is
/// etcd revision `r + 1`, so both backends count writes from 1 and an object's resourceVersion
/// is its etcd mod revision minus one, whatever backend stored it.
pub(super) const OFFSET: i64 = 1;

pub(super) fn to_etcd(revision: Revision) -> i64 {
    revision + OFFSET
}

pub(super) fn from_etcd(revision: i64) -> Revision {
    revision - OFFSET
}

/// The exclusive end of the keys under `prefix`: the prefix followed by 0xFF, a byte UTF-8 never
/// contains, so every string key with the prefix sorts below it and no other key does.
pub(super) fn range_end(prefix: &str) -> Vec<u8> {
    let mut end = Vec::with_capacity(prefix.len() + 1);
    end.extend_from_slice(prefix.as_bytes());
    end.push(0xFF);
    end
}

/// The first key of a page: the prefix itself, or the smallest key strictly after `start_after`
/// (the key with a NUL byte appended) when that lies inside the prefix's range. etcd refuses an
/// empty key, so the empty prefix starts at NUL, the smallest key there is.
pub(super) fn range_start(prefix: &str, start_after: Option<&str>) -> Vec<u8> {
    match start_after {
        _ if prefix.is_empty() && start_after.is_none() => vec![0],
        Some(after) if after.as_bytes() >= prefix.as_bytes() => {
            let mut start = after.as_bytes().to_vec();
            start.push(0);
            start
        }
        _ => prefix.as_bytes().to_vec(),
    }
}

pub(super) fn key_value(kv: &etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
    let key = std::str::from_utf8(kv.key())
        .map_err(|_| StoreError::Internal("etcd holds a key that is not UTF-8".to_string()))?;
    Ok(KeyValue {
        key: key.to_string(),
        value: kv.value().to_vec(),
        create_revision: from_etcd(kv.create_revision()),
        mod_revision: from_etcd(kv.mod_revision()),
    })
}

/// What an etcd error means for a read at `requested` (store revision), if it names a
/// revision problem; `current` and `compacted` fill in what etcd's message does not say.
pub(super) fn revision_error(
    error: &etcd_client::Error,
    requested: Revision,
    current: Revision,
    compacted: Revision,
) -> Option<StoreError> {
    let message = error_message(error);
    if message.contains("required revision has been compacted") {
        Some(StoreError::Compacted {
            requested,
            compacted,
        })
    } else if message.contains("required revision is a future revision") {
        Some(StoreError::FutureRevision { requested, current })
    } else {
        None
    }
}

pub(super) fn is_compacted(error: &etcd_client::Error) -> bool {
    error_message(error).contains("required revision has been compacted")
}

pub(super) fn is_future(error: &etcd_client::Error) -> bool {
    error_message(error).contains("required revision is a future revision")
}

fn error_message(error: &etcd_client::Error) -> String {
    match error {
        etcd_client::Error::GRpcStatus(status) => status.message().to_string(),
        other => other.to_string(),
    }
}

pub(super) fn internal(error: &etcd_client::Error) -> StoreError {
    StoreError::Internal(format!("etcd: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_map_both_ways_with_the_empty_store_at_zero() {
        assert_eq!(to_etcd(0), 1);
        assert_eq!(from_etcd(1), 0);
        for r in [0, 1, 7, 1 << 40] {
            assert_eq!(from_etcd(to_etcd(r)), r);
        }
    }

    #[test]
    fn ranges_cover_exactly_the_prefix_after_the_start_key() {
        let end = range_end("/a/");
        for key in ["/a/", "/a/b", "/a/\u{10FFFF}"] {
            assert!(key.as_bytes() >= range_start("/a/", None).as_slice());
            assert!(key.as_bytes() < end.as_slice(), "{key}");
        }
        assert!(b"/b".as_slice() >= end.as_slice());
        assert_eq!(range_start("/a/", Some("/a/x")), b"/a/x\0".to_vec());
        // A start key below the prefix is ignored.
        assert_eq!(range_start("/b/", Some("/a/z")), b"/b/".to_vec());
        // The empty prefix covers every string key.
        assert_eq!(range_start("", None), vec![0]);
        assert_eq!(range_end(""), vec![0xFF]);
    }

    #[test]
    fn etcd_revision_errors_become_store_errors() {
        let compacted = etcd_client::Error::GRpcStatus(tonic_status(
            "etcdserver: mvcc: required revision has been compacted",
        ));
        assert_eq!(
            revision_error(&compacted, 3, 10, 5),
            Some(StoreError::Compacted {
                requested: 3,
                compacted: 5
            })
        );
        let future = etcd_client::Error::GRpcStatus(tonic_status(
            "etcdserver: mvcc: required revision is a future revision",
        ));
        assert_eq!(
            revision_error(&future, 30, 10, 5),
            Some(StoreError::FutureRevision {
                requested: 30,
                current: 10
            })
        );
        let other = etcd_client::Error::GRpcStatus(tonic_status("etcdserver: request timed out"));
        assert_eq!(revision_error(&other, 3, 10, 5), None);
    }

    fn tonic_status(message: &str) -> tonic::Status {
        tonic::Status::out_of_range(message)
    }
}
