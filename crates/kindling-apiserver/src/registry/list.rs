//! List: selectors, paging with continue tokens that keep one consistent revision across pages.
//!
//! A list is served from the watch cache (a snapshot at the revision it asks for: the latest
//! for "", any for "0", at least N for N), its later pages and `resourceVersionMatch=Exact`
//! from the store at the list's revision.

use super::{decode_cached, key_prefix, store_error, Registry};
use crate::cacher::Object;
use base64::Engine;
use kindling_api::meta::not_supported_str;
use kindling_api::selector::{FieldSelector, LabelSelector};
use kindling_api::{ApiError, Cause, ResourceType};
use kindling_store::{Revision, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub label_selector: Option<LabelSelector>,
    pub field_selector: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// `resourceVersion` of the request: "" / "0" / a revision.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`: `Exact` or `NotOlderThan` (the default for a revision).
    pub resource_version_match: Option<String>,
}

const EXACT: &str = "Exact";
const NOT_OLDER_THAN: &str = "NotOlderThan";

impl ListOptions {
    pub fn matches(&self, obj: &Value) -> bool {
        self.label_selector.as_ref().is_none_or(|s| s.matches(obj))
            && self.field_selector.as_ref().is_none_or(|s| s.matches(obj))
    }

    fn selects_everything(&self) -> bool {
        self.label_selector.is_none() && self.field_selector.is_none()
    }

