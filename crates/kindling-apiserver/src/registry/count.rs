//! How many objects of a resource are stored (for `apiserver_storage_objects`).

use super::{key_prefix, store_error, Registry};
use kindling_api::{ApiError, ResourceType};

impl Registry {
    /// The number of stored objects of `rt`'s storage, in every namespace.
    pub async fn count(&self, rt: &ResourceType) -> Result<u64, ApiError> {
        let prefix = key_prefix(rt, None);
        self.blocking(move |s| s.count(&prefix))
            .await
            .map_err(store_error)
    }

    /// How the store has grouped writes into commits (for /metrics).
    pub fn commit_stats(&self) -> Option<kindling_store::CommitStats> {
        self.store.commit_stats()
    }
}