    /// Upstream's ValidateListOptions: `watch` with the request's `sendInitialEvents`.
    pub fn validate(&self, watch: bool, send_initial_events: Option<bool>) -> Result<(), ApiError> {
        let mut causes = Vec::new();
        let rv_match = self
            .resource_version_match
            .as_deref()
            .filter(|m| !m.is_empty());
        let forbidden = |detail: &str| Cause::forbidden("resourceVersionMatch", detail);
        if watch {
            if send_initial_events.is_some() && rv_match != Some(NOT_OLDER_THAN) {
                causes.push(forbidden(&format!(
                    "sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"
                )));
            }
            if let Some(m) = rv_match {
                if send_initial_events.is_none() {
                    causes.push(forbidden(
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                    ));
                }
                if m != NOT_OLDER_THAN {
                    causes.push(not_supported_str(
                        "resourceVersionMatch",
                        m,
                        &[NOT_OLDER_THAN],
                    ));
                }
                if self.continue_token.is_some() {
                    causes.push(forbidden(
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
            }
        } else {
            if let Some(m) = rv_match {
                if self.resource_version.as_deref().unwrap_or("").is_empty() {
                    causes.push(forbidden(
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    ));
                }
                if self.continue_token.is_some() {
                    causes.push(forbidden(
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
                if m != EXACT && m != NOT_OLDER_THAN {
                    causes.push(not_supported_str(
                        "resourceVersionMatch",
                        m,
                        &[EXACT, NOT_OLDER_THAN, ""],
                    ));
                }
                if m == EXACT && self.resource_version.as_deref() == Some("0") {
                    causes.push(forbidden(
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                    ));
                }
            }
            if send_initial_events.is_some() {
                causes.push(Cause::forbidden(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for list",
                ));
            }
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", causes))
        }
    }
}

/// Keys read per store call while filling a page.
const SCAN_BATCH: usize = 500;

/// What a list found besides its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListMeta {
    /// The revision every page of this list is read at.
    pub revision: Revision,
    /// Set when more items follow (`limit` was reached).
    pub continue_token: Option<String>,
}

impl ListMeta {
    pub fn to_json(&self) -> Value {
        let mut metadata = json!({"resourceVersion": self.revision.to_string()});
        if let Some(c) = &self.continue_token {
            metadata["continue"] = json!(c);
        }
        metadata
    }
}

impl Registry {
    /// A `<Kind>List` of the matching objects.
    pub async fn list(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Value, ApiError> {
        let mut items = Vec::new();
        let meta = self
            .scan(rt, ns, opts, |obj| {
                items.push(obj);
                Ok(())
            })
            .await?;
        Ok(json!({
            "kind": rt.list_kind,
            "apiVersion": rt.api_version(),
            "metadata": meta.to_json(),
            "items": items,
        }))
    }

    /// Calls `visit` with each matching object in key order (see [`Scan`]).
    pub async fn scan(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: &ListOptions,
        mut visit: impl FnMut(Value) -> Result<(), ApiError>,
    ) -> Result<ListMeta, ApiError> {
        let mut scan = Scan::new(self.clone(), rt, ns, opts.clone())?;
        while let Some(batch) = scan.next_batch().await? {
            for obj in batch {
                visit(obj)?;
            }
        }
        Ok(scan.meta())
    }
}

/// Where a list's objects come from.
enum Source {
    /// Decided by the first batch.
    Undecided,
    /// A snapshot of the watch cache.
    Cache(std::vec::IntoIter<Arc<Object>>),
    /// Pages read from the store at the list's revision.
    Store,
}

/// A list read batch by batch at one revision, so that a large list never holds every decoded
/// object at once (and a response can be streamed while it is read).
pub struct Scan {
    registry: Registry,
    rt: Arc<ResourceType>,
    prefix: String,
    opts: ListOptions,
    source: Source,
    start_after: Option<String>,
    revision: Option<Revision>,
    matched: usize,
    more: bool,
    last_key: Option<String>,
    done: bool,
}

impl Scan {
    pub fn new(
        registry: Registry,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: ListOptions,
    ) -> Result<Scan, ApiError> {
        let prefix = key_prefix(rt, ns);
        let (start_after, mut revision) = match &opts.continue_token {
            Some(token) => {
                let (rev, start) = decode_continue(token)?;
                (Some(format!("{prefix}{start}")), Some(rev))
            }
            None => (None, None),
        };
        if revision.is_none() {
            revision = exact_revision(&opts)?;
        }
        // A later page, or an exact revision: the store's history has it, the cache may not.
        let source = if revision.is_some() {
            Source::Store
        } else {
            Source::Undecided
        };
        Ok(Scan {
            registry,
            rt: rt.clone(),
            prefix,
            opts,
            source,
            start_after,
            revision,
            matched: 0,
            more: false,
            last_key: None,
            done: false,
        })
    }

    /// The next matching objects, or `None` when the list is complete.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Value>>, ApiError> {
        let Some(batch) = self.next_objects().await? else {
            return Ok(None);
        };
        let rt = &self.rt;
        let values = batch
            .into_iter()
            .map(|(object, decoded)| decoded.map_or_else(|| decode_cached(rt, &object), Ok))
            .collect::<Result<_, _>>()?;
        Ok(Some(values))
    }

    /// The next matching objects as the JSON a LIST body holds, or `None` when the list is
    /// complete: the cached bytes themselves unless the resource's version needs converting.
    pub async fn next_json_batch(&mut self) -> Result<Option<Vec<bytes::Bytes>>, ApiError> {
        let Some(batch) = self.next_objects().await? else {
            return Ok(None);
        };
        let rt = &self.rt;
        let mut out = Vec::with_capacity(batch.len());
        for (object, decoded) in batch {
            if rt.serves_stored_form() && object.served {
                out.push(object.json.clone());
                continue;
            }
            let obj = match decoded {
                Some(obj) => obj,
                None => decode_cached(rt, &object)?,
            };
            out.push(bytes::Bytes::from(
                serde_json::to_vec(&obj).unwrap_or_default(),
            ));
        }
        Ok(Some(out))
    }

    /// The next matching objects (with the decoded form when selecting them needed it).
    async fn next_objects(
        &mut self,
    ) -> Result<Option<Vec<(Arc<Object>, Option<Value>)>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        if matches!(self.source, Source::Undecided) {
            self.source = self.snapshot().await?;
        }
        let (batch, source_more) = match &mut self.source {
            Source::Cache(objects) => {
                let batch: Vec<Arc<Object>> = objects.by_ref().take(SCAN_BATCH).collect();
                (batch, objects.len() > 0)
            }
            Source::Store | Source::Undecided => self.store_page().await?,
        };
        let limit = self.opts.limit.filter(|l| *l > 0);
        let mut out = Vec::new();
        for (i, object) in batch.iter().enumerate() {
            let (selected, decoded) = self.select(object)?;
            if selected {
                out.push((object.clone(), decoded));
                self.matched += 1;
            }
            self.last_key = Some(object.key.clone());
            if limit.is_some_and(|l| self.matched >= l) {
                self.more = source_more || i + 1 < batch.len();
                self.done = true;
                return Ok(Some(out));
            }
        }
        if source_more {
            self.start_after = self.last_key.clone();
        } else {
            self.done = true;
        }
        Ok(Some(out))
    }

    /// Where the first page comes from: the cache once it is as fresh as the request asks,
    /// else (it could not catch up in time with the latest revision) the store.
    async fn snapshot(&mut self) -> Result<Source, ApiError> {
        let cache = &self.registry.cache;
        let usable = match self.opts.resource_version.as_deref() {
            None | Some("") => cache.wait_fresh().await,
            Some("0") => true,
            Some(rv) => {
                let rv = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?;
                self.registry.wait_for_revision(rv).await?;
                true
            }
        };
        if !usable {
            return Ok(Source::Store);
        }
        let snapshot = cache.list(&self.prefix, None);
        self.revision = Some(snapshot.revision);
        Ok(Source::Cache(snapshot.objects.into_iter()))
    }

    /// One page from the store at the list's revision (now for the first page).
    async fn store_page(&mut self) -> Result<(Vec<Arc<Object>>, bool), ApiError> {
        let (p, after, revision) = (self.prefix.clone(), self.start_after.clone(), self.revision);
        let continued = self.opts.continue_token.is_some();
        let page = self
            .registry
            .blocking(move |s| s.list(&p, after.as_deref(), SCAN_BATCH, revision))
            .await
            .map_err(|e| match e {
                StoreError::Compacted { .. } if continued => expired_continue(),
                other => store_error(other),
            })?;
        self.revision = Some(page.revision);
        let objects = page
            .items
            .iter()
            .map(|kv| Arc::new(Object::from_kv(kv, kv.mod_revision)))
            .collect();
        Ok((objects, page.more))
    }

    /// Whether the selectors take the object, decoding only as much of it as they need.
    fn select(&self, object: &Object) -> Result<(bool, Option<Value>), ApiError> {
        if self.opts.selects_everything() {
            return Ok((true, None));
        }
        if self.opts.field_selector.is_none() && self.rt.serves_stored_form() && object.served {
            if let (Some(selector), Ok(labels)) = (
                &self.opts.label_selector,
                serde_json::from_slice::<LabelsOnly>(&object.json),
            ) {
                return Ok((selector.matches(&labels.metadata.labels), None));
            }
        }
        let obj = decode_cached(&self.rt, object)?;
        Ok((self.opts.matches(&obj), Some(obj)))
    }

    /// The list's metadata; complete once `next_batch` returned `None`.
    pub fn meta(&self) -> ListMeta {
        let revision = self.revision.unwrap_or(0);
        let continue_token = match (&self.last_key, self.more) {
            (Some(key), true) => Some(encode_continue(
                revision,
                key.strip_prefix(&self.prefix).unwrap_or(key),
            )),
            _ => None,
        };
        ListMeta {
            revision,
            continue_token,
        }
    }
}

/// Just an object's labels: reading them skips the rest of the object without building it.
#[derive(serde::Deserialize)]
struct LabelsOnly {
    #[serde(default)]
    metadata: MetadataLabels,
}

#[derive(serde::Deserialize, Default)]
struct MetadataLabels {
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
}

/// The revision of a list with `resourceVersion=N` and `resourceVersionMatch=Exact`.
fn exact_revision(opts: &ListOptions) -> Result<Option<Revision>, ApiError> {
    match opts.resource_version.as_deref() {
        None | Some("" | "0") => Ok(None),
        Some(rv) => {
            let rev = rv
                .parse::<Revision>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            Ok((opts.resource_version_match.as_deref() == Some(EXACT)).then_some(rev))
        }
    }
}

fn expired_continue() -> ApiError {
    ApiError::gone(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
    )
}

/// The token format upstream uses: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}`.
fn encode_continue(rev: Revision, start: &str) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start}).to_string();
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: invalid continue token");
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rev = v["rv"].as_i64().filter(|r| *r > 0).ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rev, start.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_token_round_trips() {
        let t = encode_continue(42, "default/web-1");
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, "default/web-1".to_string())
        );
        assert!(decode_continue("garbage!").is_err());
    }
}
